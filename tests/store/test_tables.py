"""The store is one object made of one module per table family; the reads behind `bakeoff cost`
and `bakeoff fit` open a database read-only and as it is, whatever its age."""

from __future__ import annotations

import pytest
from first_store import MODEL, SPEC, applied_migrations, first_store_database

from bakeoff.estimate.measured import measured_runs, measured_speed
from bakeoff.measure.cost import local_usage_from_db
from bakeoff.store import Database, DatabaseError, OperationalError, ratings, sessions
from bakeoff.store.conversations import ConversationTables
from bakeoff.store.judges import JudgeTables
from bakeoff.store.load import LoadTables
from bakeoff.store.reads import TrialsOnce
from bakeoff.store.speed import SpeedTables
from bakeoff.store.table import Tables, json_columns
from bakeoff.store.trials import TrialTables


@pytest.fixture
def old_db(tmp_path):
    return first_store_database(tmp_path / "old.db")


def test_database_is_every_table_family():
    for family in (TrialTables, ConversationTables, JudgeTables, ratings.RatingTables, sessions.SessionTables,
                   LoadTables, SpeedTables):
        assert issubclass(Database, family) and issubclass(family, Tables)


def test_family_methods_write_and_read_through_one_database(tmp_path):
    """Ratings, sessions and trial reads are methods of the one Database."""
    db = Database(tmp_path / "r.db")
    try:
        rid = db.record_rating("c1", "t1", "x:a", "t2", "x:b", "a")
        assert db.rating(rid)["winner_spec"] == "x:a" and db.ratings() == [db.rating(rid)]
        db.start_session("s1", "run", "x:a", 0, "/repo", {"turns": []}, "2026-12-01T00:00:00")
        assert db.session_row("s1")["status"] == "running"
        assert db.trial("nope") is None and db.check_results_by_trial() == {}
    finally:
        db.close()


def test_a_report_reads_the_trials_once_and_the_rest_from_the_database(old_db):
    """TrialsOnce: the report's views share one read of the trials; every other read is the database's."""
    db = Database(old_db)
    try:
        once = TrialsOnce.wrap(db)
        first = once.trials()
        assert len(first) == 3 and once.trials() is first  # read once, then the same rows
        assert db.trials() is not db.trials()  # the database itself reads each time
        assert once.check_results_by_trial() == db.check_results_by_trial()
        assert TrialsOnce.wrap(once) is once
    finally:
        db.close()


def test_json_columns_serialises_only_what_is_not_text_yet():
    row = {"sweep": {"ctx": 2048}, "case_json": "{}", "request": None, "output": {"kept": 1}}
    assert json_columns(row) is row
    assert row == {"sweep": '{"ctx": 2048}', "case_json": "{}", "request": "null", "output": {"kept": 1}}


def test_read_only_opens_an_old_database_as_it_is(old_db):
    with Database.read_only(old_db) as db:
        assert "energy_j" not in db.trial_columns() and "output_tokens" in db.trial_columns()
        assert [r["spec"] for r in db.contender_facts()] == [SPEC, "llamacpp:missing-model"]
        with pytest.raises(OperationalError, match="no such table: speed_results"):
            db.generation_speed_results("-", [SPEC])
        with pytest.raises(DatabaseError, match="readonly"):
            db.start_run("r2", "2026-12-01", None, [], "0", {})
    assert applied_migrations(old_db) == ["m001_initial"]


def test_cost_and_estimates_read_an_old_database_without_upgrading_it(old_db):
    (usage,) = local_usage_from_db(old_db)
    assert (usage.spec, usage.trials, usage.prompt_tokens, usage.output_tokens) == (SPEC, 2, 77, 39)
    assert usage.seconds == pytest.approx((402.7 + 412.7) / 1000)
    assert usage.energy_label == "unavailable" and "no energy columns" in usage.energy_source
    (run,) = measured_runs(old_db, MODEL)
    assert (run["spec"], run["trials"], run["ctx"], run["threads"]) == (SPEC, 2, 4096, 8)
    assert run["decode_tps_median"] == pytest.approx(51.8) and run["peak_mem_mib_max"] == pytest.approx(132.6)
    assert measured_speed(old_db, MODEL, [SPEC]) == []   # no speed_results table before m002
    assert applied_migrations(old_db) == ["m001_initial"]
