"""bakeoff.backends._subprocess: the parent's side of the worker. With a test engine
(tests/echo_engine.py): an engine error is a BackendError and the worker serves on; a worker
that dies is a BackendError with how it ended and its stderr's tail, and the next request
starts a new one; a hung one is killed at the trial timeout. On smollm2: a real worker loads
the model, answers a remote call, and one killed by a signal is named so, then replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from backend_calls import close, events, load
from bakeoff.backends import make_backend
from bakeoff.backends._subprocess import SubprocessBackend
from bakeoff.backends.base import BackendError, BackendOptions, GenerationRequest
from bakeoff.spec import parse_spec

TESTS = Path(__file__).resolve().parents[1]


class EchoBackend(SubprocessBackend):
    name = "echo"
    engine = "echo_engine:EchoEngine"

    def model_file(self):
        return "echo.gguf"


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    backend = EchoBackend("echo", BackendOptions(), trial_timeout_s=2)
    yield backend
    close(backend)


def _say(text: str) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": text}])


def _answer(log: list[dict]) -> str:
    return "".join(e["text"] for e in log if e["type"] == "content")


def test_events_arrive_unbatched_and_an_engine_error_keeps_the_worker(echo):
    facts = load(echo)
    assert (facts["engine"], facts["model_path"]) == ("echo", "echo.gguf") and facts["energy_meter"]
    pid = echo.pid
    log = events(echo, _say("hello there"))
    assert _answer(log) == "hello there " and log[-1]["type"] == "memory"
    with pytest.raises(BackendError, match="^ValueError: bad request$"):
        events(echo, _say("raise"))
    assert _answer(events(echo, _say("still here"))) == "still here " and echo.pid == pid


def test_a_worker_that_dies_names_its_exit_and_stderr_and_is_replaced(echo):
    load(echo)
    first = echo.pid
    with pytest.raises(BackendError) as died:
        events(echo, _say("die"))
    message = str(died.value)
    assert message.startswith("worker exited with code 3 while generating; last stderr:")
    assert "ggml: fatal error in the native code" in message
    assert echo.pid is None
    assert _answer(events(echo, _say("back again"))) == "back again " and echo.pid not in (None, first)


def test_a_hung_worker_is_killed_at_the_trial_timeout(echo):
    load(echo)
    hung = psutil.Process(echo.pid)
    with pytest.raises(BackendError, match=r"worker hung: no reply within 2 s while generating; worker killed"):
        events(echo, _say("hang"))
    assert not hung.is_running() or hung.status() == psutil.STATUS_ZOMBIE


def test_a_real_worker_on_smollm2_killed_by_a_signal(smollm2):
    backend = make_backend(parse_spec("llamacpp:smollm2-135m?threads=1&ctx=256"), 60)
    try:
        facts = load(backend)
        assert facts["architecture"] == "llama" and backend.load_info["loaded_rss_mb"] > 0
        reply = asyncio.run(backend.call("speed", kind="tg", n=2, depth=0, reps=1))
        assert len(reply["value"]["samples_ns"]) == 1
        os.kill(backend.pid, signal.SIGKILL)
        with pytest.raises(BackendError, match="worker killed by SIGKILL while generating"):
            events(backend, GenerationRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=2))
        log = events(backend, GenerationRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=2))
        assert any(e["type"] == "finish" for e in log)  # a new worker loaded the model again
    finally:
        close(backend)
    assert backend.pid is None
