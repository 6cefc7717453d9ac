"""The fit estimate of memory against the peak bakeoff's llamacpp backend measures.

Each packaged model is loaded by the real backend (worker subprocess, mmap off) at two context
sizes, given a short chat prompt, and its measured peak (RSS above the worker's pre-load
baseline) is compared with weights + KV + runtime + the compute pages such a prompt touches
(bakeoff.estimate.estimate_peak_bytes). One long prompt checks the compute term as the context
fills. Goal: within ±10%.
"""

from __future__ import annotations

import pytest
from backend_calls import close, load
from backend_calls import events as generated

from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from bakeoff.estimate import estimate_peak_bytes
from bakeoff.estimate.source import load_model

MIB = 2**20
CASES = [(alias, ctx) for alias in ("smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m") for ctx in (2048, 8192)]
LONG = ("smollm2-135m", 2048, "the cat sat on the mat. " * 147)  # ~1,040 tokens: 3 ubatches


def _measure(alias: str, ctx: int, prompt: str) -> tuple[float, int]:
    b = LlamaCppBackend(alias, LlamaCppOptions(threads=1, ctx=ctx, chat_format="chatml"), trial_timeout_s=120)
    load(b)
    peak = tokens = None
    try:
        for e in generated(b, GenerationRequest(messages=[{"role": "user", "content": prompt}], max_tokens=4)):
            if e["type"] == "memory":
                peak = e["peak_mb"]
            elif e["type"] == "usage":
                tokens = e["prompt_tokens"]
    finally:
        close(b)
    return peak, tokens


@pytest.fixture(scope="module")
def measured(smollm2, qwen05, gemma3):
    out = {}
    for alias, ctx in CASES:
        out[(alias, ctx, "short")] = _measure(alias, ctx, "Hi, in one word: what colour is the sky?")
    out[(LONG[0], LONG[1], "long")] = _measure(*LONG)
    rows = ["model ctx prompt-tokens estimate-MiB measured-MiB error"]
    for (alias, ctx, kind), (peak, tokens) in out.items():
        est = estimate_peak_bytes(load_model(alias), ctx, tokens)["total_bytes"] / MIB
        rows.append(f"{alias} {ctx} {tokens} {est:.1f} {peak:.1f} {100 * (est - peak) / peak:+.1f}%")
    print("\n" + "\n".join(rows))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("alias, ctx, kind", [(a, c, "short") for a, c in CASES] + [(LONG[0], LONG[1], "long")])
def test_estimate_within_10_percent_of_measured_peak(measured, alias, ctx, kind):
    peak_mib, prompt_tokens = measured[(alias, ctx, kind)]
    est = estimate_peak_bytes(load_model(alias), ctx, prompt_tokens)
    assert est["total_bytes"] / MIB == pytest.approx(peak_mib, rel=0.10), est


@pytest.mark.slow
def test_kv_growth_with_context_matches_measured_growth(measured):
    # the difference between 8192 and 2048 cells is KV cache alone: estimated exactly
    for alias in ("smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"):
        src = load_model(alias)
        grow_est = (estimate_peak_bytes(src, 8192, 16)["kv_bytes"] - estimate_peak_bytes(src, 2048, 16)["kv_bytes"]) / MIB
        grow_measured = measured[(alias, 8192, "short")][0] - measured[(alias, 2048, "short")][0]
        assert grow_measured == pytest.approx(grow_est, rel=0.05, abs=4)
