"""The in-process llama.cpp backend on real packaged models, through its worker subprocess."""

import pytest
from backend_calls import close, load
from backend_calls import events as generated

from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from bakeoff.measure.timing import StreamMeasure


def run_one(model: str, messages, max_tokens=32, **opts):
    backend = LlamaCppBackend(model, LlamaCppOptions(threads=1, **opts), trial_timeout_s=120)
    try:
        facts = load(backend)
        measure = StreamMeasure()
        events = generated(backend, GenerationRequest(messages=messages, max_tokens=max_tokens))
        for e in events:
            measure.feed(e)
        return backend, facts, events, measure, measure.finish()
    finally:
        close(backend)


def test_smollm2_streams_with_engine_counts_and_timings(smollm2):
    backend, facts, events, m, f = run_one(
        "smollm2-135m", [{"role": "user", "content": "Count from 1 to 20, separated by spaces."}], max_tokens=24)
    assert facts["architecture"] == "llama"
    assert facts["chat_format"] == "the GGUF's chat template"
    assert "<|im_start|>user" in m.prompt  # the GGUF's ChatML template was applied
    assert m.output.strip()
    # Output tokens are the engine's own count; one content event per generated token.
    assert f.tokens_source == "engine"
    assert f.output_tokens == sum(1 for e in events if e["type"] == "content")
    assert f.output_tokens <= 24
    assert f.finish_reason in ("stop", "length")
    assert f.prompt_tokens > 5
    # Engine counters are per request: the whole prompt was evaluated (no cache) in one batch.
    assert f.engine_prompt_n == f.prompt_tokens
    assert f.engine_prefill_tps > 0 and f.engine_decode_tps > 0
    assert 0 < f.ttft_ms <= f.e2e_ms
    assert f.decode_tps > 0
    # Peak RSS above the pre-load baseline holds at least the weights (mmap off).
    assert f.peak_mem_mb >= facts["weights_mb"] * 0.9
    assert backend.load_info["loaded_rss_mb"] >= facts["weights_mb"] * 0.9


def test_max_tokens_cuts_with_finish_reason_length(smollm2):
    _, _, _, _, f = run_one("smollm2-135m", [{"role": "user", "content": "Write a long story about a ship."}],
                            max_tokens=7)
    assert f.output_tokens == 7
    assert f.finish_reason == "length"


def test_qwen_writes_code(qwen05):
    _, facts, _, m, f = run_one(
        "qwen2.5-coder-0.5b",
        [{"role": "user", "content": "Write a Python function is_even(n) that returns True when n is even."}],
        max_tokens=96)
    assert facts["architecture"] == "qwen2"
    assert "def is_even" in m.output


def test_gemma3_without_template_uses_gemma_turns_and_says_so(gemma3):
    backend, facts, _, m, f = run_one(
        "gemma3-270m",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "The capital of France is"}],
        max_tokens=16)
    assert "fallback" in facts["chat_format"] and "gemma" in facts["chat_format"]
    assert m.prompt.startswith("<bos><start_of_turn>user\nBe brief.\n\nThe capital of France is<end_of_turn>")
    assert m.prompt.endswith("<start_of_turn>model\n")
    assert backend.notes() and "no chat template" in backend.notes()[0]
    assert f.output_tokens >= 1


def test_greedy_is_deterministic(smollm2):
    msgs = [{"role": "user", "content": "Name three colours."}]
    outs = {run_one("smollm2-135m", msgs, max_tokens=16)[3].output for _ in range(2)}
    assert len(outs) == 1


def test_prompt_longer_than_context_is_an_error(smollm2):
    from bakeoff.backends.base import BackendError

    with pytest.raises(BackendError, match="context holds 64"):
        run_one("smollm2-135m", [{"role": "user", "content": "word " * 200}], ctx=64)
