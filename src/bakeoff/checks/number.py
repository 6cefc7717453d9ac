"""The ``number`` check: the answer's final number equals the expected one (GSM8K's rule).

YAML forms::

    - number: 18
    - number: {value: 0.5, tolerance: 1e-6}

The final number is the one after a ``####`` marker when the answer has one, else the last
number in the answer; thousands separators are ignored. It passes when it is within
``tolerance`` of the value.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from pydantic import Field, model_validator

from bakeoff.checks.base import Check, CheckParams

_MARKER = re.compile(r"####\s*\$?\s*(-?[\d,]*\d(?:\.\d+)?)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> float | None:
    """The number after ``####``, else the last number; None when there is none."""
    marker = _MARKER.search(text)
    found = marker.group(1) if marker else (_NUMBER.findall(text) or [None])[-1]
    if found is None:
        return None
    try:
        return float(found.replace(",", ""))
    except ValueError:
        return None


class NumberCheck(Check):
    """The final number in the answer equals the value."""

    kind = "number"

    class Params(CheckParams):
        what: ClassVar[str] = "number check"
        value: float = Field(allow_inf_nan=False)
        tolerance: float = Field(default=1e-6, ge=0, allow_inf_nan=False)

        @model_validator(mode="before")
        @classmethod
        def _short(cls, value: Any) -> Any:
            if isinstance(value, bool):
                raise ValueError("wants a number, e.g. 'number: 18'")
            if isinstance(value, (int, float, str)):
                return {"value": value}
            return value

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        got = final_number(output)
        want = self.params.value
        if got is None:
            return False, f"no number in the answer (expected {want:g})"
        if math.isclose(got, want, rel_tol=0, abs_tol=self.params.tolerance):
            return True, f"final number {got:g} equals {want:g}"
        return False, f"final number {got:g}, expected {want:g}"
