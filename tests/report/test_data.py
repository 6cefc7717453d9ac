"""bakeoff.report.data: every section of the report drawn from the real bake-off database
(tests/report_db.py) in one dict, each section agreeing with what is stored, and ``run_id``
keeping it to one run."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bakeoff.report.data import report_data
from bakeoff.store import Database
from report_db import SPECS, real_db


@pytest.fixture(scope="module")
def db_path(tmp_path_factory, smollm2):
    return real_db(tmp_path_factory)


def _data(db_path, run_id=None) -> dict:
    db = Database(db_path)
    try:
        return report_data(db, run_id)
    finally:
        db.close()


def test_every_section_comes_from_the_stored_trials(db_path):
    data = _data(db_path)
    with sqlite3.connect(db_path) as conn:
        run_ids = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY started_at")]
        trials = conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert data["database"] == str(db_path) and data["warnings"] == []
    assert [r["id"] for r in data["runs"]] == run_ids
    assert sorted(r["spec"] for r in data["contenders"]) == sorted(SPECS)
    assert sum(r["trials"] for r in data["contenders"]) == trials
    assert all("cache" in r and "human" in r for r in data["contenders"])
    assert {c["case_id"] for c in data["cases"]} == {"sum", "hello", "never"}
    assert data["tags"] == [] and data["standard"] == [] and data["sessions"] == []  # none in this suite
    (group,) = data["variants"]  # the temperature sweep
    assert sorted(v["spec"] for v in group["variants"]) == sorted(SPECS)
    json.dumps(data)  # what `report --json` prints: plain JSON


def test_run_id_keeps_the_report_to_that_run(db_path):
    with sqlite3.connect(db_path) as conn:
        run_id, count = conn.execute(
            "SELECT run_id, COUNT(*) FROM trials GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    data = _data(db_path, run_id)
    assert sum(r["trials"] for r in data["contenders"]) == count
    assert _data(db_path, "no-such-run")["contenders"] == []
