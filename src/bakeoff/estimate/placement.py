"""Where the weights and KV cache of a model live with a GPU and host RAM, and how fast it decodes.

llama.cpp's placement (src/llama-model.cpp, load_tensors; common/common.h for the MoE options):

- ``-ngl N`` (``gpu_layers``): the output layer and the last N − 1 repeating layers go to the
  GPU (layer i is on the GPU when i ≥ n_layer + 1 − N); the input layer (token embedding,
  Gemma 4's per-layer embedding) always stays in host RAM. A layer's KV cache lives with it.
- ``--n-cpu-moe N`` / ``--cpu-moe`` (``n_cpu_moe``, ``cpu_moe``): the routed-expert tensors
  (``*_exps``) of the first N layers (all with ``--cpu-moe``) are put in the CPU buffer; the rest
  of those layers (attention, norms, router, shared expert) and their KV cache stay on the GPU.

Memory: VRAM = GPU-resident weights + GPU-resident KV + the reserved compute buffer; host RAM =
the input layer + weights and KV kept there + the runtime + a CPU compute buffer (the FFN part of
the reserved buffer when only experts run there, the whole reservation when whole layers do).

Decode roofline: per token a sequence runs its layers one after another, the GPU part of each
layer, then (for offloaded experts) the CPU part: the times add up,

    time/token = bytes read on the GPU / GPU bandwidth
               + bytes read from host RAM / RAM bandwidth
               + bytes crossing PCIe / PCIe bandwidth,

with the bytes read = the weights read whole + ``experts_used / experts`` of the routed experts +
the KV cache read at that depth, on the device that holds them. llama.cpp computes offloaded
experts on the CPU during decode, so no weights cross PCIe (only activations, a few KB per
layer, not counted); vLLM's ``--cpu-offload-gb`` streams its offloaded weights over PCIe on every
forward pass, so they count in full there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bakeoff.estimate.engines import Engine
from bakeoff.estimate.weights import LayerWeights

GIB = 2**30


@dataclass(frozen=True)
class Placement:
    gpu_layers: int | None = None  # llama.cpp -ngl; None or < 0: all (n_layer + 1)
    n_cpu_moe: int = 0  # experts of layers 0 .. N-1 in host RAM (n_layer: --cpu-moe)
    cpu_offload_bytes: int = 0  # vLLM --cpu-offload-gb

    def ngl(self, n_layer: int) -> int:
        if self.gpu_layers is None or self.gpu_layers < 0:
            return n_layer + 1
        return min(self.gpu_layers, n_layer + 1)

    def is_full(self, n_layer: int) -> bool:
        return self.ngl(n_layer) == n_layer + 1 and not self.n_cpu_moe and not self.cpu_offload_bytes

    def options(self, n_layer: int) -> dict:
        """The same placement as options of bakeoff's llamacpp backend (and llama-server flags)."""
        out: dict = {}
        if self.ngl(n_layer) <= n_layer:
            out["gpu_layers"] = self.ngl(n_layer)
        else:
            out["gpu_layers"] = -1
        if self.n_cpu_moe >= n_layer:
            out["cpu_moe"] = True
        elif self.n_cpu_moe:
            out["n_cpu_moe"] = self.n_cpu_moe
        return out

    def as_text(self, n_layer: int, moe: bool) -> str:
        if self.cpu_offload_bytes:
            return f"{self.cpu_offload_bytes / GIB:g} GiB of weights streamed from RAM (--cpu-offload-gb)"
        ngl = self.ngl(n_layer)
        parts = []
        if ngl == 0:
            return "CPU only (-ngl 0)"
        if ngl <= n_layer:
            parts.append(f"{ngl - 1} of {n_layer} layers on the GPU (-ngl {ngl})")
        if self.n_cpu_moe >= n_layer:
            parts.append("experts of all layers in RAM (--cpu-moe)")
        elif self.n_cpu_moe:
            parts.append(f"experts of {self.n_cpu_moe} of {n_layer} layers in RAM (--n-cpu-moe {self.n_cpu_moe})")
        return "; ".join(parts) or "all on the GPU"


@dataclass
class Split:
    vram_bytes: int
    ram_bytes: int
    gpu_read: float  # bytes per token
    ram_read: float
    pcie_read: float
    parts: dict

    def decode_tps(self, gpu_gbs: float | None, ram_gbs: float | None, pcie_gbs: float | None) -> float | None:
        t = 0.0
        for nbytes, gbs in ((self.gpu_read, gpu_gbs), (self.ram_read, ram_gbs), (self.pcie_read, pcie_gbs)):
            if nbytes > 0:
                if not gbs:
                    return None
                t += nbytes / (gbs * 1e9)
        return 1 / t if t > 0 else None


def split(family: str, n_expert: int, n_expert_used: int, lw: LayerWeights, kv_layer_bytes: list[int],
          kv_read: list[float], p: Placement, compute_gpu: int, compute_ffn: int, compute_cpu: int,
          runtime: int) -> Split:
    """VRAM and host RAM for placement ``p`` in llama.cpp, and the bytes each reads per token."""
    n = len(lw.dense)
    ngl = p.ngl(n)
    start = n + 1 - ngl
    frac = n_expert_used / n_expert if n_expert else 1.0
    vram_w = ram_w = vram_kv = ram_kv = 0
    gpu_read = ram_read = 0.0
    ram_w += lw.token_embd + lw.per_layer_lookup  # the input layer
    if ngl >= 1:
        vram_w += lw.head + lw.other
        gpu_read += lw.head + lw.other
    else:  # Gemma 4's loader makes a second copy of a tied embedding for the output head
        ram_w += lw.output_weight + lw.other + (lw.token_embd if lw.tied and family == "gemma4" else 0)
        ram_read += lw.head + lw.other
    experts_ram = 0
    for i in range(n):
        on_gpu = i >= start
        if on_gpu:
            vram_w += lw.dense[i]
            vram_kv += kv_layer_bytes[i]
            gpu_read += lw.dense[i] + kv_read[i]
        else:
            ram_w += lw.dense[i]
            ram_kv += kv_layer_bytes[i]
            ram_read += lw.dense[i] + kv_read[i]
        if on_gpu and i >= p.n_cpu_moe:
            vram_w += lw.experts[i]
            gpu_read += lw.experts[i] * frac
        else:
            ram_w += lw.experts[i]
            experts_ram += lw.experts[i]
            ram_read += lw.experts[i] * frac
    vram_compute = compute_gpu if ngl >= 1 else 0
    if start > 0:
        ram_compute = compute_cpu
    elif experts_ram:
        ram_compute = compute_ffn
    else:
        ram_compute = 0
    parts = {"vram_weights": vram_w, "vram_kv": vram_kv, "vram_compute": vram_compute,
             "ram_weights": ram_w, "ram_experts": experts_ram, "ram_kv": ram_kv, "ram_compute": ram_compute,
             "ram_runtime": runtime}
    return Split(vram_w + vram_kv + vram_compute, ram_w + ram_kv + ram_compute + runtime,
                 gpu_read, ram_read, 0.0, parts)


def split_streamed(weights_total: int, active: float, kv_total: int, kv_read: float, offload: int,
                   overhead: int) -> Split:
    """vLLM with ``--cpu-offload-gb``: every tensor on the GPU but ``offload`` bytes, which stay in
    pinned host memory and cross PCIe on each forward pass."""
    offload = min(offload, weights_total)
    parts = {"vram_weights": weights_total - offload, "vram_kv": kv_total, "vram_overhead": overhead,
             "ram_weights": offload}
    return Split(weights_total - offload + kv_total + overhead, offload, max(0.0, active - offload) + kv_read,
                 0.0, float(offload), parts)


def candidates(engine: Engine, n_layer: int, moe: bool, weights_total: int):
    """Offloads from least to most, in the engine's own options."""
    if engine.weight_stream:
        for gb in range(1, math.ceil(weights_total / GIB) + 1):
            yield Placement(cpu_offload_bytes=gb * GIB)
        return
    if engine.expert_offload and moe:
        for k in range(1, n_layer + 1):
            yield Placement(n_cpu_moe=k)
        for ngl in range(n_layer, -1, -1):
            yield Placement(gpu_layers=ngl, n_cpu_moe=n_layer)
        return
    if engine.layer_offload:
        for ngl in range(n_layer, -1, -1):
            yield Placement(gpu_layers=ngl)
