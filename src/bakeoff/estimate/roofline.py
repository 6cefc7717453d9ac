"""Decode roofline (docs/estimates.md): tok/s ≤ memory bandwidth / bytes read per decoded token.

Bytes read per token = active weights (bakeoff.estimate.weights: all weights but row lookups,
and for an MoE only experts_used / experts of the routed experts) + the KV cache read at that
depth (bakeoff.estimate.kv.kv_read_per_token). An upper bound: real decoding also spends time
on compute, synchronisation and cache misses, so measured / roofline (the efficiency) is below 1.
The prefill roofline (compute-bound) is not estimated.
"""

from __future__ import annotations

from bakeoff.estimate.arch import Arch
from bakeoff.estimate.kv import kv_read_per_token


def bytes_per_token(active_weight_bytes: float, arch: Arch, depth: int, kv_type: str = "f16") -> float:
    return active_weight_bytes + kv_read_per_token(arch, depth, kv_type)


def decode_tps(bandwidth_gbs: float | None, per_token_bytes: float) -> float | None:
    if not bandwidth_gbs or per_token_bytes <= 0:
        return None
    return bandwidth_gbs * 1e9 / per_token_bytes
