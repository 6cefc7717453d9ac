"""bakeoff.twin.blocks directly: random tensor data written in its GGML type, whole blocks whose
fp16 scales are the small constant (so values stay finite) and whose quant bits are random."""

from __future__ import annotations

import io

import numpy as np
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as T

from bakeoff.twin.blocks import POOL_BYTES, SCALE, BlockWriter, supported


def test_q4_k_blocks_carry_the_scale_and_zero_min_and_random_quants():
    block, size = GGML_QUANT_SIZES[T.Q4_K]
    out = io.BytesIO()
    BlockWriter(seed=1).write(out, T.Q4_K, 64 * size)
    blocks = np.frombuffer(out.getvalue(), dtype=np.uint8).reshape(64, size)
    d = blocks[:, 0:2].copy().view(np.float16).ravel()
    dmin = blocks[:, 2:4].copy().view(np.float16).ravel()
    assert (d == SCALE).all() and (dmin == 0).all()
    assert len(np.unique(blocks[:, 16:])) > 200  # the quant bytes are random


def test_f32_and_bf16_values_are_small_and_finite():
    out = io.BytesIO()
    BlockWriter().write(out, T.F32, 4096)
    values = np.frombuffer(out.getvalue(), dtype=np.float32)
    assert np.isfinite(values).all() and 0.005 < values.std() < 0.05
    out = io.BytesIO()
    BlockWriter().write(out, T.BF16, 4096)
    bf16 = (np.frombuffer(out.getvalue(), dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    assert np.isfinite(bf16).all() and 0.005 < bf16.std() < 0.05


def test_more_than_a_pool_is_written_in_chunks_and_progress_adds_up():
    seen = []
    out = io.BytesIO()
    BlockWriter().write(out, T.Q8_0, POOL_BYTES + 34 * 10, seen.append)
    assert len(out.getvalue()) == sum(seen) == POOL_BYTES + 340 and len(seen) == 2


def test_same_seed_same_bytes_and_which_types_are_supported():
    a, b = io.BytesIO(), io.BytesIO()
    BlockWriter(seed=7).write(a, T.Q6_K, 210 * 4)
    BlockWriter(seed=7).write(b, T.Q6_K, 210 * 4)
    assert a.getvalue() == b.getvalue()
    assert supported(T.Q4_K) and supported(T.F16) and not supported(T.IQ2_XXS)
    assert BlockWriter.values([1.0, 1e30]) == np.array([1.0, 1e30], dtype=np.float32).tobytes()
