"""KV-cache bytes (docs/estimates.md).

KV bytes = Σ over layers that own a cache of cells × KV heads × (d_k + d_v) × bytes per element.

- cells: llama.cpp rounds the context up to a multiple of 256 (``GGML_PAD(n_ctx, 256)``); a
  global layer holds all of it. A sliding-window layer holds min(context, window + ubatch),
  rounded up to 256 (llama-kv-cache-iswa.cpp) — unless the cache is "full-size" (swa_full), when
  it holds the whole context too. llama-cpp-python 0.3.36 keeps llama.cpp's default
  swa_full = true and bakeoff's llamacpp backend does not change it, so that is the default here
  (measured: Gemma 3 270M at n_ctx 2048 allocates 2048 cells on its 15 sliding layers).
  llama-server and Ollama allocate window + ubatch: ``swa_full=False``.
- layers that reuse an earlier layer's cache (Gemma 4 E2B: 20, E4B: 18) own none.
- Gemma 4's K=V global layers (26B-A4B, 31B) have no V projection, but llama.cpp still caches
  K (normalised, rotated) and V (the normalised, unrotated projection) separately, so both
  count: d_k + d_v = 512 + 512 per KV head.
- bytes per element: f16 = 2; q8_0 = 34/32; q4_0 = 18/32 (gguf-py's GGML_QUANT_SIZES).
- with flash attention off (bakeoff's llamacpp backend, llama-cpp-python's default) llama.cpp
  stores V transposed, and when the V width (KV heads × d_v) differs between layers it pads every
  layer's V to the widest (llama-kv-cache.cpp, TAG_V_CACHE_VARIABLE): Gemma 4 E2B's sliding layers
  (1 × 256) then cache V 512 wide like its global ones; 26B-A4B's and 31B's global layers are
  padded up to their sliding layers' width. Measured on the E2B twin at n_ctx 4096: 96 MiB, not
  the 72 MiB of unpadded widths.

KV bytes *read* per decoded token (roofline): every attending layer, including those that share
an earlier layer's cache, reads the cells it attends over: the depth on global layers,
min(depth, window) on sliding ones (an ideal kernel: a masked full-size cache costs more).
"""

from __future__ import annotations

from dataclasses import dataclass

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from bakeoff.errors import InputError
from bakeoff.estimate.arch import Arch

KV_TYPES = {"f16": GGMLQuantizationType.F16, "f32": GGMLQuantizationType.F32,
            "bf16": GGMLQuantizationType.BF16, "q8_0": GGMLQuantizationType.Q8_0,
            "q4_0": GGMLQuantizationType.Q4_0, "q5_0": GGMLQuantizationType.Q5_0}
UBATCH = 512


def kv_bytes_per_element(kv_type: str) -> float:
    try:
        block, size = GGML_QUANT_SIZES[KV_TYPES[kv_type.lower()]]
    except KeyError:
        raise InputError(f"unknown KV cache type {kv_type!r}; known: {', '.join(KV_TYPES)}") from None
    return size / block


def pad(n: int, to: int = 256) -> int:
    return (n + to - 1) // to * to


@dataclass
class KVLayer:
    index: int
    attention: str  # global | sliding | shared
    cells: int
    kv_heads: int
    head_k: int
    head_v: int
    bytes: int
    v_width: int = 0  # V elements cached per cell: kv_heads × head_v, or the padded width


@dataclass
class KVCache:
    ctx: int
    cells_global: int
    cells_sliding: int | None
    kv_type: str
    bytes_per_element: float
    swa_full: bool
    layers: list[KVLayer]
    ubatch: int = UBATCH
    flash_attn: bool = False

    @property
    def total(self) -> int:
        return sum(layer.bytes for layer in self.layers)

    def to_dict(self) -> dict:
        groups: dict[tuple, dict] = {}
        for layer in self.layers:
            key = (layer.attention, layer.cells, layer.kv_heads, layer.head_k, layer.head_v, layer.v_width)
            g = groups.setdefault(key, {"attention": layer.attention, "cells": layer.cells,
                                        "kv_heads": layer.kv_heads, "head_k": layer.head_k,
                                        "head_v": layer.head_v, "v_width": layer.v_width,
                                        "v_padded": layer.v_width != layer.kv_heads * layer.head_v,
                                        "layers": 0, "bytes": 0})
            g["layers"] += 1
            g["bytes"] += layer.bytes
        return {"bytes": self.total, "ctx": self.ctx, "ubatch": self.ubatch, "cells_global": self.cells_global,
                "cells_sliding": self.cells_sliding, "kv_type": self.kv_type,
                "bytes_per_element": self.bytes_per_element, "swa_full": self.swa_full,
                "flash_attn": self.flash_attn,
                "groups": list(groups.values())}


def effective_ubatch(ctx: int, ubatch: int = UBATCH) -> int:
    """llama.cpp caps the batch at the context with causal attention: n_ubatch = min(512, n_ctx)."""
    return max(1, min(ubatch, ctx))


def v_widths(arch: Arch, flash_attn: bool = False) -> list[int]:
    """V elements cached per cell, per layer (the padding rule in this module's docstring)."""
    widths = [layer.n_head_kv * layer.head_v for layer in arch.layers]
    if not flash_attn and len(set(widths)) > 1:
        return [max(widths)] * len(widths)
    return widths


def kv_cache(arch: Arch, ctx: int, kv_type: str = "f16", swa_full: bool = True, ubatch: int = UBATCH,
             flash_attn: bool = False, n_seq: int = 1, v_pad: bool | None = None, pad_to: int = 256,
             swa_extra: int | None = None) -> KVCache:
    """``n_seq``: sequences sharing one (unified) cache: a sliding layer then keeps a window per
    sequence (llama-kv-cache-iswa.cpp: n_swa × n_seq_max + n_ubatch; llama-server's default is 4
    slots over a unified cache). ``v_pad``: pad V to the widest layer (default: when flash
    attention is off, as llama.cpp does; engines with a tensor per layer never pad).
    ``pad_to``, ``swa_extra``: cell rounding and the cells a sliding layer keeps beyond its
    windows (llama.cpp: 256 and the ubatch)."""
    bpe = kv_bytes_per_element(kv_type)
    widths = v_widths(arch, flash_attn if v_pad is None else not v_pad)
    ubatch = effective_ubatch(ctx, ubatch)
    extra = ubatch if swa_extra is None else swa_extra
    cells_global = pad(ctx, pad_to)
    cells_sliding = None
    if arch.n_swa:
        cells_sliding = cells_global if swa_full or not arch.window else pad(
            min(cells_global, arch.window * n_seq + extra), pad_to)
    layers = []
    for layer in arch.layers:
        if not layer.owns_kv:
            layers.append(KVLayer(layer.index, "shared", 0, layer.n_head_kv, layer.head_k, layer.head_v, 0,
                                  widths[layer.index]))
            continue
        cells = cells_sliding if layer.swa else cells_global
        nbytes = round(cells * (layer.n_head_kv * layer.head_k + widths[layer.index]) * bpe)
        layers.append(KVLayer(layer.index, "sliding" if layer.swa else "global", cells,
                              layer.n_head_kv, layer.head_k, layer.head_v, nbytes, widths[layer.index]))
    return KVCache(ctx, cells_global, cells_sliding, kv_type, bpe, swa_full, layers, ubatch, flash_attn)


def kv_read_by_layer(arch: Arch, depth: int, kv_type: str = "f16") -> list[float]:
    """Bytes of KV cache each layer reads per decoded token with ``depth`` tokens in the cache."""
    bpe = kv_bytes_per_element(kv_type)
    out = []
    for layer in arch.layers:
        src = arch.layers[layer.kv_source]
        cells = min(depth, arch.window) if (src.swa and arch.window) else depth
        out.append(cells * src.n_head_kv * (src.head_k + src.head_v) * bpe)
    return out


def kv_read_per_token(arch: Arch, depth: int, kv_type: str = "f16") -> float:
    """Bytes of KV cache one decoded token reads with ``depth`` tokens already in the cache."""
    return sum(kv_read_by_layer(arch, depth, kv_type))
