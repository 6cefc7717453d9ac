"""LLM judges and what they said (tables ``judges``, ``judgements``, ``pairwise_judgements``,
migration m008), written by bakeoff.run.judges; a rubric judge's grade also updates its
``check_results`` row and its trial's verdict."""

from __future__ import annotations

import sqlite3
from typing import Any

from bakeoff.store.table import Tables, to_json


class JudgeTables(Tables):
    def pending_judge_checks(self, trial_ids: set[str] | None = None) -> list[sqlite3.Row]:
        """Judge checks not graded yet, with what grading needs (the trial's case and output)."""
        rows = self.conn.execute(
            "SELECT c.trial_id, c.idx, c.weight, t.case_id, t.spec, t.case_json, t.output"
            " FROM check_results c JOIN trials t ON t.id = c.trial_id"
            " WHERE c.kind = 'judge' AND c.detail LIKE 'pending%' AND t.status = 'ok'"
            " ORDER BY t.started_at, c.trial_id, c.idx")
        return [r for r in rows if trial_ids is None or r["trial_id"] in trial_ids]

    def record_judge(self, run_id: str, spec, model_path: str | None, sha256: str | None, facts: dict,
                     load: dict, error: str | None, created_at: str) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO judges VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, spec.canonical, model_path, sha256, to_json(facts), to_json(load), error, created_at))

    def record_judgement(self, trial_id: str, idx: int, passed: bool, score: float, detail: str,
                         judgement: dict[str, Any], verdict: tuple[bool | None, float | None]) -> None:
        """One graded judge check in one transaction: its check_results row, what the judge said,
        and the trial's recomputed verdict."""
        row = {**judgement, "trial_id": trial_id, "idx": idx}
        if not isinstance(row.get("request"), (str, type(None))):
            row["request"] = to_json(row["request"])
        with self.conn:
            self.conn.execute("UPDATE check_results SET passed = ?, score = ?, detail = ? WHERE trial_id = ? AND idx = ?",
                              (int(passed), score, detail, trial_id, idx))
            self._insert("judgements", row, "INSERT OR REPLACE")
            passed_v, score_v = verdict
            self.conn.execute("UPDATE trials SET passed = ?, score = ? WHERE id = ?",
                              (None if passed_v is None else int(passed_v), score_v, trial_id))

    def judgements(self, trial_id: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM judgements", ()
        if trial_id:
            sql, args = sql + " WHERE trial_id = ?", (trial_id,)
        return list(self.conn.execute(sql + " ORDER BY created_at, trial_id, idx", args))

    def record_pairwise(self, row: dict[str, Any]) -> None:
        with self.conn:
            self._insert("pairwise_judgements", row, "INSERT OR REPLACE")

    def pairwise_judgements(self, spec_a: str | None = None, spec_b: str | None = None,
                            judge_spec: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM pairwise_judgements WHERE 1 = 1", []
        for col, value in (("spec_a", spec_a), ("spec_b", spec_b), ("judge_spec", judge_spec)):
            if value is not None:
                sql += f" AND {col} = ?"
                args.append(value)
        return list(self.conn.execute(sql + " ORDER BY id", args))
