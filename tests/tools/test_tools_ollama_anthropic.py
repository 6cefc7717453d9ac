"""Tool calls and an agent loop over Ollama's /api/chat and Anthropic's Messages API.

Neither can be reached from here: the model's side is a local stand-in shaped as each vendor
documents it. Ollama (tests/standins/ollama_api.py): ``message.tool_calls`` with
``function.arguments`` as an object, in a streamed chunk before the ``done`` one; results go back
as ``role: tool`` with ``tool_name``. Anthropic (tests/standins/anthropic_api.py): a ``tool_use``
content block (id and name in ``content_block_start``, the input as ``input_json_delta``
pieces), ``stop_reason: tool_use``; results go back as ``tool_result`` blocks in a user turn.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import bakeoff, report_json
from standins import anthropic_api, ollama_api
from standins.base import StandInServer

ANTHROPIC_KEY = "sk-ant-api03-standin-tools-0a1b2c3d4e5f"

SUITE = """
cases:
  - id: good
    prompt: Weather in Paris?
    tools: &tools
      - name: get_weather
        description: Current weather
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    checks: [{tool_call: {name: get_weather, arguments: {city: Paris}}}]
  - id: schema-violation
    prompt: Weather in Paris?
    tools: *tools
    checks: [{valid_tool_calls: true}]
  - id: undeclared
    prompt: Weather in Paris?
    tools: *tools
    checks: [{valid_tool_calls: true}]
  - id: loop
    prompt: Weather in Paris? Use the tool.
    tools:
      - name: get_weather
        python: 'loop_tools:get_weather'
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    agent: {max_steps: 3}
    checks: [{contains: sunny}, {tool_call: {name: get_weather, arguments: {city: Paris}}}]
"""

SCRIPT = [
    {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]},
    {"tool_calls": [{"name": "get_weather", "arguments": '{"city": 75}'}]},
    {"tool_calls": [{"name": "open_pod_bay_doors", "arguments": "{}"}]},
    {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]},
    {"content": "It is sunny in Paris."},
]


def _ollama():
    state = ollama_api.StandInState()
    return StandInServer(ollama_api.make_app(state), state), lambda url: f"ollama:gemma4:e4b?base_url={url}", {}


def _anthropic():
    state = anthropic_api.AnthropicState(expected_key=ANTHROPIC_KEY)
    return (StandInServer(anthropic_api.make_app(state), state),
            lambda url: f"anthropic:claude-sonnet-4-5?base_url={url}",
            {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": ""})


@pytest.mark.parametrize("vendor", ["ollama", "anthropic"])
def test_tool_calls_and_a_loop_in_the_vendors_format(tmp_path, vendor):
    server, spec, env = {"ollama": _ollama, "anthropic": _anthropic}[vendor]()
    (tmp_path / "s.yaml").write_text(SUITE)
    (tmp_path / "loop_tools.py").write_text("def get_weather(city):\n    return f'{city}: sunny, 24 C'\n")
    db = tmp_path / "t.db"
    with server:
        server.state.scripted.extend(SCRIPT)
        proc = bakeoff("run", tmp_path / "s.yaml", "-c", spec(server.url), "--db", db, cwd=tmp_path,
                       env={"BAKEOFF_CONFIG": str(tmp_path / "cfg"), **env})
        assert proc.returncode == 0, proc.stderr
        path = "/api/chat" if vendor == "ollama" else "/v1/messages"
        sent = [r.body for r in server.posted(path) if r.body.get("messages")]
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    trials = {r["case_id"]: r for r in conn.execute("SELECT * FROM trials")}
    assert {r["status"] for r in trials.values()} == {"ok"}, [r["error"] for r in trials.values()]
    assert trials["good"]["passed"] == 1
    assert json.loads(trials["good"]["tool_calls"])[0]["arguments"] == {"city": "Paris"}

    def detail(case):
        return conn.execute("SELECT detail FROM check_results WHERE trial_id = ?", (trials[case]["id"],)).fetchone()[0]

    assert trials["schema-violation"]["passed"] == 0 and "75 is not of type 'string'" in detail("schema-violation")
    assert trials["undeclared"]["passed"] == 0 and "'open_pod_bay_doors', which is not a declared tool" in detail("undeclared")

    loop = trials["loop"]
    assert loop["passed"] == 1 and loop["output"] == "It is sunny in Paris."
    steps = list(conn.execute("SELECT * FROM tool_steps WHERE trial_id = ? ORDER BY step", (loop["id"],)))
    assert len(steps) == 2 and json.loads(steps[0]["calls"])[0]["result"] == "Paris: sunny, 24 C"
    # The second request carried the call and its result in the vendor's own shape.
    history = sent[-1]["messages"]
    if vendor == "ollama":
        assert sent[0]["tools"][0]["function"]["name"] == "get_weather"
        assert history[-2]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
        assert history[-1] == {"role": "tool", "content": "Paris: sunny, 24 C", "tool_name": "get_weather"}
    else:
        assert sent[0]["tools"][0]["input_schema"]["required"] == ["city"]
        use = history[-2]["content"][-1]
        assert use["type"] == "tool_use" and use["input"] == {"city": "Paris"}
        assert history[-1] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use["id"], "content": "Paris: sunny, 24 C"}]}
    figures = report_json(db)["contenders"][0]["tools"]
    assert (figures["calls"], figures["valid_calls"], figures["task_success"]) == (4, 2, 1.0)
