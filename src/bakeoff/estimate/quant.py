"""Which GGML type each tensor gets when llama.cpp quantizes a model to a given file type.

A simplified port of ``llama_tensor_get_type`` (src/llama-quant.cpp, llama.cpp as vendored in
llama-cpp-python 0.3.36), without an importance matrix and without the IQ1/IQ2/IQ3 special
cases. It is how the figures for a catalog or config.json model are *estimated*: a GGUF made
by another tool, or with --tensor-type overrides, can differ. Rules kept:

- only 2-D and 3-D ``*.weight`` tensors are quantized; norms, biases, 1-D tensors stay F32;
  routers (``ffn_gate_inp``) and ``per_layer_model_proj`` stay as in the source (F32, and F16
  as convert_hf_to_gguf.py --outtype f16 writes it; BF16 from --outtype bf16 has the same size);
- the output head (``output.weight``; with tied embeddings ``token_embd.weight`` and Gemma 4's
  ``per_layer_token_embd.weight`` too) becomes Q6_K unless the file type is Q8_0 or unquantized;
- Q4_K_M / Q5_K_M: ``attn_v`` and ``ffn_down`` of the first 1/8, the last 1/8 and every third
  layer between ("use_more_bits") become Q6_K; Q4_K_S: the first 4 ``attn_v`` and the first 1/8
  ``ffn_down`` become Q5_K; Q3_K_M and Q2_K lift ``attn_v``, ``attn_output`` and ``ffn_down``
  as llama.cpp does; with 8 experts ``attn_k``/``attn_v`` become Q8_0;
- a row width that does not divide by the type's block falls back (Q4_K -> Q5_0, Q5_K -> Q5_1,
  Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, IQ4_XS -> IQ4_NL, and F16 when even that does not divide).
"""

from __future__ import annotations

import re

from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as T

from bakeoff.errors import InputError

# file type -> default tensor type (llama_ftype_get_default_type)
FILE_TYPES: dict[str, T] = {
    "F32": T.F32, "F16": T.F16, "BF16": T.BF16, "Q8_0": T.Q8_0, "Q6_K": T.Q6_K,
    "Q5_K_M": T.Q5_K, "Q5_K_S": T.Q5_K, "Q5_0": T.Q5_0, "Q5_1": T.Q5_1,
    "Q4_K_M": T.Q4_K, "Q4_K_S": T.Q4_K, "Q4_0": T.Q4_0, "Q4_1": T.Q4_1,
    "Q3_K_L": T.Q3_K, "Q3_K_M": T.Q3_K, "Q3_K_S": T.Q3_K, "Q2_K": T.Q2_K,
    "IQ4_XS": T.IQ4_XS, "IQ4_NL": T.IQ4_NL,
}
DEFAULT_FILE_TYPE = "Q4_K_M"

_FALLBACK = {T.Q4_K: T.Q5_0, T.Q5_K: T.Q5_1, T.Q6_K: T.Q8_0, T.Q2_K: T.Q4_0, T.Q3_K: T.Q4_0,
             T.IQ4_XS: T.IQ4_NL}
_UNQUANTIZED = {T.F32, T.F16, T.BF16}
_LAYER = re.compile(r"^blk\.(\d+)\.")


def parse_file_type(name: str) -> str:
    key = name.strip().upper().replace("-", "_")
    if key not in FILE_TYPES:
        raise InputError(f"unknown quantization {name!r}; known: {', '.join(FILE_TYPES)}")
    return key


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fallback(ttype: T, ncols: int) -> T:
    block = GGML_QUANT_SIZES[ttype][0]
    if ncols % block == 0:
        return ttype
    alt = _FALLBACK.get(ttype, ttype)
    return alt if ncols % GGML_QUANT_SIZES[alt][0] == 0 else T.F16


def assign_types(shapes: list[tuple[str, list[int]]], file_type: str, n_layer: int,
                 n_expert: int = 0, n_gqa: int = 1) -> list[tuple[str, list[int], int]]:
    """(name, dims) -> (name, dims, ggml type) for a model quantized to ``file_type``."""
    ftype = parse_file_type(file_type)
    base = FILE_TYPES[ftype]
    tied = not any(name == "output.weight" for name, _ in shapes)
    n_attn_v = sum(1 for name, _ in shapes if name.endswith("attn_v.weight"))
    i_attn_v = 0
    i_ffn_down = 0
    out = []
    for name, dims in shapes:
        if (len(dims) < 2 or not name.endswith(".weight") or "_norm.weight" in name
                or name.endswith("norm.weight")):
            out.append((name, dims, int(T.F32)))
            continue
        if "ffn_gate_inp" in name:
            out.append((name, dims, int(T.F32)))
            continue
        if "per_layer_model_proj" in name:
            out.append((name, dims, int(T.F16)))
            continue
        new = base
        if base in _UNQUANTIZED:
            out.append((name, dims, int(base)))
            continue
        is_output = name == "output.weight" or (tied and name in ("token_embd.weight", "per_layer_token_embd.weight"))
        if is_output:
            ncols = dims[0]
            if ncols % GGML_QUANT_SIZES[base][0] != 0:
                new = T.Q8_0
            elif base != T.Q8_0:
                new = T.Q6_K
            out.append((name, dims, int(new)))
            continue
        m = _LAYER.match(name)
        layer = int(m.group(1)) if m else 0
        if name.endswith("attn_v.weight"):
            if ftype == "Q2_K":
                new = T.Q4_K if n_gqa >= 4 else T.Q3_K
            elif ftype == "Q3_K_M":
                new = T.Q5_K if i_attn_v < 2 else T.Q4_K
            elif ftype == "Q3_K_L" or ftype in ("IQ4_NL", "IQ4_XS") and n_gqa >= 4:
                new = T.Q5_K
            elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i_attn_v, n_attn_v):
                new = T.Q6_K
            elif ftype == "Q4_K_S" and i_attn_v < 4:
                new = T.Q5_K
            if n_expert == 8:
                new = T.Q8_0
            i_attn_v += 1
        elif name.endswith("attn_k.weight"):
            if n_expert == 8:
                new = T.Q8_0
        elif "ffn_down" in name:
            i = layer if n_expert > 1 else i_ffn_down
            if ftype == "Q2_K":
                new = T.Q3_K
            elif ftype == "Q3_K_M":
                new = T.Q5_K if i < n_layer // 16 else T.Q4_K
            elif ftype == "Q3_K_L":
                new = T.Q5_K
            elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n_layer):
                new = T.Q6_K
            elif ftype == "Q4_K_S" and i < n_layer // 8:
                new = T.Q5_K
            i_ffn_down += 1
        elif name.endswith("attn_output.weight"):
            if n_expert == 8 and ftype in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M", "IQ4_NL", "IQ4_XS"):
                new = T.Q5_K
            elif n_expert != 8:
                new = {"Q2_K": T.Q3_K, "Q3_K_M": T.Q4_K, "Q3_K_L": T.Q5_K}.get(ftype, new)
        out.append((name, dims, int(_fallback(new, dims[0]))))
    return out
