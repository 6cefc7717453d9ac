"""Each migration runs in one transaction with its _migrations row: one that fails half-way
leaves neither its tables nor its row, and the next open runs it again."""

from __future__ import annotations

import sqlite3

import pytest

from bakeoff.errors import InputError
from bakeoff.store import Database
from bakeoff.store import migrations
from bakeoff.store.migrations import MIGRATIONS, statements


def _state(path) -> tuple[set[str], list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
        return tables, applied
    finally:
        conn.close()


def _columns(path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def m999_half_way(conn) -> None:
    conn.executescript("""
        CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);  -- the first half; a comment; with semicolons
        ALTER TABLE trials ADD COLUMN note_id INTEGER;
        INSERT INTO no_such_table VALUES (1);
    """)


def m999_fixed(conn) -> None:
    conn.executescript("""
        CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);
        ALTER TABLE trials ADD COLUMN note_id INTEGER;
    """)


def test_a_migration_that_fails_half_way_leaves_nothing_and_runs_again(tmp_path, monkeypatch):
    path = tmp_path / "r.db"
    Database(path).close()
    before_tables, before_applied = _state(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_notes", m999_half_way)])
    with pytest.raises(InputError, match="no such table: no_such_table"):
        Database(path)
    tables, applied = _state(path)
    assert tables == before_tables and "notes" not in tables
    assert applied == before_applied and "m999_notes" not in applied
    assert "note_id" not in _columns(path, "trials")
    # the migration, fixed, runs at the next open
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_notes", m999_fixed)])
    db = Database(path)
    db.close()
    tables, applied = _state(path)
    assert "notes" in tables and applied == [*before_applied, "m999_notes"]
    assert "note_id" in _columns(path, "trials")


def test_a_failing_migration_keeps_the_ones_before_it(tmp_path, monkeypatch):
    """A fresh database whose third migration fails keeps the first two, each committed with its row."""
    path = tmp_path / "r.db"

    def m003_breaks(conn) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("the migration's own code failed")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS[:2], ("m003_breaks", m003_breaks), *MIGRATIONS[2:]])
    with pytest.raises(RuntimeError, match="own code failed"):
        Database(path)
    tables, applied = _state(path)
    assert applied == [name for name, _ in MIGRATIONS[:2]]
    assert "half" not in tables and "speed_results" in tables and "load_results" not in tables


def test_a_migration_may_not_commit_on_its_own(tmp_path, monkeypatch):
    def m999_commits(conn) -> None:
        conn.execute("CREATE TABLE committed (x)")
        conn.execute("COMMIT")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_commits", m999_commits)])
    with pytest.raises(RuntimeError, match="m999_commits committed on its own"):
        Database(tmp_path / "r.db")
    assert "m999_commits" not in _state(tmp_path / "r.db")[1]


def test_an_open_after_another_process_migrated_applies_nothing_twice(tmp_path):
    path = tmp_path / "r.db"
    first, second = Database(path), Database(path)
    try:
        assert [r[0] for r in second.conn.execute("SELECT name FROM _migrations ORDER BY rowid")] == \
            [name for name, _ in MIGRATIONS]
        # the store's connection is back to sqlite3's own transactions after migrating
        assert first.conn.isolation_level == "" and not first.conn.in_transaction
    finally:
        first.close()
        second.close()


def test_statements_splits_a_script_where_sqlite_ends_a_statement():
    script = ("CREATE TABLE a (x TEXT DEFAULT 'one; two');  -- a comment; with a semicolon\n"
              "INSERT INTO a VALUES ('three;'); CREATE INDEX a_x ON a(x);\n")
    parts = [" ".join(s.split()) for s in statements(script)]
    assert parts == ["CREATE TABLE a (x TEXT DEFAULT 'one; two');",
                     "-- a comment; with a semicolon INSERT INTO a VALUES ('three;');",
                     "CREATE INDEX a_x ON a(x);"]
