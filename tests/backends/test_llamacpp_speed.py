"""bakeoff.backends.llamacpp_speed: llama-bench's pp and tg tests run by the engine in this
process on smollm2: one timed sample per repetition (the warm-up left out), llama.cpp's own
counters beside them, the cache left empty after, and a depth that does not fit refused."""

from __future__ import annotations

import pytest

from bakeoff.backends import make_backend
from bakeoff.backends.llamacpp_engine import LlamaCppEngine
from bakeoff.backends.llamacpp_speed import SpeedMixin
from bakeoff.spec import parse_spec


@pytest.fixture(scope="module")
def engine(smollm2):
    backend = make_backend(parse_spec("llamacpp:smollm2-135m?threads=2&ctx=128&batch=32"), 60)
    eng = LlamaCppEngine(backend.model_file(), backend.engine_options())
    eng.load()
    yield eng
    eng.close()


def test_the_speed_protocol_is_the_engines_only_remote_method(engine):
    assert isinstance(engine, SpeedMixin) and engine.rpc_methods == ("speed",)


@pytest.mark.parametrize("kind", ["pp", "tg"])
def test_each_repetition_is_one_sample_with_the_engines_own_rate(engine, kind):
    result = engine.speed(kind, n=8, depth=16, reps=3)
    assert len(result["samples_ns"]) == 3 and all(ns > 0 for ns in result["samples_ns"])
    assert len(result["engine_samples_tps"]) == 3 and all(tps and tps > 0 for tps in result["engine_samples_tps"])
    assert engine.llm.n_tokens == 0  # the cache is left empty for whatever runs next


def test_a_prompt_over_the_batch_size_is_decoded_in_batches(engine):
    result = engine.speed("pp", n=80, depth=0, reps=1)  # 80 tokens, batches of 32
    (tps,) = result["engine_samples_tps"]
    assert tps > 0


def test_a_depth_beyond_the_context_fails_the_decode(engine):
    with pytest.raises(RuntimeError, match="llama_decode failed"):
        engine.speed("tg", n=4, depth=engine.llm.n_ctx() + 8, reps=1)
    engine.speed("tg", n=2, depth=0, reps=1)  # the engine still measures afterwards
