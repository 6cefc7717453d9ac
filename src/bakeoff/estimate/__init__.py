"""`bakeoff fit`: will a model fit, and how fast can it decode, on given hardware (DESIGN §6).

    from bakeoff.estimate import fit
    result = fit("gemma4-26b-a4b", ctx=32768, hardware=["rtx-3060-12gb"])

Every figure here is an estimate (DESIGN §7 rule 1) except those in ``measured``, which come
from the results database. The working is in the result: formula inputs and per-part bytes.

Memory, for bakeoff's llamacpp backend (llama.cpp through llama-cpp-python, flash attention
off, n_ubatch 512):
    total = resident weights + KV cache + runtime + compute
with the runtime and compute terms of bakeoff.estimate.overhead and the resident weights of
bakeoff.estimate.weights.Weights.resident. On a CPU (and so for ``total_bytes``) compute is what
a full context processed in 512-token batches touches; a GPU or unified-memory profile counts
llama.cpp's whole reserved compute buffer instead, as GPU backends allocate it up front, and a
GPU's VRAM holds neither the input-layer lookups nor the runtime. ``peak_short_prompt_bytes`` is
the CPU sum for a 64-token prompt: what a typical bakeoff trial's peak memory measures.
"""

from __future__ import annotations

from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.estimate.hardware import Profile, select_profiles, this_machine
from bakeoff.estimate.kv import kv_cache, kv_read_per_token
from bakeoff.estimate.overhead import (
    compute_cpu_touched,
    compute_reserved,
    runtime_bytes,
)
from bakeoff.estimate.roofline import decode_tps
from bakeoff.estimate.source import ModelSource, catalog, load_model
from bakeoff.estimate.weights import weigh

__all__ = ["catalog", "estimate_peak_bytes", "fit", "load_model"]

DEFAULT_CTX = 4096  # the llamacpp backend's default context
MAX_CTX = 16 * 2**20
SHORT_PROMPT = 64


def _check_ctx(ctx) -> int:
    if isinstance(ctx, bool) or not isinstance(ctx, int):
        try:
            ctx = int(str(ctx).replace("_", ""), 10)
        except ValueError:
            raise InputError(f"--ctx must be a whole number of tokens, not {ctx!r}") from None
    if not 1 <= ctx <= MAX_CTX:
        raise InputError(f"--ctx must be between 1 and {MAX_CTX} tokens, not {ctx}")
    return ctx


def estimate_peak_bytes(model: ModelSource, ctx: int, prompt_tokens: int, kv_type: str = "f16",
                        swa_full: bool = True, flash_attn: bool = False) -> dict:
    """Peak memory of bakeoff's llamacpp backend on CPU after a prompt of ``prompt_tokens``:
    weights + KV + runtime + the compute pages that prompt touched."""
    w = weigh(model.tensors)
    weights, _ = w.resident("cpu", model.arch.family)
    kv = kv_cache(model.arch, ctx, kv_type, swa_full, flash_attn=flash_attn)
    runtime = runtime_bytes(model.arch, model.vocab_entries)
    compute = compute_cpu_touched(model.arch, prompt_tokens, kv.cells_global, kv.cells_sliding, kv.ubatch)
    return {"weights_bytes": weights, "kv_bytes": kv.total, "runtime_bytes": runtime, "compute_bytes": compute,
            "prompt_tokens": prompt_tokens, "total_bytes": weights + kv.total + runtime + compute}


_BASIS = {
    "cpu": "resident weights + KV + runtime + compute pages touched on CPU with the context full",
    "gpu": "VRAM: weights but the input-layer lookups + KV + llama.cpp's reserved compute buffer "
           "(allocated up front); the runtime stays in host RAM. Not counted: the CUDA context and "
           "library workspaces, measured at about 0.65 GiB more (NVML) on an H100 with llama-cpp-python "
           "0.3.36's CUDA build, and the CUDA compute buffer, 7-23% above the reservation estimated here",
    "unified": "resident weights + KV + runtime + llama.cpp's reserved compute buffer (allocated up front)",
}


def _hardware_row(p: Profile, totals: dict[str, int], per_token: float, per_token_empty: float) -> dict:
    total = totals[p.kind]
    return {
        "name": p.name, "id": p.id, "kind": p.kind, "memory_bytes": p.memory_bytes, "memory_label": p.memory_label,
        "usable_bytes": p.usable_bytes, "usable_rule": p.usable_rule, "total_bytes": total,
        "total_basis": _BASIS[p.kind],
        "fits": total <= p.usable_bytes, "headroom_bytes": p.usable_bytes - total,
        "bandwidth_gbs": p.bandwidth_gbs, "bandwidth_label": p.bandwidth_label,
        "decode_tps_roofline": decode_tps(p.bandwidth_gbs, per_token),
        "decode_tps_roofline_empty": decode_tps(p.bandwidth_gbs, per_token_empty),
        "label": "estimated", "source": p.source,
    }


def fit(model: str, quant: str | None = None, ctx=None, kv_type: str = "f16", swa_full: bool = True,
        hardware: list[str] | None = None, memory_gb: float | None = None, bandwidth_gbs: float | None = None,
        kind: str = "gpu", hardware_file: str | Path | None = None, db: str | Path | None = None,
        flash_attn: bool = False) -> dict:
    ctx = _check_ctx(DEFAULT_CTX if ctx is None else ctx)
    src = load_model(model, quant)
    arch = src.arch
    notes = list(src.notes)
    if arch.n_ctx_train and ctx > arch.n_ctx_train:
        notes.append(f"--ctx {ctx} is beyond the model's trained context ({arch.n_ctx_train})")
    profiles = select_profiles(hardware, memory_gb, bandwidth_gbs, hardware_file, kind)

    w = weigh(src.tensors)
    kv = kv_cache(arch, ctx, kv_type, swa_full, flash_attn=flash_attn)
    runtime = runtime_bytes(arch, src.vocab_entries)
    compute_cpu = compute_cpu_touched(arch, ctx, kv.cells_global, kv.cells_sliding, kv.ubatch)
    compute_gpu = compute_reserved(arch, kv.cells_global, kv.cells_sliding, kv.ubatch)
    compute_short = compute_cpu_touched(arch, min(SHORT_PROMPT, ctx), kv.cells_global, kv.cells_sliding, kv.ubatch)
    resident = {k: w.resident(k, arch.family) for k in ("cpu", "gpu", "unified")}
    base = resident["cpu"][0] + kv.total + runtime
    totals = {"cpu": base + compute_cpu, "gpu": resident["gpu"][0] + kv.total + compute_gpu,
              "unified": resident["unified"][0] + kv.total + runtime + compute_gpu}

    active = w.active_per_token(arch.n_expert, arch.n_expert_used)
    kv_read = kv_read_per_token(arch, ctx, kv_type)
    per_token = active + kv_read

    result = {
        "model": model, "name": arch.name, "kind": src.kind, "path": str(src.path) if src.path else None,
        "quant": src.quant, "tensor_types": src.types, "source": src.source, "params_note": arch.params_note,
        "ctx": ctx, "kv_type": kv_type, "swa_full": swa_full, "label": "estimated",
        "runtime_model": "llama.cpp via llama-cpp-python (bakeoff's llamacpp backend): flash attention "
                         + ("on" if flash_attn else "off") + ", n_ubatch 512" + ("" if not arch.n_swa else ", full-size sliding-window cache" if swa_full
                                           else ", sliding-window cache of window + ubatch cells"),
        "architecture": arch.to_dict(),
        "weights_bytes": w.total,
        "weights": {**w.to_dict(), "active_bytes_per_token": active,
                    "resident_bytes": {k: v[0] for k, v in resident.items()},
                    "resident_rule": {k: v[1] for k, v in resident.items()}},
        "kv_bytes": kv.total,
        "kv": kv.to_dict(),
        "overhead_bytes": runtime + compute_cpu,
        "overhead": {"runtime_bytes": runtime, "vocab_entries": src.vocab_entries,
                     "compute_cpu_full_context_bytes": compute_cpu, "compute_cpu_short_prompt_bytes": compute_short,
                     "compute_reserved_bytes": compute_gpu},
        "total_bytes": totals["cpu"],
        "total_basis": _BASIS["cpu"],
        "totals_by_kind": totals,
        "peak_short_prompt_bytes": base + compute_short,
        "roofline": {"depth": ctx, "active_weight_bytes": active, "kv_read_bytes": kv_read,
                     "bytes_per_token": per_token, "bytes_per_token_empty": active},
        "hardware": [_hardware_row(p, totals, per_token, active) for p in profiles],
        "measured": [],
        "notes": notes,
    }
    if kv.cells_sliding is not None:
        alt = kv_cache(arch, ctx, kv_type, not swa_full, flash_attn=flash_attn)
        alt_compute = compute_cpu_touched(arch, ctx, alt.cells_global, alt.cells_sliding, alt.ubatch)
        result["kv_alternative"] = {"swa_full": not swa_full, "kv_bytes": alt.total,
                                    "total_bytes": resident["cpu"][0] + alt.total + runtime + alt_compute}
    if flash_attn:
        notes.append("--flash-attn changes the KV estimate only (no V padding); the compute buffer is "
                     "estimated as with flash attention off")
    if db is not None and src.kind == "gguf":
        result["measured"] = _measured(src, db, kv_type, swa_full, active, profiles)
    return result


def _measured(src: ModelSource, db, kv_type: str, swa_full: bool, active: float, profiles: list[Profile]) -> list[dict]:
    from bakeoff.estimate.measured import measured_runs, measured_speed

    runs = measured_runs(db, src.path)
    speed = measured_speed(db, src.path, [r["spec"] for r in runs])
    if not runs and not speed:
        return []
    here = next((p for p in profiles if p.id == "this-machine"), None)
    out = []
    for s in speed:
        # `bakeoff speed` tg test: n_gen tokens decoded after `depth` tokens already in the cache
        est = estimate_peak_bytes(src, s["ctx"], max(1, s["depth"]), kv_type, swa_full)
        row = {"spec": s["spec"], "source": f"bakeoff speed {s['test']} at depth {s['depth']}",
               "ctx": s["ctx"], "threads": s["threads"], "trials": s["reps"], "this_host": s["this_host"],
               "decode_tps_median": s["avg_tps"], "peak_mem_mib_max": s["peak_mem_mib"],
               "estimated_peak_bytes": est["total_bytes"]}
        if s["peak_mem_mib"]:
            row["peak_error_pct"] = 100 * (est["total_bytes"] - s["peak_mem_mib"] * 2**20) / (s["peak_mem_mib"] * 2**20)
        engine = s["engine_memory"]
        if engine.get("kv_mib") is not None:
            kv_est = kv_cache(src.arch, s["ctx"], kv_type, engine.get("swa_full", swa_full) or swa_full)
            reserved = compute_reserved(src.arch, kv_est.cells_global, kv_est.cells_sliding, kv_est.ubatch)
            row["engine_reported"] = {"kv_mib": engine.get("kv_mib"), "estimated_kv_mib": kv_est.total / 2**20,
                                      "compute_mib": engine.get("compute_mib"),
                                      "estimated_compute_reserved_mib": reserved / 2**20}
        if s["this_host"] and s["avg_tps"]:
            here = here or this_machine()
            depth = int(s["depth"] + s["n_gen"] / 2)
            roof = decode_tps(here.bandwidth_gbs, active + kv_read_per_token(src.arch, depth, kv_type))
            row.update(roofline_this_machine_tps=roof, roofline_depth=depth,
                       efficiency=s["avg_tps"] / roof if roof else None)
        out.append(row)
    for run in runs:
        est = estimate_peak_bytes(src, run["ctx"], run["prompt_tokens_max"] or SHORT_PROMPT, kv_type, swa_full)
        row = dict(run)
        row["source"] = "bakeoff run trials (decode tok/s: median; peak memory: max)"
        row["estimated_peak_bytes"] = est["total_bytes"]
        if run["peak_mem_mib_max"] is not None:
            measured = run["peak_mem_mib_max"] * 2**20
            row["peak_error_pct"] = 100 * (est["total_bytes"] - measured) / measured
        if run["this_host"] and run["decode_tps_median"]:
            here = here or this_machine()
            depth = int(run["depth_median"] or 0)
            roof = decode_tps(here.bandwidth_gbs, active + kv_read_per_token(src.arch, depth, kv_type))
            row["roofline_this_machine_tps"] = roof
            row["roofline_depth"] = depth
            row["efficiency"] = run["decode_tps_median"] / roof if roof else None
        out.append(row)
    return out
