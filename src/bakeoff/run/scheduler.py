"""Runs a plan contender by contender with the local executor, one commit per trial.

A contender is loaded once, asked all its pending trials, and unloaded before the next, so
memory figures are never polluted by a resident neighbour. Trials already in the database are
skipped: an interrupted run resumes where it stopped.

Every backend is driven through the same async contract (bakeoff.backends.base), on one event
loop per contender: an in-process contender answers one trial at a time, a server contender up to
its ``concurrency`` at once. This thread alone writes the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from itertools import groupby

from bakeoff import __version__
from bakeoff.backends._server import ServerBackend
from bakeoff.backends.base import Backend, BackendError, GenerationRequest
from bakeoff.checks import evaluate
from bakeoff.checks.code import runs_model_code
from bakeoff.measure.cache import Ledger, bust_prefix, classify_request, with_bust
from bakeoff.measure.cost import cpu_power, load_cost_config
from bakeoff.measure.hardware import environment
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.agent_loop import AgentLoop, summarise_calls
from bakeoff.run.contender import open_contender
from bakeoff.run.conversation import Conversation
from bakeoff.run.judges import run_judge_phase
from bakeoff.run.plan import Trial
from bakeoff.sandbox import confinement
from bakeoff.spec import ContenderSpec
from bakeoff.store import Database
from bakeoff.util.images import count_images


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


_LEDGERS: dict[tuple[str, str], Ledger] = {}


def ledger_for(run_id: str, backend) -> Ledger | None:
    """What this run sent to the backend's server before (one per server address: contenders on
    one server share its cache); None for in-process engines, which report their own cache use."""
    if not isinstance(backend, ServerBackend):
        return None
    return _LEDGERS.setdefault((run_id, backend.cache_scope()), Ledger())


def bust_for(spec: ContenderSpec) -> str | None:
    """With ``cache=bust``, a fresh unique marker for the start of a trial's prompt."""
    return bust_prefix() if spec.options.get("cache") == "bust" else None


def _busted(spec: ContenderSpec, request: GenerationRequest) -> tuple[GenerationRequest, str | None]:
    """The request with the trial's cache-busting marker at the start of its prompt (and the marker)."""
    bust = bust_for(spec)
    if bust is None:
        return request, None
    return dataclasses.replace(request, messages=with_bust(request.messages, bust)), bust


def build_request(spec: ContenderSpec, case, repeat: int) -> GenerationRequest:
    """The case's settings, overridden by the contender's own sampling options.

    The seed moves with the repeat index: repeats at temperature > 0 are real, independent draws.
    """
    o = spec.options
    return GenerationRequest(
        messages=case.messages,
        max_tokens=o.get("max_tokens") or case.max_tokens,
        temperature=o["temperature"] if o.get("temperature") is not None else case.temperature,
        top_p=o.get("top_p"),
        top_k=o.get("top_k"),
        seed=(o.get("seed") or 0) + repeat,
        tools=list(case.tools) if getattr(case, "tools", None) else None,
    )


@dataclass
class RunSummary:
    run_id: str
    planned: int
    skipped: int = 0
    ran: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    status: str = "running"


class Progress:
    """What the scheduler tells the user; the CLI draws it, tests can ignore it."""

    def start(self, total: int, skipped: int) -> None: ...
    def contender(self, spec: str, pending: int) -> None: ...
    def advance(self, trial: Trial, status: str) -> None: ...
    def note(self, text: str) -> None: ...


def code_sandbox(trials: list[Trial], allow_unconfined_code: bool) -> dict | None:
    """The sandbox these trials' code checks will use (None: they run no model-written code).

    Raises InputError (exit 2) before any trial when the only isolation is rlimits and the user
    did not opt in: see bakeoff.sandbox.confinement."""
    if not runs_model_code([t.case for t in trials]):
        return None
    choice = confinement(allow_unconfined_code)
    return {**choice.to_dict(), "allow_unconfined_code": allow_unconfined_code}


def run_plan(db: Database, plan: list[Trial], suite_name: str | None, argv: list[str],
             trial_timeout_s: float = 300.0, retry_errors: bool = False,
             progress: Progress | None = None, executor=None,
             allow_unconfined_code: bool = False) -> RunSummary:
    """``executor`` runs one contender's pending trials (default: ``run_here``, in this process;
    bakeoff.run.ray_executor.RayExecutor runs them on Ray actors). Both share the plan, the trial
    identities and resume, so a run started with one executor can finish with the other.

    A plan whose pending trials run model-written code learns its sandbox first (and stops there
    when none isolates it and ``allow_unconfined_code`` is False); the sandbox is stored in the
    run's environment and told once through ``progress``."""
    executor = executor or run_here
    progress = progress or Progress()
    run_id = uuid.uuid4().hex[:12]
    summary = RunSummary(run_id=run_id, planned=len(plan))
    errored = db.finished_trial_ids(("error",)) if retry_errors else set()
    done = db.finished_trial_ids() - errored
    pending = [t for t in plan if t.id not in done]
    summary.skipped = len(plan) - len(pending)
    sandbox = code_sandbox(pending, allow_unconfined_code)  # before anything is changed or run
    db.delete_trials([t.id for t in plan if t.id in errored])
    # Where no energy counter exists, the worker estimates from this CPU power (cost config).
    tdp_watts, tdp_source = cpu_power(load_cost_config())
    db.start_run(run_id, _now(), suite_name, argv, __version__,
                 {**environment(), **({"sandbox": sandbox} if sandbox else {})})
    progress.start(len(plan), summary.skipped)
    if sandbox:
        progress.note(sandbox["line"])
        summary.notes.append(sandbox["line"])  # --json shows the summary, not the progress
    try:
        for spec_str, group in groupby(pending, key=lambda t: t.spec.canonical):
            trials = list(group)
            progress.contender(spec_str, len(trials))
            executor(db, run_id, trials, trial_timeout_s, summary, progress, tdp_watts, tdp_source)
        # Judges grade after every contender ran, so they never disturb timing or memory.
        summary.notes.extend(run_judge_phase(db, {t.id for t in plan}, run_id, trial_timeout_s, progress).notes)
        summary.status = "completed"
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    finally:
        db.finish_run(run_id, _now(), summary.status)
        release_ledgers(run_id)
    return summary


def release_ledgers(run_id: str) -> None:
    """Forget what a finished run sent to its servers."""
    for key in [k for k in _LEDGERS if k[0] == run_id]:
        del _LEDGERS[key]


def run_here(db: Database, run_id: str, trials: list[Trial], timeout: float, summary: RunSummary,
             progress: Progress, tdp_watts: float | None = None, tdp_source: str | None = None) -> None:
    """The local executor: one contender's trials in this process, on an event loop of their own."""
    asyncio.run(_run_contender_trials(db, run_id, trials, timeout, summary, progress, tdp_watts, tdp_source))


async def _run_contender_trials(db: Database, run_id: str, trials: list[Trial], timeout: float,
                                summary: RunSummary, progress: Progress, tdp_watts: float | None,
                                tdp_source: str | None) -> None:
    async with open_contender(trials[0].spec, timeout, tdp_watts=tdp_watts, tdp_source=tdp_source) as contender:
        backend, model_path, sha = contender.backend, contender.model_path, contender.sha256
        if contender.error is not None:
            _load_failed(db, run_id, trials, model_path, sha, contender.error, summary, progress)
            return
        _loaded(db, run_id, backend, trials[0].spec, model_path, sha, contender.facts, summary, progress)
        slots = asyncio.Semaphore(backend.concurrency)  # in-process: one trial at a time

        async def one(trial: Trial) -> None:
            async with slots:
                status = await _run_trial(db, run_id, backend, trial)
            summary.ran += 1
            summary.errors += status == "error"
            progress.advance(trial, status)

        await asyncio.gather(*(one(t) for t in trials))


def _load_failed(db, run_id, trials, model_path, sha, exc, summary, progress) -> None:
    db.record_contender(run_id, trials[0].spec, model_path, sha, {}, {}, [], str(exc))
    for trial in trials:
        _record_error(db, run_id, trial, f"contender failed to load: {exc}", _now())
        summary.errors += 1
        progress.advance(trial, "error")


def _loaded(db, run_id, backend, spec, model_path, sha, facts, summary, progress) -> None:
    notes = backend.notes()
    for text in notes:
        progress.note(text)
    summary.notes.extend(notes)
    facts = {"runs_in": backend.runs_in, **facts}
    db.record_contender(run_id, spec, model_path, sha, facts, backend.load_info, notes, None)


def _base_row(run_id: str, trial: Trial, started: str) -> dict:
    return {
        "id": trial.id, "run_id": run_id, "spec": trial.spec.canonical, "case_id": trial.case.id,
        "repeat": trial.repeat, "sweep": trial.sweep, "case_json": trial.case.identity(),
        "started_at": started,
        "tags": json.dumps(trial.case.tags) if trial.case.tags else None,  # per-tag figures in the report
        # on every row, error trials too: the visual-budget report finds image trials by it
        "image_count": count_images(trial.case.messages) or None,
    }


def _retry_columns(retries: list[dict] | None) -> dict:
    return {"retries": len(retries or []), "retry_log": json.dumps(retries) if retries else None}


def _record_error(db: Database, run_id: str, trial: Trial, message: str, started: str,
                  request: GenerationRequest | None = None, retries: list[dict] | None = None) -> str:
    row = _base_row(run_id, trial, started)
    row.update(status="error", error=message, finished_at=_now(),
               request=request.to_dict() if request else None, **_retry_columns(retries))
    db.record_trial(row, [])
    return "error"


async def _run_trial(db: Database, run_id: str, backend: Backend, trial: Trial) -> str:
    """One trial through the backend's async contract; its row written (one commit)."""
    if trial.case.image_error:  # an image that cannot be sent fails this case only
        return _record_error(db, run_id, trial, trial.case.image_error, _now())
    if trial.case.turns or trial.case.agent:
        driver = _agent_loop(run_id, backend, trial) if trial.case.agent else _conversation(run_id, backend, trial)
        return await _run_steps(db, run_id, backend, trial, driver)
    started = _now()
    request, bust = _busted(trial.spec, build_request(trial.spec, trial.case, trial.repeat))
    measure = StreamMeasure()
    try:
        async for event in backend.agenerate(request):
            measure.feed(event)
    except BackendError as exc:
        return _record_error(db, run_id, trial, str(exc), started, request, measure.retries)
    return _record_ok(db, run_id, trial, started, request, measure, ledger_for(run_id, backend), bust)


def _record_ok(db: Database, run_id: str, trial: Trial, started: str, request: GenerationRequest,
               measure: StreamMeasure, ledger: Ledger | None = None, bust: str | None = None) -> str:
    figures = measure.finish()
    cache = classify_request(measure.cache, figures.prompt_tokens, request, ledger, bust)
    verdict = evaluate(trial.case.checks, measure.output, trial.case, calls=measure.tool_calls)
    row = _base_row(run_id, trial, started)
    if trial.case.tools:
        row.update(tool_calls=json.dumps(measure.tool_calls),
                   tool_summary=json.dumps({"mode": "single", **summarise_calls(measure.tool_calls, trial.case.tools)}))
    row.update(
        status="ok", error=None, request=request.to_dict(), prompt=measure.prompt,
        output=measure.output, reasoning=measure.reasoning or None,
        passed=None if verdict.passed is None else int(verdict.passed), score=verdict.score,
        finished_at=_now(), **asdict(figures), **_retry_columns(measure.retries),
        reasoning_tokens=measure.reasoning_tokens,
        thinking_truncated=None if measure.thinking_truncated is None else int(measure.thinking_truncated),
        **cache.columns(), cache_bust=bust,
    )
    db.record_trial(row, [asdict(r) for r in verdict.results])
    return "ok"


# --- trials of several requests: conversations (bakeoff.run.conversation) and agent loops --------
# (bakeoff.run.agent_loop); one request per turn or step, one trial, one commit


async def _run_steps(db: Database, run_id: str, backend: Backend, trial: Trial, driver) -> str:
    """Drive a trial of several requests (a Conversation or an AgentLoop: next_request / take),
    then record it; a backend failure ends it there, keeping the steps that finished."""
    started = _now()
    while (request := driver.next_request()) is not None:
        measure = StreamMeasure()
        try:
            async for event in backend.agenerate(request):
                measure.feed(event)
        except BackendError as exc:
            return _record_steps(db, run_id, trial, started, driver, exc, measure.retries)
        driver.take(measure)
    return _record_steps(db, run_id, trial, started, driver)


def _conversation(run_id: str, backend: Backend, trial: Trial) -> Conversation:
    """A conversation's turns reuse their own earlier turns (warm); with ``cold_turns`` each later
    turn's prompt is asked cold once more at the end (made unique by a marker where the server
    cannot be told not to reuse)."""
    options = trial.spec.options
    return Conversation(trial.case, build_request(trial.spec, trial.case, trial.repeat),
                        ledger=ledger_for(run_id, backend),
                        bust=bust_for(trial.spec),
                        cold_turns=bool(options.get("cold_turns")),
                        cold_bust=backend.cold_control() is None)


def _agent_loop(run_id: str, backend: Backend, trial: Trial) -> AgentLoop:
    """The model calls tools until it answers; the whole loop is one trial."""
    return AgentLoop(trial.case, build_request(trial.spec, trial.case, trial.repeat),
                     ledger=ledger_for(run_id, backend), bust=bust_for(trial.spec))


def _record_steps(db: Database, run_id: str, trial: Trial, started: str, driver: Conversation | AgentLoop,
                  exc: BaseException | None = None, failed_retries: list[dict] | None = None) -> str:
    """The trial row, its check results and its turns or steps in one transaction. On an error the
    ones that finished are kept (the trial is an error naming the turn or step)."""
    row = _base_row(run_id, trial, started)
    key = driver.step_name
    retries = [dict(r, **{key: i + 1}) for i, m in enumerate(driver.measures) for r in m.retries]
    retries += [dict(r, **{key: driver.index}) for r in failed_retries or []]
    request = driver.request.to_dict() if driver.request else None
    store = getattr(db, driver.store_with)
    error = driver.failure(exc)
    if error is not None:
        row.update(status="error", error=error, finished_at=_now(), request=request, **driver.error_columns(),
                   **_retry_columns(retries))
        store(row, [], driver.rows)
        return "error"
    row.update(status="ok", error=None, request=request, finished_at=_now(), **driver.trial_columns(),
               **_retry_columns(retries))
    store(row, [asdict(r) for r in driver.results], driver.rows)
    return "ok"
