"""Runs, contenders, trials and their check results (tables ``runs``, ``contenders``, ``trials``,
``check_results``; migration m001 and the columns later ones added to ``trials``).

The reads near the end serve `bakeoff cost` and `bakeoff fit`'s measured figures: they run on a
database opened read-only (``Database.read_only``), which may predate later migrations.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from bakeoff.store.table import Tables, json_columns, to_json


class TrialTables(Tables):
    # --- runs and contenders --------------------------------------------------------------

    def start_run(self, run_id: str, started_at: str, suite: str | None, argv: list[str],
                  version: str, environment: dict) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO runs (id, started_at, status, suite, argv, bakeoff_version, environment)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (run_id, started_at, suite, to_json(argv), version, to_json(environment)),
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
                (run_id, spec.canonical, spec.backend, spec.model, to_json(spec.options), model_path,
                 sha256, to_json(facts), to_json(load), to_json(notes), error),
            )

    def runs(self) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM runs ORDER BY started_at"))

    def contenders(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT c.* FROM contenders c JOIN runs r ON r.id = c.run_id ORDER BY r.started_at"))

    # --- trials -------------------------------------------------------------------------

    def finished_trial_ids(self, statuses: tuple[str, ...] = ("ok", "error")) -> set[str]:
        marks = ",".join("?" * len(statuses))
        return {r[0] for r in self.conn.execute(f"SELECT id FROM trials WHERE status IN ({marks})", statuses)}

    def delete_trials(self, ids: list[str]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM trials WHERE id = ?", [(i,) for i in ids])

    def record_trial(self, row: dict[str, Any], checks: list[dict[str, Any]]) -> None:
        """One transaction per finished trial, so an interruption loses at most the trial in flight."""
        json_columns(row)
        with self.conn:
            self._insert("trials", row)
            self._insert_checks(row["id"], checks)

    def trials(self, run_id: str | None = None) -> list[sqlite3.Row]:
        return self.rows_for_run("SELECT * FROM trials", run_id, "run_id", "started_at")

    def trial(self, trial_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()

    def ok_trials_of(self, spec: str) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT id, case_id, repeat, sweep, case_json, output, started_at FROM trials"
            " WHERE spec = ? AND status = 'ok' ORDER BY started_at", (spec,)))

    def specs_with_ok_trials(self) -> list[str]:
        """Every contender spec with at least one finished (ok) trial, sorted."""
        return sorted({r["spec"] for r in self.conn.execute("SELECT DISTINCT spec FROM trials WHERE status = 'ok'")})

    # --- check results ----------------------------------------------------------------------

    def check_results(self, trial_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM check_results WHERE trial_id = ? ORDER BY idx", (trial_id,)))

    def check_results_by_trial(self, trial_ids: set[str] | None = None) -> dict[str, list[dict]]:
        """Every check result, grouped by trial, in check order (one query, not one per trial)."""
        out: dict[str, list[dict]] = defaultdict(list)
        for r in self.conn.execute("SELECT * FROM check_results ORDER BY trial_id, idx"):
            if trial_ids is None or r["trial_id"] in trial_ids:
                out[r["trial_id"]].append({"kind": r["kind"], "passed": bool(r["passed"]), "score": r["score"],
                                           "weight": r["weight"], "detail": r["detail"]})
        return out

    # --- reads for cost and estimates (a read-only database of any age) ----------------------

    def trial_columns(self) -> set[str]:
        """The columns ``trials`` has in this database (an old one lacks later migrations')."""
        return {r["name"] for r in self.conn.execute("PRAGMA table_info(trials)")}

    def ok_trial_usage(self, columns: tuple[str, ...], run_id: str | None = None) -> list[sqlite3.Row]:
        """``columns`` of the successful trials that generated tokens in measurable time, by spec."""
        where = "status = 'ok' AND output_tokens > 0 AND e2e_ms > 0" + (" AND run_id = ?" if run_id else "")
        return self.conn.execute(f"SELECT {', '.join(columns)} FROM trials WHERE {where} ORDER BY spec",
                                 (run_id,) if run_id else ()).fetchall()

    def contender_facts(self, run_id: str | None = None) -> list[sqlite3.Row]:
        """(spec, facts) of every contender loaded (of one run), in the order they were stored."""
        return self.conn.execute("SELECT spec, facts FROM contenders" + (" WHERE run_id = ?" if run_id else "") +
                                 " ORDER BY rowid", (run_id,) if run_id else ()).fetchall()

    def contenders_of_model(self, model_path: str, sha256: str) -> list[sqlite3.Row]:
        """Contenders that loaded without error the model at ``model_path`` or with this sha256,
        with their run's environment."""
        return self.conn.execute(
            "SELECT c.run_id, c.spec, c.options, c.facts, c.load, c.model_path, r.environment "
            "FROM contenders c LEFT JOIN runs r ON r.id = c.run_id "
            "WHERE c.error IS NULL AND (c.model_path = ? OR (c.model_sha256 IS NOT NULL AND c.model_sha256 = ?))",
            (model_path, sha256)).fetchall()

    def ok_trial_figures(self, spec: str, run_ids: set[str]) -> list[sqlite3.Row]:
        """Decode speed, peak memory and token counts of ``spec``'s successful trials in these runs."""
        marks = ",".join("?" * len(run_ids))
        return self.conn.execute(
            f"SELECT decode_tps, peak_mem_mb, prompt_tokens, output_tokens FROM trials "
            f"WHERE spec = ? AND status = 'ok' AND run_id IN ({marks})", (spec, *run_ids)).fetchall()
