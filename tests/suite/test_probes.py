"""bakeoff.suite.probes: a consistency probe expanded into its turns (the fact established, the
distractors, the question asked again, several paraphrases spread evenly through the
distractors), its truth as checks, and generated distractors that are the same for the same
seed and case and do not repeat until the pool is used up."""

from __future__ import annotations

from bakeoff.suite.loader import SuiteLoader
from bakeoff.suite.probes import DISTRACTOR_POOL, expand_probe, generated_distractors
from bakeoff.suite.schema import SuiteModel

PROBE = """\
cases:
  - id: db
    probe:
      establish: {user: "Our database is PostgreSQL 16. Say OK.", truth: true}
      distractors: [first, second, third, fourth]
      ask: ["Which database do we use?", "Remind me of our database.", "Database?"]
      truth: PostgreSQL
"""


def _expand(text: str):
    loader = SuiteLoader(text, "suite.yaml", None)
    case = SuiteModel.model_validate(loader.read_yaml()).cases[0]
    return expand_probe(loader, case.probe, None, ("cases", 0, "probe"), case.id or "case-1")


def test_asks_are_spread_evenly_through_the_distractors():
    turns, facts = _expand(PROBE)
    assert [(t.role, t.user) for t in turns] == [
        ("establish", "Our database is PostgreSQL 16. Say OK."),
        ("distractor", "first"), ("ask", "Which database do we use?"),
        ("distractor", "second"), ("distractor", "third"), ("ask", "Remind me of our database."),
        ("distractor", "fourth"), ("ask", "Database?")]
    assert [t.line for t in turns if t.role == "ask"] == [6, 6, 6]  # the line of the ask list


def test_the_truth_checks_each_ask_and_the_establishing_reply():
    turns, facts = _expand(PROBE)
    assert facts["establish_truth"] is True and len(facts["truth"]) == 1
    assert facts["truth"][0]["kind"] == "contains"
    for t in turns:
        expected = 1 if t.role in ("establish", "ask") else 0
        assert len(t.checks) == expected, t
    assert "PostgreSQL" in str(turns[-1].checks[0].identity())


def test_generated_distractors_are_deterministic_and_distinct():
    first = generated_distractors(10, seed=3, case_id="db")
    assert first == generated_distractors(10, seed=3, case_id="db")
    assert first != generated_distractors(10, seed=4, case_id="db")
    assert first != generated_distractors(10, seed=3, case_id="other")
    assert len(set(first)) == 10 and set(first) <= set(DISTRACTOR_POOL)
    everything = generated_distractors(len(DISTRACTOR_POOL) + 5, seed=0, case_id="x")
    assert set(everything[:len(DISTRACTOR_POOL)]) == set(DISTRACTOR_POOL)  # the whole pool before a repeat
    assert generated_distractors(0, seed=0, case_id="x") == []


def test_generated_distractors_in_a_probe():
    text = PROBE.replace("distractors: [first, second, third, fourth]", "distractors: {generate: 5, seed: 9}")
    turns, _ = _expand(text)
    assert [t.user for t in turns if t.role == "distractor"] == generated_distractors(5, 9, "db")
