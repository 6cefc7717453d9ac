"""The openai: and gemini: backends, and what every server backend shares (keys, retries,
timeouts, concurrency), through the real CLI.

OpenAI's and Google's APIs cannot be reached from here: these tests run against a local
stand-in (tests/standins/openai_api.py) that speaks the Chat Completions protocol as OpenAI's
API reference documents it: streamed chunks, the usage chunk, errors, rate-limit headers.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import bakeoff, report_json, trial_rows, write_suite
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app

KEY = "sk-proj-standin-9f8e7d6c5b4a39281706"


@pytest.fixture
def openai_server():
    state = StandInState(expected_key=KEY)
    with StandInServer(make_app(state, ["gpt-4o-mini", "o4-mini"]), state) as server:
        yield server


def run_ok(*args, env) -> None:
    proc = bakeoff(*args, env=env)
    assert proc.returncode == 0, proc.stderr


def _env(tmp_path, **extra) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "BAKEOFF_CONFIG": str(tmp_path / "cfg"), **extra}


def test_openai_trials_are_measured_from_the_stream(tmp_path, openai_server):
    suite = write_suite(tmp_path / "s.yaml", cases=2, max_tokens=20)
    db = tmp_path / "o.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert [r["status"] for r in rows] == ["ok", "ok"], [r["error"] for r in rows]
    words = len(openai_server.state.words())
    for r in rows:
        assert r["output"] == openai_server.state.reply
        assert (r["output_tokens"], r["tokens_source"]) == (words, "server usage")
        assert r["prompt_tokens"] > 0 and r["retries"] == 0
        assert 0 < r["ttft_ms"] <= r["e2e_ms"] and r["decode_tps"] > 0
    sent = openai_server.posted("/chat/completions")
    assert len(sent) == 2
    body, headers = sent[0].body, sent[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 20 and "max_tokens" not in body
    assert body["messages"][-1]["role"] == "user"
    contender = report_json(db)["contenders"][0]
    assert contender["errors"] == 0 and contender["spec"] == spec and contender["runs_in"] == "cloud"
    sources = contender["figure_sources"]
    assert sources["ttft_ms_median"].startswith("client-observed (bakeoff's HTTP client")
    assert "output tokens from server usage" in sources["decode_tps_median"]
    assert sources["prefill_tps_median"].startswith("unavailable") and contender["prefill_tps_median"] is None
    assert sources["peak_mem_mb"].startswith("not measured") and contender["peak_mem_mb"] is None
    cost = contender["cost_per_mtok"]  # the price table on the tokens the trials used
    assert cost["label"] == "price table" and cost["value"] > 0
    assert cost["assumptions"]["output_tokens"] == 2 * words


def test_reasoning_effort_is_sent_without_temperature(tmp_path, openai_server):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    spec = f"openai:o4-mini?base_url={openai_server.url}/v1&reasoning_effort=low"
    run_ok("run", suite, "-c", spec, "--db", tmp_path / "r.db", env=_env(tmp_path))
    body = openai_server.posted("/chat/completions")[0].body
    assert body["reasoning_effort"] == "low" and "temperature" not in body


def test_unknown_model_fails_the_contender_with_the_list(tmp_path, openai_server):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "m.db"
    spec = f"openai:gpt-9?base_url={openai_server.url}/v1"
    run_ok("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    (row,) = trial_rows(db)
    assert row["status"] == "error" and "does not offer 'gpt-9'" in row["error"] and "gpt-4o-mini" in row["error"], row["error"]


def test_missing_key_is_exit_2_with_the_hint(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "openai:gpt-4o-mini", "--db", tmp_path / "k.db",
                   env={"OPENAI_API_KEY": "", "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "OPENAI_API_KEY" in proc.stderr and "bakeoff keys set openai" in proc.stderr


def test_key_from_keys_file_is_used_and_file_is_private(tmp_path, openai_server):
    env = {"OPENAI_API_KEY": "", "BAKEOFF_CONFIG": str(tmp_path / "cfg")}
    run_ok("keys", "set", "openai", "--value", KEY, env=env)
    keys_file = tmp_path / "cfg" / "keys.json"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    listed = bakeoff("keys", "list", "--json", env=env)
    assert json.loads(listed.stdout)["names"] == ["openai"] and KEY not in listed.stdout
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "f.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    run_ok("run", suite, "-c", spec, "--db", db, env=env)
    assert trial_rows(db)[0]["status"] == "ok"
    facts = json.loads(sqlite3.connect(db).execute("SELECT facts FROM contenders").fetchone()[0])
    assert facts["api_key"] == "keys file"


def test_a_key_the_server_echoes_is_nowhere_bakeoff_writes(tmp_path, openai_server):
    """The stand-in's 401 echoes the whole key: it must not reach the database, report or terminal."""
    openai_server.state.script("auth")
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "leak.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0
    (row,) = trial_rows(db)
    assert row["status"] == "error" and "HTTP 401" in row["error"] and "[REDACTED]" in row["error"]
    report = bakeoff("report", "--db", db, "--json", "--cases")
    for text in (proc.stdout, proc.stderr, report.stdout, report.stderr):
        assert KEY not in text and KEY[-12:] not in text
    for path in tmp_path.glob("leak.db*"):
        assert KEY.encode() not in path.read_bytes() and KEY[-12:].encode() not in path.read_bytes()


def test_retries_429_500_and_a_dropped_stream_are_recorded(tmp_path, openai_server):
    openai_server.state.script("429", "500", "drop")
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "retry.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["case_id"]: r for r in trial_rows(db)}
    first, second = rows["add-0"], rows["add-1"]
    assert first["status"] == second["status"] == "ok"
    assert first["retries"] == 3 and second["retries"] == 0
    log = json.loads(first["retry_log"])
    assert [entry["attempt"] for entry in log] == [1, 2, 3]
    assert "HTTP 429" in log[0]["reason"] and log[0]["wait_s"] == 1.0  # the server's Retry-After
    assert "HTTP 500" in log[1]["reason"] and 0 <= log[1]["wait_s"] <= 1.0  # backoff with jitter
    assert "dropped" in log[2]["reason"]
    assert first["output"] == openai_server.state.reply  # the partial stream was discarded
    assert len(openai_server.posted("/chat/completions")) == 5


def test_retries_run_out_into_an_error_trial(tmp_path, openai_server):
    openai_server.state.script("500", "500")
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "out.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1&retries=1"
    run_ok("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    rows = {r["case_id"]: r for r in trial_rows(db)}
    assert rows["add-0"]["status"] == "error" and rows["add-0"]["retries"] == 1
    assert "gave up after 2 attempt(s): HTTP 500" in rows["add-0"]["error"]
    assert rows["add-1"]["status"] == "ok"  # the run went on


def test_hung_connection_and_malformed_chunk_are_error_trials(tmp_path, openai_server):
    openai_server.state.script("hang", "malformed")
    suite = write_suite(tmp_path / "s.yaml", cases=3)
    db = tmp_path / "hang.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1&retries=0"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, "--timeout", "2", env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["case_id"]: r for r in trial_rows(db)}
    assert rows["add-0"]["status"] == "error" and "no answer from the server within 2 s" in rows["add-0"]["error"]
    assert rows["add-1"]["status"] == "error" and "malformed stream chunk" in rows["add-1"]["error"]
    assert rows["add-2"]["status"] == "ok"


def test_concurrency_runs_trials_at_once(tmp_path, openai_server):
    openai_server.state.chunk_delay_s = 0.05
    suite = write_suite(tmp_path / "s.yaml", cases=8)
    db = tmp_path / "c.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1&concurrency=4"
    run_ok("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    rows = trial_rows(db)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert openai_server.state.max_in_flight == 4
    # Resume: nothing is asked again.
    run_ok("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert len(openai_server.posted("/chat/completions")) == 8


def test_gemini_through_its_openai_compatible_endpoint(tmp_path):
    state = StandInState(expected_key=KEY)
    app = make_app(state, ["models/gemini-2.5-flash"], google=True, prefix="/v1beta/openai")
    with StandInServer(app, state) as server:
        state.script("429")
        suite = write_suite(tmp_path / "s.yaml", cases=1)
        db = tmp_path / "g.db"
        env = {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": f"{server.url}/v1beta/openai",
               "BAKEOFF_CONFIG": str(tmp_path / "cfg")}
        proc = bakeoff("run", suite, "-c", "gemini:gemini-2.5-flash?reasoning_effort=low", "--db", db, env=env)
        assert proc.returncode == 0, proc.stderr
        (row,) = trial_rows(db)
        assert row["status"] == "ok" and row["retries"] == 1 and row["tokens_source"] == "server usage"
        assert "RESOURCE_EXHAUSTED" in json.loads(row["retry_log"])[0]["reason"] or "429" in row["retry_log"]
        body = server.posted("/chat/completions")[-1].body
        assert body["model"] == "gemini-2.5-flash" and body["reasoning_effort"] == "low"
        assert "seed" not in body and body["max_tokens"] == 24
