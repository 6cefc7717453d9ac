"""What thinking buys and what it costs, from a thinking sweep (``--sweep thinking=on,off,...``).

For each contender swept over ``thinking``, every variant is compared with the one that does not
think (``thinking=off``, else the variant with the option unset) on the same cases and repeats
(paired): the difference in pass rate and which cases it turned (fail -> pass "gained", pass ->
fail "lost"); the extra output tokens and seconds per trial; how much later the answer starts
(TTFAT); how often the thinking was cut off by ``max_tokens`` before any answer (truncated) or
left an empty answer. The thinking mode each variant ran in (native or prompted) comes from the
contender's facts, where the backend stored it.

Figures are means of per-pair differences over the pairs where both trials succeeded; tokens are
the engine's or server's counts (the trial's ``tokens_source``), seconds are client-observed E2E.
"""

from __future__ import annotations

import json
from collections import defaultdict
from statistics import mean
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bakeoff.util.stats import is_cold, median, wilson_interval

OFF = ("off", "none")


def _base_spec(spec: str, keys: set[str]) -> str:
    head, _, query = spec.partition("?")
    rest = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in keys]
    return head + (f"?{urlencode(rest)}" if rest else "")


def _get(trial, column: str) -> Any:
    return trial[column] if column in trial.keys() else None


def _truncated(trial) -> bool:
    flag = _get(trial, "thinking_truncated")  # a column, once the database has one
    if flag is not None:
        return bool(flag)
    return trial["finish_reason"] == "length" and bool(trial["reasoning"]) and not (trial["output"] or "").strip()


def _mean_diff(pairs: list[tuple[Any, Any]], column: str, scale: float = 1.0) -> float | None:
    diffs = [(v[column] - r[column]) * scale for v, r in pairs if v[column] is not None and r[column] is not None]
    return mean(diffs) if diffs else None


def _side(trials: list, facts: dict | None) -> dict[str, Any]:
    ok = [t for t in trials if t["status"] == "ok"]
    judged = [t for t in ok if t["passed"] is not None]
    passed = sum(t["passed"] for t in judged)
    ci = wilson_interval(passed, len(judged))
    reasoning_tokens = [_get(t, "reasoning_tokens") for t in ok]
    return {
        "spec": trials[0]["spec"],
        "sweep": json.loads(trials[0]["sweep"]),
        "thinking_mode": ((facts or {}).get("thinking") or {}).get("mode"),
        "trials": len(trials), "errors": len(trials) - len(ok),
        "pass_rate": passed / len(judged) if judged else None,
        "pass_rate_ci": list(ci) if ci else None,
        "output_tokens_median": median(t["output_tokens"] for t in ok),
        "reasoning_tokens_median": median(reasoning_tokens),
        "reasoning_chars_median": median(len(t["reasoning"] or "") for t in ok),
        "with_reasoning_share": sum(bool(t["reasoning"]) for t in ok) / len(ok) if ok else None,
        "truncated_share": sum(_truncated(t) for t in ok) / len(ok) if ok else None,
        "empty_answer_share": sum(not (t["output"] or "").strip() for t in ok) / len(ok) if ok else None,
        "e2e_s_median": median(t["e2e_ms"] / 1000 for t in ok if t["e2e_ms"] is not None),
        "ttft_ms_median": median(t["ttft_ms"] for t in ok if is_cold(t)),
        "ttfat_ms_median": median(t["ttfat_ms"] for t in ok),
    }


def thinking_deltas(db, run_id: str | None = None) -> list[dict[str, Any]]:
    """One entry per contender swept over thinking: its reference (no thinking) and, per other
    variant, what thinking bought and cost against it on the same cases."""
    trials = [t for t in db.trials(run_id) if t["sweep"] and "thinking" in json.loads(t["sweep"])]
    if not trials:
        return []
    facts = {}
    for c in db.contenders():
        try:
            facts[c["spec"]] = json.loads(c["facts"]) if c["facts"] else {}
        except ValueError:
            facts[c["spec"]] = {}
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for t in trials:
        point = json.loads(t["sweep"])
        groups[_base_spec(t["spec"], set(point))][t["spec"]].append(t)
    out = []
    for base, by_spec in groups.items():
        setting = {spec: str(json.loads(ts[0]["sweep"])["thinking"]).lower() for spec, ts in by_spec.items()}
        refs = [s for s in by_spec if setting[s] == "off"] or [s for s in by_spec if setting[s] == "none"]
        if not refs:
            continue  # nothing that does not think to compare with
        reference = refs[0]
        ref_by_key = {(t["case_id"], t["repeat"]): t for t in by_spec[reference] if t["status"] == "ok"}
        variants = []
        for spec, ts in by_spec.items():
            if spec == reference:
                continue
            side = _side(ts, facts.get(spec))
            pairs = [(t, ref_by_key[(t["case_id"], t["repeat"])]) for t in ts
                     if t["status"] == "ok" and (t["case_id"], t["repeat"]) in ref_by_key]
            judged = [(v, r) for v, r in pairs if v["passed"] is not None and r["passed"] is not None]
            side.update({
                "paired_cases": len(pairs),
                "pass_rate_delta": (sum(v["passed"] - r["passed"] for v, r in judged) / len(judged)) if judged else None,
                "gained": sorted({v["case_id"] for v, r in judged if v["passed"] and not r["passed"]}),
                "lost": sorted({v["case_id"] for v, r in judged if r["passed"] and not v["passed"]}),
                "extra_output_tokens_mean": _mean_diff(pairs, "output_tokens"),
                "extra_e2e_s_mean": _mean_diff(pairs, "e2e_ms", 1 / 1000),
                "later_first_answer_ms_mean": _mean_diff(pairs, "ttfat_ms"),
                "answers_differ_share": (sum(" ".join((v["output"] or "").split()) != " ".join((r["output"] or "").split())
                                             for v, r in pairs) / len(pairs)) if pairs else None,
            })
            variants.append(side)
        variants.sort(key=lambda v: str(v["sweep"]["thinking"]))
        out.append({"base": base, "reference": _side(by_spec[reference], facts.get(reference)), "variants": variants})
    return out
