"""bakeoff.report.matrix on the real bake-off database (tests/report_db.py): one row per
contender and per (case, contender) whose counts are the stored trials', and the CSV and
Markdown forms of the matrix (cells formatted, a ``|`` in a name escaped)."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from bakeoff.report.matrix import case_rows, contender_rows, fmt, to_csv, to_markdown
from bakeoff.store import Database
from report_db import SPECS, real_db


@pytest.fixture(scope="module")
def db_path(tmp_path_factory, smollm2):
    return real_db(tmp_path_factory)


def _stored(db_path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return list(conn.execute(sql))


def test_contender_and_case_rows_count_the_stored_trials(db_path):
    db = Database(db_path)
    try:
        rows, cases = contender_rows(db), case_rows(db)
    finally:
        db.close()
    stored = dict(_stored(db_path, "SELECT spec, COUNT(*) FROM trials GROUP BY spec"))
    assert {r["spec"]: r["trials"] for r in rows} == stored and set(stored) == set(SPECS)
    for r in rows:
        assert r["runs_in"] == "in-process" and len(r["model_sha256"]) == 64
        low, high = r["pass_rate_ci"]
        assert low <= r["pass_rate"] <= high
        assert r["energy_label"] == "estimated" and r["cost_per_mtok"]["value"] > 0
    per_case = {(spec, case): (judged, passed) for spec, case, judged, passed in _stored(
        db_path, "SELECT spec, case_id, COUNT(passed), SUM(passed) FROM trials WHERE status = 'ok' GROUP BY 1, 2")}
    assert {(c["spec"], c["case_id"]): (c["judged"], c["passed"]) for c in cases} == per_case
    assert all(c["output"] is not None for c in cases)


def test_csv_and_markdown_forms_of_the_matrix(db_path):
    db = Database(db_path)
    try:
        rows = contender_rows(db)
    finally:
        db.close()
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [p["spec"] for p in parsed] == [r["spec"] for r in rows]
    low, high = rows[0]["pass_rate_ci"]
    assert parsed[0]["pass_rate_ci"] == f"{low:.4f}-{high:.4f}"
    piped = [{**rows[0], "spec": "a|b", "ttft_ms_median": None}]
    md = to_markdown(piped, warnings=["run r1: unconfined"])
    assert md.startswith("> **Warning:** run r1: unconfined\n\n| contender |")
    assert "| a\\|b |" in md and "| – |" in md  # the pipe escaped, a missing figure as a dash


def test_fmt_styles():
    assert [fmt(0.456, "pct"), fmt((0.1, 0.25), "ci"), fmt(12.6, "f0"), fmt(3.14159, "f2"), fmt(None, "f1"),
            fmt(7, None)] == ["46%", "10–25%", "13", "3.14", "–", "7"]
