"""The ollama backend (Ollama's native /api/chat), through the real CLI.

Ollama's binary cannot run here (no network to pull a model, no GPU), so these tests use a local
stand-in that speaks its documented protocol (tests/standins/ollama_api.py): NDJSON streaming,
nanosecond durations, load and unload by empty-messages requests, /api/ps, {"error": ...} bodies.
The stand-in's durations are fixed, so the engine-reported figures can be checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.request

import pytest

from bakeoff.backends.ollama import OllamaBackend, OllamaOptions, ollama_url
from conftest import bakeoff, free_port, report_json, trial_rows, write_suite
from standins.base import StandInServer, StandInState
from standins.ollama_api import (LOAD_S, NS_PER_OUTPUT_TOKEN, NS_PER_PROMPT_TOKEN, RUNNER_ERROR, SIZE, SIZE_VRAM,
                                 THINKING, WARM_LOAD_NS, make_app, prompt_tokens)

REPLY = "The answer is 2."


@pytest.fixture
def ollama(request):
    """The stand-in; ``@pytest.mark.parametrize("ollama", [seconds], indirect=True)`` sets its load time."""
    state = StandInState(reply=REPLY)
    server = StandInServer(make_app(state, load_s=getattr(request, "param", LOAD_S)), state)
    with server:
        yield server


def contender_load(db) -> dict[str, dict]:
    conn = sqlite3.connect(db)
    try:
        return {spec: (json.loads(load) if load else None, error)
                for spec, load, error in conn.execute("SELECT spec, load, error FROM contenders")}
    finally:
        conn.close()


def chats(server: StandInServer, empty: bool) -> list[dict]:
    return [r.body for r in server.posted("/api/chat") if bool(r.body.get("messages")) != empty]


COLD_LOAD_S = 1.0  # long beside a trial's TTFT, so a load inside a TTFT would show


@pytest.mark.parametrize("ollama", [COLD_LOAD_S], indirect=True)
def test_run_streams_engine_figures_and_unloads(tmp_path, ollama):
    ollama.state.chunk_delay_s = 0.01
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "o.db"
    proc = bakeoff("run", suite, "-c", f"ollama:gemma4:e4b?base_url={ollama.url}", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    finals = ollama.app.state.finals
    assert len(rows) == 2 and len(finals) == 2
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    n_out = len(REPLY.split(" "))
    for r in rows:
        assert r["output"] == REPLY and r["finish_reason"] == "stop"
        # Token counts are the engine's eval counts, labelled; the figures come from its nanoseconds.
        n_prompt = prompt_tokens(json.loads(r["request"])["messages"])
        assert (r["prompt_tokens"], r["output_tokens"], r["tokens_source"]) == (n_prompt, n_out, "engine (ollama)")
        assert r["engine_source"] == "ollama durations"
        assert r["engine_prompt_n"] == n_prompt and r["engine_eval_n"] == n_out
        assert r["engine_prompt_ms"] == pytest.approx(n_prompt * NS_PER_PROMPT_TOKEN / 1e6)
        assert r["engine_eval_ms"] == pytest.approx(n_out * NS_PER_OUTPUT_TOKEN / 1e6)
        assert r["engine_prefill_tps"] == pytest.approx(1e9 / NS_PER_PROMPT_TOKEN)  # 400 tok/s
        assert r["engine_decode_tps"] == pytest.approx(1e9 / NS_PER_OUTPUT_TOKEN)  # 50 tok/s
        # The model was loaded before the trials: load_duration is the warm one, kept apart from TTFT.
        assert r["engine_load_ms"] == pytest.approx(WARM_LOAD_NS / 1e6)
        assert 0 < r["ttft_ms"] < COLD_LOAD_S * 1000 and r["ttft_ms"] <= r["e2e_ms"]
        assert r["decode_tps"] and r["retries"] == 0 and r["peak_mem_mb"] is None
    assert sorted(f["prompt_eval_count"] for f in finals) == sorted(r["engine_prompt_n"] for r in rows)
    # The contender's load: client-observed wall time of the load request, engine-reported memory.
    (load, error), = contender_load(db).values()
    assert error is None
    assert load["load_ms"] >= COLD_LOAD_S * 1000 and "client-observed" in load["load_ms_source"]
    assert load["engine_mem_mb"] == pytest.approx(SIZE / 2**20, abs=0.1)
    assert load["engine_vram_mb"] == pytest.approx(SIZE_VRAM / 2**20, abs=0.1)
    assert "engine-reported" in load["memory_source"] and load["was_loaded"] is False
    paths = [(r.method, r.path) for r in ollama.state.requests]
    assert paths[:2] == [("GET", "/api/version"), ("POST", "/api/show")]
    load_requests = chats(ollama, empty=True)
    assert load_requests[0] == {"model": "gemma4:e4b", "messages": [], "stream": False}
    # Unloaded at the end: keep_alive 0 sent, and /api/ps lists nothing.
    assert load_requests[-1]["keep_alive"] == 0
    with urllib.request.urlopen(f"{ollama.url}/api/ps", timeout=5) as reply:
        assert json.load(reply)["models"] == []
    c = report_json(db)["contenders"][0]
    assert c["spec"] == f"ollama:gemma4:e4b?base_url={ollama.url}" and c["errors"] == 0
    assert c["runs_in"] == "server" and c["server_mem_mb"] == pytest.approx(SIZE / 2**20, abs=0.1)
    assert c["figure_sources"]["server_mem_mb"].startswith("engine-reported (ollama /api/ps")
    assert c["figure_sources"]["prefill_tps_median"] == "engine-reported (ollama durations)"


def test_options_are_mapped_and_thinking_is_reasoning(tmp_path, ollama):
    suite = write_suite(tmp_path / "s.yaml", cases=1, max_tokens=3)
    db = tmp_path / "o.db"
    spec = (f"ollama:qwen3:0.6b?base_url={ollama.url}&think=true&temperature=0.3&seed=7&top_k=20"
            "&num_ctx=8192&keep_alive=10m")
    proc = bakeoff("run", suite, "-c", spec, "--db", db)
    assert proc.returncode == 0, proc.stderr
    (r,) = trial_rows(db)
    assert r["status"] == "ok", r["error"]
    assert r["reasoning"] == THINKING and r["output"] == "The answer is"  # num_predict=3 cut it
    assert r["finish_reason"] == "length"
    assert r["ttft_ms"] < r["ttfat_ms"]  # thinking came first
    (body,) = chats(ollama, empty=False)
    assert body["model"] == "qwen3:0.6b" and body["stream"] is True
    assert body["think"] is True and body["keep_alive"] == "10m"
    assert body["options"] == {"temperature": 0.3, "seed": 7, "top_k": 20, "num_predict": 3, "num_ctx": 8192}
    load = chats(ollama, empty=True)[0]
    # The load carries the runner options, or Ollama would reload the model inside the first trial.
    assert load["options"] == {"num_ctx": 8192} and load["keep_alive"] == "10m"
    assert ollama.app.state.loaded == {}


def test_ollama_host_environment_variable(tmp_path, ollama):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "o.db"
    host_port = ollama.url.removeprefix("http://")  # the host:port form users put in OLLAMA_HOST
    proc = bakeoff("run", suite, "-c", "ollama:gemma4:e4b", "--db", db, env={"OLLAMA_HOST": host_port})
    assert proc.returncode == 0, proc.stderr
    (r,) = trial_rows(db)
    assert r["status"] == "ok" and r["output"] == REPLY, r["error"]


def test_server_address_is_read_as_ollama_reads_it():
    assert ollama_url("0.0.0.0") == "http://127.0.0.1:11434"
    assert ollama_url("0.0.0.0:8080") == "http://127.0.0.1:8080"
    assert ollama_url("gpu-box:11500") == "http://gpu-box:11500"
    assert ollama_url("gpu-box") == "http://gpu-box:11434"
    assert ollama_url("https://ollama.example.org") == "https://ollama.example.org:443"
    assert ollama_url("http://10.0.0.2:11434/") == "http://10.0.0.2:11434"
    assert ollama_url("[::1]:11434") == "http://[::1]:11434"


def test_missing_model_unsupported_thinking_and_no_server_fail_the_contender(tmp_path, ollama):
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "o.db"
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    proc = bakeoff("run", suite, "-c", f"ollama:llama9:70b?base_url={ollama.url}",
                   "-c", f"ollama:gemma4:e4b?base_url={ollama.url}&think=true",
                   "-c", f"ollama:gemma4:e4b?base_url={dead}&connect_timeout=2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 6 and all(r["status"] == "error" for r in rows)
    unreachable = [r["error"] for r in rows if dead in r["spec"]]
    assert all(f"cannot reach ollama at http://{dead}" in e and "ollama serve" in e for e in unreachable)
    rows = [r for r in rows if dead not in r["spec"]]
    missing = [r["error"] for r in rows if "llama9" in r["spec"]]
    assert all("ollama has no model llama9:70b; run `ollama pull llama9:70b`" in e for e in missing)
    no_think = [r["error"] for r in rows if "gemma4" in r["spec"]]
    assert all("does not support thinking" in e for e in no_think), no_think
    assert not chats(ollama, empty=False)  # no trial was sent


def test_429_500_and_dropped_stream_are_retried(tmp_path, ollama):
    ollama.state.retry_after = "0.2"
    ollama.state.script("429", "ok", "500", "ok", "drop", "ok")
    suite = write_suite(tmp_path / "s.yaml", cases=3)
    db = tmp_path / "o.db"
    proc = bakeoff("run", suite, "-c", f"ollama:gemma4:e4b?base_url={ollama.url}", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert all(r["retries"] == 1 and r["output"] == REPLY for r in rows)
    logs = {json.loads(r["retry_log"])[0]["reason"]: json.loads(r["retry_log"])[0] for r in rows}
    (too_many,) = [v for k, v in logs.items() if k.startswith("HTTP 429")]
    assert too_many["wait_s"] == pytest.approx(0.2) and too_many["attempt"] == 1  # Retry-After obeyed
    assert any(k.startswith("HTTP 500: llama runner process has terminated") for k in logs), logs
    assert any("dropped" in k and "RemoteProtocolError" in k for k in logs), logs
    # The dropped attempt's partial output is not in the trial: its figures are the good attempt's.
    assert all(r["engine_eval_n"] == len(REPLY.split(" ")) for r in rows)


def test_hang_malformed_chunk_and_error_line_are_error_trials(tmp_path, ollama):
    ollama.state.script("hang", "malformed")
    suite = write_suite(tmp_path / "s.yaml", cases=3)
    db = tmp_path / "o.db"
    proc = bakeoff("run", suite, "-c", f"ollama:gemma4:e4b?base_url={ollama.url}&retries=0",
                   "-c", f"ollama:crashy:1b?base_url={ollama.url}", "--timeout", "2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in trial_rows(db) if "crashy" not in r["spec"]]
    crashed = [r for r in trial_rows(db) if "crashy" in r["spec"]]
    # An {"error": ...} line inside a 200 stream is the engine's failure: an error trial, not retried.
    assert len(crashed) == 3 and all(r["status"] == "error" and r["retries"] == 0 for r in crashed)
    assert all(r["error"] == f"ollama error in the stream: {RUNNER_ERROR}" for r in crashed), crashed[0]["error"]
    errors = sorted(r["error"] for r in rows if r["status"] == "error")
    assert len(rows) == 3 and len(errors) == 2
    assert errors[0].startswith("gave up after 1 attempt(s): no answer from ollama within 2 s"), errors
    assert errors[1].startswith("malformed stream chunk from ollama (not JSON)"), errors
    assert [r["output"] for r in rows if r["status"] == "ok"] == [REPLY]


def test_concurrency_reaches_the_server(tmp_path, ollama):
    ollama.state.chunk_delay_s = 0.05
    suite = write_suite(tmp_path / "s.yaml", cases=6)
    db = tmp_path / "o.db"
    proc = bakeoff("run", suite, "-c", f"ollama:gemma4:e4b?base_url={ollama.url}&concurrency=3", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert all(r["status"] == "ok" for r in trial_rows(db))
    assert ollama.state.max_in_flight == 3


@pytest.mark.parametrize("spec, message", [
    ("ollama:gemma4:e4b?thinking_budget=512", "unknown option 'thinking_budget'"),
    ("ollama:gemma4:e4b?think=maybe", "think takes true, false, low, medium or high"),
    ("ollama:gemma4:e4b?num_ctx=-5", "option num_ctx='-5'"),
])
def test_bad_option_is_exit_2(tmp_path, spec, message):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", spec, "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_ollama_host_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "ollama:gemma4:e4b", "--db", tmp_path / "x.db",
                   env={"OLLAMA_HOST": "ftp://gpu-box"})
    assert proc.returncode == 2 and "cannot read the server address 'ftp://gpu-box'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unload_failure_does_not_raise():
    backend = OllamaBackend("gemma4:e4b", OllamaOptions(base_url=f"127.0.0.1:{free_port()}", connect_timeout=1))

    async def close():
        import httpx2

        backend.client = httpx2.AsyncClient(base_url=backend.base_url)
        await backend.aclose()

    asyncio.run(close())
    assert backend.client is None


def test_think_and_keep_alive_are_sent_as_ollama_takes_them():
    from bakeoff.backends.base import GenerationRequest
    from bakeoff.spec import parse_spec

    def body(spec: str) -> dict:
        parsed = parse_spec(spec)
        backend = OllamaBackend(parsed.model, OllamaOptions.model_validate(parsed.options))
        return backend.request_body(GenerationRequest(messages=[{"role": "user", "content": "hi"}]))

    assert "think" not in body("ollama:gpt-oss:20b") and "keep_alive" not in body("ollama:gpt-oss:20b")
    assert body("ollama:gpt-oss:20b?think=off")["think"] is False  # off is sent, not left out
    assert body("ollama:gpt-oss:20b?think=high")["think"] == "high"
    assert body("ollama:gpt-oss:20b?keep_alive=-1")["keep_alive"] == -1  # a bare number is seconds
    assert body("ollama:gpt-oss:20b?keep_alive=0")["keep_alive"] == 0
    assert body("ollama:gpt-oss:20b")["model"] == "gpt-oss:20b"  # the tag stays in the model name
