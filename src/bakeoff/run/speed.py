"""The speed protocol (llama-bench's method, docs/architecture.md §4): prompt processing (pp) and generation
(tg) measured apart, at each depth of tokens already in the KV cache, a warm-up and then R
repetitions reported as mean ± sample stdev with every sample.

A server contender (openai-compat, Ollama, ...) is measured through its server instead
(bakeoff.run.server_speed): every request cold, figures client-observed beside what the server
reports. In process, each depth gets a fresh load with a context just large enough (depth + the largest test, rounded
up to 256, unless the spec sets ``ctx``), so the memory figure at each depth is the KV cache that
context really costs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import uuid
from dataclasses import dataclass, field
from typing import Any

from bakeoff import __version__
from bakeoff.backends import get_backend
from bakeoff.backends._server import ServerBackend
from bakeoff.errors import InputError
from bakeoff.measure.hardware import environment
from bakeoff.run.contender import open_contender
from bakeoff.run.server_speed import ENGINE_SOURCE, PP_SOURCE, TG_SOURCE, cache_summary, run_server_speed, summarise_server
from bakeoff.spec import ContenderSpec
from bakeoff.store import Database


@dataclass
class SpeedResult:
    spec: str
    test: str
    n_prompt: int
    n_gen: int
    depth: int
    ctx: int
    threads: int | None
    reps: int
    avg_tps: float
    stddev_tps: float | None
    samples_tps: list[float]
    samples_ns: list[int]
    engine_avg_tps: float | None
    peak_mem_mb: float | None
    engine_memory: dict = field(default_factory=dict)
    model_sha256: str | None = None
    source: str = "measured: wall clock around llama_decode calls (as llama-bench)"
    engine_source: str | None = "engine-reported: llama.cpp perf counters"
    cache: str | None = None  # servers: how each request was kept cold, and what the server said it reused


def _ctx_for(depth: int, longest: int) -> int:
    need = depth + longest
    return -(-need // 256) * 256


def _summarise(spec: ContenderSpec, kind: str, n: int, depth: int, ctx: int, reps: int,
               reply: dict, facts: dict, sha: str | None) -> SpeedResult:
    value = reply["value"]
    samples_ns = value["samples_ns"]
    samples_tps = [n / (ns / 1e9) for ns in samples_ns]
    engine = [x for x in value["engine_samples_tps"] if x is not None]
    return SpeedResult(
        spec=spec.canonical, test=f"{kind}{n}", n_prompt=n if kind == "pp" else 0,
        n_gen=n if kind == "tg" else 0, depth=depth, ctx=ctx, threads=facts.get("threads"), reps=reps,
        avg_tps=statistics.fmean(samples_tps),
        stddev_tps=statistics.stdev(samples_tps) if len(samples_tps) > 1 else None,
        samples_tps=samples_tps, samples_ns=samples_ns,
        engine_avg_tps=statistics.fmean(engine) if engine else None,
        peak_mem_mb=reply.get("peak_mb"), engine_memory=facts.get("engine_memory", {}), model_sha256=sha,
    )


def run_speed(db: Database | None, specs: list[ContenderSpec], n_prompt: list[int], n_gen: list[int],
              depths: list[int], reps: int, argv: list[str], timeout_s: float = 1800.0,
              on_result=None) -> list[SpeedResult]:
    longest = max(n_prompt + n_gen)
    run_id = uuid.uuid4().hex[:12]
    now = lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")  # noqa: E731
    if db:
        db.start_run(run_id, now(), "speed", argv, __version__, environment())
    results: list[SpeedResult] = []
    status = "interrupted"
    try:
        def keep(result: SpeedResult) -> None:
            results.append(result)
            if db:
                _store(db, run_id, result, now())
            if on_result:
                on_result(result)

        for spec in specs:
            backend_cls = get_backend(spec.backend)
            if issubclass(backend_cls, ServerBackend):
                run_server_speed(spec, n_prompt, n_gen, depths, reps, timeout_s, keep,
                                 lambda *a, spec=spec: _server_result(spec, reps, *a))
                continue
            if not hasattr(backend_cls, "call") or "speed" not in getattr(
                    _engine_class(backend_cls), "rpc_methods", ()):
                raise InputError(f"{spec.canonical}: backend {spec.backend!r} has no speed protocol")
            asyncio.run(_speed_in_process(spec, n_prompt, n_gen, depths, reps, timeout_s, longest, keep))
        status = "completed"
    finally:
        if db:
            db.finish_run(run_id, now(), status)
    return results


async def _speed_in_process(spec: ContenderSpec, n_prompt: list[int], n_gen: list[int], depths: list[int],
                            reps: int, timeout_s: float, longest: int, keep) -> None:
    """Each depth on a fresh load with a context just large enough; the model file hashed once."""
    sha = None
    for depth in depths:
        ctx = spec.options.get("ctx") or _ctx_for(depth, longest)
        if ctx < depth + longest:
            raise InputError(f"{spec.canonical}: ctx={ctx} cannot hold depth {depth} + {longest} tokens")
        async with open_contender(spec, timeout_s, sha256=sha, ctx=ctx) as contender:
            if contender.error is not None:
                raise contender.error
            sha = contender.sha256  # once per contender, not per depth
            for kind, sizes in (("pp", n_prompt), ("tg", n_gen)):
                for n in sizes:
                    if n <= 0:
                        continue
                    reply = await contender.backend.call("speed", kind=kind, n=n, depth=depth, reps=reps)
                    keep(_summarise(spec, kind, n, depth, ctx, reps, reply, contender.facts, sha))


def _server_result(spec: ContenderSpec, reps: int, kind: str, n: int, depth: int, figures: dict, backend,
                   maker) -> SpeedResult:
    """A server test's result, in the in-process shape, each figure labelled with where it came from."""
    summary = summarise_server(figures)
    counts = ", ".join(sorted(figures["counts"]))
    return SpeedResult(
        spec=spec.canonical, test=f"{kind}{n}", n_prompt=n if kind == "pp" else 0, n_gen=n if kind == "tg" else 0,
        depth=depth, ctx=0, threads=None, reps=reps, avg_tps=summary["avg_tps"], stddev_tps=summary["stddev_tps"],
        samples_tps=figures["samples_tps"], samples_ns=figures["samples_ns"],
        engine_avg_tps=summary["engine_avg_tps"], peak_mem_mb=None,
        source=f"{PP_SOURCE if kind == 'pp' else TG_SOURCE} (tokens: {counts})",
        engine_source=ENGINE_SOURCE if summary["engine_avg_tps"] is not None else None,
        cache=cache_summary(kind, figures["cache"]))


def _engine_class(backend_cls):
    import importlib

    module, _, name = getattr(backend_cls, "engine", ":").partition(":")
    return getattr(importlib.import_module(module), name, None) if module else None


def _store(db: Database, run_id: str, r: SpeedResult, created: str) -> None:
    row = {"run_id": run_id, "spec": r.spec, "test": r.test, "n_prompt": r.n_prompt, "n_gen": r.n_gen,
           "depth": r.depth, "ctx": r.ctx, "threads": r.threads, "reps": r.reps, "avg_tps": r.avg_tps,
           "stddev_tps": r.stddev_tps, "samples_tps": json.dumps(r.samples_tps), "samples_ns": json.dumps(r.samples_ns),
           "engine_avg_tps": r.engine_avg_tps, "peak_mem_mb": r.peak_mem_mb,
           "engine_memory": json.dumps(r.engine_memory), "model_sha256": r.model_sha256, "created_at": created,
           "source": r.source + (f"; {r.cache}" if r.cache else ""), "engine_source": r.engine_source}
    db.record_speed_result(row)


def speed_rows_json(results: list[SpeedResult]) -> list[dict[str, Any]]:
    """llama-bench-shaped JSON objects."""
    return [dict(r.__dict__) for r in results]
