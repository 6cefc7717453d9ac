"""bakeoff.run.conversation on scripted replies (no model): the history a turn is asked with,
warm turns after a cold first, turn checks numbered, the verdict over checked turns, figures
summed or taken from the last turn, and cold_turns' one-token replays."""

from __future__ import annotations

import pytest

from bakeoff.backends.base import GenerationRequest
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.conversation import Conversation
from bakeoff.suite.loader import parse_suite

SUITE = """\
cases:
  - id: chat
    system: Be terse.
    turns:
      - user: "Pick a colour."
        checks: [{contains: red}]
      - "Why?"
      - user: "Say it again."
        checks: [{contains: blue}]
"""


@pytest.fixture
def case():
    return parse_suite(SUITE).cases[0]


def _reply(text: str, t0: float, prompt_tokens: int, output_tokens: int, latency: float = 0.1) -> StreamMeasure:
    measure = StreamMeasure(t_send=t0)
    for event in ({"type": "sent", "t": t0}, {"type": "content", "text": text, "t": t0 + latency},
                  {"type": "usage", "prompt_tokens": prompt_tokens, "output_tokens": output_tokens, "source": "test"},
                  {"type": "finish", "reason": "stop", "t": t0 + 0.3}):
        measure.feed(event)
    return measure


def _talk(convo: Conversation, replies: list[str]) -> list[GenerationRequest]:
    asked = []
    for i, text in enumerate(replies):
        request = convo.next_request()
        asked.append(request)
        convo.take(_reply(text, 100.0 + i, prompt_tokens=10 * (i + 1), output_tokens=3, latency=0.1 * (i + 1)))
    return asked


def test_each_turn_is_asked_with_the_models_own_earlier_replies(case):
    convo = Conversation(case, GenerationRequest(messages=[], max_tokens=16))
    asked = _talk(convo, ["red", "because", "blue"])
    assert convo.next_request() is None  # three turns, then done
    assert [m["role"] for m in asked[0].messages] == ["system", "user"]
    assert asked[2].messages[1:] == [
        {"role": "user", "content": "Pick a colour."}, {"role": "assistant", "content": "red"},
        {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "because"},
        {"role": "user", "content": "Say it again."}]
    assert [r.warm for r in asked] == [False, True, True]
    assert len({r.cache_salt for r in asked}) == 1 and asked[0].cache_salt  # one salt, the conversation's own


def test_the_verdict_needs_every_checked_turn_and_names_the_turn(case):
    convo = Conversation(case, GenerationRequest(messages=[]))
    _talk(convo, ["red", "no reason", "green"])
    assert [t["passed"] for t in convo.turns] == [1, None, 0]  # turn 2 has no checks
    passed, score = convo.verdict()
    assert passed == 0 and score == 0.5
    assert [r.detail.split(":")[0] for r in convo.results] == ["turn 1", "turn 3"]


def test_trial_figures_sum_totals_and_keep_the_last_turns_output(case):
    convo = Conversation(case, GenerationRequest(messages=[]))
    _talk(convo, ["red", "because", "blue"])
    cols = convo.trial_columns()
    assert cols["output"] == "blue" and cols["passed"] == 1 and cols["score"] == 1.0
    assert cols["prompt_tokens"] == 10 + 20 + 30 and cols["output_tokens"] == 9
    assert cols["e2e_ms"] == pytest.approx(100 + 200 + 300, abs=1)  # summed over the turns
    assert cols["ttft_ms"] == pytest.approx(300, abs=1)  # the last turn's, not a sum


def test_an_error_while_replaying_a_turn_cold_says_so(case):
    convo = Conversation(case, GenerationRequest(messages=[]), cold_turns=True)
    _talk(convo, ["red", "because", "blue"])
    convo.next_request()  # turn 2's prompt, asked again cold
    assert convo.failure(TimeoutError("no answer")) == \
        "asking turn 2's prompt again cold (cold_turns): no answer"
    assert convo.failure(None) is None


def test_cold_turns_replays_each_later_turn_for_one_token(case):
    convo = Conversation(case, GenerationRequest(messages=[], max_tokens=16), cold_turns=True)
    asked = _talk(convo, ["red", "because", "blue"])
    replays = []
    while (request := convo.next_request()) is not None:
        replays.append(request)
        convo.take(_reply("x", 200.0, prompt_tokens=5, output_tokens=1))
    assert [r.messages for r in replays] == [asked[1].messages, asked[2].messages]
    assert all(r.max_tokens == 1 and not r.warm and r.cache_salt is None for r in replays)
    assert convo.turns[0].get("cold_ttft_ms") is None
    assert convo.turns[1]["cold_ttft_ms"] == pytest.approx(100, abs=1) and convo.turns[2]["cold_ttft_ms"] is not None
