"""Cold against warm TTFT at long prompts: what a conversation's reused prefix saves, in-process and
on llama-cpp-python's real server, through ``bakeoff run`` as a user runs it.

For each prompt size N (default 1K, 4K and 16K tokens, counted with the model's own tokenizer):
a two-turn conversation whose system prompt is N tokens, with ``cold_turns=true``. Turn 1 is cold;
turn 2 is warm (it reuses the conversation's own turn 1 from the cache); then turn 2's prompt is
asked once more cold (the in-process KV cache cleared; on the server, made unique by a
cache-busting marker, as it takes no per-request switch). The table is turn 2's warm TTFT beside
the cold TTFT of the same prompt. In-process runs first, then the server, never both at once.

    .venv/bin/python bench/prefix_cache.py [--model qwen2.5-coder-0.5b] [--sizes 1024,4096,16384]
                                           [--threads 2] [--where both|in-process|server] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from load import start_server  # bench/load.py: llama-cpp-python's server on 127.0.0.1

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank. "


def filler(model_path: str, tokens: int) -> str:
    """Text of about ``tokens`` tokens in the model's vocabulary."""
    from llama_cpp import Llama

    vocab = Llama(model_path=model_path, vocab_only=True, verbose=False)
    per = len(vocab.tokenize(SENTENCE.encode(), add_bos=False))
    return SENTENCE * max(1, tokens // per)


def suite(path: Path, system: str) -> Path:
    path.write_text(json.dumps({"defaults": {"max_tokens": 4, "temperature": 0}, "cases": [
        {"id": "chat", "system": system, "turns": ["Say yes.", "Say no."]}]}))
    return path


def run(spec: str, suite_path: Path, db: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bakeoff", "run", str(suite_path), "-c", spec, "--db", str(db),
                           "--timeout", "3600"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bakeoff run failed: {proc.stderr[-2000:]}")
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = {r["turn"]: dict(r) for r in conn.execute("SELECT * FROM turns")}
    errors = [r["error"] for r in conn.execute("SELECT error FROM trials WHERE status = 'error'")]
    conn.close()
    if errors or len(rows) < 2:
        raise SystemExit(f"the conversation did not finish: {errors}")
    return {"turn1_cold_ttft_ms": rows[1]["ttft_ms"], "warm_ttft_ms": rows[2]["ttft_ms"],
            "cold_ttft_ms": rows[2]["cold_ttft_ms"], "prompt_tokens": rows[2]["prompt_tokens"],
            "cached_tokens": rows[2]["cached_tokens"], "warm_label": rows[2]["cache_label"],
            "cold_label": rows[2]["cold_cache_label"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--sizes", default="1024,4096,16384")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--where", choices=["both", "in-process", "server"], default="both",
                        help="measure only one side (a row left open on the other)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from bakeoff.models import resolve_model

    model_path = str(resolve_model(args.model))
    sizes = [int(s) for s in args.sizes.split(",")]
    ctx = max(sizes) + 1024
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        systems = {n: filler(model_path, n) for n in sizes}
        for n in sizes if args.where != "server" else []:
            spec = f"{args.model}?threads={args.threads}&ctx={ctx}&cold_turns=true"
            results.append({"size": n, "where": "in-process", **run(spec, suite(tmp_path / f"s{n}.json", systems[n]),
                                                                     tmp_path / f"in{n}.db")})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        if args.where == "in-process":
            sizes = []
        proc, url = start_server(model_path, args.threads, "m", ctx=ctx) if sizes else (None, None)
        try:
            for n in sizes:
                spec = f"openai-compat:{url}#m?cold_turns=true"
                results.append({"size": n, "where": "llama-cpp-python server",
                                **run(spec, suite(tmp_path / f"s{n}.json", systems[n]), tmp_path / f"srv{n}.db")})
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # kept if a later size is cut short
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
    meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.processor() or platform.machine()}",
            "command": " ".join(["bench/prefix_cache.py", *sys.argv[1:]])}
    if args.json:
        print(json.dumps({**meta, "results": results}, indent=2))
        return
    print(f"{meta['date']}  {meta['command']}  model {args.model}, {args.threads} threads")
    print(f"{'prompt':>7}  {'where':<24} {'cold TTFT ms':>13} {'warm TTFT ms':>13} {'cold / warm':>11}  cached")
    for r in results:
        ratio = r["cold_ttft_ms"] / r["warm_ttft_ms"] if r["warm_ttft_ms"] else float("nan")
        print(f"{r['size']:>7}  {r['where']:<24} {r['cold_ttft_ms']:>13.0f} {r['warm_ttft_ms']:>13.0f} {ratio:>11.1f}  "
              f"{r['cached_tokens'] if r['cached_tokens'] is not None else 'not reported'}")


if __name__ == "__main__":
    main()
