"""Units of bakeoff.estimate: a Gemma-4-shaped GGUF header read back, sliding-window cells,
quantizer fallbacks, the compute term, and a fuzzed GGUF header (only InputError, never a crash)."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import GGUFWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.errors import InputError
from bakeoff.estimate import fit
from bakeoff.estimate.arch import kv_sources, layer_pattern
from bakeoff.models.gguf_header import read_header
from bakeoff.estimate.kv import kv_cache
from bakeoff.estimate.overhead import compute_cpu_touched
from bakeoff.estimate.quant import assign_types
from bakeoff.estimate.source import load_model


def _tiny_gemma4(path):
    """5 layers (4 sliding, then global), the last 2 share KV; global layers K=V (no attn_v)."""
    w = GGUFWriter(str(path), "gemma4")
    w.add_uint32("gemma4.block_count", 5)
    w.add_uint32("gemma4.embedding_length", 64)
    w.add_uint32("gemma4.context_length", 1024)
    w.add_uint32("gemma4.attention.head_count", 4)
    w.add_array("gemma4.attention.head_count_kv", [2, 2, 2, 2, 1])
    w.add_uint32("gemma4.attention.key_length", 32)
    w.add_uint32("gemma4.attention.value_length", 32)
    w.add_uint32("gemma4.attention.key_length_swa", 16)
    w.add_uint32("gemma4.attention.value_length_swa", 16)
    w.add_uint32("gemma4.attention.sliding_window", 8)
    w.add_array("gemma4.attention.sliding_window_pattern", [True, True, False, True, False])
    w.add_uint32("gemma4.attention.shared_kv_layers", 2)
    w.add_array("gemma4.feed_forward_length", [128, 128, 128, 256, 256])
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(100)])
    w.add_tensor("token_embd.weight", np.zeros((100, 64), dtype=np.float32))
    for i in range(5):
        w.add_tensor(f"blk.{i}.attn_q.weight", np.zeros((4 * (16 if i in (0, 1, 3) else 32), 64), dtype=np.float16))
    for i in (0, 1):
        w.add_tensor(f"blk.{i}.attn_k.weight", np.zeros((2 * 16, 64), dtype=np.float16))
        w.add_tensor(f"blk.{i}.attn_v.weight", np.zeros((2 * 16, 64), dtype=np.float16))
    w.add_tensor("blk.2.attn_k.weight", np.zeros((2 * 32, 64), dtype=np.float16))  # global, K=V: no attn_v
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gemma4_shaped_gguf_header(tmp_path):
    path = tmp_path / "tiny-gemma4.gguf"
    _tiny_gemma4(path)
    src = load_model(str(path))
    a = src.arch
    assert [layer.swa for layer in a.layers] == [True, True, False, True, False]
    # layers 3 (sliding) and 4 (global) reuse the last owner of their kind: 1 and 2
    assert [layer.kv_source for layer in a.layers] == [0, 1, 2, 1, 2]
    assert [layer.head_k for layer in a.layers] == [16, 16, 32, 16, 32]
    assert a.layers[2].has_v_proj is False and a.layers[0].has_v_proj is True
    assert a.n_vocab == 100 and a.window == 8 and src.vocab_entries == 100
    # KV at ctx 300 (padded to 512 cells), window cache: pad(min(512, 8 + 512)) = 768 -> min(...) = 512
    kv = kv_cache(a, 300, swa_full=False)
    assert kv.cells_global == 512 and kv.cells_sliding == 512
    # owners: 0, 1 sliding (2 heads × (16 + 16)), 2 global (2 heads × (32 + 32)); f16 -- with flash attention
    assert kv_cache(a, 300, swa_full=False, flash_attn=True).total == 2 * 512 * 2 * 32 * 2 + 512 * 2 * 64 * 2
    # without it (the backend's default) the sliding layers' V (2 × 16) is padded to the global 2 × 32
    assert kv.total == 2 * 512 * (2 * 16 + 64) * 2 + 512 * 2 * 64 * 2
    # weights: F32 embedding + F16 matrices, elements × bytes
    assert fit(str(path), ctx=300, hardware=["rtx-4090"])["weights_bytes"] == (
        100 * 64 * 4 + (3 * 64 + 2 * 128) * 64 * 2 + 4 * 32 * 64 * 2 + 64 * 64 * 2)


def test_sliding_cells_are_window_plus_ubatch_rounded():
    src = load_model("gemma4-26b-a4b")
    assert kv_cache(src.arch, 100_000, swa_full=False).cells_sliding == 1536  # 1024 + 512
    assert kv_cache(src.arch, 1000, swa_full=False).cells_sliding == 1024     # min(ctx 1024, 1536)
    assert kv_cache(src.arch, 100_000, swa_full=True).cells_sliding == 100_096  # ctx, padded to 256


def test_layer_patterns():
    assert layer_pattern(6, 6) == [True] * 5 + [False]
    assert layer_pattern(34, 6)[-1] is True                   # Gemma 3 4B: the last layer slides
    assert layer_pattern(35, 5, last_global=True)[-1] is False
    assert kv_sources([True, False, True, True, False, True], 2) == [0, 1, 2, 3, 1, 3]


def test_quantizer_fallbacks_and_output_rules():
    shapes = [("token_embd.weight", [640, 1000]), ("blk.0.attn_q.weight", [640, 640]),
              ("blk.0.ffn_down.weight", [2048, 640]), ("blk.0.attn_norm.weight", [640])]
    types = {n: T(t) for n, _, t in assign_types(shapes, "Q4_K_M", n_layer=1)}
    assert types["token_embd.weight"] == T.Q8_0       # tied output head, 640 % 256 != 0
    assert types["blk.0.attn_q.weight"] == T.Q5_0     # Q4_K falls back when rows don't divide by 256
    assert types["blk.0.ffn_down.weight"] == T.Q6_K   # use_more_bits (first layer)
    assert types["blk.0.attn_norm.weight"] == T.F32
    q8 = {n: T(t) for n, _, t in assign_types(shapes, "q8_0", n_layer=1)}
    assert q8["token_embd.weight"] == T.Q8_0 and q8["blk.0.attn_q.weight"] == T.Q8_0


def test_compute_term_grows_with_the_prompt():
    a = load_model("gemma4-31b").arch
    short = compute_cpu_touched(a, 64, 32768, 32768)
    full = compute_cpu_touched(a, 32768, 32768, 32768)
    # full: 512 tokens × 32768 cells × (6 B × 32 heads + 6.5 B × 2 masks)
    assert full == int(512 * 32768 * (6 * 32 + 6.5 * 2))
    assert short < full / 100


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_header_raises_only_input_error(tmp_path_factory, data):
    base = tmp_path_factory.getbasetemp() / "fuzz-base.gguf"
    if not base.exists():
        _tiny_gemma4(base)
    raw = bytearray(base.read_bytes()[:4096])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(4, len(raw)))
    path = tmp_path_factory.mktemp("fuzz") / "m.gguf"
    path.write_bytes(bytes(raw[:cut]))
    try:
        read_header(path)
        fit(str(path), ctx=512, hardware=["rtx-4090"])
    except InputError:
        pass


@pytest.mark.parametrize("quant, file_mb", [("Q2_K", 415), ("Q3_K_S", 415), ("Q4_K_M", 491), ("Q8_0", 676),
                                            ("F16", 1266)])
def test_requantized_sizes_match_files_llama_cpp_wrote(qwen05, quant, file_mb):
    # qwen2.5-coder-0.5b requantized on this VM with llama.cpp's quantize; file sizes in MB.
    # A file is its weights plus the header (metadata, tokenizer), the same for every type.
    header = qwen05.stat().st_size - fit("qwen2.5-coder-0.5b", hardware=["rtx-4090"])["weights_bytes"]
    est = fit("qwen2.5-coder-0.5b", quant=quant, hardware=["rtx-4090"])
    assert est["quant"] == quant and est["tensor_types"].startswith("estimated")
    assert (est["weights_bytes"] + header) / 1e6 == pytest.approx(file_mb, abs=1.5)
