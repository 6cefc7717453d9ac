"""Quantization sweeps: real variants made by llama.cpp's quantizer, compared in the report."""

import json
import os

from conftest import bakeoff, write_suite


def test_quant_sweep_makes_real_variants_and_reports_them(tmp_path, smollm2):
    suite = write_suite(tmp_path / "s.yaml", cases=3)
    db = tmp_path / "q.db"
    proc = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--sweep", "quant=Q8_0,Q4_0", "--db", db)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)
    assert {c["spec"] for c in data["contenders"]} == {
        "llamacpp:smollm2-135m?quant=Q8_0&threads=1", "llamacpp:smollm2-135m?quant=Q4_0&threads=1"}
    (group,) = data["variants"]
    assert group["base"] == "llamacpp:smollm2-135m?threads=1"
    q8, q4 = group["variants"]
    assert q8["sweep"] == {"quant": "Q8_0"} and q8["reference"] and q8["differs_from_reference"] == 0
    assert q4["sweep"] == {"quant": "Q4_0"} and not q4["reference"]
    assert q4["compared_with_reference"] == 3 and 0 <= q4["differs_from_reference"] <= 1
    # Real files of different sizes: 8-bit is bigger than 4-bit.
    assert q8["file_mb"] > q4["file_mb"] * 1.3
    # The variant files carry the type llama.cpp gave them.
    rows = json.loads(bakeoff("models", *[c["model_path"] for c in _contenders(db)], "--json", check=True).stdout)
    assert {r["quant"] for r in rows if r["alias"] is None} == {"Q8_0", "Q4_0"}


def test_bad_sweep_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "smollm2-135m", "--sweep", "quant=Q9_9", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "unknown quantization 'Q9_9'" in proc.stderr
    proc = bakeoff("run", suite, "-c", "smollm2-135m", "--sweep", "quant", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "--sweep takes KEY=V1,V2" in proc.stderr


def _contenders(db):
    import sqlite3

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT model_path FROM contenders")]
    assert all(os.path.isfile(r["model_path"]) for r in rows)
    return rows
