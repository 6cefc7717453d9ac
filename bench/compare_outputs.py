"""Same records and figures before and after a change in the code's shape.

A refactor must not change what bakeoff stores or reports. This script captures, with the code on
its PYTHONPATH, what a small real bake-off produces, and compares two captures:

    PYTHONPATH=old/src python bench/compare_outputs.py capture /tmp/before
    PYTHONPATH=new/src python bench/compare_outputs.py capture /tmp/after --report-db /tmp/before/run.db
    python bench/compare_outputs.py compare /tmp/before /tmp/after

``capture`` writes a suite (single cases with text, regex and JSON checks, a three-turn
conversation, a tool call, an agent loop over a two-file repository, a judge check), starts
llama-cpp-python's OpenAI-compatible server on 127.0.0.1, then runs ``bakeoff run`` (SmolLM2-135M
in-process and through the server, Qwen2.5-Coder-0.5B in-process; temperature 0, fixed seeds,
two repeats), ``bakeoff report --json`` and ``bakeoff speed --json``. With ``--report-db`` it
also writes ``report --json`` of that earlier database (a copy), so both versions read the SAME
database.

``compare`` checks:
- records: every row of every table of the run database, with the columns that are measured
  (times, speeds, memory, energy, timestamps, run ids) left out, must be equal;
- ``report --json`` of the same database must be equal, figures included;
- ``report --json`` of each version's own run: equal once measured figures are left out;
- ``speed --json``: the same tests (kind, sizes, depth, repetitions); each mean within the
  machine's noise (reported as a ratio, not asserted).
Exit 1 when a record or a figure of the same database differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Columns and keys that are measured, or minted per run: they differ between two runs of the same
# code, so a comparison of two runs leaves them out. Everything else must be equal.
MEASURED = re.compile(
    r"(_ms|_s|_ms_\w+|_tok_s|tok_s\w*|_per_s|_at|_mb|_gb|_bytes|_j|_joules|_wh|_watts|_mw)$"
    r"|^(run_id|id|trial_id|pid|started|finished|created|duration|wall|elapsed|memory|energy|peak|rss|vram"
    r"|load_info|environment|argv|facts|retry_log|samples|t|ts|time|host|port|url|cpu|load_time)"
    r"|ttft|itl|tpot|throughput|goodput|prefill|decode|e2e|latency|seconds|timings|cache_salt|cache_bust|db"
    # derived from measured time and energy: cost per token, and the Pareto frontier's points
    r"|^cost|hours_used|on_frontier|^database$"
)
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:\d+")
NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")  # the measured numbers a source's formula shows
CAPTURE_DIR = re.compile(r"/\S*?/work/(?=suite\.yaml|tools\.yaml|repo)")
SUITE = """
defaults: {max_tokens: 24, temperature: 0}
cases:
  - id: capital
    prompt: What is the capital of France? One word.
    checks: [{contains: Paris}]
  - id: digits
    prompt: Write the number twelve in digits.
    checks: [{regex: '\\b12\\b'}]
  - id: json
    prompt: 'Reply with a JSON object with the key "a" set to 1 and nothing else.'
    checks: [{json: {}}]
  - id: chat
    turns:
      - My name is Ada. Say hello.
      - What is my name?
      - Spell it backwards.
  - id: sum
    prompt: What is 3 + 4? Answer in one short sentence.
    checks:
      - regex: '\\b7\\b'
      - judge: {rubric: 'The response gives the correct sum, 7.', judge: 'qwen2.5-coder-0.5b?threads=1',
                scale: 1-5, pass_at: 4, max_tokens: 48}
"""
TOOL_SUITE = """
defaults: {temperature: 0}
cases:
  - id: weather
    prompt: What is the weather in Paris right now?
    max_tokens: 40
    tools:
      - name: get_weather
        description: Current weather for a city
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    checks:
      - valid_tool_calls: true
      - tool_call: {name: get_weather, arguments_subset: {city: Paris}}
  - id: find
    prompt: Use the tools to find which file defines the function parse_config. Answer with its path.
    max_tokens: 64
    agent: {repo: repo, max_steps: 2}
    checks: [{contains: config.py}]
"""


def bakeoff(*args, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "bakeoff", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    if proc.returncode != 0:
        sys.exit(f"bakeoff {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def packaged_model(name: str) -> Path:
    from bakeoff.models.packaged import resolve_model  # noqa: PLC0415 - the code under test
    return Path(resolve_model(name))


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    import socket  # noqa: PLC0415
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--model_alias", "smollm2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("llama_cpp.server did not start")


def capture(out: Path, report_db: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    (work / "repo" / "app").mkdir(parents=True, exist_ok=True)
    (work / "repo" / "app" / "config.py").write_text("def parse_config(path):\n    return {}\n")
    (work / "repo" / "app" / "main.py").write_text("from app.config import parse_config\n")
    (work / "suite.yaml").write_text(SUITE)
    (work / "tools.yaml").write_text(TOOL_SUITE)
    db = out / "run.db"
    db.unlink(missing_ok=True)
    server, url = start_server(packaged_model("smollm2-135m"))
    try:
        bakeoff("run", work / "suite.yaml", "--db", db, "--repeat", "2",
                "-c", "llamacpp:smollm2-135m?threads=1&seed=7", "-c", f"openai-compat:{url}#smollm2?seed=7", cwd=work)
    finally:
        server.kill()
    bakeoff("run", work / "tools.yaml", "--db", db, "-c", "llamacpp:qwen2.5-coder-0.5b?ctx=2048&threads=1", cwd=work)
    (out / "report.json").write_text(bakeoff("report", "--db", db, "--json", cwd=work).stdout)
    speed = bakeoff("speed", "smollm2-135m?threads=1", "-p", "64", "-n", "16", "-d", "0,256", "-r", "3",
                    "--no-store", "--json", cwd=work)
    (out / "speed.json").write_text(speed.stdout)
    if report_db:
        copy = out / "same.db"
        shutil.copyfile(report_db, copy)
        (out / "report_same_db.json").write_text(bakeoff("report", "--db", copy, "--json", cwd=work).stdout)
    print(f"captured in {out}")


def records(db: Path) -> dict[str, list]:
    """Every table's rows without measured columns, in a stable order."""
    conn = sqlite3.connect(db)
    out = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                                 "AND name != '_migrations' ORDER BY name"):
        cur = conn.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cur.description]
        keep = [i for i, n in enumerate(names) if not MEASURED.search(n)]
        rows = [tuple(_scrub(names[i], r[i]) for i in keep) for r in cur]
        out[table] = {"columns": [names[i] for i in keep], "rows": sorted(rows, key=repr)}
    return out


def _scrub(key: str, value):
    """Measured figures inside a JSON column (requests, summaries, labels) left out too."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(without_measured(json.loads(value)), sort_keys=True)
        except ValueError:
            pass
    return without_measured(value)


def without_measured(value):
    """The value with measured keys left out, and the server's port (a free one each run) as PORT."""
    if isinstance(value, dict):
        return {without_measured(k): (NUMBER.sub("N", v) if k == "source" and isinstance(v, str) else without_measured(v))
                for k, v in value.items() if not MEASURED.search(str(k))}
    if isinstance(value, list):
        return [without_measured(v) for v in value]
    if isinstance(value, str):
        value = LOOPBACK_PORT.sub("127.0.0.1:PORT", value)
        return CAPTURE_DIR.sub("CAPTURE/", value)  # where each capture wrote its suite
    return value


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'after' if key not in a else 'before'}")
            else:
                out += differences(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items before, {len(b)} after"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} before, {b!r} after"]


def compare(before: Path, after: Path) -> int:
    failed = False
    rec = differences(records(before / "run.db"), records(after / "run.db"))
    print(f"records of the run database (measured columns left out): {len(rec)} differences")
    for line in rec[:40]:
        print("  ", line)
    failed |= bool(rec)
    same = after / "report_same_db.json"
    if same.exists():
        d = differences({k: v for k, v in json.loads((before / "report.json").read_text()).items() if k != "database"},
                        {k: v for k, v in json.loads(same.read_text()).items() if k != "database"})
        print(f"report --json of the same database, figures included (its file path left out): {len(d)} differences")
        for line in d[:40]:
            print("  ", line)
        failed |= bool(d)
    d = differences(without_measured(json.loads((before / "report.json").read_text())),
                    without_measured(json.loads((after / "report.json").read_text())))
    print(f"report --json of each version's own run (measured figures left out): {len(d)} differences")
    for line in d[:40]:
        print("  ", line)
    failed |= bool(d)
    a, b = json.loads((before / "speed.json").read_text()), json.loads((after / "speed.json").read_text())
    figures = ("avg_tps", "stddev_tps", "samples_tps", "samples_ns", "engine_avg_tps", "peak_mem_mb", "engine_memory")
    shape = differences([{k: v for k, v in t.items() if k not in figures} for t in a],
                        [{k: v for k, v in t.items() if k not in figures} for t in b])
    print(f"speed --json tests (kind, sizes, depth, context, repetitions, sources): {len(shape)} differences")
    for line in shape[:20]:
        print("  ", line)
    failed |= bool(shape)
    for x, y in zip(a, b):
        print(f"   speed {x['test']} depth {x['depth']}: {x['avg_tps']:.1f} before, {y['avg_tps']:.1f} after tok/s "
              f"(ratio {y['avg_tps'] / x['avg_tps']:.3f}; machine noise, not compared)")
    print("SAME" if not failed else "DIFFERENT")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("out", type=Path)
    cap.add_argument("--report-db", type=Path, help="an earlier capture's run.db, to report with this code")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.out, args.report_db)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
