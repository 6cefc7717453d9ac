"""What every check provides, and the objects a check run produces.

A check class has a ``kind`` (its name in the suite file and in the ``bakeoff.checks`` entry
point group), a pydantic ``Params`` model for its YAML value, optional load-time work in
``prepare`` (compile a regex, load a schema, import a function), and ``run(output, case)``
returning ``(score, detail)``: a bool or a float in [0, 1], and a short text saying why.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
import typing
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from bakeoff.suite.schema import Case

#: A check result at or above this score counts as passed (and is what ``not`` negates).
PASS_SCORE = 0.5


class CheckConfigError(Exception):
    """A check written wrongly in the suite (found at load time).

    ``loc`` is the path, relative to the check entry, of the value at fault (the suite loader
    turns it into a line number); ``at_key`` says to point at the key rather than its value.
    """

    def __init__(self, message: str, loc: tuple[Any, ...] = (), at_key: bool = False):
        super().__init__(message)
        self.message = message
        self.loc = tuple(loc)
        self.at_key = at_key
        self.others: list[CheckConfigError] = []  # further problems found at the same time


class CheckParams(BaseModel):
    """Base of every check's Params model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def scalar_text(value: Any) -> Any:
    """Before-validator: accept YAML numbers where text is expected (``equals: 42``).

    Booleans are refused with a hint, since YAML reads ``yes``/``no``/``on``/``off`` as
    booleans, which is rarely what the author meant as text.
    """
    if isinstance(value, bool):
        word = "true" if value else "false"
        raise ValueError(f"got the YAML boolean {word}; put the text in quotes (e.g. \"yes\") if you mean text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("expected text or a finite number")
        return repr(value)
    return value


def validation_problems(
    exc: ValidationError, root: type[BaseModel], root_what: str, prefix: str = ""
) -> list[CheckConfigError]:
    """Turn a pydantic ValidationError into one readable CheckConfigError per error.

    ``root`` is the model that was validated; it lets an unknown key be answered with the
    keys that are allowed at that place. Models may name themselves with a ``what`` ClassVar.
    """
    problems = []
    errors = exc.errors(include_url=False)
    # A misspelt key explains the required key found missing beside it: report only the former.
    misspelt = {tuple(e["loc"][:-1]) for e in errors if e.get("type") == "extra_forbidden" and e.get("loc")}
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        model = _model_at(root, loc[:-1]) if loc else root
        what = root_what if model is root else str(getattr(model, "what", None) or "mapping")
        if kind == "extra_forbidden" and loc:
            names = [f.alias or n for n, f in model.model_fields.items()] if model is not None else []
            msg = f"unknown key {loc[-1]!r} in {what}"
            close = difflib.get_close_matches(str(loc[-1]), names, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            if names:
                msg += f"; allowed keys: {', '.join(names)}"
            problems.append(CheckConfigError(msg, loc, at_key=True))
            continue
        if kind == "missing" and loc and loc[:-1] in misspelt:
            continue
        if kind == "missing" and loc:
            problems.append(CheckConfigError(f"missing required key {loc[-1]!r} in {what}", loc[:-1]))
            continue
        text = str(err.get("msg", "invalid value"))
        for lead in ("Value error, ", "Assertion failed, "):
            if text.startswith(lead):
                text = text[len(lead):]
        text = re.sub(r" or instance of \w+", "", text)
        name = dotted(loc)
        got = ""
        value = err.get("input")
        if kind not in ("value_error",) and not isinstance(value, (dict, list)) and loc:
            got = f" (got {clip(value, 60) if isinstance(value, str) else _short(value)})"
        problems.append(CheckConfigError(prefix + (f"{name}: " if name else "") + text + got, loc))
    return problems or [CheckConfigError(prefix + "invalid value")]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(loc: tuple[Any, ...]) -> str:
    """('cases', 2, 'max_tokens') -> 'cases[2].max_tokens'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.isidentifier() or part.replace("-", "_").isidentifier()):
            out += f".{part}" if out else part
    return out


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    cls: Any = root
    for part in loc:
        if isinstance(part, str) and inspect.isclass(cls) and issubclass(cls, BaseModel) and part in cls.model_fields:
            cls = _model_in(cls.model_fields[part].annotation)
    return cls if inspect.isclass(cls) and issubclass(cls, BaseModel) else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def clip(text: str, limit: int = 80) -> str:
    """repr() of text, shortened to about ``limit`` characters for a detail line."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


class Check(ABC):
    """One kind of check. Subclass, set ``kind`` and ``Params``, implement ``run``."""

    kind: ClassVar[str]
    Params: ClassVar[type[CheckParams]]

    def __init__(self, params: CheckParams, base_dir: Path | None = None):
        self.params = params
        self.base_dir = base_dir
        self.prepare()

    def prepare(self) -> None:
        """Load-time work (compile, read files, import). Raise CheckConfigError on bad input."""

    @abstractmethod
    def run(self, output: str, case: Case | None) -> tuple[float | bool, str]:
        """Score one output: (bool or float in [0, 1], detail saying why)."""

    def identity(self) -> Any:
        """A JSON-serialisable, canonical description of what this check tests."""
        return self.params.model_dump(mode="json", exclude_none=True)


@dataclass
class CheckSpec:
    """One check entry of a case: a prepared check (or ``not`` of another), with its weight."""

    kind: str
    weight: float = 1.0
    check: Check | None = None  # None for kind == "not"
    inner: CheckSpec | None = None  # set for kind == "not"
    line: int | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """The name shown in results: ``contains`` or ``not contains``."""
        if self.inner is not None:
            return f"not {self.inner.label}"
        return self.kind

    def run(self, output: str, case: Case | None, calls: list[dict] | None = None) -> tuple[float, str]:
        """Score in [0, 1] and detail. Never raises: a crashing check scores 0."""
        if self.inner is not None:
            score, detail = self.inner.run(output, case, calls)
            if score >= PASS_SCORE:
                return 0.0, f"{self.inner.label} passed but must not: {detail}"
            return 1.0, f"{self.inner.label} failed as required: {detail}"
        assert self.check is not None
        try:
            if getattr(self.check, "reads_tool_calls", False):  # bakeoff.checks.tool_calls
                raw, detail = self.check.run_calls(calls or [], output, case)  # type: ignore[attr-defined]
            else:
                raw, detail = self.check.run(output, case)
        except Exception as exc:  # a bug in a check must not end the run
            return 0.0, f"check raised {type(exc).__name__}: {exc}"
        return _to_score(raw), str(detail)

    def identity(self) -> dict[str, Any]:
        body: Any = self.inner.identity() if self.inner is not None else self.check.identity()  # type: ignore[union-attr]
        return {"kind": self.kind, "params": body, "weight": float(self.weight)}


def _to_score(raw: Any) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    try:
        score = float(raw)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(score):
        return 0.0
    return min(1.0, max(0.0, score))


@dataclass
class CheckResult:
    kind: str
    passed: bool
    score: float
    weight: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """The verdict on one output: ``passed``/``score`` are None when the case has no checks."""

    passed: bool | None
    score: float | None
    results: list[CheckResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": self.score, "results": [r.to_dict() for r in self.results]}
