"""The results database: one object, ``Database``, composed of one mixin per table family.

Every SQL statement of bakeoff lives in this package: a family module (``trials``,
``conversations``, ``judges``, ``ratings``, ``sessions``, ``load``, ``speed``) holds its
tables' reads and writes, ``migrations`` their schema (``docs/schema.sql`` shows it whole).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.store.conversations import ConversationTables
from bakeoff.store.judges import JudgeTables
from bakeoff.store.load import LoadTables
from bakeoff.store.migrations import migrate
from bakeoff.store.ratings import RatingTables
from bakeoff.store.sessions import SessionTables
from bakeoff.store.speed import SpeedTables
from bakeoff.store.trials import TrialTables

# What a read of a database that is not a readable results database raises (sqlite3's own
# classes, named here so that callers need not import sqlite3).
DatabaseError = sqlite3.DatabaseError
OperationalError = sqlite3.OperationalError


class Database(TrialTables, ConversationTables, JudgeTables, RatingTables, SessionTables, LoadTables,
               SpeedTables):
    """An open results database (created and migrated to the current schema if need be); its
    reads and writes are the table families' methods."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError(f"no results database at {self.path} (run `bakeoff run` first, or pass --db)")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a bakeoff results database ({exc})") from None

    @classmethod
    def read_only(cls, path: str | Path) -> "Database":
        """The database at ``path`` opened read-only and as it is: no migrations, so a database
        from an older bakeoff keeps its schema (readers check the columns they need). Raises
        ``DatabaseError`` where the file cannot be opened."""
        db = cls.__new__(cls)
        db.path = Path(path)
        db.conn = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True)
        db.conn.row_factory = sqlite3.Row
        return db

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
