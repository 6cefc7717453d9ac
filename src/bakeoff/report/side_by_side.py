"""Per-case side-by-side: each contender's answer to the same case, with a diff against a reference.

The reference is the first contender (in matrix order) with an answer to that case. Each cell
shows the answer of its lowest ok repeat; how many distinct answers the repeats gave is said
(the flaky section lists them). The word diff itself is drawn by the page, on demand: on a
10,000-trial database computing every diff here would take seconds.
"""

from __future__ import annotations

import json
from typing import Any

from bakeoff.report.flaky import repeat_cells
from bakeoff.util.answers import normal_form


def _messages(trial) -> list[dict]:
    try:
        return json.loads(trial["case_json"]).get("messages", [])
    except (TypeError, ValueError, AttributeError):
        return []


def _cell(spec: str, ts: list, checks: dict[str, list[dict]]) -> dict[str, Any]:
    ok = [t for t in ts if t["status"] == "ok"]
    shown = ok[0] if ok else None
    errored = [t for t in ts if t["status"] != "ok"]
    return {
        "spec": spec, "trials": len(ts), "errors": len(errored),
        "judged": sum(t["passed"] is not None for t in ok), "passed": sum(t["passed"] == 1 for t in ok),
        "trial_id": shown["id"] if shown else None,
        "repeat": shown["repeat"] if shown else None,
        "output": shown["output"] if shown else None,
        "reasoning": shown["reasoning"] if shown else None,
        "verdict": None if shown is None or shown["passed"] is None else bool(shown["passed"]),
        "checks": checks.get(shown["id"], []) if shown else [],
        "error": errored[-1]["error"] if errored else None,
        "distinct_outputs": len({normal_form(t["output"]) for t in ok}),
        "e2e_ms": shown["e2e_ms"] if shown else None,
        "same_as_reference": None,  # None: this is the reference, or there is nothing to compare
    }


def side_by_side(trials, specs: list[str], checks: dict[str, list[dict]],
                 max_cases: int | None = None) -> dict[str, Any]:
    """{"cases": [{case_id, messages, reference, disagree, cells: [...]}], "omitted": N}."""
    cells = repeat_cells(trials)
    order: dict[str, Any] = {}
    for t in trials:
        order.setdefault(t["case_id"], t)
    cases = []
    for case_id, first in order.items():
        if max_cases is not None and len(cases) >= max_cases:
            break
        row = [_cell(spec, cells[(case_id, spec)], checks) for spec in specs if (case_id, spec) in cells]
        reference = next((c for c in row if c["output"] is not None), None)
        for c in row:
            if reference is not None and c is not reference and c["output"] is not None:
                c["same_as_reference"] = c["output"] == reference["output"]
        verdicts = {c["verdict"] for c in row if c["verdict"] is not None}
        cases.append({"case_id": case_id, "messages": _messages(first),
                      "reference": reference["spec"] if reference else None,
                      "disagree": len(verdicts) > 1, "cells": row})
    return {"cases": cases, "omitted": len(order) - len(cases)}
