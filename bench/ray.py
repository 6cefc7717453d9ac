"""Throughput of `bakeoff run --executor ray` with 1 and 2 single-CPU actors against the local
executor, on the same suite, and the time Ray adds per trial.

All three runs in one go on one machine (ratios: shared machines are noisy), each into a fresh
database, one after another:
- local: the default executor (one in-process model, threads=1);
- ray x1, ray x2: `--executor ray --ray-actors N`, each actor a single-CPU llama.cpp model
  (threads=1, num_cpus=1), Ray started by the CLI on this machine.

Per run: wall time of the whole command (Ray's start and the model loads included), the trial
phase (first trial's start to last trial's end, from the database), trials per second over that
phase, and the mean gap between one trial's end and the next trial's start on the same actor
(dispatch, result transfer, the driver's commit): Ray's per-trial overhead is its gap minus the
local gap. Ray runs in a private network namespace (`unshare -n`, loopback only) so that nothing
it probes at start can leave the machine.

Usage: python bench/ray.py [--cases 16] [--max-tokens 32] [--model smollm2-135m] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS = ["Say hello.", "What is 2 + 2?", "Name a colour.", "Name a fruit.", "Count to three.", "Name a planet.",
           "Say goodbye.", "Name an animal.", "Name a city.", "Name a tree.", "Name a river.", "Name a sport.",
           "Name a metal.", "Name a bird.", "Name a flower.", "Name a song."]


def suite_text(n: int, max_tokens: int) -> str:
    return "cases:\n" + "".join(f"  - id: c{i}\n    prompt: {PROMPTS[i % len(PROMPTS)]!r} #{i}\n"
                                f"    max_tokens: {max_tokens}\n" for i in range(n))


def run(args: list[str], ray: bool) -> float:
    cmd = [sys.executable, "-m", "bakeoff", "run", *args]
    if ray:
        cmd = ["unshare", "-n" if os.geteuid() == 0 else "-rn", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
               "sh", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return time.perf_counter() - t0


def phase(db: Path, sequential: bool) -> dict:
    """The trial phase from the database; the gaps between trials only where one actor (or the
    local executor) ran them one after another."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT started_at, finished_at, e2e_ms FROM trials ORDER BY started_at").fetchall()
    ts = lambda s: dt.datetime.fromisoformat(s).timestamp()  # noqa: E731
    start, end = min(ts(r[0]) for r in rows), max(ts(r[1]) for r in rows)
    gaps = [ts(b[0]) - ts(a[1]) for a, b in zip(rows, rows[1:])] if sequential else []
    return {"trials": len(rows), "phase_s": end - start, "trials_per_s": len(rows) / (end - start),
            "model_e2e_s": sum(r[2] for r in rows) / 1000, "mean_gap_ms": 1000 * sum(gaps) / len(gaps) if gaps else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = f"{args.model}?threads=1&num_cpus=1"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "suite.yaml"
        suite.write_text(suite_text(args.cases, args.max_tokens))
        for name, extra, ray in (("local", [], False), ("ray x1", ["--executor", "ray", "--ray-actors", "1"], True),
                                 ("ray x2", ["--executor", "ray", "--ray-actors", "2"], True)):
            db = Path(tmp) / f"{name.replace(' ', '')}.db"
            wall = run([str(suite), "-c", spec, "--db", str(db), *extra], ray)
            results[name] = {"wall_s": wall, **phase(db, sequential=name != "ray x2")}
    local = results["local"]
    for r in results.values():
        r["throughput_vs_local"] = r["trials_per_s"] / local["trials_per_s"]
        r["gap_minus_local_ms"] = (r["mean_gap_ms"] - local["mean_gap_ms"]) if r["mean_gap_ms"] is not None else None
    meta = {"date": dt.date.today().isoformat(), "cases": args.cases, "max_tokens": args.max_tokens, "spec": spec,
            "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"meta": meta, "results": results}, indent=2))
        return
    print(f"{meta}")
    print("| executor | wall s | trial phase s | trials/s | vs local | mean gap between trials ms | gap - local gap ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        gap = "–" if r["mean_gap_ms"] is None else f"{r['mean_gap_ms']:.1f}"
        extra = "–" if r["gap_minus_local_ms"] is None else f"{r['gap_minus_local_ms']:.1f}"
        print(f"| {name} | {r['wall_s']:.1f} | {r['phase_s']:.1f} | {r['trials_per_s']:.2f} | "
              f"{r['throughput_vs_local']:.2f} | {gap} | {extra} |")


if __name__ == "__main__":
    main()
