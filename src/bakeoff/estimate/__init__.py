"""`bakeoff fit`: will a model fit, and how fast can it decode, on given hardware (docs/estimates.md).

    from bakeoff.estimate import fit
    result = fit("gemma4-26b-a4b", ctx=32768, hardware=["rtx-3060-12gb"])

Every figure here is an estimate except those in ``measured``, which come from the results
database. The working is in the result: formula inputs and per-part bytes.

Memory, per engine (bakeoff.estimate.engines: llama-server, Ollama, llama-cpp-python, vLLM):
    total = resident weights + KV cache + runtime + compute
with the runtime and compute terms of bakeoff.estimate.overhead and the resident weights of
bakeoff.estimate.weights.Weights.resident. On a CPU (and so for ``total_bytes``) compute is what
a full context processed in 512-token batches touches; a GPU or unified-memory profile counts
llama.cpp's whole reserved compute buffer instead, as GPU backends allocate it up front, and a
GPU's VRAM holds neither the input-layer lookups nor the runtime. ``peak_short_prompt_bytes`` is
the CPU sum for a 64-token prompt: what a typical bakeoff trial's peak memory measures.

On a GPU profile the weights may be split between VRAM and host RAM (bakeoff.estimate.placement):
a placement given (``gpu_layers``, ``cpu_moe``, ``n_cpu_moe``) is evaluated; else, where the
model does not fit whole, the smallest offload in the engine's own options that fits is found,
with its VRAM, RAM and decode roofline.

The top-level figures are the first engine's; ``engines`` holds each engine's.
"""

from __future__ import annotations

from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.estimate.engines import (
    DEFAULT_ENGINES,
    VLLM_BATCHED_TOKENS,
    VLLM_GRAPHS,
    VLLM_MAX_SEQS,
    VLLM_NON_TORCH,
    Engine,
    get_engine,
)
from bakeoff.estimate.hardware import Profile, select_profiles, this_machine
from bakeoff.estimate.kv import kv_cache, kv_read_by_layer, kv_read_per_token
from bakeoff.estimate.overhead import (
    compute_cpu_touched,
    compute_ffn,
    compute_reserved,
    runtime_bytes,
)
from bakeoff.estimate.placement import Placement, candidates, split, split_streamed
from bakeoff.estimate.roofline import decode_tps
from bakeoff.estimate.source import ModelSource, catalog, load_model
from bakeoff.estimate.weights import by_layer, weigh

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
    "gpu": "VRAM: weights but the input-layer lookups + KV + the engine's reserved compute buffer "
           "(allocated up front); the runtime stays in host RAM. The CUDA context and library workspaces "
           "are inside the 0.5 GiB a GPU profile keeps back (measured: about 0.65 GiB more (NVML) on an H100 "
           "with llama-cpp-python 0.3.36's CUDA build, whose compute buffer was 7-23% above this reservation)",
    "unified": "resident weights + KV + runtime + the engine's reserved compute buffer (allocated up front)",
    "vllm": "gpu_memory_utilization × VRAM is taken at start-up; it fits when weights + activations + CUDA graphs "
            "+ one full-context sequence's KV cache fit in it",
}


class _EngineFit:
    """One engine's memory figures for a model at a context."""

    def __init__(self, engine: Engine, src: ModelSource, ctx: int, kv_type: str, swa_full: bool | None,
                 flash_attn: bool | None):
        arch = src.arch
        self.engine = engine
        self.swa_full = engine.swa_full if swa_full is None else swa_full
        self.flash_attn = engine.flash_attn if flash_attn is None else flash_attn
        v_pad = engine.v_pad if flash_attn is None else (not flash_attn if engine.v_pad is None else engine.v_pad)
        self.kv = kv_cache(arch, ctx, kv_type, self.swa_full, flash_attn=self.flash_attn, n_seq=engine.n_seq,
                           v_pad=v_pad, pad_to=engine.pad_to, swa_extra=engine.swa_extra)
        kv = self.kv
        self.w = weigh(src.tensors)
        self.layers = by_layer(src.tensors, arch.n_layer)
        self.runtime = runtime_bytes(arch, src.vocab_entries)
        self.compute_cpu = compute_cpu_touched(arch, ctx, kv.cells_global, kv.cells_sliding, kv.ubatch)
        self.compute_short = compute_cpu_touched(arch, min(SHORT_PROMPT, ctx), kv.cells_global, kv.cells_sliding,
                                                 kv.ubatch)
        if engine.gpu_fraction:  # vLLM: the profiling run's activations, logits for max_num_seqs rows
            self.compute_gpu = compute_reserved(arch, kv.cells_global, kv.cells_sliding,
                                                min(VLLM_BATCHED_TOKENS, max(ctx, 1)), flash_attn=True,
                                                logit_rows=VLLM_MAX_SEQS) + VLLM_GRAPHS + VLLM_NON_TORCH
        else:
            self.compute_gpu = compute_reserved(arch, kv.cells_global, kv.cells_sliding, kv.ubatch,
                                                flash_attn=self.flash_attn)
        self.compute_ffn = compute_ffn(arch, kv.ubatch)
        self.resident = {k: self.w.resident(k, arch.family) for k in ("cpu", "gpu", "unified")}
        self.base = self.resident["cpu"][0] + kv.total + self.runtime
        if engine.gpu_fraction:
            gpu_total = self.w.total + kv.total + self.compute_gpu
        else:
            gpu_total = self.resident["gpu"][0] + kv.total + self.compute_gpu
        self.totals = {"cpu": self.base + self.compute_cpu, "gpu": gpu_total,
                       "unified": self.resident["unified"][0] + kv.total + self.runtime + self.compute_gpu}

    def runtime_model(self, arch) -> str:
        e = self.engine
        swa = "" if not arch.n_swa else (", full-size sliding-window cache" if self.swa_full else
                                         f", sliding-window cache of {e.n_seq} × window + "
                                         f"{self.kv.ubatch if e.swa_extra is None else e.swa_extra} cells")
        return (f"{e.name}: flash attention {'on' if self.flash_attn else 'off'}, n_ubatch {self.kv.ubatch}{swa}"
                + (f", {e.gpu_fraction:g} × VRAM pre-allocated" if e.gpu_fraction else ""))

    def split(self, src: ModelSource, p: Placement, kv_read: list[float], active: float):
        arch = src.arch
        if self.engine.weight_stream:
            return split_streamed(self.w.total, active, self.kv.total, sum(kv_read), p.cpu_offload_bytes,
                                  self.compute_gpu)
        return split(arch.family, arch.n_expert, arch.n_expert_used, self.layers,
                     [layer.bytes for layer in self.kv.layers], kv_read, p, self.compute_gpu, self.compute_ffn,
                     self.compute_gpu, self.runtime)


def _usable_vram(p: Profile, engine: Engine) -> int:
    return int(p.memory_bytes * engine.gpu_fraction) if engine.gpu_fraction else p.usable_bytes


def _placement_row(ef: _EngineFit, src: ModelSource, p: Profile, placement: Placement, kv_read: list[float],
                   active: float) -> dict:
    arch = src.arch
    s = ef.split(src, placement, kv_read, active)
    usable_vram = _usable_vram(p, ef.engine)
    ram_ok = p.ram_usable_bytes is None or s.ram_bytes <= p.ram_usable_bytes
    return {"placement": placement.as_text(arch.n_layer, bool(arch.n_expert)),
            "options": placement.options(arch.n_layer) if not ef.engine.weight_stream
            else {"cpu_offload_gb": placement.cpu_offload_bytes / 2**30},
            "vram_bytes": s.vram_bytes, "ram_bytes": s.ram_bytes, "parts": s.parts,
            "fits_vram": s.vram_bytes <= usable_vram, "fits_ram": ram_ok if p.ram_bytes else None,
            "fits": s.vram_bytes <= usable_vram and ram_ok,
            "bytes_per_token": {"gpu": s.gpu_read, "ram": s.ram_read, "pcie": s.pcie_read},
            "decode_tps_roofline": s.decode_tps(p.bandwidth_gbs, p.ram_bandwidth_gbs, p.pcie_gbs)}


def _hardware_row(ef: _EngineFit, src: ModelSource, p: Profile, per_token: float, per_token_empty: float,
                  ctx: int, kv_type: str, active: float, placement: Placement | None) -> dict:
    e = ef.engine
    arch = src.arch
    row = {"name": p.name, "id": p.id, "kind": p.kind, "engine": e.id, "memory_bytes": p.memory_bytes,
           "memory_label": p.memory_label, "bandwidth_gbs": p.bandwidth_gbs, "bandwidth_label": p.bandwidth_label,
           "ram_bytes": p.ram_bytes, "ram_bandwidth_gbs": p.ram_bandwidth_gbs, "pcie_gbs": p.pcie_gbs,
           "label": "estimated", "source": p.source}
    if p.kind not in e.kinds:
        row.update(supported=False, note=f"{e.name} does not run on {p.kind} hardware here", fits=None,
                   total_bytes=None, usable_bytes=None, usable_rule=None, headroom_bytes=None, total_basis=None,
                   decode_tps_roofline=None, decode_tps_roofline_empty=None, offload=None)
        return row
    total = ef.totals[p.kind]
    usable = _usable_vram(p, e) if p.kind == "gpu" else p.usable_bytes
    row.update(supported=True, usable_bytes=usable,
               usable_rule=f"{e.gpu_fraction:g} × VRAM (gpu_memory_utilization)" if (e.gpu_fraction and p.kind == "gpu")
               else p.usable_rule, total_bytes=total,
               total_basis=_BASIS["vllm"] if e.gpu_fraction else _BASIS[p.kind],
               fits=total <= usable, headroom_bytes=usable - total,
               decode_tps_roofline=decode_tps(p.bandwidth_gbs, per_token),
               decode_tps_roofline_empty=decode_tps(p.bandwidth_gbs, per_token_empty), offload=None)
    if p.kind != "gpu":
        return row
    kv_read = kv_read_by_layer(arch, ctx, kv_type)
    if placement is not None and not placement.is_full(arch.n_layer):
        row["offload"] = {"given": True, **_placement_row(ef, src, p, placement, kv_read, active)}
    elif not row["fits"]:
        for cand in candidates(e, arch.n_layer, bool(arch.n_expert), ef.w.total):
            r = _placement_row(ef, src, p, cand, kv_read, active)
            if r["fits"]:
                row["offload"] = {"given": False, **r}
                break
        else:
            row["offload"] = {"given": False, "placement": None, "fits": False,
                              "note": "no offload the engine offers fits" + (
                                  "" if p.ram_bytes else " (host RAM unknown: not checked)")}
    return row


def fit(model: str, quant: str | None = None, ctx=None, kv_type: str = "f16", swa_full: bool | None = None,
        hardware: list[str] | None = None, memory_gb: float | None = None, bandwidth_gbs: float | None = None,
        kind: str = "gpu", hardware_file: str | Path | None = None, db: str | Path | None = None,
        flash_attn: bool | None = None, engine: str | list[str] | tuple[str, ...] | None = None,
        gpu_layers: int | None = None, cpu_moe: bool = False, n_cpu_moe: int | None = None) -> dict:
    """``engine``: one engine or several (the first is the headline; default llama-server with
    llama-cpp-python beside it). ``swa_full`` / ``flash_attn`` override every engine's own rule.
    ``gpu_layers`` / ``cpu_moe`` / ``n_cpu_moe``: a placement to evaluate on the GPU profiles
    (llama.cpp's meanings); without one, the smallest offload that fits is searched."""
    ctx = _check_ctx(DEFAULT_CTX if ctx is None else ctx)
    names = list(DEFAULT_ENGINES) if engine is None else [engine] if isinstance(engine, str) else list(engine)
    engines = list(dict.fromkeys(get_engine(n).id for n in names))
    src = load_model(model, quant)
    arch = src.arch
    notes = list(src.notes)
    if arch.n_ctx_train and ctx > arch.n_ctx_train:
        notes.append(f"--ctx {ctx} is beyond the model's trained context ({arch.n_ctx_train})")
    placement = None
    if gpu_layers is not None or cpu_moe or n_cpu_moe:
        if (cpu_moe or n_cpu_moe) and not arch.n_expert:
            raise InputError(f"--cpu-moe / --n-cpu-moe: {model} has no experts (not a mixture-of-experts model)")
        if n_cpu_moe is not None and n_cpu_moe < 0:
            raise InputError("--n-cpu-moe must be 0 or more")
        placement = Placement(gpu_layers=gpu_layers,
                              n_cpu_moe=arch.n_layer if cpu_moe else min(n_cpu_moe or 0, arch.n_layer))
    profiles = select_profiles(hardware, memory_gb, bandwidth_gbs, hardware_file, kind)

    fits = {e: _EngineFit(get_engine(e), src, ctx, kv_type, swa_full, flash_attn) for e in engines}
    head = fits[engines[0]]
    w, kv = head.w, head.kv
    active = w.active_per_token(arch.n_expert, arch.n_expert_used)
    kv_read = kv_read_per_token(arch, ctx, kv_type)
    per_token = active + kv_read

    by_engine = {}
    for e, ef in fits.items():
        rows = [_hardware_row(ef, src, p, per_token, active, ctx, kv_type, active, placement) for p in profiles]
        by_engine[e] = {"engine": e, "name": ef.engine.name, "rules": ef.engine.rules,
                        "runtime_model": ef.runtime_model(arch), "swa_full": ef.swa_full, "flash_attn": ef.flash_attn,
                        "kv_bytes": ef.kv.total, "kv": ef.kv.to_dict(), "totals_by_kind": ef.totals,
                        "compute_reserved_bytes": ef.compute_gpu,
                        "resident_bytes": {k: v[0] for k, v in ef.resident.items()}, "hardware": rows}

    result = {
        "model": model, "name": arch.name, "kind": src.kind, "path": str(src.path) if src.path else None,
        "quant": src.quant, "tensor_types": src.types, "source": src.source, "params_note": arch.params_note,
        "ctx": ctx, "kv_type": kv_type, "swa_full": head.swa_full, "label": "estimated",
        "engine": engines[0], "runtime_model": head.runtime_model(arch),
        "placement_given": placement.options(arch.n_layer) if placement else None,
        "architecture": arch.to_dict(),
        "weights_bytes": w.total,
        "weights": {**w.to_dict(), "active_bytes_per_token": active,
                    "resident_bytes": {k: v[0] for k, v in head.resident.items()},
                    "resident_rule": {k: v[1] for k, v in head.resident.items()}},
        "kv_bytes": kv.total,
        "kv": kv.to_dict(),
        "overhead_bytes": head.runtime + head.compute_cpu,
        "overhead": {"runtime_bytes": head.runtime, "vocab_entries": src.vocab_entries,
                     "compute_cpu_full_context_bytes": head.compute_cpu,
                     "compute_cpu_short_prompt_bytes": head.compute_short,
                     "compute_reserved_bytes": head.compute_gpu},
        "total_bytes": head.totals["cpu"],
        "total_basis": _BASIS["cpu"],
        "totals_by_kind": head.totals,
        "peak_short_prompt_bytes": head.base + head.compute_short,
        "roofline": {"depth": ctx, "active_weight_bytes": active, "kv_read_bytes": kv_read,
                     "bytes_per_token": per_token, "bytes_per_token_empty": active},
        "hardware": by_engine[engines[0]]["hardware"],
        "engines": by_engine,
        "measured": [],
        "notes": notes,
    }
    if kv.cells_sliding is not None:
        e0 = head.engine
        alt = kv_cache(arch, ctx, kv_type, not head.swa_full, flash_attn=head.flash_attn, n_seq=e0.n_seq,
                       v_pad=e0.v_pad, pad_to=e0.pad_to, swa_extra=e0.swa_extra)
        alt_compute = compute_cpu_touched(arch, ctx, alt.cells_global, alt.cells_sliding, alt.ubatch)
        result["kv_alternative"] = {"swa_full": not head.swa_full, "kv_bytes": alt.total,
                                    "total_bytes": head.resident["cpu"][0] + alt.total + head.runtime + alt_compute}
    if any(ef.flash_attn for ef in fits.values()):
        notes.append("with flash attention the compute buffer drops the attention scores (an estimate not yet "
                     "checked against a llama.cpp log); the CPU compute term is calibrated with it off")
    if db is not None and src.kind == "gguf":
        inproc = fits.get("llama-cpp-python") or _EngineFit(get_engine("llama-cpp-python"), src, ctx, kv_type,
                                                             swa_full, flash_attn)
        result["measured"] = _measured(src, db, kv_type, inproc.swa_full, active, profiles)
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
