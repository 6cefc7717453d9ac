"""bakeoff.report.tools on hand-built tool-use trials: valid and correct call rates, task success
of agent loops with the steps and tokens it took, loops that repeated a call or ran out of
budget, untagged calls, and errors counted as failures."""

from __future__ import annotations

import pytest

from bakeoff.report.tools import tool_figures
from report_rows import trial


def test_tool_figures_of_single_cases_and_agent_loops():
    single_ok = trial(case_id="s1", tool_summary={"mode": "single", "calls": 1, "valid_calls": 1},
                      tool_calls=[{"name": "get", "note": "untagged: the reply was only the call's JSON"}])
    single_bad = trial(case_id="s2", passed=0, tool_summary={"mode": "single", "calls": 2, "valid_calls": 1})
    single_err = trial(case_id="s3", status="error", passed=None, tool_summary={"mode": "single"})
    loop_won = trial(case_id="l1", prompt_tokens=300, output_tokens=50,
                     tool_summary={"mode": "agent", "calls": 3, "valid_calls": 3, "steps": 4, "tool_errors": 1})
    loop_lost = trial(case_id="l2", passed=0, tool_summary={"mode": "agent", "calls": 6, "valid_calls": 5,
                                                            "steps": 8, "repeated_calls": 2, "budget_exhausted": True})
    plain = trial(spec="llamacpp:no-tools")
    figures = tool_figures([single_ok, single_bad, single_err, loop_won, loop_lost, plain])
    assert list(figures) == ["llamacpp:a"]  # a contender without tool cases has no tool figures
    f = figures["llamacpp:a"]
    assert (f["calls"], f["valid_calls"]) == (12, 10) and f["valid_call_rate"] == pytest.approx(10 / 12)
    assert (f["single_cases"], f["correct_calls"]) == (3, 1)
    assert f["correct_call_rate"] == pytest.approx(1 / 3)  # the error counts as a failure
    assert (f["agent_loops"], f["loops_passed"], f["task_success"]) == (2, 1, 0.5)
    assert f["steps_to_success"] == 4 and f["tokens_to_success"] == 350 and f["mean_steps"] == 6
    assert (f["repeat_loops"], f["budget_exhaustions"], f["tool_errors"]) == (1, 1, 1)
    assert f["untagged_calls"] == 1 and f["errors"] == 1
    low, high = f["task_success_ci"]
    assert low < 0.5 < high


def test_no_loops_leaves_loop_figures_empty():
    f = tool_figures([trial(tool_summary={"mode": "single", "calls": 0, "valid_calls": 0})])["llamacpp:a"]
    assert f["valid_call_rate"] is None and f["task_success"] is None and f["task_success_ci"] is None
    assert f["steps_to_success"] is None and f["correct_call_rate"] == 1.0
