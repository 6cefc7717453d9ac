"""The tools one case may call, with what runs them: Python functions named in the suite
(``python: module:function``) and the built-in repository tools over the case's ``repo``.

``execute`` never raises: a tool that raises, or is called with arguments it cannot take, gives
an ``error: ...`` result the model reads (and the step records); a huge result is cut to
``MAX_RESULT_CHARS`` before it goes back to the model (the step records its full size); a tool
that does not return within the loop's ``tool_timeout_s`` is abandoned the same way. Python cannot
stop a thread, so a hung tool's thread runs on (a daemon: it ends with the run) — the error says
so. Tools run in this process, not a subprocess, so a suite's tools may keep state between calls.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from bakeoff.suite.schema import DEFAULT_TOOL_TIMEOUT_S
from bakeoff.tools.calls import problem
from bakeoff.tools.repo import RepoTools, ToolRefused

MAX_RESULT_CHARS = 8000  # what a model is fed of one result; small contexts fill up fast


@dataclass
class ToolOutcome:
    text: str  # what the model is sent
    result_bytes: int  # size of the full result (UTF-8)
    tool_ms: float
    error: str | None = None  # the tool raised, refused, or the call was invalid
    truncated: bool = False


@dataclass
class Toolbox:
    tools: list[dict[str, Any]]  # declared: name, description, parameters (what the model sees)
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TOOL_TIMEOUT_S

    @classmethod
    def for_case(cls, case: Any) -> Toolbox:
        functions = dict(getattr(case, "tool_functions", {}) or {})
        agent = getattr(case, "agent", None) or {}
        if agent.get("repo"):
            functions.update(RepoTools(agent["repo"]).functions())
        return cls(tools=case.tools, functions=functions, timeout_s=float(agent.get("tool_timeout_s", DEFAULT_TOOL_TIMEOUT_S)))

    def execute(self, call: dict[str, Any]) -> ToolOutcome:
        why = problem(call, self.tools)
        if why is not None:
            return ToolOutcome(f"error: invalid call: {why}", 0, 0.0, error=f"invalid call: {why}")
        fn = self.functions.get(call["name"])
        if fn is None:
            return ToolOutcome(f"error: {call['name']} has no implementation", 0, 0.0,
                               error="no implementation")
        t0 = time.perf_counter()
        try:
            value = self._call(fn, call["arguments"] or {})
        except TimeoutError as exc:
            ms = (time.perf_counter() - t0) * 1000
            return ToolOutcome(f"error: {exc}", 0, ms, error=f"timed out: {exc}")
        except ToolRefused as exc:
            ms = (time.perf_counter() - t0) * 1000
            return ToolOutcome(f"error: {exc}", 0, ms, error=f"refused: {exc}")
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a tool's failure is the model's to read, not the run's end
            ms = (time.perf_counter() - t0) * 1000
            text = f"{type(exc).__name__}: {exc}"[:500]
            return ToolOutcome(f"error: the tool raised {text}", 0, ms, error=f"raised {text}")
        ms = (time.perf_counter() - t0) * 1000
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        size = len(text.encode("utf-8", "replace"))
        if len(text) > MAX_RESULT_CHARS:
            kept = text[:MAX_RESULT_CHARS]
            return ToolOutcome(f"{kept}\n[result cut: {size} bytes in all, the first {MAX_RESULT_CHARS} characters shown]",
                               size, ms, truncated=True)
        return ToolOutcome(text, size, ms)

    def _call(self, fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """fn(**arguments) in a daemon thread, waited for at most ``timeout_s``."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn(**arguments)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's handlers
                box["error"] = exc

        worker = threading.Thread(target=run, name="bakeoff-tool", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise TimeoutError(f"the tool did not return within {self.timeout_s:g} s and was abandoned "
                               "(its thread runs on until the run ends)")
        if "error" in box:
            raise box["error"]
        return box.get("value")
