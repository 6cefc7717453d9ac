"""Mixture-of-experts offload and engine rules in `bakeoff fit`, against arithmetic written out here.

The per-tensor types are llama.cpp's quantizer choices at Q4_K_M (read from the fit's tensor list,
checked against real files and twins in test_fit_gemma4.py / test_fit_units.py); the layers that
get the larger types are listed by hand below. Block sizes: Q4_K 144 B / 256, Q5_0 22 / 32,
Q6_K 210 / 256, Q8_0 34 / 32, F32 4 / 1.

Placement (llama.cpp): with --n-cpu-moe N the *_exps tensors of layers 0..N-1 go to host RAM,
everything else (but the input-layer token embedding) stays on the GPU. Decode roofline with an
offload: 1 / (GPU bytes per token / GPU bandwidth + RAM bytes per token / RAM bandwidth).
RTX 3060 12 GB profile: 360 GB/s VRAM, usable 12 − 0.5 GiB; host 32 GiB of DDR4-3200 at 51.2 GB/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import bakeoff

from bakeoff.estimate import fit

GIB, MIB = 2**30, 2**20
CTX = 32768
USABLE_3060 = 12 * GIB - GIB // 2
RAM_USABLE_3060 = int(32 * GIB * 0.85)


def q4k(n: int) -> int:
    return n // 256 * 144


def q6k(n: int) -> int:
    return n // 256 * 210


def q8(n: int) -> int:
    return n // 32 * 34


def q50(n: int) -> int:
    return n // 32 * 22


def roofline(gpu_bytes: float, ram_bytes: float, gpu_gbs: float = 360, ram_gbs: float = 51.2) -> float:
    return 1 / (gpu_bytes / (gpu_gbs * 1e9) + ram_bytes / (ram_gbs * 1e9))


# --- Gemma 4 26B-A4B ------------------------------------------------------------------------
# 30 layers, hidden 2816, 128 experts × 704 wide, top-8; every 6th layer global (5, 11, ..., 29).
G_EXP = 2816 * 704 * 128                                 # elements of one *_exps tensor
G_DOWN_Q8 = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29}  # ffn_down_exps in Q8_0, the rest Q5_0


def g_experts(layer: int) -> int:
    return 2 * q4k(G_EXP) + (q8(G_EXP) if layer in G_DOWN_Q8 else q50(G_EXP))


G_ALL_EXPERTS = sum(g_experts(i) for i in range(30))
G_TOKEN_EMBD = q6k(2816 * 262_144)                       # tied: also the output head (its copy on the GPU)
# llama-server at 32K: 4 slots over a unified cache, flash attention on (no V padding)
G_KV_GLOBAL = 5 * CTX * 2 * (512 + 512) * 2              # 5 global layers, 2 KV heads, K and V 512 wide, f16
G_SWA_CELLS = 4608                                       # pad256(min(32768, 4 × 1024 + 512))
G_KV_SLIDING = 25 * G_SWA_CELLS * 8 * (256 + 256) * 2
G_KV = G_KV_GLOBAL + G_KV_SLIDING
# reserved compute buffer: the logits phase is the largest, 512 rows × 4 B × (vocab + 3 × hidden)
G_COMPUTE = 512 * 4 * 262_144 + 512 * 4 * 3 * 2816
G_COMPUTE_FFN = 512 * 4 * (2 * max(2112, 8 * 704) + 2 * 2816)   # the CPU's buffer for the experts
G_RUNTIME = 40 * MIB + 155 * 262_144                     # 262,144 tokens, no merges
# KV read per token at depth 32K: the whole global cache, a window on the sliding layers
G_KV_READ = 5 * CTX * 2 * 1024 * 2 + 25 * 1024 * 8 * 512 * 2


def test_gemma4_26b_on_a_12gb_gpu_with_experts_in_ram():
    r = fit("gemma4-26b-a4b", ctx=CTX, hardware=["rtx-3060-12gb"], engine="llama-server")
    assert r["engine"] == "llama-server"
    assert r["kv_bytes"] == G_KV == 1_614_807_040                  # 1.50 GiB (7.19 GiB in llama-cpp-python)
    weights = r["weights_bytes"]                                 # Σ tensors, checked in test_fit_gemma4.py
    assert r["weights"]["expert_bytes"] == G_ALL_EXPERTS
    whole = weights + G_KV + G_COMPUTE                           # VRAM with every layer on the GPU
    h = r["hardware"][0]
    assert h["total_bytes"] == whole and not h["fits"]           # 17.65 GiB > 11.5 GiB
    # the smallest --n-cpu-moe that fits: experts of 14 layers out, 13 are not enough
    in_ram = lambda n: sum(g_experts(i) for i in range(n))  # noqa: E731
    assert whole - in_ram(13) > USABLE_3060 >= whole - in_ram(14)
    o = h["offload"]
    assert o["placement"] == "experts of 14 of 30 layers in RAM (--n-cpu-moe 14)" and o["fits"]
    assert o["options"] == {"gpu_layers": -1, "n_cpu_moe": 14}
    assert o["vram_bytes"] == whole - in_ram(14)                 # 11.12 GiB
    assert o["ram_bytes"] == G_TOKEN_EMBD + in_ram(14) + G_COMPUTE_FFN + G_RUNTIME   # 7.20 GiB
    assert o["ram_bytes"] <= RAM_USABLE_3060
    # per token: the GPU reads the dense part whole, 8/128 of its experts, and the KV cache;
    # host RAM reads 8/128 of the experts it holds
    gpu = (weights - G_ALL_EXPERTS) + (G_ALL_EXPERTS - in_ram(14)) * 8 / 128 + G_KV_READ
    ram = in_ram(14) * 8 / 128
    assert o["bytes_per_token"]["gpu"] == pytest.approx(gpu)
    assert o["bytes_per_token"]["ram"] == pytest.approx(ram)
    assert o["decode_tps_roofline"] == pytest.approx(roofline(gpu, ram))
    assert 55 < o["decode_tps_roofline"] < 62                   # ~58.8 tok/s


def test_gemma4_26b_engines_differ():
    r = fit("gemma4-26b-a4b", ctx=CTX, hardware=["rtx-3060-12gb", "rtx-4090"],
            engine=["llama-server", "ollama", "llama-cpp-python", "vllm"])
    e = r["engines"]
    # Ollama: 1 × window + 512 sliding cells, a cache tensor per layer (no V padding)
    assert e["ollama"]["kv_bytes"] == G_KV_GLOBAL + 25 * 1536 * 8 * 512 * 2 == 985_661_440
    # llama-cpp-python: full-size sliding cache, V of the global layers padded to 8 × 256 wide
    assert e["llama-cpp-python"]["kv_bytes"] == 25 * CTX * 8 * 512 * 2 + 5 * CTX * (2 * 512 + 8 * 256) * 2
    # Ollama offers no expert offload: whole layers leave the GPU instead
    assert "layers on the GPU (-ngl" in e["ollama"]["hardware"][0]["offload"]["placement"]
    assert "--n-cpu-moe" in e["llama-cpp-python"]["hardware"][0]["offload"]["placement"]
    # vLLM: 0.9 × VRAM; the 4090 holds it whole, the 3060 only streaming weights over PCIe 4.0 x16
    v3060, v4090 = e["vllm"]["hardware"]
    assert v4090["usable_bytes"] == int(24 * GIB * 0.9) and v4090["fits"]
    o = v3060["offload"]
    assert "--cpu-offload-gb" in o["placement"] and o["fits"]
    pcie = 16 * 16 * 128 / 130 / 8                                # GB/s
    assert o["decode_tps_roofline"] < pcie * 1e9 / o["bytes_per_token"]["pcie"]


# --- a Qwen3-30B-A3B-like MoE ---------------------------------------------------------------
# 48 layers, hidden 2048, 32 heads / 4 KV heads of 128, 128 experts × 768, top-8, no shared
# expert, separate output head, vocab 151,936 (+ 151,387 merges).
Q_EXP = 2048 * 768 * 128
Q_BIG = {0, 1, 2, 3, 4, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 42, 43, 44, 45, 46, 47}  # Q6_K v, down


def q_experts(layer: int) -> int:
    return 2 * q4k(Q_EXP) + (q6k(Q_EXP) if layer in Q_BIG else q4k(Q_EXP))


def q_dense(layer: int) -> int:
    attn = 2 * q4k(2048 * 4096) + q4k(2048 * 512) + (q6k(2048 * 512) if layer in Q_BIG else q4k(2048 * 512))
    norms = 4 * (2048 + 2048 + 128 + 128)                         # attn, ffn, q, k norms (F32)
    router = 4 * 2048 * 128                                       # ffn_gate_inp (F32)
    return attn + norms + router


def test_qwen3_30b_a3b_like_with_all_experts_in_ram():
    r = fit("qwen3-30b-a3b", ctx=CTX, hardware=["rtx-3060-12gb"], engine="llama-server", cpu_moe=True)
    token_embd = q4k(2048 * 151_936)                             # the input lookup: host RAM
    head = q6k(2048 * 151_936) + 4 * 2048                        # output.weight + output_norm
    experts = sum(q_experts(i) for i in range(48))
    dense = sum(q_dense(i) for i in range(48))
    assert r["weights_bytes"] == token_embd + head + dense + experts
    assert experts == 17_553_162_240 and dense == 567_263_232
    kv = 48 * CTX * 4 * (128 + 128) * 2                          # every layer global: 3 GiB
    compute = 512 * 4 * 151_936 + 512 * 4 * 3 * 2048             # the logits phase
    compute_ffn = 512 * 4 * (2 * 8 * 768 + 2 * 2048)
    runtime = 40 * MIB + 155 * (151_936 + 151_387)
    assert r["kv_bytes"] == kv
    o = r["hardware"][0]["offload"]
    assert o["given"] and o["placement"] == "experts of all layers in RAM (--cpu-moe)"
    assert o["vram_bytes"] == head + dense + kv + compute == 4_367_497_216
    assert o["ram_bytes"] == token_embd + experts + compute_ffn + runtime == 17_850_705_049
    assert o["fits"]
    gpu = head + dense + 48 * CTX * 4 * 256 * 2                  # weights read whole + the KV cache
    ram = experts * 8 / 128
    assert o["bytes_per_token"]["gpu"] == pytest.approx(gpu)
    assert o["bytes_per_token"]["ram"] == pytest.approx(ram)
    assert o["decode_tps_roofline"] == pytest.approx(roofline(gpu, ram))   # ~30.6 tok/s
    assert o["decode_tps_roofline"] == pytest.approx(1 / (4_043_749_376 / 360e9 + 1_097_072_640 / 51.2e9))


def test_layer_split_puts_the_last_layers_and_the_head_on_the_gpu():
    # -ngl 30 on a 30-layer model: the output layer and layers 1..29; layer 0 stays in RAM
    r = fit("gemma4-26b-a4b", ctx=CTX, hardware=["rtx-3060-12gb"], engine="llama-server", gpu_layers=30)
    o = r["hardware"][0]["offload"]
    assert o["placement"] == "29 of 30 layers on the GPU (-ngl 30)"
    assert o["parts"]["ram_experts"] == g_experts(0)


def test_offload_options_on_the_command_line():
    proc = bakeoff("fit", "gemma4-26b-a4b", "--ctx", str(CTX), "-H", "rtx-3060-12gb", "--n-cpu-moe", "22",
                   "--json", check=True)
    r = json.loads(proc.stdout)
    assert r["placement_given"] == {"gpu_layers": -1, "n_cpu_moe": 22}
    assert r["engines"]["llama-server"]["hardware"][0]["offload"]["placement"].startswith("experts of 22 of 30")
    text = bakeoff("fit", "gemma4-26b-a4b", "--ctx", str(CTX), "-H", "rtx-3060-12gb", check=True).stdout
    assert "llama-server" in text and "llama-cpp-python" in text and "--n-cpu-moe 14" in " ".join(text.split())
    bad = bakeoff("fit", "gemma4-31b", "--cpu-moe", "-H", "rtx-3060-12gb")
    assert bad.returncode == 2 and "no experts" in bad.stderr


TINY_MOE = {"model_type": "gemma4_text", "num_hidden_layers": 6, "hidden_size": 256, "vocab_size": 1024,
            "num_attention_heads": 4, "num_key_value_heads": 2, "num_global_key_value_heads": 1,
            "head_dim": 64, "global_head_dim": 128, "sliding_window": 128,
            "layer_types": ["sliding_attention"] * 2 + ["full_attention", "sliding_attention", "full_attention",
                                                        "full_attention"],
            "attention_k_eq_v": True, "intermediate_size": 256, "enable_moe_block": True, "num_experts": 8,
            "top_k_experts": 2, "moe_intermediate_size": 128, "tie_word_embeddings": True,
            "max_position_embeddings": 262144}

LOAD = """
import asyncio, json, sys
from bakeoff.backends import make_backend
from bakeoff.spec import parse_spec
b = make_backend(parse_spec(sys.argv[1]), trial_timeout_s=120)
facts = asyncio.run(b.aload())
asyncio.run(b.aclose())
print(json.dumps({"overrides": facts["tensor_overrides"], "memory": facts["engine_memory"]}))
"""


@pytest.mark.parametrize("option, tensors", [("n_cpu_moe=4", 12), ("cpu_moe=true", 18)])
def test_expert_placement_reaches_llama_cpp_on_a_tiny_moe_twin(tmp_path, option, tensors):
    cfg = tmp_path / "moe.json"
    cfg.write_text(json.dumps(TINY_MOE))
    env = {"BAKEOFF_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", LOAD, f"twin:{cfg}?threads=1&ctx=512&{option}"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    o = facts["overrides"]
    # llama.cpp's own log: "tensor blk.I.ffn_*_exps.weight (...) buffer type overridden to CPU[_REPACK]",
    # 3 expert tensors (gate, up, down) per layer moved
    assert o["tensors"] == tensors
    assert all(b.startswith("CPU") for b in o["buffers"])
    assert facts["memory"]["weights_mib"] > 0


def test_engine_memory_splits_device_and_host_buffers():
    from bakeoff.backends.llamacpp_native import engine_memory

    log = ("load_tensors:        CUDA0 model buffer size =  3000.00 MiB\n"
           "load_tensors:   CPU_Mapped model buffer size =   600.00 MiB\n"
           "load_tensors:   CPU_REPACK model buffer size =   100.00 MiB\n"
           "llama_kv_cache:      CUDA0 KV buffer size =  1024.00 MiB\n"
           "sched_reserve:      CUDA0 compute buffer size =   500.00 MiB\n"
           "sched_reserve:  CUDA_Host compute buffer size =    40.00 MiB\n")
    m = engine_memory(log)
    assert m["weights_mib"] == 3700
    assert m["by_device"] == {"CUDA0": {"weights_mib": 3000, "kv_mib": 1024, "compute_mib": 500},
                              "host": {"weights_mib": 700, "compute_mib": 40}}


def test_a_users_gpu_profile_with_its_host(tmp_path):
    from bakeoff.errors import InputError
    from bakeoff.estimate.hardware import load_profiles

    hw = tmp_path / "hw.yaml"
    hw.write_text("box:\n  kind: gpu\n  memory_gib: 16\n  bandwidth_gbs: 448\n  ram_gib: 64\n"
                  "  ram_bandwidth_gbs: 83.2\n  pcie_gen: 5\n  pcie_lanes: 8\n  source: my spec sheet\n")
    p = load_profiles(hw)["box"]
    assert p.ram_bytes == 64 * GIB and p.ram_usable_bytes == int(64 * GIB * 0.85)
    assert p.pcie_gbs == pytest.approx(8 * 32 * 128 / 130 / 8)        # 31.5 GB/s
    r = fit("gemma4-26b-a4b", ctx=CTX, hardware=["box"], hardware_file=hw, engine="llama-server")
    o = r["hardware"][0]["offload"]
    assert o["fits"] and o["placement"].startswith("experts of")
    hw.write_text("box:\n  kind: gpu\n  memory_gib: 16\n  bandwidth_gbs: 448\n  pcie_gen: 7\n  pcie_lanes: 8\n")
    with pytest.raises(InputError, match="pcie_gen"):
        load_profiles(hw)
