"""Checks: each kind passes a right output and fails a wrong one, saying why."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bakeoff.checks import CheckConfigError, Verdict, build_check, check_kinds, evaluate, get_check
from bakeoff.suite import Case, load_suite


def run(entry, output: str, base_dir: Path | None = None, case: Case | None = None):
    spec = build_check(entry, base_dir)
    verdict = evaluate([spec], output, case)
    return verdict.results[0]


def make_case(**kw) -> Case:
    return Case(id="t", messages=[{"role": "user", "content": "q"}], **kw)


# -- registry -----------------------------------------------------------------------------------


def test_registry_lists_the_builtin_kinds_from_entry_points():
    assert {"equals", "contains", "regex", "json", "python"} <= set(check_kinds())
    assert get_check("regex").kind == "regex"


def test_every_check_in_pyproject_is_registered_and_loads():
    """pyproject.toml's entry points are the one list of checks: each kind there is known and its
    class says the same kind."""
    import tomllib
    from pathlib import Path

    table = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    kinds = table["project"]["entry-points"]["bakeoff.checks"]
    assert set(kinds) <= set(check_kinds())
    for kind in kinds:
        assert get_check(kind).kind == kind


# -- equals ---------------------------------------------------------------------------------------


def test_equals_strips_and_ignores_case_by_default():
    assert run({"equals": "Paris"}, "  paris\n").passed
    wrong = run({"equals": "Paris"}, "London")
    assert not wrong.passed and wrong.score == 0.0
    assert wrong.detail == "expected 'Paris', got 'London'"


def test_equals_options():
    strict = {"equals": {"value": "Paris", "case_sensitive": True, "strip": False}}
    assert run(strict, "Paris").passed
    assert not run(strict, "paris").passed
    assert not run(strict, "Paris\n").passed


def test_equals_accepts_a_yaml_number():
    assert run({"equals": 42}, "42").passed


# -- contains -------------------------------------------------------------------------------------


def test_contains_plain_any_all():
    assert run({"contains": "Paris"}, "It is PARIS.").passed
    miss = run({"contains": "Paris"}, "It is Lyon.")
    assert not miss.passed and miss.detail == "missing 'Paris'"
    assert run({"contains": {"any": ["Paris", "Lutetia"]}}, "lutetia").passed
    none = run({"contains": {"any": ["Paris", "Lutetia"]}}, "Rome")
    assert not none.passed and "none of 'Paris', 'Lutetia' found" == none.detail
    part = run({"contains": {"all": ["red", "blue"]}}, "red and green")
    assert not part.passed and part.detail == "missing 'blue'"
    assert run({"contains": {"all": ["red", "blue"]}}, "Blue, RED").passed


def test_contains_case_sensitive():
    entry = {"contains": {"all": ["BLUE"], "case_sensitive": True}}
    assert run(entry, "BLUE SKY").passed
    assert not run(entry, "blue sky").passed


# -- regex ----------------------------------------------------------------------------------------


def test_regex_search_and_flags():
    assert run({"regex": r"\bParis\b"}, "The answer: Paris.").passed
    miss = run({"regex": r"\bParis\b"}, "Parisian")
    assert not miss.passed and miss.detail == r"no match for /\bParis\b/"
    assert not run({"regex": "^paris$"}, "Paris").passed
    assert run({"regex": {"pattern": "^paris$", "flags": "im"}}, "x\nParis\ny").passed
    hit = run({"regex": r"\d+"}, "abc 123")
    assert hit.detail == "matched '123' at 4"


def test_bad_regex_is_refused_at_load():
    with pytest.raises(CheckConfigError, match=r"bad regex '\(abc'"):
        build_check({"regex": "(abc"})
    with pytest.raises(CheckConfigError, match="unknown regex flag 'q'"):
        build_check({"regex": {"pattern": "a", "flags": "q"}})


# -- json -----------------------------------------------------------------------------------------


def test_json_parses_whole_output():
    assert run({"json": True}, '{"a": 1}').passed
    bad = run({"json": True}, '{"a": }')
    assert not bad.passed
    assert bad.detail == "JSON parse error at line 1 col 7: Expecting value"


def test_json_takes_the_first_fenced_json_block():
    out = 'Here you go:\n```json\n{"name": "Ann", "age": 3}\n```\nand ```json\n[1]\n```'
    res = run({"json": {"schema": {"type": "object"}}}, out)
    assert res.passed and "```json block" in res.detail
    bare = run({"json": True}, "Sure:\n```\n[1, 2]\n```")
    assert bare.passed and "fenced block" in bare.detail
    broken = run({"json": True}, "```json\n{oops}\n```")
    assert not broken.passed and broken.detail.startswith("JSON parse error in the ```json block at line 1 col 2")


def test_json_schema_violations_are_explained():
    schema = {"type": "object", "required": ["name", "age"], "properties": {"age": {"type": "integer"}}}
    ok = run({"json": {"schema": schema}}, '{"name": "Ann", "age": 3}')
    assert ok.passed and ok.detail == "valid JSON matching the schema"
    missing = run({"json": {"schema": schema}}, '{"name": "Ann"}')
    assert not missing.passed and missing.detail == "schema: 'age' is a required property"
    typed = run({"json": {"schema": schema}}, '{"name": "Ann", "age": "3"}')
    assert not typed.passed and typed.detail == "schema: '3' is not of type 'integer' at $.age"


def test_json_schema_file(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"type": "array", "items": {"type": "integer"}}))
    (tmp_path / "s.yaml").write_text("type: array\nmaxItems: 1\n")
    assert run({"json": {"schema_file": "s.json"}}, "[1, 2]", tmp_path).passed
    assert not run({"json": {"schema_file": "s.json"}}, '["x"]', tmp_path).passed
    assert not run({"json": {"schema_file": "s.yaml"}}, "[1, 2]", tmp_path).passed
    with pytest.raises(CheckConfigError, match="schema file not found"):
        build_check({"json": {"schema_file": "nope.json"}}, tmp_path)


def test_invalid_schema_is_refused_at_load():
    with pytest.raises(CheckConfigError, match=r"invalid JSON schema at \$.type"):
        build_check({"json": {"schema": {"type": 12}}})


def test_json_deeply_nested_output_does_not_crash():
    res = run({"json": True}, "[" * 100_000 + "]" * 100_000)
    assert not res.passed


# -- python ---------------------------------------------------------------------------------------


@pytest.fixture
def checks_dir(tmp_path):
    (tmp_path / "pychecks_t.py").write_text(
        textwrap.dedent(
            """
            def has_good(output):
                return "good" in output

            def half(output, case):
                return 0.5

            def uses_case(output, case):
                return output == case.vars["answer"]

            def boom(output):
                return 1 / 0

            def too_big(output):
                return 1.5

            def wrong_type(output):
                return "yes"

            def with_detail(output):
                return 0.25, "a quarter right"
            """
        )
    )
    return tmp_path


def test_python_check_bool(checks_dir):
    assert run({"python": "pychecks_t:has_good"}, "good stuff", checks_dir).passed
    bad = run({"python": "pychecks_t:has_good"}, "bad stuff", checks_dir)
    assert not bad.passed and bad.detail == "pychecks_t:has_good returned False"


def test_python_check_float_and_case(checks_dir):
    res = run({"python": "pychecks_t:half"}, "x", checks_dir)
    assert res.score == 0.5
    case = make_case(vars={"answer": "42"})
    assert run({"python": "pychecks_t:uses_case"}, "42", checks_dir, case).passed
    assert not run({"python": "pychecks_t:uses_case"}, "41", checks_dir, case).passed
    detail = run({"python": "pychecks_t:with_detail"}, "x", checks_dir)
    assert detail.score == 0.25 and detail.detail == "a quarter right"


def test_python_check_that_raises_fails_without_crashing(checks_dir):
    res = run({"python": "pychecks_t:boom"}, "x", checks_dir)
    assert not res.passed and res.score == 0.0
    assert "ZeroDivisionError: division by zero" in res.detail
    assert "pychecks_t.py:" in res.detail


def test_python_check_bad_return_values(checks_dir):
    big = run({"python": "pychecks_t:too_big"}, "x", checks_dir)
    assert not big.passed and "a score must be in [0, 1]" in big.detail
    typ = run({"python": "pychecks_t:wrong_type"}, "x", checks_dir)
    assert not typ.passed and "expected a bool or a score" in typ.detail


def test_python_check_import_errors_are_load_errors(checks_dir):
    import sys

    before = list(sys.path)
    with pytest.raises(CheckConfigError, match="has no function 'nope'"):
        build_check({"python": "pychecks_t:nope"}, checks_dir)
    with pytest.raises(CheckConfigError, match="cannot import module 'no_such_mod_zz'"):
        build_check({"python": "no_such_mod_zz:f"}, checks_dir)
    with pytest.raises(CheckConfigError, match="module:function"):
        build_check({"python": "just_a_name"}, checks_dir)
    assert sys.path == before


def test_python_check_reimports_an_edited_module(tmp_path):
    (tmp_path / "pychecks_edit.py").write_text("def f(output):\n    return True\n")
    first = build_check({"python": "pychecks_edit:f"}, tmp_path)
    (tmp_path / "pychecks_edit.py").write_text("def f(output):\n    return False  # edited\n")
    second = build_check({"python": "pychecks_edit:f"}, tmp_path)
    assert evaluate([first], "x").passed and not evaluate([second], "x").passed
    assert first.identity() != second.identity()  # the source hash is part of the identity


# -- not, weights, thresholds --------------------------------------------------------------------


def test_not_inverts_pass_fail():
    entry = {"not": {"contains": "London"}}
    ok = run(entry, "Paris")
    assert ok.passed and ok.kind == "not contains" and "missing 'London'" in ok.detail
    bad = run(entry, "London")
    assert not bad.passed and bad.score == 0.0 and "passed but must not" in bad.detail


def test_not_rounds_a_partial_inner_score(checks_dir):
    # inner 0.5 counts as a pass, so not gives 0
    assert run({"not": {"python": "pychecks_t:half"}}, "x", checks_dir).score == 0.0


def test_weighted_mean_and_threshold():
    checks = [build_check({"contains": "a", "weight": 3}), build_check({"contains": "zzz"})]
    verdict = evaluate(checks, "a", make_case(pass_threshold=0.75))
    assert verdict.score == pytest.approx(0.75) and verdict.passed is True
    verdict = evaluate(checks, "a", make_case(pass_threshold=1.0))
    assert verdict.score == pytest.approx(0.75) and verdict.passed is False
    assert [r.weight for r in verdict.results] == [3.0, 1.0]


def test_threshold_tolerates_float_rounding():
    checks = [build_check({"contains": "a"}) for _ in range(3)]
    assert evaluate(checks, "a", make_case(pass_threshold=1.0)).passed is True
    third = [build_check({"contains": "a"}), build_check({"contains": "b"}), build_check({"contains": "c"})]
    assert evaluate(third, "a", make_case(pass_threshold=1 / 3)).passed is True


def test_no_checks_gives_no_verdict():
    verdict = evaluate([], "anything", make_case())
    assert verdict == Verdict(passed=None, score=None, results=[])
    assert verdict.to_dict() == {"passed": None, "score": None, "results": []}


def test_check_entry_shape_errors():
    with pytest.raises(CheckConfigError, match="unknown check kind 'contain'; known kinds: answer_set, code, contains, equals"):
        build_check({"contain": "x"})
    with pytest.raises(CheckConfigError, match="2 check kinds"):
        build_check({"contains": "x", "regex": "y"})
    with pytest.raises(CheckConfigError, match="weight must be a number greater than 0"):
        build_check({"contains": "x", "weight": 0})
    with pytest.raises(CheckConfigError, match="weight must be a number greater than 0"):
        build_check({"contains": "x", "weight": True})


def test_checks_through_a_suite_file(tmp_path):
    (tmp_path / "bakeoff.yaml").write_text(
        textwrap.dedent(
            """
            cases:
              - prompt: Capital of France?
                pass_threshold: 0.5
                checks:
                  - {contains: Paris, weight: 2}
                  - equals: Paris
                  - not: {regex: 'London'}
            """
        )
    )
    case = load_suite(tmp_path / "bakeoff.yaml").cases[0]
    verdict = evaluate(case.checks, "Paris, of course.", case)
    assert [r.passed for r in verdict.results] == [True, False, True]
    assert verdict.score == pytest.approx(3 / 4) and verdict.passed is True
