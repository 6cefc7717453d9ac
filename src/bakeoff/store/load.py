"""`bakeoff load` levels (table ``load_results``: m004, keyed by level since m015)."""

from __future__ import annotations

import json
import sqlite3

from bakeoff.store.table import Tables, to_json


class LoadTables(Tables):
    def record_load_result(self, r) -> None:
        """One level of a load test (a bakeoff.run.load.LevelResult), in its own transaction."""
        row = {"run_id": r.run_id, "spec": r.spec, "level": r.level, "profile": r.profile,
               "concurrency": r.concurrency, "target_rate": r.target_rate, "sent_rate": r.sent_rate,
               "completion_rate": r.completion_rate, "requests": r.requests, "completed": r.completed,
               "failed": r.failed, "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens,
               "duration_s": r.duration_s, "request_throughput": r.request_throughput,
               "output_throughput": r.output_throughput, "total_token_throughput": r.total_token_throughput,
               "goodput": r.goodput, "slo": to_json(r.slo) if r.slo else None, "latency": to_json(r.latency),
               "tokens_source": r.tokens_source, "samples": json.dumps(r.samples),
               "client": to_json(r.client) if r.client else None, "sweep": r.sweep, "created_at": r.created_at}
        with self.conn:
            self._insert("load_results", row, "INSERT OR REPLACE")

    def load_results(self, run_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT l.* FROM load_results l JOIN runs r ON r.id = l.run_id"
        return self.rows_for_run(sql, run_id, "l.run_id", "r.started_at, l.spec, l.level")
