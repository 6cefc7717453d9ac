"""Tool calls through a real OpenAI-compatible server: llama-cpp-python's own server on
127.0.0.1 serving Qwen2.5-Coder-0.5B. That server hands ``tools`` to the GGUF's chat template and
returns the model's text (no ``tool_calls``), so the openai-compat backend reads the calls from
the content, and says so on each call."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import bakeoff, start_llama_server

SUITE = """
cases:
  - id: weather
    prompt: What is the weather in Paris right now?
    max_tokens: 40
    tools:
      - name: get_weather
        description: Current weather for a city
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    checks:
      - tool_call: {name: get_weather, arguments_subset: {city: Paris}}
"""


@pytest.mark.slow
def test_openai_compat_tools_against_llama_cpp_python_server(tmp_path, qwen05):
    proc, url = start_llama_server(qwen05, "--interrupt_requests", "False")
    try:
        (tmp_path / "s.yaml").write_text(SUITE)
        db = tmp_path / "t.db"
        bakeoff("run", tmp_path / "s.yaml", "-c", f"openai-compat:{url}#smollm2", "--db", db, check=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    row = sqlite3.connect(db).execute("SELECT status, prompt, output, tool_calls, passed FROM trials").fetchone()
    status, _, output, calls, passed = row
    assert status == "ok"
    calls = json.loads(calls)
    assert calls, f"no call read from {output!r}"
    assert calls[0]["name"] == "get_weather" and calls[0]["arguments"] == {"city": "Paris"}
    assert calls[0]["note"].startswith("read from the content")
    assert passed == 1
