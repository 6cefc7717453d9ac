"""A run killed with SIGKILL in the middle resumes: every trial finished exactly once."""

import signal
import sqlite3
import subprocess
import sys

import psutil

from conftest import bakeoff, finished_trials, trial_rows, wait_for, worker_processes, write_suite


def test_sigkill_mid_run_then_resume(tmp_path, smollm2):
    suite = write_suite(tmp_path / "s.yaml", cases=12, max_tokens=48)
    db = tmp_path / "k.db"
    args = [sys.executable, "-m", "bakeoff", "run", str(suite), "-c", "smollm2-135m?threads=1", "--db", str(db)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: finished_trials(db) >= 3, timeout=180, what="3 finished trials")
        workers = worker_processes(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = len(trial_rows(db))
    assert done_before < 12, "the run finished before it could be killed; make it longer"
    # The worker dies with its parent (no orphan keeps the model in memory).
    wait_for(lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers),
             timeout=10, what="the orphaned worker to exit")

    again = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--db", db)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {done_before} of 12" in again.stderr

    rows = trial_rows(db)
    case_ids = sorted(r["case_id"] for r in rows)
    assert case_ids == sorted(f"add-{i}" for i in range(12))  # each case exactly once
    assert all(r["status"] == "ok" for r in rows)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["running", "completed"]  # the killed run never got to close its record


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path, smollm2):
    suite = write_suite(tmp_path / "s.yaml", cases=10, max_tokens=48)
    db = tmp_path / "i.db"
    args = [sys.executable, "-m", "bakeoff", "run", str(suite), "-c", "smollm2-135m?threads=1", "--db", str(db)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: finished_trials(db) >= 2, timeout=180, what="2 finished trials")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted: finished trials are saved" in err and "Traceback" not in err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    kept = len(trial_rows(db))
    assert 2 <= kept < 10
    assert worker_processes(proc.pid) == []

    again = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--db", db)
    assert again.returncode == 0, again.stderr
    assert sorted(r["case_id"] for r in trial_rows(db)) == sorted(f"add-{i}" for i in range(10))
