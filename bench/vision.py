"""What a Gemma 4 visual budget costs on this machine, without the weights: a Gemma 4 text twin
(default E2B, Q4_K_M) with a vision projector twin of Gemma 4's real encoder size (``mmproj=twin``:
768 wide, 16 layers for E2B/E4B), one image case, ``--sweep visual_budget=70,140,280,560,1120``.

    .venv/bin/python bench/vision.py                          # E2B, all five budgets, 2 repeats
    .venv/bin/python bench/vision.py --model gemma4-e4b --budgets 70,280,1120 --repeat 1 --flash-attn
    .venv/bin/python bench/vision.py --json

Per budget: image tokens (engine-reported), TTFT, prefill (projector encode + llama.cpp's prompt
processing), the encode alone, and peak memory of the worker above its baseline. Quality is not
measured: twins have random weights. Results go in bench/README.md with machine, date and command.
Twins are cached under $BAKEOFF_HOME/twins (the E2B text twin is 3.2 GiB, built in about 35 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

SUITE = """
cases:
  - id: photo
    prompt: Describe this picture.
    images: [photo.png]
    max_tokens: 1
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma4-e2b")
    ap.add_argument("--budgets", default="70,140,280,560,1120")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--flash-attn", action="store_true", help="flash attention in the text model and the projector")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    bakeoff = str(Path(sys.executable).with_name("bakeoff"))
    with tempfile.TemporaryDirectory(prefix="bakeoff-vision-") as tmp:
        d = Path(tmp)
        Image.new("RGB", (1600, 1200), (90, 140, 60)).save(d / "photo.png")  # larger than every budget's size
        (d / "s.yaml").write_text(SUITE)
        spec = f"twin:{args.model}?mmproj=twin&ctx=4096"
        if args.threads:
            spec += f"&threads={args.threads}"
        if args.flash_attn:
            spec += "&flash_attn=true"
        db = d / "v.db"
        cmd = [bakeoff, "run", str(d / "s.yaml"), "-c", spec, "--sweep", f"visual_budget={args.budgets}",
               "--repeat", str(args.repeat), "--db", str(db), "--timeout", "1800"]
        subprocess.run(cmd, cwd=d, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(subprocess.run([bakeoff, "report", "--db", str(db), "--json"], capture_output=True,
                                           text=True, check=True).stdout)
        facts = report["contenders"][0]
    (group,) = report["visual_budgets"]
    rows = group["budgets"]
    if args.json:
        print(json.dumps({"spec": spec, "rows": rows}, indent=2))
        return 0
    print(f"{spec}  (projector: {os.path.basename(rows[0]['projector'] or '')})")
    print(f"{'budget':>6} {'img tok':>8} {'TTFT ms':>9} {'prefill ms':>11} {'encode ms':>10} {'img decode ms':>14} "
          f"{'mem MB':>8}")
    for r in rows:
        print(f"{r['visual_budget']:>6} {r['image_tokens_per_image']:>8.0f} {r['ttft_ms_median']:>9.0f} "
              f"{r['prefill_ms_median']:>11.0f} {r['image_encode_ms_per_image']:>10.0f} "
              f"{r['image_decode_ms_per_image']:>14.0f} {r['peak_mem_mb']:>8.0f}")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['visual_budget']} vs {base['visual_budget']}: TTFT x{r['ttft_ms_median'] / base['ttft_ms_median']:.1f}, "
              f"memory x{r['peak_mem_mb'] / base['peak_mem_mb']:.1f}")
    print(f"quality: {rows[0]['quality']}; contender facts: {facts.get('spec')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
