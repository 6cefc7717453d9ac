"""bakeoff.backends.gemini called directly against the stand-in of Google's OpenAI-compatible
endpoint: the key found under GOOGLE_API_KEY too, models listed as ``models/NAME`` (the contender
names them without the prefix), an unlisted model refused at load, a thinking budget sent as
Google's level, and the request's seed not sent (not among that endpoint's parameters)."""

from __future__ import annotations

import pytest

from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.backends.gemini import GeminiBackend, GeminiOptions
from server_calls import session
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app

KEY = "AIza-standin-direct-1234567890abcdef"



@pytest.fixture
def gemini_server(monkeypatch, tmp_path):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)  # Google's other name for the key
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "cfg"))
    state = StandInState(expected_key=KEY)
    app = make_app(state, ["models/gemini-2.5-flash"], google=True, prefix="/v1beta/openai")
    with StandInServer(app, state) as server:
        monkeypatch.setenv("GEMINI_BASE_URL", f"{server.url}/v1beta/openai")
        yield server


def test_a_listed_model_loads_and_the_body_has_no_seed(gemini_server):
    backend = GeminiBackend("gemini-2.5-flash", GeminiOptions(thinking=5000))
    facts, log = session(backend, GenerationRequest(messages=[{"role": "user", "content": "hi"}],
                                                   max_tokens=12, seed=42))
    assert facts["model_name"] == "gemini-2.5-flash" and facts["api_key"] == "env:GOOGLE_API_KEY"
    assert KEY not in str(facts)
    assert "".join(e.get("text", "") for e in log if e["type"] == "content") == gemini_server.state.reply
    body = gemini_server.posted("/chat/completions")[-1].body
    assert body["max_tokens"] == 12 and "max_completion_tokens" not in body and "seed" not in body
    assert body["reasoning_effort"] == "medium"  # a 5,000-token budget is Google's medium level


def test_a_model_the_endpoint_does_not_list_fails_at_load(gemini_server):
    backend = GeminiBackend("gemini-9-ultra", GeminiOptions())
    with pytest.raises(BackendError, match="gemini-9-ultra"):
        session(backend)
