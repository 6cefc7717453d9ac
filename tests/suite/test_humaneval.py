"""bakeoff.suite.standard.humaneval used directly: each problem becomes a case whose code check
runs the answer's Python after the problem's prompt and before its tests, in the sandbox."""

from __future__ import annotations

from bakeoff.checks import evaluate
from bakeoff.suite.standard.humaneval import MAX_TOKENS, cases

TRUNCATE = """Here is the solution:
```python
def truncate_number(number: float) -> float:
    return number % 1.0
```
"""


def test_truncate_number_right_and_wrong_answers():
    by_id = {c.id: c for c in cases()}
    assert len(by_id) == 164
    case = by_id["HumanEval/2"]
    assert case.max_tokens == MAX_TOKENS and case.tags == ["humaneval"]
    assert "def truncate_number(number: float) -> float:" in case.messages[0]["content"]
    assert case.checks[0].identity()["params"]["entry_point"] == "truncate_number"
    assert evaluate(case.checks, TRUNCATE, case).passed
    wrong = evaluate(case.checks, TRUNCATE.replace("number % 1.0", "int(number)"), case)
    assert not wrong.passed and "AssertionError" in wrong.results[0].detail
