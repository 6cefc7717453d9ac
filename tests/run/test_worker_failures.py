"""A worker that cannot load, crashes or hangs becomes error trials; the run goes on."""

import signal
import sqlite3
import time

import psutil
import subprocess
import sys

from conftest import bakeoff, report_json, trial_rows, wait_for, worker_processes, write_suite


def test_corrupt_gguf_gives_error_trials_and_the_run_goes_on(tmp_path, smollm2):
    bad = tmp_path / "corrupt.gguf"
    data = smollm2.read_bytes()
    bad.write_bytes(data[: len(data) // 3])  # a real header, tensors cut off
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "c.db"
    proc = bakeoff("run", suite, "-c", str(bad), "-c", "smollm2-135m?threads=1", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    bad_rows = [r for r in rows if "corrupt" in r["spec"]]
    good_rows = [r for r in rows if "smollm2" in r["spec"]]
    assert len(bad_rows) == 2 and all(r["status"] == "error" for r in bad_rows)
    assert all("could not load the model" in r["error"] for r in bad_rows)
    assert len(good_rows) == 2 and all(r["status"] == "ok" for r in good_rows)
    by_spec = {c["spec"]: c for c in report_json(db)["contenders"]}
    assert by_spec[f"llamacpp:{bad}"]["errors"] == 2


def _run_and_signal(tmp_path, sig, extra_args=()):
    suite = write_suite(tmp_path / "s.yaml", cases=3, max_tokens=200)
    db = tmp_path / "f.db"
    args = [sys.executable, "-m", "bakeoff", "run", str(suite), "-c", "smollm2-135m?threads=1",
            "--db", str(db), *extra_args]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The contender row is written once the model has loaded; the first trial starts then.
    wait_for(lambda: db.exists() and _loaded(db), timeout=60, what="the model to load")
    worker = worker_processes(proc.pid)[0]
    time.sleep(0.3)
    worker.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    return proc.returncode, err, trial_rows(db)


def _loaded(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM contenders").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def test_worker_abort_is_an_error_trial_and_the_next_trials_run(tmp_path, smollm2):
    code, err, rows = _run_and_signal(tmp_path, signal.SIGABRT)
    assert code == 0, err
    errors = [r for r in rows if r["status"] == "error"]
    assert len(rows) == 3 and len(errors) == 1
    assert "worker killed by SIGABRT while generating" in errors[0]["error"]
    assert all(r["output"] for r in rows if r["status"] == "ok")


def test_hung_worker_is_killed_after_the_timeout(tmp_path, smollm2):
    # Long enough for a healthy trial on a loaded machine, short enough to keep the test quick.
    code, err, rows = _run_and_signal(tmp_path, signal.SIGSTOP, ("--timeout", "20"))
    assert code == 0, err
    errors = [r for r in rows if r["status"] == "error"]
    assert len(rows) == 3 and len(errors) == 1
    assert "worker hung: no reply within 20 s while generating; worker killed" in errors[0]["error"]
