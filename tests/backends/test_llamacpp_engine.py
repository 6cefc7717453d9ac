"""bakeoff.backends.llamacpp_engine run in this process on smollm2 (the worker would host it):
what loading reports, the events of one request in order (the rendered prompt, the cache
cleared, tokens, usage, finish), stop strings cut out even across token pieces, the same answer
at temperature 0, a warm turn reusing its own prefix, and a prompt too long for the context."""

from __future__ import annotations

import pytest

from bakeoff.backends import make_backend
from bakeoff.backends.llamacpp_engine import LlamaCppEngine, _StopCutter
from bakeoff.spec import parse_spec


@pytest.fixture(scope="module")
def engine(smollm2):
    backend = make_backend(parse_spec("llamacpp:smollm2-135m?threads=2&ctx=256"), 60)
    eng = LlamaCppEngine(backend.model_file(), backend.engine_options())
    facts = eng.load()
    eng.facts = facts
    yield eng
    eng.close()


def _ask(engine, text: str, **req) -> list[dict]:
    events: list[dict] = []
    engine.generate({"messages": [{"role": "user", "content": text}], "max_tokens": 12, "temperature": 0.0,
                     "seed": 0, "stop": [], **req}, events.append)
    return events


def _answer(events) -> str:
    return "".join(e["text"] for e in events if e["type"] == "content")


def test_load_reports_the_model_and_how_prompts_are_rendered(engine):
    facts = engine.facts
    assert facts["engine"] == "llama.cpp (llama-cpp-python)" and facts["architecture"] == "llama"
    assert 100e6 < facts["n_params"] < 200e6 and facts["n_ctx"] == 256
    assert facts["chat_format"] == "the GGUF's chat template" and facts["vision"] is None


def test_one_request_streams_its_events_in_order(engine):
    events = _ask(engine, "Name a fruit.")
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["prompt", "cache"] and kinds[-1] == "finish"
    prompt, cache = events[0], events[1]
    assert "Name a fruit." in prompt["text"] and prompt["tokens"] > 3
    assert cache["cached_tokens"] == 0 and "cleared" in cache["source"]
    usage = next(e for e in events if e["type"] == "usage")
    assert usage["prompt_tokens"] == prompt["tokens"] and 0 < usage["output_tokens"] <= 12
    times = [e["t"] for e in events if e["type"] == "content"]
    assert times == sorted(times) and _answer(events)
    assert _answer(events) == _answer(_ask(engine, "Name a fruit."))  # temperature 0: the same answer


def test_a_stop_string_ends_the_answer_before_it(engine):
    free = _answer(_ask(engine, "Count from 1 to 5.", max_tokens=20))
    assert "\n" in free.strip()
    stopped = _ask(engine, "Count from 1 to 5.", max_tokens=20, stop=["\n"])
    assert _answer(stopped) == free.split("\n")[0]
    assert stopped[-1]["reason"] == "stop"


def test_a_warm_turn_reuses_the_prefix_its_conversation_left(engine):
    first = _ask(engine, "Say hello.")
    history = [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": _answer(first)},
               {"role": "user", "content": "Again."}]
    events: list[dict] = []
    engine.generate({"messages": history, "max_tokens": 4, "temperature": 0.0, "seed": 0, "stop": [], "warm": True},
                    events.append)
    cache = next(e for e in events if e["type"] == "cache")
    assert cache["cached_tokens"] >= first[0]["tokens"]  # at least the first turn's prompt


def test_a_prompt_longer_than_the_context_is_refused(engine):
    with pytest.raises(ValueError, match=r"the context holds 256 \(raise \?ctx=\)"):
        _ask(engine, "word " * 400)


def test_stop_cutter_holds_back_a_possible_stop_across_pieces():
    cut = _StopCutter(["</end>"])
    first = cut.push("hello wor")
    assert first == "hell"  # the last 5 characters could begin the stop: held back
    rest = cut.push("ld</en") + cut.push("d> never shown")
    assert first + rest == "hello world" and cut.stopped
    plain = _StopCutter([])
    assert plain.push("all") == "all" and plain.flush() == ""
