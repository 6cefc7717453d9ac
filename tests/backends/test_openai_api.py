"""bakeoff.backends.openai_api called directly: the Chat Completions body it builds from a
GenerationRequest, as OpenAI's API reference documents it (sampling, strict
json_schema response_format without the string lengths it refuses, function tools), sent to the
stand-in OpenAI server (tests/standins/openai_api.py). Tokens, keys, retries and thinking are
tested through the CLI in test_openai_gemini.py and tests/test_thinking.py."""

from __future__ import annotations

import pytest

from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.openai_api import OpenAIBackend, OpenAIOptions
from server_calls import session
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app

KEY = "sk-proj-direct-0a1b2c3d4e5f67890"

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40, "minLength": 1}},
          "required": ["answer"], "additionalProperties": False}
TOOL = {"name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}



@pytest.fixture
def openai_server(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "cfg"))
    state = StandInState(expected_key=KEY)
    with StandInServer(make_app(state, ["gpt-4o-mini", "o4-mini"]), state) as server:
        yield server


def _sent(server, model: str, request: GenerationRequest, **options) -> dict:
    backend = OpenAIBackend(model, OpenAIOptions(base_url=f"{server.url}/v1", **options))
    _, log = session(backend, request)
    assert any(e["type"] == "finish" for e in log), log
    return server.posted("/chat/completions")[-1].body


def test_the_body_has_the_documented_shape(openai_server):
    request = GenerationRequest(messages=[{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "Weather in Paris?"}],
                                max_tokens=33, temperature=0.4, top_p=0.9, seed=7, json_schema=SCHEMA, tools=[TOOL])
    body = _sent(openai_server, "gpt-4o-mini", request)
    assert body["messages"] == request.messages  # the system message stays a message here
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.4, 0.9, 7)
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    # OpenAI's strict mode refuses string lengths: they are dropped, the rest of the schema kept.
    assert fmt["json_schema"]["schema"]["properties"]["answer"] == {"type": "string"}
    assert fmt["json_schema"]["schema"]["required"] == ["answer"]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "parameters": TOOL["parameters"]}}]
