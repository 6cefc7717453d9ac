"""`bakeoff load` against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`), started by the test on 127.0.0.1 with the packaged smollm2 model."""

import json
import sqlite3
import statistics
import subprocess
import sys

import numpy as np
import pytest

from conftest import bakeoff, served, start_server, wait_for
from bakeoff.errors import InputError
from bakeoff.measure.load_stats import percentile, summarise
from bakeoff.run.load import parse_slo

SIZES = ["-p", "32", "-o", "8"]


def spec_for(url: str) -> str:
    return f"openai-compat:{url}#smollm2?tokenizer=smollm2-135m"


def test_levels_are_measured_as_vllm_defines_them_and_stored(tmp_path, server):
    db = tmp_path / "load.db"
    proc = bakeoff("load", spec_for(server), "--concurrency", "1,2", "--requests", "4", *SIZES,
                   "--slo", "ttft=60s,tpot=10s,e2el=120000", "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["concurrency"] for r in rows] == [1, 2]
    all_prompts = []
    for r in rows:
        samples = r["samples"]
        assert r["requests"] == r["completed"] == len(samples) == 4 and r["failed"] == 0
        assert all(s["ok"] and s["error"] is None for s in samples)
        # EOS ignored (min_tokens): every answer ran to max_tokens; the tokenizer recounts the text
        assert all(s["finish_reason"] == "length" for s in samples)
        assert 0.75 * 4 * 8 <= r["total_output_tokens"] <= 1.25 * 4 * 8
        assert r["total_output_tokens"] == sum(s["output_tokens"] for s in samples)
        assert r["tokens_source"] == "output: tokenizer; prompt: tokenizer (message text, without the chat template)"
        assert all(s["prompt_tokens"] == 32 for s in samples)  # prompts built to exactly P tokens
        all_prompts += [s["prompt_sha"] for s in samples]
        # the throughputs: completed requests and their tokens over first send -> last answer
        d = r["duration_s"]
        assert d == pytest.approx(max(s["done_s"] for s in samples)) and min(s["sent_s"] for s in samples) == 0
        assert r["request_throughput"] == pytest.approx(4 / d)
        assert r["output_throughput"] == pytest.approx(r["total_output_tokens"] / d)
        assert r["total_token_throughput"] == pytest.approx((4 * 32 + r["total_output_tokens"]) / d)
        # per-request TPOT as vLLM: (E2E - TTFT) / (output tokens - 1)
        for s in samples:
            assert 0 < s["ttft_ms"] <= s["e2e_ms"] <= (s["done_s"] - s["sent_s"]) * 1000 + 1e-6
            assert s["tpot_ms"] == pytest.approx((s["e2e_ms"] - s["ttft_ms"]) / (s["output_tokens"] - 1))
            assert len(s["itl_ms"]) == s["chunks"] - 1
        lat = r["latency"]
        assert lat["tpot_ms"]["mean"] == pytest.approx(statistics.fmean(s["tpot_ms"] for s in samples))
        assert lat["ttft_ms"]["p50"] == pytest.approx(statistics.median(s["ttft_ms"] for s in samples))
        assert lat["itl_ms"]["n"] == sum(s["chunks"] - 1 for s in samples)  # every gap of every request, pooled
        for metric in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
            m = lat[metric]
            assert 0 < m["p50"] <= m["p90"] <= m["p99"], (metric, m)
        # a generous SLO: every request is good
        assert r["slo"] == {"ttft_ms": 60000.0, "tpot_ms": 10000.0, "e2el_ms": 120000.0}
        assert r["good_requests"] == 4 and r["goodput"] == pytest.approx(r["request_throughput"])
        assert r["source"].startswith("client-observed")
    # concurrency 1: one request at a time; concurrency 2: the second request went out before the first came back
    one, two = ({s["i"]: s for s in r["samples"]} for r in rows)
    assert all(one[i]["done_s"] <= one[i + 1]["sent_s"] for i in range(3))
    assert two[1]["sent_s"] < two[0]["done_s"]
    assert len(set(all_prompts)) == 8  # a different prompt for every request: no prefix cache answers one

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    stored = list(conn.execute("SELECT * FROM load_results ORDER BY concurrency"))
    assert [(s["concurrency"], s["completed"]) for s in stored] == [(1, 4), (2, 4)]
    assert stored[1]["output_throughput"] == pytest.approx(rows[1]["output_throughput"])
    stored_latency = json.loads(stored[0]["latency"])
    for metric in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
        assert stored_latency[metric] == pytest.approx(rows[0]["latency"][metric])
    run = conn.execute("SELECT * FROM runs").fetchone()
    assert run["status"] == "completed" and run["suite"] == "load" and json.loads(run["environment"])["hardware"]
    facts = json.loads(conn.execute("SELECT facts FROM contenders").fetchone()["facts"])
    assert facts["load_test"]["full_length"].startswith("ignore_eos")
    assert facts["load_test"]["warm_up"]["output_tokens"] >= 1  # the warm-up ran and is not in the levels
    # a stored row reads back in the same shape as the printed one
    from bakeoff.report.load import row_json

    again = row_json(stored[0])
    for key in ("total_output_tokens", "total_input_tokens", "good_requests", "request_throughput", "slo"):
        assert again[key] == pytest.approx(rows[0][key]), key


def test_worker_processes_share_a_level_and_report_their_own_cpu(tmp_path, server):
    """--workers 2: two client processes, each with its own event loop, split the level's slots and
    take the next request from one shared counter; every request goes exactly once."""
    db = tmp_path / "workers.db"
    proc = bakeoff("load", spec_for(server), "--concurrency", "2", "--requests", "6", *SIZES, "--workers", "2",
                   "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["completed"] == 6 and sorted(s["i"] for s in row["samples"]) == list(range(6))
    assert all(s["finish_reason"] == "length" and s["output_tokens"] >= 6 for s in row["samples"])
    client = row["client"]
    assert client["workers"] == 2 and client["path"].startswith("lean") and len(client["cpu_s"]) == 2
    assert all(c > 0 for c in client["cpu_s"]) and all(0 < b < 1.5 for b in client["busy"])
    assert client["saturated"] is False  # a serial CPU server: the client mostly waits
    by_i = {s["i"]: s for s in row["samples"]}
    assert by_i[1]["sent_s"] < by_i[0]["done_s"]  # two in flight at once, from two processes
    stored = json.loads(sqlite3.connect(db).execute("SELECT client FROM load_results").fetchone()[0])
    assert stored == client


def test_a_saturated_client_says_so():
    from bakeoff.run.load import LevelResult, _client_notes
    from bakeoff.run.load_client import ShareStats, client_figures

    busy = client_figures([ShareStats(cpu_s=0.95, wall_s=1.0), ShareStats(cpu_s=0.2, wall_s=1.0)], "lean")
    idle = client_figures([ShareStats(cpu_s=0.3, wall_s=1.0)], "lean")
    assert busy["saturated"] and busy["busy"] == [0.95, 0.2] and not idle["saturated"]
    for figures, warned in ((busy, True), (idle, False)):
        result = LevelResult(*[None] * 19, client=figures)  # only the client figures matter here
        _client_notes(result)
        assert any("client was saturated" in n and "--workers" in n for n in result.notes) is warned


@pytest.fixture(scope="module")
def qwen_server(qwen05):
    yield from served(qwen05)


def test_arrival_rates_are_held_below_saturation_and_the_saturation_point_is_reported(tmp_path, qwen_server):
    """Constant and Poisson arrivals against llama-cpp-python's server (qwen2.5-coder-0.5b, one
    request at a time). The rates are set from the server's own pace, measured first, so the test
    holds on a busy machine: a fifth of it (below saturation: a request is served well inside its
    gap, so the completions keep the sends' pace within the jitter of one service time over 11
    gaps) and eight times it (above: far enough that a pace measured slow on a busy machine still
    saturates the server)."""
    spec = f"openai-compat:{qwen_server}#qwen?tokenizer=qwen2.5-coder-0.5b"
    tiny = ["-p", "4", "-o", "1"]
    db = tmp_path / "rate.db"
    proc = bakeoff("load", spec, "--concurrency", "1", "-n", "4", *tiny, "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    pace = json.loads(proc.stdout)[0]["request_throughput"]  # requests/s, one at a time
    low, high = round(pace / 5, 4), round(pace * 8, 4)
    proc = bakeoff("load", spec, "--rate", f"{low},{high}", "-n", "12", *tiny, "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    below, above = json.loads(proc.stdout)
    assert below["profile"] == "constant" and below["concurrency"] is None and below["target_rate"] == low
    # constant gaps: request i went out at i / rate, each within a few ms of its time
    assert all(abs(s["sent_s"] - s["i"] / low) < 0.1 and s["lag_ms"] < 100 for s in below["samples"])
    assert below["sent_rate"] == pytest.approx(low, rel=0.05)
    assert below["completion_rate"] == pytest.approx(low, rel=0.05) and below["server_kept_up"] is True
    # above saturation: all sent on time, the server completes at its own pace, far below the rate
    assert above["sent_rate"] == pytest.approx(high, rel=0.05)
    assert above["completion_rate"] < 0.5 * high and above["server_kept_up"] is False
    waited = {s["i"]: s["ttft_ms"] for s in above["samples"]}
    assert waited[11] > waited[0]  # the queue grew: the last one sent waited behind the others
    assert f"kept up with {low:.3g} req/s, saturated at {high:.3g} req/s" in proc.stderr
    stored = sqlite3.connect(db).execute(
        "SELECT profile, target_rate, sent_rate, completion_rate FROM load_results WHERE concurrency IS NULL "
        "ORDER BY level").fetchall()
    assert [(r[0], r[1]) for r in stored] == [("constant", low), ("constant", high)]
    assert stored[0][2] == pytest.approx(below["sent_rate"])

    proc = bakeoff("load", spec, "--rate", str(low), "--arrival", "poisson", "-n", "12", *tiny, "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    (poisson,) = json.loads(proc.stdout)
    gaps = np.diff(sorted(s["sent_s"] for s in poisson["samples"]))
    assert poisson["profile"] == "poisson" and gaps.std() > 0.2 / low  # irregular gaps, not every 1/rate s
    assert poisson["sent_rate"] == pytest.approx(low, rel=0.05)
    # completions follow the random bursts (one arriving while another is served waits for it), so
    # over 12 requests their first-to-last rate strays further from the target than the sends do
    assert poisson["completion_rate"] == pytest.approx(low, rel=0.10)


def test_a_rate_sweep_spans_synchronous_to_throughput_and_names_the_max_goodput(tmp_path, server):
    db = tmp_path / "sweep.db"
    proc = bakeoff("load", spec_for(server), "--rate", "sweep:2", "-n", "6", "-p", "8", "-o", "4",
                   "--slo", "e2el=60s", "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["sweep"] for r in rows] == ["synchronous", "throughput", "rate 1/2", "rate 2/2"]
    sync, thru = rows[0], rows[1]
    assert sync["concurrency"] == 1 and thru["concurrency"] == 6 and thru["target_rate"] is None
    lo, hi = sorted((sync["request_throughput"], thru["completion_rate"]))
    rates = [r["target_rate"] for r in rows[2:]]
    assert rates == pytest.approx([lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3])
    assert sum(r["max_goodput"] for r in rows) == 1
    best = next(r for r in rows if r["max_goodput"])
    assert best["goodput"] == max(r["goodput"] for r in rows) and "max goodput:" in proc.stderr

    # The HTML report: throughput, latency percentiles and goodput against concurrency and against
    # rate, drawn by Vega in headless Chromium, and a table of every level
    from browser import browser_context, wait_js

    out = tmp_path / "report.html"
    assert bakeoff("report", "--db", db, "--html", out).returncode == 0
    with browser_context() as context:
        page = context.new_page()
        page.goto(out.as_uri())
        wait_js(page, "document.body.dataset.plotsDrawn !== undefined", timeout=30)
        titles = [page.locator(f"#fig-load-{i}").text_content() for i in range(6)]
        for i, (kind, axis) in enumerate((k, a) for a in ("concurrency", "rate")
                                         for k in ("throughput", "latency", "requests and goodput")):
            assert f"{kind} against {axis}" in titles[i]
        assert "TTFT p99" in titles[1] and "goodput" in titles[5]
        # two concurrency levels (1 and 6) and two rates: a point per level and figure
        assert page.locator("#fig-load-0 .points_marks path").count() == 2
        assert page.locator("#fig-load-3 .points_marks path").count() == 2
        table = page.locator("#load-table").inner_text()
        assert table.count("max goodput") == 1 and "concurrency 1 (synchronous)" in table
        assert f"constant {rates[0]:.3g} req/s (rate 1/2)" in table
        assert any("saturation: the server" in t for t in page.locator("#load ~ p").all_inner_texts())


def test_impossible_slo_gives_zero_goodput_and_a_table_with_units(tmp_path, server):
    db = tmp_path / "slo.db"
    proc = bakeoff("load", spec_for(server), "--concurrency", "1", "--requests", "2", "-p", "16", "-o", "4",
                   "--slo", "ttft=0.001ms", "--db", db)
    assert proc.returncode == 0, proc.stderr
    for header in ("requests/s", "output tok/s", "total tok/s", "goodput (req/s)", "mean TTFT (ms)", "TPOT p99",
                   "ITL p50", "E2E p90", "TTFT ≤ 0.001 ms", "client CPU (s)", "busiest worker"):
        assert header in proc.stdout, header
    row = sqlite3.connect(db).execute("SELECT completed, request_throughput, goodput, slo FROM load_results").fetchone()
    assert row[0] == 2 and row[1] > 0 and row[2] == 0.0 and json.loads(row[3]) == {"ttft_ms": 0.001}


def test_in_process_contender_is_exit_2(tmp_path, smollm2):
    proc = bakeoff("load", "smollm2-135m", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "load mode needs a server contender" in proc.stderr and "bakeoff speed" in proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_bad_slo_is_exit_2(tmp_path):
    proc = bakeoff("load", "openai-compat:http://127.0.0.1:9/v1#x", "--slo", "ttft=5min", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "500ms or 0.5s" in proc.stderr
    for bad, words in [("latency=5ms", "unknown key"), ("ttft=-5ms", "positive"), ("ttft", "KEY=VALUE"),
                       ("ttft=0ms", "positive"), ("ttft=1ms,ttft=2ms", "twice"), ("tpot=fast", "not a time")]:
        with pytest.raises(InputError, match=words):
            parse_slo(bad)
    assert parse_slo("ttft=500ms, tpot=0.05s,e2el:2000") == {"ttft_ms": 500.0, "tpot_ms": 50.0, "e2el_ms": 2000.0}


def test_a_server_that_dies_mid_level_gives_failed_requests(tmp_path, smollm2):
    log = tmp_path / "server.log"
    server_proc, url = start_server(smollm2, log)
    db = tmp_path / "dies.db"
    try:
        cli = subprocess.Popen([sys.executable, "-m", "bakeoff", "load", spec_for(url), "--concurrency", "1",
                                "--requests", "12", "-p", "16", "-o", "24", "--db", str(db), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the warm-up and two level requests answered, the third under way: the server dies
        wait_for(lambda: log.read_text(errors="replace").count("POST /v1/chat/completions") >= 4, 120,
                 what="three requests of the level")
        server_proc.kill()
        stdout, stderr = cli.communicate(timeout=120)
    finally:
        server_proc.kill()
        server_proc.wait(timeout=30)
    assert cli.returncode == 0, stderr
    (row,) = json.loads(stdout)
    assert row["completed"] >= 2 and row["failed"] >= 1 and row["completed"] + row["failed"] == 12
    failed = [s for s in row["samples"] if not s["ok"]]
    assert all(s["error"] and s["ttft_ms"] is None for s in failed)
    assert any("connect" in s["error"].lower() for s in failed), [s["error"] for s in failed]
    # the figures count the completed requests only
    assert row["request_throughput"] == pytest.approx(row["completed"] / row["duration_s"])
    assert row["latency"]["e2e_ms"]["n"] == row["completed"]
    assert sqlite3.connect(db).execute("SELECT failed FROM load_results").fetchone()[0] == row["failed"]


def _sample(ttft, e2e, n, itl=(), ok=True, prompt=10):
    tpot = (e2e - ttft) / (n - 1) if n and n > 1 else None
    return {"ok": ok, "error": None if ok else "x", "ttft_ms": ttft, "e2e_ms": e2e, "tpot_ms": tpot,
            "itl_ms": list(itl), "output_tokens": n, "prompt_tokens": prompt, "prompt_tokens_source": "tokenizer"}


def test_figures_follow_vllm_calculate_metrics():
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0]
    for p in (0, 10, 50, 90, 99, 100):
        assert percentile(values, p) == pytest.approx(np.percentile(values, p))
    samples = [_sample(100, 500, 5, itl=[100, 100, 100, 100]),  # TPOT 100
               _sample(50, 50, 1),  # one token: no TPOT, counts 0 against a TPOT SLO (as vLLM)
               _sample(300, 1500, 4, itl=[400, 400, 400]),  # TPOT 400
               _sample(None, None, None, ok=False)]
    f = summarise(samples, 2.0, {"ttft_ms": 200, "tpot_ms": 150}, prompt_tokens_asked=10)
    assert f["completed"] == 3 and f["failed"] == 1
    assert f["total_output_tokens"] == 10 and f["total_input_tokens"] == 30  # failed requests count nothing
    assert f["request_throughput"] == 1.5 and f["output_throughput"] == 5.0 and f["total_token_throughput"] == 20.0
    assert f["latency"]["tpot_ms"]["n"] == 2 and f["latency"]["tpot_ms"]["mean"] == 250
    assert f["latency"]["itl_ms"]["n"] == 7 and f["latency"]["ttft_ms"]["p50"] == 100
    assert f["latency"]["ttft_ms"]["std"] == pytest.approx(np.std([100, 50, 300]))
    assert f["good_requests"] == 2 and f["goodput"] == 1.0  # the third misses both SLOs
    assert summarise(samples, 2.0, {}, 10)["goodput"] is None  # no SLO: no goodput
