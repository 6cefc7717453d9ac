"""The load test's client: sends a level's requests on schedule and times what comes back, at a
cost that must not show in the figures (bench/load.py measures it against a bare HTTP client).

Two things keep it lean:

- **Lean path.** A backend that can say what it sends as plain HTTP (``wire_request``: URL, headers,
  JSON body; the openai-compat family) is driven by a bare ``httpx2`` client: each SSE line is
  stored with its receipt time and nothing else happens per chunk. The lines are parsed after the
  level, by the backend's own parser (``replay``), into the same events ``astream`` gives, so the
  figures are computed exactly as for any trial. Other backends go through ``astream``.
- **Worker processes.** ``workers`` processes, each with its own event loop and HTTP client, share
  the level: under fixed concurrency each runs its share of the C slots, taking the next request
  from a shared counter; under an arrival rate each sends its share of the schedule (request i
  goes to worker i mod W). With one worker everything runs in this process.

Every worker reports its own CPU time over the level; a worker busy for most of the level's wall
time is saturated, and then the level's figures may be the client's ceiling, not the server's.
Times come from ``time.perf_counter`` (CLOCK_MONOTONIC on Linux: one clock for all processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bakeoff.backends import make_backend
from bakeoff.backends._server import Retryable, ServerBackend, status_failure
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.contender import open_contender

# A worker whose CPU time is this share of the level's wall time or more could not keep up: it
# spent the level computing, not waiting for the server.
SATURATED_BUSY = 0.85
# Workers start a level together at a common instant this far ahead (process start-up excluded).
START_MARGIN_S = 0.25


def default_workers(cores: int | None = None) -> int:
    """One worker process per two cores (the rest is left to the server and the system), at most 16."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(16, cores // 2))


@dataclass
class LevelPlan:
    """How a level's requests go out: ``slots`` in flight at once (fixed concurrency), or each
    request at its ``offsets_s`` after the level's start (an arrival schedule)."""

    slots: int | None = None
    offsets_s: list[float] | None = None


@dataclass
class Received:
    """One request as it came back, before parsing: the lean path keeps the raw lines."""

    i: int
    t_call: float
    t_send: float | None = None
    t_done: float = 0.0
    scheduled: float | None = None  # when the schedule said to send it (arrival profiles)
    lines: list[tuple[float, str]] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def lean(backend: ServerBackend) -> bool:
    return hasattr(backend, "wire_request") and hasattr(backend, "replay")


async def send_one(backend: ServerBackend, http, request: GenerationRequest, i: int, timeout_s: float) -> Received:
    """Send one request (one attempt); never raises for a failed request."""
    got = Received(i=i, t_call=time.perf_counter())

    async def over_http() -> None:
        url, headers, body = backend.wire_request(request)
        lines: list[tuple[float, str]] = []
        got.lines = lines
        clock = time.perf_counter
        got.t_send = clock()
        async with http.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                detail = (await response.aread()).decode("utf-8", "replace")[:300]
                raise status_failure(response.status_code, detail, response.headers)
            async for line in response.aiter_lines():
                lines.append((clock(), line))  # the only work per chunk; parsed after the level

    async def through_backend() -> None:
        async for event in backend.astream(request):
            got.events.append(event)

    try:
        await asyncio.wait_for(over_http() if http is not None else through_backend(), timeout_s)
    except asyncio.TimeoutError:
        got.error = f"no complete answer within {timeout_s:g} s"
    except (Retryable, BackendError) as exc:  # the backend's own words: HTTP status, dropped connection...
        got.error = backend.redact(getattr(exc, "reason", None) or str(exc))[:500]
    except Exception as exc:  # noqa: BLE001 - any failure of one request is that request's result
        got.error = backend.redact(_transport_error(exc))[:500]
    got.t_done = time.perf_counter()
    return got


def _transport_error(exc: Exception) -> str:
    import httpx2

    if isinstance(exc, httpx2.TransportError):
        return f"connection failed or dropped: {type(exc).__name__}: {exc}"[:300]
    return f"{type(exc).__name__}: {exc}"


def to_sample(backend: ServerBackend, request: GenerationRequest, got: Received) -> dict[str, Any]:
    """The sample record of one request (bakeoff.run.load), from its events or its raw lines."""
    events = got.events
    error = got.error
    if got.lines is not None:
        events = [{"type": "sent", "t": got.t_send}]
        if error is None:
            try:
                events += list(backend.replay(request, got.lines, got.t_done))
            except BackendError as exc:
                error = backend.redact(str(exc))[:500]
    measure = StreamMeasure()
    times: list[float] = []
    for event in events:
        measure.feed(event)
        if event["type"] in ("content", "reasoning"):
            times.append(event["t"])
    f = measure.finish()
    t_send = max(measure.t_send, got.t_call) if events else got.t_call  # the "sent" event, else the call
    sample: dict[str, Any] = {
        "i": got.i, "ok": error is None, "error": error, "t_send": t_send, "t_done": got.t_done,
        "prompt_sha": hashlib.sha256(request.messages[-1]["content"].encode()).hexdigest()[:12],
        "finish_reason": f.finish_reason, "chunks": len(times),
        "ttft_ms": None, "e2e_ms": None, "tpot_ms": None, "itl_ms": [],
        "output_tokens": None, "output_tokens_source": None,
        "prompt_tokens": None, "prompt_tokens_source": None,
        # what the server says came from its prefix cache (None: it does not say); the prompts
        # are random, so anything above 0 is the chat template's shared opening
        "cached_tokens": (measure.cache or {}).get("cached_tokens"),
        "cache_source": (measure.cache or {}).get("source"),
    }
    if got.scheduled is not None:
        sample["lag_ms"] = round((t_send - got.scheduled) * 1000, 3)  # sent this late against the schedule
    if error is None:
        n = f.output_tokens
        sample.update(ttft_ms=f.ttft_ms, e2e_ms=f.e2e_ms, output_tokens=n,
                      output_tokens_source=f.tokens_source if n is not None else None,
                      itl_ms=[round((b - a) * 1000, 4) for a, b in zip(times, times[1:])])
        if f.prompt_tokens is not None:
            sample.update(prompt_tokens=f.prompt_tokens, prompt_tokens_source=f.tokens_source)
        if n is not None and n > 1 and f.ttft_ms is not None:
            sample["tpot_ms"] = (f.e2e_ms - f.ttft_ms) / (n - 1)
    return sample


async def run_share(backend: ServerBackend, http, requests: list[GenerationRequest], plan: LevelPlan,
                    start_at: float, take: Callable[[], int], mine: list[int], timeout_s: float,
                    on_done: Callable[[bool], None] | None = None) -> list[Received]:
    """This worker's part of a level: ``plan.slots`` slots taking the next index from ``take``, or
    the indices ``mine`` each sent at ``start_at + offset``."""
    received: list[Received] = []

    async def send(i: int, scheduled: float | None) -> None:
        got = await send_one(backend, http, requests[i], i, timeout_s)
        got.scheduled = scheduled
        received.append(got)
        if on_done:
            on_done(got.error is None)

    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    if plan.offsets_s is None:
        async def slot() -> None:
            while (i := take()) < len(requests):
                await send(i, None)

        await asyncio.gather(*(slot() for _ in range(plan.slots or 1)))
    else:
        tasks = []
        for i in mine:
            at = start_at + plan.offsets_s[i]
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(i, at)))
        await asyncio.gather(*tasks)
    return received


def split_slots(slots: int, workers: int) -> list[int]:
    """C slots over W workers as evenly as possible (no worker gets none)."""
    workers = max(1, min(workers, slots))
    return [slots // workers + (1 if w < slots % workers else 0) for w in range(workers)]


def new_http(timeout_s: float, connect_s: float):
    import httpx2

    # no pool limit: the plan, not the pool, decides how many requests are in flight
    return httpx2.AsyncClient(timeout=httpx2.Timeout(timeout_s, connect=connect_s),
                              limits=httpx2.Limits(max_connections=None, max_keepalive_connections=None))


@dataclass
class ShareStats:
    cpu_s: float
    wall_s: float


class _Worker:
    """One event loop with its backend and HTTP client: runs in this process or in a child."""

    def __init__(self, spec_text: str, timeout_s: float):
        from bakeoff.spec import parse_contender

        self.spec = parse_contender(spec_text)
        self.timeout_s = timeout_s
        self.backend: ServerBackend = make_backend(self.spec, timeout_s)  # load() opens it
        self.opened = contextlib.AsyncExitStack()
        self.http = None
        self.pending: list[Received] = []

    async def load(self) -> dict[str, Any]:
        """Open the contender (bakeoff.run.contender); raises its load failure."""
        contender = await self.opened.enter_async_context(
            open_contender(self.spec, self.timeout_s, backend=self.backend))
        if contender.error is not None:
            raise contender.error
        facts = contender.facts
        if lean(self.backend):
            self.http = new_http(self.timeout_s, self.backend.options.connect_timeout)
        return facts

    async def share(self, requests, plan, start_at, take, mine, on_done=None) -> ShareStats:
        cpu, wall = time.process_time(), time.perf_counter()
        self.pending = await run_share(self.backend, self.http, requests, plan, start_at, take, mine,
                                       self.timeout_s, on_done)
        end = time.perf_counter()
        return ShareStats(time.process_time() - cpu, end - max(wall, start_at))

    def samples(self, requests) -> list[dict[str, Any]]:
        out = [to_sample(self.backend, requests[got.i], got) for got in self.pending]
        self.pending = []
        return out

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        await self.opened.aclose()


def client_figures(stats: list[ShareStats], path: str) -> dict[str, Any]:
    """The client's own cost over a level: CPU seconds and busy share per worker."""
    busy = [s.cpu_s / s.wall_s if s.wall_s > 0 else 0.0 for s in stats]
    return {"workers": len(stats), "path": path, "cores": os.cpu_count(),
            "cpu_s": [round(s.cpu_s, 4) for s in stats], "busy": [round(b, 3) for b in busy],
            "saturated": any(b >= SATURATED_BUSY for b in busy)}


class LocalClient:
    """The level's requests from this process, on one event loop."""

    def __init__(self, spec_text: str, timeout_s: float):
        self.loop = asyncio.new_event_loop()
        self.worker = _Worker(spec_text, timeout_s)
        self.workers = 1

    @property
    def backend(self) -> ServerBackend:
        return self.worker.backend

    def load(self) -> dict[str, Any]:
        return self.loop.run_until_complete(self.worker.load())

    def path(self) -> str:
        return "lean: bare HTTP client, lines parsed after the level" if self.worker.http else "backend stream"

    def run_level(self, requests, plan: LevelPlan, on_done=None) -> tuple[list[dict], dict[str, Any]]:
        counter = itertools.count()
        take = counter.__next__  # never awaits, so no index is taken twice
        mine = list(range(len(requests)))
        start_at = time.perf_counter()
        slots = LevelPlan(slots=min(plan.slots, len(requests)), offsets_s=None) if plan.slots else plan
        stats = self.loop.run_until_complete(self.worker.share(requests, slots, start_at, take, mine, on_done))
        return self.worker.samples(requests), client_figures([stats], self.path())

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.worker.close())
        finally:
            self.loop.close()


def _child(spec_text: str, timeout_s: float, inbox, outbox, counter, index: int) -> None:
    """A worker process: load, then serve levels until told to stop."""
    try:
        asyncio.run(_child_loop(spec_text, timeout_s, inbox, outbox, counter, index))
    except KeyboardInterrupt:
        pass


async def _child_loop(spec_text, timeout_s, inbox, outbox, counter, index) -> None:
    loop = asyncio.get_running_loop()
    worker = _Worker(spec_text, timeout_s)
    try:
        try:
            facts = await worker.load()
            outbox.put(("loaded", index, facts, "lean" if worker.http else "backend stream"))
        except BackendError as exc:
            outbox.put(("failed", index, str(exc)))
            return

        def take() -> int:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            return i

        while True:
            message = await loop.run_in_executor(None, inbox.get)
            if message is None:
                break
            requests, plan, start_at, mine = message
            stats = await worker.share(requests, plan, start_at, take, mine,
                                       lambda ok: outbox.put(("done", index, ok)))
            outbox.put(("shared", index, stats))
            if await loop.run_in_executor(None, inbox.get) != "parse":  # parse once every worker is done
                break
            outbox.put(("samples", index, worker.samples(requests)))
    finally:
        await worker.close()


class ProcessClient:
    """The level's requests from ``workers`` processes, each with its own event loop and client."""

    def __init__(self, spec_text: str, timeout_s: float, workers: int):
        self.ctx = multiprocessing.get_context("spawn")  # no fork: the parent holds threads and a tokenizer
        self.spec_text, self.timeout_s, self.workers = spec_text, timeout_s, workers
        self.counter = self.ctx.Value("q", 0)
        self.outbox = self.ctx.Queue()
        self.inboxes = [self.ctx.Queue() for _ in range(workers)]
        self.procs = [self.ctx.Process(target=_child, args=(spec_text, timeout_s, self.inboxes[w], self.outbox,
                                                            self.counter, w), daemon=True)
                      for w in range(workers)]
        self.lean = False

    def _get(self, deadline: float):
        while True:
            try:
                return self.outbox.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead or time.monotonic() > deadline:
                    raise BackendError(f"a load-test worker process {'died' if dead else 'stopped answering'}"
                                       + (f" (exit code {dead[0].exitcode})" if dead else "")) from None

    def load(self) -> dict[str, Any]:
        for p in self.procs:
            p.start()
        facts, errors = None, []
        for _ in self.procs:
            message = self._get(time.monotonic() + 300)
            if message[0] == "failed":
                errors.append(message[2])
            else:
                facts = facts or message[2]
                self.lean = message[3] == "lean"
        if errors:
            raise BackendError(errors[0])
        return facts

    def path(self) -> str:
        return ("lean: bare HTTP client, lines parsed after the level" if self.lean else "backend stream")

    def run_level(self, requests, plan: LevelPlan, on_done=None) -> tuple[list[dict], dict[str, Any]]:
        if plan.slots:
            shares = split_slots(min(plan.slots, len(requests)), self.workers)
            messages = [(LevelPlan(slots=s), []) for s in shares]
        else:
            messages = [(plan, list(range(w, len(requests), self.workers))) for w in range(self.workers)]
        with self.counter.get_lock():
            self.counter.value = 0
        start_at = time.perf_counter() + START_MARGIN_S * max(1, len(requests) // 1000 + 1)
        for w, (share_plan, mine) in enumerate(messages):
            self.inboxes[w].put((requests, share_plan, start_at, mine))
        active = range(len(messages))
        deadline = time.monotonic() + self.timeout_s * (len(requests) + 1) + 600
        stats: dict[int, ShareStats] = {}
        while len(stats) < len(messages):
            message = self._get(deadline)
            if message[0] == "done" and on_done:
                on_done(message[2])
            elif message[0] == "shared":
                stats[message[1]] = message[2]
        for w in active:
            self.inboxes[w].put("parse")
        samples: list[dict] = []
        for _ in active:
            message = self._get(deadline)
            samples += message[2]
        samples.sort(key=lambda s: s["i"])
        return samples, client_figures([stats[w] for w in active], self.path())

    def close(self) -> None:
        for box in self.inboxes:
            box.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()


def make_client(spec_text: str, timeout_s: float, workers: int):
    return LocalClient(spec_text, timeout_s) if workers <= 1 else ProcessClient(spec_text, timeout_s, workers)
