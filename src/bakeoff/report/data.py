"""Every section of the report in one dict: what `report --json` prints and what the terminal,
HTML and export views are drawn from."""

from __future__ import annotations

import json
from typing import Any

from bakeoff.report.drift import drift_rows
from bakeoff.report.matrix import case_rows, contender_rows
from bakeoff.report.stability import repeat_case_rows
from bakeoff.report.thinking_delta import thinking_deltas
from bakeoff.report.variants import variant_rows
from bakeoff.report.vision import budget_rows
from bakeoff.store import Database


def report_data(db: Database, run_id: str | None = None) -> dict[str, Any]:
    from bakeoff.report.cache import cache_rows
    from bakeoff.report.flaky import flaky_cells, flaky_summary
    from bakeoff.report.pareto import frontier_plots
    from bakeoff.report.ratings import win_rates
    from bakeoff.report.repo import repo_figures
    from bakeoff.report.sandbox import sandbox_warnings
    from bakeoff.report.session import session_data
    from bakeoff.report.standard import standard_rows
    from bakeoff.report.tags import tag_rows
    from bakeoff.report.tools import tool_figures
    from bakeoff.store.reads import TrialsOnce

    db = TrialsOnce.wrap(db)  # every view below reads the same trials
    trials = db.trials(run_id)
    trial_ids = {t["id"] for t in trials} if run_id else None
    checks = db.check_results_by_trial(trial_ids)  # read once, for the matrix and the repeats
    contenders = contender_rows(db, run_id, checks)
    # Blind A/B ratings from `bakeoff view`, beside the automatic checks of each contender.
    human = win_rates(db.ratings(trial_ids))
    tools = tool_figures(trials)  # tool-call and agent-loop figures, for contenders that ran tool cases
    repo = repo_figures(trials)  # repository suites: comprehension, seeded defects, context depth
    cache = cache_rows(trials, db.turns(run_id))  # prefix caches: cold vs warm, every trial's label
    cache_of = {r["spec"]: r for r in cache["contenders"]}
    for row in contenders:
        row["cache"] = cache_of.get(row["spec"])
        row["human"] = human["contenders"].get(row["spec"])
        if row["spec"] in tools:
            row["tools"] = tools[row["spec"]]
        if row["spec"] in repo:
            row["repo"] = repo[row["spec"]]
    runs = [{"id": r["id"], "started_at": r["started_at"], "finished_at": r["finished_at"],
             "status": r["status"], "suite": r["suite"], "environment": json.loads(r["environment"] or "{}")}
            for r in db.runs()]
    return {
        "database": str(db.path),
        # runs whose model-written code ran with no isolation (--allow-unconfined-code): every format shows these
        "warnings": sandbox_warnings(runs, run_id),
        "runs": runs,
        "contenders": contenders,
        "variants": variant_rows(db, run_id),
        "visual_budgets": budget_rows(db, run_id),  # per visual budget: image tokens, TTFT, prefill, memory, quality
        "thinking": thinking_deltas(db, run_id),  # what thinking buys and costs, per sweep
        "cases": case_rows(db, run_id),
        "tags": tag_rows(trials),  # pass rate per case tag and contender
        "repeats": repeat_case_rows(trials, checks),
        "drift": drift_rows(db, run_id),  # conversations: accuracy by turn, consistency probes
        "cache": cache,
        "pareto": [p.to_dict() for p in frontier_plots(contenders)],
        "flaky": flaky_summary(flaky_cells(trials)),
        "ratings": human,
        # std: suites: pass rate beside the published figure, the sandbox that ran the code
        "standard": standard_rows([dict(r) for r in db.runs()], trials, checks),
        # bakeoff repo --session: long sessions over a repository, per contender
        "sessions": session_data(db, run_id),
    }
