"""Tool-call checks: they read the calls the model made (bakeoff.tools.calls), not its prose.

    - valid_tool_calls: true          at least one call, and every call parses, names a declared
                                      tool and has arguments valid against that tool's schema
    - tool_call: {name: get_weather, arguments: {city: Paris}}       the right tool, exact arguments
    - tool_call: {name: get_weather, arguments_subset: {city: Paris}}  these keys with these values
    - tool_call: {name: add, predicate: checks.py:sums_to_five}      a function of the arguments
    - tool_calls: {names: [get_weather, get_time]}                   several calls (any order)
    - tool_calls: {count: 2}                                         exactly this many calls
    - no_tool_call: true              no call at all (the model should just answer)

Only well-formed calls can satisfy ``tool_call`` and ``tool_calls``; the detail names the
malformed ones. In an agent loop the checks see every call of every step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from pydantic import model_validator

from bakeoff.checks.base import Check, CheckConfigError, CheckParams, clip
from bakeoff.checks.python_check import import_function
from bakeoff.tools.calls import problem


def _declared(case: Any) -> list[dict[str, Any]]:
    return list(getattr(case, "tools", None) or [])


def _well_formed(calls: list[dict], case: Any) -> tuple[list[dict], list[str]]:
    tools = _declared(case)
    good, bad = [], []
    for c in calls:
        why = problem(c, tools)
        if why is None:
            good.append(c)
        else:
            bad.append(f"{c.get('name') or '?'}: {why}")
    return good, bad


class FlagParams(CheckParams):
    """A check with nothing to set, written ``kind: true``."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if value is True or isinstance(value, dict):
            return {} if value is True else value
        raise ValueError(f"write '{cls.what.split()[0]}: true'")


class ToolCallCheck(Check):
    """A check that reads tool calls (CheckSpec.run passes them to ``run_calls``)."""

    reads_tool_calls: ClassVar[bool] = True

    def run(self, output: str, case: Any) -> tuple[float | bool, str]:
        return self.run_calls([], output, case)

    @abstractmethod
    def run_calls(self, calls: list[dict], output: str, case: Any) -> tuple[float | bool, str]:
        """Score the reply's tool calls (parsed, malformed ones included) and its text."""


class ValidToolCalls(ToolCallCheck):
    kind = "valid_tool_calls"

    class Params(FlagParams):
        what: ClassVar[str] = "valid_tool_calls check"

    def run_calls(self, calls, output, case):
        if not calls:
            return False, f"no tool call; the reply was {clip(output, 80)}"
        good, bad = _well_formed(calls, case)
        if bad:
            return False, f"{len(bad)} of {len(calls)} calls malformed: " + "; ".join(bad)[:400]
        return True, f"{len(calls)} well-formed call(s)"


class NoToolCall(ToolCallCheck):
    kind = "no_tool_call"

    class Params(FlagParams):
        what: ClassVar[str] = "no_tool_call check"

    def run_calls(self, calls, output, case):
        if calls:
            return False, "called " + ", ".join(str(c.get("name")) for c in calls) + " when no call was wanted"
        return True, "no tool call, as wanted"


class ToolCall(ToolCallCheck):
    kind = "tool_call"

    class Params(CheckParams):
        what: ClassVar[str] = "tool_call check"
        name: str
        arguments: dict[str, Any] | None = None
        arguments_subset: dict[str, Any] | None = None
        predicate: str | None = None

        @model_validator(mode="before")
        @classmethod
        def _short(cls, value: Any) -> Any:
            return {"name": value} if isinstance(value, str) else value

        @model_validator(mode="after")
        def _one_way(self) -> Any:
            given = [k for k in ("arguments", "arguments_subset", "predicate") if getattr(self, k) is not None]
            if len(given) > 1:
                raise ValueError(f"give one of arguments, arguments_subset, predicate (got {', '.join(given)})")
            return self

    def prepare(self) -> None:
        self.fn = None
        if self.params.predicate:
            try:
                self.fn, self.nargs, self.sha256 = import_function(self.params.predicate, self.base_dir)
            except CheckConfigError as exc:
                raise CheckConfigError(exc.message, ("predicate",)) from None

    def identity(self) -> Any:
        out = super().identity()
        if self.fn is not None:
            out["source_sha256"] = self.sha256
        return out

    def matches(self, args: dict[str, Any], case: Any) -> bool:
        p = self.params
        if p.arguments is not None:
            return args == p.arguments
        if p.arguments_subset is not None:
            return all(k in args and args[k] == v for k, v in p.arguments_subset.items())
        if self.fn is not None:
            result = self.fn(args, case) if self.nargs == 2 else self.fn(args)
            return bool(result)
        return True

    def run_calls(self, calls, output, case):
        good, bad = _well_formed(calls, case)
        named = [c for c in good if c["name"] == self.params.name]
        for c in named:
            if self.matches(c["arguments"], case):
                return True, f"{self.params.name}({clip(c['arguments_raw'], 100)})"
        if named:
            return False, f"{self.params.name} called with other arguments: " + \
                "; ".join(clip(c["arguments_raw"], 80) for c in named)
        tail = f"; malformed: {'; '.join(bad)[:300]}" if bad else ""
        others = ", ".join(str(c["name"]) for c in good)
        return False, (f"no well-formed call of {self.params.name}" + (f" (called {others})" if others else "")
                       + (f"; the reply was {clip(output, 60)}" if not calls else "") + tail)


class ToolCalls(ToolCallCheck):
    kind = "tool_calls"

    class Params(CheckParams):
        what: ClassVar[str] = "tool_calls check"
        names: list[str] | None = None
        count: int | None = None

        @model_validator(mode="after")
        def _something(self) -> Any:
            if self.names is None and self.count is None:
                raise ValueError("give names (the tools that must all be called) or count (how many calls)")
            return self

    def run_calls(self, calls, output, case):
        good, bad = _well_formed(calls, case)
        problems = []
        if self.params.count is not None and len(calls) != self.params.count:
            problems.append(f"{len(calls)} calls, {self.params.count} wanted")
        if self.params.names is not None:
            left = [c["name"] for c in good]
            missing = []
            for name in self.params.names:
                if name in left:
                    left.remove(name)
                else:
                    missing.append(name)
            if missing:
                problems.append(f"missing well-formed calls of {', '.join(missing)}")
        if bad:
            problems.append(f"malformed: {'; '.join(bad)[:300]}")
        if problems:
            return False, "; ".join(problems)
        return True, f"{len(calls)} calls: " + ", ".join(c["name"] for c in good)
