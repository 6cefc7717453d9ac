"""Text checks: equals, contains, regex.

YAML forms::

    - equals: Paris                                   # stripped, case-insensitive
    - equals: {value: Paris, case_sensitive: true, strip: false}
    - contains: Paris                                 # case-insensitive
    - contains: {all: [Paris, France]}                # every one must appear
    - contains: {any: [Paris, Paname], case_sensitive: true}
    - regex: '\\bParis\\b'                            # re.search
    - regex: {pattern: '^paris$', flags: im}          # flags from i, m, s, x
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, field_validator, model_validator

from bakeoff.checks.base import Check, CheckConfigError, CheckParams, clip, scalar_text

Text = Annotated[str, BeforeValidator(scalar_text)]


def _shorthand(key: str, what: str):
    """A before-validator turning ``kind: value`` into ``kind: {key: value}``."""

    def wrap(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if value is None:
            raise ValueError(f"needs {what}")
        if isinstance(value, (list, tuple)):
            raise ValueError(f"give {what}, not a list")
        return {key: value}

    return model_validator(mode="before")(classmethod(wrap))


class Equals(Check):
    """The whole output equals the value (after stripping whitespace, ignoring case by default)."""

    kind = "equals"

    class Params(CheckParams):
        what: ClassVar[str] = "equals check"
        value: Text
        case_sensitive: bool = False
        strip: bool = True

        _short = _shorthand("value", "the text the output must equal")

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        p = self.params
        got, want = output, p.value
        if p.strip:
            got, want = got.strip(), want.strip()
        if not p.case_sensitive:
            got, want = got.casefold(), want.casefold()
        if got == want:
            return True, f"equals {clip(p.value)}"
        return False, f"expected {clip(p.value)}, got {clip(output.strip() if p.strip else output)}"


class Contains(Check):
    """The output contains the text (or all / any of several texts)."""

    kind = "contains"

    class Params(CheckParams):
        what: ClassVar[str] = "contains check"
        all: list[Text] | None = Field(default=None, min_length=1)
        any: list[Text] | None = Field(default=None, min_length=1)
        case_sensitive: bool = False

        @model_validator(mode="before")
        @classmethod
        def _short(cls, value: Any) -> Any:
            if isinstance(value, dict):
                return value
            if value is None:
                raise ValueError("needs the text to look for, or {all: [...]} or {any: [...]}")
            if isinstance(value, (list, tuple)):
                raise ValueError("give one text, or {all: [...]} or {any: [...]}, not a bare list")
            return {"all": [value]}

        @model_validator(mode="after")
        def _one(self) -> Contains.Params:
            if (self.all is None) == (self.any is None):
                raise ValueError("give exactly one of 'all' or 'any'")
            return self

    def prepare(self) -> None:
        for text in self.params.all or self.params.any or []:
            if text == "":
                raise CheckConfigError("contains: the text to look for is empty")

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        p = self.params
        fold = (lambda s: s) if p.case_sensitive else str.casefold
        hay = fold(output)
        if p.all is not None:
            missing = [t for t in p.all if fold(t) not in hay]
            if missing:
                return False, "missing " + ", ".join(clip(t) for t in missing)
            return True, "found " + ", ".join(clip(t) for t in p.all)
        found = [t for t in p.any or [] if fold(t) in hay]
        if found:
            return True, f"found {clip(found[0])}"
        return False, "none of " + ", ".join(clip(t) for t in p.any or []) + " found"


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class Regex(Check):
    """``re.search`` finds the pattern in the output."""

    kind = "regex"

    class Params(CheckParams):
        what: ClassVar[str] = "regex check"
        pattern: Text
        flags: str = ""

        _short = _shorthand("pattern", "a regular expression")

        @field_validator("flags")
        @classmethod
        def _flags(cls, flags: str) -> str:
            bad = [c for c in flags if c not in _FLAGS]
            if bad:
                raise ValueError(f"unknown regex flag {bad[0]!r}; use any of: i, m, s, x")
            return flags

    def prepare(self) -> None:
        flags = 0
        for c in self.params.flags:
            flags |= _FLAGS[c]
        try:
            self.compiled = re.compile(self.params.pattern, flags)
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            raise CheckConfigError(f"bad regex {clip(self.params.pattern)}: {exc.msg}{where}", ("pattern",)) from None
        except (RecursionError, OverflowError, ValueError, MemoryError) as exc:
            raise CheckConfigError(f"bad regex {clip(self.params.pattern)}: {exc}", ("pattern",)) from None

    def identity(self) -> Any:
        return {"pattern": self.params.pattern, "flags": "".join(sorted(set(self.params.flags)))}

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        match = self.compiled.search(output)
        if match:
            return True, f"matched {clip(match.group(0), 60)} at {match.start()}"
        return False, f"no match for /{self.params.pattern}/{self.params.flags}"
