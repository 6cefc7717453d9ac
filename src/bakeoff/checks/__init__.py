"""Checks: score one output of one case.

Check classes are registered under the ``bakeoff.checks`` entry point group and loaded only
when a suite names them, so adding a check is one small file plus one entry-point line.

A check entry in a suite is a mapping with exactly one check kind (or ``not``) plus an
optional ``weight``::

    - contains: Paris
    - {regex: '\\bParis\\b', weight: 2}
    - not: {contains: London}
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bakeoff.checks.base import (
    PASS_SCORE,
    Check,
    CheckConfigError,
    CheckParams,
    CheckResult,
    CheckSpec,
    Verdict,
    validation_problems,
)
from bakeoff.errors import InputError

if TYPE_CHECKING:
    from bakeoff.suite.schema import Case

__all__ = [
    "PASS_SCORE",
    "Check",
    "CheckConfigError",
    "CheckParams",
    "CheckResult",
    "CheckSpec",
    "Verdict",
    "build_check",
    "check_kinds",
    "evaluate",
    "get_check",
    "is_deferred",
]

NOT = "not"
WEIGHT = "weight"

@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    """The one list of checks: the ``bakeoff.checks`` entry points (pyproject.toml's table for the
    built-in ones, read from the installed metadata like the backends' registry)."""
    return {ep.name: ep for ep in entry_points(group="bakeoff.checks")}


def check_kinds() -> list[str]:
    """Registered check kinds, sorted (``not`` is not one: it wraps them)."""
    return sorted(_entry_points())


@lru_cache(maxsize=None)
def get_check(kind: str) -> type[Check]:
    eps = _entry_points()
    if kind not in eps:
        raise InputError(f"unknown check kind {kind!r}; known kinds: {', '.join(_known())}")
    try:
        cls = eps[kind].load()
    except ImportError as exc:
        raise InputError(f"check {kind!r} needs a package that is not installed ({exc.name})") from None
    return cls


def _known() -> list[str]:
    return sorted([*check_kinds(), NOT])


def build_check(entry: Any, base_dir: Path | None = None, *, _allow_weight: bool = True) -> CheckSpec:
    """Turn one check entry (already loaded from YAML) into a prepared CheckSpec.

    Raises CheckConfigError whose ``loc`` is relative to the entry.
    """
    known = ", ".join(_known())
    if not isinstance(entry, dict):
        raise CheckConfigError(
            f"a check is a mapping with one check kind, e.g. 'contains: Paris' (got {_type_name(entry)}); "
            f"known kinds: {known}"
        )
    for key in entry:
        if not isinstance(key, str):
            raise CheckConfigError(f"check key {key!r} is not text; known kinds: {known}", (key,), at_key=True)
    kinds = [k for k in entry if k != WEIGHT]
    if not kinds:
        raise CheckConfigError(f"check entry names no check kind; known kinds: {known}")
    if len(kinds) > 1:
        raise CheckConfigError(
            f"one check entry has {len(kinds)} check kinds ({', '.join(map(repr, kinds))}); "
            "write each check as its own list item",
            (kinds[1],),
            at_key=True,
        )
    kind = kinds[0]
    weight = 1.0
    if WEIGHT in entry:
        if not _allow_weight:
            raise CheckConfigError("'weight' goes beside 'not', not inside it", (WEIGHT,), at_key=True)
        raw = entry[WEIGHT]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw <= 0:
            raise CheckConfigError(f"weight must be a number greater than 0 (got {raw!r})", (WEIGHT,))
        weight = float(raw)
    value = entry[kind]
    if kind == NOT:
        try:
            inner = build_check(value, base_dir, _allow_weight=False)
        except CheckConfigError as exc:
            raise _prefixed(exc, (NOT,)) from None
        if is_deferred(inner):
            raise CheckConfigError(f"a {inner.kind} check cannot go inside 'not' (it is graded after the run); "
                                   "write the rubric the other way round", (NOT, inner.kind), at_key=True)
        return CheckSpec(kind=NOT, weight=weight, inner=inner)
    try:
        cls = get_check(kind)
    except InputError as exc:
        raise CheckConfigError(exc.message, (kind,), at_key=True) from None
    try:
        params = cls.Params.model_validate(value)
    except ValidationError as exc:
        problems = validation_problems(exc, cls.Params, f"{kind} check", prefix=f"{kind} check: ")
        first = _prefixed(problems[0], (kind,))
        first.others = [_prefixed(p, (kind,)) for p in problems[1:]]
        raise first from None
    try:
        check = cls(params, base_dir)
    except CheckConfigError as exc:
        raise _prefixed(exc, (kind,)) from None
    return CheckSpec(kind=kind, weight=weight, check=check)


def _prefixed(exc: CheckConfigError, prefix: tuple[Any, ...]) -> CheckConfigError:
    new = CheckConfigError(exc.message, prefix + exc.loc, exc.at_key)
    new.others = [_prefixed(o, prefix) for o in getattr(exc, "others", [])]
    return new


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def is_deferred(spec: CheckSpec) -> bool:
    """A check graded after the contenders (an LLM judge), not at trial time."""
    return bool(getattr(spec.check, "deferred", False))


def evaluate(checks: list[CheckSpec], output: str, case: Case | None = None,
             calls: list[dict] | None = None) -> Verdict:
    """Run every check on one output. The score is the weighted mean of check scores;
    the case passes when the score reaches its pass_threshold. No checks: no verdict.

    Deferred checks (judges) are not run: each gets a ``pending`` result, and while one is
    pending the verdict is None (the judge phase writes it; see bakeoff.run.judges)."""
    if not checks:
        return Verdict(passed=None, score=None, results=[])
    text = output if isinstance(output, str) else ("" if output is None else str(output))
    results: list[CheckResult] = []
    total = weighted = 0.0
    pending = False
    for spec in checks:
        # ``calls``: the tool calls the model made (bakeoff.tools.calls), for the tool checks.
        if is_deferred(spec):
            pending = True
            results.append(CheckResult(kind=spec.label, passed=False, score=0.0, weight=spec.weight,
                                       detail=spec.check.pending_detail()))  # type: ignore[union-attr]
            continue
        score, detail = spec.run(text, case, calls)
        results.append(
            CheckResult(kind=spec.label, passed=score >= PASS_SCORE, score=score, weight=spec.weight, detail=detail)
        )
        total += spec.weight
        weighted += spec.weight * score
    if pending:
        return Verdict(passed=None, score=None, results=results)
    score = weighted / total if total > 0 else 0.0
    threshold = getattr(case, "pass_threshold", 1.0) if case is not None else 1.0
    passed = score >= threshold - 1e-9
    return Verdict(passed=passed, score=score, results=results)
