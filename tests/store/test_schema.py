"""docs/schema.sql is the schema of a fresh database: every migration applied, written out by
``python -m bakeoff.store.schema``; and it builds the same tables as the migrations do."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from conftest import ROOT

from bakeoff.store import Database
from bakeoff.store.migrations import MIGRATIONS, migrate
from bakeoff.store.schema import fresh_schema, history, schema_sql

SCHEMA = ROOT / "docs" / "schema.sql"
REGENERATE = "PYTHONPATH=src python -m bakeoff.store.schema > docs/schema.sql"


def test_schema_file_is_the_schema_of_a_fresh_database():
    assert SCHEMA.read_text() == fresh_schema(), (
        f"docs/schema.sql differs from a fresh database's schema (a migration was added or changed): "
        f"regenerate it with `{REGENERATE}` and check the difference in review")


def test_a_database_opened_by_the_store_has_the_same_schema(tmp_path):
    db = Database(tmp_path / "r.db")
    try:
        assert schema_sql(db.conn) == SCHEMA.read_text()
        assert [r[0] for r in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")] == \
            [name for name, _ in MIGRATIONS]
    finally:
        db.close()


def _shape(conn: sqlite3.Connection) -> dict:
    """Every table's columns (name, type, not null, default, primary key position), foreign keys
    and indexes, as SQLite reports them."""
    out = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        out[table] = {
            "columns": [tuple(r)[1:] for r in conn.execute(f"PRAGMA table_xinfo({table})")],
            "foreign_keys": sorted(tuple(r)[2:] for r in conn.execute(f"PRAGMA foreign_key_list({table})")),
            "indexes": sorted((r[1] if not r[1].startswith("sqlite_") else "auto", r[2], r[3],
                               tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{r[1]}')")))
                              for r in conn.execute(f"PRAGMA index_list({table})")),
        }
    return out


def test_schema_file_builds_the_tables_the_migrations_build():
    """One column per line, comments moved: the file run as SQL still gives every column, type,
    constraint, key and index the migrations give."""
    migrated, from_file = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    migrate(migrated)
    from_file.executescript(SCHEMA.read_text())
    assert _shape(from_file) == _shape(migrated)
    autoincrement = {r[0] for r in from_file.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'")}
    assert autoincrement == {"ratings", "pairwise_judgements"}


def test_the_schema_names_where_each_column_came_from():
    created, rebuilt, added = history()
    assert created["trials"] == "m001_initial" and created["sessions"] == "m014_repo_sessions"
    assert rebuilt == {"load_results": "m015_load_profiles"}
    assert added[("trials", "energy_j")] == "m002_speed_and_energy"
    assert added[("turns", "cold_ttft_ms")] == "m013_prefix_cache"
    assert ("load_results", "level") not in added   # a column of the rebuilt table, not an ALTER
    text = SCHEMA.read_text()
    assert "-- (m002_speed_and_energy) measured | estimated | unavailable" in text
    assert "-- load_results: m004_servers_and_load, rebuilt by m015_load_profiles" in text


def test_the_module_prints_the_schema():
    r = subprocess.run([sys.executable, "-m", "bakeoff.store.schema"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == fresh_schema()
