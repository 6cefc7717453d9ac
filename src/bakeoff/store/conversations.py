"""Conversation turns and agent-loop steps (tables ``turns``, m007 and m013, and ``tool_steps``,
m009): each stored with its trial's row and check results in one transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from bakeoff.store.table import Tables, json_columns, to_json

TURN_COLUMNS = ("turn", "role", "user", "reply", "reasoning", "ttft_ms", "e2e_ms", "output_tokens",
                "prompt_tokens", "finish_reason", "passed", "score", "cache_control", "cached_tokens",
                "cache_source", "cache_label", "cache_cold", "cache_warm", "cold_ttft_ms", "cold_cache_label")


class ConversationTables(Tables):
    def record_conversation(self, row: dict[str, Any], checks: list[dict[str, Any]],
                            turns: list[dict[str, Any]]) -> None:
        """A conversation trial: its row, check results and turns in one transaction, so an
        interruption loses at most the conversation in flight."""
        json_columns(row)
        with self.conn:
            self._insert("trials", row)
            self._insert_checks(row["id"], checks)
            self.conn.executemany(
                f"INSERT INTO turns (trial_id, {', '.join(TURN_COLUMNS)}) VALUES ({', '.join('?' * (len(TURN_COLUMNS) + 1))})",
                [(row["id"], *(t.get(c) for c in TURN_COLUMNS)) for t in turns],
            )

    def record_agent_loop(self, row: dict[str, Any], checks: list[dict[str, Any]],
                          steps: list[dict[str, Any]]) -> None:
        """An agent-loop trial: its row, check results and steps (bakeoff.run.agent_loop) in one transaction."""
        json_columns(row)
        with self.conn:
            self._insert("trials", row)
            self._insert_checks(row["id"], checks)
            self.conn.executemany(
                "INSERT INTO tool_steps (trial_id, step, content, calls, prompt_tokens, output_tokens, e2e_ms,"
                " finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(row["id"], s["step"], s["content"], to_json(s["calls"]), s["prompt_tokens"], s["output_tokens"],
                  s["e2e_ms"], s["finish_reason"]) for s in steps])

    def tool_steps(self, trial_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM tool_steps WHERE trial_id = ? ORDER BY step", (trial_id,)))

    def turns(self, run_id: str | None = None) -> list[sqlite3.Row]:
        """Every stored turn with its trial's spec, case, repeat, sweep point and status."""
        sql = ("SELECT t.spec, t.case_id, t.repeat, t.sweep, t.status, t.run_id, t.case_json, u.*"
               " FROM turns u JOIN trials t ON t.id = u.trial_id")
        return self.rows_for_run(sql, run_id, "t.run_id", "t.started_at, u.trial_id, u.turn")
