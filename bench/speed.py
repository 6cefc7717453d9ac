"""`bakeoff speed` against llama.cpp's C API driven directly, in one run.

The reference is a plain decode loop on llama.cpp's C API (llama_decode + llama_synchronize on
llama_batch_get_one, as llama-bench's test_prompt / test_gen do), in this process, with the same
model file, threads, batch and context as bakeoff's worker. Each pair runs one warm-up and one
timed repetition per side, in ABBA order. Goal: bakeoff tg / reference tg >= 0.97 (pp recorded).

Usage: python bench/speed.py [--model smollm2-135m] [--pairs 10] [-p 512] [-n 128] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import time


class PlainLlama:
    """llama.cpp through its C API only: no llama-cpp-python Llama object in the way."""

    def __init__(self, path: str, n_ctx: int, threads: int, n_batch: int = 512, flash_attn: bool = False):
        import llama_cpp as C

        self.C = C
        C.llama_backend_init()
        mparams = C.llama_model_default_params()
        mparams.use_mmap = False
        self.model = C.llama_model_load_from_file(path.encode(), mparams)
        cparams = C.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = n_ctx, n_batch, n_batch
        cparams.n_threads = cparams.n_threads_batch = threads
        # Same attention kernel as the contender: llama-cpp-python turns flash attention off
        # unless asked (llama.cpp's own default is "auto"); compare like with like.
        cparams.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else C.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = C.llama_init_from_model(self.model, cparams)
        self.n_vocab = C.llama_vocab_n_tokens(C.llama_model_get_vocab(self.model))
        self.rng = random.Random(0)

    def _decode(self, tokens: list[int]) -> None:
        arr = (self.C.llama_token * len(tokens))(*tokens)
        if self.C.llama_decode(self.ctx, self.C.llama_batch_get_one(arr, len(tokens))) != 0:
            raise RuntimeError("llama_decode failed")
        self.C.llama_synchronize(self.ctx)

    def run(self, kind: str, n: int) -> float:
        """One warm-up and one timed repetition from an empty cache; returns tokens/s."""
        tps = 0.0
        for _ in range(2):
            self.C.llama_memory_clear(self.C.llama_get_memory(self.ctx), True)
            if kind == "pp":
                tokens = [self.rng.randrange(self.n_vocab) for _ in range(n)]
                t0 = time.perf_counter_ns()
                self._decode(tokens)
            else:
                token = self.rng.randrange(self.n_vocab)
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    self._decode([token])
                    token = self.rng.randrange(self.n_vocab)
            tps = n / ((time.perf_counter_ns() - t0) / 1e9)
        return tps

    def close(self) -> None:
        self.C.llama_free(self.ctx)
        self.C.llama_model_free(self.model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", action="store_true", help="both sides with flash attention on")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from bakeoff.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from bakeoff.measure.hardware import environment
    from bakeoff.models import resolve_model

    path = str(resolve_model(args.model))
    n_ctx = -(-max(args.p, args.n) // 256) * 256
    backend = LlamaCppBackend(args.model, LlamaCppOptions(threads=args.threads, ctx=n_ctx, flash_attn=args.flash_attn), trial_timeout_s=900)
    loop = asyncio.new_event_loop()  # the backend's async contract, driven from this loop
    loop.run_until_complete(backend.aload())
    plain = PlainLlama(path, n_ctx, args.threads, flash_attn=args.flash_attn)
    ours: dict[str, list[float]] = {"pp": [], "tg": []}
    ref: dict[str, list[float]] = {"pp": [], "tg": []}
    try:
        for i in range(args.pairs):
            for kind, n in (("pp", args.p), ("tg", args.n)):
                def run_ours() -> None:
                    value = loop.run_until_complete(backend.call("speed", kind=kind, n=n, depth=0, reps=1))["value"]
                    ours[kind].append(n / (value["samples_ns"][0] / 1e9))

                def run_ref() -> None:
                    ref[kind].append(plain.run(kind, n))

                first, second = (run_ours, run_ref) if i % 2 == 0 else (run_ref, run_ours)  # ABBA
                first()
                time.sleep(0.5)  # let the other side's llama.cpp threads stop spinning
                second()
                time.sleep(0.5)
    finally:
        loop.run_until_complete(backend.aclose())
        loop.close()
        plain.close()
    result = {"date": dt.date.today().isoformat(), "machine": environment()["hardware"], "model": args.model,
              "threads": args.threads, "flash_attn": args.flash_attn, "pairs": args.pairs, "n_prompt": args.p, "n_gen": args.n,
              "bakeoff": ours, "reference": ref,
              "ratio_pp": statistics.median(ours["pp"]) / statistics.median(ref["pp"]),
              "ratio_tg": statistics.median(ours["tg"]) / statistics.median(ref["tg"])}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"model {args.model}, {args.threads} threads, flash attention {'on' if args.flash_attn else 'off'}, "
          f"{args.pairs} ABBA pairs")
    for kind, n in (("pp", args.p), ("tg", args.n)):
        print(f"{kind}{n}: bakeoff speed {statistics.median(ours[kind]):.1f} tok/s, C API loop "
              f"{statistics.median(ref[kind]):.1f} tok/s (medians), ratio {result['ratio_' + kind]:.3f}")


if __name__ == "__main__":
    main()
