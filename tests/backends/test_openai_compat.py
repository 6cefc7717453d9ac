"""The openai-compat backend against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`), started by the test on 127.0.0.1 with a packaged model."""

import json
import subprocess
import sys

import psutil

from conftest import bakeoff, free_port, report_json, start_llama_server, trial_rows, wait_for, write_suite


def test_server_contender_streams_and_is_measured(tmp_path, server):
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "o.db"
    spec = f"openai-compat:{server}#smollm2?tokenizer=smollm2-135m"
    proc = bakeoff("run", suite, "-c", spec, "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    for r in rows:
        assert r["output"].strip()
        # llama-cpp-python's server sends no usage when streaming: tokens come from the tokenizer, labelled.
        assert r["tokens_source"] == "tokenizer" and r["output_tokens"] >= 1
        assert 0 < r["ttft_ms"] <= r["e2e_ms"]
        assert r["peak_mem_mb"] is None  # the server's memory is not ours to measure
        assert json.loads(r["request"])["messages"][-1]["role"] == "user"
    c = report_json(db)["contenders"][0]
    assert c["spec"] == f"openai-compat:{server}#smollm2?tokenizer=smollm2-135m"
    assert c["errors"] == 0 and c["energy_label"] == "unavailable"


def test_unreachable_server_gives_error_trials(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "u.db"
    port = free_port()  # nothing listens there
    proc = bakeoff("run", suite, "-c", f"openai-compat:http://127.0.0.1:{port}/v1#x?connect_timeout=2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 2 and all(r["status"] == "error" for r in rows)
    assert all("did not answer /models" in r["error"] for r in rows)


def test_bad_target_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "openai-compat:localhost:8080", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "BASE_URL#MODEL" in proc.stderr and "Traceback" not in proc.stderr


def test_concurrent_trials_against_the_server(tmp_path, server):
    suite = write_suite(tmp_path / "s.yaml", cases=4, max_tokens=16)
    db = tmp_path / "c.db"
    spec = f"openai-compat:{server}#smollm2?concurrency=3&tokenizer=smollm2-135m"
    proc = bakeoff("run", suite, "-c", spec, "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert all(r["finish_reason"] in ("stop", "length") and r["output"].strip() for r in rows)
    # Three requests were in flight together: their sending times overlap their ends.
    spans = sorted((r["started_at"], r["finished_at"]) for r in rows)
    assert spans[1][0] < spans[0][1] and spans[2][0] < spans[0][1]


def test_a_server_that_cuts_streams_gives_error_trials_not_short_answers(tmp_path, smollm2):
    """llama-cpp-python's default (interrupt_requests=True) ends a stream early when another request
    arrives, with [DONE] and no finish reason; those trials must not pass as short answers."""
    proc, url = start_llama_server(smollm2)
    try:
        suite = write_suite(tmp_path / "s.yaml", cases=2, max_tokens=200)
        db = tmp_path / "cut.db"
        run = bakeoff("run", suite, "-c", f"openai-compat:{url}#smollm2?concurrency=2", "--db", db)
        assert run.returncode == 0, run.stderr
        rows = trial_rows(db)
        cut = [r for r in rows if r["status"] == "error"]
        assert cut and all("without a finish reason" in r["error"] for r in cut)
    finally:
        proc.kill()
        proc.wait()


def test_server_killed_mid_stream(tmp_path, smollm2):
    """The server dies while a trial streams: that trial and the rest become error trials with a
    clear message after their retries, and the run completes."""
    proc, url = start_llama_server(smollm2)
    suite = tmp_path / "long.yaml"
    suite.write_text("defaults: {max_tokens: 400, temperature: 0}\ncases:\n" + "".join(
        f"  - {{id: add-{i}, prompt: 'Write the numbers from {i} to 1000, one per line.'}}\n" for i in range(3)))
    db = tmp_path / "kill.db"
    server_proc = psutil.Process(proc.pid)
    idle_cpu = sum(server_proc.cpu_times()[:2])
    cli = subprocess.Popen([sys.executable, "-m", "bakeoff", "run", str(suite), "--db", str(db), "-c",
                            f"openai-compat:{url}#smollm2?retries=1&connect_timeout=2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Generating keeps the server's one thread busy: once it has used a second of CPU, a trial
        # is streaming (whichever one it is), and the kill lands inside that stream.
        wait_for(lambda: sum(server_proc.cpu_times()[:2]) - idle_cpu > 1.0, timeout=120,
                 what="the server generating")
        proc.kill()
        proc.wait()
        out, err = cli.communicate(timeout=120)
    finally:
        cli.kill()
        proc.kill()
    assert cli.returncode == 0, err
    rows = [r for r in sorted(trial_rows(db), key=lambda r: r["case_id"])]
    assert len(rows) == 3
    cut = [i for i, r in enumerate(rows) if r["status"] == "error"
           and any(w in (r["retry_log"] or "") for w in ("RemoteProtocolError", "ReadError"))]
    assert len(cut) == 1, [(r["status"], r["error"], r["retry_log"]) for r in rows]  # cut mid-stream, not refused
    first = rows[cut[0]]
    assert first["retries"] == 1
    assert "gave up after 2 attempt(s): connection failed or dropped" in first["error"]
    # Every trial after it found no server, and says so; the ones before it finished.
    assert all(r["status"] == "error" and "connection failed" in r["error"] for r in rows[cut[0] + 1:])
    assert all(r["status"] == "ok" for r in rows[:cut[0]])


def test_speed_on_an_unreachable_server_is_a_clean_error(tmp_path):
    """`bakeoff speed` measures server contenders too (tests/run/test_speed.py); a server that does not
    answer is an error naming it, exit 1, no traceback."""
    proc = bakeoff("speed", "openai-compat:http://127.0.0.1:9/v1#x", "--db", tmp_path / "s.db")
    assert proc.returncode == 1 and "server at http://127.0.0.1:9/v1 did not answer" in proc.stderr
    assert "Traceback" not in proc.stderr
