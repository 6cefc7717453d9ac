"""A Gemma 4 vision projector twin: an mmproj GGUF (architecture ``clip``, projector type
``gemma4v``) with the real layout and random weights, which llama.cpp's mtmd loads and runs.

What it must hold is what llama.cpp's loader reads (vendored llama.cpp: tools/mtmd/clip.cpp
``load_hparams``/``load_tensors``, clip-impl.h for the names, models/gemma4v.cpp for the graph):
the ``clip.vision.*`` keys, a patch-embedding convolution without bias, a learned 2-D position
table (one row per x and per y position), a ViT of RMS-normed blocks (q/k norms, post-attention
and post-FFN norms, a GELU-gated FFN, a per-layer output scale), then the pooler (average over
3 x 3 patches, no weights) and ``mm.input_projection`` into the text model's width. Image tokens
per image are set at run time (mtmd's ``image_min_tokens``/``image_max_tokens``: Gemma 4's budget).

Its encode time and memory are the real encoder's at those dimensions; its embeddings are noise.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bakeoff import __version__
from bakeoff.errors import InputError

@dataclass(frozen=True)
class VisionDims:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    head_dim: int
    patch_size: int = 16
    pooling_kernel_size: int = 3
    position_embedding_size: int = 10240
    rms_norm_eps: float = 1e-6
    standardize: bool = False

    @classmethod
    def from_config(cls, data: dict[str, Any], where: str) -> "VisionDims":
        """A Hugging Face ``vision_config`` (of a Gemma 4 config.json, or on its own)."""
        cfg = data.get("vision_config", data)
        try:
            return cls(**{k: cfg[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                               "num_attention_heads", "head_dim")},
                       **{k: cfg[k] for k in ("patch_size", "pooling_kernel_size", "position_embedding_size",
                                              "rms_norm_eps", "standardize") if k in cfg})
        except KeyError as exc:
            raise InputError(f"{where}: the vision config has no {exc.args[0]!r}") from None
        except TypeError as exc:
            raise InputError(f"{where}: not a vision config: {exc}") from None


# Gemma 4's vision encoders (transformers' Gemma4VisionConfig as public configs write it): a
# 768-wide tower for E2B/E4B, a 1152-wide one (with standardisation) for 26B-A4B and 31B. Layer
# counts and FFN widths are the SigLIP-family values these widths come with (docs/vision.md).
GEMMA4_SMALL = VisionDims(hidden_size=768, intermediate_size=3072, num_hidden_layers=16,
                          num_attention_heads=12, head_dim=64)
GEMMA4_LARGE = VisionDims(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                          num_attention_heads=16, head_dim=72, standardize=True)


def gemma4_dims(text_width: int) -> VisionDims:
    return GEMMA4_LARGE if text_width >= 2816 else GEMMA4_SMALL


def tensor_shapes(dims: VisionDims, text_width: int) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape, type) of every tensor; numpy shapes are ggml's ``ne`` reversed."""
    d, ff, qkv = dims.hidden_size, dims.intermediate_size, dims.num_attention_heads * dims.head_dim
    p = dims.patch_size
    out = [("v.patch_embd.weight", (d, 3, p, p), "F16"),
           ("v.position_embd.weight", (2, dims.position_embedding_size, d), "F32"),
           ("mm.input_projection.weight", (text_width, d), "F16")]
    if dims.standardize:
        out += [("v.std_bias", (d,), "F32"), ("v.std_scale", (d,), "F32")]
    for i in range(dims.num_hidden_layers):
        b = f"v.blk.{i}"
        out += [(f"{b}.attn_q.weight", (qkv, d), "F16"), (f"{b}.attn_k.weight", (qkv, d), "F16"),
                (f"{b}.attn_v.weight", (qkv, d), "F16"), (f"{b}.attn_out.weight", (d, qkv), "F16"),
                (f"{b}.attn_q_norm.weight", (dims.head_dim,), "F32"),
                (f"{b}.attn_k_norm.weight", (dims.head_dim,), "F32"),
                (f"{b}.ln1.weight", (d,), "F32"), (f"{b}.ln2.weight", (d,), "F32"),
                (f"{b}.attn_post_norm.weight", (d,), "F32"), (f"{b}.ffn_post_norm.weight", (d,), "F32"),
                (f"{b}.ffn_gate.weight", (ff, d), "F16"), (f"{b}.ffn_up.weight", (ff, d), "F16"),
                (f"{b}.ffn_down.weight", (d, ff), "F16"), (f"{b}.out_scale.weight", (1,), "F32")]
    return out


def projector_params(dims: VisionDims, text_width: int) -> int:
    return sum(int(np.prod(shape)) for _, shape, _ in tensor_shapes(dims, text_width))


def _key(dims: VisionDims, text_width: int) -> str:
    payload = json.dumps([asdict(dims), text_width, __version__], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def build_projector_twin(dims: VisionDims, text_width: int, directory: Path, seed: int = 0) -> Path:
    """Write the mmproj twin (cached by its dimensions); return its path."""
    from gguf import GGUFWriter

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"gemma4v-mmproj-{dims.hidden_size}x{dims.num_hidden_layers}-to{text_width}-{_key(dims, text_width)}.gguf"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    os.close(fd)
    try:
        w = GGUFWriter(tmp, "clip", use_temp_file=False)
        w.add_name(f"Gemma 4 vision projector twin ({dims.hidden_size} wide, {dims.num_hidden_layers} layers, "
                   "random weights)")
        w.add_bool("clip.has_vision_encoder", True)
        w.add_string("clip.projector_type", "gemma4v")
        w.add_bool("clip.use_gelu", True)  # gelu_pytorch_tanh
        w.add_uint32("clip.vision.image_size", 224)  # unused by gemma4v (convert_hf_to_gguf writes 224 too)
        w.add_uint32("clip.vision.patch_size", dims.patch_size)
        w.add_uint32("clip.vision.embedding_length", dims.hidden_size)
        w.add_uint32("clip.vision.feed_forward_length", dims.intermediate_size)
        w.add_uint32("clip.vision.block_count", dims.num_hidden_layers)
        w.add_uint32("clip.vision.projection_dim", text_width)
        w.add_uint32("clip.vision.attention.head_count", dims.num_attention_heads)
        w.add_uint32("clip.vision.attention.head_dim", dims.head_dim)
        w.add_float32("clip.vision.attention.layer_norm_epsilon", dims.rms_norm_eps)
        w.add_uint32("clip.vision.projector.scale_factor", dims.pooling_kernel_size)
        w.add_array("clip.vision.image_mean", [0.0, 0.0, 0.0])  # the graph itself maps [0, 1] to [-1, 1]
        w.add_array("clip.vision.image_std", [1.0, 1.0, 1.0])
        w.add_bool("bakeoff.twin", True)
        w.add_string("bakeoff.twin.version", __version__)
        for name, shape, kind in tensor_shapes(dims, text_width):
            if name.endswith(("norm.weight", "ln1.weight", "ln2.weight", "out_scale.weight", "std_scale")):
                data = np.ones(shape, dtype=np.float32)
            elif name.endswith("std_bias"):
                data = np.zeros(shape, dtype=np.float32)
            else:
                data = rng.standard_normal(shape, dtype=np.float32) * 0.02
            w.add_tensor(name, data.astype(np.float16 if kind == "F16" else np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def text_width_of(model_path: str) -> int:
    """The text model's embedding width (``<arch>.embedding_length``): the projector's output.
    Read with bakeoff's header walker (milliseconds; gguf-py's reader takes seconds on a
    262k-token vocabulary, and this runs at every load)."""
    from bakeoff.models.gguf_header import read_header

    meta = read_header(model_path).metadata
    return int(meta[f"{meta['general.architecture']}.embedding_length"])


def resolve_mmproj(value: str, model_path: str) -> tuple[str, dict[str, Any]]:
    """``mmproj=`` as given -> (projector GGUF path, facts). A .gguf is used as it is; ``twin`` builds
    Gemma 4's real vision encoder as a twin, a .json (a Gemma 4 ``vision_config``) one of those dims."""
    from bakeoff.twin.build import twins_dir

    if value != "twin" and not value.endswith(".json"):
        return str(Path(value).expanduser()), {"mmproj": str(Path(value).expanduser()), "mmproj_twin": False}
    width = text_width_of(model_path)
    if value == "twin":
        dims, source = gemma4_dims(width), "Gemma 4's vision encoder dimensions (bakeoff/twin/vision.py)"
    else:
        try:
            data = json.loads(Path(value).expanduser().read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"mmproj={value}: cannot read the vision config: {exc}") from None
        dims, source = VisionDims.from_config(data, value), f"vision config {value}"
    path = build_projector_twin(dims, width, twins_dir())
    return str(path), {"mmproj": str(path), "mmproj_twin": True, "vision_dims": asdict(dims),
                       "vision_dims_source": source, "projector_params": projector_params(dims, width)}
