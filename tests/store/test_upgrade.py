"""A database made by bakeoff's first store (migration m001_initial only; the fixture
tests/fixtures/results-m001.sql, written by that version's code) opens with today's store: every
later migration applies, the old rows read back, and `bakeoff report --json` works on it."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import report_json
from first_store import RUN, SPEC, applied_migrations, first_store_database

from bakeoff.store import Database
from bakeoff.store.migrations import MIGRATIONS


@pytest.fixture
def old_db(tmp_path):
    return first_store_database(tmp_path / "old.db")


def test_the_fixture_is_a_first_store_database(old_db):
    assert applied_migrations(old_db) == ["m001_initial"]
    conn = sqlite3.connect(old_db)
    try:
        assert "energy_j" not in [r[1] for r in conn.execute("PRAGMA table_info(trials)")]
    finally:
        conn.close()


def test_an_old_database_is_upgraded_and_reads_back(old_db):
    db = Database(old_db)
    try:
        applied = [r[0] for r in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
        assert applied == [name for name, _ in MIGRATIONS]
        (run,) = db.runs()
        assert (run["id"], run["status"], run["suite"]) == (RUN, "completed", "default")
        assert json.loads(run["environment"])["host"] == "laptop"
        contenders = {c["spec"]: c for c in db.contenders()}
        assert set(contenders) == {SPEC, "llamacpp:missing-model"}
        assert contenders["llamacpp:missing-model"]["error"] == "no model file named missing-model"
        assert json.loads(contenders[SPEC]["facts"])["quant"] == "Q4_1"
        trials = db.trials(RUN)
        assert [(t["spec"], t["case_id"], t["status"], t["passed"]) for t in trials] == [
            ("llamacpp:missing-model", "code-add", "error", None),
            (SPEC, "code-add", "ok", 1),
            (SPEC, "code-is-even", "ok", 0)]
        ok = trials[1]
        assert (ok["output_tokens"], ok["decode_tps"], ok["peak_mem_mb"]) == (19, 52.3, 131.6)
        # columns of later migrations are there, empty
        assert ok["energy_j"] is None and ok["tags"] is None and ok["cache_label"] is None
        checks = db.check_results_by_trial({ok["id"]})[ok["id"]]
        assert [(c["kind"], c["passed"]) for c in checks] == [("regex", True), ("regex", True)]
        assert db.finished_trial_ids() == {t["id"] for t in trials}
        assert db.specs_with_ok_trials() == [SPEC]
        assert db.turns() == [] and db.load_results() == [] and db.speed_results() == []
        assert db.all_sessions() == [] and db.ratings() == [] and db.judgements() == []
    finally:
        db.close()


def test_report_json_on_an_old_database(old_db):
    data = report_json(old_db)
    rows = {c["spec"]: c for c in data["contenders"]}
    assert rows[SPEC]["trials"] == 2 and rows[SPEC]["passed"] == 1 and rows[SPEC]["errors"] == 0
    assert rows[SPEC]["decode_tps_median"] == pytest.approx(51.8)
    assert rows["llamacpp:missing-model"]["errors"] == 1
    assert [r["id"] for r in data["runs"]] == [RUN]
