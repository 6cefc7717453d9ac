"""Weight bytes: Σ over tensors of elements / block size × block bytes (docs/estimates.md).

Block sizes and bytes come from gguf-py's GGML_QUANT_SIZES (Q4_K 256 elements in 144 bytes,
Q8_0 32 in 34, F16 1 in 2, ...). The same walk splits the weights into what a decoded token
reads (for the roofline) and what it does not:

- lookups: ``token_embd`` when the model has a separate output head, and Gemma 4's
  ``per_layer_token_embd`` (a per-layer embedding is one row gathered per token);
- experts: ``*_exps`` tensors; a token reads only ``experts_used / experts`` of them;
- everything else is read once per token (with tied embeddings ``token_embd`` *is* the output
  head, so it is read in full).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from bakeoff.errors import InputError


def type_name(ttype: int) -> str:
    try:
        return GGMLQuantizationType(ttype).name
    except ValueError:
        return f"type {ttype}"


def tensor_bytes(dims: list[int], ttype: int) -> int:
    n = 1
    for d in dims:
        n *= d
    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
    except (ValueError, KeyError):
        raise InputError(f"unknown GGML tensor type {ttype} (newer than this gguf package?)") from None
    return n // block * size


@dataclass
class Weights:
    total: int = 0
    params: int = 0
    lookup: int = 0  # bytes gathered by row, not read whole per token
    experts: int = 0  # bytes of routed experts (all of them)
    token_embd: int = 0
    tied: bool = True  # no separate output.weight: the token embedding is the output head
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> {tensors, params, bytes}

    def active_per_token(self, n_expert: int, n_expert_used: int) -> float:
        """Bytes of weights one decoded token reads."""
        dense = self.total - self.lookup - self.experts
        routed = self.experts * (n_expert_used / n_expert) if n_expert else self.experts
        return dense + routed

    def resident(self, kind: str, family: str) -> tuple[int, str]:
        """Weight bytes in the memory that ``kind`` of hardware fills, and why, as llama.cpp
        (0.3.36) places them: the input layer (token and per-layer embeddings) always stays in
        host RAM; a tied output head used from another device is a second copy there.

        - cpu: every tensor once, except Gemma 4, whose loader creates the tied output head
          before the token embedding, so the CPU buffer holds the embedding twice (checked on a
          Gemma 4 GGUF: "CPU model buffer size" = tensors + token_embd);
        - gpu (VRAM): every tensor but the input-layer lookups (a tied output head's copy is in
          VRAM, the embedding it copies in RAM);
        - unified: every tensor, plus the tied output head's copy in the GPU's buffers.
        """
        if kind == "gpu":
            return self.total - self.lookup, "all tensors but the input-layer lookups (kept in host RAM)"
        if kind == "unified":
            dup = self.token_embd if self.tied else 0
            return self.total + dup, "all tensors" + (", plus the tied output head's copy" if dup else "")
        dup = self.token_embd if (self.tied and family == "gemma4") else 0
        return self.total + dup, "all tensors" + (", plus llama.cpp's second copy of Gemma 4's tied embedding"
                                                  if dup else "")

    def to_dict(self) -> dict:
        return {"bytes": self.total, "params": self.params, "lookup_bytes": self.lookup,
                "expert_bytes": self.experts, "token_embd_bytes": self.token_embd, "tied": self.tied,
                "by_type": self.by_type}


def weigh(tensors: list[tuple[str, list[int], int]]) -> Weights:
    names = {name for name, _, _ in tensors}
    separate_output = "output.weight" in names
    w = Weights(tied=not separate_output)
    for name, dims, ttype in tensors:
        nbytes = tensor_bytes(dims, ttype)
        n = 1
        for d in dims:
            n *= d
        w.total += nbytes
        w.params += n
        row = w.by_type.setdefault(type_name(ttype), {"tensors": 0, "params": 0, "bytes": 0})
        row["tensors"] += 1
        row["params"] += n
        row["bytes"] += nbytes
        if name == "token_embd.weight":
            w.token_embd = nbytes
        if name == "per_layer_token_embd.weight" or (name == "token_embd.weight" and separate_output):
            w.lookup += nbytes
        elif "_exps." in name:
            w.experts += nbytes
    return w


@dataclass
class LayerWeights:
    """The weights split the way llama.cpp places them (bakeoff.estimate.placement): per repeating
    layer, the part a token reads whole (attention, norms, dense or shared FFN, router) and the
    routed experts (``*_exps``); outside the layers, the input-layer lookups (always in host RAM),
    the output head and the other tensors read once per token."""

    dense: list[int]
    experts: list[int]
    token_embd: int = 0
    output_weight: int = 0  # a separate output head; 0 when the head is the tied token embedding
    per_layer_lookup: int = 0  # Gemma 4's per_layer_token_embd
    other: int = 0  # output_norm and other tensors outside the layers

    @property
    def tied(self) -> bool:
        return self.output_weight == 0

    @property
    def head(self) -> int:
        """Bytes of the output head a token reads (the token embedding when tied)."""
        return self.output_weight or self.token_embd


_BLK = re.compile(r"^blk\.(\d+)\.")


def by_layer(tensors: list[tuple[str, list[int], int]], n_layer: int) -> LayerWeights:
    lw = LayerWeights(dense=[0] * n_layer, experts=[0] * n_layer)
    for name, dims, ttype in tensors:
        nbytes = tensor_bytes(dims, ttype)
        m = _BLK.match(name)
        if m and int(m.group(1)) < n_layer:
            i = int(m.group(1))
            if "_exps." in name:
                lw.experts[i] += nbytes
            else:
                lw.dense[i] += nbytes
        elif name == "token_embd.weight":
            lw.token_embd += nbytes
        elif name == "output.weight":
            lw.output_weight += nbytes
        elif name == "per_layer_token_embd.weight":
            lw.per_layer_lookup += nbytes
        else:
            lw.other += nbytes
    return lw
