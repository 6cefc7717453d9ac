"""bakeoff.checks.tool_calls used directly: each tool-call check scores the calls a model made
against the tools its case declares."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from bakeoff.checks.tool_calls import NoToolCall, ToolCall, ToolCalls, ValidToolCalls
from bakeoff.tools.calls import make_call

CASE = SimpleNamespace(tools=[
    {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                                          "unit": {"enum": ["C", "F"]}},
                                           "required": ["city"]}},
    {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}},
])


def check(cls, value, base_dir=None):
    return cls(cls.Params.model_validate(value), base_dir)


def test_valid_tool_calls_names_the_malformed_call():
    good = make_call("1", "get_weather", '{"city": "Paris", "unit": "C"}')
    bad_unit = make_call("2", "get_weather", '{"city": "Oslo", "unit": "K"}')
    valid = check(ValidToolCalls, True)
    assert valid.run_calls([good], "", CASE) == (True, "1 well-formed call(s)")
    ok, detail = valid.run_calls([good, bad_unit], "", CASE)
    assert not ok and detail.startswith("1 of 2 calls malformed: get_weather:")
    assert "'K' is not one of ['C', 'F']" in detail
    ok, detail = valid.run("I think it is sunny.", CASE)  # run() alone sees no calls
    assert not ok and "no tool call" in detail


def test_tool_call_exact_arguments_and_subset():
    call = make_call("1", "get_weather", {"city": "Paris", "unit": "C"})
    assert check(ToolCall, {"name": "get_weather", "arguments_subset": {"city": "Paris"}}).run_calls([call], "", CASE)[0]
    exact = check(ToolCall, {"name": "get_weather", "arguments": {"city": "Paris"}})
    ok, detail = exact.run_calls([call], "", CASE)
    assert not ok and detail.startswith("get_weather called with other arguments")
    other = check(ToolCall, "get_time").run_calls([call], "", CASE)
    assert other == (False, "no well-formed call of get_time (called get_weather)")


def test_tool_call_predicate_from_a_file_next_to_the_suite(tmp_path):
    (tmp_path / "tool_preds.py").write_text("def in_europe(args):\n    return args['city'] in {'Paris', 'Oslo'}\n")
    pred = check(ToolCall, {"name": "get_weather", "predicate": "tool_preds:in_europe"}, tmp_path)
    assert pred.run_calls([make_call("1", "get_weather", {"city": "Oslo"})], "", CASE)[0] is True
    assert pred.run_calls([make_call("1", "get_weather", {"city": "Lima"})], "", CASE)[0] is False
    assert "source_sha256" in pred.identity()


def test_tool_call_takes_one_way_of_matching_arguments():
    with pytest.raises(ValidationError, match="give one of arguments, arguments_subset, predicate"):
        ToolCall.Params.model_validate({"name": "x", "arguments": {}, "arguments_subset": {}})


def test_tool_calls_counts_every_call_and_needs_each_name():
    calls = [make_call("1", "get_weather", {"city": "Paris"}), make_call("2", "get_weather", {"city": "Rome"}),
             make_call("3", "get_time", "{not json")]
    both = check(ToolCalls, {"names": ["get_weather", "get_time"], "count": 3})
    ok, detail = both.run_calls(calls, "", CASE)
    assert not ok and "missing well-formed calls of get_time" in detail and "malformed: get_time" in detail
    assert check(ToolCalls, {"names": ["get_weather", "get_weather"]}).run_calls(calls[:2], "", CASE)[0]
    assert check(ToolCalls, {"count": 2}).run_calls(calls[:1], "", CASE) == (False, "1 calls, 2 wanted")
    with pytest.raises(ValidationError, match="give names"):
        ToolCalls.Params.model_validate({})


def test_no_tool_call_fails_on_any_call_and_flag_checks_want_true():
    no_call = check(NoToolCall, True)
    assert no_call.run_calls([], "It is 20 degrees.", CASE) == (True, "no tool call, as wanted")
    assert no_call.run_calls([make_call("1", "get_time", {})], "", CASE)[0] is False
    with pytest.raises(ValidationError, match="write 'no_tool_call: true'"):
        NoToolCall.Params.model_validate("yes")
