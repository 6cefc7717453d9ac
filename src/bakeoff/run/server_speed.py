"""The speed protocol through a server (llama-bench's -p/-n/-d, as llama-benchy runs it against any
OpenAI-compatible server), for server contenders of `bakeoff speed`.

Each depth is measured cold: every repetition starts from a fresh random text (no earlier request,
run or repetition shares its prefix beyond the chat template's opening), and the server's
per-request cache controls keep each request to what its own repetition put in the cache
(llama-server ``cache_prompt``, vLLM ``cache_salt``); with ``cache=bust`` each request starts with
a unique marker and reuses nothing. What the server says it took from its cache is kept with the
result.

- **pp N at depth d**: per repetition a fresh random context of d + 1 tokens is sent once
  (untimed: it puts the context in the server's cache, as llama-bench fills the KV cache before
  timing), then again (the baseline) and with N more tokens, each answering one token, both
  allowed to reuse that context (llama-server ``cache_prompt: true``, vLLM the repetition's own
  ``cache_salt``; llama-cpp-python's server reuses the previous prompt's prefix by itself). The
  N tokens' prefill at depth d took the difference of the two TTFTs (round trip, chat template,
  the context's last token and the first decoded token cancel): pp tok/s = (prompt tokens of the
  longer − of the baseline) / (TTFT₂ − TTFT₁). A server that reuses nothing evaluates both in
  full, and the difference still holds, with more noise. Engine-reported, where the server sends
  ``timings`` (llama-server): the same difference of ``prompt_n`` over ``prompt_ms``.
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
import uuid
from typing import Any

from bakeoff.backends._server import ServerBackend
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.measure.cache import bust_prefix, with_bust
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.contender import open_contender
from bakeoff.spec import ContenderSpec

PP_SOURCE = ("client-observed: prompt tokens added / (TTFT with them − TTFT without), on a fresh d-token context "
             "per repetition that the server has just evaluated")
TG_SOURCE = "client-observed: (output tokens − 1) / (last token − first token) of one cold request"
ENGINE_SOURCE = "engine-reported: server timings (prompt_n/prompt_ms, predicted_n/predicted_ms)"


async def _ask(backend: ServerBackend, spec: ContenderSpec, text: str, max_tokens: int,
               extra: dict | None, salt: str | None = None) -> dict[str, Any]:
    """One request, cold unless ``salt`` lets it reuse what requests of the same salt left in the
    server's cache: its figures, prompt tokens and what the server says it reused."""
    messages = [{"role": "user", "content": text}]
    if spec.options.get("cache") == "bust":
        messages = with_bust(messages, bust_prefix())
    request = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, extra_body=extra,
                                warm=salt is not None, cache_salt=salt)
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
            # the rep's fresh context, evaluated once untimed; then the same again (baseline) and with
            # N more tokens, both free to reuse that context (same cache_salt, cache_prompt=true)
            longer = base_text + " " + maker.make(n, f"{seed}:{kind}{n}:d{depth}:{rep}:b")[0]
            salt = uuid.uuid4().hex
            await _ask(backend, spec, base_text, 1, None, salt)
            short = await _ask(backend, spec, base_text, 1, None, salt)
            long = await _ask(backend, spec, longer, 1, None, salt)
            (a, how_a), (b, how_b) = (_prompt_tokens(short, maker, base_text, depth + 1),
                                      _prompt_tokens(long, maker, longer, depth + 1 + n))
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


def cache_summary(kind: str, events: list[dict]) -> str:
    """How a test's requests were kept cold, and what the server said it reused, in words."""
    reported = [e["cached_tokens"] for e in events if e.get("cached_tokens") is not None]
    told = (f"cached prompt tokens per timed request: {min(reported)} to {max(reported)} ({events[0].get('source')})"
            if reported else "cached tokens not reported")
    if kind == "pp":
        return ("cold: a fresh random context per repetition, evaluated once untimed; the baseline and the longer "
                "request may reuse it (and nothing else: " + ("the repetition's own cache_salt or cache_prompt=true"
                if any(e.get("control") for e in events) else "the server keeps only the previous prompt's prefix")
                + f"); {told}")
    control = next((e.get("control") for e in events if e.get("control")), None) or \
        "none: the server takes no per-request switch; each repetition is a fresh random text"
    return f"cold ({control}); {told}"


def run_server_speed(spec: ContenderSpec, n_prompt: list[int], n_gen: list[int], depths: list[int], reps: int,
                     timeout_s: float, on_result, make_result) -> None:
    """Every test and depth of one server contender; ``make_result(kind, n, depth, figures)`` builds
    each result and ``on_result`` takes it as it is measured."""
    from bakeoff.run.load import PromptMaker, full_length_fields

    async def main() -> None:
        async with open_contender(spec, timeout_s) as contender:
            if contender.error is not None:
                raise contender.error
            backend = contender.backend
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

    asyncio.run(main())


def summarise_server(figures: dict[str, Any]) -> dict[str, Any]:
    samples = figures["samples_tps"]
    engine = [x for x in figures["engine"] if x is not None]
    return {"avg_tps": statistics.fmean(samples), "stddev_tps": statistics.stdev(samples) if len(samples) > 1 else None,
            "engine_avg_tps": statistics.fmean(engine) if engine else None}
