"""bakeoff.checks.number used directly: the final number of a worked answer (GSM8K's rule)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bakeoff.checks.number import NumberCheck, final_number

WORKED = """Natalia sold 48/2 = 24 clips in May.
Natalia sold 48 + 24 = 72 clips altogether in April and May.
#### 72"""


def number(value):
    return NumberCheck(NumberCheck.Params.model_validate(value))


def test_final_number_prefers_the_marker_then_the_last_number():
    assert final_number(WORKED) == 72.0
    assert final_number("#### 1,234 and later 5") == 1234.0
    assert final_number("It costs $3.50, so 2 of them cost $7.00") == 7.0
    assert final_number("The answer is -12.") == -12.0
    assert final_number("no digits here") is None


def test_number_check_passes_the_gsm8k_answer_and_fails_a_near_miss():
    assert number(72).run(WORKED, None) == (True, "final number 72 equals 72")
    assert number(73).run(WORKED, None) == (False, "final number 72, expected 73")
    assert number(18).run("I am not sure.", None) == (False, "no number in the answer (expected 18)")


def test_tolerance_widens_what_counts_as_equal():
    answer = "pi is about 3.1416"
    assert number({"value": 3.14159, "tolerance": 0.001}).run(answer, None)[0] is True
    assert number(3.14159).run(answer, None)[0] is False


def test_bad_values_are_refused():
    with pytest.raises(ValidationError, match="wants a number"):
        NumberCheck.Params.model_validate(True)
    with pytest.raises(ValidationError):
        NumberCheck.Params.model_validate({"value": 1, "tolerance": -1})
    with pytest.raises(ValidationError):
        NumberCheck.Params.model_validate(float("nan"))
