"""The ``code`` check: run the model's code against tests, in the sandbox.

YAML forms::

    - code: {tests: "assert add(2, 3) == 5"}
    - code: {prelude: "from typing import List", tests: "def check(f): ...", entry_point: add,
             timeout_s: 10, memory_mb: 512}

The program is ``prelude`` + the answer's code + ``tests`` (+ ``check(entry_point)``). The
answer's code is its fenced Python block when it has one (the longest), else the whole answer.
It passes when the program exits 0 within the limits. The detail ends with the isolation that
ran it, ``[sandbox: bwrap|unshare|seatbelt|container|rlimits]`` (see bakeoff.sandbox).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field

from bakeoff.checks.base import Check, CheckParams, clip
from bakeoff.sandbox import Limits, run_python

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_IDENTIFIER = r"^[A-Za-z_]\w*$"
SANDBOX_TAG = re.compile(r"\[sandbox: (\w+)\]$")


def _runs_code(spec: Any) -> bool:
    if spec.inner is not None:
        return _runs_code(spec.inner)
    return getattr(spec.check, "kind", None) == CodeCheck.kind


def runs_model_code(cases: list[Any]) -> bool:
    """Whether any of these cases (their checks, or a conversation turn's) runs the model's code."""
    return any(_runs_code(spec) for case in cases
               for spec in [*case.checks, *(c for turn in case.turns for c in turn.checks)])


def answer_code(output: str) -> str:
    """The code in a model's answer: its longest fenced block, else the answer itself."""
    blocks = _FENCE.findall(output)
    return max(blocks, key=len) if blocks else output


class CodeCheck(Check):
    """The answer's code passes the tests when run in the sandbox."""

    kind = "code"

    class Params(CheckParams):
        what: ClassVar[str] = "code check"
        tests: str = Field(min_length=1)
        prelude: str = ""
        entry_point: str | None = Field(default=None, pattern=_IDENTIFIER)
        timeout_s: float = Field(default=10.0, gt=0, le=600)
        memory_mb: int = Field(default=512, ge=64, le=65536)

    def program(self, output: str) -> str:
        p = self.params
        parts = [p.prelude, answer_code(output), p.tests]
        if p.entry_point:
            parts.append(f"check({p.entry_point})")
        return "\n\n".join(part for part in parts if part) + "\n"

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        p = self.params
        limits = Limits(wall_s=p.timeout_s, cpu_s=max(1, int(p.timeout_s)), memory_mb=p.memory_mb)
        result = run_python(self.program(output), limits)
        tag = f"[sandbox: {result.isolation}]"
        if result.ok:
            return True, f"tests passed in {result.wall_s:.2f} s {tag}"
        where = _failing_line(result.stderr)
        return False, f"tests failed: {clip(result.why(), 160)}{where} {tag}"


def _failing_line(stderr: str) -> str:
    """' (main.py line N)' for the last frame of the program in a traceback."""
    lines = re.findall(r'File "main\.py", line (\d+)', stderr)
    return f" (main.py line {lines[-1]})" if lines else ""
