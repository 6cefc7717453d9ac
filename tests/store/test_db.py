"""bakeoff.store.db directly: opening a results database the ways the commands do: created and
migrated (run), required to exist (report), read-only and as it is (cost, fit), and a file that is
not a results database refused as bad input."""

from __future__ import annotations

import sqlite3

import pytest

from bakeoff.errors import InputError
from bakeoff.store.db import Database, DatabaseError
from bakeoff.store.migrations import MIGRATIONS


def test_a_new_database_is_created_migrated_and_in_wal_mode(tmp_path):
    path = tmp_path / "new.db"
    with Database(path) as db:
        applied = [r[0] for r in db.conn.execute("SELECT name FROM _migrations ORDER BY name")]
        mode = db.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert applied == sorted(name for name, _ in MIGRATIONS) and len(applied) >= 14
    assert mode == "wal"  # readers (bakeoff view) never block the trial being committed


def test_a_report_on_a_missing_file_says_so_and_creates_nothing(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(InputError, match="no results database at .*missing.db"):
        Database(path, create=False)
    assert not path.exists()


def test_read_only_leaves_an_older_database_as_it_is_and_cannot_write(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE trials (id TEXT PRIMARY KEY)")
    conn.commit()
    conn.close()
    with Database.read_only(path) as db:
        tables = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"trials"}  # no migration ran
        with pytest.raises(DatabaseError):
            db.conn.execute("INSERT INTO trials VALUES ('x')")


def test_a_file_that_is_not_a_database_is_bad_input_naming_it(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(InputError, match="notes.db: not a bakeoff results database"):
        Database(path)
