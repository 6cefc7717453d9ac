"""The ``python`` check: a function of yours scores the output.

YAML forms::

    - python: mychecks:is_good            # mychecks.py next to the suite file
    - python: {function: pkg.mod:Checker.check}

The function is imported when the suite loads (so a typo is reported with its line), from the
suite file's directory first, then the installed packages. It is called as ``fn(output)`` or
``fn(output, case)`` (whichever its signature takes) and returns a bool, a score in [0, 1], or
a ``(score, detail)`` pair. If it raises, the check fails with the exception as its detail;
the run goes on.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import numbers
import re
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from bakeoff.checks.base import Check, CheckConfigError, CheckParams, clip

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_LOCK = threading.Lock()
# Top-level module names imported from a suite's directory: these may be re-imported (fresh)
# for the next suite, unlike installed modules, which are never displaced.
_SUITE_MODULES: set[str] = set()


def _is_local(base: Path, top: str) -> bool:
    return (base / f"{top}.py").is_file() or (base / top).is_dir()


def _forget(top: str) -> None:
    for name in list(sys.modules):
        if name == top or name.startswith(top + "."):
            del sys.modules[name]


def suite_modules() -> list[Any]:
    """The modules imported from suites' own folders (checks and tools), which another process —
    a Ray worker — cannot import by name."""
    return [sys.modules[name] for name in sorted(_SUITE_MODULES) if name in sys.modules]


def import_function(ref: str, base_dir: Path | None,
                    any_arity: bool = False) -> tuple[Callable[..., Any], int, str | None]:
    """Import ``module:function`` from ``base_dir`` (then installed packages).

    Returns (function, number of arguments to pass: 1 or 2, sha256 of the module source or
    None). Raises CheckConfigError. sys.path is left as it was found.
    """
    modname, sep, funcname = ref.strip().partition(":")
    if not sep or not _MODULE.fullmatch(modname) or not _MODULE.fullmatch(funcname):
        raise CheckConfigError(f"python check wants 'module:function' (got {ref!r})", ("function",))
    base = (base_dir or Path.cwd()).resolve()
    top = modname.split(".")[0]
    with _LOCK:
        local = _is_local(base, top)
        if local:
            existing = sys.modules.get(top)
            if existing is not None and top not in _SUITE_MODULES:
                where = getattr(existing, "__file__", None) or "built in"
                raise CheckConfigError(
                    f"module {top!r} next to the suite has the name of an installed module ({where}); rename it",
                    ("function",),
                )
            _forget(top)
        elif top in _SUITE_MODULES:
            _forget(top)  # imported from another suite's directory; not this one's to use
        entry = str(base)
        sys.path.insert(0, entry)
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(modname)
        except (Exception, SystemExit) as exc:
            if local:
                _forget(top)
            detail = f"{type(exc).__name__}: {exc}"
            raise CheckConfigError(
                f"cannot import module {modname!r} for python check {ref!r} (looked in {base} and the "
                f"installed packages): {detail}",
                ("function",),
            ) from None
        finally:
            try:
                sys.path.remove(entry)
            except ValueError:
                pass
        if local:
            _SUITE_MODULES.add(top)
    obj: Any = module
    for part in funcname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = getattr(module, "__file__", None) or modname
            raise CheckConfigError(f"module {modname!r} ({where}) has no function {funcname!r}", ("function",)) from None
        except Exception as exc:
            raise CheckConfigError(f"cannot get {funcname!r} from {modname!r}: {exc}", ("function",)) from None
    if not callable(obj):
        raise CheckConfigError(f"{ref!r} is not a function (it is {type(obj).__name__})", ("function",))
    nargs = 0 if any_arity else _arity(obj, ref)  # any_arity: a tool function, called with keywords
    return obj, nargs, _source_sha256(module)


def _arity(fn: Callable[..., Any], ref: str) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    for n in (2, 1):
        try:
            sig.bind(*(["output", None][:n]))
            return n
        except TypeError:
            continue
    raise CheckConfigError(f"python check {ref!r} must take (output) or (output, case); its signature is {sig}", ("function",))


def _source_sha256(module: Any) -> str | None:
    path = getattr(module, "__file__", None)
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


class PythonCheck(Check):
    """A function from your own module scores the output."""

    kind = "python"

    class Params(CheckParams):
        what: ClassVar[str] = "python check"
        function: str

        @model_validator(mode="before")
        @classmethod
        def _short(cls, value: Any) -> Any:
            if isinstance(value, str):
                return {"function": value}
            if isinstance(value, dict):
                return value
            raise ValueError("write 'python: module:function'")

        @field_validator("function")
        @classmethod
        def _form(cls, value: str) -> str:
            mod, sep, fn = value.strip().partition(":")
            if not sep or not _MODULE.fullmatch(mod) or not _MODULE.fullmatch(fn):
                raise ValueError(f"wants 'module:function' (got {value!r})")
            return value.strip()

    def prepare(self) -> None:
        self.fn, self.nargs, self.sha256 = import_function(self.params.function, self.base_dir)

    def identity(self) -> Any:
        # The module's source hash: editing the function changes the task.
        return {"function": self.params.function, "source_sha256": self.sha256}

    def run(self, output: str, case: Any) -> tuple[float | bool, str]:
        try:
            result = self.fn(output, case) if self.nargs == 2 else self.fn(output)
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            at = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            return False, f"{self.params.function} raised {type(exc).__name__}: {exc}{at}"
        detail = ""
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, detail = result
        return _interpret(result, detail, self.params.function)


def _interpret(result: Any, detail: str, name: str) -> tuple[float | bool, str]:
    if isinstance(result, bool):
        return result, detail or f"{name} returned {result}"
    if isinstance(result, numbers.Real):
        score = float(result)
        if not math.isfinite(score) or not 0.0 <= score <= 1.0:
            return False, f"{name} returned {result!r}; a score must be in [0, 1]"
        return score, detail or f"{name} returned {score:g}"
    return False, f"{name} returned {clip(repr(result), 60)}; expected a bool or a score in [0, 1]"
