"""Prefix caches in the report: what was cold, what was warm, what the server did not say.

Per contender: the cold TTFT median (the matrix's TTFT: trials whose prompt came partly from a
cache, or may have, are left out), the warm TTFT median over conversations' later turns (which
reuse their own earlier turns on purpose), the cold TTFT of those same turns' prompts where they
were asked again cold (``cold_turns=true``), and how many trials were cold, prefix-cached,
possibly cached or not reported. Per trial and per turn: the label (bakeoff.measure.cache).
"""

from __future__ import annotations

from typing import Any

from bakeoff.util.stats import is_cold, median

LEGEND = ("cold TTFT: median over trials whose prefill reused no cached prefix (the matrix's TTFT). warm TTFT: "
          "median over conversations' later turns, which reuse the conversation's own earlier turns on purpose; "
          "cold replay: the same turns' prompts asked again with no cached prefix (cold_turns=true). "
          "prefix-cached: the server reported cached prompt tokens; may be cached: the server reports nothing "
          "and the prompt repeats a prefix sent earlier in the run; both are left out of the cold medians. "
          "not reported: the server says nothing about its cache.")


def _get(row, key: str) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError):
        return None


def _kind(row) -> str:
    """cold | cached | possibly cached | warm | unlabelled (stored before the cache was recorded)."""
    label = _get(row, "cache_label")
    if label is None:
        return "unlabelled"
    if _get(row, "cache_warm"):
        return "warm"
    if is_cold(row):
        return "cold"
    return "cached" if (_get(row, "cached_tokens") or 0) > 0 else "possibly cached"


def cache_rows(trials: list, turns: list) -> dict[str, Any]:
    """``contenders``: per spec the cold and warm figures; ``trials`` and ``turns``: each with its label."""
    ok = [t for t in trials if t["status"] == "ok"]
    by_spec: dict[str, dict[str, Any]] = {}
    for t in ok:
        row = by_spec.setdefault(t["spec"], {"spec": t["spec"], "cold": 0, "cached": 0, "possibly cached": 0,
                                             "warm": 0, "unlabelled": 0, "not_reported": 0, "_cold": [],
                                             "_warm": [], "_replay": []})
        kind = _kind(t)
        row[kind] += 1
        row["not_reported"] += (_get(t, "cache_label") or "").startswith("cache: not reported")
        if kind in ("cold", "unlabelled"):
            row["_cold"].append(t["ttft_ms"])
    turn_rows = []
    for u in turns:
        if u["status"] != "ok" or u["cache_label"] is None:
            continue
        row = by_spec.get(u["spec"])
        if row is not None and u["cache_warm"]:
            row["_warm"].append(u["ttft_ms"])
            row["_replay"].append(u["cold_ttft_ms"])
        turn_rows.append({"spec": u["spec"], "case_id": u["case_id"], "repeat": u["repeat"], "turn": u["turn"],
                          "label": u["cache_label"], "warm": bool(u["cache_warm"]), "ttft_ms": u["ttft_ms"],
                          "cached_tokens": u["cached_tokens"], "prompt_tokens": u["prompt_tokens"],
                          "cold_ttft_ms": u["cold_ttft_ms"], "cold_label": u["cold_cache_label"]})
    contenders = []
    for row in by_spec.values():
        cold, warm, replay = row.pop("_cold"), row.pop("_warm"), row.pop("_replay")
        row.update(cold_ttft_ms_median=median(cold), warm_ttft_ms_median=median(warm), warm_turns=len(warm),
                   cold_replay_ttft_ms_median=median(replay))
        contenders.append(row)
    labelled = [{"id": t["id"], "spec": t["spec"], "case_id": t["case_id"], "repeat": t["repeat"],
                 "label": _get(t, "cache_label") or "unlabelled (stored before prefix caches were recorded)",
                 "kind": _kind(t), "cold": is_cold(t), "cached_tokens": _get(t, "cached_tokens"),
                 "prompt_tokens": t["prompt_tokens"], "ttft_ms": t["ttft_ms"], "cache_bust": _get(t, "cache_bust")}
                for t in ok]
    return {"contenders": contenders, "trials": labelled, "turns": turn_rows, "legend": LEGEND}


def print_cache(data: dict, console, fmt, limit: int = 20) -> None:
    """The cold/warm table, every trial that is not cold with its label, and turns' cold vs warm."""
    cache = data.get("cache") or {}
    rows = [r for r in cache.get("contenders", []) if r["unlabelled"] < sum(r[k] for k in ("cold", "cached",
                                                                                           "possibly cached", "warm",
                                                                                           "unlabelled"))]
    if not rows:
        return
    from rich.table import Table

    table = Table(title="prompt cache: cold vs warm TTFT", title_justify="left")
    for header in ("contender", "cold TTFT ms", "cold", "warm TTFT ms", "warm turns", "cold replay ms",
                   "prefix-cached", "may be cached", "not reported"):
        table.add_column(header, justify="left" if header == "contender" else "right", overflow="fold")
    for r in rows:
        table.add_row(r["spec"], fmt(r["cold_ttft_ms_median"], "f0"), str(r["cold"]), fmt(r["warm_ttft_ms_median"], "f0"),
                      str(r["warm_turns"]), fmt(r["cold_replay_ttft_ms_median"], "f0"), str(r["cached"]),
                      str(r["possibly cached"]), str(r["not_reported"]))
    console.print(table)
    console.print(f"[dim]{LEGEND}[/dim]")
    flagged = [t for t in cache["trials"] if t["kind"] in ("cached", "possibly cached")]
    for t in flagged[:limit]:
        console.print(f"  {t['spec']} {t['case_id']} #{t['repeat']}: {t['label']}", markup=False, highlight=False)
    if len(flagged) > limit:
        console.print(f"  ... and {len(flagged) - limit} more trials not cold (report --json lists them all)")
    replayed = [u for u in cache["turns"] if u["cold_ttft_ms"] is not None]
    if replayed:
        tt = Table(title="conversation turns: warm TTFT beside the same prompt asked cold", title_justify="left")
        for header in ("contender", "case", "turn", "warm TTFT ms", "cold TTFT ms", "label"):
            tt.add_column(header, justify="left" if header in ("contender", "case", "label") else "right",
                          overflow="fold")
        for u in replayed:
            tt.add_row(u["spec"], f"{u['case_id']} #{u['repeat']}", str(u["turn"]), fmt(u["ttft_ms"], "f0"),
                       fmt(u["cold_ttft_ms"], "f0"), u["label"])
        console.print(tt)

