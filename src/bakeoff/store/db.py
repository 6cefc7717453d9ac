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

    def rows_for_run(self, sql: str, run_id: str | None, column: str, order: str) -> list[sqlite3.Row]:
        """``sql`` restricted to one run's rows when ``run_id`` is given, in ``order``."""
        where, args = (f" WHERE {column} = ?", (run_id,)) if run_id else ("", ())
        return list(self.conn.execute(f"{sql}{where} ORDER BY {order}", args))

    def trials(self, run_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM trials"
        return self.rows_for_run(sql, run_id, "run_id", "started_at")

    def check_results(self, trial_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM check_results WHERE trial_id = ? ORDER BY idx", (trial_id,)))

    def runs(self) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM runs ORDER BY started_at"))

    def contenders(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT c.* FROM contenders c JOIN runs r ON r.id = c.run_id ORDER BY r.started_at"))

    # --- load tests (bakeoff load) ----------------------------------------------------------

    def record_load_result(self, r) -> None:
        """One level of a load test (a bakeoff.run.load.LevelResult), in its own transaction."""
        row = {"run_id": r.run_id, "spec": r.spec, "level": r.level, "profile": r.profile,
               "concurrency": r.concurrency, "target_rate": r.target_rate, "sent_rate": r.sent_rate,
               "completion_rate": r.completion_rate, "requests": r.requests, "completed": r.completed,
               "failed": r.failed, "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens,
               "duration_s": r.duration_s, "request_throughput": r.request_throughput,
               "output_throughput": r.output_throughput, "total_token_throughput": r.total_token_throughput,
               "goodput": r.goodput, "slo": _json(r.slo) if r.slo else None, "latency": _json(r.latency),
               "tokens_source": r.tokens_source, "samples": json.dumps(r.samples),
               "client": _json(r.client) if r.client else None, "sweep": r.sweep, "created_at": r.created_at}
        with self.conn:
            self.conn.execute(f"INSERT OR REPLACE INTO load_results ({', '.join(row)}) "
                              f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def load_results(self, run_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT l.* FROM load_results l JOIN runs r ON r.id = l.run_id"
        return self.rows_for_run(sql, run_id, "l.run_id", "r.started_at, l.spec, l.level")

    # --- conversations (multi-turn cases, consistency probes) --------------------------------

    def record_conversation(self, row: dict[str, Any], checks: list[dict[str, Any]],
                            turns: list[dict[str, Any]]) -> None:
        """A conversation trial: its row, check results and turns in one transaction, so an
        interruption loses at most the conversation in flight."""
        for key in ("sweep", "case_json", "request"):
            if key in row and not isinstance(row[key], str):
                row[key] = _json(row[key])
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        turn_cols = ("turn", "role", "user", "reply", "reasoning", "ttft_ms", "e2e_ms", "output_tokens",
                     "prompt_tokens", "finish_reason", "passed", "score", "cache_control", "cached_tokens",
                     "cache_source", "cache_label", "cache_cold", "cache_warm", "cold_ttft_ms", "cold_cache_label")
        with self.conn:
            self.conn.execute(f"INSERT INTO trials ({cols}) VALUES ({marks})", tuple(row.values()))
            self.conn.executemany(
                "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row["id"], i, c["kind"], int(c["passed"]), c["score"], c["weight"], c["detail"])
                 for i, c in enumerate(checks)],
            )
            self.conn.executemany(
                f"INSERT INTO turns (trial_id, {', '.join(turn_cols)}) VALUES ({', '.join('?' * (len(turn_cols) + 1))})",
                [(row["id"], *(t.get(c) for c in turn_cols)) for t in turns],
            )

    def record_agent_loop(self, row: dict[str, Any], checks: list[dict[str, Any]],
                          steps: list[dict[str, Any]]) -> None:
        """An agent-loop trial: its row, check results and steps (bakeoff.tools.loop) in one transaction."""
        for key in ("sweep", "case_json", "request"):
            if key in row and not isinstance(row[key], str):
                row[key] = _json(row[key])
        with self.conn:
            self.conn.execute(f"INSERT INTO trials ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))
            self.conn.executemany(
                "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row["id"], i, c["kind"], int(c["passed"]), c["score"], c["weight"], c["detail"])
                 for i, c in enumerate(checks)],
            )
            self.conn.executemany(
                "INSERT INTO tool_steps (trial_id, step, content, calls, prompt_tokens, output_tokens, e2e_ms,"
                " finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(row["id"], s["step"], s["content"], _json(s["calls"]), s["prompt_tokens"], s["output_tokens"],
                  s["e2e_ms"], s["finish_reason"]) for s in steps])

    def tool_steps(self, trial_id: str) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM tool_steps WHERE trial_id = ? ORDER BY step", (trial_id,)))

    def turns(self, run_id: str | None = None) -> list[sqlite3.Row]:
        """Every stored turn with its trial's spec, case, repeat, sweep point and status."""
        sql = ("SELECT t.spec, t.case_id, t.repeat, t.sweep, t.status, t.run_id, t.case_json, u.*"
               " FROM turns u JOIN trials t ON t.id = u.trial_id")
        return self.rows_for_run(sql, run_id, "t.run_id", "t.started_at, u.trial_id, u.turn")

    # --- judges (bakeoff.run.judges) ---------------------------------------------------------

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
                (run_id, spec.canonical, model_path, sha256, _json(facts), _json(load), error, created_at))

    def record_judgement(self, trial_id: str, idx: int, passed: bool, score: float, detail: str,
                         judgement: dict[str, Any], verdict: tuple[bool | None, float | None]) -> None:
        """One graded judge check in one transaction: its check_results row, what the judge said,
        and the trial's recomputed verdict."""
        row = {**judgement, "trial_id": trial_id, "idx": idx}
        if not isinstance(row.get("request"), (str, type(None))):
            row["request"] = _json(row["request"])
        cols = ", ".join(row)
        with self.conn:
            self.conn.execute("UPDATE check_results SET passed = ?, score = ?, detail = ? WHERE trial_id = ? AND idx = ?",
                              (int(passed), score, detail, trial_id, idx))
            self.conn.execute(f"INSERT OR REPLACE INTO judgements ({cols}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))
            passed_v, score_v = verdict
            self.conn.execute("UPDATE trials SET passed = ?, score = ? WHERE id = ?",
                              (None if passed_v is None else int(passed_v), score_v, trial_id))

    def judgements(self, trial_id: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM judgements", ()
        if trial_id:
            sql, args = sql + " WHERE trial_id = ?", (trial_id,)
        return list(self.conn.execute(sql + " ORDER BY created_at, trial_id, idx", args))

    def ok_trials_of(self, spec: str) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT id, case_id, repeat, sweep, case_json, output, started_at FROM trials"
            " WHERE spec = ? AND status = 'ok' ORDER BY started_at", (spec,)))

    def record_pairwise(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        with self.conn:
            self.conn.execute(f"INSERT OR REPLACE INTO pairwise_judgements ({cols}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))

    def pairwise_judgements(self, spec_a: str | None = None, spec_b: str | None = None,
                            judge_spec: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM pairwise_judgements WHERE 1 = 1", []
        for col, value in (("spec_a", spec_a), ("spec_b", spec_b), ("judge_spec", judge_spec)):
            if value is not None:
                sql += f" AND {col} = ?"
                args.append(value)
        return list(self.conn.execute(sql + " ORDER BY id", args))
