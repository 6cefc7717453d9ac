"""Architecture twins of real models: build time, size, llama.cpp's parameter count, tensor types,
and `bakeoff fit --measure` (estimate vs measured memory, speed) at each context.

    .venv/bin/python bench/twins.py                       # Gemma 4 E2B, E4B, 26B-A4B, 31B at 4K and 32K
    .venv/bin/python bench/twins.py --models gemma4-e2b --ctx 4096 --json
    .venv/bin/python bench/twins.py --gpu-layers -1 -H h100   # layers on the GPU (a CUDA build)
    .venv/bin/python bench/twins.py --models gemma4-26b-a4b --cpu-moe -H rtx-3060-12gb   # experts in RAM

Each twin is built into a fresh folder (so the build time is a build, not a cache hit) unless
--cache is given. Memory is measured with mmap off; see bakeoff/run/twin_measure.py for what
each figure is compared with. Results go in bench/README.md with the machine, date and command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["gemma4-e2b", "gemma4-e4b", "gemma4-26b-a4b", "gemma4-31b"]
COUNT = """
import sys, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, use_mmap=True, verbose=False, n_gpu_layers=0)
print(llama_cpp.llama_model_n_params(llm._model.model), llama_cpp.llama_model_size(llm._model.model))
"""


def llama_cpp_count(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", COUNT, str(path)], capture_output=True, text=True, check=True)
    params, size = out.stdout.split()
    return int(params), int(size)


def estimate_type_mismatches(model: str, quant: str, twin_path: Path) -> list[str]:
    """Tensors whose type in the twin (llama.cpp's quantizer) differs from bakeoff's port of the
    quantizer rules (bakeoff.estimate.quant), which the estimate for a model not on disk uses."""
    from gguf import GGUFReader

    from bakeoff.estimate.source import load_model
    from bakeoff.estimate.weights import type_name

    real = {t.name: t.tensor_type.name for t in GGUFReader(str(twin_path)).tensors}
    return [f"{name}: estimate {type_name(t)}, llama.cpp {real.get(name)}"
            for name, _, t in load_model(model, quant).tensors if real.get(name) != type_name(t)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--quant", default="Q4_K_M")
    ap.add_argument("--ctx", default="4096,32768", help="contexts to measure at; empty: build only")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--gpu-layers", type=int, help="default 0, or -1 with --cpu-moe / --n-cpu-moe")
    ap.add_argument("--cpu-moe", action="store_true", help="every layer's experts in host RAM, the rest on the GPU")
    ap.add_argument("--n-cpu-moe", type=int, help="the experts of the first N layers in host RAM")
    ap.add_argument("-H", "--hardware", action="append", help="profile whose bandwidth bounds a GPU run")
    ap.add_argument("--no-swa-full", action="store_true", help="window + ubatch sliding cache (fits 32K in less RAM)")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("-r", type=int, default=2)
    ap.add_argument("--cache", action="store_true", help="reuse cached twins (no fresh build)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    fresh = None
    if not args.cache:  # a fresh home, removed at the end: full-size twins take tens of GB
        fresh = tempfile.TemporaryDirectory(prefix="bench-twins-", dir=os.environ.get("TWIN_DIR"))
        os.environ["BAKEOFF_HOME"] = fresh.name
    try:
        return _bench(args)
    finally:
        if fresh:
            fresh.cleanup()


def _bench(args) -> int:
    from bakeoff.estimate import fit
    from bakeoff.run.twin_measure import measure_twin
    from bakeoff.twin import build_twin

    rows = []
    for model in args.models.split(","):
        t0 = time.perf_counter()
        twin = build_twin(model, args.quant, threads=args.threads)
        built = time.perf_counter() - t0
        params, size = llama_cpp_count(twin.path)
        row = {"model": model, "quant": twin.quant, "build_s": round(built, 1), "file_gib": twin.file_bytes / 2**30,
               "params_llama_cpp": params, "model_size_gib_llama_cpp": size / 2**30, "types": twin.by_type,
               "estimate_type_mismatches": estimate_type_mismatches(model, args.quant, twin.path), "contexts": []}
        print(f"{model}: built in {built:.1f} s, {twin.file_bytes / 2**30:.2f} GiB, llama.cpp: {params / 1e9:.2f}B "
              f"params; types {twin.by_type}; estimate-port mismatches: {len(row['estimate_type_mismatches'])}",
              file=sys.stderr, flush=True)
        for ctx in (int(c) for c in args.ctx.split(",") if c):
            placed = args.cpu_moe or bool(args.n_cpu_moe)
            ngl = args.gpu_layers if args.gpu_layers is not None else (-1 if placed else 0)
            result = fit(model, quant=args.quant, ctx=ctx, swa_full=not args.no_swa_full,
                         hardware=args.hardware or ["this-machine"], engine="llama-cpp-python",
                         gpu_layers=ngl if ngl else None, cpu_moe=args.cpu_moe, n_cpu_moe=args.n_cpu_moe)
            m = measure_twin(result, model, args.quant, args.threads, ngl, args.p, args.n, args.r,
                             cpu_moe=args.cpu_moe, n_cpu_moe=args.n_cpu_moe)
            row["contexts"].append({"ctx": ctx, "estimate_total_cpu_bytes": result["total_bytes"], **m})
            mem = "; ".join(f"{r['figure']} {r['error_pct']:+.1f}%" for r in m["memory"] if r["error_pct"] is not None)
            s = m["speed"]
            print(f"  ctx {ctx}: pp{args.p} {s['prefill_tps']:.1f} tok/s, tg{args.n} {s['decode_tps']:.2f} tok/s "
                  f"(efficiency {s['efficiency'] or 0:.0%}); estimate error: {mem}", file=sys.stderr, flush=True)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
