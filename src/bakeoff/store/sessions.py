"""Repository sessions (tables ``sessions`` and ``session_turns``, migration m014): written turn by
turn by bakeoff.run.session, read by bakeoff.report.session."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bakeoff.store.table import Tables

TURN_COLUMNS = ("turn", "kind", "fact", "user", "reply", "answer", "passed", "score", "outcome", "detail",
                "ttft_ms", "e2e_ms", "prompt_tokens", "output_tokens", "engine_prompt_n", "engine_prompt_ms",
                "engine_prefill_tps", "cached_tokens", "cache_label", "cache_warm", "cache_cold", "finish_reason",
                "history_tokens", "dropped_turns", "started_at", "finished_at")


class SessionTables(Tables):
    def session_row(self, session_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()

    def start_session(self, session_id: str, run_id: str, spec: str, repeat: int, repo: str, plan: dict,
                      started_at: str) -> None:
        """A new session row (status running); an existing one is left as it is (resume)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO sessions (id, run_id, spec, repeat, repo, plan, status, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                (session_id, run_id, spec, repeat, repo, json.dumps(plan, sort_keys=True), started_at))

    def record_session_turn(self, session_id: str, turn: dict[str, Any], context_full_turn: int | None = None) -> None:
        """One finished turn in its own transaction: a kill loses at most the turn in flight."""
        row = {c: turn.get(c) for c in TURN_COLUMNS}
        if not isinstance(row["answer"], (str, type(None))):
            row["answer"] = json.dumps(row["answer"])
        with self.conn:
            self._insert("session_turns", {"session_id": session_id, **row}, "INSERT OR REPLACE")
            if context_full_turn is not None:
                self.conn.execute("UPDATE sessions SET context_full_turn = COALESCE(context_full_turn, ?) WHERE id = ?",
                                  (context_full_turn, session_id))

    def finish_session(self, session_id: str, status: str, finished_at: str, error: str | None = None) -> None:
        with self.conn:
            self.conn.execute("UPDATE sessions SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                              (status, error, finished_at, session_id))

    def session_turns(self, session_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM session_turns WHERE session_id = ? ORDER BY turn", (session_id,)))

    def all_sessions(self, run_id: str | None = None) -> list[sqlite3.Row]:
        """Every session (of one run, or all), oldest first. A resumed session keeps its first run's id."""
        sql, args = "SELECT * FROM sessions", ()
        if run_id:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        return list(self.conn.execute(sql + " ORDER BY started_at, spec, repeat", args))
