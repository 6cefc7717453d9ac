"""bakeoff.backends.anthropic_api called directly: the Messages API request it builds from a
GenerationRequest (system prompts at the top level, stop_sequences, no sampling with thinking,
tools as input_schema, tool results grouped in one user turn) and how it reads the API's usage
and error bodies. The streaming itself is tested through the CLI in test_anthropic.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bakeoff.backends.anthropic_api import (
    AnthropicBackend, AnthropicOptions, _error_parts, _input_total, anthropic_messages,
)
from bakeoff.backends.base import GenerationRequest
from bakeoff.errors import InputError


@pytest.fixture(autouse=True)
def key(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-direct-test-000111222333")
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "cfg"))


def _args(request: GenerationRequest, **options) -> dict:
    return AnthropicBackend("claude-sonnet-4-5", AnthropicOptions(**options)).request_args(request)


def test_system_messages_go_to_the_top_level_and_stops_to_stop_sequences():
    request = GenerationRequest(messages=[{"role": "system", "content": "Be brief."},
                                          {"role": "system", "content": "Answer in French."},
                                          {"role": "user", "content": "Capital of Italy?"}],
                                max_tokens=50, temperature=0.3, stop=["\n\n"])
    args = _args(request)
    assert args["system"] == "Be brief.\n\nAnswer in French."
    assert args["messages"] == [{"role": "user", "content": "Capital of Italy?"}]
    assert args["stop_sequences"] == ["\n\n"] and args["max_tokens"] == 50 and args["stream"] is True
    # The default API version rejects sampling parameters: none is sent, not even as extra body.
    assert "temperature" not in args and "extra_body" not in args


def test_the_legacy_version_sends_sampling_as_extra_body():
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], temperature=0.3, top_k=40)
    args = _args(request, api_version="2023-06-01")
    assert args["extra_body"] == {"temperature": 0.3, "top_k": 40}  # top_p unset: not sent


def test_sampling_with_thinking_is_refused_before_the_run_even_on_the_legacy_version():
    with pytest.raises(InputError, match="extended thinking takes no top_k; drop them or drop thinking_budget"):
        AnthropicBackend.check_ready("claude-sonnet-4-5", AnthropicOptions(thinking="on", top_k=40,
                                                                          api_version="2023-06-01"))
    legacy = AnthropicBackend("claude-sonnet-4-5", AnthropicOptions(thinking_budget=2048, api_version="2023-06-01"))
    args = legacy.request_args(GenerationRequest(messages=[{"role": "user", "content": "hi"}], temperature=0.5))
    assert "extra_body" not in args  # thinking takes no sampling parameters, whatever the version


def test_tools_are_declared_with_input_schema():
    tools = [{"name": "now", "description": "the time"},
             {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}]
    args = _args(GenerationRequest(messages=[{"role": "user", "content": "hi"}], tools=tools))
    assert args["tools"] == [
        {"name": "now", "description": "the time", "input_schema": {"type": "object", "properties": {}}},
        {"name": "add", "description": "", "input_schema": tools[1]["parameters"]}]


def test_tool_history_becomes_tool_use_blocks_and_one_user_turn_of_results():
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "c1", "name": "weather", "arguments": {"city": "Paris"}},
            {"id": "c2", "name": "weather", "arguments": None}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
    ]
    out = anthropic_messages(messages)
    assert out[0] == {"role": "user", "content": "Weather in Paris and Rome?"}
    assert out[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "c1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "c2", "name": "weather", "input": {}}]}
    assert out[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "c2", "content": "rain"}]}
    assert len(out) == 3


def test_input_tokens_include_cache_creation_and_reads():
    usage = SimpleNamespace(input_tokens=10, cache_creation_input_tokens=200, cache_read_input_tokens=5)
    assert _input_total(usage, None) == 215
    assert _input_total(SimpleNamespace(input_tokens=7), None) == 7
    assert _input_total(SimpleNamespace(), 99) == 99  # a later event without usage keeps the earlier count


def test_error_bodies_read_as_type_and_message():
    overloaded = SimpleNamespace(body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert _error_parts(overloaded) == ("overloaded_error", "overloaded_error: Overloaded")
    assert _error_parts(SimpleNamespace(body="  upstream timeout  ")) == (None, "upstream timeout")
    assert _error_parts(ValueError("x")) == (None, "ValueError")
