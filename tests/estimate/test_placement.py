"""bakeoff.estimate.placement directly: llama.cpp's -ngl / --n-cpu-moe placement of a model's
layers between a GPU and host RAM, the memory each side takes and the decode roofline of a split."""

from __future__ import annotations

import pytest

from bakeoff.estimate.engines import ENGINES
from bakeoff.estimate.placement import GIB, Placement, Split, candidates, split, split_streamed
from bakeoff.estimate.weights import LayerWeights

MIB = 2**20
# four layers of 100 MiB dense weights and 300 MiB of routed experts (8 experts, 2 used)
MOE = LayerWeights(dense=[100 * MIB] * 4, experts=[300 * MIB] * 4, token_embd=50 * MIB, other=1 * MIB)
KV = [10 * MIB] * 4


def placed(p: Placement) -> Split:
    return split("qwen3moe", 8, 2, MOE, KV, [5 * MIB] * 4, p, compute_gpu=64 * MIB, compute_ffn=16 * MIB,
                 compute_cpu=80 * MIB, runtime=20 * MIB)


def test_ngl_counts_the_output_layer_and_options_speak_the_backends_language():
    assert Placement().ngl(4) == 5 and Placement(gpu_layers=-1).is_full(4)
    assert Placement(gpu_layers=3).options(4) == {"gpu_layers": 3}
    assert Placement(n_cpu_moe=4).options(4) == {"gpu_layers": -1, "cpu_moe": True}
    assert Placement(n_cpu_moe=2).options(4) == {"gpu_layers": -1, "n_cpu_moe": 2}
    assert Placement(gpu_layers=3).as_text(4, moe=False) == "2 of 4 layers on the GPU (-ngl 3)"
    assert Placement(gpu_layers=0).as_text(4, moe=False) == "CPU only (-ngl 0)"
    assert Placement(n_cpu_moe=2).as_text(4, moe=True) == "experts of 2 of 4 layers in RAM (--n-cpu-moe 2)"


def test_all_on_the_gpu_keeps_only_the_input_layer_and_runtime_in_ram():
    s = placed(Placement())
    assert s.vram_bytes == 4 * 400 * MIB + 1 * MIB + 50 * MIB + 40 * MIB + 64 * MIB  # tied head: the embedding
    assert s.ram_bytes == 50 * MIB + 20 * MIB
    assert s.gpu_read == pytest.approx(51 * MIB + 4 * (100 * MIB + 5 * MIB + 300 * MIB * 2 / 8))
    assert s.ram_read == 0


def test_experts_in_ram_move_their_bytes_and_the_ffn_buffer_but_not_the_kv():
    s = placed(Placement(n_cpu_moe=2))
    assert s.parts["ram_experts"] == 600 * MIB and s.parts["ram_compute"] == 16 * MIB
    assert s.parts["vram_kv"] == 40 * MIB and s.parts["ram_kv"] == 0
    assert s.ram_read == pytest.approx(2 * 300 * MIB * 2 / 8)
    # time per token adds: GPU bytes at 1000 GB/s, host bytes at 50 GB/s
    assert s.decode_tps(1000, 50, 32) == pytest.approx(1 / (s.gpu_read / 1e12 + s.ram_read / 5e10))
    assert s.decode_tps(1000, None, 32) is None  # host bytes and no RAM bandwidth: no claim


def test_vllm_streams_offloaded_weights_over_pcie_every_token():
    s = split_streamed(weights_total=10 * GIB, active=10 * GIB, kv_total=GIB, kv_read=0.5 * GIB, offload=4 * GIB,
                       overhead=GIB)
    assert s.vram_bytes == 8 * GIB and s.ram_bytes == 4 * GIB
    assert s.pcie_read == 4 * GIB and s.gpu_read == 6.5 * GIB


def test_candidates_go_from_least_to_most_offload_in_each_engines_options():
    server = list(candidates(ENGINES["llama-server"], 4, moe=True, weights_total=0))
    assert server[:4] == [Placement(n_cpu_moe=k) for k in (1, 2, 3, 4)]
    assert server[4] == Placement(gpu_layers=4, n_cpu_moe=4) and server[-1] == Placement(gpu_layers=0, n_cpu_moe=4)
    assert list(candidates(ENGINES["ollama"], 2, moe=True, weights_total=0)) == [
        Placement(gpu_layers=n) for n in (2, 1, 0)]
    vllm = list(candidates(ENGINES["vllm"], 4, moe=False, weights_total=int(2.5 * GIB)))
    assert [p.cpu_offload_bytes for p in vllm] == [GIB, 2 * GIB, 3 * GIB]
