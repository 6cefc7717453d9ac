"""Flaky cases: the same case and contender, repeated, with answers that disagree.

Why it matters: "the same prompt ten times — one brilliant answer and one confused one is a
failure". A (case, contender) cell is *flaky* when its repeats disagree on the verdict (some
pass, some fail) or some repeats ended in an error and others did not. Repeats whose verdicts
agree but whose texts differ are listed apart, as *unstable output*: at a temperature above 0
that is expected, and it only matters when the checks do not see it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bakeoff.util.answers import normal_form

# Repeats shown per cell; the counts always cover them all.
MAX_REPEATS_SHOWN = 10


def repeat_cells(trials) -> dict[tuple[str, str], list]:
    """Trials grouped by (case id, contender), each group in repeat order."""
    cells: dict[tuple[str, str], list] = defaultdict(list)
    for t in trials:
        cells[(t["case_id"], t["spec"])].append(t)
    for ts in cells.values():
        ts.sort(key=lambda t: t["repeat"])
    return cells


def flaky_cells(trials) -> dict[str, list[dict[str, Any]]]:
    """{"flaky": cells whose repeats disagree on verdict or status, "unstable": same verdicts, different texts}."""
    flaky, unstable = [], []
    for (case_id, spec), ts in repeat_cells(trials).items():
        if len(ts) < 2:
            continue
        ok = [t for t in ts if t["status"] == "ok"]
        verdicts = {t["passed"] for t in ok if t["passed"] is not None}
        errors = len(ts) - len(ok)
        distinct = len({normal_form(t["output"]) for t in ok})
        reasons = []
        if len(verdicts) > 1:
            reasons.append(f"{sum(t['passed'] == 1 for t in ok)} of {len(ok)} repeats passed")
        if errors and ok:
            reasons.append(f"{errors} of {len(ts)} repeats ended in an error")
        cell = {
            "case_id": case_id, "spec": spec, "repeats": len(ts), "errors": errors,
            "judged": sum(t["passed"] is not None for t in ok), "passed": sum(t["passed"] == 1 for t in ok),
            "distinct_outputs": distinct, "reasons": reasons,
            "outputs": [{"repeat": t["repeat"], "trial_id": t["id"], "status": t["status"], "passed": t["passed"],
                         "text": t["output"] if t["status"] == "ok" else t["error"]}
                        for t in ts[:MAX_REPEATS_SHOWN]],
        }
        if reasons:
            flaky.append(cell)
        elif distinct > 1:
            unstable.append(cell)
    return {"flaky": flaky, "unstable": unstable}


def flaky_summary(cells: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The same without the texts, for --json."""
    return {kind: [{k: v for k, v in c.items() if k != "outputs"} for c in rows] for kind, rows in cells.items()}
