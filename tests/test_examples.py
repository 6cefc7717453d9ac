"""The suites under examples/: each validates with `bakeoff validate` as a user would run it, the
quick ones (CI_RUNS) run with the exact command examples/README.md gives (only --db pointed at a
temporary file), and the cloud example without keys stops with a clear message, never a traceback
and never a request. The slower examples (tools, judge, thinking, repo) are validated here and
timed by hand in examples/README.md."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.checks.judge import is_judge_error
from conftest import ROOT, bakeoff, report_json, trial_rows

EXAMPLES = ROOT / "examples"
README = (EXAMPLES / "README.md").read_text()

# name -> (suite file, cases in it)
SUITES = {
    "tools": ("examples/tools/suite.yaml", 3),
    "images": ("examples/images/suite.yaml", 2),
    "conversations": ("examples/conversations/suite.yaml", 2),
    "judge": ("examples/judge/suite.yaml", 2),
    "thinking": ("examples/thinking/suite.yaml", 2),
    "quant": ("examples/quant/suite.yaml", 3),
    "cloud": ("examples/cloud/suite.yaml", 2),
}

# The commands examples/README.md gives, one per example (checked to appear there verbatim).
COMMANDS = {
    "tools": ".venv/bin/bakeoff run examples/tools/suite.yaml --db examples.db",
    "images": (".venv/bin/bakeoff run examples/images/suite.yaml -c "
               "'twin:examples/images/gemma4-tiny.json?mmproj=examples/images/vision-tiny.json&ctx=2048&threads=1' "
               "--sweep visual_budget=70,280 --db examples.db"),
    "conversations": ".venv/bin/bakeoff run examples/conversations/suite.yaml --db examples.db",
    "judge": ".venv/bin/bakeoff run examples/judge/suite.yaml --db examples.db",
    "thinking": ".venv/bin/bakeoff run examples/thinking/suite.yaml --sweep thinking=off,on,32 --db examples.db",
    "quant": ".venv/bin/bakeoff run examples/quant/suite.yaml --sweep quant=Q8_0,Q4_0,Q2_K --db examples.db",
    "repo": (".venv/bin/bakeoff repo examples/repo -c 'smollm2-135m?ctx=2048&threads=1' --questions 3 "
             "--defects 2 --depths 1k --pack-tokens 1024 --seed 1 --db examples.db"),
    "cloud": (".venv/bin/bakeoff run examples/cloud/suite.yaml -c 'smollm2-135m?threads=1' -c openai:gpt-4o-mini "
              "-c anthropic:claude-haiku-4-5 --db examples.db"),
}

# The examples whose command CI runs (about 1-2 minutes together on 2 cores; cloud without keys, so
# only its message); examples/README.md says so.
CI_RUNS = ["images", "conversations", "judge", "quant", "cloud"]

# trials each quick run makes: cases x sweep variants
EXPECTED_TRIALS = {"images": 2 * 2, "conversations": 2, "judge": 2, "quant": 3 * 3}

NO_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def _args(name: str, db: Path) -> list[str]:
    """The README's command for an example, with its database replaced by ``db``."""
    words = shlex.split(COMMANDS[name])
    assert words[0] == ".venv/bin/bakeoff" and words[-2] == "--db"
    return [*words[1:-1], str(db)]


def test_readme_lists_every_example_with_its_command_time_and_ci_status():
    for name, command in COMMANDS.items():
        assert command in README, f"examples/README.md does not give the command for {name}: {command}"
    rows = [line for line in README.splitlines() if line.startswith("| ") and "`" in line]
    for name in COMMANDS:
        [row] = [r for r in rows if r.startswith(f"| {name} ")]
        assert re.search(r"\d+ s\b|\d+ min", row), f"no measured time for {name}: {row}"
        assert ("yes" in row.split("|")[-2]) == (name in CI_RUNS), f"CI column of {name} is wrong: {row}"
    for path, _ in SUITES.values():
        assert (ROOT / path).is_file()
    # The images the images example needs are committed and tiny.
    for image in ("red.png", "bars.png"):
        assert (EXAMPLES / "images" / image).stat().st_size < 2048


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_example_suite_validates(name, tmp_path):
    path, cases = SUITES[name]
    proc = bakeoff("validate", path, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{path}: ok," in proc.stdout and f", {cases} cases" in proc.stdout, proc.stdout


def test_the_repository_example_writes_a_suite_that_validates(tmp_path):
    """`bakeoff repo examples/repo --write` builds the suite the repository example runs (questions
    with known answers, seeded defects, depth cases) without running a model."""
    out = tmp_path / "repo-suite.yaml"
    args = _args("repo", tmp_path / "unused.db")[:-2]
    proc = bakeoff(*args, "--write", out, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "seeded" in proc.stderr + proc.stdout
    proc = bakeoff("validate", out, timeout=120)
    assert proc.returncode == 0 and ", 8 cases" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", [n for n in CI_RUNS if n != "cloud"])
def test_quick_example_runs(name, tmp_path, smollm2):
    db = tmp_path / "examples.db"
    proc = bakeoff(*_args(name, db), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "comparison matrix" in proc.stdout and "Traceback" not in proc.stderr
    rows = trial_rows(db)
    assert len(rows) == EXPECTED_TRIALS[name], [(r["case_id"], r["sweep"]) for r in rows]
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert all(r["output_tokens"] and r["e2e_ms"] > 0 for r in rows)
    report = report_json(db)
    assert all(c["trials"] for c in report["contenders"])
    if name == "images":
        (group,) = report["visual_budgets"]
        tokens = [b["image_tokens_per_image"] for b in group["budgets"]]
        assert [b["visual_budget"] for b in group["budgets"]] == [70, 280] and tokens[0] < tokens[1]
        assert all(r["image_count"] in (1, 2) and r["image_encode_ms"] > 0 for r in rows)
        # A twin's answers are random: no pass rate in the per-variant table either.
        (variants,) = report["variants"]
        assert all(v["pass_rate"] is None and v["quality"] for v in variants["variants"])
        assert "n/a (twin)" in proc.stdout
    if name == "quant":
        (group,) = report["variants"]
        assert [v["sweep"]["quant"] for v in group["variants"]] == ["Q8_0", "Q4_0", "Q2_K"]
        assert group["variants"][0]["file_mb"] > group["variants"][2]["file_mb"]
    if name == "judge":  # both judge checks graded by the packaged judge, its raw replies kept
        conn = sqlite3.connect(db)
        verdicts = list(conn.execute("SELECT passed, detail FROM check_results WHERE kind = 'judge'"))
        replies = conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
        conn.close()
        assert len(verdicts) == 2 and replies == 2, verdicts
        assert all(passed in (0, 1) and not is_judge_error("judge", detail) for passed, detail in verdicts), verdicts
    if name == "conversations":
        conn = sqlite3.connect(db)
        turns = dict(conn.execute("SELECT t.case_id, COUNT(*) FROM turns u JOIN trials t ON t.id = u.trial_id"
                                  " GROUP BY t.case_id"))
        conn.close()
        assert turns == {"refactor-chat": 2, "db-decision": 1 + 4 + 1}  # establish, 4 distractors, ask
        (drift,) = report["drift"]
        assert drift["conversations"] == 2 and drift["probes"]["asks"] == 1
        assert drift["accuracy_by_turn"][0]["checked"] == 2


def test_cloud_example_without_keys_is_a_clear_message(tmp_path):
    db = tmp_path / "examples.db"
    env = {"BAKEOFF_CONFIG": str(tmp_path / "config")}  # no keys.json there
    clean = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    proc = subprocess.run([sys.executable, "-m", "bakeoff", *_args("cloud", db)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**clean, **env})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "openai:gpt-4o-mini needs an API key: set OPENAI_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not db.exists() or not trial_rows(db)  # stopped before any trial
