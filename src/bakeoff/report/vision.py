"""Per visual budget (``--sweep visual_budget=70,280,1120``): what a budget costs and, with real
weights, what it buys, over the trials that sent images. The Pareto frontier is drawn over
quality against TTFT; a twin (random weights) has no quality, so it has no frontier, and says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bakeoff.report.pareto import Axis, frontier_plot
from bakeoff.util.stats import median, summarise_trials
from bakeoff.report.variants import _base_spec
from bakeoff.store import Database

NOT_APPLICABLE = "not applicable (random weights)"
TTFT_AXIS = Axis("ttft_ms_median", "median TTFT (ms)", lambda r: r.get("ttft_ms_median"),
                 lambda r: "no trial with images finished")


def _per_image(t, key: str) -> float | None:
    return t[key] / t["image_count"] if t[key] is not None and t["image_count"] else None


def _prefill_ms(t) -> float | None:
    """The projector's encode plus llama.cpp's prompt processing (text and image embeddings)."""
    if t["engine_prompt_ms"] is None:
        return None
    return t["engine_prompt_ms"] + (t["image_encode_ms"] or 0.0)


def budget_rows(db: Database, run_id: str | None = None) -> list[dict[str, Any]]:
    trials = [t for t in db.trials(run_id) if t["image_count"]]
    if not trials:
        return []
    facts = {c["spec"]: json.loads(c["facts"] or "{}") for c in db.contenders()}
    groups: dict[str, dict[int | None, list]] = defaultdict(lambda: defaultdict(list))
    for t in trials:  # a swept budget is in the spec (plan.expand_sweeps writes it there)
        groups[_base_spec(t["spec"], {"visual_budget"})][_budget(t["spec"])].append(t)
    out = []
    for base, by_budget in groups.items():
        rows = []
        for budget, ts in sorted(by_budget.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            ok = [t for t in ts if t["status"] == "ok"]
            summary = summarise_trials(ts)
            contender = facts.get(ts[0]["spec"]) or {}
            twin, vision = contender.get("twin"), contender.get("vision") or {}
            rows.append({
                "spec": ts[0]["spec"], "visual_budget": budget,
                "trials": len(ts), "errors": summary["errors"],
                "image_tokens_per_image": median(_per_image(t, "image_tokens") for t in ok),
                "image_tokens_source": "engine-reported (llama.cpp mtmd)" if any(t["image_tokens"] is not None for t in ok)
                else "unavailable (the engine counts images only inside prompt_tokens)",
                "text_tokens": median(t["prompt_tokens"] - t["image_tokens"] for t in ok
                                      if t["prompt_tokens"] is not None and t["image_tokens"] is not None),
                "ttft_ms_median": summary["ttft_ms_median"],
                "prefill_ms_median": median(_prefill_ms(t) for t in ok),
                "image_encode_ms_per_image": median(_per_image(t, "image_encode_ms") for t in ok),
                "image_decode_ms_per_image": median(_per_image(t, "image_decode_ms") for t in ok),
                "peak_mem_mb": summary["peak_mem_mb"],
                "pass_rate": None if twin else summary["pass_rate"],
                "judged": 0 if twin else summary["judged"],
                "quality": NOT_APPLICABLE if twin else ("measured" if summary["judged"] else "no checks"),
                "projector": vision.get("mmproj"), "projector_twin": bool(vision.get("mmproj_twin")),
            })
        # The report's own frontier over the budgets (only a twin's quality is "not applicable").
        plot = frontier_plot([{**r, "quality": r["quality"] if r["quality"] == NOT_APPLICABLE else None}
                              for r in rows], TTFT_AXIS)
        on = {p.spec: p.on_frontier for p in plot.points}
        for r in rows:
            r["on_frontier"] = on.get(r["spec"])
        if plot.points:
            note = "Pareto frontier: pass rate against median TTFT" + (
                f" ({len(plot.missing)} budgets not plotted: no quality figure)" if plot.missing else "")
        else:
            note = ("no frontier: quality is " + (NOT_APPLICABLE if any(r["quality"] == NOT_APPLICABLE for r in rows)
                                                   else "not measured (add checks to the image cases)")
                    + "; cost per budget is still measured")
        out.append({"base": base, "budgets": rows, "frontier": note})
    return out


def _budget(spec: str) -> int | None:
    """The contender's visual_budget option (None: the projector's default)."""
    from urllib.parse import parse_qsl

    value = dict(parse_qsl(spec.partition("?")[2])).get("visual_budget")
    return int(value) if value else None


def print_budgets(groups: list[dict[str, Any]], console, fmt) -> None:
    from rich.table import Table

    for group in groups:
        table = Table(title=f"visual budget: {group['base']}", title_justify="left")
        for header in ("budget", "image tok/img", "text tok", "TTFT ms", "prefill ms", "encode ms/img", "mem MB",
                       "pass", "frontier"):
            table.add_column(header, justify="left" if header == "budget" else "right", no_wrap=True)
        for r in group["budgets"]:
            quality = (NOT_APPLICABLE.split(" (")[0] + " (twin)" if r["quality"] == NOT_APPLICABLE
                       else fmt(r["pass_rate"], "pct"))
            table.add_row(str(r["visual_budget"] or "default"), fmt(r["image_tokens_per_image"], "f0"),
                          fmt(r["text_tokens"], "f0"), fmt(r["ttft_ms_median"], "f0"), fmt(r["prefill_ms_median"], "f0"),
                          fmt(r["image_encode_ms_per_image"], "f0"), fmt(r["peak_mem_mb"], "f0"), quality,
                          {True: "yes", False: "no", None: "–"}[r["on_frontier"]])
        console.print(table)
        console.print(f"[dim]image tokens: engine-reported per image. prefill: projector encode + llama.cpp prompt "
                      f"processing (measured). mem: peak worker RSS above baseline. {group['frontier']}.[/dim]")
