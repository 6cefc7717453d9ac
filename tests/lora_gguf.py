"""A real LoRA adapter GGUF for SmolLM2-135M, written with gguf-py in the format llama.cpp loads.

The format follows llama.cpp's own converter (``convert_lora_to_gguf.py``) and loader
(``src/llama-adapter.cpp``, ``llama_adapter_lora_init_impl``) as vendored in llama-cpp-python 0.3.36:

* metadata: ``general.architecture`` = the base model's arch (must match, else "model arch and
  LoRA arch mismatch"), ``general.type`` = "adapter", ``adapter.type`` = "lora",
  ``adapter.lora.alpha`` (float32; the applied scale is alpha / rank);
* tensors: for a base tensor ``W`` named ``blk.N.attn_q.weight``, a pair
  ``blk.N.attn_q.weight.lora_a`` and ``.lora_b`` (any other suffix is rejected, except ``*_norm.weight``).
  In ggml order (ne0 first) the loader requires ``W.ne0 == A.ne0`` (input features),
  ``W.ne1 == B.ne1`` (output features) and ``A.ne1 == B.ne0`` (the rank). gguf-py takes numpy
  arrays in row-major order (shape reversed against ne), so A is numpy ``(rank, n_in)`` and B is
  numpy ``(n_out, rank)``: PEFT's own lora_A / lora_B layout, delta W = B @ A.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

# SmolLM2-135M: llama arch, 30 layers, hidden 576, 9 query heads of 64 (so attn_q is 576 -> 576).
HIDDEN = 576


def write_lora_adapter(path: Path, *, layers: tuple[int, ...] = (0, 1, 2, 3), rank: int = 8,
                       alpha: float = 16.0, std: float = 0.25, seed: int = 1234,
                       dtype: type = np.float32, arch: str = "llama") -> Path:
    """Write a LoRA adapter on ``blk.N.attn_q.weight`` for the given layers, with seeded random A, B."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), arch)  # writes general.architecture
    writer.add_type(gguf.GGUFType.ADAPTER)  # general.type = "adapter"
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")  # adapter.type
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)  # adapter.lora.alpha
    writer.add_name("bakeoff test adapter (random)")
    for layer in layers:
        name = f"blk.{layer}.attn_q.weight"
        lora_a = (rng.standard_normal((rank, HIDDEN)) * std).astype(dtype)  # ne = [n_in, rank]
        lora_b = (rng.standard_normal((HIDDEN, rank)) * std).astype(dtype)  # ne = [rank, n_out]
        writer.add_tensor(f"{name}.lora_a", lora_a)
        writer.add_tensor(f"{name}.lora_b", lora_b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
