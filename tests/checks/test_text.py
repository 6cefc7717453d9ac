"""bakeoff.checks.text used directly: Equals, Contains and Regex built from their Params models,
as the suite loader builds them, scored on answers a model gives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bakeoff.checks.base import CheckConfigError
from bakeoff.checks.text import Contains, Equals, Regex


def check(cls, value):
    return cls(cls.Params.model_validate(value))


def test_equals_reports_what_came_back_as_written_when_strip_is_off():
    exact = check(Equals, {"value": "Paris", "strip": False})
    assert exact.run("Paris", None) == (True, "equals 'Paris'")
    assert exact.run(" paris ", None) == (False, "expected 'Paris', got ' paris '")


def test_equals_refuses_a_yaml_boolean_with_a_hint_and_takes_a_float_as_text():
    with pytest.raises(ValidationError, match="YAML boolean true; put the text in quotes"):
        Equals.Params.model_validate(True)
    half = check(Equals, 0.5)
    assert half.params.value == "0.5"
    assert half.run("0.5\n", None)[0] is True
    assert half.run("1/2", None)[0] is False


def test_contains_rejects_an_empty_needle_a_bare_list_and_both_modes():
    with pytest.raises(CheckConfigError, match="the text to look for is empty"):
        check(Contains, "")
    with pytest.raises(ValidationError, match="not a bare list"):
        Contains.Params.model_validate(["a", "b"])
    with pytest.raises(ValidationError, match="exactly one of 'all' or 'any'"):
        Contains.Params.model_validate({"all": ["a"], "any": ["b"]})


def test_contains_any_names_the_first_text_found_in_a_real_answer():
    answer = "The capital of France is Paris (called Lutetia by the Romans)."
    found = check(Contains, {"any": ["Lutetia", "Paris"]})
    assert found.run(answer, None) == (True, "found 'Lutetia'")
    assert check(Contains, {"all": ["paris", "ROMANS"]}).run(answer, None)[0] is True


def test_regex_identity_ignores_flag_order_and_repeats():
    a = check(Regex, {"pattern": r"\d+", "flags": "mi"})
    b = check(Regex, {"pattern": r"\d+", "flags": "imi"})
    assert a.identity() == b.identity() == {"pattern": r"\d+", "flags": "im"}
    assert check(Regex, {"pattern": r"\d+"}).identity() != a.identity()


def test_regex_dotall_and_verbose_flags_change_what_matches():
    answer = "def add(a, b):\n    return a + b\n"
    assert check(Regex, {"pattern": "add.*return", "flags": "s"}).run(answer, None)[0] is True
    assert check(Regex, {"pattern": "add.*return"}).run(answer, None)[0] is False
    verbose = check(Regex, {"pattern": r"return \s+ a \s* \+ \s* b  # the sum", "flags": "x"})
    assert verbose.run(answer, None)[0] is True


def test_a_bad_regex_error_points_at_the_pattern_with_its_position():
    with pytest.raises(CheckConfigError) as err:
        check(Regex, "[a-")
    assert err.value.loc == ("pattern",)
    assert "at position 0" in err.value.message
