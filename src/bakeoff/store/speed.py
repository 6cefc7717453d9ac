"""`bakeoff speed` results (table ``speed_results``: m002, with m015's sources): one row per
contender, test and depth."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bakeoff.store.table import Tables


class SpeedTables(Tables):
    def record_speed_result(self, row: dict[str, Any]) -> None:
        """One test's row (its JSON columns already text), replacing an earlier one of the same key."""
        with self.conn:
            self._insert("speed_results", row, "INSERT OR REPLACE")

    def speed_results(self, run_id: str | None = None) -> list[dict]:
        """Every result (of one run, or all), oldest run first, JSON columns read back."""
        sql = ("SELECT s.*, r.started_at AS run_started_at FROM speed_results s "
               "LEFT JOIN runs r ON r.id = s.run_id")
        rows = []
        for r in self.rows_for_run(sql, run_id, "s.run_id", "r.started_at, s.spec, s.test, s.depth"):
            row = dict(r)
            for key in ("samples_tps", "samples_ns", "engine_memory"):
                try:
                    row[key] = json.loads(row[key]) if row[key] else None
                except (TypeError, ValueError):
                    pass
            rows.append(row)
        return rows

    def generation_speed_results(self, model_sha256: str, specs: list[str]) -> list[sqlite3.Row]:
        """The generation (tg) results of this model file, or of these specs, oldest first, with
        their run's environment. Raises sqlite3.OperationalError on a database from before
        `bakeoff speed` existed (no such table)."""
        marks = ",".join("?" * len(specs)) or "NULL"
        return self.conn.execute(
            "SELECT s.spec, s.test, s.n_gen, s.depth, s.ctx, s.threads, s.reps, s.avg_tps, s.stddev_tps, "
            "s.peak_mem_mb, s.engine_memory, r.environment FROM speed_results s LEFT JOIN runs r ON r.id = s.run_id "
            f"WHERE s.test LIKE 'tg%' AND (s.model_sha256 = ? OR s.spec IN ({marks})) ORDER BY s.created_at",
            (model_sha256, *specs)).fetchall()
