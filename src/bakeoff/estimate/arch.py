"""One description of a model's architecture, whatever it was read from (GGUF, config.json, catalog).

Everything the estimates need is here, per layer where models differ by layer (Gemma's sliding
and global layers, Gemma 4's KV-sharing layers and per-layer FFN widths).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layer:
    index: int
    swa: bool  # sliding-window attention (else global / full attention)
    n_head: int
    n_head_kv: int
    head_k: int  # key width per head
    head_v: int  # value width per head
    n_ff: int  # dense FFN width (the shared expert's in an MoE layer)
    kv_source: int  # the layer whose KV cache this layer attends over (itself unless it shares)
    has_v_proj: bool = True  # False where V is taken from K (Gemma 4 attention_k_eq_v)

    @property
    def owns_kv(self) -> bool:
        return self.kv_source == self.index


@dataclass
class Arch:
    family: str  # llama.cpp architecture name: llama, qwen2, gemma3, gemma4, ...
    n_layer: int
    n_embd: int
    n_vocab: int
    layers: list[Layer]
    window: int | None = None  # sliding window, in tokens
    n_ctx_train: int | None = None
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    per_layer_embd: int = 0  # Gemma 4 E2B/E4B per-layer embedding width
    tied_embeddings: bool = True
    qkv_bias: bool = False
    merges: int | None = None  # BPE merges in the tokenizer (runtime memory estimate)
    name: str | None = None
    params_note: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_kv_shared(self) -> int:
        return sum(1 for layer in self.layers if not layer.owns_kv)

    @property
    def n_swa(self) -> int:
        return sum(1 for layer in self.layers if layer.swa)

    def to_dict(self) -> dict:
        """The formula inputs, compactly: one entry per distinct kind of layer."""
        kinds: dict[tuple, dict] = {}
        for layer in self.layers:
            key = (layer.swa, layer.owns_kv, layer.n_head, layer.n_head_kv, layer.head_k, layer.head_v,
                   layer.n_ff, layer.has_v_proj)
            kind = kinds.setdefault(key, {
                "attention": "sliding" if layer.swa else "global", "owns_kv": layer.owns_kv,
                "heads": layer.n_head, "kv_heads": layer.n_head_kv, "head_k": layer.head_k,
                "head_v": layer.head_v, "ffn": layer.n_ff, "v_from_k": not layer.has_v_proj, "layers": []})
            kind["layers"].append(layer.index)
        return {
            "family": self.family, "name": self.name, "layers": self.n_layer, "hidden": self.n_embd,
            "vocab": self.n_vocab, "context_train": self.n_ctx_train, "window": self.window,
            "experts": self.n_expert, "experts_used": self.n_expert_used, "expert_ffn": self.n_ff_exp,
            "per_layer_embd": self.per_layer_embd, "tied_embeddings": self.tied_embeddings,
            "kv_shared_layers": self.n_kv_shared, "layer_kinds": list(kinds.values()),
        }


def layer_pattern(n_layer: int, global_every: int | None, last_global: bool = False) -> list[bool]:
    """True for sliding-window layers: every Nth layer is global (llama.cpp's set_swa_pattern:
    layer i slides when i % N < N - 1); Gemma 4 also makes the last layer global."""
    if not global_every:
        return [False] * n_layer
    swa = [i % global_every < global_every - 1 for i in range(n_layer)]
    if last_global:
        swa[-1] = False
    return swa


def kv_sources(swa: list[bool], n_shared: int) -> list[int]:
    """Which layer's cache each layer attends over. The last ``n_shared`` layers own no cache:
    each reuses the last cache-owning layer of the same kind (sliding or global), as Gemma 3n
    and Gemma 4 do (transformers: kv_shared_layer_index; llama.cpp: n_layer_kv_from_start)."""
    n_layer = len(swa)
    first_shared = n_layer - n_shared
    out = []
    for i in range(n_layer):
        if i < first_shared:
            out.append(i)
            continue
        same = [j for j in range(first_shared) if swa[j] == swa[i]]
        out.append(same[-1] if same else i)
    return out
