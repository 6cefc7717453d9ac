"""bakeoff repo end to end with a real model (SmolLM2-135M, small contexts) on a repository the
test writes, stored in a database like any run; and the report's repository figures checked
against their definitions (seeded-defect recall, false positives against the baseline review)."""

from __future__ import annotations

import json

import pytest

from bakeoff.checks import build_check
from bakeoff.checks.repo import set_scores
from bakeoff.report.repo import repo_figures
from bakeoff.suite.schema import Case
from conftest import bakeoff, report_json, trial_rows
from repo_fixtures import mixed_repo


@pytest.mark.slow
def test_repo_run_is_stored_reported_and_resumed(tmp_path, smollm2):
    root = mixed_repo(tmp_path / "app", git=True)
    db = tmp_path / "r.db"
    args = ["repo", root, "-c", "smollm2-135m?ctx=2048&threads=1", "--questions", "2", "--defects", "1",
            "--depths", "1k", "--pack-tokens", "1024", "--seed", "3", "--db", db]
    proc = bakeoff(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["run"]["ran"] == 2 + 2 + 3 and out["run"]["errors"] == 0  # questions, review + baseline, depth
    rows = trial_rows(db)
    ids = sorted(r["case_id"] for r in rows)
    assert ids[:1] == ["repo/baseline"] and "repo/review" in ids
    assert sum(i.startswith("repo/depth/1024/") for i in ids) == 3
    report = report_json(db)
    figures = report["contenders"][0]["repo"]
    for key in ("comprehension_precision", "comprehension_recall", "defect_recall", "false_positives", "depth_accuracy"):
        assert key in figures
    # The report recomputes each figure from the stored answers and checks: the same as scoring them here.
    qs = [r for r in rows if r["case_id"].startswith("repo/q/")]
    scores = [set_scores(r["output"], *(lambda p: (p["expected"], p["match"]))(
        json.loads(r["case_json"])["checks"][0]["params"]))[:2] for r in qs]
    assert figures["comprehension_precision"] == pytest.approx(sum(s[0] for s in scores) / 2)
    assert figures["comprehension_recall"] == pytest.approx(sum(s[1] for s in scores) / 2)
    assert figures["seeded_defects"] == 1 and figures["defect_recall"] in (0.0, 1.0)
    assert list(figures["depth_accuracy"]) == ["1024"] and 0 <= figures["depth_accuracy"]["1024"] <= 1
    again = bakeoff(*args)  # resume: every trial is already in the database
    assert again.returncode == 0 and "7 already done" in again.stderr, again.stderr
    shown = bakeoff("report", "--db", db)
    assert "repository suite" in shown.stdout and "smollm2" in shown.stdout


def _trial(case: Case, output: str, spec: str = "llamacpp:m") -> dict:
    return {"spec": spec, "case_id": case.id, "case_json": json.dumps(case.identity()), "status": "ok",
            "output": output}


def test_false_positives_are_counted_against_the_baseline_review():
    seeded = [{"file": "shop/pricing.py", "lines": [5], "kind": "off_by_one"},
              {"file": "app/models/user.rb", "lines": [9], "kind": "needless_retry"}]
    review = Case(id="repo/review", messages=[{"role": "user", "content": "r"}],
                  checks=[build_check({"review": {"seeded": seeded, "tolerance": 3}})])
    baseline = Case(id="repo/baseline", messages=[{"role": "user", "content": "b"}])
    question = Case(id="repo/q/x", messages=[{"role": "user", "content": "q"}],
                    checks=[build_check({"answer_set": {"expected": ["a.py", "b.py"], "match": "path"}})])
    found = json.dumps([
        {"file": "./shop/pricing.py", "line": 7, "kind": "off-by-one", "explanation": "<= should be <"},  # seeded
        {"file": "shop/billing.py", "line": 20, "kind": "swallowed_exception", "explanation": "also in baseline"},
        {"file": "src/index.ts", "line": 3, "kind": "dead_code", "explanation": "new, not seeded"},
    ])
    before = json.dumps([{"file": "shop/billing.py", "line": 19, "kind": "swallowed_exception", "explanation": "x"}])
    figures = repo_figures([_trial(review, f"Here is my review:\n```json\n{found}\n```"), _trial(baseline, before),
                            _trial(question, '["a.py", "c.py"]')])["llamacpp:m"]
    assert figures["seeded_defects"] == 2 and figures["defects_found"] == 1 and figures["defect_recall"] == 0.5
    assert figures["false_positives"] == 1 and figures["findings_also_in_baseline"] == 1
    assert figures["comprehension_precision"] == 0.5 and figures["comprehension_recall"] == 0.5
    far = json.dumps([{"file": "shop/pricing.py", "line": 12, "kind": "off_by_one"}])  # 7 lines away: no match
    assert repo_figures([_trial(review, far)])["llamacpp:m"]["defects_found"] == 0


def test_list_questions_shows_keys_and_dropped_counts_without_a_model(tmp_path):
    root = mixed_repo(tmp_path / "app")
    proc = bakeoff("repo", root, "--list-questions", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    by_id = {q["id"]: q for q in listing["questions"]}
    assert by_id["workers"]["key"] and by_id["workers"]["text"].startswith("Which job")
    assert set(listing["per_kind"]) >= {"callers", "defined", "imports", "inherits", "model_users", "workers"}
    for kind, n in listing["per_kind"].items():  # every dropped question is counted under its kind, with a reason
        assert n["dropped"] == sum(n["reasons"].values()) == sum(d["kind"] == kind for d in listing["dropped"])
    text = bakeoff("repo", root, "--list-questions")
    assert text.returncode == 0 and "key: " in text.stdout and "dropped as uncertain" in text.stdout
