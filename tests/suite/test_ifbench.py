"""bakeoff.suite.standard.ifbench used directly: one case per IFBench prompt, with one offline
check per instruction it gives."""

from __future__ import annotations

from bakeoff.checks import evaluate
from bakeoff.suite.standard.ifbench import MAX_TOKENS, cases


def test_every_instruction_of_a_prompt_becomes_a_check_and_tags_name_them():
    all_cases = cases()
    assert len(all_cases) == 294
    for case in all_cases:
        instructions = case.tags[1:]
        assert case.tags[0] == "ifbench" and len(case.checks) == len(instructions) >= 1
        assert [c.identity()["params"]["instruction"] for c in case.checks] == instructions
        assert case.max_tokens == MAX_TOKENS and case.id.startswith("ifbench-")


def test_a_word_count_range_passes_inside_the_range_and_fails_outside():
    case = next(c for c in cases() if c.id == "ifbench-42")
    assert case.tags == ["ifbench", "count:word_count_range"]
    assert case.checks[0].identity()["params"]["kwargs"] == {"max_words": 61.0, "min_words": 57.0}
    assert evaluate(case.checks, " ".join(["similarity"] * 59), case).passed
    assert not evaluate(case.checks, " ".join(["similarity"] * 40), case).passed
