"""Memory beyond weights and KV cache: runtime and compute buffers (llama.cpp, no flash attention).

Calibrated on bakeoff's own llamacpp backend (llama-cpp-python 0.3.36, CPU, mmap off, n_ubatch
512, 2 threads) and checked in tests/estimate/test_fit_memory.py. What it counts:

runtime (estimated)
    40 MiB + 155 bytes per vocabulary entry (token or BPE merge).
    The constant: llama_cpp's shared libraries and Python module, jinja2, the Llama object,
    thread pool and small graph buffers; it is counted from bakeoff's worker baseline, which is
    taken before llama_cpp is imported. The per-entry term: llama.cpp's vocabulary (token
    strings, scores, the token->id map, BPE ranks). Measured by loading each packaged model with
    vocab_only=True: SmolLM2 (49,152 tokens + 48,900 merges) 17.9 MiB, Qwen2.5 (151,936 +
    151,387) 48.2 MiB, Gemma 3 (262,144 + 0) 43.1 MiB.

compute, CPU (estimated)
    What a prompt touches, per the largest ubatch of u tokens with n_kv cache cells in view:
    u × n_kv × (6 B × heads + 6.5 B × masks). Per head: the f32 attention scores (4 B) plus the
    f16 copy ggml's CPU backend makes of them in its work buffer for the KQ·V product (2 B);
    per mask (one, or two with sliding-window layers): the f32 mask and its copy. The logits
    of llama-cpp-python's one output row are small. These pages are touched only as prompts
    fill the context: a short prompt costs almost nothing; a full context in 512-token
    batches costs the whole term. Fitted (least squares, with the runtime constant) to 13
    measured peaks of the three packaged models at n_ctx 2048/8192 and prompts of 10-7,710
    tokens; largest residual 2.3%.

compute, reserved (estimated)
    The buffer llama.cpp reserves for the worst-case ubatch (its log: "compute buffer size"):
    max(logits phase 512 × 4 B × (vocab + 3 × hidden),
        attention phase 512 × 4 B × (n_kv × (heads + masks) + 5.5 × hidden),
        FFN phase 512 × 4 B × (2 × FFN width + 2 × hidden)).
    A GPU backend allocates all of it up front; on CPU its pages are only touched as used
    (llama-cpp-python asks for one row of logits, so the logits phase never is). Checked
    against the logged sizes: SmolLM2 99.4 MiB at n_ctx 2048 (estimate 99.4), 166.4 at 8192
    (166.2); Qwen2.5 0.5B 300.3/302.0 (302.0); Gemma 3 270M 514.5 (515.8).
"""

from __future__ import annotations

from bakeoff.estimate.arch import Arch
from bakeoff.estimate.kv import UBATCH, pad

MIB = 2**20
RUNTIME_CONST = 40 * MIB
BYTES_PER_VOCAB_ENTRY = 155
CPU_BYTES_PER_HEAD = 6.0
CPU_BYTES_PER_MASK = 6.5


def runtime_bytes(arch: Arch, vocab_entries: int | None) -> int:
    if vocab_entries is None:  # config.json: assume a BPE vocabulary with as many merges as tokens
        vocab_entries = arch.n_vocab * (1 if arch.family.startswith("gemma") else 2)
    return int(RUNTIME_CONST + BYTES_PER_VOCAB_ENTRY * vocab_entries)


def _n_masks(arch: Arch) -> int:
    return 2 if arch.n_swa and arch.n_swa < arch.n_layer else 1


def _kv_in_view(arch: Arch, depth: int, ctx_cells: int, swa_cells: int | None) -> tuple[int, int]:
    """(max over layers of heads × cells in view, Σ over masks of cells in view) at ``depth``."""
    n_kv_global = min(max(256, pad(depth)), ctx_cells)
    n_kv_swa = min(max(256, pad(depth)), swa_cells or ctx_cells)
    head_cells = max((layer.n_head * (n_kv_swa if layer.swa else n_kv_global) for layer in arch.layers), default=0)
    masks = n_kv_global + (n_kv_swa if _n_masks(arch) == 2 else 0)
    if arch.n_swa == arch.n_layer:
        masks = n_kv_swa
    return head_cells, masks


def compute_cpu_touched(arch: Arch, prompt_tokens: int, ctx_cells: int, swa_cells: int | None,
                        ubatch: int = UBATCH) -> int:
    """Compute/work-buffer bytes a prompt of ``prompt_tokens`` touches on CPU (llama-cpp-python)."""
    worst = 0.0
    past = 0
    prompt_tokens = max(1, min(prompt_tokens, ctx_cells))
    while past < prompt_tokens:
        u = min(ubatch, prompt_tokens - past)
        head_cells, mask_cells = _kv_in_view(arch, past + u, ctx_cells, swa_cells)
        worst = max(worst, u * (CPU_BYTES_PER_HEAD * head_cells + CPU_BYTES_PER_MASK * mask_cells))
        past += u
    return int(worst)


def compute_reserved(arch: Arch, ctx_cells: int, swa_cells: int | None, ubatch: int = UBATCH,
                     flash_attn: bool = False, logit_rows: int | None = None) -> int:
    """The reserved compute buffer. With flash attention the attention scores are never
    materialised: the attention phase keeps its 5.5 × hidden activations and an f16 mask per mask
    (2 B × cells), an estimate not yet checked against a log. ``logit_rows``: rows of logits
    the worst case computes (default the ubatch, as llama.cpp reserves)."""
    head_cells, mask_cells = _kv_in_view(arch, ctx_cells, ctx_cells, swa_cells)
    logits = (ubatch if logit_rows is None else logit_rows) * 4 * arch.n_vocab + ubatch * 4 * 3 * arch.n_embd
    if flash_attn:
        attention = ubatch * (2 * mask_cells + 4 * 5.5 * arch.n_embd)
    else:
        attention = ubatch * 4 * (head_cells + mask_cells + 5.5 * arch.n_embd)
    return int(max(logits, attention, compute_ffn(arch, ubatch)))


def compute_ffn(arch: Arch, ubatch: int = UBATCH) -> int:
    """The FFN phase of the reserved buffer: what a backend computing only the FFN (the experts,
    when they are kept in host RAM) needs."""
    n_ff = max([layer.n_ff for layer in arch.layers] + [arch.n_expert_used * arch.n_ff_exp])
    return int(ubatch * 4 * (2 * n_ff + 2 * arch.n_embd))
