"""bakeoff.report.sandbox: a run whose model-written code ran unconfined is named in a warning;
confined runs, runs with no sandbox record and other runs than the one reported are not."""

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


def test_no_unconfined_run_no_warning_in_any_format():
    """(A warning's own wording in each format is checked through the CLI in test_sandbox_tiers.py.)"""
    out = io.StringIO()
    print_warnings({"warnings": sandbox_warnings(RUNS[1:])}, Console(file=out, width=300))
    print_warnings({}, Console(file=out))  # a report of an older bakeoff has no warnings key
    assert out.getvalue() == ""
    assert markdown_warnings(sandbox_warnings(RUNS[1:])) == ""
    two = markdown_warnings(["a", "b"])
    assert two == "> **Warning:** a\n\n> **Warning:** b\n\n"  # each its own quoted paragraph
