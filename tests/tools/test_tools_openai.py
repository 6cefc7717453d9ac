"""Tool calls over OpenAI's Chat Completions protocol (the openai: backend; openai-compat shares
the code) and agent loops that go wrong: a tool that raises, one that returns 1 MB, a model that
calls tools forever. Each is recorded and the run goes on.

OpenAI cannot be reached from here: the model's side is a local stand-in
(tests/standins/openai_api.py) that streams tool calls as OpenAI's API reference documents them
(``delta.tool_calls`` pieces by index, ``finish_reason: "tool_calls"``), scripted per request.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from conftest import bakeoff, report_json
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app

KEY = "sk-proj-standin-tools-1234567890"
WEATHER = """
      - name: get_weather
        description: Current weather
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}"""

SINGLE = f"""
cases:
  - id: good
    prompt: Weather in Paris?
    tools:{WEATHER}
    checks: [{{valid_tool_calls: true}}, {{tool_call: {{name: get_weather, arguments: {{city: Paris}}}}}}]
  - id: malformed-arguments
    prompt: Weather in Paris?
    tools:{WEATHER}
    checks: [{{valid_tool_calls: true}}]
  - id: undeclared-tool
    prompt: Weather in Paris?
    tools:{WEATHER}
    checks: [{{valid_tool_calls: true}}]
  - id: answer-only
    prompt: Say hi
    tools:{WEATHER}
    checks: [{{no_tool_call: true}}]
  - id: untagged-in-content
    prompt: Weather in Paris?
    tools:{WEATHER}
    checks: [{{tool_call: {{name: get_weather, arguments: {{city: Paris}}}}}}]
"""

TOOLS_PY = '''
def explode(**kwargs):
    raise RuntimeError("disk on fire")


def huge(**kwargs):
    return "x" * 1_000_000


def hang(**kwargs):
    import time
    time.sleep(3600)


def get_weather(city):
    return {"city": city, "sky": "clear", "celsius": 21}
'''

LOOPS = """
cases:
  - id: raises
    prompt: Use the tool.
    max_tokens: 50
    tools: [{name: explode, python: 'loop_tools:explode'}]
    agent: {max_steps: 4}
    checks: [{contains: fire}]
  - id: one-megabyte
    prompt: Use the tool.
    max_tokens: 50
    tools: [{name: huge, python: 'loop_tools:huge'}]
    agent: {max_steps: 4}
    checks: [{contains: big}]
  - id: hangs
    prompt: Use the tool.
    max_tokens: 50
    tools: [{name: hang, python: 'loop_tools:hang'}]
    agent: {max_steps: 4, tool_timeout_s: 1}
    checks: [{contains: timed out}]
  - id: forever
    prompt: Weather in Paris?
    max_tokens: 50
    tools:
      - name: get_weather
        python: 'loop_tools:get_weather'
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    agent: {max_steps: 3}
    checks: [{contains: clear}]
"""


@pytest.fixture
def server():
    state = StandInState(expected_key=KEY)
    with StandInServer(make_app(state, ["gpt-4o-mini"]), state) as srv:
        yield srv


def run(tmp_path, server, text, name):
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(text)
    db = tmp_path / f"{name}.db"
    proc = bakeoff("run", suite, "-c", f"openai:gpt-4o-mini?base_url={server.url}/v1", "--db", db, cwd=tmp_path,
                   env={"OPENAI_API_KEY": KEY, "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
    assert proc.returncode == 0, proc.stderr
    assert "tool use" in proc.stdout and "correct calls" in proc.stdout  # the terminal report's table
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return db, conn, {r["case_id"]: r for r in conn.execute("SELECT * FROM trials")}


def test_calls_malformed_arguments_and_undeclared_names_are_recorded(tmp_path, server):
    server.state.scripted.extend([
        {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]},
        {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Par'}]},
        {"tool_calls": [{"name": "launch_rockets", "arguments": "{}"}]},
        {"content": "Hi there!"},
        {"content": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},  # a small model's habit
    ])
    db, conn, trials = run(tmp_path, server, SINGLE, "single")
    assert {r["status"] for r in trials.values()} == {"ok"}
    sent = server.posted("/chat/completions")[0].body
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    good = json.loads(trials["good"]["tool_calls"])
    assert good[0]["arguments"] == {"city": "Paris"} and trials["good"]["passed"] == 1
    bad = json.loads(trials["malformed-arguments"]["tool_calls"])[0]
    assert bad["arguments_raw"] == '{"city": "Par' and "not JSON" in bad["error"]
    assert trials["malformed-arguments"]["passed"] == 0
    detail = conn.execute("SELECT detail FROM check_results WHERE trial_id = ?",
                          (trials["undeclared-tool"]["id"],)).fetchone()[0]
    assert "'launch_rockets', which is not a declared tool" in detail
    assert trials["answer-only"]["passed"] == 1 and trials["answer-only"]["output"] == "Hi there!"
    figures = report_json(db)["contenders"][0]["tools"]
    untagged = json.loads(trials["untagged-in-content"]["tool_calls"])[0]
    assert untagged["arguments"] == {"city": "Paris"} and "untagged" in untagged["note"]
    assert "read from the content" in untagged["note"]
    assert (figures["calls"], figures["valid_calls"], figures["single_cases"], figures["correct_calls"],
            figures["untagged_calls"]) == (4, 2, 5, 3, 1)


def test_a_raising_tool_a_huge_result_and_endless_calls_are_recorded_and_the_run_goes_on(tmp_path, server):
    (tmp_path / "loop_tools.py").write_text(TOOLS_PY)
    server.state.scripted.extend([
        {"tool_calls": [{"name": "explode", "arguments": "{}"}]},
        {"content": "The tool failed: disk on fire."},
        {"tool_calls": [{"name": "huge", "arguments": "{}"}]},
        {"content": "That was big."},
        {"tool_calls": [{"name": "hang", "arguments": "{}"}]},
        {"content": "The tool timed out."},
    ])
    server.state.forever = {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]}
    db, conn, trials = run(tmp_path, server, LOOPS, "loops")
    assert {r["status"] for r in trials.values()} == {"ok"}

    def steps(case):
        return [dict(s, calls=json.loads(s["calls"])) for s in
                conn.execute("SELECT * FROM tool_steps WHERE trial_id = ? ORDER BY step", (trials[case]["id"],))]

    raised = steps("raises")
    assert len(raised) == 2 and raised[0]["calls"][0]["tool_error"] == "raised RuntimeError: disk on fire"
    assert trials["raises"]["passed"] == 1
    # The error went back to the model as the tool's result.
    requests = server.posted("/chat/completions")
    tool_msg = requests[1].body["messages"][-1]
    assert tool_msg["role"] == "tool" and "disk on fire" in tool_msg["content"]
    assert tool_msg["tool_call_id"] == requests[1].body["messages"][-2]["tool_calls"][0]["id"]

    big = steps("one-megabyte")[0]["calls"][0]
    assert big["result_bytes"] == 1_000_000 and big["result_cut"] is True
    fed_back = requests[3].body["messages"][-1]["content"]
    assert len(fed_back) < 10_000 and "1000000 bytes in all" in fed_back

    hung = steps("hangs")
    assert len(hung) == 2 and hung[0]["calls"][0]["tool_error"].startswith("timed out: the tool did not return within 1 s")
    assert 1000 <= hung[0]["calls"][0]["tool_ms"] < 5000 and trials["hangs"]["passed"] == 1
    assert "did not return within 1 s" in requests[5].body["messages"][-1]["content"]

    endless = json.loads(trials["forever"]["tool_summary"])
    assert endless["budget_exhausted"] and endless["steps"] == 3 and endless["repeated_calls"] == 2
    assert trials["forever"]["passed"] == 0
    assert any("step budget (3) ran out" in d for (d,) in conn.execute(
        "SELECT detail FROM check_results WHERE trial_id = ?", (trials["forever"]["id"],)))

    figures = report_json(db)["contenders"][0]["tools"]
    assert figures["agent_loops"] == 4 and figures["loops_passed"] == 3 and figures["task_success"] == pytest.approx(3 / 4)
    assert figures["budget_exhaustions"] == 1 and figures["repeat_loops"] == 1
    assert figures["steps_to_success"] == 2.0 and figures["tool_errors"] == 2
    # The HTML report has the same figures in its tool-use section.
    html = tmp_path / "report.html"
    assert bakeoff("report", "--db", db, "--html", html).returncode == 0
    section = html.read_text().split('<h2 id="tools">')[1].split("</table>")[0]
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", section, re.S)]
    assert cells[0].startswith("openai:gpt-4o-mini") and cells[1] == "100% of 6"  # explode, huge, hang, 3 × get_weather
    assert cells[2] == "0/0" and cells[4] == "3/4" and cells[6] == "2.0"
    assert cells[8:] == ["1", "1", "2"]  # repeat loops, budget ran out, tool errors
