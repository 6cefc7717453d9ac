"""The anthropic: backend through the real CLI.

Anthropic's API cannot be reached from here: these tests run against a local stand-in
(tests/standins/anthropic_api.py) that speaks the Messages API's documented protocol: named SSE
events with usage, thinking blocks, in-stream errors, Anthropic's error objects and rate-limit
headers, and the request checks the API makes (key, version header, no system role, no sampling
parameters since version 2026-10-21, thinking budget below max_tokens).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import bakeoff, report_json, trial_rows, write_suite
from standins.anthropic_api import AnthropicState, make_app
from standins.base import StandInServer

KEY = "sk-ant-api03-standin-5e4d3c2b1a0f9e8d7c6b"
SYSTEM = "You are terse. Answer in one sentence."
QUESTION = "What is the capital of France?"


@pytest.fixture
def server():
    state = AnthropicState(expected_key=KEY)
    with StandInServer(make_app(state), state) as srv:
        yield srv


def _env(tmp_path, **extra) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "", "BAKEOFF_CONFIG": str(tmp_path / "cfg"), **extra}


def _spec(server, model: str = "claude-sonnet-4-5", **options) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"base_url": server.url, **options}.items())
    return f"anthropic:{model}?{query}"


def _suite(path, max_tokens: int = 24):
    """Two cases under a system prompt; the second may answer in 3 tokens only."""
    path.write_text(
        "defaults:\n"
        f"  max_tokens: {max_tokens}\n"
        f"  system: {SYSTEM!r}\n"
        "cases:\n"
        "  - id: capital\n"
        f"    prompt: {QUESTION!r}\n"
        "    checks: [{contains: Paris}]\n"
        "  - id: short\n"
        "    prompt: 'Capital of France, briefly?'\n"
        "    max_tokens: 3\n")
    return path


def _facts(db, spec: str | None = None) -> tuple[dict, list]:
    """The contender's facts and the notes the user was told."""
    conn = sqlite3.connect(db)
    try:
        facts, notes = conn.execute("SELECT facts, notes FROM contenders WHERE spec = ? OR ? IS NULL",
                                    (spec, spec)).fetchone()
    finally:
        conn.close()
    return json.loads(facts), json.loads(notes)


def test_trials_are_measured_from_the_stream(tmp_path, server):
    db = tmp_path / "a.db"
    spec = _spec(server)
    proc = bakeoff("run", _suite(tmp_path / "s.yaml"), "-c", spec, "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["case_id"]: r for r in trial_rows(db)}
    assert [r["status"] for r in rows.values()] == ["ok", "ok"], [r["error"] for r in rows.values()]
    words = server.state.words()
    full, short = rows["capital"], rows["short"]
    assert full["output"] == server.state.reply and full["passed"] == 1
    assert (full["output_tokens"], full["tokens_source"], full["finish_reason"]) == (len(words), "server usage", "stop")
    assert full["prompt_tokens"] == len(SYSTEM.split()) + len(QUESTION.split())
    assert 0 < full["ttft_ms"] == full["ttfat_ms"] <= full["e2e_ms"] and full["decode_tps"] > 0
    assert full["reasoning"] in (None, "") and full["retries"] == 0
    # max_tokens reached: Anthropic's "max_tokens" stop reason is recorded as "length".
    assert (short["output"], short["output_tokens"], short["finish_reason"]) == ("".join(words[:3]), 3, "length")

    sent = {r.body["max_tokens"]: r for r in server.posted("/v1/messages")}
    body, headers = sent[24].body, sent[24].headers
    assert body["model"] == "claude-sonnet-4-5" and body["stream"] is True
    assert body["system"] == SYSTEM  # top level: the Messages API has no system role
    assert body["messages"] == [{"role": "user", "content": QUESTION}]
    for absent in ("seed", "temperature", "top_p", "top_k", "thinking"):
        assert absent not in body
    assert headers["anthropic-version"] == "2026-10-21"
    assert f"Bearer {KEY}" == headers.get("authorization") or headers.get("x-api-key") == KEY

    facts, notes = _facts(db)
    assert facts["engine"] == "Anthropic API" and facts["model_id"] == "claude-sonnet-4-5-20250929"
    assert facts["api_key"] == "env:ANTHROPIC_API_KEY" and facts["anthropic_sdk_version"]
    assert KEY not in json.dumps(facts)
    assert any("temperature" in n and "no seed" in n for n in notes)  # the user is told what is not sent
    contender = report_json(db)["contenders"][0]
    assert contender["errors"] == 0 and contender["spec"] == spec and contender["runs_in"] == "cloud"
    assert contender["cost_per_mtok"]["label"] == "price table" and contender["cost_per_mtok"]["value"] > 0


def test_thinking_budget_streams_reasoning_apart_from_the_answer(tmp_path, server):
    db = tmp_path / "t.db"
    suite = write_suite(tmp_path / "s.yaml", cases=1, max_tokens=40)
    proc = bakeoff("run", suite, "-c", _spec(server, thinking_budget=2048), "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (row,) = trial_rows(db)
    assert row["status"] == "ok", row["error"]
    assert row["reasoning"] == server.state.thinking and row["output"] == server.state.reply
    thinking, words = server.state.thinking_words(), server.state.words()
    assert row["output_tokens"] == len(thinking) + len(words)  # Anthropic counts thinking as output
    assert row["ttft_ms"] < row["ttfat_ms"]  # the first token was thinking, the first answer came later
    (sent,) = server.posted("/v1/messages")
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent.body["max_tokens"] == 2048 + 40  # the answer keeps its own allowance
    assert "temperature" not in sent.body and "top_k" not in sent.body


def test_sampling_parameters_need_the_older_api_version(tmp_path, server):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    refused = bakeoff("run", suite, "-c", _spec(server, top_k=40), "--db", tmp_path / "x.db", env=_env(tmp_path))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "api_version=2023-06-01" in refused.stderr and not server.state.requests

    db = tmp_path / "v.db"
    proc = bakeoff("run", suite, "-c", _spec(server, api_version="2023-06-01", top_k=40), "--db", db,
                   env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert trial_rows(db)[0]["status"] == "ok", trial_rows(db)[0]["error"]
    (sent,) = server.posted("/v1/messages")
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["temperature"] == 0 and sent.body["top_k"] == 40 and "seed" not in sent.body
    assert _facts(db)[0]["sampling_sent"] == ["temperature", "top_k"]


def test_key_from_the_keys_file_address_from_the_environment_and_an_unknown_model(tmp_path, server):
    env = {"ANTHROPIC_API_KEY": "", "ANTHROPIC_BASE_URL": server.url, "BAKEOFF_CONFIG": str(tmp_path / "cfg")}
    assert bakeoff("keys", "set", "anthropic", "--value", KEY, env=env).returncode == 0
    db = tmp_path / "k.db"
    proc = bakeoff("run", write_suite(tmp_path / "s.yaml", cases=1), "-c", "anthropic:claude-haiku-4-5",
                   "-c", "anthropic:claude-9", "--db", db, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = {r["spec"]: r for r in trial_rows(db)}
    good, unknown = rows["anthropic:claude-haiku-4-5"], rows["anthropic:claude-9"]
    assert good["status"] == "ok" and good["output"] == server.state.reply, good["error"]
    # The Models API is asked when the contender loads: an unknown name fails it, with what is offered.
    assert unknown["status"] == "error" and "does not offer 'claude-9'" in unknown["error"]
    assert "claude-sonnet-4-5-20250929" in unknown["error"]
    assert [r.body["model"] for r in server.posted("/v1/messages")] == ["claude-haiku-4-5"]
    facts, _ = _facts(db, "anthropic:claude-haiku-4-5")
    assert facts["api_key"] == "keys file" and facts["base_url"] == server.url


def test_missing_key_is_exit_2_with_the_hint(tmp_path):
    proc = bakeoff("run", write_suite(tmp_path / "s.yaml", cases=1), "-c", "anthropic:claude-sonnet-4-5",
                   "--db", tmp_path / "n.db", env={"ANTHROPIC_API_KEY": "", "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ANTHROPIC_API_KEY" in proc.stderr and "bakeoff keys set anthropic" in proc.stderr


def test_missing_sdk_is_exit_2_with_the_pip_hint(tmp_path):
    """As if `anthropic` were not installed: the user is told what to install before anything runs."""
    code = ("import sys; sys.modules['anthropic'] = None; sys.argv[0] = 'bakeoff'; "
            "from bakeoff.cli import app; app(prog_name='bakeoff')")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(write_suite(tmp_path / "s.yaml", cases=1)),
                           "-c", "anthropic:claude-sonnet-4-5", "--db", str(tmp_path / "p.db")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **_env(tmp_path)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    # (cli.py prints errors as rich markup, which currently eats the "[anthropic]" of the hint)
    assert "needs the anthropic package: pip install 'bakeoff" in proc.stderr


def test_429_overloaded_dropped_and_error_event_are_retried(tmp_path, server):
    server.state.script("429", "529", "ok", "drop", "stream_error")
    db = tmp_path / "r.db"
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    proc = bakeoff("run", suite, "-c", _spec(server), "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["case_id"]: r for r in trial_rows(db)}
    first, second = rows["add-0"], rows["add-1"]
    assert first["status"] == second["status"] == "ok", (first["error"], second["error"])
    assert (first["retries"], second["retries"]) == (2, 2)
    log = json.loads(first["retry_log"]) + json.loads(second["retry_log"])
    assert [entry["attempt"] for entry in log] == [1, 2, 1, 2]
    assert "HTTP 429" in log[0]["reason"] and "rate_limit_error" in log[0]["reason"]
    assert log[0]["wait_s"] == 1.0  # the server's retry-after
    assert "HTTP 529" in log[1]["reason"] and "overloaded_error" in log[1]["reason"]
    assert 0 <= log[1]["wait_s"] <= 1.0  # backoff with jitter
    assert "connection dropped mid-stream" in log[2]["reason"]
    assert "error event in the stream: overloaded_error" in log[3]["reason"]
    for row in (first, second):  # the partial attempts were discarded
        assert row["output"] == server.state.reply and row["output_tokens"] == len(server.state.words())
    assert len(server.posted("/v1/messages")) == 6


def test_hangs_and_a_malformed_chunk_are_error_trials(tmp_path, server):
    server.state.script("hang", "hang_headers", "malformed")
    db = tmp_path / "h.db"
    suite = write_suite(tmp_path / "s.yaml", cases=3)
    proc = bakeoff("run", suite, "-c", _spec(server, retries=0, concurrency=3), "--db", db, "--timeout", "2",
                   env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert [r["status"] for r in rows] == ["error"] * 3
    errors = sorted(r["error"] for r in rows)
    assert any("malformed stream chunk" in e for e in errors), errors
    assert any("no answer from the server within 2 s" in e for e in errors), errors  # nothing at all
    assert any("the stream stalled: nothing received for 2 s" in e for e in errors), errors  # after message_start


def test_an_echoed_key_is_nowhere_bakeoff_writes(tmp_path, server):
    """The stand-in's 401 echoes the whole key: not in the database, the report or the terminal."""
    server.state.script("auth")
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "leak.db"
    proc = bakeoff("run", suite, "-c", _spec(server), "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (row,) = trial_rows(db)
    assert row["status"] == "error" and "HTTP 401" in row["error"] and "authentication_error" in row["error"]
    assert "[REDACTED]" in row["error"] and row["retries"] == 0
    # A wrong key fails already at the Models API, when the contender loads: redacted there too.
    wrong = KEY[:-4] + "ffff"
    suite2 = write_suite(tmp_path / "s2.yaml", cases=2)  # add-0 is done: only add-1 runs
    proc2 = bakeoff("run", suite2, "-c", _spec(server), "--db", db, env=_env(tmp_path, ANTHROPIC_API_KEY=wrong))
    assert proc2.returncode == 0, proc2.stderr
    row2 = {r["case_id"]: r for r in trial_rows(db)}["add-1"]
    assert "contender failed to load" in row2["error"] and "HTTP 401" in row2["error"]
    assert "[REDACTED]" in row2["error"]
    report = bakeoff("report", "--db", db, "--json", "--cases")
    assert report.returncode == 0, report.stderr
    texts = [proc.stdout, proc.stderr, proc2.stdout, proc2.stderr, report.stdout, report.stderr]
    files = [p.read_bytes() for p in tmp_path.glob("leak.db*")]
    assert files
    for secret in (KEY, KEY[-12:], wrong, wrong[-12:]):
        assert not any(secret in t for t in texts), secret
        assert not any(secret.encode() in b for b in files), secret


def test_concurrency_runs_trials_at_once(tmp_path, server):
    server.state.chunk_delay_s = 0.05
    db = tmp_path / "c.db"
    suite = write_suite(tmp_path / "s.yaml", cases=6)
    proc = bakeoff("run", suite, "-c", _spec(server, concurrency=3), "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    assert server.state.max_in_flight == 3 and len(server.posted("/v1/messages")) == 6
