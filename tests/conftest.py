"""Shared fixtures. Tests use the real packaged models (installed by `make test`) and run the
real CLI in subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from bakeoff.models import PACKAGED
from bakeoff.models.packaged import resolve_model

ROOT = Path(__file__).resolve().parent.parent


def _model(alias: str) -> Path:
    if PACKAGED[alias].part_paths() is None:
        pytest.fail(f"packaged model {alias} is not installed; run `make test` (installs bakeoff[models])")
    return resolve_model(alias)


@pytest.fixture(scope="session")
def smollm2() -> Path:
    return _model("smollm2-135m")


@pytest.fixture(scope="session")
def qwen05() -> Path:
    return _model("qwen2.5-coder-0.5b")


@pytest.fixture(scope="session")
def gemma3() -> Path:
    return _model("gemma3-270m")


def bakeoff(*args: str, timeout: float = 600, check: bool = False, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI as a user would (env: variables added to this process's environment)."""
    proc = subprocess.run([sys.executable, "-m", "bakeoff", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **env} if env else None)
    if check and proc.returncode != 0:
        raise AssertionError(f"bakeoff {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def report_json(db: Path) -> dict:
    return json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)


def trial_rows(db: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM trials"))
    finally:
        conn.close()


def finished_trials(db: Path) -> int:
    """Trials stored so far; 0 while the run has not yet created the database or its tables
    (a poll can land between the file's creation and the migrations)."""
    try:
        return len(trial_rows(db)) if db.exists() else 0
    except sqlite3.OperationalError:
        return 0


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def worker_processes(parent_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in children:
        try:
            if "bakeoff.run.worker" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(model: Path, *extra: str, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with one thread, once it answers
    /models. Its output goes to ``log`` when given. Note: unless ``extra`` has
    ``--interrupt_requests False``, that server cuts a stream short when another request arrives."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--model_alias", "smollm2", *extra]
    if log:
        with open(log, "w") as out:  # the server keeps its own copy of the descriptor
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    else:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start")
        time.sleep(0.5)


def start_server(model: Path, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's server for streaming tests: --interrupt_requests False, because by default
    that server ends the streaming request whenever another one arrives, which a load test must not."""
    return start_llama_server(model, "--interrupt_requests", "False", log=log)


def served(model: Path):
    """A fixture body: a streaming server for ``model``, stopped after the fixture's scope."""
    proc, url = start_server(model)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(smollm2):
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M on 127.0.0.1, one per test module."""
    yield from served(smollm2)


def turn_rows(db) -> list[sqlite3.Row]:
    """Every stored turn of every conversation, with its trial's spec and case."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT t.spec, t.case_id, u.* FROM turns u JOIN trials t ON t.id = u.trial_id"
                                 " ORDER BY t.spec, t.case_id, u.turn"))
    finally:
        conn.close()


def said(proc) -> str:
    """What the CLI printed, its line wrapping undone."""
    return " ".join((proc.stdout + proc.stderr).split())


def write_suite(path: Path, cases: int, contenders: list[str] | None = None, max_tokens: int = 24) -> Path:
    lines = []
    if contenders:
        lines.append("contenders:")
        lines += [f"  - {c!r}" for c in contenders]
    lines += ["defaults:", f"  max_tokens: {max_tokens}", "  temperature: 0", "cases:"]
    for i in range(cases):
        lines += [f"  - id: add-{i}", f"    prompt: 'What is {i} + {i}? Answer in one short sentence.'",
                  "    checks:", f"      - regex: '\\b{2 * i}\\b'"]
    path.write_text("\n".join(lines) + "\n")
    return path


os.environ.setdefault("PYTHONUNBUFFERED", "1")
