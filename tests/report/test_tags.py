"""`tags:` in a suite file: `run --tag/--skip-tag` choose cases by tag, and the report gives the
pass rate per tag (terminal table and `report --json`), on a real model through the real CLI."""

import json

from conftest import bakeoff, report_json

SUITE = """
cases:
  - id: add
    tags: [math]
    prompt: "What is 2 + 3? Reply with the number only."
    checks: [{contains: "5"}]
  - id: add-more
    tags: [math, slow]
    prompt: "What is 10 + 20? Reply with the number only."
    checks: [{contains: "30"}]
  - id: capital
    tags: [geo]
    prompt: "What is the capital of France? One word."
    checks: [{contains: "Paris"}]
  - id: untagged
    prompt: "Say hello."
    checks: [{contains: "zzz-never"}]
defaults: {max_tokens: 8, temperature: 0}
"""


def test_tags_choose_cases_and_report_pass_rates(tmp_path, qwen05):
    suite = tmp_path / "bakeoff.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "r.db"
    spec = "qwen2.5-coder-0.5b?threads=1"
    proc = bakeoff("run", suite, "-c", spec, "--tag", "math", "--tag", "geo", "--skip-tag", "slow", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "pass rate by tag" in proc.stdout
    data = report_json(db)
    # Only the tagged cases ran, less the one tagged slow.
    assert sorted(c["case_id"] for c in data["cases"]) == ["add", "capital"]
    assert "--tag math --tag geo --skip-tag slow" in data["runs"][0]["suite"]
    by_tag = {r["tag"]: r for r in data["tags"]}
    assert set(by_tag) == {"math", "geo"}
    # Each tag's figure is the pass rate of exactly its cases, read back from the per-case cells.
    cells = {c["case_id"]: c for c in data["cases"]}
    for tag, case_id in (("math", "add"), ("geo", "capital")):
        row = by_tag[tag]
        assert row["spec"] == f"llamacpp:{spec}"
        assert (row["judged"], row["passed"]) == (1, cells[case_id]["passed"])
        assert row["pass_rate"] == cells[case_id]["passed"]
        lo, hi = row["pass_rate_ci"]
        assert lo <= row["pass_rate"] <= hi

    # Adding the rest resumes: the two finished trials are skipped, and the untagged case is in
    # the matrix but in no tag row.
    more = bakeoff("run", suite, "-c", spec, "--db", db, "--json")
    assert more.returncode == 0, more.stderr
    assert (json.loads(more.stdout)["run"]["ran"], json.loads(more.stdout)["run"]["skipped"]) == (2, 2)
    by_tag = {r["tag"]: r for r in report_json(db)["tags"]}
    assert by_tag["math"]["judged"] == 2 and set(by_tag) == {"math", "geo", "slow"}


def test_unknown_tag_is_a_clear_error(tmp_path):
    suite = tmp_path / "bakeoff.yaml"
    suite.write_text(SUITE)
    proc = bakeoff("run", suite, "-c", "smollm2-135m", "--tag", "maths", "--db", tmp_path / "r.db")
    assert proc.returncode == 2
    assert "no case is tagged 'maths'" in proc.stderr and "geo, math, slow" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = bakeoff("run", suite, "-c", "smollm2-135m", "--tag", "slow", "--skip-tag", "math", "--db", tmp_path / "r.db")
    assert proc.returncode == 2 and "no case left to run" in proc.stderr
