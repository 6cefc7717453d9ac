"""A tiny Gemma 4 GGUF (random weights, the real architecture's layout) loaded by llama.cpp itself:
the estimate's KV cache and model buffer must equal what llama.cpp allocates.

The twin has sliding and global layers, KV-sharing layers, K=V global layers (no attn_v),
per-layer embeddings and a tied output head. llama.cpp refuses a GGUF whose tensors differ from
what its Gemma 4 loader creates, so loading it also checks the estimate's tensor list.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from gguf import GGUFWriter

from bakeoff.estimate import fit
from bakeoff.estimate.arch import Arch, Layer, kv_sources, layer_pattern
from bakeoff.estimate.tensors import tensor_shapes

N_LAYER, EVERY, SHARED = 10, 5, 5  # globals 4 and 9; layers 5-9 reuse the caches of 3 (sliding) and 4
EMBD, HEADS, KV_LOC, KV_GLO, HD, HD_G, WINDOW, FFN, PLE, VOCAB = 128, 4, 2, 1, 32, 64, 64, 256, 16, 300


def _write_twin(path):
    swa = layer_pattern(N_LAYER, EVERY, last_global=True)
    src = kv_sources(swa, SHARED)
    layers = [Layer(i, swa[i], HEADS, KV_LOC if swa[i] else KV_GLO, HD if swa[i] else HD_G,
                    HD if swa[i] else HD_G, FFN, src[i], has_v_proj=swa[i]) for i in range(N_LAYER)]
    arch = Arch("gemma4", N_LAYER, EMBD, VOCAB, layers, window=WINDOW, per_layer_embd=PLE)
    w = GGUFWriter(str(path), "gemma4")
    a = "gemma4"
    w.add_uint32(f"{a}.block_count", N_LAYER)
    w.add_uint32(f"{a}.context_length", 131072)
    w.add_uint32(f"{a}.embedding_length", EMBD)
    w.add_array(f"{a}.feed_forward_length", [FFN] * N_LAYER)
    w.add_uint32(f"{a}.attention.head_count", HEADS)
    w.add_array(f"{a}.attention.head_count_kv", [layer.n_head_kv for layer in layers])
    w.add_uint32(f"{a}.attention.key_length", HD_G)
    w.add_uint32(f"{a}.attention.value_length", HD_G)
    w.add_uint32(f"{a}.attention.key_length_swa", HD)
    w.add_uint32(f"{a}.attention.value_length_swa", HD)
    w.add_uint32(f"{a}.attention.sliding_window", WINDOW)
    w.add_array(f"{a}.attention.sliding_window_pattern", swa)
    w.add_uint32(f"{a}.attention.shared_kv_layers", SHARED)
    w.add_uint32(f"{a}.embedding_length_per_layer_input", PLE)
    w.add_float32(f"{a}.rope.freq_base", 1e6)
    w.add_float32(f"{a}.rope.freq_base_swa", 1e4)
    w.add_uint32(f"{a}.rope.dimension_count", HD_G)
    w.add_uint32(f"{a}.rope.dimension_count_swa", HD)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"t{i}" for i in range(VOCAB - 4)])
    w.add_array("tokenizer.ggml.scores", [0.0] * VOCAB)
    w.add_array("tokenizer.ggml.token_type", [3, 3, 3, 2] + [1] * (VOCAB - 4))
    w.add_uint32("tokenizer.ggml.bos_token_id", 2)
    w.add_uint32("tokenizer.ggml.eos_token_id", 1)
    rng = np.random.default_rng(0)
    for name, dims in tensor_shapes(arch):
        w.add_tensor(name, (rng.standard_normal(tuple(reversed(dims))) * 0.02).astype(np.float16 if len(dims) > 1 else np.float32))
    # proportional RoPE mask of the global layers (bakeoff.twin.metadata.rope_freqs): 1 for the first quarter, 1e30 after
    w.add_tensor("rope_freqs.weight", np.array([1.0] * (HD_G // 8) + [1e30] * (HD_G // 2 - HD_G // 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


LOAD = """
import sys, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), n_threads=1, use_mmap=False,
                      verbose=True, swa_full=sys.argv[3] == "1")
llm.eval([2, 10, 11, 12])  # token ids: the synthetic vocabulary has no byte tokens to tokenize with
print("decoded", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    path = tmp_path_factory.mktemp("twin") / "gemma4-twin.gguf"
    _write_twin(path)
    return path


@pytest.mark.parametrize("swa_full", [False, True])
def test_llama_cpp_allocates_what_the_estimate_says(twin, swa_full):
    ctx = 4096
    proc = subprocess.run([sys.executable, "-c", LOAD, str(twin), str(ctx), "1" if swa_full else "0"],
                          check=False, capture_output=True, text=True, timeout=120)
    log = proc.stderr
    assert "decoded" in log, log[-2000:]
    kv_mib = sum(float(x) for x in re.findall(r"llama_kv_cache: size =\s+([\d.]+) MiB", log))
    model_mib = sum(float(x) for x in re.findall(r"CPU model buffer size =\s+([\d.]+) MiB", log))
    r = fit(str(twin), ctx=ctx, swa_full=swa_full, hardware=["rtx-4090"], engine="llama-cpp-python")
    assert r["kv_bytes"] / 2**20 == pytest.approx(kv_mib, abs=0.01)
    # KV by hand: owners are layers 0-4: 4 sliding (2 heads × (32 + 32)) and 1 global (1 × (64 + 64))
    cells_sliding = ctx if swa_full else 768  # window 64 + ubatch 512, rounded up to 256
    assert r["kv_bytes"] == 4 * cells_sliding * 2 * 64 * 2 + ctx * 1 * 128 * 2
    # the CPU buffer holds the tied embedding twice (Gemma 4's loader order)
    assert r["weights"]["resident_bytes"]["cpu"] / 2**20 == pytest.approx(model_mib, abs=0.01)
    assert r["weights"]["resident_bytes"]["cpu"] == r["weights_bytes"] + VOCAB * EMBD * 2
