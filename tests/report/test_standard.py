"""bakeoff.report.standard on hand-built runs and trials: per (standard suite, contender) the
measured pass rate with its interval, the published figure only beside the plain packaged model
(not a requantized one), the case selection, the sandbox that ran the code, the run time, and
the lines a run of a standard suite ends with."""

from __future__ import annotations

import io

from rich.console import Console

from bakeoff.report.standard import closing_lines, print_standard, standard_line, standard_rows
from report_rows import trial

PLAIN, REQUANT = "llamacpp:qwen2.5-coder-0.5b", "llamacpp:qwen2.5-coder-0.5b?quant=Q4_0"
RUNS = [
    {"id": "r1", "suite": "std:humaneval --limit 3", "started_at": "2026-01-01T10:00:00+00:00",
     "finished_at": "2026-01-01T10:01:05+00:00"},
    {"id": "r0", "suite": "my-suite.yaml", "started_at": None, "finished_at": None},
]


def _trials():
    ts = [trial(PLAIN, f"HumanEval/{i}", run_id="r1", passed=int(i < 2)) for i in range(3)]
    ts.append(trial(PLAIN, "HumanEval/3", run_id="r1", status="error", passed=None))
    ts += [trial(REQUANT, "HumanEval/0", run_id="r1"), trial(PLAIN, "own", run_id="r0")]
    return ts


def test_rows_put_the_published_figure_beside_the_plain_model_only():
    trials = _trials()
    checks = {trials[0]["id"]: [{"detail": "2 tests passed [sandbox: bubblewrap]"}],
              trials[1]["id"]: [{"detail": "ok [sandbox: bubblewrap]"}]}
    rows = {r["spec"]: r for r in standard_rows(RUNS, trials, checks)}
    assert set(rows) == {PLAIN, REQUANT}  # the trials of my-suite.yaml are no standard suite's
    plain = rows[PLAIN]
    assert plain["suite"] == "std:humaneval" and plain["selection"] == ["--limit 3"]
    assert (plain["trials"], plain["judged"], plain["passed"], plain["errors"]) == (4, 3, 2, 1)
    assert plain["pass_rate"] == 2 / 3 and plain["published"] == 61.6
    assert plain["sandbox"] == {"bubblewrap": 2} and plain["wall_s"] == 65.0
    assert rows[REQUANT]["published"] is None  # a requantized model is not the published one


def test_the_line_and_the_table_say_measured_beside_published():
    rows = standard_rows(RUNS, _trials(), {})
    line = standard_line(next(r for r in rows if r["spec"] == PLAIN))
    assert line.startswith(f"std:humaneval {PLAIN}: 2/3 passed = 66.7% (95% CI ")
    assert "; published 61.6% (Qwen2.5-Coder Technical Report" in line
    assert "; cases chosen by --limit 3" in line and line.endswith("; 1 errors")
    out = io.StringIO()
    print_standard({"standard": rows}, Console(file=out, width=300))
    text = out.getvalue()
    assert "standard suites: measured beside published" in text and "1 min 5 s" in text
    assert "license:" in text


def test_closing_lines_only_for_a_standard_suite_run():
    rows = standard_rows(RUNS, _trials(), {})
    lines = closing_lines({"standard": rows, "runs": RUNS[:1]}, wall_s=12.34)
    assert len(lines) == 3 and lines[-1] == "this run took 12.3 s"
    assert closing_lines({"standard": rows, "runs": RUNS[1:]}, wall_s=5) == []
