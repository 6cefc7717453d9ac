"""Gemma 4 fit figures against hand computation from the architecture table below.

The arithmetic here is written out by hand from the table (and the few config facts it does not
list, named where used); it does not call the tensor builder, the quantizer or the KV code
except to get the figures under test.

The table (Gemma 4 model card for the sizes; transformers' gemma4 config and conversion code):
                E2B          E4B          26B-A4B (MoE)            31B
  layers        35 (4:1)     42 (5:1)     30 (5:1)                 60 (5:1)     last layer global
  hidden        1536         2560         2816                     5376
  heads/KV loc  8 / 1        8 / 2        16 / 8                   32 / 16
  KV global     1            2            2 (K=V)                  4 (K=V)
  head dim      256 local / 512 global
  window        512          512          1024                     1024
  KV-sharing    20           18           0                        0
  FFN           6144         10240        shared 2112 + 128 x 704, top-8   21504
  vocab 262,144, tied embeddings; per-layer embeddings on E2B/E4B.
Not in the table, from the models' config.json as llama.cpp's converter reads it: per-layer
embedding width 256; E2B's KV-sharing layers have a double-wide FFN (2 x 6144). From llama.cpp's
loader: KV-sharing layers load no K/V projections; K=V global layers load no V projection.
"""

from __future__ import annotations

import pytest

from bakeoff.estimate import fit
from bakeoff.estimate.source import load_model
from bakeoff.estimate.weights import weigh

V = 262_144
GIB = 2**30


def _params_2d(model: str) -> int:
    """Σ of the 2-D/3-D weight matrices' elements in the fit's tensor list (norms excluded)."""
    total = 0
    for _, dims, _ in load_model(model).tensors:
        if len(dims) >= 2:
            n = 1
            for d in dims:
                n *= d
            total += n
    return total


# --- hand-computed parameter counts ---------------------------------------------------------

# E2B: global layers are every 5th (4, 9, ..., 34). Layers 0-14 own a KV cache (35 - 20 = 15):
# of those, 3 global (4, 9, 14) and 12 sliding; the 20 sharing layers are 16 sliding, 4 global.
E2B_EMBD = V * 1536                                  # token embedding = output head (tied)
E2B_PLE = V * 256 * 35 + 1536 * 256 * 35             # per-layer embedding table + its projection
E2B_Q_LOC, E2B_K_LOC = 1536 * 8 * 256, 1536 * 1 * 256          # q (= o) and k (= v), sliding
E2B_Q_GLO, E2B_K_GLO = 1536 * 8 * 512, 1536 * 1 * 512          # q (= o) and k (= v), global
E2B_ATTN = (12 * (2 * E2B_Q_LOC + 2 * E2B_K_LOC) + 3 * (2 * E2B_Q_GLO + 2 * E2B_K_GLO)
            + 16 * 2 * E2B_Q_LOC + 4 * 2 * E2B_Q_GLO)         # sharing layers: q and o only
E2B_FFN = 15 * 3 * 1536 * 6144 + 20 * 3 * 1536 * (2 * 6144)  # gate, up, down; 2x wide when sharing
E2B_PLE_LAYER = 35 * 2 * 1536 * 256                  # per-layer input gate and projection
E2B_PARAMS = E2B_EMBD + E2B_PLE + E2B_ATTN + E2B_FFN + E2B_PLE_LAYER

# E4B: global every 6th (5, 11, ..., 41). Owners 0-23 (42 - 18): 4 global (5, 11, 17, 23), 20
# sliding; sharing: 15 sliding, 3 global.
E4B_Q_LOC, E4B_K_LOC = 2560 * 8 * 256, 2560 * 2 * 256
E4B_Q_GLO, E4B_K_GLO = 2560 * 8 * 512, 2560 * 2 * 512
E4B_PARAMS = (V * 2560 + V * 256 * 42 + 2560 * 256 * 42
              + 20 * (2 * E4B_Q_LOC + 2 * E4B_K_LOC) + 4 * (2 * E4B_Q_GLO + 2 * E4B_K_GLO)
              + 15 * 2 * E4B_Q_LOC + 3 * 2 * E4B_Q_GLO
              + 42 * 3 * 2560 * 10240
              + 42 * 2 * 2560 * 256)

# 26B-A4B: 25 sliding + 5 global layers; global K=V (no v_proj).
MOE_LOCAL = 2 * 2816 * 16 * 256 + 2 * 2816 * 8 * 256     # q, o + k, v
MOE_GLOBAL = 2 * 2816 * 16 * 512 + 2816 * 2 * 512        # q, o + k (V is K)
MOE_SHARED_FFN = 3 * 2816 * 2112
MOE_ROUTER = 2816 * 128
MOE_EXPERTS = 3 * 2816 * 704 * 128                       # per layer, all 128 experts
MOE_PARAMS = V * 2816 + 25 * MOE_LOCAL + 5 * MOE_GLOBAL + 30 * (MOE_SHARED_FFN + MOE_ROUTER + MOE_EXPERTS)
MOE_ACTIVE = MOE_PARAMS - 30 * MOE_EXPERTS * (128 - 8) // 128  # a token uses 8 of 128 experts

# 31B: 50 sliding + 10 global layers; global K=V.
D31_LOCAL = 2 * 5376 * 32 * 256 + 2 * 5376 * 16 * 256
D31_GLOBAL = 2 * 5376 * 32 * 512 + 5376 * 4 * 512
D31_PARAMS = V * 5376 + 50 * D31_LOCAL + 10 * D31_GLOBAL + 60 * 3 * 5376 * 21504


@pytest.mark.parametrize("model, hand, llama_cpp_count", [
    ("gemma4-e2b", E2B_PARAMS, 4.63e9),
    ("gemma4-e4b", E4B_PARAMS, 7.46e9),
    ("gemma4-26b-a4b", MOE_PARAMS, 25.23e9),
    ("gemma4-31b", D31_PARAMS, 30.70e9),
])
def test_parameter_count(model, hand, llama_cpp_count):
    assert _params_2d(model) == hand
    # and llama.cpp's own count of the random-weight twins (bench/README.md), to 2 decimals
    assert round(hand / 1e9, 2) == round(llama_cpp_count / 1e9, 2)


def test_moe_active_parameters_match_the_model_card():
    assert MOE_ACTIVE == pytest.approx(3.8e9, rel=0.02)  # "3.8B active"


# --- weights bytes: Q8_0 by hand, Q4_K_M against the real quantizer's files ------------------

@pytest.mark.parametrize("model, matrices, f16", [
    ("gemma4-e2b", E2B_PARAMS - 1536 * 256 * 35, 1536 * 256 * 35),  # per_layer_model_proj stays F16
    ("gemma4-31b", D31_PARAMS, 0),
])
def test_q8_0_weight_bytes(model, matrices, f16):
    # Q8_0: blocks of 32 weights in 34 bytes. Not counted by hand: the norm vectors (F32, about
    # 8,000 values per layer: 1.1 MB on E2B, 0.02% of the total)
    hand = matrices * 34 // 32 + f16 * 2
    assert weigh(load_model(model, "Q8_0").tensors).total == pytest.approx(hand, rel=5e-4)


@pytest.mark.parametrize("model, twin_gib", [
    ("gemma4-e2b", 3.17), ("gemma4-e4b", 4.92), ("gemma4-26b-a4b", 15.64), ("gemma4-31b", 17.40)])
def test_q4_k_m_matches_llama_cpp_quantizer_twins(model, twin_gib):
    # bench/README.md: random-weight twins whose per-tensor types came from llama.cpp's quantizer
    assert weigh(load_model(model, "Q4_K_M").tensors).total / GIB == pytest.approx(twin_gib, rel=0.01)


# --- KV cache --------------------------------------------------------------------------------

CTX = 32_768
WINDOW_CELLS_512 = 1024    # min(ctx, 512 + ubatch 512), rounded up to 256
WINDOW_CELLS_1024 = 1536   # min(ctx, 1024 + 512)
F16 = 2

# bytes = layers × cells × (KV heads × d_k + V width) × 2 bytes; only cache-owning layers count.
# With flash attention on, V width = KV heads × d_v. These are the figures a server with flash
# attention gets (llama-server's "auto"):
KV_HAND = {
    #                    sliding owners                                       global owners
    "gemma4-e2b": {False: 12 * WINDOW_CELLS_512 * 1 * (256 + 256) * F16 + 3 * CTX * 1 * (512 + 512) * F16,
                   True: 12 * CTX * 1 * (256 + 256) * F16 + 3 * CTX * 1 * (512 + 512) * F16},
    "gemma4-e4b": {False: 20 * WINDOW_CELLS_512 * 2 * (256 + 256) * F16 + 4 * CTX * 2 * (512 + 512) * F16,
                   True: 20 * CTX * 2 * (256 + 256) * F16 + 4 * CTX * 2 * (512 + 512) * F16},
    # K=V on the global layers: llama.cpp still caches K and V apart, so d_k + d_v = 1024
    "gemma4-26b-a4b": {False: 25 * WINDOW_CELLS_1024 * 8 * (256 + 256) * F16 + 5 * CTX * 2 * (512 + 512) * F16,
                       True: 25 * CTX * 8 * (256 + 256) * F16 + 5 * CTX * 2 * (512 + 512) * F16},
    "gemma4-31b": {False: 50 * WINDOW_CELLS_1024 * 16 * (256 + 256) * F16 + 10 * CTX * 4 * (512 + 512) * F16,
                   True: 50 * CTX * 16 * (256 + 256) * F16 + 10 * CTX * 4 * (512 + 512) * F16},
}
# With flash attention off (bakeoff's llamacpp backend), V is stored transposed and every layer's V
# is padded to the widest layer's (llama-kv-cache.cpp): E2B's and E4B's sliding layers to the
# global layers' 512 per KV head; 26B-A4B's global layers to the sliding 8 × 256 = 2048 and
# 31B's to 16 × 256 = 4096.
KV_HAND_NO_FA = {
    "gemma4-e2b": {False: 12 * WINDOW_CELLS_512 * (1 * 256 + 512) * F16 + 3 * CTX * 1 * (512 + 512) * F16,
                   True: 12 * CTX * (1 * 256 + 512) * F16 + 3 * CTX * 1 * (512 + 512) * F16},
    "gemma4-e4b": {False: 20 * WINDOW_CELLS_512 * (2 * 256 + 1024) * F16 + 4 * CTX * 2 * (512 + 512) * F16,
                   True: 20 * CTX * (2 * 256 + 1024) * F16 + 4 * CTX * 2 * (512 + 512) * F16},
    "gemma4-26b-a4b": {False: 25 * WINDOW_CELLS_1024 * 8 * (256 + 256) * F16 + 5 * CTX * (2 * 512 + 2048) * F16,
                       True: 25 * CTX * 8 * (256 + 256) * F16 + 5 * CTX * (2 * 512 + 2048) * F16},
    "gemma4-31b": {False: 50 * WINDOW_CELLS_1024 * 16 * (256 + 256) * F16 + 10 * CTX * (4 * 512 + 4096) * F16,
                   True: 50 * CTX * 16 * (256 + 256) * F16 + 10 * CTX * (4 * 512 + 4096) * F16},
}


@pytest.mark.parametrize("model", list(KV_HAND))
@pytest.mark.parametrize("swa_full", [False, True])
def test_kv_bytes(model, swa_full):
    r = fit(model, ctx=CTX, swa_full=swa_full, hardware=["rtx-4090"], flash_attn=True, engine="llama-cpp-python")
    assert r["kv_bytes"] == KV_HAND[model][swa_full]
    r = fit(model, ctx=CTX, swa_full=swa_full, hardware=["rtx-4090"], engine="llama-cpp-python")
    assert r["kv_bytes"] == KV_HAND_NO_FA[model][swa_full]


def test_kv_figures_in_gib():
    # the same, as a reader would check them: E2B 204 MiB, 26B-A4B 940 MiB at 32K (window cache)
    assert KV_HAND["gemma4-e2b"][False] / 2**20 == 204
    assert KV_HAND["gemma4-26b-a4b"][False] / 2**20 == 940
    assert KV_HAND["gemma4-31b"][False] / GIB == pytest.approx(3.672, abs=1e-3)


def test_q8_0_kv_cache():
    # q8_0: 34 bytes per 32 elements instead of 2 bytes per element
    r = fit("gemma4-26b-a4b", ctx=CTX, swa_full=False, kv_type="q8_0", hardware=["rtx-4090"], flash_attn=True, engine="llama-cpp-python")
    elems = KV_HAND["gemma4-26b-a4b"][False] // F16
    assert r["kv_bytes"] == elems * 34 // 32


# --- decode roofline -------------------------------------------------------------------------

def test_moe_reads_only_active_weights():
    r = fit("gemma4-26b-a4b", quant="F16", ctx=CTX, hardware=["rtx-4090"], engine="llama-cpp-python")
    # F16: 2 bytes per weight (the router stays F32: +0.3%)
    assert r["weights"]["active_bytes_per_token"] == pytest.approx(2 * MOE_ACTIVE, rel=0.005)


def test_moe_roofline_far_above_dense_31b():
    moe = fit("gemma4-26b-a4b", ctx=CTX, hardware=["rtx-4090"], engine="llama-cpp-python")["hardware"][0]["decode_tps_roofline"]
    dense = fit("gemma4-31b", ctx=CTX, hardware=["rtx-4090"], engine="llama-cpp-python")["hardware"][0]["decode_tps_roofline"]
    assert moe > 4 * dense


def test_roofline_by_hand_for_31b():
    r = fit("gemma4-31b", quant="Q8_0", ctx=CTX, hardware=["rtx-4090"], engine="llama-cpp-python")
    weights = D31_PARAMS * 34 / 32
    # KV read per token at depth 32768: sliding layers read their window, global layers all
    kv_read = 50 * 1024 * 16 * (256 + 256) * F16 + 10 * CTX * 4 * (512 + 512) * F16
    hand = 1008e9 / (weights + kv_read)
    assert r["hardware"][0]["decode_tps_roofline"] == pytest.approx(hand, rel=1e-3)


def test_per_layer_embeddings_are_a_lookup():
    r = fit("gemma4-e2b", ctx=4096, hardware=["rtx-4090"], engine="llama-cpp-python")
    w = r["weights"]
    # the PLE table (V × 256 × 35 at Q6_K: 210 bytes per 256) is not read per token
    assert w["lookup_bytes"] == V * 256 * 35 * 210 // 256
    assert w["active_bytes_per_token"] == w["bytes"] - w["lookup_bytes"]
