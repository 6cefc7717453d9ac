"""What the report and the viewer add on top of ``Database``: a database whose trials are read once."""

from __future__ import annotations

import sqlite3

from bakeoff.store.db import Database


class TrialsOnce:
    """A Database whose ``trials(run_id)`` is read from SQLite once.

    A report is several views of the same trials (matrix, variants, cases, flaky cases,
    side by side); on a 10,000-trial database each read costs ~0.1 s. Everything else is the
    wrapped database's own.
    """

    def __init__(self, db: Database):
        self._db = db
        self._trials: dict[str | None, list[sqlite3.Row]] = {}

    def trials(self, run_id: str | None = None) -> list[sqlite3.Row]:
        if run_id not in self._trials:
            self._trials[run_id] = self._db.trials(run_id)
        return self._trials[run_id]

    def __getattr__(self, name):
        return getattr(self._db, name)

    @classmethod
    def wrap(cls, db) -> "TrialsOnce":
        return db if isinstance(db, cls) else cls(db)
