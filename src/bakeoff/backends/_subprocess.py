"""Parent-side proxy for engines that run in a worker subprocess (see bakeoff.run.worker)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
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

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)  # end of stream: the worker exited

    def _send(self, msg: dict) -> None:
        try:
            self._proc.stdin.write(json.dumps(msg) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the death is reported by the read that follows

    def _read(self, deadline: float, what: str) -> dict:
        remaining = deadline - time.monotonic()
        try:
            line = self._lines.get(timeout=max(remaining, 0.001))
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

    def load(self) -> dict[str, Any]:
        self._start()
        self._send({"op": "load", "engine": self.engine, "model_path": self.model_file(),
                    "options": self.engine_options(), "tdp_watts": self.tdp_watts,
                    "tdp_source": self.tdp_source})
        msg = self._read(time.monotonic() + self.load_timeout_s, "loading the model")
        if msg["type"] == "error":
            self._kill()
            raise BackendError(f"could not load the model: {msg['message']}")
        self.facts = msg["facts"]
        self.load_info = {k: v for k, v in msg.items() if k not in ("type", "facts")}
        return self.facts

    def generate(self, request: GenerationRequest) -> Iterator[dict[str, Any]]:
        if self._proc is None:  # the last trial crashed or hung: start afresh
            self.load()
        self._send({"op": "generate", "request": request.to_dict()})
        deadline = time.monotonic() + self.trial_timeout_s
        while True:
            msg = self._read(deadline, "generating")
            kind = msg["type"]
            if kind == "done":
                return
            if kind == "error":
                raise BackendError(msg["message"])
            if kind == "batch":
                yield from msg["events"]
            else:
                yield msg

    def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Run an engine method in the worker (see ``rpc_methods``); returns its reply."""
        if self._proc is None:
            self.load()
        self._send({"op": "call", "method": method, "args": args})
        msg = self._read(time.monotonic() + self.trial_timeout_s, f"running {method}")
        if msg["type"] == "error":
            raise BackendError(msg["message"])
        return msg

    def close(self) -> None:
        if self._proc is None:
            return
        self._send({"op": "close"})
        try:
            self._read(time.monotonic() + 30, "unloading")
        except BackendError:
            pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
