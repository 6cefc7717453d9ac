"""The speed protocol inside the llamacpp worker (bakeoff.run.speed drives it through the
worker's ``call``): llama-bench's pp and tg tests on llama.cpp's C API."""

from __future__ import annotations

import random
import time
from typing import Any


class SpeedMixin:
    """The engine's speed half; it expects ``llm`` (a loaded Llama)."""

    rpc_methods = ("speed",)

    def speed(self, kind: str, n: int, depth: int, reps: int, seed: int = 0) -> dict[str, Any]:
        """llama-bench's method, on llama.cpp's C API as llama-bench drives it: random tokens;
        ``depth`` tokens put in the KV cache untimed; then ``pp``: one prompt of n tokens (in
        batches of n_batch), or ``tg``: n single-token decodes; each decode followed by
        llama_synchronize (a GPU returns early; it is also where llama.cpp books its perf
        counters). One warm-up repetition, then ``reps`` timed ones, each from an empty cache."""
        import llama_cpp as C

        llm = self.llm
        ctx = llm._ctx.ctx
        n_batch = llm.n_batch
        n_vocab = llm.n_vocab()
        rng = random.Random(seed)

        def decode(tokens: list[int]) -> None:
            for i in range(0, len(tokens), n_batch):
                chunk = tokens[i:i + n_batch]
                arr = (C.llama_token * len(chunk))(*chunk)
                if C.llama_decode(ctx, C.llama_batch_get_one(arr, len(chunk))) != 0:
                    raise RuntimeError("llama_decode failed (context full?)")
                C.llama_synchronize(ctx)

        samples_ns: list[int] = []
        engine_tps: list[float | None] = []
        for rep in range(reps + 1):
            C.llama_memory_clear(C.llama_get_memory(ctx), True)
            if depth:
                decode([rng.randrange(n_vocab) for _ in range(depth)])
            C.llama_perf_context_reset(ctx)
            if kind == "pp":
                tokens = [rng.randrange(n_vocab) for _ in range(n)]
                t0 = time.perf_counter_ns()
                decode(tokens)
            else:
                token = rng.randrange(n_vocab)
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    decode([token])
                    token = rng.randrange(n_vocab)
            elapsed = time.perf_counter_ns() - t0
            perf = C.llama_perf_context(ctx)
            if rep == 0:
                continue  # warm-up
            samples_ns.append(elapsed)
            count, ms = (perf.n_p_eval, perf.t_p_eval_ms) if kind == "pp" and n > 1 else (perf.n_eval, perf.t_eval_ms)
            engine_tps.append(count / ms * 1000 if ms else None)
        C.llama_memory_clear(C.llama_get_memory(ctx), True)
        llm.reset()  # llama-cpp-python's own view of the cache: empty too
        return {"samples_ns": samples_ns, "engine_samples_tps": engine_tps}
