"""`bakeoff speed`: llama-bench's protocol on a real model, through the real CLI."""

import json
import sqlite3

from conftest import bakeoff


def test_speed_json_contract_depth_sweep_and_storage(tmp_path, smollm2):
    db = tmp_path / "speed.db"
    proc = bakeoff("speed", "smollm2-135m?threads=1", "-p", "32,64", "-n", "8", "-d", "0,512", "-r", "2",
                   "--json", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["test"], r["depth"]) for r in rows] == [
        ("pp32", 0), ("pp64", 0), ("tg8", 0), ("pp32", 512), ("pp64", 512), ("tg8", 512)]
    for r in rows:
        for key in ("spec", "test", "n_prompt", "n_gen", "depth", "avg_tps", "stddev_tps", "samples_tps"):
            assert key in r
        assert r["spec"] == "llamacpp:smollm2-135m?threads=1"
        assert len(r["samples_tps"]) == 2 and len(r["samples_ns"]) == 2
        assert r["avg_tps"] > 0 and r["engine_avg_tps"] > 0
        # mean of the samples, as llama-bench reports it
        assert abs(r["avg_tps"] - sum(r["samples_tps"]) / 2) < 1e-6
        assert r["ctx"] >= r["depth"] + max(r["n_prompt"], r["n_gen"])
        assert r["engine_memory"]["kv_mib"] > 0 and r["engine_memory"]["weights_mib"] > 50
    # pp and tg are apart: n_prompt / n_gen say which
    assert {(r["n_prompt"], r["n_gen"]) for r in rows if r["test"] == "tg8"} == {(0, 8)}
    # A deeper context means a bigger KV cache (each depth is loaded with the context it needs).
    kv = {r["depth"]: r["engine_memory"]["kv_mib"] for r in rows}
    assert kv[512] > kv[0]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM speed_results").fetchone()[0] == 6
    assert conn.execute("SELECT status FROM runs").fetchone()[0] == "completed"


def test_speed_bad_lists_are_exit_2(smollm2):
    proc = bakeoff("speed", "smollm2-135m", "-p", "12x")
    assert proc.returncode == 2 and "comma-separated integers" in proc.stderr and "Traceback" not in proc.stderr
    proc = bakeoff("speed", "smollm2-135m?ctx=256", "-p", "512", "--no-store")
    assert proc.returncode == 2 and "cannot hold" in proc.stderr


def test_speed_stores_in_the_default_database_unless_told_not_to(tmp_path, smollm2):
    """Like run, load, repo and judge, speed stores into ./bakeoff.db by default, so the report's
    speed-vs-depth chart has data after the obvious command; --no-store prints only."""
    proc = bakeoff("speed", "smollm2-135m?threads=1", "-p", "16", "-n", "4", "-r", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(tmp_path / "bakeoff.db")
    assert conn.execute("SELECT count(*) FROM speed_results").fetchone()[0] == 2
    other = tmp_path / "elsewhere"
    other.mkdir()
    proc = bakeoff("speed", "smollm2-135m?threads=1", "-p", "16", "-n", "0", "-r", "1", "--no-store", cwd=other)
    assert proc.returncode == 0, proc.stderr
    assert "pp16" in proc.stdout and not (other / "bakeoff.db").exists()
