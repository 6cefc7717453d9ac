"""Reading and writing the results database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bakeoff.errors import InputError
from bakeoff.store.migrations import migrate


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Database:
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

    def close(self) -> None:
        self.conn.close()

    # --- runs -------------------------------------------------------------------------

    def start_run(self, run_id: str, started_at: str, suite: str | None, argv: list[str],
                  version: str, environment: dict) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO runs (id, started_at, status, suite, argv, bakeoff_version, environment)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (run_id, started_at, suite, _json(argv), version, _json(environment)),
            )

    def finish_run(self, run_id: str, finished_at: str, status: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE runs SET finished_at = ?, status = ? WHERE id = ?",
                              (finished_at, status, run_id))

    def record_contender(self, run_id: str, spec, model_path: str | None, sha256: str | None,
                         facts: dict, load: dict, notes: list[str], error: str | None) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO contenders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, spec.canonical, spec.backend, spec.model, _json(spec.options), model_path,
                 sha256, _json(facts), _json(load), _json(notes), error),
            )

    # --- trials -----------------------------------------------------------------------

    def finished_trial_ids(self, statuses: tuple[str, ...] = ("ok", "error")) -> set[str]:
        marks = ",".join("?" * len(statuses))
        return {r[0] for r in self.conn.execute(f"SELECT id FROM trials WHERE status IN ({marks})", statuses)}

    def delete_trials(self, ids: list[str]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM trials WHERE id = ?", [(i,) for i in ids])

    def record_trial(self, row: dict[str, Any], checks: list[dict[str, Any]]) -> None:
        """One transaction per finished trial, so an interruption loses at most the trial in flight."""
        for key in ("sweep", "case_json", "request"):
            if key in row and not isinstance(row[key], str):
                row[key] = _json(row[key])
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self.conn:
            self.conn.execute(f"INSERT INTO trials ({cols}) VALUES ({marks})", tuple(row.values()))
            self.conn.executemany(
                "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row["id"], i, c["kind"], int(c["passed"]), c["score"], c["weight"], c["detail"])
                 for i, c in enumerate(checks)],
            )

    # --- queries for reports ----------------------------------------------------------

    def trials(self, run_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM trials"
        args: tuple = ()
        if run_id:
            sql += " WHERE run_id = ?"
            args = (run_id,)
        return list(self.conn.execute(sql + " ORDER BY started_at", args))

    def check_results(self, trial_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM check_results WHERE trial_id = ? ORDER BY idx", (trial_id,)))

    def runs(self) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM runs ORDER BY started_at"))

    def contenders(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT c.* FROM contenders c JOIN runs r ON r.id = c.run_id ORDER BY r.started_at"))
