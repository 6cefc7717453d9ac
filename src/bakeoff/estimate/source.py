"""MODEL for `bakeoff fit`: a GGUF file or packaged alias, an HF config.json, or a catalog id.

Each gives an ``Arch`` (bakeoff.estimate.arch) and a tensor list with GGML types: the file's own
for a GGUF (exact), llama.cpp's quantizer rules at the requested type for the others (estimated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from bakeoff.errors import InputError
from bakeoff.estimate.arch import Arch, Layer, kv_sources, layer_pattern
from bakeoff.models.gguf_header import GGUFHeader, file_type_name, read_header
from bakeoff.estimate.quant import DEFAULT_FILE_TYPE, assign_types, parse_file_type
from bakeoff.estimate.tensors import tensor_shapes


@dataclass
class ModelSource:
    ref: str
    kind: str  # gguf | hf-config | catalog
    arch: Arch
    tensors: list[tuple[str, list[int], int]]
    quant: str | None
    types: str  # "read from the GGUF" | "estimated: llama.cpp quantizer rules for Q4_K_M"
    source: str  # where the architecture numbers come from
    path: Path | None = None
    vocab_entries: int | None = None  # tokens + merges, for the runtime estimate
    notes: list[str] = field(default_factory=list)


# --- catalog --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict]:
    text = resources.files("bakeoff.estimate").joinpath("data/models.yaml").read_text()
    return yaml.safe_load(text)


def _arch_from_catalog(entry: dict) -> Arch:
    n_layer = entry["layers"]
    family = entry["family"]
    swa = layer_pattern(n_layer, entry.get("global_every"), last_global=family == "gemma4")
    sources = kv_sources(swa, entry.get("kv_shared_layers", 0))
    layers = []
    for i in range(n_layer):
        glob = not swa[i]
        shared = sources[i] != i
        n_ff = entry["ffn"] * (2 if entry.get("double_wide_mlp") and shared else 1)
        layers.append(Layer(
            index=i, swa=swa[i], n_head=entry["heads"],
            n_head_kv=entry.get("kv_heads_global", entry["kv_heads"]) if glob else entry["kv_heads"],
            head_k=entry.get("head_dim_global", entry["head_dim"]) if glob else entry["head_dim"],
            head_v=entry.get("head_dim_global", entry["head_dim"]) if glob else entry["head_dim"],
            n_ff=n_ff, kv_source=sources[i], has_v_proj=not (glob and entry.get("k_eq_v"))))
    return Arch(family=family, n_layer=n_layer, n_embd=entry["hidden"], n_vocab=entry["vocab"], layers=layers,
                window=entry.get("window"), n_ctx_train=entry.get("context"),
                n_expert=entry.get("experts", 0), n_expert_used=entry.get("experts_used", 0),
                n_ff_exp=entry.get("expert_ffn", 0), per_layer_embd=entry.get("per_layer_embd", 0),
                tied_embeddings=entry.get("tied_embeddings", True), qkv_bias=entry.get("qkv_bias", False),
                merges=entry.get("merges"), name=entry.get("name"), params_note=entry.get("params"))


# --- HF config.json -------------------------------------------------------------------------

_FAMILIES = {"gemma3_text": "gemma3", "gemma3": "gemma3", "gemma4_text": "gemma4", "gemma4": "gemma4",
             "gemma2": "gemma2", "mistral": "llama", "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
             "qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe", "mixtral": "llama", "phi3": "phi3"}


def _arch_from_config(cfg: dict, path: Path) -> Arch:
    top = cfg
    cfg = cfg.get("text_config") or cfg
    model_type = cfg.get("model_type") or top.get("model_type") or "unknown"
    family = _FAMILIES.get(model_type, model_type)
    try:
        n_layer = int(cfg["num_hidden_layers"])
        n_embd = int(cfg["hidden_size"])
        n_vocab = int(cfg["vocab_size"])
        n_head = int(cfg["num_attention_heads"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a model config.json (missing or bad {exc})") from None
    if min(n_layer, n_embd, n_vocab, n_head) <= 0 or n_layer > 10_000 or n_embd > 10**6:
        raise InputError(f"{path}: num_hidden_layers, hidden_size, vocab_size and num_attention_heads must be "
                         "positive (and plausible)")
    n_head_kv = int(cfg.get("num_key_value_heads") or n_head)
    head_dim = int(cfg.get("head_dim") or n_embd // n_head)
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(types) == n_layer:
        swa = [t == "sliding_attention" for t in types]
    elif window and family in ("gemma3", "gemma2", "gemma4"):
        every = int(cfg.get("sliding_window_pattern") or {"gemma2": 2, "gemma3": 6, "gemma4": 6}[family])
        swa = layer_pattern(n_layer, every, last_global=family == "gemma4")
    else:  # llama.cpp applies no sliding window to llama/mistral/qwen2 models: every layer is global
        swa = [False] * n_layer
    if not any(swa):
        window = None
    sources = kv_sources(swa, int(cfg.get("num_kv_shared_layers") or 0))
    n_ff = int(cfg.get("intermediate_size") or 0)
    n_expert = int(cfg.get("num_experts") or cfg.get("num_local_experts") or 0)
    if family == "gemma4" and not cfg.get("enable_moe_block", n_expert > 0):
        n_expert = 0
    n_used = int(cfg.get("top_k_experts") or cfg.get("num_experts_per_tok") or 0)
    n_ff_exp = int(cfg.get("moe_intermediate_size") or cfg.get("expert_intermediate_size") or 0)
    if n_expert and family not in ("gemma4",):
        # Mixtral/Qwen-MoE style: the experts replace the dense FFN (a shared expert, if any, aside)
        n_ff = int(cfg.get("shared_expert_intermediate_size") or 0)
        n_ff_exp = n_ff_exp or int(cfg.get("intermediate_size") or 0)
    head_global = int(cfg.get("global_head_dim") or head_dim)
    kv_global = int(cfg.get("num_global_key_value_heads") or n_head_kv)
    k_eq_v = bool(cfg.get("attention_k_eq_v"))
    layers = []
    for i in range(n_layer):
        glob = not swa[i]
        shared = sources[i] != i
        width = n_ff * (2 if cfg.get("use_double_wide_mlp") and shared else 1)
        hd = head_global if (glob and family == "gemma4") else head_dim
        layers.append(Layer(index=i, swa=swa[i], n_head=n_head,
                            n_head_kv=kv_global if (glob and family == "gemma4") else n_head_kv,
                            head_k=hd, head_v=hd, n_ff=width, kv_source=sources[i],
                            has_v_proj=not (glob and k_eq_v)))
    tied = cfg.get("tie_word_embeddings", top.get("tie_word_embeddings", family.startswith("gemma")))
    return Arch(family=family, n_layer=n_layer, n_embd=n_embd, n_vocab=n_vocab, layers=layers,
                window=int(window) if window else None,
                n_ctx_train=cfg.get("max_position_embeddings"), n_expert=n_expert, n_expert_used=n_used,
                n_ff_exp=n_ff_exp, per_layer_embd=int(cfg.get("hidden_size_per_layer_input") or 0),
                tied_embeddings=bool(tied), qkv_bias=bool(cfg.get("attention_bias", family == "qwen2")),
                merges=None, name=cfg.get("_name_or_path") or top.get("_name_or_path"))


# --- GGUF -----------------------------------------------------------------------------------


def _per_layer(value, n_layer: int, default: int) -> list[int]:
    if isinstance(value, list):
        if len(value) != n_layer:
            raise InputError(f"per-layer array of {len(value)} values for {n_layer} layers")
        return [int(v) for v in value]
    return [int(value if value is not None else default)] * n_layer


def _arch_from_gguf(h: GGUFHeader) -> Arch:
    m = h.metadata
    a = m.get("general.architecture")
    if not a:
        raise InputError(f"{h.path}: the GGUF names no architecture (general.architecture)")

    def key(name, default=None):
        return m.get(f"{a}.{name}", default)

    n_layer = key("block_count")
    n_embd = key("embedding_length")
    if not n_layer or not n_embd:
        raise InputError(f"{h.path}: the GGUF lacks {a}.block_count or {a}.embedding_length")
    if not (isinstance(n_layer, int) and isinstance(n_embd, int) and 0 < n_layer <= 10_000 and 0 < n_embd <= 10**6):
        raise InputError(f"{h.path}: implausible {a}.block_count {n_layer!r} or embedding_length {n_embd!r}")
    names = {t[0]: t for t in h.tensors}
    tok = names.get("token_embd.weight")
    n_vocab = key("vocab_size") or (tok[1][1] if tok and len(tok[1]) > 1 else h.array_lengths.get("tokenizer.ggml.tokens", 0))
    heads = _per_layer(key("attention.head_count"), n_layer, 0)
    heads_kv = _per_layer(key("attention.head_count_kv"), n_layer, heads[0])
    head_k = key("attention.key_length") or (n_embd // heads[0] if heads[0] else 0)
    head_v = key("attention.value_length") or head_k
    head_k_swa = key("attention.key_length_swa") or head_k
    head_v_swa = key("attention.value_length_swa") or head_v
    window = key("attention.sliding_window")
    pattern = key("attention.sliding_window_pattern")
    if isinstance(pattern, list):
        swa = [bool(x) for x in pattern][:n_layer]
    elif window:
        every = pattern if isinstance(pattern, int) else {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4}.get(a)
        swa = layer_pattern(n_layer, every) if every else [False] * n_layer
    else:
        swa = [False] * n_layer
    if not any(swa):
        window = None
    sources = kv_sources(swa, int(key("attention.shared_kv_layers") or 0))
    ffn = _per_layer(key("feed_forward_length"), n_layer, 0)
    layers = []
    for i in range(n_layer):
        layers.append(Layer(
            index=i, swa=swa[i], n_head=heads[i], n_head_kv=heads_kv[i],
            head_k=head_k_swa if swa[i] else head_k, head_v=head_v_swa if swa[i] else head_v,
            n_ff=ffn[i], kv_source=sources[i],
            has_v_proj=f"blk.{i}.attn_v.weight" in names or f"blk.{i}.attn_qkv.weight" in names
            or sources[i] != i))
    n_expert = int(key("expert_count") or 0)
    return Arch(family=a, n_layer=n_layer, n_embd=n_embd, n_vocab=int(n_vocab), layers=layers,
                window=int(window) if window else None, n_ctx_train=key("context_length"),
                n_expert=n_expert, n_expert_used=int(key("expert_used_count") or 0),
                n_ff_exp=int(key("expert_feed_forward_length") or 0) if not isinstance(
                    key("expert_feed_forward_length"), list) else max(key("expert_feed_forward_length")),
                per_layer_embd=int(key("embedding_length_per_layer_input") or 0),
                tied_embeddings="output.weight" not in names,
                qkv_bias="blk.0.attn_q.bias" in names,
                merges=h.array_lengths.get("tokenizer.ggml.merges", 0),
                name=m.get("general.name"))


# --- entry point ----------------------------------------------------------------------------


def _estimated_tensors(arch: Arch, quant: str | None) -> tuple[list, str]:
    q = parse_file_type(quant or DEFAULT_FILE_TYPE)
    n_gqa = max(1, arch.layers[0].n_head // max(1, arch.layers[0].n_head_kv)) if arch.layers else 1
    tensors = assign_types(tensor_shapes(arch), q, arch.n_layer, arch.n_expert, n_gqa)
    return tensors, q


def load_model_from_catalog(ref: str, quant: str | None = None) -> ModelSource:
    entry = catalog()[ref]
    arch = _arch_from_catalog(entry)
    tensors, q = _estimated_tensors(arch, quant)
    return ModelSource(ref=ref, kind="catalog", arch=arch, tensors=tensors, quant=q,
                       types=f"estimated: llama.cpp quantizer rules for {q}", source=entry["source"],
                       vocab_entries=arch.n_vocab + (arch.merges or 0))


def load_model(ref: str, quant: str | None = None) -> ModelSource:
    from bakeoff.models import PACKAGED, resolve_model

    path = Path(ref).expanduser()
    if ref in PACKAGED and PACKAGED[ref].part_paths() is None and ref in catalog() and not path.exists():
        src = load_model_from_catalog(ref, quant)
        src.notes.append(f"{ref}: the packaged GGUF is not installed; figures from the catalog entry")
        return src
    if ref in PACKAGED or path.suffix.lower() == ".gguf" or (path.is_file() and path.suffix.lower() != ".json"):
        gguf_path = resolve_model(ref)
        h = read_header(gguf_path)
        try:
            arch = _arch_from_gguf(h)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
            raise InputError(f"{gguf_path}: unexpected GGUF metadata ({type(exc).__name__}: {exc})") from None
        notes = []
        label = file_type_name(h.metadata.get("general.file_type"))
        tensors, types = h.tensors, "read from the GGUF header"
        if quant:  # what requantizing this file would give (llama_model_quantize, allow_requantize)
            q = parse_file_type(quant)
            n_gqa = max(1, arch.layers[0].n_head // max(1, arch.layers[0].n_head_kv)) if arch.layers else 1
            tensors = assign_types([(name, dims) for name, dims, _ in h.tensors], q, arch.n_layer,
                                   arch.n_expert, n_gqa)
            types = f"estimated: llama.cpp quantizer rules for {q} applied to this file's tensors (now {label})"
            label = q
        entries = h.array_lengths.get("tokenizer.ggml.tokens", arch.n_vocab) + h.array_lengths.get("tokenizer.ggml.merges", 0)
        return ModelSource(ref=ref, kind="gguf", arch=arch, tensors=tensors, quant=label,
                           types=types, path=gguf_path,
                           source=f"GGUF metadata of {gguf_path}", vocab_entries=entries, notes=notes)
    if path.suffix.lower() == ".json" or path.name == "config.json":
        if not path.is_file():
            raise InputError(f"config file {ref!r} does not exist")
        try:
            cfg = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable config.json ({exc})") from None
        if not isinstance(cfg, dict):
            raise InputError(f"{path}: not a model config.json (not a JSON object)")
        try:
            arch = _arch_from_config(cfg, path)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError) as exc:
            raise InputError(f"{path}: unexpected config.json content ({type(exc).__name__}: {exc})") from None
        tensors, q = _estimated_tensors(arch, quant)
        return ModelSource(ref=ref, kind="hf-config", arch=arch, tensors=tensors, quant=q,
                           types=f"estimated: llama.cpp quantizer rules for {q}", path=path,
                           source=f"{path}", notes=[(
                               "tokenizer size unknown from config.json: runtime memory assumes as many "
                               "BPE merges as tokens (none for Gemma)")])
    entries = catalog()
    if ref in entries:
        return load_model_from_catalog(ref, quant)
    known = ", ".join(sorted(entries))
    raise InputError(f"unknown model {ref!r}: not a GGUF file, a config.json, a packaged alias "
                     f"({', '.join(PACKAGED)}) nor a catalog id ({known})")
