"""bakeoff.run.contender: opening a contender keeps a load failure in ``error`` instead of
raising, hashes the model file it names, and closes the backend on the way out whatever
happened inside; SyncContender drives a real model (smollm2) from synchronous code."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from bakeoff.backends.base import Backend, BackendError, BackendOptions, GenerationRequest
from bakeoff.run.contender import SyncContender, open_contender
from bakeoff.spec import parse_spec

SPEC = parse_spec("llamacpp:smollm2-135m")


class Recorder(Backend):
    """A backend that records its calls; ``fail_load`` makes aload raise it."""

    name = "recorder"

    def __init__(self, model_path=None, fail_load: Exception | None = None):
        super().__init__("m", BackendOptions())
        self.path, self.fail_load, self.calls = model_path, fail_load, []

    def model_file(self):
        return self.path

    async def aload(self):
        self.calls.append("load")
        if self.fail_load:
            raise self.fail_load
        return {"engine": "recorder"}

    async def astream(self, request):
        yield {"type": "content", "text": "x"}

    async def aclose(self):
        self.calls.append("close")


def _open(backend, **kwargs):
    async def go():
        async with open_contender(SPEC, 30, backend=backend, **kwargs) as opened:
            return opened
    return asyncio.run(go())


@pytest.fixture(autouse=True)
def private_home(monkeypatch, tmp_path):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))  # the sha256 sidecars land here


def test_a_load_failure_is_kept_in_error_and_the_backend_still_closed():
    backend = Recorder(fail_load=BackendError("out of memory"))
    opened = _open(backend)
    assert isinstance(opened.error, BackendError) and str(opened.error) == "out of memory"
    assert opened.facts == {} and backend.calls == ["load", "close"]


def test_a_failure_not_listed_as_a_load_failure_propagates_after_closing():
    backend = Recorder(fail_load=RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        _open(backend)
    assert backend.calls == ["load", "close"]
    caught = Recorder(fail_load=RuntimeError("counted"))
    assert str(_open(caught, failures=(BackendError, RuntimeError)).error) == "counted"


def test_the_model_file_is_hashed_unless_the_caller_knows_the_hash(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    opened = _open(Recorder(str(model)), tdp_watts=35.0, tdp_source="cost config")
    assert opened.model_path == str(model) and opened.error is None
    assert opened.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert opened.facts == {"engine": "recorder"}
    assert (opened.backend.tdp_watts, opened.backend.tdp_source) == (35.0, "cost config")
    assert _open(Recorder(str(model)), sha256="given").sha256 == "given"
    assert _open(Recorder(None)).sha256 is None  # a server contender has no file


def test_a_body_that_raises_still_closes_the_backend():
    backend = Recorder()

    async def go():
        async with open_contender(SPEC, 30, backend=backend):
            raise KeyError("inside")

    with pytest.raises(KeyError):
        asyncio.run(go())
    assert backend.calls == ["load", "close"]


def test_sync_contender_loads_streams_and_closes_a_real_model(smollm2, monkeypatch):
    monkeypatch.delenv("BAKEOFF_HOME")
    contender = SyncContender(SPEC, 60)
    opened = contender.open()
    try:
        assert opened.error is None and opened.model_path
        assert len(opened.sha256) == 64
        got: list[dict] = []
        contender.stream(opened.backend, GenerationRequest(
            messages=[{"role": "user", "content": "Say hi."}], max_tokens=4), got.append)
    finally:
        contender.close()
    assert any(e["type"] == "content" and e["text"] for e in got)
    assert sum(e["type"] == "finish" for e in got) == 1
    contender.close()  # closing twice is harmless
