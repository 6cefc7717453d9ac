"""bakeoff.run.worker spoken to directly over its JSON-lines protocol, with a test engine
(tests/echo_engine.py): what a load reports, a request's events batched, then its energy,
memory and done, a remote call (and one the engine does not offer), a clean close, a failed
load ending the worker; what native code prints never reaches the protocol stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bakeoff.run.worker import BatchingEmitter

TESTS = Path(__file__).resolve().parents[1]
ENGINE = "echo_engine:EchoEngine"


def _talk(*messages: dict) -> tuple[list[dict], int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "bakeoff.run.worker"], input="".join(json.dumps(m) + "\n"
                          for m in messages), capture_output=True, text=True, env=env, timeout=60)
    replies = [json.loads(line) for line in proc.stdout.splitlines()]  # every line is protocol: no chatter
    assert "chatter" in proc.stderr
    return replies, proc.returncode


def test_load_generate_call_and_close():
    request = {"messages": [{"role": "user", "content": "one two three"}]}
    replies, code = _talk({"op": "load", "engine": ENGINE, "model_path": "/m.gguf", "options": {}, "tdp_watts": 15},
                          {"op": "generate", "request": request},
                          {"op": "call", "method": "add", "args": {"a": 2, "b": 3}},
                          {"op": "call", "method": "not_remote", "args": {}},
                          {"op": "close"})
    assert code == 0
    kinds = [r["type"] for r in replies]
    # The prompt goes at once; the tokens came within 0.1 s and wait for the finish that sends them.
    assert kinds == ["loaded", "batch", "batch", "energy", "memory", "done", "result", "error", "closed"]
    loaded = replies[0]
    assert loaded["facts"]["engine"] == "echo" and loaded["facts"]["model_path"] == "/m.gguf"
    assert loaded["facts"]["energy_meter"] and loaded["pid"] > 0 and loaded["load_ms"] >= 0
    assert [e["type"] for e in replies[1]["events"]] == ["prompt"]
    events = replies[2]["events"]
    assert [e["type"] for e in events] == ["content", "content", "content", "finish"]
    assert "".join(e["text"] for e in events if e["type"] == "content") == "one two three "
    assert all("t" in e for e in events)  # each token keeps the time it appeared
    assert replies[4]["peak_mb"] is not None and replies[4]["method"]
    assert replies[6]["value"] == 5 and "energy" in replies[6]
    assert replies[7]["message"] == "ValueError: the engine has no method 'not_remote'"


def test_an_engine_error_is_reported_and_the_worker_serves_on():
    replies, code = _talk({"op": "load", "engine": ENGINE, "model_path": "m", "options": {}},
                          {"op": "generate", "request": {"messages": [{"role": "user", "content": "raise"}]}},
                          {"op": "generate", "request": {"messages": [{"role": "user", "content": "fine"}]}},
                          {"op": "close"})
    assert code == 0
    error = next(r for r in replies if r["type"] == "error")
    assert error["message"] == "ValueError: bad request" and "Traceback" in error["traceback"]
    assert [r["type"] for r in replies].count("done") == 1 and replies[-1]["type"] == "closed"


def test_a_failed_load_ends_the_worker_with_code_1():
    replies, code = _talk({"op": "load", "engine": ENGINE, "model_path": "m", "options": {"fail_load": True}},
                          {"op": "generate", "request": {"messages": [{"role": "user", "content": "x"}]}})
    assert code == 1
    assert [r["type"] for r in replies] == ["error"] and replies[0]["message"] == "RuntimeError: no such weights"


def test_the_emitter_batches_tokens_and_sends_anything_else_at_once():
    sent: list[dict] = []
    emit = BatchingEmitter(sent.append, interval_s=60)
    emit({"type": "content", "text": "a"})
    emit({"type": "reasoning", "text": "b"})
    assert sent == []  # tokens wait for the interval
    emit({"type": "usage", "output_tokens": 2})
    assert sent == [{"type": "batch", "events": [{"type": "content", "text": "a"}, {"type": "reasoning", "text": "b"},
                                                  {"type": "usage", "output_tokens": 2}]}]
    emit.flush()
    assert len(sent) == 1  # nothing left: no empty batch
    every = BatchingEmitter(sent.append, interval_s=0)
    every({"type": "content", "text": "c"})
    assert sent[-1] == {"type": "batch", "events": [{"type": "content", "text": "c"}]}
