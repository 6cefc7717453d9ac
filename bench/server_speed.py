"""`bakeoff speed` through a server next to `bakeoff speed` in process, same model, one run.

Starts llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1
with a packaged model and the same thread count, then runs one ``bakeoff speed`` with two
contenders: the model in process (``MODEL?threads=T``) and the same file behind the server
(``openai-compat:URL#bench?tokenizer=MODEL``). The in-process figures are llama-bench's (wall clock
around the decode calls); the server's are client-observed (pp from the TTFT difference of two
cold requests, tg from one request's token times), so the ratio server / in-process shows what the
server and its HTTP path cost at each depth.

Usage: python bench/server_speed.py [--model qwen2.5-coder-0.5b] [--threads 2] [-p 128] [-n 32]
                                    [-d 0,2048] [-r 3] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load import start_server  # noqa: E402  (bench/load.py: the server, started and waited for)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-p", "--n-prompt", default="128")
    ap.add_argument("-n", "--n-gen", default="32")
    ap.add_argument("-d", "--depth", default="0,2048")
    ap.add_argument("-r", "--repetitions", default="3")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from bakeoff.models import resolve_model

    depths = [int(d) for d in args.depth.split(",")]
    ctx = -(-(max(depths) + max(int(x) for x in args.n_prompt.split(",")) + 256) // 256) * 256
    server, url = start_server(str(resolve_model(args.model)), args.threads, "bench", ctx=ctx)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(
                [sys.executable, "-m", "bakeoff", "speed", f"{args.model}?threads={args.threads}",
                 f"openai-compat:{url}#bench?tokenizer={args.model}", "-p", args.n_prompt, "-n", args.n_gen,
                 "-d", args.depth, "-r", args.repetitions, "--json", "--db", str(Path(tmp) / "speed.db")],
                capture_output=True, text=True, env=os.environ)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    rows = json.loads(proc.stdout)
    in_process = {(r["test"], r["depth"]): r for r in rows if r.get("cache") is None}
    through = {(r["test"], r["depth"]): r for r in rows if r.get("cache") is not None}
    table = [{"test": test, "depth": depth, "in_process_tps": r["avg_tps"], "in_process_sd": r["stddev_tps"],
              "server_tps": through[(test, depth)]["avg_tps"], "server_sd": through[(test, depth)]["stddev_tps"],
              "ratio": through[(test, depth)]["avg_tps"] / r["avg_tps"]}
             for (test, depth), r in in_process.items() if (test, depth) in through]
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"), "command": " ".join(sys.argv),
              "load_average": os.getloadavg(), "rows": table, "raw": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for t in table:
        print(f"{t['test']:>6} @ d{t['depth']:<6} in process {t['in_process_tps']:8.2f} ± {t['in_process_sd'] or 0:.2f} "
              f"tok/s   server {t['server_tps']:8.2f} ± {t['server_sd'] or 0:.2f} tok/s (client-observed)   "
              f"ratio {t['ratio']:.3f}")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
