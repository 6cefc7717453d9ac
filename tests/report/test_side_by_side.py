"""bakeoff.report.side_by_side on hand-built trials: per case, each contender's answer from its
lowest ok repeat, the reference (the first contender with an answer), whether the others match
it, how many distinct answers the repeats gave, verdicts that disagree, and the case limit."""

from __future__ import annotations

from bakeoff.report.side_by_side import side_by_side
from report_rows import trial

A, B, C = "llamacpp:a", "llamacpp:b", "llamacpp:c"


def test_cells_reference_and_disagreement():
    trials = [
        trial(A, "sum", 1, output="4 "), trial(A, "sum", 0, output="four", passed=0),
        trial(B, "sum", 0, output="four", passed=1),
        trial(C, "sum", 0, status="error", passed=None, output=None, error="load failed"),
        trial(A, "hi", 0, output="hello"), trial(B, "hi", 0, output="hello"),
    ]
    checks = {trials[1]["id"]: [{"kind": "regex", "passed": False}]}
    view = side_by_side(trials, [A, B, C], checks)
    assert [c["case_id"] for c in view["cases"]] == ["sum", "hi"] and view["omitted"] == 0
    sum_case = view["cases"][0]
    assert sum_case["messages"] == [{"role": "user", "content": "question sum"}]
    a, b, c = sum_case["cells"]
    assert (a["repeat"], a["output"], a["verdict"]) == (0, "four", False)  # the lowest repeat is shown
    assert a["checks"] == [{"kind": "regex", "passed": False}]
    assert a["distinct_outputs"] == 2 and (a["judged"], a["passed"]) == (2, 1)
    assert sum_case["reference"] == A and a["same_as_reference"] is None
    assert b["same_as_reference"] is True and b["verdict"] is True
    assert c["output"] is None and c["errors"] == 1 and c["error"] == "load failed"
    assert c["same_as_reference"] is None
    assert sum_case["disagree"] is True and view["cases"][1]["disagree"] is False


def test_max_cases_counts_what_was_left_out():
    trials = [trial(A, f"c{i}") for i in range(5)]
    view = side_by_side(trials, [A], {}, max_cases=2)
    assert [c["case_id"] for c in view["cases"]] == ["c0", "c1"] and view["omitted"] == 3
