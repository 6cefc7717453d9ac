"""`bakeoff fit MODEL --measure`: the estimate next to what the model's twin really takes here.

The twin (bakeoff.twin) is loaded by bakeoff's llamacpp backend with mmap off (so resident memory
counts the weights) at the requested context, and measured with the speed protocol (pp then tg
at depth 0). Compared, each with its own source:

- weights, KV cache and compute buffer: the estimate against the sizes llama.cpp reports when it
  allocates them (engine-reported, summed over devices);
- peak memory: the estimate for a prompt of ``n_prompt`` tokens against the worker's peak RSS
  above its pre-load baseline (measured; host RAM only, so not with layers on a GPU);
- with layers on a GPU: VRAM (NVML) against the estimate for the placement (bakeoff.estimate.
  placement: ``gpu_layers``, ``cpu_moe``, ``n_cpu_moe``), the weights llama.cpp put in device and
  host buffers against the estimate's split, and, when part stays in host RAM, the peak RSS
  against the estimated host RAM;
- decode speed: tg tok/s against the roofline at the test's mean depth (efficiency = measured /
  roofline), on this machine's measured bandwidth or the one hardware profile given (with a
  split, GPU bytes over its bandwidth plus host bytes over the profile's RAM bandwidth).
"""

from __future__ import annotations

import sys
from typing import Any

from bakeoff.errors import InputError
from bakeoff.estimate.kv import kv_cache, kv_read_by_layer, kv_read_per_token
from bakeoff.estimate.overhead import compute_ffn, compute_reserved, runtime_bytes
from bakeoff.estimate.placement import Placement, split
from bakeoff.estimate.roofline import decode_tps
from bakeoff.estimate.source import load_model
from bakeoff.estimate.weights import by_layer
from bakeoff.spec import ContenderSpec


def _pct(estimate: float | None, measured: float | None) -> float | None:
    if estimate is None or not measured:
        return None
    return 100 * (estimate - measured) / measured


def _row(what: str, estimate: float | None, measured: float | None, source: str) -> dict[str, Any]:
    return {"figure": what, "estimated_bytes": estimate, "measured_bytes": measured,
            "error_pct": _pct(estimate, measured), "measured_source": source}


def roofline_profile(result: dict, gpu_layers: int) -> dict | None:
    """The hardware whose bandwidth bounds the measured decode: this machine's on CPU; with GPU
    layers, the one GPU profile given with -H (else none: no roofline is claimed)."""
    rows = result["hardware"]
    if gpu_layers:
        gpus = [h for h in rows if h["kind"] == "gpu"]
        return gpus[0] if len(gpus) == 1 else None
    here = next((h for h in rows if h["id"] == "this-machine"), None)
    if here is None:
        from dataclasses import asdict

        from bakeoff.estimate.hardware import this_machine

        here = asdict(this_machine())
    return here


def measure_twin(result: dict, model: str, quant: str | None, threads: int | None, gpu_layers: int,
                 n_prompt: int, n_gen: int, reps: int, db=None, cpu_moe: bool = False,
                 n_cpu_moe: int | None = None) -> dict[str, Any]:
    """Build and measure the twin; ``result`` is the fit() estimate for the same model and settings
    (its llama-cpp-python engine figures: the twin is loaded by bakeoff's in-process backend).
    ``cpu_moe`` / ``n_cpu_moe``: the experts' placement (llama.cpp's tensor-buffer overrides)."""
    from bakeoff.estimate import estimate_peak_bytes
    from bakeoff.run.speed import run_speed

    inproc = result.get("engines", {}).get("llama-cpp-python")
    if inproc is None:
        raise InputError("--measure needs the llama-cpp-python engine's estimate (add --engine llama-cpp-python)")
    if result["kv_type"] != "f16":
        raise InputError("--measure loads the twin with an f16 KV cache (bakeoff's llamacpp backend); "
                         "leave --kv-type at f16")
    ctx = result["ctx"]
    if ctx < n_prompt + n_gen:
        raise InputError(f"--ctx {ctx} cannot hold the measurement's {n_prompt} + {n_gen} tokens")
    swa_full = inproc["swa_full"]
    flash_attn = inproc["flash_attn"]
    options: dict[str, Any] = {"quant": quant or result["quant"], "ctx": ctx, "swa_full": swa_full}
    if flash_attn:
        options["flash_attn"] = True
    if cpu_moe:
        options["cpu_moe"] = True
    elif n_cpu_moe:
        options["n_cpu_moe"] = n_cpu_moe
    if threads:
        options["threads"] = threads
    if gpu_layers:
        options["gpu_layers"] = gpu_layers
    spec = ContenderSpec("twin", model, options)
    from bakeoff.measure.memory import GpuMemoryPeak

    with GpuMemoryPeak() as gpu:
        speed = run_speed(db, [spec], [n_prompt], [n_gen], [0], reps, sys.argv)
    pp = next(r for r in speed if r.test.startswith("pp"))
    tg = next(r for r in speed if r.test.startswith("tg"))
    engine = tg.engine_memory or {}
    src = load_model(model, quant)
    arch = src.arch
    mib = 2**20
    on_gpu = bool(gpu_layers)
    weights_key = "unified" if on_gpu else "cpu"
    kv = kv_cache(arch, ctx, "f16", swa_full, flash_attn=flash_attn)
    reserved = compute_reserved(arch, kv.cells_global, kv.cells_sliding, kv.ubatch, flash_attn=flash_attn)
    engine_src = "engine-reported (llama.cpp allocation log, summed over devices)"
    rows = [
        _row("weights", inproc["resident_bytes"][weights_key],
             engine.get("weights_mib", 0) * mib or None, engine_src),
        _row("KV cache", inproc["kv_bytes"], engine.get("kv_mib", 0) * mib or None, engine_src),
        _row("compute buffer", reserved, engine.get("compute_mib", 0) * mib or None, engine_src),
    ]
    placement = Placement(gpu_layers=gpu_layers,
                          n_cpu_moe=arch.n_layer if cpu_moe else min(n_cpu_moe or 0, arch.n_layer))
    depth = n_gen // 2
    placed = split(arch.family, arch.n_expert, arch.n_expert_used, by_layer(src.tensors, arch.n_layer),
                   [layer.bytes for layer in kv.layers], kv_read_by_layer(arch, depth, "f16"), placement, reserved,
                   compute_ffn(arch, kv.ubatch), reserved, runtime_bytes(arch, src.vocab_entries))
    if on_gpu:
        devices = engine.get("by_device") or {}
        device_weights = sum(d.get("weights_mib", 0) for name, d in devices.items() if name != "host") * mib
        host_weights = devices.get("host", {}).get("weights_mib", 0) * mib
        rows.append(_row("weights in VRAM", placed.parts["vram_weights"], device_weights or None, engine_src))
        rows.append(_row("weights in host RAM", placed.parts["ram_weights"], host_weights or None, engine_src))
        rows.append(_row("GPU memory (VRAM)", placed.vram_bytes, gpu.peak_above_baseline,
                         "measured (NVML: peak memory used on the GPU above its value before loading, sampled "
                         "every 50 ms; includes the CUDA context, which the estimate does not)"
                         if gpu.available else f"unavailable ({gpu.reason})"))
    else:
        peak_est = estimate_peak_bytes(src, ctx, n_prompt, "f16", swa_full, flash_attn)["total_bytes"]
        rows.append(_row(f"peak memory after a {n_prompt}-token prompt", peak_est, _peak(speed),
                         "measured (worker peak RSS above its pre-load baseline, mmap off)"))
    profile = roofline_profile(result, gpu_layers)
    bandwidth_gbs = profile["bandwidth_gbs"] if profile else None
    bandwidth_source = f"{profile['name']}: {profile['source']}" if profile else "unavailable"
    if on_gpu and not placement.is_full(arch.n_layer):
        # weights split between the GPU and host RAM: the two parts' times add (bakeoff.estimate.placement)
        roof = placed.decode_tps(bandwidth_gbs, profile.get("ram_bandwidth_gbs") if profile else None,
                                 profile.get("pcie_gbs") if profile else None)
        rows.append(_row("host RAM (peak RSS)", placed.ram_bytes, _peak(speed), "measured (worker peak RSS above "
                         "its pre-load baseline, mmap off; includes CUDA's pinned host buffers)"))
    else:
        per_token = result["weights"]["active_bytes_per_token"] + kv_read_per_token(arch, depth, "f16")
        roof = decode_tps(bandwidth_gbs, per_token)
    return {
        "twin": {"spec": spec.canonical, "ctx": ctx, "swa_full": swa_full, "gpu_layers": gpu_layers,
                 "cpu_moe": cpu_moe, "n_cpu_moe": n_cpu_moe, "threads": tg.threads},
        "engine_memory": engine,
        "memory": rows,
        "speed": {
            "prefill_tps": pp.avg_tps, "prefill_tps_stddev": pp.stddev_tps, "n_prompt": n_prompt,
            "decode_tps": tg.avg_tps, "decode_tps_stddev": tg.stddev_tps, "n_gen": n_gen, "repetitions": reps,
            "source": pp.source,
            "roofline_decode_tps": roof, "roofline_depth": depth, "bandwidth_gbs": bandwidth_gbs,
            "bandwidth_source": bandwidth_source,
            "efficiency": tg.avg_tps / roof if roof else None,
        },
        "quality": "not applicable (random weights)",
    }



def _peak(speed) -> float | None:
    """The largest worker peak RSS above baseline of the speed rows, in bytes."""
    peaks = [r.peak_mem_mb for r in speed if r.peak_mem_mb is not None]
    return max(peaks) * 2**20 if peaks else None
