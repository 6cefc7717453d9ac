"""A database as bakeoff's first store wrote it: tests/fixtures/results-m001.sql (migration
m001_initial only; made by tests/fixtures/make_results_m001.py with that version's code)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "results-m001.sql"
RUN = "20261123T021500Z-4f2a"
SPEC = "llamacpp:smollm2-135m"
MODEL = Path("/home/me/.cache/bakeoff/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def first_store_database(path: Path) -> Path:
    """The fixture loaded into a database file at ``path``."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(FIXTURE.read_text())
    finally:
        conn.close()
    return path


def applied_migrations(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    finally:
        conn.close()
