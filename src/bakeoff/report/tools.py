"""Tool-use figures per contender (the ``tools`` object of ``bakeoff report --json``).

- valid_call_rate: well-formed calls / calls made (parses, names a declared tool, arguments valid
  against its schema), over single-shot tool cases and agent loops
- correct_call_rate: single-shot tool cases passed / single-shot tool cases run (their checks say
  what a correct call is: right tool, right arguments, no call, several calls)
- task_success: agent loops passed / agent loops run
- steps_to_success, tokens_to_success: mean over the loops that passed (requests; prompt + output tokens)
- repeat_loops: loops that made the same call (tool and arguments) twice or more
- budget_exhaustions: loops whose step budget ran out before an answer
- untagged_calls: calls read from a reply that was only the call's JSON, without the
  ``<tool_call>`` tags the template asks for (counted as calls; a strict reader would miss them)
Trials that ended in an error count as failures in the rates; no tool cases: no ``tools`` figures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bakeoff.util.stats import wilson_interval


LEGEND = ("valid calls: well-formed calls / calls made. correct calls: single-shot tool cases passed. "
          "task success: agent loops passed. steps (requests) and tokens (prompt + output): means over the "
          "loops that passed. repeat loops: loops that made the same call twice. tool errors: calls whose "
          "tool raised, refused, timed out or was called invalidly.")


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def tool_figures(trials: list[Any]) -> dict[str, dict[str, Any]]:
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        if t["tool_summary"] is not None:
            by_spec[t["spec"]].append(t)
    out = {}
    for spec, ts in by_spec.items():
        single = [t for t in ts if json.loads(t["tool_summary"]).get("mode") == "single"]
        loops = [t for t in ts if json.loads(t["tool_summary"]).get("mode") == "agent"]
        summaries = [json.loads(t["tool_summary"]) for t in ts]
        calls = sum(s.get("calls", 0) for s in summaries)
        valid = sum(s.get("valid_calls", 0) for s in summaries)
        correct = sum(1 for t in single if t["status"] == "ok" and t["passed"])
        won = [t for t in loops if t["status"] == "ok" and t["passed"]]
        loop_sums = [json.loads(t["tool_summary"]) for t in loops]
        steps = [json.loads(t["tool_summary"])["steps"] for t in won]
        tokens = [(t["prompt_tokens"] or 0) + (t["output_tokens"] or 0) for t in won]
        out[spec] = {
            "calls": calls,
            "valid_calls": valid,
            "valid_call_rate": _rate(valid, calls),
            "single_cases": len(single),
            "correct_calls": correct,
            "correct_call_rate": _rate(correct, len(single)),
            "correct_call_rate_ci": list(wilson_interval(correct, len(single))) if single else None,
            "agent_loops": len(loops),
            "loops_passed": len(won),
            "task_success": _rate(len(won), len(loops)),
            "task_success_ci": list(wilson_interval(len(won), len(loops))) if loops else None,
            "steps_to_success": sum(steps) / len(steps) if steps else None,
            "tokens_to_success": sum(tokens) / len(tokens) if tokens else None,
            "mean_steps": sum(s["steps"] for s in loop_sums) / len(loop_sums) if loop_sums else None,
            "repeat_loops": sum(1 for s in loop_sums if s.get("repeated_calls")),
            "budget_exhaustions": sum(1 for s in loop_sums if s.get("budget_exhausted")),
            "tool_errors": sum(s.get("tool_errors", 0) for s in loop_sums),
            "untagged_calls": sum(1 for t in ts for c in json.loads(t["tool_calls"] or "[]")
                                  if "untagged" in (c.get("note") or "")),
            "errors": sum(1 for t in ts if t["status"] != "ok"),
            "units": {"steps_to_success": "requests", "tokens_to_success": "tokens (prompt + output)"},
        }
    return out
