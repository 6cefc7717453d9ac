"""Blind A/B ratings (table ``ratings``, migration m005): written by `bakeoff view`, read by the reports."""

from __future__ import annotations

import datetime as dt

from bakeoff.store.table import Tables

VERDICTS = ("a", "b", "tie", "both_bad")


class RatingTables(Tables):
    def record_rating(self, case_id: str, trial_a: str, spec_a: str, trial_b: str, spec_b: str,
                      verdict: str, rater: str | None = None) -> int:
        """Store one verdict on a pair shown as (A, B); returns the rating's id."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        winner = spec_a if verdict == "a" else spec_b if verdict == "b" else None
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO ratings (case_id, trial_a, trial_b, spec_a, spec_b, swapped, verdict, winner_spec,"
                " rater, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, trial_a, trial_b, spec_a, spec_b, int(spec_a > spec_b), verdict, winner, rater, now))
        return int(cur.lastrowid)

    def ratings(self, trial_ids: set[str] | None = None) -> list[dict]:
        """All ratings, oldest first; with ``trial_ids``, only those whose two trials are among them."""
        rows = [dict(r) for r in self.conn.execute("SELECT * FROM ratings ORDER BY id")]
        if trial_ids is not None:
            rows = [r for r in rows if r["trial_a"] in trial_ids and r["trial_b"] in trial_ids]
        return rows

    def rating(self, rating_id: int) -> dict | None:
        row = self.conn.execute("SELECT * FROM ratings WHERE id = ?", (rating_id,)).fetchone()
        return dict(row) if row else None
