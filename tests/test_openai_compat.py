"""The openai-compat backend against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`), started by the test on 127.0.0.1 with a packaged model."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import bakeoff, report_json, trial_rows, write_suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


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
    port = _free_port()  # nothing listens there
    proc = bakeoff("run", suite, "-c", f"openai-compat:http://127.0.0.1:{port}/v1#x?connect_timeout=2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert len(rows) == 2 and all(r["status"] == "error" for r in rows)
    assert all("did not answer /models" in r["error"] for r in rows)


def test_bad_target_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "openai-compat:localhost:8080", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "BASE_URL#MODEL" in proc.stderr and "Traceback" not in proc.stderr
