"""`bakeoff load`'s client against a minimal raw asyncio httpx2 client, in one run.

Starts llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1
with a packaged model, then measures, alternating A/B/A/B, at one concurrency level with the same
N requests and token sizes:

  A. bakeoff's load client (bakeoff.run.load_client, ``--workers`` processes; 1: in this process),
     driven by ``bakeoff.run.load.run_level`` as ``bakeoff load`` drives it;
  B. a raw client: C asyncio workers posting the identical JSON bodies with
     ``httpx2.AsyncClient().stream("POST", ...)`` and reading the SSE lines.

Each pair gets fresh random prompts (so no prefix cache answers them), the same for A and B.
Output tokens are counted the same way for both (the model's tokenizer over each answer's text,
after the timed part). Throughput = output tokens / (first send -> last answer), as vLLM defines
it. Goal: bakeoff / raw >= 0.95 at concurrency 16.

llama-cpp-python's server runs one request at a time (the others wait on its lock), so the server
is the bottleneck and both clients mostly wait; what the ratio shows is the client's own cost
(CPU it takes from the server on a small machine, latency it adds between requests).

Usage: python bench/load.py [--model smollm2-135m] [--threads 2] [--concurrency 16] [--requests 48]
                            [-p 64] [-o 32] [--pairs 3] [--workers 1] [--fast-server] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --fast-server: an OpenAI-shaped SSE stand-in with no model behind it, answering every request at
# once with max_tokens chunks of one word each, as fast as uvicorn can send them. The clients are
# then the bottleneck, which is what it is for: each client's ceiling in tokens/s.
FAST_SERVER = r"""
import json, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

async def models(request):
    return JSONResponse({"object": "list", "data": [{"id": sys.argv[2], "object": "model"}]})

async def chat(request):
    body = await request.json()
    n = int(body.get("max_tokens") or 16)
    head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body.get("model")}
    def line(delta, finish=None):
        return "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
    async def events():
        yield line({"role": "assistant"})
        for _ in range(n):
            yield line({"content": " hello"})
        yield line({}, "length")
        yield "data: [DONE]\n\n"
    return StreamingResponse(events(), media_type="text/event-stream")

app = Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def start_server(model_path: str, threads: int, alias: str, fast: bool = False,
                 ctx: int = 2048) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = ([sys.executable, "-c", FAST_SERVER, str(port), alias] if fast else
               [sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", "127.0.0.1",
                "--port", str(port), "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(ctx),
                "--model_alias", alias, "--interrupt_requests", "False", "--verbose", "False"])
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start")


async def raw_level(client, url: str, bodies: list[dict], concurrency: int) -> tuple[float, list[str]]:
    """C workers, each posting its next body as soon as its last answer ends; returns (duration s, texts)."""
    texts = [""] * len(bodies)
    sent = [0.0] * len(bodies)
    done = [0.0] * len(bodies)
    pending = iter(enumerate(bodies))

    async def worker() -> None:
        for i, body in pending:
            parts = []
            sent[i] = time.perf_counter()
            async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    for choice in json.loads(data).get("choices") or []:
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            parts.append(content)
            done[i] = time.perf_counter()
            texts[i] = "".join(parts)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return max(done) - min(sent), texts


def bench(args, url: str, model_ref: str) -> dict:
    import httpx2

    from bakeoff.backends import make_backend
    from bakeoff.run.load import (LevelPlan, LoadSettings, PromptMaker, build_requests, full_length_fields,
                                  level_result, run_level, with_extra_body)
    from bakeoff.run.load_client import make_client
    from bakeoff.spec import parse_contender

    spec = parse_contender(f"openai-compat:{url}#{args.alias}?tokenizer={model_ref}")
    backend = make_backend(spec, 600.0)  # the body bakeoff sends; requests go through its load client

    async def load_and_close() -> None:  # the server's kind is what request bodies depend on
        await backend.aload()
        await backend.aclose()

    asyncio.run(load_and_close())
    extra = full_length_fields(backend, args.output_tokens)
    maker = PromptMaker(model_ref)
    settings = LoadSettings(concurrency=[args.concurrency], requests=args.requests, prompt_tokens=args.prompt_tokens,
                            output_tokens=args.output_tokens, slo={}, workers=args.workers)
    client = make_client(spec.canonical, 600.0, args.workers)
    client.load()
    plan = LevelPlan(slots=args.concurrency)

    def body_of(request) -> dict:
        """Exactly what bakeoff's backend sends (its SDK arguments, extra_body merged), as JSON."""
        return backend.wire_request(request)[2]

    def count(text: str) -> int:
        return maker.count(text)

    async def raw_side(bodies: list[dict]) -> tuple[float, list[str]]:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(600.0, connect=10.0),
                                      limits=httpx2.Limits(max_connections=args.concurrency * 2)) as raw:
            return await raw_level(raw, url, bodies, args.concurrency)

    rounds = []
    try:
        # Warm-up, untimed: one level of each side at full concurrency with C requests (the first
        # requests after the server starts run slow, whoever sends them).
        warm, _ = build_requests(spec, maker, args.concurrency, args.prompt_tokens, args.output_tokens,
                                 f"warm-up-{time.time_ns()}")
        with_extra_body(warm, extra)
        run_level(client, warm, plan)
        asyncio.run(raw_side([body_of(r) for r in warm]))
        for pair in range(args.pairs):
            requests, counts = build_requests(spec, maker, args.requests, args.prompt_tokens, args.output_tokens,
                                              f"bench-{time.time_ns()}-{pair}")
            with_extra_body(requests, extra)
            bodies = [body_of(r) for r in requests]
            for side in ("bakeoff", "raw"):
                time.sleep(1.0)  # let the server's threads settle between sides
                cpu = time.process_time()  # this process only: the raw client's CPU, not the server's
                if side == "bakeoff":
                    duration, samples, figures = run_level(client, requests, plan)
                    r = level_result("bench", spec.canonical, args.concurrency, settings, duration, samples, counts)
                    tokens, failed = r.total_output_tokens, r.failed
                    cpu = sum(figures["cpu_s"])  # the worker processes' own CPU over the level
                else:
                    duration, texts = asyncio.run(raw_side(bodies))
                    cpu = time.process_time() - cpu
                    tokens, failed = sum(count(t) for t in texts), 0  # counted after the timed part
                rounds.append({"pair": pair, "side": side, "duration_s": duration, "output_tokens": tokens,
                               "failed": failed, "output_throughput": tokens / duration, "client_cpu_s": cpu})
                print(f"pair {pair} {side:8} {tokens:5d} tokens in {duration:6.2f} s = "
                      f"{tokens / duration:7.2f} output tok/s; client CPU {cpu:.2f} s", file=sys.stderr)
    finally:
        client.close()
    a = [r["output_throughput"] for r in rounds if r["side"] == "bakeoff"]
    b = [r["output_throughput"] for r in rounds if r["side"] == "raw"]
    cpu_a = statistics.fmean(r["client_cpu_s"] for r in rounds if r["side"] == "bakeoff")
    cpu_b = statistics.fmean(r["client_cpu_s"] for r in rounds if r["side"] == "raw")
    return {"rounds": rounds, "bakeoff_tps": statistics.fmean(a), "raw_tps": statistics.fmean(b),
            "bakeoff_client_cpu_s": cpu_a, "raw_client_cpu_s": cpu_b, "workers": args.workers,
            "client_path": client.path(),
            "ratio": statistics.fmean(a) / statistics.fmean(b), "pair_ratios": [x / y for x, y in zip(a, b)],
            "median_pair_ratio": statistics.median(x / y for x, y in zip(a, b))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="packaged alias or GGUF path")
    ap.add_argument("--alias", default="bench-model", help="the model name the server answers to")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("-p", "--prompt-tokens", type=int, default=64)
    ap.add_argument("-o", "--output-tokens", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1,
                    help="bakeoff's load-client processes (`bakeoff load --workers`); the raw client is one process")
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs (A = bakeoff, B = raw), run A B A B ...")
    ap.add_argument("--fast-server", action="store_true",
                    help="a model-less SSE stand-in that answers at once: measures each client's own ceiling")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from bakeoff.models import resolve_model

    model_path = str(resolve_model(args.model))
    server, url = start_server(model_path, args.threads, args.alias, fast=args.fast_server)
    try:
        result = bench(args, url, args.model)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(date=dt.date.today().isoformat(), command=" ".join(sys.argv), model=args.model,
                  server="fast stand-in" if args.fast_server else "llama_cpp.server",
                  threads=args.threads, concurrency=args.concurrency, requests=args.requests,
                  prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['server']}: concurrency {args.concurrency}, {args.requests} requests of {args.prompt_tokens} prompt + "
              f"{args.output_tokens} output tokens, {args.pairs} A/B pairs")
        print(f"bakeoff {result['bakeoff_tps']:.2f} output tok/s, raw httpx2 {result['raw_tps']:.2f} output tok/s, "
              f"ratio {result['ratio']:.3f} (per pair: {', '.join(f'{x:.3f}' for x in result['pair_ratios'])}; "
              f"median {result['median_pair_ratio']:.3f})")
        print(f"client CPU per level: bakeoff {result['bakeoff_client_cpu_s']:.2f} s, "
              f"raw {result['raw_client_cpu_s']:.2f} s")


if __name__ == "__main__":
    main()
