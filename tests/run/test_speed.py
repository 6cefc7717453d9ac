"""`bakeoff speed`: llama-bench's protocol on a real model, through the real CLI."""

import json
import sqlite3

from conftest import bakeoff, start_server


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


def test_speed_through_a_real_server_measures_each_depth_cold_and_labels_the_figures(tmp_path, smollm2):
    """llama-cpp-python's server (one context, no per-request cache switch, no timings): every
    repetition a fresh random text; pp at depth d is the TTFT difference of d+1 and d+1+N tokens."""
    proc_server, url = start_server(smollm2)
    db = tmp_path / "speed.db"
    try:
        proc = bakeoff("speed", f"openai-compat:{url}#smollm2?tokenizer=smollm2-135m", "-p", "128", "-n", "6",
                       "-d", "0,128", "-r", "2", "--json", "--db", db)
    finally:
        proc_server.terminate()
        proc_server.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["test"], r["depth"]) for r in rows] == [("pp128", 0), ("tg6", 0), ("pp128", 128), ("tg6", 128)]
    for r in rows:
        assert len(r["samples_tps"]) == len(r["samples_ns"]) == 2 and all(x > 0 for x in r["samples_tps"])
        assert r["avg_tps"] == sum(r["samples_tps"]) / 2
        # each sample is tokens over the time measured: N for pp (tokenizer counts), N - 1 gaps for tg
        for tps, ns in zip(r["samples_tps"], r["samples_ns"]):
            assert abs(tps * ns / 1e9 - (128 if r["test"] == "pp128" else 5)) <= 2
        assert r["source"].startswith("client-observed") and "tokenizer" in r["source"]
        assert r["engine_avg_tps"] is None and r["engine_source"] is None  # that server sends no timings
        assert r["cache"].startswith("cold (none: the server takes no per-request switch" if r["test"] == "tg6"
                                     else "cold: a fresh random context per repetition")
        assert r["peak_mem_mb"] is None and r["ctx"] == 0
    stored = sqlite3.connect(db).execute("SELECT test, depth, source FROM speed_results ORDER BY depth, test").fetchall()
    assert len(stored) == 4 and all(s[2].startswith("client-observed") and "; cold" in s[2] for s in stored)


def test_speed_through_llama_server_sends_its_cache_switch_and_keeps_its_timings(tmp_path):
    """llama.cpp's llama-server cannot run here: a stand-in (tests/standins) shaped as its documented
    responses (models owned by "llamacpp", ``timings`` with prompt_n/prompt_ms, predicted_n/predicted_ms
    and cache_n in the last chunk; 2 ms per prompt token, 10 ms per generated token)."""
    from standins.base import StandInServer, StandInState
    from standins.openai_api import make_app

    state = StandInState(prefix_cache=True, prefill_s_per_token=0.002)  # as its timings say: 2 ms a token
    with StandInServer(make_app(state, ["qwen"], server="llama-server"), state) as server:
        proc = bakeoff("speed", f"openai-compat:{server.url}/v1#qwen", "-p", "40", "-n", "4", "-d", "0,100",
                       "-r", "2", "--json", "--no-store")
        bodies = [r.body for r in server.posted("/chat/completions")]
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    # per depth: (warm-up + 2 repetitions) x (3 requests for pp + 1 for tg); tg asked cold, pp's
    # baseline and longer request allowed to reuse the repetition's own context
    assert len(bodies) == 2 * 3 * 4
    assert [b["cache_prompt"] for b in bodies if b["max_tokens"] == 4] == [False] * 6
    for r in rows:
        assert r["engine_avg_tps"] == (500.0 if r["test"] == "pp40" else 100.0)
        assert r["engine_source"].startswith("engine-reported: server timings")
        assert "server usage" in r["source"]
        if r["test"] == "tg4":  # asked cold: the server said nothing came from its cache
            assert "cache_prompt=false" in r["cache"] and "0 to 0" in r["cache"]
        else:  # the repetition's own context, reused: d + 1 words (the last one of the baseline re-evaluated)
            assert f"{r['depth']} to {r['depth'] + 1}" in r["cache"]
    pp = [r for r in rows if r["test"] == "pp40"]
    assert all(300 < r["avg_tps"] < 600 for r in pp)  # client-observed: 40 tokens over ~80 ms more TTFT
    pp = [b for b in bodies if b["max_tokens"] == 1]
    assert all(b["cache_prompt"] is True for b in pp)
    words = sorted({len(b["messages"][0]["content"].split()) for b in pp})
    assert words == [1, 41, 101, 141]  # d + 1 and d + 1 + N words (no tokenizer: one word a token)
