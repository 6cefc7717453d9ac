"""The README's "will it run" table: `bakeoff fit` for models × quantizations × hardware × engines.

    .venv/bin/python bench/fit_table.py [--ctx 32768] [--models gemma4-e2b,...] [--quants Q4_K_M,Q8_0,F16]
                                        [-H macbook-air-m4-16gb -H rtx-3060-12gb] [--engines llama-server,...]

Prints a Markdown table, one row per model, quantization and hardware profile, one column per
engine: "yes" with the memory the model needs whole (VRAM on a GPU, unified memory on a Mac) and
the decode roofline; where it does not fit whole on a GPU, the smallest offload the engine offers
that fits (its own option), with VRAM, host RAM and roofline; else "no" and what it would need.
Every figure is an estimate (`bakeoff fit`), none is measured.
"""

from __future__ import annotations

import argparse
import sys

from bakeoff.estimate import fit

GIB = 2**30
BITS = {"Q4_K_M": "4-bit (Q4_K_M)", "Q8_0": "8-bit (Q8_0)", "F16": "16-bit (F16)"}


def _gib(n: float | None) -> str:
    return "–" if n is None else f"{n / GIB:.1f} GiB"


def _tps(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def _flag(eid: str, opts: dict, n_layer: int) -> str:
    """The placement as the engine's own option."""
    if "cpu_offload_gb" in opts:
        return f"--cpu-offload-gb {opts['cpu_offload_gb']:g}"
    parts = []
    ngl = opts.get("gpu_layers", -1)
    if ngl != -1:
        parts.append(f"num_gpu {ngl}" if eid == "ollama" else f"-ngl {ngl}")
    if opts.get("cpu_moe"):
        parts.append("--cpu-moe")
    elif opts.get("n_cpu_moe"):
        parts.append(f"--n-cpu-moe {opts['n_cpu_moe']}")
    return " ".join(parts)


def cell(eid: str, h: dict, n_layer: int) -> str:
    if h.get("supported") is False:
        return "n/a"
    if h["fits"]:
        return f"yes: {_gib(h['total_bytes'])}, ≤ {_tps(h['decode_tps_roofline'])} tok/s"
    o = h.get("offload")
    if o and o.get("placement"):
        return (f"with `{_flag(eid, o['options'], n_layer)}`: {_gib(o['vram_bytes'])} VRAM + "
                f"{_gib(o['ram_bytes'])} RAM, ≤ {_tps(o['decode_tps_roofline'])} tok/s")
    return f"no ({_gib(h['total_bytes'])})"


def rows(models: list[str], quants: list[str], hardware: list[str], engines: list[str], ctx: int):
    for model in models:
        for quant in quants:
            r = fit(model, quant=quant, ctx=ctx, hardware=hardware, engine=engines)
            n_layer = r["architecture"]["layers"]
            for i, _ in enumerate(hardware):
                first = next(iter(r["engines"].values()))["hardware"][i]
                yield [r["name"] or model, BITS.get(quant, quant), first["name"],
                       *(cell(eid, e["hardware"][i], n_layer) for eid, e in r["engines"].items())]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx", type=int, default=32768)
    ap.add_argument("--models", default="gemma4-e2b,gemma4-e4b,gemma4-26b-a4b,gemma4-31b")
    ap.add_argument("--quants", default="Q4_K_M,Q8_0,F16")
    ap.add_argument("-H", "--hardware", action="append")
    ap.add_argument("--engines", default="llama-server,ollama,llama-cpp-python,vllm")
    a = ap.parse_args(argv)
    hardware = a.hardware or ["macbook-air-m4-16gb", "rtx-3060-12gb"]
    engines = a.engines.split(",")
    out = sys.stdout
    out.write("| model | weights | hardware | " + " | ".join(engines) + " |\n")
    out.write("| --- | --- | --- |" + " --- |" * len(engines) + "\n")
    for row in rows(a.models.split(","), a.quants.split(","), hardware, engines, a.ctx):
        out.write("| " + " | ".join(row) + " |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
