"""Queries the report and the viewer need beyond ``Database``'s own (one query each, not one per trial)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

from bakeoff.store.db import Database


def check_results_by_trial(db: Database, trial_ids: set[str] | None = None) -> dict[str, list[dict]]:
    """Every check result, grouped by trial, in check order."""
    out: dict[str, list[dict]] = defaultdict(list)
    for r in db.conn.execute("SELECT * FROM check_results ORDER BY trial_id, idx"):
        if trial_ids is None or r["trial_id"] in trial_ids:
            out[r["trial_id"]].append({"kind": r["kind"], "passed": bool(r["passed"]), "score": r["score"],
                                       "weight": r["weight"], "detail": r["detail"]})
    return out


def speed_results(db: Database, run_id: str | None = None) -> list[dict]:
    """`bakeoff speed` results (one row per contender, test and depth), oldest run first."""
    sql = ("SELECT s.*, r.started_at AS run_started_at FROM speed_results s "
           "LEFT JOIN runs r ON r.id = s.run_id")
    rows = []
    for r in db.rows_for_run(sql, run_id, "s.run_id", "r.started_at, s.spec, s.test, s.depth"):
        row = dict(r)
        for key in ("samples_tps", "samples_ns", "engine_memory"):
            try:
                row[key] = json.loads(row[key]) if row[key] else None
            except (TypeError, ValueError):
                pass
        rows.append(row)
    return rows


def trial(db: Database, trial_id: str) -> sqlite3.Row | None:
    return db.conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()


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
