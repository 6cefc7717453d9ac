-- The schema of a fresh bakeoff results database: every migration in
-- src/bakeoff/store/migrations.py applied, as SQLite holds it, one column per line.
-- "(mNNN)" names the migration that added a column to an existing table.
-- Generated: python -m bakeoff.store.schema > docs/schema.sql (a test checks it is current).

-- _migrations: bakeoff.store.migrations.migrate
CREATE TABLE _migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
);

-- runs: m001_initial
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,                   -- running | completed | interrupted
    suite TEXT,
    argv TEXT,
    bakeoff_version TEXT,
    environment TEXT                        -- JSON: hardware, OS, versions
);

-- contenders: m001_initial
CREATE TABLE contenders (
    run_id TEXT NOT NULL REFERENCES runs(id),
    spec TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    options TEXT NOT NULL,                  -- JSON
    model_path TEXT,
    model_sha256 TEXT,
    facts TEXT,                             -- JSON: engine version, arch, quant, chat format...
    load TEXT,                              -- JSON: load ms, memory after load
    notes TEXT,                             -- JSON list of things the user was told
    error TEXT,
    PRIMARY KEY (run_id, spec)
);

-- trials: m001_initial
CREATE TABLE trials (
    id TEXT PRIMARY KEY,                    -- identity hash: case + spec + repeat + sweep point
    run_id TEXT NOT NULL REFERENCES runs(id),
    spec TEXT NOT NULL,
    case_id TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    sweep TEXT NOT NULL,                    -- JSON
    case_json TEXT NOT NULL,                -- JSON: the case's identity
    request TEXT,                           -- JSON: messages and sampling as sent
    prompt TEXT,                            -- the prompt text as the engine saw it
    status TEXT NOT NULL,                   -- ok | error
    error TEXT,
    output TEXT,
    reasoning TEXT,
    finish_reason TEXT,
    passed INTEGER,                         -- 1 | 0 | NULL (no checks, or error)
    score REAL,
    ttft_ms REAL,
    ttfat_ms REAL,
    e2e_ms REAL,
    decode_tps REAL,
    tpot_ms REAL,
    itl_ms_median REAL,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    tokens_source TEXT,
    engine_prompt_n INTEGER,
    engine_prompt_ms REAL,
    engine_eval_n INTEGER,
    engine_eval_ms REAL,
    engine_prefill_tps REAL,
    engine_decode_tps REAL,
    engine_source TEXT,
    peak_mem_mb REAL,
    memory_method TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    energy_j REAL,                          -- (m002_speed_and_energy)
    energy_label TEXT,                      -- (m002_speed_and_energy) measured | estimated | unavailable
    energy_source TEXT,                     -- (m002_speed_and_energy)
    gpu_mem_mb REAL,                        -- (m003_gpu_memory) NVML, per worker process
    retries INTEGER,                        -- (m004_servers_and_load) attempts beyond the first
    retry_log TEXT,                         -- (m004_servers_and_load) JSON: [{attempt, reason, wait_s}]
    engine_load_ms REAL,                    -- (m004_servers_and_load) engine-reported model load (Ollama load_duration)
    reasoning_tokens INTEGER,               -- (m006_thinking) of the output, where the engine counts them
    thinking_truncated INTEGER,             -- (m006_thinking) 1: max_tokens ran out inside the thinking
    tool_calls TEXT,                        -- (m009_tool_use) JSON list of calls (NULL: the case has no tools)
    tool_summary TEXT,                      -- (m009_tool_use) JSON: mode, calls, valid_calls, repeated_calls, steps, ...
    image_count INTEGER,                    -- (m011_images)
    image_tokens INTEGER,                   -- (m011_images)
    image_encode_ms REAL,                   -- (m011_images)
    image_decode_ms REAL,                   -- (m011_images)
    tags TEXT,                              -- (m012_case_tags)
    cache_control TEXT,                     -- (m013_prefix_cache)
    cached_tokens INTEGER,                  -- (m013_prefix_cache)
    cache_source TEXT,                      -- (m013_prefix_cache)
    cache_label TEXT,                       -- (m013_prefix_cache)
    cache_cold INTEGER,                     -- (m013_prefix_cache)
    cache_warm INTEGER,                     -- (m013_prefix_cache)
    cache_bust TEXT                         -- (m013_prefix_cache)
);
CREATE INDEX trials_run ON trials(run_id);
CREATE INDEX trials_spec ON trials(spec);

-- check_results: m001_initial
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

-- speed_results: m002_speed_and_energy
CREATE TABLE speed_results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    spec TEXT NOT NULL,
    test TEXT NOT NULL,                     -- pp512, tg128, ... (llama-bench's names)
    n_prompt INTEGER NOT NULL,
    n_gen INTEGER NOT NULL,
    depth INTEGER NOT NULL,                 -- tokens already in the KV cache
    ctx INTEGER NOT NULL,
    threads INTEGER,
    reps INTEGER NOT NULL,
    avg_tps REAL NOT NULL,                  -- measured: wall clock around the decode calls
    stddev_tps REAL,
    samples_tps TEXT NOT NULL,              -- JSON list
    samples_ns TEXT NOT NULL,               -- JSON list
    engine_avg_tps REAL,                    -- engine-reported (perf counters)
    peak_mem_mb REAL,                       -- worker peak RSS above baseline during the test
    engine_memory TEXT,                     -- JSON: weights/KV/compute MiB as llama.cpp reports
    model_sha256 TEXT,
    created_at TEXT NOT NULL,
    source TEXT,                            -- (m015_load_profiles) where the tok/s came from (NULL: in-process)
    engine_source TEXT,                     -- (m015_load_profiles) where engine_avg_tps came from
    PRIMARY KEY (run_id, spec, test, depth)
);

-- load_results: m004_servers_and_load, rebuilt by m015_load_profiles
CREATE TABLE load_results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    spec TEXT NOT NULL,
    level INTEGER NOT NULL,
    profile TEXT NOT NULL,                  -- concurrency | constant | poisson
    concurrency INTEGER,                    -- fixed concurrency; NULL for a rate level
    target_rate REAL,                       -- requests/s asked for; NULL for a concurrency level
    sent_rate REAL,                         -- requests/s that went out (first to last send)
    completion_rate REAL,                   -- requests/s that came back (first to last completion)
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
    sweep TEXT,                             -- which sweep step this level was (NULL: none)
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, spec, level)
);

-- ratings: m005_ratings
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    trial_a TEXT NOT NULL,                  -- the output shown first, as "A"
    trial_b TEXT NOT NULL,                  -- the output shown second, as "B"
    spec_a TEXT NOT NULL,                   -- hidden from the rater until the verdict was given
    spec_b TEXT NOT NULL,
    swapped INTEGER NOT NULL,               -- the hidden order: 1 when A is the later of the two specs in sorted order
    verdict TEXT NOT NULL,                  -- a | b | tie | both_bad, as the rater saw them
    winner_spec TEXT,                       -- the preferred contender; NULL for tie and both_bad
    rater TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX ratings_specs ON ratings(spec_a, spec_b);

-- turns: m007_conversation_turns
CREATE TABLE turns (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,                  -- 1-based position in the conversation
    role TEXT NOT NULL,                     -- turn | establish | distractor | ask (the last three: probes)
    user TEXT NOT NULL,                     -- the user text of this turn
    reply TEXT,                             -- the model's answer (kept in the history of later turns)
    reasoning TEXT,
    ttft_ms REAL,
    e2e_ms REAL,
    output_tokens INTEGER,
    prompt_tokens INTEGER,
    finish_reason TEXT,
    passed INTEGER,                         -- 1 | 0 | NULL (no checks on this turn)
    score REAL,
    cache_control TEXT,                     -- (m013_prefix_cache)
    cached_tokens INTEGER,                  -- (m013_prefix_cache)
    cache_source TEXT,                      -- (m013_prefix_cache)
    cache_label TEXT,                       -- (m013_prefix_cache)
    cache_cold INTEGER,                     -- (m013_prefix_cache)
    cache_warm INTEGER,                     -- (m013_prefix_cache)
    cold_ttft_ms REAL,                      -- (m013_prefix_cache)
    cold_cache_label TEXT,                  -- (m013_prefix_cache)
    PRIMARY KEY (trial_id, turn)
);

-- judges: m008_judges
CREATE TABLE judges (
    run_id TEXT NOT NULL,                   -- the run (or judge command) that loaded it
    spec TEXT NOT NULL,                     -- the judge, as a contender spec
    model_path TEXT,
    model_sha256 TEXT,
    facts TEXT,                             -- JSON, as for contenders
    load TEXT,                              -- JSON: load ms, memory
    error TEXT,                             -- why it could not be loaded (its checks stay pending)
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, spec)
);

-- judgements: m008_judges
CREATE TABLE judgements (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,                   -- the check's check_results.idx
    run_id TEXT,
    judge_spec TEXT NOT NULL,
    outcome TEXT NOT NULL,                  -- graded | judge_error
    judge_score INTEGER,                    -- on the check's scale (NULL for judge_error)
    reasons TEXT,
    reply TEXT,                             -- the judge's raw reply
    error TEXT,                             -- why the reply could not be used
    request TEXT,                           -- JSON: messages, schema and sampling as sent
    e2e_ms REAL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (trial_id, idx)
);

-- pairwise_judgements: m008_judges
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
    criteria TEXT NOT NULL,                 -- what the judge was asked to prefer
    reply_ab TEXT,                          -- raw reply with A shown first
    reply_ba TEXT,                          -- raw reply with B shown first
    pick_ab TEXT,                           -- a | b | tie | NULL (unusable), in terms of spec_a / spec_b
    pick_ba TEXT,
    verdict TEXT NOT NULL,                  -- a | b | tie | inconsistent | judge_error
    detail TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (trial_a, trial_b, judge_spec, criteria)
);
CREATE INDEX pairwise_specs ON pairwise_judgements(spec_a, spec_b);

-- tool_steps: m009_tool_use
CREATE TABLE tool_steps (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,                  -- 1-based: the n-th request of the loop
    content TEXT,                           -- the model's text in this step (the answer, in the last one)
    calls TEXT NOT NULL,                    -- JSON: [{id, name, arguments_raw, problem, result_bytes, result_cut, tool_error, tool_ms, result (first 300 chars)}]
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    e2e_ms REAL,
    finish_reason TEXT,
    PRIMARY KEY (trial_id, step)
);

-- sessions: m014_repo_sessions
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,                    -- identity: plan + contender spec + repeat index
    run_id TEXT NOT NULL,                   -- the run that started it (a resumed one keeps it)
    spec TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    repo TEXT NOT NULL,                     -- the repository path as given
    plan TEXT NOT NULL,                     -- JSON: files, packed tokens, turns with kinds and keys
    status TEXT NOT NULL,                   -- running | ok | error
    error TEXT,
    context_full_turn INTEGER,              -- first turn whose prompt no longer fit the context
    started_at TEXT NOT NULL,
    finished_at TEXT
);

-- session_turns: m014_repo_sessions
CREATE TABLE session_turns (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,                  -- 1-based
    kind TEXT NOT NULL,                     -- question | trace | followup | defect_find | defect_fix | reask | pushback
    fact TEXT,                              -- the fact asked (re-asks and pushback name an earlier turn's fact)
    user TEXT NOT NULL,
    reply TEXT,
    answer TEXT,                            -- JSON: the reply's items as scored (normalised)
    passed INTEGER,
    score REAL,
    outcome TEXT,                           -- pushback: held | disputed | gave_in | unclear; fix: fixed | not_applied | other_change
    detail TEXT,
    ttft_ms REAL,
    e2e_ms REAL,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    engine_prompt_n INTEGER,                -- tokens the engine evaluated for this turn (warm: the new ones)
    engine_prompt_ms REAL,
    engine_prefill_tps REAL,
    cached_tokens INTEGER,
    cache_label TEXT,
    cache_warm INTEGER,
    cache_cold INTEGER,                     -- 1: counts as a cold prefill (turn 1 only, when nothing was reused)
    finish_reason TEXT,
    history_tokens INTEGER,                 -- the prompt as counted before sending (contender's tokenizer)
    dropped_turns INTEGER,                  -- earlier turns left out of the history to fit the context
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (session_id, turn)
);
