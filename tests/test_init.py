"""`bakeoff init`: the starter suite validates and runs as written, with no edits, on the packaged
models this machine has (a first-time user's path), and never overwrites a user's files."""

import json

from conftest import bakeoff, report_json


def test_init_then_run_with_no_edits(tmp_path, smollm2, qwen05):
    proc = bakeoff("init", "starter", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    suite = tmp_path / "starter" / "bakeoff.yaml"
    assert suite.is_file() and (tmp_path / "starter" / "startchecks.py").is_file()
    assert "next: bakeoff run" in proc.stdout

    validate = bakeoff("validate", suite)
    assert validate.returncode == 0, validate.stderr
    assert "2 contenders, 10 cases" in validate.stdout

    db = tmp_path / "starter.db"
    run = bakeoff("run", suite, "--db", db, "--json", cwd=tmp_path / "starter", timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)["run"]
    assert summary["ran"] == 20 and summary["errors"] == 0
    data = report_json(db)
    assert [c["spec"] for c in data["contenders"]] == [
        "llamacpp:qwen2.5-coder-0.5b?threads=2", "llamacpp:smollm2-135m?threads=2"]
    # Every case has a verdict (the judge and the user's own python check included), and the
    # coder model gets the plain ones right.
    cells = {(c["case_id"], c["spec"]): c for c in data["cases"]}
    assert all(c["judged"] == 1 for c in cells.values()), [k for k, c in cells.items() if c["judged"] != 1]
    qwen = "llamacpp:qwen2.5-coder-0.5b?threads=2"
    assert all(cells[(case, qwen)]["passed"] == 1 for case in ("capital", "add-function", "add-runs"))
    assert {r["tag"] for r in data["tags"]} >= {"facts", "code", "json", "tools", "judged"}


def test_init_never_overwrites(tmp_path, smollm2):
    (tmp_path / "bakeoff.yaml").write_text("cases: []\n")
    proc = bakeoff("init", cwd=tmp_path)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--force" in proc.stderr
    assert (tmp_path / "bakeoff.yaml").read_text() == "cases: []\n"
    assert bakeoff("init", "--force", cwd=tmp_path).returncode == 0
    assert "contenders:" in (tmp_path / "bakeoff.yaml").read_text()
