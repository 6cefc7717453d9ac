"""bakeoff.estimate.roofline directly: the decode ceiling of the packaged SmolLM2 (30 layers,
3 KV heads of 64) from the bytes a token reads: its weights plus the KV cache at that depth."""

from __future__ import annotations

import pytest

from bakeoff.estimate.roofline import bytes_per_token, decode_tps
from bakeoff.estimate.source import load_model

WEIGHTS = 96_576_768  # SmolLM2-135M Q4_1's tensors, all read per token


def test_kv_reads_grow_with_depth_by_the_models_own_cache_width(smollm2):
    arch = load_model(str(smollm2)).arch
    per_cell = 30 * 3 * (64 + 64) * 2  # layers x KV heads x (K + V) x 2 bytes (f16)
    assert bytes_per_token(WEIGHTS, arch, 0) == pytest.approx(WEIGHTS, abs=per_cell)
    grown = bytes_per_token(WEIGHTS, arch, 1000) - bytes_per_token(WEIGHTS, arch, 0)
    assert grown == pytest.approx(1000 * per_cell, rel=0.01)
    assert bytes_per_token(WEIGHTS, arch, 1000, "q8_0") < bytes_per_token(WEIGHTS, arch, 1000)


def test_decode_ceiling_is_bandwidth_over_bytes_and_none_without_a_bandwidth():
    assert decode_tps(100.0, 1e9) == pytest.approx(100.0)
    assert decode_tps(None, 1e9) is None and decode_tps(0, 1e9) is None and decode_tps(50.0, 0) is None
