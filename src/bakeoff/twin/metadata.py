"""The GGUF key-value metadata of a twin: the architecture keys llama.cpp's loader reads, a
tokenizer and the family's chat template.

The architecture keys are written from an ``Arch`` (bakeoff.estimate.arch), the same description
the memory estimate uses, so a twin and an estimate cannot disagree about the model. Numbers an
``Arch`` does not carry (RoPE bases, norm epsilon, logit soft-capping) change neither speed nor
memory; they take the family's published values below.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gguf import GGUFValueType

from bakeoff.errors import InputError
from bakeoff.estimate.arch import Arch


@dataclass(frozen=True)
class Family:
    rope_base: float
    rms_eps: float
    specials: dict[str, int]  # token text -> the real model's id for it
    control: tuple[str, ...]  # the specials that are control tokens (the rest are user-defined)
    bos: str
    eos: str
    template: str  # file in bakeoff/twin/templates
    rope_base_swa: float | None = None
    softcap: float | None = None


# Special-token ids of the real tokenizers (their tokenizer.json / GGUF vocabularies), so that a
# prompt rendered by the family's template tokenizes to the ids the real model would see.
FAMILIES: dict[str, Family] = {
    "gemma4": Family(
        rope_base=1e6, rope_base_swa=1e4, rms_eps=1e-6, softcap=30.0,
        specials={"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4,
                  "<|tool>": 46, "<tool|>": 47, "<|tool_call>": 48, "<tool_call|>": 49,
                  "<|tool_response>": 50, "<tool_response|>": 51, '<|"|>': 52, "<|think|>": 98,
                  "<|channel>": 100, "<channel|>": 101, "<|turn>": 105, "<turn|>": 106},
        # llama.cpp makes <|tool_response> a control, end-of-generation token for gemma4 whatever
        # the file says: a model hands over to the tool by writing it
        control=("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<|think|>", "<|turn>", "<turn|>",
                 "<|tool_response>"),
        bos="<bos>", eos="<eos>", template="gemma4.jinja"),
    "gemma3": Family(
        rope_base=1e6, rope_base_swa=1e4, rms_eps=1e-6,
        specials={"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<start_of_turn>": 105, "<end_of_turn>": 106},
        control=("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
        bos="<bos>", eos="<eos>", template="gemma3.jinja"),
    "qwen2": Family(
        rope_base=1e6, rms_eps=1e-6,
        specials={"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
                  "<tool_call>": 151657, "</tool_call>": 151658},
        control=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos="<|endoftext|>", eos="<|im_end|>", template="qwen2.jinja"),
    "llama": Family(
        rope_base=5e5, rms_eps=1e-5,
        specials={"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001, "<|start_header_id|>": 128006,
                  "<|end_header_id|>": 128007, "<|eom_id|>": 128008, "<|eot_id|>": 128009,
                  "<|python_tag|>": 128010},
        control=("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                 "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"),
        bos="<|begin_of_text|>", eos="<|eot_id|>", template="llama3.jinja"),
}

# tokenizer.ggml.token_type values (llama.cpp's llama_token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6


def family_of(arch: Arch) -> Family:
    if arch.family not in FAMILIES:
        raise InputError(f"bakeoff twin writes {', '.join(FAMILIES)} architectures; this model is "
                         f"{arch.family!r} (twin an existing GGUF of it instead: its own metadata is copied)")
    return FAMILIES[arch.family]


def arch_keys(arch: Arch) -> list[tuple[str, Any, GGUFValueType]]:
    """The ``{arch}.*`` keys llama.cpp reads for this family (src/models/<family>.cpp and
    llama_model::load_hparams in the vendored llama.cpp of llama-cpp-python 0.3.36)."""
    fam = family_of(arch)
    a = arch.family
    u32, f32, arr = GGUFValueType.UINT32, GGUFValueType.FLOAT32, GGUFValueType.ARRAY
    glob = next((layer for layer in arch.layers if not layer.swa), arch.layers[0])
    slide = next((layer for layer in arch.layers if layer.swa), None)
    keys: list[tuple[str, Any, GGUFValueType]] = [
        (f"{a}.block_count", arch.n_layer, u32),
        (f"{a}.context_length", arch.n_ctx_train or 4096, u32),
        (f"{a}.embedding_length", arch.n_embd, u32),
        (f"{a}.attention.head_count", glob.n_head, u32),
        (f"{a}.attention.key_length", glob.head_k, u32),
        (f"{a}.attention.value_length", glob.head_v, u32),
        (f"{a}.rope.dimension_count", glob.head_k, u32),
        (f"{a}.rope.freq_base", fam.rope_base, f32),
        (f"{a}.attention.layer_norm_rms_epsilon", fam.rms_eps, f32),
    ]
    if len({layer.n_ff for layer in arch.layers}) > 1:
        keys.append((f"{a}.feed_forward_length", [layer.n_ff for layer in arch.layers], arr))
    else:
        keys.append((f"{a}.feed_forward_length", glob.n_ff, u32))
    if len({layer.n_head_kv for layer in arch.layers}) > 1:
        keys.append((f"{a}.attention.head_count_kv", [layer.n_head_kv for layer in arch.layers], arr))
    else:
        keys.append((f"{a}.attention.head_count_kv", glob.n_head_kv, u32))
    if arch.window and slide is not None:
        keys.append((f"{a}.attention.sliding_window", arch.window, u32))
        if fam.rope_base_swa:
            keys.append((f"{a}.rope.freq_base_swa", fam.rope_base_swa, f32))
    if a == "gemma4":
        owners = [layer for layer in arch.layers if layer.owns_kv]
        if arch.n_kv_shared and (len(owners) < 2 or owners[-1].swa or not owners[-2].swa):
            # llama.cpp's KV cache maps each sharing layer to the last cache-owning layer, or the
            # one before it, by kind (llama-kv-cache.cpp asserts when that layer is missing)
            raise InputError("llama.cpp cannot run this Gemma 4 layout: with KV-sharing layers, the last layer "
                             "that owns a KV cache must be global and the one before it sliding "
                             f"(layers {[layer.index for layer in owners[-2:]]} are "
                             f"{['sliding' if layer.swa else 'global' for layer in owners[-2:]]})")
        keys += [
            (f"{a}.attention.sliding_window_pattern", [layer.swa for layer in arch.layers], arr),
            (f"{a}.attention.key_length_swa", (slide or glob).head_k, u32),
            (f"{a}.attention.value_length_swa", (slide or glob).head_v, u32),
            (f"{a}.rope.dimension_count_swa", (slide or glob).head_k, u32),
            (f"{a}.attention.shared_kv_layers", arch.n_kv_shared, u32),
            (f"{a}.embedding_length_per_layer_input", arch.per_layer_embd, u32),
        ]
    if fam.softcap:
        keys.append((f"{a}.final_logit_softcapping", fam.softcap, f32))
    if arch.n_expert:
        keys += [(f"{a}.expert_count", arch.n_expert, u32), (f"{a}.expert_used_count", arch.n_expert_used, u32),
                 (f"{a}.expert_feed_forward_length", arch.n_ff_exp, u32)]
    return keys


def extra_tensors(arch: Arch) -> list[tuple[str, list[int]]]:
    """Tensors llama.cpp needs that hold constants rather than weights (not in the estimate's
    tensor list, and a few hundred bytes): Gemma 4's proportional-RoPE mask."""
    if arch.family != "gemma4":
        return []
    glob = next((layer for layer in arch.layers if not layer.swa), arch.layers[0])
    return [("rope_freqs.weight", [glob.head_k // 2])]


def rope_freqs(n_pairs: int) -> list[float]:
    """Values of the ``rope_freqs.weight`` tensor (one per rotary pair of the global head), as
    llama.cpp's Gemma 4 loader reads it (docs/sources.md): 1.0 for the first quarter of the head
    dimension, 1e30 after (rotation off: proportional RoPE)."""
    return [1.0] * (n_pairs // 4) + [1e30] * (n_pairs - n_pairs // 4)


def synthetic_tokenizer(arch: Arch) -> list[tuple[str, Any, GGUFValueType]]:
    """A SentencePiece-style vocabulary of the model's size: the family's special tokens at their
    real ids, 256 byte tokens (so any text tokenizes), filler pieces elsewhere. Random weights
    make the text meaningless anyway; what matters is the size (the output head and embedding
    are vocabulary-wide) and that templates tokenize to the real special ids."""
    fam = family_of(arch)
    n = arch.n_vocab
    top = max(fam.specials.values())
    if top >= n:
        raise InputError(f"vocabulary of {n} tokens is too small for {arch.family}'s special token ids (up to {top})")
    tokens: list[str | None] = [None] * n
    types = [NORMAL] * n
    for text, tid in fam.specials.items():
        tokens[tid] = text
        types[tid] = CONTROL if text in fam.control else USER_DEFINED
    free = [i for i in range(n) if tokens[i] is None]
    if len(free) < 256 + 1:
        raise InputError(f"vocabulary of {n} tokens leaves no room for byte tokens")
    for b, tid in enumerate(free[:256]):
        tokens[tid] = f"<0x{b:02X}>"
        types[tid] = BYTE
    for tid in free[256:]:
        tokens[tid] = f"▁w{tid}"
    if "<unk>" not in fam.specials:  # SentencePiece needs an unknown token: the first filler
        types[free[256]] = UNKNOWN
    s, arr = GGUFValueType.STRING, GGUFValueType.ARRAY
    u32 = GGUFValueType.UINT32
    keys: list[tuple[str, Any, GGUFValueType]] = [
        ("tokenizer.ggml.model", "llama", s),
        ("tokenizer.ggml.tokens", tokens, arr),
        ("tokenizer.ggml.scores", [0.0] * n, arr),
        ("tokenizer.ggml.token_type", types, arr),
        ("tokenizer.ggml.bos_token_id", fam.specials[fam.bos], u32),
        ("tokenizer.ggml.eos_token_id", fam.specials[fam.eos], u32),
        ("tokenizer.ggml.add_bos_token", arch.family.startswith("gemma") or arch.family == "llama", GGUFValueType.BOOL),
        ("tokenizer.ggml.add_space_prefix", False, GGUFValueType.BOOL),
    ]
    if "<pad>" in fam.specials:
        keys.append(("tokenizer.ggml.padding_token_id", fam.specials["<pad>"], u32))
    if "<unk>" in fam.specials:
        keys.append(("tokenizer.ggml.unknown_token_id", fam.specials["<unk>"], u32))
    return keys


def chat_template(arch: Arch) -> str:
    name = family_of(arch).template
    return resources.files("bakeoff.twin").joinpath("templates", name).read_text(encoding="utf-8")


def vocab_from_file(path: Path, n_vocab: int) -> tuple[list[tuple[str, Any, GGUFValueType]], str | None]:
    """The ``tokenizer.*`` keys of another GGUF (a vocabulary file such as llama.cpp's
    models/ggml-vocab-*.gguf, or any model of the family), and its chat template if it has one."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"--vocab {path}: not a readable GGUF ({exc})") from None
    keys, template = [], None
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        value = field.contents()
        if name == "tokenizer.chat_template":
            template = value
            continue
        vtype = field.types[0]
        keys.append((name, value, vtype))
    tokens = next((v for k, v, _ in keys if k == "tokenizer.ggml.tokens"), None)
    if tokens is None:
        raise InputError(f"--vocab {path}: the GGUF has no tokenizer.ggml.tokens")
    if len(tokens) != n_vocab:
        raise InputError(f"--vocab {path}: {len(tokens)} tokens, but the model's vocabulary has {n_vocab}")
    return keys, template
