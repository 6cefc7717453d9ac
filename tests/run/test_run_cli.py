"""`bakeoff run` and `bakeoff report` end to end, on real models, through the real CLI."""

import json
import sqlite3

from conftest import bakeoff, report_json, trial_rows, write_suite


def test_run_then_report_contract_and_resume(tmp_path, smollm2, qwen05):
    suite = write_suite(tmp_path / "bakeoff.yaml", cases=3)
    db = tmp_path / "r.db"
    proc = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "-c", "qwen2.5-coder-0.5b?threads=1", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "comparison matrix" in proc.stdout

    data = report_json(db)
    specs = {c["spec"]: c for c in data["contenders"]}
    assert set(specs) == {"llamacpp:smollm2-135m?threads=1", "llamacpp:qwen2.5-coder-0.5b?threads=1"}
    for c in specs.values():
        for key in ("spec", "trials", "errors", "pass_rate", "pass_rate_ci", "ttft_ms_median",
                    "decode_tps_median", "prefill_tps_median", "peak_mem_mb"):
            assert key in c
        assert c["trials"] == 3 and c["errors"] == 0
        assert 0 <= c["pass_rate"] <= 1
        lo, hi = c["pass_rate_ci"]
        assert lo <= c["pass_rate"] <= hi
        assert c["ttft_ms_median"] > 0 and c["decode_tps_median"] > 0 and c["prefill_tps_median"] > 0
        assert c["peak_mem_mb"] > 50
    # Qwen 0.5B adds small numbers correctly.
    assert specs["llamacpp:qwen2.5-coder-0.5b?threads=1"]["pass_rate"] == 1.0

    rows = trial_rows(db)
    assert len(rows) == 6
    row = next(r for r in rows if r["spec"].startswith("llamacpp:qwen"))
    assert "<|im_start|>user" in row["prompt"]
    assert json.loads(row["request"])["messages"][-1]["role"] == "user"
    assert row["tokens_source"] == "engine" and row["output_tokens"] >= 1

    # The run's environment and the model's hash are stored.
    conn = sqlite3.connect(db)
    env = json.loads(conn.execute("SELECT environment FROM runs").fetchone()[0])
    assert env["hardware"]["cores_logical"] >= 1 and env["versions"]["llama-cpp-python"]
    shas = {r[0]: r[1] for r in conn.execute("SELECT spec, model_sha256 FROM contenders")}
    assert all(len(s) == 64 for s in shas.values())

    # Running again skips every finished trial.
    again = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "-c", "qwen2.5-coder-0.5b?threads=1", "--db", db)
    assert again.returncode == 0
    assert "0 trials run, 6 already done" in again.stderr
    assert len(trial_rows(db)) == 6

    # --repeat 2 adds exactly the second repeat of each trial.
    more = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--repeat", "2", "--db", db, "--json")
    assert more.returncode == 0, more.stderr
    summary = json.loads(more.stdout)["run"]
    assert (summary["ran"], summary["skipped"]) == (3, 3)
    assert len(trial_rows(db)) == 9

    # Exports.
    csv_out = bakeoff("report", "--db", db, "--csv", check=True).stdout
    assert csv_out.splitlines()[0].startswith("spec,trials,pass_rate")
    md = bakeoff("report", "--db", db, "--markdown", check=True).stdout
    assert md.startswith("| contender |")
    cases = bakeoff("report", "--db", db, "--cases", check=True).stdout
    assert "add-0" in cases


def test_suite_contenders_are_used_and_report_on_missing_db_is_exit_2(tmp_path, smollm2):
    suite = write_suite(tmp_path / "s.yaml", cases=1, contenders=["smollm2-135m?threads=1"])
    db = tmp_path / "s.db"
    assert bakeoff("run", suite, "--db", db).returncode == 0
    assert [c["spec"] for c in report_json(db)["contenders"]] == ["llamacpp:smollm2-135m?threads=1"]
    missing = bakeoff("report", "--db", tmp_path / "nope.db")
    assert missing.returncode == 2 and "no results database" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_contender_on_the_command_line_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    proc = bakeoff("run", suite, "-c", "no-such-model-alias", "--db", tmp_path / "x.db")
    assert proc.returncode == 2
    assert "unknown model 'no-such-model-alias'" in proc.stderr
    assert "Traceback" not in proc.stderr
