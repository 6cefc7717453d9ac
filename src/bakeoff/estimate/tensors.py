"""The tensor list llama.cpp would load for an architecture, with GGUF names and shapes.

Used for models described by a catalog entry or a config.json (no GGUF at hand). Shapes are
GGUF order (ne0 first: the row width). It follows llama.cpp's loaders (src/models/*.cpp in the
vendored llama.cpp of llama-cpp-python 0.3.36): for example Gemma 4's KV-sharing layers load no
attn_k/attn_v, and its K=V global layers no attn_v.
"""

from __future__ import annotations

from bakeoff.estimate.arch import Arch


def tensor_shapes(arch: Arch) -> list[tuple[str, list[int]]]:
    e, v = arch.n_embd, arch.n_vocab
    out: list[tuple[str, list[int]]] = [("token_embd.weight", [e, v])]
    if not arch.tied_embeddings:
        out.append(("output.weight", [e, v]))
    out.append(("output_norm.weight", [e]))
    gemma = arch.family.startswith("gemma")
    if arch.per_layer_embd:
        ple = arch.per_layer_embd
        out += [("per_layer_token_embd.weight", [ple * arch.n_layer, v]),
                ("per_layer_model_proj.weight", [e, ple * arch.n_layer]),
                ("per_layer_proj_norm.weight", [ple])]
    for layer in arch.layers:
        b = f"blk.{layer.index}."
        q_width = layer.n_head * layer.head_k
        k_width = layer.n_head_kv * layer.head_k
        v_width = layer.n_head_kv * layer.head_v
        out.append((b + "attn_norm.weight", [e]))
        out.append((b + "attn_q.weight", [e, q_width]))
        loads_kv = layer.owns_kv or arch.family != "gemma4"
        if loads_kv:
            out.append((b + "attn_k.weight", [e, k_width]))
            if layer.has_v_proj:
                out.append((b + "attn_v.weight", [e, v_width]))
        out.append((b + "attn_output.weight", [layer.n_head * layer.head_v, e]))
        if arch.qkv_bias:
            out += [(b + "attn_q.bias", [q_width]), (b + "attn_k.bias", [k_width]), (b + "attn_v.bias", [v_width])]
        if gemma:
            out += [(b + "attn_q_norm.weight", [layer.head_k]), (b + "post_attention_norm.weight", [e]),
                    (b + "post_ffw_norm.weight", [e])]
            if loads_kv:
                out.append((b + "attn_k_norm.weight", [layer.head_k]))
        if arch.family in ("qwen3", "qwen3moe"):  # Qwen3's per-head Q/K RMS norms
            out += [(b + "attn_q_norm.weight", [layer.head_k]), (b + "attn_k_norm.weight", [layer.head_k])]
        out.append((b + "ffn_norm.weight", [e]))
        if layer.n_ff:
            out += [(b + "ffn_gate.weight", [e, layer.n_ff]), (b + "ffn_up.weight", [e, layer.n_ff]),
                    (b + "ffn_down.weight", [layer.n_ff, e])]
        if arch.n_expert:
            n, f = arch.n_expert, arch.n_ff_exp
            if arch.family == "gemma4":  # the router's input scale and the MoE branch's own norms
                out += [(b + "ffn_gate_inp.scale", [e]), (b + "pre_ffw_norm_2.weight", [e]),
                        (b + "post_ffw_norm_1.weight", [e]), (b + "post_ffw_norm_2.weight", [e])]
            out += [(b + "ffn_gate_inp.weight", [e, n]),
                    (b + "ffn_gate_exps.weight", [e, f, n]), (b + "ffn_up_exps.weight", [e, f, n]),
                    (b + "ffn_down_exps.weight", [f, e, n])]
        if arch.per_layer_embd:
            out += [(b + "inp_gate.weight", [e, arch.per_layer_embd]),
                    (b + "proj.weight", [arch.per_layer_embd, e]), (b + "post_norm.weight", [e])]
    return out
