"""The speed protocol through a server (llama-bench's -p/-n/-d, as llama-benchy runs it against any
OpenAI-compatible server), for server contenders of `bakeoff speed`.

Every request is cold: a fresh random text (so no earlier request shares its prefix beyond the
chat template's opening), sent with the server's per-request cache switch where it has one
(llama-server ``cache_prompt: false``, vLLM a fresh ``cache_salt``) and, with ``cache=bust``, a
unique marker at its start. What the server says it took from its cache is kept with the result.

- **pp N at depth d**: two cold requests per repetition, one of d + 1 tokens and one of
  d + 1 + N tokens, each answering one token. The N tokens' prefill at depth d took the
  difference of their TTFTs (round trip, chat template and the first decoded token cancel):
  pp tok/s = (prompt tokens of the second − of the first) / (TTFT₂ − TTFT₁). Engine-reported,
  where the server sends ``timings`` (llama-server): the same difference of ``prompt_n`` over
  ``prompt_ms``.
- **tg N at depth d**: one cold request of d + 1 tokens asked for N tokens (EOS ignored where the
  server allows it): tg tok/s = (output tokens − 1) / (last token − first token), docs/architecture.md
  §4's decode rate. Engine-reported: ``predicted_n / predicted_ms``.

Prompt tokens come from the server's usage where it sends it, else the contender's tokenizer
(``tokenizer=``) on the text sent, else the number asked for (the figure then says approximate).
One warm-up repetition, then R, as llama-bench.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from bakeoff.backends import make_backend
from bakeoff.backends._server import ServerBackend
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.measure.cache import bust_prefix, with_bust
from bakeoff.measure.timing import StreamMeasure
from bakeoff.spec import ContenderSpec

PP_SOURCE = ("client-observed: prompt tokens added / (TTFT with them − TTFT without), two cold requests per "
             "repetition")
TG_SOURCE = "client-observed: (output tokens − 1) / (last token − first token) of one cold request"
ENGINE_SOURCE = "engine-reported: server timings (prompt_n/prompt_ms, predicted_n/predicted_ms)"


async def _ask(backend: ServerBackend, spec: ContenderSpec, text: str, max_tokens: int,
               extra: dict | None) -> dict[str, Any]:
    """One cold request: its figures, prompt tokens and what the server says it reused."""
    messages = [{"role": "user", "content": text}]
    if spec.options.get("cache") == "bust":
        messages = with_bust(messages, bust_prefix())
    request = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, extra_body=extra)
    measure = StreamMeasure()
    async for event in backend.astream(request):
        measure.feed(event)
    f = measure.finish()
    if f.ttft_ms is None:
        raise BackendError("the server streamed no token")
    return {"ttft_ms": f.ttft_ms, "e2e_ms": f.e2e_ms, "prompt_tokens": f.prompt_tokens, "output_tokens": f.output_tokens,
            "decode_tps": f.decode_tps, "engine_prompt_n": f.engine_prompt_n, "engine_prompt_ms": f.engine_prompt_ms,
            "engine_decode_tps": f.engine_decode_tps, "cache": measure.cache or {}, "tokens_source": f.tokens_source}


def _prompt_tokens(reply: dict, maker, text: str, asked: int) -> tuple[int, str]:
    if reply["prompt_tokens"] is not None:
        return reply["prompt_tokens"], f"prompt: {reply['tokens_source']}"
    counted = maker.count(text)
    return (counted, "prompt: tokenizer") if counted is not None else (asked, "prompt: asked for (approximate)")


async def _measure(backend, spec, maker, kind: str, n: int, depth: int, reps: int, seed: str,
                   extra: dict | None) -> dict[str, Any]:
    samples_tps, samples_ns, engine, counts, cached = [], [], [], set(), []
    for rep in range(reps + 1):  # repetition 0 is the warm-up
        base_text = maker.make(depth + 1, f"{seed}:{kind}{n}:d{depth}:{rep}:a")[0]
        if kind == "pp":
            long_text = maker.make(depth + 1 + n, f"{seed}:{kind}{n}:d{depth}:{rep}:b")[0]
            short = await _ask(backend, spec, base_text, 1, None)
            long = await _ask(backend, spec, long_text, 1, None)
            (a, how_a), (b, how_b) = (_prompt_tokens(short, maker, base_text, depth + 1),
                                      _prompt_tokens(long, maker, long_text, depth + 1 + n))
            seconds = (long["ttft_ms"] - short["ttft_ms"]) / 1000
            tps = (b - a) / seconds if seconds > 0 else None
            eng = None
            if None not in (short["engine_prompt_ms"], long["engine_prompt_ms"], short["engine_prompt_n"],
                            long["engine_prompt_n"]) and long["engine_prompt_ms"] > short["engine_prompt_ms"]:
                eng = ((long["engine_prompt_n"] - short["engine_prompt_n"])
                       / (long["engine_prompt_ms"] - short["engine_prompt_ms"]) * 1000)
            replies, how = (short, long), {how_a, how_b}
        else:
            reply = await _ask(backend, spec, base_text, n, extra)
            seconds = (reply["e2e_ms"] - reply["ttft_ms"]) / 1000
            tps, eng, replies = reply["decode_tps"], reply["engine_decode_tps"], (reply,)
            how = {f"output: {reply['tokens_source'] or 'unknown'}"}
        if rep == 0:
            continue
        if tps is None and kind == "tg":
            raise BackendError(f"tg{n} at depth {depth}: the server sends no token usage and no tokenizer is known, "
                               "so the generated tokens cannot be counted; add ?tokenizer=GGUF_OR_ALIAS to the spec")
        if tps is None:
            raise BackendError(f"{kind}{n} at depth {depth}: no positive time to divide by "
                               "(the server answered the longer prompt as fast as the shorter one)")
        samples_tps.append(tps)
        samples_ns.append(int(seconds * 1e9))
        engine.append(eng)
        counts |= how
        cached += [r["cache"] for r in replies]
    return {"samples_tps": samples_tps, "samples_ns": samples_ns, "engine": engine, "counts": counts,
            "cache": cached}


def cache_summary(events: list[dict]) -> str:
    """What the server said about its prefix cache over a test's requests, in words."""
    control = next((e.get("control") for e in events if e.get("control")), None) or \
        "none: the server takes no per-request switch; every prompt is a fresh random text"
    reported = [e["cached_tokens"] for e in events if e.get("cached_tokens") is not None]
    told = (f"cached prompt tokens per request: max {max(reported)} ({events[0].get('source')})" if reported
            else "cached tokens not reported")
    return f"cold ({control}); {told}"


def run_server_speed(spec: ContenderSpec, n_prompt: list[int], n_gen: list[int], depths: list[int], reps: int,
                     timeout_s: float, on_result, make_result) -> None:
    """Every test and depth of one server contender; ``make_result(kind, n, depth, figures)`` builds
    each result and ``on_result`` takes it as it is measured."""
    from bakeoff.run.load import PromptMaker, full_length_fields

    async def main() -> None:
        backend = make_backend(spec, timeout_s)
        try:
            await backend.aload()
            maker = PromptMaker(spec.options.get("tokenizer"), getattr(backend, "_tokenizer", None))
            extra = full_length_fields(backend, max(n_gen + [1]))
            seed = f"speed-{id(backend):x}-{asyncio.get_running_loop().time()}"
            for depth in depths:
                for kind, sizes in (("pp", n_prompt), ("tg", n_gen)):
                    for n in sizes:
                        if n <= 0:
                            continue
                        tg_extra = {**extra, "min_tokens": n} if extra else None  # EOS ignored for n tokens
                        figures = await _measure(backend, spec, maker, kind, n, depth, reps, seed, tg_extra)
                        on_result(make_result(kind, n, depth, figures, backend, maker))
        finally:
            await backend.aclose()

    asyncio.run(main())


def summarise_server(figures: dict[str, Any]) -> dict[str, Any]:
    samples = figures["samples_tps"]
    engine = [x for x in figures["engine"] if x is not None]
    return {"avg_tps": statistics.fmean(samples), "stddev_tps": statistics.stdev(samples) if len(samples) > 1 else None,
            "engine_avg_tps": statistics.fmean(engine) if engine else None}
