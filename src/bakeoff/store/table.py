"""What every table family of the store shares: the connection, JSON columns, inserting a row
given as a dict, and restricting a query to one run.

Each family (``trials``, ``conversations``, ``judges``, ...) is a mixin of :class:`Tables`;
``bakeoff.store.db.Database`` composes them, so callers hold one object.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def json_columns(row: dict[str, Any], keys: tuple[str, ...] = ("sweep", "case_json", "request")) -> dict[str, Any]:
    """``row`` with each of ``keys`` that is not text yet stored as JSON (in place, and returned)."""
    for key in keys:
        if key in row and not isinstance(row[key], str):
            row[key] = to_json(row[key])
    return row


class Tables:
    conn: sqlite3.Connection
    path: Path

    def _insert(self, table: str, row: dict[str, Any], verb: str = "INSERT") -> sqlite3.Cursor:
        """One row, its columns named by ``row``'s keys (the caller holds the transaction)."""
        return self.conn.execute(f"{verb} INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                 tuple(row.values()))

    def _insert_checks(self, trial_id: str, checks: list[dict[str, Any]]) -> None:
        self.conn.executemany(
            "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(trial_id, i, c["kind"], int(c["passed"]), c["score"], c["weight"], c["detail"])
             for i, c in enumerate(checks)],
        )

    def rows_for_run(self, sql: str, run_id: str | None, column: str, order: str) -> list[sqlite3.Row]:
        """``sql`` restricted to one run's rows when ``run_id`` is given, in ``order``."""
        where, args = (f" WHERE {column} = ?", (run_id,)) if run_id else ("", ())
        return list(self.conn.execute(f"{sql}{where} ORDER BY {order}", args))
