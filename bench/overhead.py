"""Harness overhead and decode-speed fidelity of bakeoff's llama.cpp backend.

Two questions, answered in one run on one machine (ratios, because shared machines are noisy):

1. Does bakeoff report the model's real decode speed? The decode tok/s that bakeoff records for
   a trial is compared with a plain llama-cpp-python loop on the same model, threads, prompt
   and greedy sampling, interleaved rep by rep (ABBA) after a warm-up of each. Goal: ratio >= 0.97.
2. What does the harness add per trial, beyond model time? The wall time of one whole trial as
   the scheduler runs it (request, worker round trip, checks, the SQLite commit) minus the
   model's own send-to-last-token time (E2E) measured in the worker.

Usage: python bench/overhead.py [--model smollm2-135m] [--reps 5] [--tokens 128] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


def plain_decode(llm, tokens: list[int], n_max: int) -> tuple[float, int, float]:
    """The reference: llama-cpp-python's own generate loop, timed token by token.

    Returns client decode tok/s, tokens, and the engine's own decode tok/s (perf counters).
    """
    import llama_cpp

    llm.reset()
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    times = []
    for token in llm.generate(tokens, temp=0.0, reset=True):
        now = time.perf_counter()
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
        times.append(now)
        if len(times) >= n_max:
            break
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    return (len(times) - 1) / (times[-1] - times[0]), len(times), perf.n_eval / perf.t_eval_ms * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from llama_cpp import Llama

    from bakeoff.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from bakeoff.measure.hardware import environment
    from bakeoff.models import resolve_model
    from bakeoff.run.plan import Trial
    from bakeoff.run.scheduler import _run_trial
    from bakeoff.spec import parse_spec
    from bakeoff.store import Database
    from bakeoff.suite.loader import load_suite

    path = resolve_model(args.model)
    spec = parse_spec(f"{args.model}?threads={args.threads}")
    tmp = Path(tempfile.mkdtemp(prefix="bakeoff-bench-"))
    suite_file = tmp / "bench.yaml"
    suite_file.write_text(
        f"defaults: {{max_tokens: {args.tokens}, temperature: 0}}\n"
        f"cases:\n  - id: story\n    prompt: {json.dumps(PROMPT)}\n    checks: [{{regex: '\\w'}}]\n")
    case = load_suite(suite_file).cases[0]
    db = Database(tmp / "bench.db")
    db.start_run("bench", dt.datetime.now().isoformat(), "bench", [], "bench", {})

    backend = LlamaCppBackend(spec.model, LlamaCppOptions(threads=args.threads), trial_timeout_s=600)
    loop = asyncio.new_event_loop()  # the backend's async contract, driven from this loop
    loop.run_until_complete(backend.aload())
    llm = Llama(model_path=str(path), n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, use_mmap=False, verbose=False)
    try:
        def bakeoff_trial(rep: int) -> dict:
            trial = Trial(spec, case, repeat=rep)
            t0 = time.perf_counter()
            loop.run_until_complete(_run_trial(db, "bench", backend, trial))
            wall_ms = (time.perf_counter() - t0) * 1000
            row = db.conn.execute("SELECT * FROM trials WHERE id = ?", (trial.id,)).fetchone()
            return {"wall_ms": wall_ms, **dict(row)}

        # Warm-up of each, and the prompt exactly as bakeoff sent it.
        first = bakeoff_trial(1000)
        tokens = llm.tokenize(first["prompt"].encode(), add_bos=False, special=True)
        assert len(tokens) == first["prompt_tokens"], "plain loop must see the same prompt tokens"
        plain_decode(llm, tokens, args.tokens)

        plain, ours, overhead, counts = [], [], [], set()
        plain_engine, ours_engine = [], []

        def run_plain() -> None:
            tps, n, engine_tps = plain_decode(llm, tokens, args.tokens)
            plain.append(tps)
            plain_engine.append(engine_tps)
            counts.add(n)

        def run_ours(rep: int) -> None:
            row = bakeoff_trial(rep)
            ours.append(row["decode_tps"])
            ours_engine.append(row["engine_decode_tps"])
            counts.add(row["output_tokens"])
            overhead.append(row["wall_ms"] - row["e2e_ms"])

        # ABBA order, so a drift in the machine's speed weighs on both sides alike.
        for rep in range(args.reps):
            if rep % 2 == 0:
                run_plain()
                run_ours(rep)
            else:
                run_ours(rep)
                run_plain()
    finally:
        loop.run_until_complete(backend.aclose())
        loop.close()
        llm.close()

    result = {
        "date": dt.date.today().isoformat(),
        "machine": environment()["hardware"],
        "model": args.model, "threads": args.threads, "tokens": sorted(counts), "reps": args.reps,
        "plain_decode_tps": plain, "bakeoff_decode_tps": ours,
        "ratio_of_medians": statistics.median(ours) / statistics.median(plain),
        "plain_engine_decode_tps": plain_engine, "bakeoff_engine_decode_tps": ours_engine,
        "engine_ratio_of_medians": statistics.median(ours_engine) / statistics.median(plain_engine),
        "harness_overhead_ms": overhead,
        "harness_overhead_ms_median": statistics.median(overhead),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"model {args.model}, {args.threads} threads, {sorted(counts)} output tokens, {args.reps} interleaved reps")
    print(f"plain llama-cpp-python decode: {statistics.median(plain):.1f} tok/s (median; {', '.join(f'{x:.1f}' for x in plain)})")
    print(f"bakeoff reported decode:       {statistics.median(ours):.1f} tok/s (median; {', '.join(f'{x:.1f}' for x in ours)})")
    print(f"ratio bakeoff / plain:         {result['ratio_of_medians']:.3f}  (goal >= 0.97)")
    print(f"same, engine perf counters:    {statistics.median(plain_engine):.1f} vs {statistics.median(ours_engine):.1f} tok/s, "
          f"ratio {result['engine_ratio_of_medians']:.3f} (the engine's own speed in each process)")
    print(f"harness overhead per trial:    {result['harness_overhead_ms_median']:.1f} ms median "
          f"(wall of a whole trial minus model E2E; {', '.join(f'{x:.1f}' for x in overhead)})")


if __name__ == "__main__":
    main()
