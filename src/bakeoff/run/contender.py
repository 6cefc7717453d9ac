"""Opening a contender: make its backend, find its model file and hash it, load it, and close it
at the end, whatever happened in between.

Every part of a run that loads a model goes through ``open_contender`` (the scheduler, the
judges, the Ray actors, the speed protocol, the load test), so the sequence and what is recorded
of it (file, sha256, facts, the load error) are the same everywhere. A load failure does not
raise: the caller finds it in ``error`` and records it its own way (error trials, a judge left
pending, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakeoff.backends import make_backend
from bakeoff.backends.base import Backend, BackendError, GenerationRequest
from bakeoff.models.packaged import file_sha256
from bakeoff.spec import ContenderSpec


@dataclass
class OpenContender:
    """A contender's backend and what its loading found: facts when it loaded, else ``error``."""

    spec: ContenderSpec
    backend: Backend
    model_path: str | None = None
    sha256: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None


@contextlib.asynccontextmanager
async def open_contender(spec: ContenderSpec, timeout_s: float, *, tdp_watts: float | None = None,
                         tdp_source: str | None = None, sha256: str | None = None,
                         failures: tuple[type[Exception], ...] = (BackendError,), backend: Backend | None = None,
                         **overrides: Any) -> AsyncIterator[OpenContender]:
    """The loaded contender (``overrides`` are spec options such as ``ctx``). ``sha256``: the
    model file's hash when the caller already knows it (speed loads one model at several depths).
    ``failures``: what counts as a failed load, kept in ``error`` instead of raised. ``backend``:
    one the caller made earlier (so that bad options stopped it before anything ran)."""
    backend = backend or make_backend(spec, timeout_s, **overrides)
    # Where no energy counter exists, the worker estimates from this CPU power (cost config).
    backend.tdp_watts, backend.tdp_source = tdp_watts, tdp_source
    opened = OpenContender(spec, backend, sha256=sha256)
    try:
        try:
            opened.model_path = backend.model_file()
            if opened.model_path and opened.sha256 is None:
                opened.sha256 = file_sha256(Path(opened.model_path))
            opened.facts = await backend.aload()
        except failures as exc:
            opened.error = exc
        yield opened
    finally:
        await backend.aclose()


class SyncContender:
    """An opened contender driven from synchronous code (the judge phase, repository sessions):
    an event loop of its own runs the async contract, one request at a time."""

    def __init__(self, spec: ContenderSpec, timeout_s: float, **open_args: Any):
        self.spec, self.timeout_s, self.open_args = spec, timeout_s, open_args
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened: contextlib.AsyncExitStack | None = None

    def open(self) -> OpenContender:
        """The contender, loaded unless its ``error`` says otherwise; ``close()`` it either way."""
        self._loop = asyncio.new_event_loop()
        self._opened = contextlib.AsyncExitStack()
        return self._loop.run_until_complete(self._opened.enter_async_context(
            open_contender(self.spec, self.timeout_s, **self.open_args)))

    def stream(self, backend: Backend, request: GenerationRequest, take: Callable[[dict[str, Any]], None]) -> None:
        """Hand each event of one request to ``take`` as it comes (its timing is the event's own ``t``)."""
        async def run() -> None:
            async for event in backend.agenerate(request):
                take(event)

        self._loop.run_until_complete(run())

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self._loop.run_until_complete(self._opened.aclose())
        finally:
            self._loop.close()
            self._loop = self._opened = None
