"""Exports for CI (`report --junit`, `--markdown`, `--csv`) and the gates of `bakeoff run`
(`--fail-under`, `--max-ttft-ms`, `--max-e2e-ms`), through the real CLI on a real bake-off."""

import json
import math
import xml.etree.ElementTree as ET

import pytest

from conftest import bakeoff, report_json, trial_rows
from report_db import CONTENDER, SPECS, SWEEP, add_hostile_trials, copy_db, real_db, suite_path

pytestmark = pytest.mark.slow  # a real bake-off (smollm2-135m) is built for these tests


def test_junit_xml_parses_and_counts_right(tmp_path_factory, tmp_path, smollm2):
    db = copy_db(real_db(tmp_path_factory), tmp_path / "j.db")
    add_hostile_trials(db)  # adds error trials and control characters' worth of hostile text
    out = tmp_path / "junit.xml"
    proc = bakeoff("report", "--db", db, "--junit", out)
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(out).getroot()
    rows = trial_rows(db)
    assert root.tag == "testsuites" and int(root.get("tests")) == len(rows)
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(SPECS) <= set(suites)
    totals = {"failures": 0, "errors": 0}
    for spec, suite in suites.items():
        trials = [r for r in rows if r["spec"] == spec]
        cases = suite.findall("testcase")
        failures = [c for c in cases if c.find("failure") is not None]
        errors = [c for c in cases if c.find("error") is not None]
        assert int(suite.get("tests")) == len(cases) == len(trials)
        assert int(suite.get("failures")) == len(failures) == sum(r["status"] == "ok" and r["passed"] == 0 for r in trials)
        assert int(suite.get("errors")) == len(errors) == sum(r["status"] != "ok" for r in trials)
        totals["failures"] += len(failures)
        totals["errors"] += len(errors)
    assert int(root.get("failures")) == totals["failures"] and int(root.get("errors")) == totals["errors"] == 2
    # A case that can never pass: a failure per repeat, with the check's own detail.
    real = suites[SPECS[0]]
    never = [c for c in real.findall("testcase") if c.get("name").startswith("never")]
    assert sorted(c.get("name") for c in never) == ["never [repeat 0]", "never [repeat 1]"]
    for c in never:
        failure = c.find("failure")
        assert "1 of 1 checks failed" in failure.get("message")
        assert "FAIL contains" in failure.text and "zqxjv-never-said" in failure.text
        assert c.find("system-out") is not None and float(c.get("time")) > 0


def test_markdown_and_csv_exports(tmp_path_factory, smollm2):
    db = real_db(tmp_path_factory)
    md = bakeoff("report", "--db", db, "--markdown", check=True).stdout
    assert md.startswith("| contender |") and all(spec in md for spec in SPECS)
    csv = bakeoff("report", "--db", db, "--csv", check=True).stdout.splitlines()
    assert csv[0].startswith("spec,trials,pass_rate") and len(csv) == 1 + len(SPECS)


def test_gates_exit_1_with_a_summary_after_the_run_is_stored(tmp_path_factory, tmp_path, smollm2):
    db = copy_db(real_db(tmp_path_factory), tmp_path / "g.db")
    suite = suite_path(tmp_path_factory)
    rates = sorted(c["pass_rate"] for c in report_json(db)["contenders"])
    run = ("run", suite, "-c", CONTENDER, "--sweep", SWEEP, "--repeat", "2", "--db", db)

    # The same plan again: every trial is already stored, and the gates read them all.
    fail = bakeoff(*run, "--fail-under", f"{rates[-1] + 0.01:.4f}")
    assert fail.returncode == 1, fail.stderr
    assert "0 trials run, 12 already done" in fail.stderr
    assert "gates FAILED" in fail.stderr and "failing: never" in fail.stderr
    assert "comparison matrix" in fail.stdout            # the usual report comes first
    summary = fail.stderr[fail.stderr.index("gates FAILED"):]
    assert len(summary.splitlines()) <= 25

    met = bakeoff(*run, "--fail-under", f"{math.floor(rates[0] * 1e6) / 1e6}", "--max-ttft-ms", "10000000")
    assert met.returncode == 0, met.stderr
    assert "gates met by all 2 contenders" in met.stderr

    slow = bakeoff(*run, "--max-e2e-ms", "1", "--json")
    assert slow.returncode == 1
    gates = json.loads(slow.stdout)["gates"]
    assert gates["passed"] is False and {s["figure"] for s in gates["shortfalls"]} == {"e2e_ms_median"}
    assert all(s["value"] > 1 for s in gates["shortfalls"])

    bad = bakeoff(*run, "--fail-under", "high")
    assert bad.returncode == 2 and "--fail-under" in bad.stderr


def test_gate_on_a_fresh_run_stores_the_trials_first(tmp_path, smollm2):
    suite = tmp_path / "s.yaml"
    suite.write_text("defaults: {max_tokens: 4, temperature: 0}\ncases:\n"
                     "  - id: never\n    prompt: 'Name a colour.'\n    checks: [{contains: zqxjv-never-said}]\n")
    db = tmp_path / "fresh.db"
    proc = bakeoff("run", suite, "-c", CONTENDER, "--db", db, "--fail-under", "1")
    assert proc.returncode == 1 and "pass rate 0% (0 of 1; 95% CI 0–79%) < 100%; failing: never" in proc.stderr
    assert len(trial_rows(db)) == 1
