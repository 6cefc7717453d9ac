"""Random tensor data of any GGML type, written straight in that type (no F16 intermediate).

Speed and memory depend on the bytes' layout, not their values, but the values must stay
finite: a block's fp16 scale fields (``d``, ``dmin``) are set to a small constant, and its
quant bits are random. Offsets are those of ggml's block structs (ggml-common.h).
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as T

# byte offsets of the fp16 fields of each block: (scale d, min dmin) where the type has them
_SCALES: dict[T, tuple[int, ...]] = {
    T.Q4_0: (0,), T.Q4_1: (0, 2), T.Q5_0: (0,), T.Q5_1: (0, 2), T.Q8_0: (0,), T.IQ4_NL: (0,),
    T.IQ4_XS: (0,), T.Q2_K: (80, 82), T.Q3_K: (108,), T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,),
}
SCALE = np.float16(2.0**-10)
POOL_BYTES = 16 * 2**20  # one pool per type, written over and over: values do not matter, speed of writing does


def supported(ttype: int) -> bool:
    t = T(ttype)
    return t in _SCALES or t in (T.F32, T.F16, T.BF16)


def _pool(ttype: T, rng: np.random.Generator) -> bytes:
    if ttype == T.F32:
        return (rng.standard_normal(POOL_BYTES // 4) * 0.02).astype(np.float32).tobytes()
    if ttype == T.F16:
        return (rng.standard_normal(POOL_BYTES // 2) * 0.02).astype(np.float16).tobytes()
    if ttype == T.BF16:
        f32 = (rng.standard_normal(POOL_BYTES // 2) * 0.02).astype(np.float32)
        return (f32.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    _, size = GGML_QUANT_SIZES[ttype]
    n = POOL_BYTES // size
    blocks = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for i, off in enumerate(_SCALES[ttype]):
        value = SCALE if i == 0 else np.float16(0)
        blocks[:, off:off + 2] = np.frombuffer(value.tobytes(), dtype=np.uint8)
    return blocks.tobytes()


class BlockWriter:
    """Writes ``nbytes`` of random data of a type, from a pool made once per type."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.pools: dict[T, bytes] = {}

    def write(self, fp: BinaryIO, ttype: int, nbytes: int, on_bytes=None) -> None:
        t = T(ttype)
        if t not in self.pools:
            self.pools[t] = _pool(t, self.rng)
        pool = memoryview(self.pools[t])
        left = nbytes
        while left:
            # a whole number of the type's blocks per chunk, so every block keeps its scales
            chunk = min(left, len(pool))
            fp.write(pool[:chunk])
            left -= chunk
            if on_bytes:
                on_bytes(chunk)

    @staticmethod
    def values(values: list[float]) -> bytes:
        return np.asarray(values, dtype=np.float32).tobytes()
