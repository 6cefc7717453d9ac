"""Tool calls and an agent loop with a real packaged model in-process (Qwen2.5-Coder-0.5B through
its own chat template, which has tool syntax), stored and reported as ``tools`` figures."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import bakeoff, report_json

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
      - valid_tool_calls: true
      - tool_call: {name: get_weather, arguments_subset: {city: Paris}}
  - id: find
    prompt: Use the tools to find which file defines the function parse_config. Answer with its path.
    max_tokens: 64
    agent: {repo: repo, max_steps: 2}
    checks:
      - contains: config.py
"""


@pytest.mark.slow
def test_qwen_calls_tools_in_process_and_every_step_is_stored(tmp_path, qwen05):
    (tmp_path / "repo" / "app").mkdir(parents=True)
    (tmp_path / "repo" / "app" / "config.py").write_text("def parse_config(path):\n    return {}\n")
    (tmp_path / "suite.yaml").write_text(SUITE)
    db = tmp_path / "t.db"
    bakeoff("run", tmp_path / "suite.yaml", "-c", "llamacpp:qwen2.5-coder-0.5b?ctx=2048", "--db", db,
            cwd=tmp_path, check=True)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    trials = {r["case_id"]: r for r in conn.execute("SELECT * FROM trials")}
    facts = json.loads(conn.execute("SELECT facts FROM contenders").fetchone()[0])
    assert facts["tool_format"].startswith("the GGUF's chat template")
    # The template put the tool into the prompt, in the Chat Completions shape.
    assert '"name": "get_weather"' in trials["weather"]["prompt"] and "<tools>" in trials["weather"]["prompt"]
    calls = json.loads(trials["weather"]["tool_calls"])
    assert calls and calls[0]["name"] == "get_weather", trials["weather"]["output"]
    assert calls[0]["arguments"] == {"city": "Paris"}
    assert trials["weather"]["passed"] == 1
    assert json.loads(trials["weather"]["request"])["tools"][0]["name"] == "get_weather"

    loop = trials["find"]
    summary = json.loads(loop["tool_summary"])
    steps = list(conn.execute("SELECT * FROM tool_steps WHERE trial_id = ? ORDER BY step", (loop["id"],)))
    assert summary["mode"] == "agent" and summary["steps"] == len(steps) >= 1
    assert all(s["output_tokens"] and s["e2e_ms"] > 0 and s["prompt_tokens"] for s in steps)
    if summary["calls"]:  # each call of a step carries its arguments, result size and time
        first = json.loads(steps[0]["calls"])[0]
        assert {"name", "arguments_raw", "result_bytes", "tool_ms", "tool_error"} <= set(first)
    figures = report_json(db)["contenders"][0]["tools"]
    assert figures["single_cases"] == 1 and figures["agent_loops"] == 1
    assert figures["correct_call_rate"] == 1.0 and figures["valid_call_rate"] is not None


def test_a_template_without_tool_syntax_gets_the_documented_hermes_format(tmp_path, smollm2):
    """SmolLM2's ChatML template knows no tools: bakeoff describes them in the system turn in the
    Hermes format, says so in the facts and the run's notes, and still reads what comes back."""
    (tmp_path / "s.yaml").write_text(SUITE.split("  - id: find")[0])
    db = tmp_path / "t.db"
    proc = bakeoff("run", tmp_path / "s.yaml", "-c", "llamacpp:smollm2-135m", "--db", db, check=True)
    conn = sqlite3.connect(db)
    facts, notes = conn.execute("SELECT facts, notes FROM contenders").fetchone()
    assert "Hermes <tool_call> JSON format (fallback" in json.loads(facts)["tool_format"]
    assert any("tool calls use Hermes" in n for n in json.loads(notes)) and "tool calls use Hermes" in proc.stderr
    prompt, calls = conn.execute("SELECT prompt, tool_calls FROM trials").fetchone()
    assert prompt.startswith("<|im_start|>system\n") and "<tools>" in prompt and '"name": "get_weather"' in prompt
    assert isinstance(json.loads(calls), list)  # whatever the tiny model wrote, it was read, not raised
