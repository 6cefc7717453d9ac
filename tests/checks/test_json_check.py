"""bakeoff.checks.json_check used directly: reading JSON out of a model's answer, and the schema
check's load-time errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bakeoff.checks.base import CheckConfigError
from bakeoff.checks.json_check import JsonCheck, _NoJson, extract_json


def check(value, base_dir=None):
    return JsonCheck(JsonCheck.Params.model_validate(value), base_dir)


def test_extract_json_prefers_a_json_block_over_an_untagged_one():
    answer = "Example:\n```\n[0]\n```\nThe record:\n```JSON\n{\"id\": 7}\n```\n"
    assert extract_json(answer) == ({"id": 7}, " (from the ```json block)")
    assert extract_json('  {"id": 7}\n') == ({"id": 7}, "")
    with pytest.raises(_NoJson, match="the output is empty"):
        extract_json("   \n")


def test_an_unclosed_fence_at_the_end_of_a_cut_off_answer_is_still_read():
    assert extract_json('Sure:\n```json\n{"ok": true}\n')[0] == {"ok": True}


def test_schema_file_in_yaml_relative_to_the_suite(tmp_path):
    (tmp_path / "person.yaml").write_text("type: object\nrequired: [name]\nproperties:\n  name: {type: string}\n")
    person = check({"schema_file": "person.yaml"}, tmp_path)
    assert person.run('{"name": "Ada"}', None) == (True, "valid JSON matching the schema")
    assert person.run('{"name": 3}', None) == (False, "schema: 3 is not of type 'string' at $.name")
    assert person.identity() == {"schema": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"}}}}


def test_schema_file_errors_say_which_file_and_line(tmp_path):
    (tmp_path / "broken.json").write_text('{"type": "object",\n "required": [name]}')
    with pytest.raises(CheckConfigError, match=r"broken.json:2: not valid JSON") as err:
        check({"schema_file": "broken.json"}, tmp_path)
    assert err.value.loc == ("schema_file",)
    (tmp_path / "adir.json").mkdir()
    with pytest.raises(CheckConfigError, match="schema file is a directory"):
        check({"schema_file": "adir.json"}, tmp_path)


def test_params_refuse_false_and_both_schema_forms():
    with pytest.raises(ValidationError, match=r"not: \{json: true\}"):
        JsonCheck.Params.model_validate(False)
    with pytest.raises(ValidationError, match="not both"):
        JsonCheck.Params.model_validate({"schema": {}, "schema_file": "x.json"})
