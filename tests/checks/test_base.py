"""bakeoff.checks.base used directly: a check written by a plugin author (a Check subclass), run
through CheckSpec as a case runs it, and the messages made from pydantic's errors."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from bakeoff.checks.base import Check, CheckParams, CheckSpec, clip, dotted, validation_problems


class WordCount(Check):
    """A plugin-style check: the answer has at most ``limit`` words; crashes on the word 'crash'."""

    kind = "word_count"

    class Params(CheckParams):
        what: ClassVar[str] = "word_count check"
        limit: int
        partial: bool = False

    def run(self, output, case):
        if "crash" in output:
            raise RuntimeError("tokeniser broke")
        n = len(output.split())
        if self.params.partial:
            return self.params.limit / n if n else 1.0, f"{n} words"
        return n <= self.params.limit, f"{n} words"


def spec(**params) -> CheckSpec:
    return CheckSpec("word_count", check=WordCount(WordCount.Params(**params)))


def test_a_plugin_check_scores_through_checkspec_and_a_crash_scores_zero():
    assert spec(limit=3).run("Paris is lovely", None) == (1.0, "3 words")
    assert spec(limit=3).run("Paris is lovely in spring", None) == (0.0, "5 words")
    assert spec(limit=3).run("please crash", None) == (0.0, "check raised RuntimeError: tokeniser broke")


def test_scores_outside_zero_to_one_are_clamped():
    assert spec(limit=10, partial=True).run("one two", None)[0] == 1.0  # 5.0 clamped
    assert spec(limit=1, partial=True).run("one two three four", None)[0] == 0.25


def test_not_passes_when_the_inner_check_fails_and_labels_say_so():
    inner = spec(limit=2)
    negated = CheckSpec("not", inner=inner)
    assert negated.label == "not word_count"
    assert negated.run("far too many words here", None) == (1.0, "word_count failed as required: 5 words")
    assert negated.run("short", None) == (0.0, "word_count passed but must not: 1 words")
    assert negated.identity() == {"kind": "not", "params": {"kind": "word_count", "params": {"limit": 2, "partial": False},
                                                            "weight": 1.0}, "weight": 1.0}


def test_a_misspelt_key_is_reported_with_the_close_match_and_not_as_missing():
    with pytest.raises(ValidationError) as err:
        WordCount.Params.model_validate({"limt": 3})
    problems = validation_problems(err.value, WordCount.Params, "word_count check")
    assert [p.message for p in problems] == [
        "unknown key 'limt' in word_count check (did you mean 'limit'?); allowed keys: limit, partial"]
    assert problems[0].loc == ("limt",) and problems[0].at_key


def test_a_wrong_type_names_the_key_and_the_value_given():
    with pytest.raises(ValidationError) as err:
        WordCount.Params.model_validate({"limit": "lots"})
    (problem,) = validation_problems(err.value, WordCount.Params, "word_count check")
    assert problem.message.startswith("limit: ") and "(got 'lots')" in problem.message


def test_dotted_and_clip_format_locations_and_long_texts():
    assert dotted(("cases", 2, "max_tokens")) == "cases[2].max_tokens"
    assert dotted(("checks", 0, "not", "a b")) == "checks[0].not"
    assert clip("x" * 100, 20) == repr("x" * 17 + "...")
    assert clip("short") == "'short'"
