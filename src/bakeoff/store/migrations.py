"""Numbered, append-only schema migrations (the style of simonw/llm's migrations.py).

Never edit or reorder a migration that has shipped: add a new one. Each runs once, in order,
in one transaction with its ``_migrations`` row: one that fails half-way leaves nothing behind
and runs again at the next open. ``docs/schema.sql`` shows the schema they add up to
(``python -m bakeoff.store.schema`` writes it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def migrate(conn: sqlite3.Connection, migrations: list[tuple[str, Migration]] | None = None) -> None:
    """Apply the migrations not applied yet (``migrations``: a prefix of MIGRATIONS, for the
    schema's history), each with its ``_migrations`` row in one transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    pending = [(name, fn) for name, fn in (MIGRATIONS if migrations is None else migrations) if name not in done]
    if not pending:
        return
    # Transactions by hand: sqlite3's own would commit before each DDL script.
    isolation, conn.isolation_level = conn.isolation_level, None
    try:
        for name, fn in pending:
            _apply(conn, name, fn)
    finally:
        conn.isolation_level = isolation


def _apply(conn: sqlite3.Connection, name: str, fn: Migration) -> None:
    conn.execute("BEGIN IMMEDIATE")  # the write lock first: another process may be migrating too
    try:
        if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
            fn(_OneTransaction(conn))
            if not conn.in_transaction:
                raise RuntimeError(f"migration {name} committed on its own: it must leave the transaction open")
            conn.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", (name,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def statements(script: str) -> Iterator[str]:
    """The SQL statements of ``script``, one at a time (semicolons in strings and comments kept)."""
    pieces = script.split(";")
    statement = ""
    for i, piece in enumerate(pieces):
        statement += piece + (";" if i < len(pieces) - 1 else "")
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


class _OneTransaction:
    """The connection a migration is given. Its ``executescript`` runs the script statement by
    statement inside the migration's transaction: sqlite3's own commits before it starts."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def executescript(self, script: str) -> None:
        for statement in statements(script):
            self._conn.execute(statement)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,            -- running | completed | interrupted
            suite TEXT,
            argv TEXT,
            bakeoff_version TEXT,
            environment TEXT                 -- JSON: hardware, OS, versions
        );
        CREATE TABLE contenders (
            run_id TEXT NOT NULL REFERENCES runs(id),
            spec TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            options TEXT NOT NULL,           -- JSON
            model_path TEXT,
            model_sha256 TEXT,
            facts TEXT,                      -- JSON: engine version, arch, quant, chat format...
            load TEXT,                       -- JSON: load ms, memory after load
            notes TEXT,                      -- JSON list of things the user was told
            error TEXT,
            PRIMARY KEY (run_id, spec)
        );
        CREATE TABLE trials (
            id TEXT PRIMARY KEY,             -- identity hash: case + spec + repeat + sweep point
            run_id TEXT NOT NULL REFERENCES runs(id),
            spec TEXT NOT NULL,
            case_id TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            sweep TEXT NOT NULL,             -- JSON
            case_json TEXT NOT NULL,         -- JSON: the case's identity
            request TEXT,                    -- JSON: messages and sampling as sent
            prompt TEXT,                     -- the prompt text as the engine saw it
            status TEXT NOT NULL,            -- ok | error
            error TEXT,
            output TEXT,
            reasoning TEXT,
            finish_reason TEXT,
            passed INTEGER,                  -- 1 | 0 | NULL (no checks, or error)
            score REAL,
            ttft_ms REAL, ttfat_ms REAL, e2e_ms REAL, decode_tps REAL, tpot_ms REAL, itl_ms_median REAL,
            prompt_tokens INTEGER, output_tokens INTEGER, tokens_source TEXT,
            engine_prompt_n INTEGER, engine_prompt_ms REAL, engine_eval_n INTEGER, engine_eval_ms REAL,
            engine_prefill_tps REAL, engine_decode_tps REAL, engine_source TEXT,
            peak_mem_mb REAL, memory_method TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL
        );
        CREATE INDEX trials_spec ON trials(spec);
        CREATE INDEX trials_run ON trials(run_id);
        CREATE TABLE check_results (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            kind TEXT NOT NULL,
            passed INTEGER NOT NULL,
            score REAL NOT NULL,
            weight REAL NOT NULL,
            detail TEXT,
            PRIMARY KEY (trial_id, idx)
        );
        """
    )


@migration
def m002_speed_and_energy(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN energy_j REAL;
        ALTER TABLE trials ADD COLUMN energy_label TEXT;   -- measured | estimated | unavailable
        ALTER TABLE trials ADD COLUMN energy_source TEXT;
        CREATE TABLE speed_results (
            run_id TEXT NOT NULL REFERENCES runs(id),
            spec TEXT NOT NULL,
            test TEXT NOT NULL,              -- pp512, tg128, ... (llama-bench's names)
            n_prompt INTEGER NOT NULL,
            n_gen INTEGER NOT NULL,
            depth INTEGER NOT NULL,          -- tokens already in the KV cache
            ctx INTEGER NOT NULL,
            threads INTEGER,
            reps INTEGER NOT NULL,
            avg_tps REAL NOT NULL,           -- measured: wall clock around the decode calls
            stddev_tps REAL,
            samples_tps TEXT NOT NULL,       -- JSON list
            samples_ns TEXT NOT NULL,        -- JSON list
            engine_avg_tps REAL,             -- engine-reported (perf counters)
            peak_mem_mb REAL,                -- worker peak RSS above baseline during the test
            engine_memory TEXT,              -- JSON: weights/KV/compute MiB as llama.cpp reports
            model_sha256 TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, spec, test, depth)
        );
        """
    )


@migration
def m003_gpu_memory(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE trials ADD COLUMN gpu_mem_mb REAL")  # NVML, per worker process


@migration
def m004_servers_and_load(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN retries INTEGER;        -- attempts beyond the first
        ALTER TABLE trials ADD COLUMN retry_log TEXT;         -- JSON: [{attempt, reason, wait_s}]
        ALTER TABLE trials ADD COLUMN engine_load_ms REAL;    -- engine-reported model load (Ollama load_duration)
        CREATE TABLE load_results (
            run_id TEXT NOT NULL REFERENCES runs(id),
            spec TEXT NOT NULL,
            concurrency INTEGER NOT NULL,
            requests INTEGER NOT NULL,       -- sent
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            prompt_tokens INTEGER,           -- asked for, per request
            output_tokens INTEGER,           -- asked for, per request (max_tokens)
            duration_s REAL NOT NULL,        -- first send -> last request done
            request_throughput REAL,         -- completed requests / s
            output_throughput REAL,          -- output tokens / s
            total_token_throughput REAL,     -- (prompt + output tokens) / s
            goodput REAL,                    -- requests meeting every SLO / s (NULL without an SLO)
            slo TEXT,                        -- JSON: {"ttft_ms": 500, "tpot_ms": 50, ...}
            latency TEXT NOT NULL,           -- JSON: {ttft_ms|tpot_ms|itl_ms|e2e_ms: {mean, p50, p90, p99}}
            tokens_source TEXT,              -- server usage | tokenizer | ...
            samples TEXT NOT NULL,           -- JSON: one record per request
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, spec, concurrency)
        );
        """
    )


@migration
def m005_ratings(conn: sqlite3.Connection) -> None:
    # Blind A/B ratings from `bakeoff view`. No foreign keys to trials: a rating stays readable
    # even if its trials are deleted (--retry-errors deletes only errored trials, which are never
    # rated), and the specs are copied so it still says who was compared.
    conn.executescript(
        """
        CREATE TABLE ratings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL,
            trial_a TEXT NOT NULL,           -- the output shown first, as "A"
            trial_b TEXT NOT NULL,           -- the output shown second, as "B"
            spec_a TEXT NOT NULL,            -- hidden from the rater until the verdict was given
            spec_b TEXT NOT NULL,
            swapped INTEGER NOT NULL,        -- the hidden order: 1 when A is the later of the two specs in sorted order
            verdict TEXT NOT NULL,           -- a | b | tie | both_bad, as the rater saw them
            winner_spec TEXT,                -- the preferred contender; NULL for tie and both_bad
            rater TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX ratings_specs ON ratings(spec_a, spec_b);
        """
    )


@migration
def m006_thinking(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN reasoning_tokens INTEGER;     -- of the output, where the engine counts them
        ALTER TABLE trials ADD COLUMN thinking_truncated INTEGER;   -- 1: max_tokens ran out inside the thinking
        """
    )


@migration
def m007_conversation_turns(conn: sqlite3.Connection) -> None:
    # One row per turn of a conversation trial (multi-turn cases and consistency probes), so
    # accuracy can be plotted against the turn index. The trial row holds the whole conversation.
    conn.executescript(
        """
        CREATE TABLE turns (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,           -- 1-based position in the conversation
            role TEXT NOT NULL,              -- turn | establish | distractor | ask (the last three: probes)
            user TEXT NOT NULL,              -- the user text of this turn
            reply TEXT,                      -- the model's answer (kept in the history of later turns)
            reasoning TEXT,
            ttft_ms REAL,
            e2e_ms REAL,
            output_tokens INTEGER,
            prompt_tokens INTEGER,
            finish_reason TEXT,
            passed INTEGER,                  -- 1 | 0 | NULL (no checks on this turn)
            score REAL,
            PRIMARY KEY (trial_id, turn)
        );
        """
    )


@migration
def m008_judges(conn: sqlite3.Connection) -> None:
    # LLM judges (bakeoff.checks.judge, bakeoff.run.judges). A rubric judge check has its row in
    # check_results like any check (detail "pending: ..." until graded, "judge_error: ..." when the
    # reply could not be used); `judgements` keeps what the judge was asked and said. No foreign
    # keys to runs: the judge phase of a resumed run, or `bakeoff judge`, may grade older trials.
    conn.executescript(
        """
        CREATE TABLE judges (
            run_id TEXT NOT NULL,            -- the run (or judge command) that loaded it
            spec TEXT NOT NULL,              -- the judge, as a contender spec
            model_path TEXT,
            model_sha256 TEXT,
            facts TEXT,                      -- JSON, as for contenders
            load TEXT,                       -- JSON: load ms, memory
            error TEXT,                      -- why it could not be loaded (its checks stay pending)
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, spec)
        );
        CREATE TABLE judgements (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,            -- the check's check_results.idx
            run_id TEXT,
            judge_spec TEXT NOT NULL,
            outcome TEXT NOT NULL,           -- graded | judge_error
            judge_score INTEGER,             -- on the check's scale (NULL for judge_error)
            reasons TEXT,
            reply TEXT,                      -- the judge's raw reply
            error TEXT,                      -- why the reply could not be used
            request TEXT,                    -- JSON: messages, schema and sampling as sent
            e2e_ms REAL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (trial_id, idx)
        );
        CREATE TABLE pairwise_judgements (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT,
            case_id TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            trial_a TEXT NOT NULL,
            trial_b TEXT NOT NULL,
            spec_a TEXT NOT NULL,
            spec_b TEXT NOT NULL,
            judge_spec TEXT NOT NULL,
            criteria TEXT NOT NULL,          -- what the judge was asked to prefer
            reply_ab TEXT,                   -- raw reply with A shown first
            reply_ba TEXT,                   -- raw reply with B shown first
            pick_ab TEXT,                    -- a | b | tie | NULL (unusable), in terms of spec_a / spec_b
            pick_ba TEXT,
            verdict TEXT NOT NULL,           -- a | b | tie | inconsistent | judge_error
            detail TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (trial_a, trial_b, judge_spec, criteria)
        );
        CREATE INDEX pairwise_specs ON pairwise_judgements(spec_a, spec_b);
        """
    )


@migration
def m009_tool_use(conn: sqlite3.Connection) -> None:
    # Tool use (bakeoff.tools). On the trial: the calls the model made (JSON, bakeoff.tools.calls
    # form, malformed ones with their raw text) and a summary (calls, valid calls, repeats, steps,
    # budget exhausted). An agent loop also stores one row per step: a request to the model and
    # the calls it made in reply, with what running them gave back.
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN tool_calls TEXT;     -- JSON list of calls (NULL: the case has no tools)
        ALTER TABLE trials ADD COLUMN tool_summary TEXT;   -- JSON: mode, calls, valid_calls, repeated_calls, steps, ...
        CREATE TABLE tool_steps (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,           -- 1-based: the n-th request of the loop
            content TEXT,                    -- the model's text in this step (the answer, in the last one)
            calls TEXT NOT NULL,             -- JSON: [{id, name, arguments_raw, problem, result_bytes,
                                             --   result_cut, tool_error, tool_ms, result (first 300 chars)}]
            prompt_tokens INTEGER,
            output_tokens INTEGER,
            e2e_ms REAL,
            finish_reason TEXT,
            PRIMARY KEY (trial_id, step)
        );
        """
    )


@migration
def m011_images(conn: sqlite3.Connection) -> None:
    # Images in cases (bakeoff.suite.images): per trial, how many images were sent, the image tokens
    # among prompt_tokens (engine-reported; NULL where the engine does not say, e.g. a server's
    # usage counts them in prompt_tokens only), the projector's encode time and the decode of the
    # image embeddings into the KV cache (both in ms, measured in the engine's process).
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN image_count INTEGER;
        ALTER TABLE trials ADD COLUMN image_tokens INTEGER;
        ALTER TABLE trials ADD COLUMN image_encode_ms REAL;
        ALTER TABLE trials ADD COLUMN image_decode_ms REAL;
        """
    )


@migration
def m012_case_tags(conn: sqlite3.Connection) -> None:
    # The case's tags (a JSON list; NULL: none) on each trial, for per-tag pass rates. Not part of
    # the trial's identity: retagging a case does not make its finished trials run again.
    conn.execute("ALTER TABLE trials ADD COLUMN tags TEXT")


@migration
def m013_prefix_cache(conn: sqlite3.Connection) -> None:
    # Prefix caches (bakeoff.measure.cache): per trial and per conversation turn, what was done to
    # keep the prefill cold (or, on a conversation's later turns, to let it reuse its own turns),
    # the prompt tokens the engine says came from its cache (NULL: not reported), the label every
    # view shows, and whether the TTFT counts as a cold one (NULL: stored before this migration).
    # A cache-busting prefix, where the user asked for one, is stored as sent. Turns also keep
    # the TTFT of the same prompt asked cold (cold_turns=true).
    conn.executescript(
        """
        ALTER TABLE trials ADD COLUMN cache_control TEXT;
        ALTER TABLE trials ADD COLUMN cached_tokens INTEGER;
        ALTER TABLE trials ADD COLUMN cache_source TEXT;
        ALTER TABLE trials ADD COLUMN cache_label TEXT;
        ALTER TABLE trials ADD COLUMN cache_cold INTEGER;
        ALTER TABLE trials ADD COLUMN cache_warm INTEGER;
        ALTER TABLE trials ADD COLUMN cache_bust TEXT;
        ALTER TABLE turns ADD COLUMN cache_control TEXT;
        ALTER TABLE turns ADD COLUMN cached_tokens INTEGER;
        ALTER TABLE turns ADD COLUMN cache_source TEXT;
        ALTER TABLE turns ADD COLUMN cache_label TEXT;
        ALTER TABLE turns ADD COLUMN cache_cold INTEGER;
        ALTER TABLE turns ADD COLUMN cache_warm INTEGER;
        ALTER TABLE turns ADD COLUMN cold_ttft_ms REAL;
        ALTER TABLE turns ADD COLUMN cold_cache_label TEXT;
        """
    )


@migration
def m014_repo_sessions(conn: sqlite3.Connection) -> None:
    # Long debugging sessions over a repository (bakeoff repo PATH --session N): one row per
    # session (a contender's conversation of N planned turns, per repeat) and one per turn, each
    # committed as soon as the turn ends, so a killed session resumes at its next turn. The plan
    # (files packed, every turn with its key) is stored with the session: reports read keys from it.
    conn.executescript(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,             -- identity: plan + contender spec + repeat index
            run_id TEXT NOT NULL,            -- the run that started it (a resumed one keeps it)
            spec TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            repo TEXT NOT NULL,              -- the repository path as given
            plan TEXT NOT NULL,              -- JSON: files, packed tokens, turns with kinds and keys
            status TEXT NOT NULL,            -- running | ok | error
            error TEXT,
            context_full_turn INTEGER,       -- first turn whose prompt no longer fit the context
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE TABLE session_turns (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,           -- 1-based
            kind TEXT NOT NULL,              -- question | trace | followup | defect_find | defect_fix | reask | pushback
            fact TEXT,                       -- the fact asked (re-asks and pushback name an earlier turn's fact)
            user TEXT NOT NULL,
            reply TEXT,
            answer TEXT,                     -- JSON: the reply's items as scored (normalised)
            passed INTEGER,
            score REAL,
            outcome TEXT,                    -- pushback: held | disputed | gave_in | unclear; fix: fixed | not_applied | other_change
            detail TEXT,
            ttft_ms REAL,
            e2e_ms REAL,
            prompt_tokens INTEGER,
            output_tokens INTEGER,
            engine_prompt_n INTEGER,         -- tokens the engine evaluated for this turn (warm: the new ones)
            engine_prompt_ms REAL,
            engine_prefill_tps REAL,
            cached_tokens INTEGER,
            cache_label TEXT,
            cache_warm INTEGER,
            cache_cold INTEGER,              -- 1: counts as a cold prefill (turn 1 only, when nothing was reused)
            finish_reason TEXT,
            history_tokens INTEGER,          -- the prompt as counted before sending (contender's tokenizer)
            dropped_turns INTEGER,           -- earlier turns left out of the history to fit the context
            started_at TEXT,
            finished_at TEXT,
            PRIMARY KEY (session_id, turn)
        );
        """
    )


@migration
def m015_load_profiles(conn: sqlite3.Connection) -> None:
    # `bakeoff load` levels beyond fixed concurrency: arrival profiles (constant rate, Poisson) and
    # sweeps. A level is keyed by its position in the run (level), not its concurrency (NULL for a
    # rate level); target_rate is the arrival rate asked for (requests/s), sent_rate and
    # completion_rate what was achieved, and client the load client's own cost (JSON: workers,
    # CPU seconds and busy share per worker, saturated).
    conn.executescript(
        """
        CREATE TABLE load_levels (
            run_id TEXT NOT NULL REFERENCES runs(id),
            spec TEXT NOT NULL,
            level INTEGER NOT NULL,
            profile TEXT NOT NULL,           -- concurrency | constant | poisson
            concurrency INTEGER,             -- fixed concurrency; NULL for a rate level
            target_rate REAL,                -- requests/s asked for; NULL for a concurrency level
            sent_rate REAL,                  -- requests/s that went out (first to last send)
            completion_rate REAL,            -- requests/s that came back (first to last completion)
            requests INTEGER NOT NULL,
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            prompt_tokens INTEGER,
            output_tokens INTEGER,
            duration_s REAL NOT NULL,
            request_throughput REAL,
            output_throughput REAL,
            total_token_throughput REAL,
            goodput REAL,
            slo TEXT,
            latency TEXT NOT NULL,
            tokens_source TEXT,
            samples TEXT NOT NULL,
            client TEXT,
            sweep TEXT,                      -- which sweep step this level was (NULL: none)
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, spec, level)
        );
        INSERT INTO load_levels (run_id, spec, level, profile, concurrency, requests, completed, failed,
            prompt_tokens, output_tokens, duration_s, request_throughput, output_throughput,
            total_token_throughput, goodput, slo, latency, tokens_source, samples, created_at)
        SELECT run_id, spec, concurrency, 'concurrency', concurrency, requests, completed, failed,
            prompt_tokens, output_tokens, duration_s, request_throughput, output_throughput,
            total_token_throughput, goodput, slo, latency, tokens_source, samples, created_at
        FROM load_results;
        DROP TABLE load_results;
        ALTER TABLE load_levels RENAME TO load_results;
        ALTER TABLE speed_results ADD COLUMN source TEXT;         -- where the tok/s came from (NULL: in-process)
        ALTER TABLE speed_results ADD COLUMN engine_source TEXT;  -- where engine_avg_tps came from
        """
    )
