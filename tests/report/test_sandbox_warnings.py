"""bakeoff.report.sandbox: a run whose model-written code ran unconfined is named in a warning,
in the terminal and in Markdown; confined runs and other runs than the one reported are not."""

from __future__ import annotations

import io

from rich.console import Console

from bakeoff.report.sandbox import markdown_warnings, print_warnings, sandbox_warnings

RUNS = [
    {"id": "r1", "environment": {"sandbox": {"tier": "rlimits", "unconfined": True}}},
    {"id": "r2", "environment": {"sandbox": {"tier": "bubblewrap", "unconfined": False}}},
    {"id": "r3", "environment": {}},
    {"id": "r4", "environment": None},
]


def test_only_unconfined_runs_are_warned_about():
    (line,) = sandbox_warnings(RUNS)
    assert line.startswith("run r1: model-written code ran UNCONFINED (sandbox: rlimits")
    assert "--allow-unconfined-code" in line
    assert sandbox_warnings(RUNS, run_id="r2") == []  # the report of another run says nothing
    assert sandbox_warnings(RUNS, run_id="r1") == [line]


def test_warnings_in_the_terminal_and_in_markdown():
    lines = sandbox_warnings(RUNS)
    out = io.StringIO()
    print_warnings({"warnings": lines}, Console(file=out, width=300))
    assert out.getvalue().startswith("warning: run r1: model-written code ran UNCONFINED")
    assert markdown_warnings(lines) == f"> **Warning:** {lines[0]}\n\n"
    assert markdown_warnings([]) == ""
