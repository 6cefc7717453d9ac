"""Screenshots of the HTML report and of `bakeoff view` for the README, taken in headless Chromium.

    .venv/bin/python docs/screenshots.py --db bakeoff.db [--out docs]

Writes report.png (the top of the report: matrix and Pareto frontier), report-cases.png (a
case side by side, with the diff view on), view-rate.png (a blind pair), view-rated.png (the
same pair after rating it with the keyboard) and view-compare.png. The viewer runs on a copy of
the database, so the rating taken for the picture is not kept.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import browser_context, wait_js  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("bakeoff.db"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--case", help="case to show side by side (default: the first where verdicts differ)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bakeoff-shots-"))
    copy = work / "copy.db"
    with sqlite3.connect(args.db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    report = work / "report.html"
    subprocess.run([sys.executable, "-m", "bakeoff", "report", "--db", str(copy), "--html", str(report)], check=True)
    port = _free_port()
    viewer = subprocess.Popen([sys.executable, "-m", "bakeoff", "view", "--db", str(copy), "--port", str(port)])
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with browser_context((1360, 900)) as context:
            page = context.new_page()
            page.goto(report.as_uri())
            wait_js(page, "document.body.dataset.plotsDrawn !== undefined", timeout=60)
            page.screenshot(path=str(args.out / "report.png"), clip={"x": 0, "y": 0, "width": 1360, "height": 1150},
                            full_page=True)
            page.check("#show-diff")
            selector = f'details.case[data-case="{args.case}"]' if args.case else "details.case.disagree"
            case = page.locator(selector).first
            if case.count() == 0:
                case = page.locator("details.case").first
            case.evaluate("d => { d.open = true; d.scrollIntoView(); }")
            page.wait_for_timeout(200)
            case.screenshot(path=str(args.out / "report-cases.png"))

            page.goto(f"http://127.0.0.1:{port}/rate")
            page.screenshot(path=str(args.out / "view-rate.png"))
            page.keyboard.press("a")
            page.wait_for_url("**/rated/*")
            page.screenshot(path=str(args.out / "view-rated.png"))
            specs = [o for o in page.locator("table.board td.spec").all_inner_texts()]
            if len(specs) >= 2:
                from urllib.parse import urlencode

                page.goto(f"http://127.0.0.1:{port}/compare?" + urlencode({"x": specs[0], "y": specs[1], "only": "differ"}))
                page.screenshot(path=str(args.out / "view-compare.png"))
    finally:
        viewer.terminate()
        viewer.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
