"""Tool-call cases: parsing what a model wrote into calls (malformed ones kept with their raw
text), the tool-call checks, and suite errors for tools (file:line, exit 2, no traceback)."""

from __future__ import annotations

import json

import pytest

from bakeoff.checks import evaluate
from bakeoff.errors import InputError
from bakeoff.suite.loader import parse_suite
from bakeoff.tools.calls import make_call, parse_calls, parse_gemma4, parse_hermes, problem, strip_call_markup
from conftest import bakeoff

SUITE = """
cases:
  - id: weather
    prompt: Weather in Paris and Tokyo?
    tools:
      - name: get_weather
        description: Current weather
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
      - name: set_timer
        parameters: {type: object, properties: {seconds: {type: integer}}, required: [seconds]}
    checks:
      - valid_tool_calls: true
      - tool_call: {name: get_weather, arguments_subset: {city: Paris}}
      - tool_call: {name: set_timer, predicate: 'preds:five_minutes'}
      - tool_calls: {names: [get_weather, get_weather]}
      - not: {no_tool_call: true}
"""


@pytest.fixture()
def case(tmp_path):
    (tmp_path / "preds.py").write_text("def five_minutes(args):\n    return args['seconds'] == 300\n")
    return parse_suite(SUITE, "suite.yaml", base_dir=tmp_path).cases[0]


def call(name, args):
    return make_call("c", name, args if isinstance(args, str) else json.dumps(args))


def results(case, calls):
    verdict = evaluate(case.checks, "", case, calls=calls)
    return {r.kind + (f"#{i}" if r.kind == "tool_call" else ""): r for i, r in enumerate(verdict.results)}, verdict


def test_hermes_blocks_and_malformed_calls_are_kept_with_raw_text():
    prose, calls = parse_hermes('Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
                                '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par')
    assert prose == "Let me check."
    assert calls[0]["arguments"] == {"city": "Paris"} and calls[0]["error"] is None
    assert calls[1]["name"] == "get_weather" and calls[1]["arguments"] is None
    assert "not JSON" in calls[1]["error"] and calls[1]["arguments_raw"].endswith('"Par')


def test_untagged_json_reply_counts_as_a_call_with_a_note_but_prose_does_not():
    _, calls = parse_hermes('{"name": "add", "arguments": {"a": 1, "b": 2}}')
    assert calls[0]["arguments"] == {"a": 1, "b": 2} and "untagged" in calls[0]["note"]
    assert parse_hermes('The result is {"name": "x"} maybe')[1] == []
    assert parse_hermes("Paris is sunny.")[1] == []


def test_problem_names_undeclared_tools_and_schema_violations(case):
    assert problem(call("get_weather", {"city": "Paris"}), case.tools) is None
    assert "not a declared tool" in problem(call("delete_everything", {}), case.tools)
    assert "'city' is a required property" in problem(call("get_weather", {"town": "Paris"}), case.tools)
    assert "is not of type 'integer'" in problem(call("set_timer", {"seconds": "300"}), case.tools)
    assert "not JSON" in problem(call("get_weather", "{city: Paris}"), case.tools)
    assert "not an object" in problem(call("get_weather", "[1]"), case.tools)


def test_all_checks_pass_on_the_right_calls(case):
    by_kind, verdict = results(case, [call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Tokyo"}),
                                      call("set_timer", {"seconds": 300})])
    assert verdict.passed, [r.detail for r in verdict.results]


def test_wrong_arguments_undeclared_tool_and_no_call_fail_with_reasons(case):
    by_kind, verdict = results(case, [call("get_weather", {"city": "Lyon"}), call("get_weather", "{not json"),
                                      call("rm_rf", {}), call("set_timer", {"seconds": 60})])
    assert not verdict.passed
    assert not by_kind["valid_tool_calls"].passed and "2 of 4 calls malformed" in by_kind["valid_tool_calls"].detail
    assert "other arguments" in by_kind["tool_call#1"].detail
    assert not by_kind["tool_call#2"].passed  # the predicate says 60 s is not five minutes
    assert "missing well-formed calls of get_weather" in by_kind["tool_calls"].detail
    none, verdict = results(case, [])
    assert not verdict.passed and "no tool call" in none["valid_tool_calls"].detail
    assert not none["not no_tool_call"].passed


def test_no_tool_call_and_count():
    suite = parse_suite("""
cases:
  - prompt: hi
    tools: [{name: t}]
    checks: [{no_tool_call: true}]
  - id: two
    prompt: hi
    tools: [{name: t}]
    checks: [{tool_calls: {count: 2}}]
""")
    quiet, two = suite.cases
    assert evaluate(quiet.checks, "Hello!", quiet, calls=[]).passed
    assert not evaluate(quiet.checks, "", quiet, calls=[call("t", {})]).passed
    assert evaluate(two.checks, "", two, calls=[call("t", {}), call("t", {"x": 1})]).passed
    assert not evaluate(two.checks, "", two, calls=[call("t", {})]).passed


def test_tools_change_the_case_identity():
    a = parse_suite("cases:\n  - prompt: hi\n    tools: [{name: t}]\n").cases[0]
    b = parse_suite("cases:\n  - prompt: hi\n    tools: [{name: u}]\n").cases[0]
    plain = parse_suite("cases:\n  - prompt: hi\n").cases[0]
    assert a.identity() != b.identity() and "tools" not in plain.identity()


BAD = [
    ("undeclared-tool-in-check", "cases:\n  - prompt: x\n    tools: [{name: a}]\n    checks:\n      - tool_call: {name: b}\n",
     5, "tool_call check names 'b', which the case does not declare (tools: a)"),
    ("tool-check-without-tools", "cases:\n  - prompt: x\n    checks:\n      - valid_tool_calls: true\n", 4,
     "a valid_tool_calls check needs the case to declare 'tools'"),
    ("bad-schema", "cases:\n  - prompt: x\n    tools:\n      - name: a\n        parameters: {type: objekt}\n", 5,
     "parameters is not a valid JSON Schema"),
    ("duplicate-tool", "cases:\n  - prompt: x\n    tools:\n      - name: a\n      - name: a\n", 5, "duplicate tool name 'a'"),
    ("bad-tool-name", "cases:\n  - prompt: x\n    tools:\n      - name: 'a b'\n", 4, "name: String should match pattern"),
    ("missing-function", "cases:\n  - prompt: x\n    tools:\n      - name: a\n        python: nowhere_mod:fn\n", 5,
     "cannot import module 'nowhere_mod'"),
    ("agent-without-tools", "cases:\n  - prompt: x\n    agent: {max_steps: 3}\n", 3, "an agent loop needs tools"),
    ("agent-tool-without-function", "cases:\n  - prompt: x\n    tools: [{name: a}]\n    agent: {max_steps: 3}\n", 3,
     "tool 'a' has no 'python: module:function'"),
    ("agent-repo-missing", "cases:\n  - prompt: x\n    agent:\n      repo: no/such/dir\n", 4, "agent repo 'no/such/dir' is not a directory"),
    ("agent-budget-zero", "cases:\n  - prompt: x\n    agent: {repo: ., max_steps: 0}\n", 3, "max_steps: Input should be greater than or equal to 1"),
    ("agent-timeout-zero", "cases:\n  - prompt: x\n    agent: {repo: ., tool_timeout_s: 0}\n", 3,
     "tool_timeout_s: Input should be greater than 0"),
    ("tools-in-conversation", "cases:\n  - turns: [hi]\n    tools: [{name: a}]\n", 3, "not available in conversation cases"),
    ("both-argument-forms", "cases:\n  - prompt: x\n    tools: [{name: a}]\n    checks:\n      - tool_call: {name: a, arguments: {}, predicate: 'm:f'}\n",
     5, "give one of arguments, arguments_subset, predicate"),
]


@pytest.mark.parametrize("name,text,line,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_tool_suites_name_the_line(tmp_path, name, text, line, phrase):
    with pytest.raises(InputError) as info:
        parse_suite(text, "suite.yaml", base_dir=tmp_path)
    assert info.value.line == line, str(info.value)
    assert phrase in info.value.message


def test_cli_reports_a_bad_tool_suite_with_exit_2_and_no_traceback(tmp_path):
    suite = tmp_path / "bakeoff.yaml"
    suite.write_text(BAD[0][1])
    proc = bakeoff("run", suite, "-c", "llamacpp:qwen2.5-coder-0.5b", "--db", tmp_path / "x.db", cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{suite}:5: tool_call check names 'b'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


Q = '<|"|>'


def test_gemma4_calls_are_read_with_nested_values_and_kept_as_written():
    raw = "{city:" + Q + 'Paris, "FR" {x}' + Q + ",days:3,opts:{units:" + Q + "c" + Q + ",hourly:false},tags:[1,2.5,null]}"
    prose, calls = parse_gemma4("Let me look.<|tool_call>call:get_weather" + raw + "<tool_call|>")
    assert prose == "Let me look." and len(calls) == 1
    assert calls[0]["name"] == "get_weather" and calls[0]["error"] is None and calls[0]["arguments_raw"] == raw
    assert calls[0]["arguments"] == {"city": 'Paris, "FR" {x}', "days": 3, "opts": {"units": "c", "hourly": False},
                                     "tags": [1, 2.5, None]}
    two = parse_calls("<|tool_call>call:a{}<tool_call|><|tool_call>call:b{n:-1e3}<tool_call|>")[1]
    assert [(c["name"], c["arguments"]) for c in two] == [("a", {}), ("b", {"n": -1000.0})]


@pytest.mark.parametrize("text, error", [
    ("<|tool_call>call:a{x:}<tool_call|>", "not in Gemma 4's call syntax: expected a value at character 3"),
    ("<|tool_call>call:a{x:" + Q + "open}<tool_call|>", "expected a closing"),
    ("<|tool_call>call:a{x:1} trailing<tool_call|>", "unexpected text after the arguments"),
    ("<|tool_call>get_weather{}<tool_call|>", "does not start with call:NAME{"),
    ("<|tool_call>call:a{x:1}", "not closed (cut off?)"),
])
def test_malformed_gemma4_calls_are_recorded_with_their_text(text, error):
    calls = parse_gemma4(text)[1]
    assert len(calls) == 1 and error in calls[0]["error"] and calls[0]["arguments"] is None
    assert calls[0]["arguments_raw"] and problem(calls[0], [{"name": "a"}]) == calls[0]["error"]


def test_call_markup_of_either_syntax_is_stripped_from_the_prose():
    assert strip_call_markup("Checking.<|tool_call>call:a{}<tool_call|>") == "Checking."
    assert strip_call_markup('Checking.\n<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>') == "Checking."
    assert parse_calls("Paris is sunny.") == ("Paris is sunny.", [])
