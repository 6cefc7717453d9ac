"""Parent-side proxy for engines that run in a worker subprocess (see bakeoff.run.worker).

The proxy speaks the async Backend contract. A reader thread takes the worker's reply lines off
its pipe as they come; a coroutine waiting for one is woken through its own event loop, so no
loop thread ever blocks on the pipe. Timings come from the events' own ``t`` (taken in the
worker where each token appeared), never from when the loop saw them.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from bakeoff.backends.base import Backend, BackendError, GenerationRequest


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the parent dies (even by SIGKILL), so no orphan
    keeps a model in memory. Elsewhere it exits when its stdin closes."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class SubprocessBackend(Backend):
    """Runs ``engine`` ("module:Class") in a worker; restarts it after a crash or a hang."""

    engine: ClassVar[str]
    load_timeout_s: ClassVar[float] = 600.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._waiting: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None  # a reader asleep
        self._wake_lock = threading.Lock()
        self._stderr = None
        self.facts: dict[str, Any] = {}

    def engine_options(self) -> dict[str, Any]:
        return self.options.model_dump()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bakeoff.run.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, bufsize=1, env=env, preexec_fn=_die_with_parent,
        )
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc, self._lines), daemon=True).start()

    def _pump(self, proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            self._deliver(lines, line)
        self._deliver(lines, None)  # end of stream: the worker exited

    def _deliver(self, lines: queue.Queue, line: str | None) -> None:
        """(reader thread) Queue a line and wake the coroutine waiting for one, on its own loop."""
        with self._wake_lock:
            lines.put(line)
            waiting, self._waiting = self._waiting, None
        if waiting is not None:
            loop, future = waiting
            try:
                loop.call_soon_threadsafe(_set_done, future)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _send(self, msg: dict) -> None:
        try:
            self._proc.stdin.write(json.dumps(msg) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the death is reported by the read that follows

    async def _next_line(self, deadline: float) -> str | None:
        """The worker's next reply line; raises queue.Empty at the deadline."""
        lines = self._lines
        while True:
            with self._wake_lock:
                try:
                    return lines.get_nowait()
                except queue.Empty:
                    future = asyncio.get_running_loop().create_future()
                    self._waiting = (asyncio.get_running_loop(), future)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                await asyncio.wait_for(future, remaining)
            except asyncio.TimeoutError:
                with self._wake_lock:
                    self._waiting = None
                    try:
                        return lines.get_nowait()
                    except queue.Empty:
                        raise queue.Empty from None
            finally:
                with self._wake_lock:
                    if self._waiting is not None and self._waiting[1] is future:
                        self._waiting = None

    async def _read(self, deadline: float, what: str) -> dict:
        try:
            line = await self._next_line(deadline)
        except queue.Empty:
            self._kill()
            raise BackendError(f"worker hung: no reply within {self._timeout_for(what):.0f} s while {what}; "
                               f"worker killed") from None
        if line is None:
            raise BackendError(self._death_message(what))
        return json.loads(line)

    def _timeout_for(self, what: str) -> float:
        return self.load_timeout_s if what == "loading the model" else self.trial_timeout_s

    def _death_message(self, what: str) -> str:
        code = self._proc.wait()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            cause = f"killed by {name}"
        else:
            cause = f"exited with code {code}"
        self._proc = None
        return f"worker {cause} while {what}{self._stderr_tail()}"

    def _stderr_tail(self, limit: int = 600) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        tail = "\n".join(lines[-6:])[-limit:]
        return f"; last stderr: {tail}" if tail else ""

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    async def aload(self) -> dict[str, Any]:
        self._start()
        self._send({"op": "load", "engine": self.engine, "model_path": self.model_file(),
                    "options": self.engine_options(), "tdp_watts": self.tdp_watts,
                    "tdp_source": self.tdp_source})
        msg = await self._read(time.monotonic() + self.load_timeout_s, "loading the model")
        if msg["type"] == "error":
            self._kill()
            raise BackendError(f"could not load the model: {msg['message']}")
        self.facts = msg["facts"]
        self.load_info = {k: v for k, v in msg.items() if k not in ("type", "facts")}
        return self.facts

    async def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        if self._proc is None:  # the last trial crashed or hung: start afresh
            await self.aload()
        self._send({"op": "generate", "request": request.to_dict()})
        deadline = time.monotonic() + self.trial_timeout_s
        while True:
            msg = await self._read(deadline, "generating")
            kind = msg["type"]
            if kind == "done":
                return
            if kind == "error":
                raise BackendError(msg["message"])
            if kind == "batch":
                for event in msg["events"]:
                    yield event
            else:
                yield msg

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Run an engine method in the worker (see ``rpc_methods``); returns its reply."""
        if self._proc is None:
            await self.aload()
        self._send({"op": "call", "method": method, "args": args})
        msg = await self._read(time.monotonic() + self.trial_timeout_s, f"running {method}")
        if msg["type"] == "error":
            raise BackendError(msg["message"])
        return msg

    async def aclose(self) -> None:
        if self._proc is None:
            return
        self._send({"op": "close"})
        try:
            await self._read(time.monotonic() + 30, "unloading")
        except BackendError:
            pass
        if self._proc is not None:
            try:
                await asyncio.to_thread(self._proc.wait, 30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def _set_done(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
