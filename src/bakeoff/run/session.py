"""Running repository sessions (bakeoff.suite.repo.session): per contender, per repeat, one
conversation of the planned turns, each turn scored and committed as soon as it ends.

- The first turn is cold; each later turn may reuse the conversation's own prefix (warm), as a
  chat client gets it; its label says what the engine reused.
- Before each turn the prompt is counted with the contender's tokenizer. When it no longer fits
  the context (prompt + the turn's reply allowance), the context has run out: that turn is
  recorded as the session's ``context_full_turn`` and the earliest exchanges after the first
  (which holds the files) are left out of the history until a quarter of the context is free, as
  a chat client trims; again whenever it fills up. A turn that cannot fit even then ends the session (status ``stopped``). An engine that
  refuses a prompt as too long is treated the same way.
- Servers: the first turn of a session shares the files with every other session of the run, so
  it is classified against what the run sent the server before (a possible prefix-cache hit is
  labelled and left out of the cold figures); ``cache=bust`` on the spec puts a unique marker
  before the files of each session instead.
- Resume: a session's turns are in the database; running the same command again continues each
  unfinished session at its next turn, with the history rebuilt from the stored replies.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from dataclasses import dataclass, field

from bakeoff import __version__
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.checks.session import score_turn
from bakeoff.measure.cache import classify_request
from bakeoff.measure.hardware import environment
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.contender import SyncContender
from bakeoff.run.scheduler import bust_for, ledger_for, release_ledgers
from bakeoff.store import Database
from bakeoff.suite.repo.session import SessionPlan
from bakeoff.suite.repo.tokens import budget_for

# A chat template's own tokens around each message, and its default system prompt (Qwen's is ~20).
MESSAGE_OVERHEAD = 8
TEMPLATE_RESERVE = 64
# Sessions sample as a chat client does, so repeats are real, different sessions (the seed moves
# with the repeat index); ?temperature=0 on the spec makes them greedy.
SESSION_TEMPERATURE = 0.7
TRIM_FREE = 4  # trimming frees a quarter of the context


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def session_id(plan: SessionPlan, spec: str, repeat: int) -> str:
    return hashlib.sha256(f"{plan.identity()}|{spec}|{repeat}".encode()).hexdigest()[:16]


@dataclass
class SessionSummary:
    run_id: str
    sessions: int = 0
    skipped: int = 0
    turns_run: int = 0
    resumed: list[str] = field(default_factory=list)  # "SPEC #R at turn N"
    errors: list[str] = field(default_factory=list)


class SessionProgress:
    """What the runner tells the user; the CLI prints it, tests can ignore it."""

    def session(self, spec: str, repeat: int, start_turn: int, total: int) -> None: ...
    def turn(self, row: dict, total: int) -> None: ...
    def note(self, text: str) -> None: ...


class History:
    """The messages of one session: the first user message carries the files; trimming leaves out
    the earliest exchanges after it, never the files."""

    def __init__(self, plan: SessionPlan, count, bust: str | None = None):
        self.plan, self.count, self.bust = plan, count, bust  # bust: cache=bust's marker, before the files
        self.exchanges: list[tuple[str, str]] = []  # (user text as sent, reply)
        self.dropped = 0

    def user_text(self, turn: dict) -> str:
        return (self.bust or "") + self.plan.first_message() + turn["user"] if turn["turn"] == 1 else turn["user"]

    def messages(self, user: str) -> list[dict]:
        kept = self.exchanges[:1] + self.exchanges[1 + self.dropped:]
        out = []
        for u, reply in kept:
            out += [{"role": "user", "content": u}, {"role": "assistant", "content": reply}]
        return out + [{"role": "user", "content": user}]

    def tokens(self, messages: list[dict]) -> int:
        return TEMPLATE_RESERVE + sum(self.count(m["content"]) + MESSAGE_OVERHEAD for m in messages)

    def fit(self, user: str, allowance: int, context: int) -> tuple[list[dict] | None, int, bool]:
        """The messages for the next turn: (messages or None when nothing fits, prompt tokens counted,
        whether exchanges were left out now). When prompt + ALLOWANCE overflows CONTEXT, early
        exchanges are left out until a quarter of the context is free again, so the turns after it
        fit without trimming (and re-evaluating the changed history) again; as few as fit when the
        files and the first exchange leave no such room."""
        messages = self.messages(user)
        n = self.tokens(messages)
        if n + allowance <= context:
            return messages, n, False
        before = self.dropped
        for limit in (context - context // TRIM_FREE, context):
            self.dropped = before
            while True:
                messages = self.messages(user)
                n = self.tokens(messages)
                if n + allowance <= limit:
                    return messages, n, True
                if 1 + self.dropped >= len(self.exchanges):
                    break
                self.dropped += 1
        return None, n, True

    def drop_one_more(self) -> bool:
        if 1 + self.dropped >= len(self.exchanges):
            return False
        self.dropped += 1
        return True


def run_sessions(db: Database, plan: SessionPlan, specs: list, repeat: int, repo: str, suite_name: str,
                 argv: list[str], timeout: float, progress: SessionProgress | None = None) -> SessionSummary:
    progress = progress or SessionProgress()
    run_id = uuid.uuid4().hex[:12]
    summary = SessionSummary(run_id)
    db.start_run(run_id, _now(), suite_name, argv, __version__, environment())
    status = "interrupted"
    try:
        for spec in specs:
            pending = []
            for r in range(repeat):
                sid = session_id(plan, spec.canonical, r)
                row = db.session_row(sid)
                if row is not None and row["status"] in ("ok", "stopped"):
                    summary.skipped += 1
                else:
                    pending.append((r, sid))
            if pending:
                _run_contender_sessions(db, run_id, plan, spec, pending, repo, timeout, summary, progress)
        status = "completed"
    finally:
        db.finish_run(run_id, _now(), status)
        release_ledgers(run_id)
    return summary


def _run_contender_sessions(db, run_id, plan, spec, pending, repo, timeout, summary, progress) -> None:
    engine = SyncContender(spec, timeout)  # turn by turn from this thread
    budget = budget_for(spec)
    try:
        contender = engine.open()
        backend, model_path, sha = contender.backend, contender.model_path, contender.sha256
        if contender.error is not None:
            exc = contender.error
            db.record_contender(run_id, spec, model_path, sha, {}, {}, [], str(exc))
            for r, sid in pending:
                db.start_session(sid, run_id, spec.canonical, r, repo, plan.document(), _now())
                db.finish_session(sid, "error", _now(), f"contender failed to load: {exc}")
                summary.errors.append(f"{spec.canonical} #{r}: contender failed to load: {exc}")
            return
        notes = backend.notes()
        for text in notes:
            progress.note(text)
        db.record_contender(run_id, spec, model_path, sha, {"runs_in": backend.runs_in, **contender.facts},
                            backend.load_info, notes, None)
        ask = functools.partial(_ask, engine, backend)
        for r, sid in pending:
            _run_one(db, run_id, plan, spec, r, sid, ask, budget, repo, summary, progress, ledger_for(run_id, backend))
    finally:
        engine.close()


def _ask(engine: SyncContender, backend, request: GenerationRequest, measure: StreamMeasure) -> None:
    """Feed the reply's events to MEASURE as they stream."""
    engine.stream(backend, request, measure.feed)


def _request(spec, messages: list[dict], turn: dict, repeat: int, sid: str) -> GenerationRequest:
    o = spec.options
    return GenerationRequest(
        messages=messages, max_tokens=o.get("max_tokens") or turn["max_tokens"],
        temperature=o["temperature"] if o.get("temperature") is not None else SESSION_TEMPERATURE,
        top_p=o.get("top_p"), top_k=o.get("top_k"), seed=(o.get("seed") or 0) + repeat,
        warm=turn["turn"] > 1, cache_salt=sid)


def _context_refused(exc: Exception) -> bool:
    text = str(exc).lower()
    return "context" in text and ("token" in text or "exceed" in text)


def _run_one(db, run_id, plan, spec, repeat, sid, ask, budget, repo, summary, progress, ledger) -> None:
    """LEDGER: what this run sent the contender's server (None in-process), so a first turn whose
    files a server may still hold from an earlier session is labelled so, not counted cold."""
    db.start_session(sid, run_id, spec.canonical, repeat, repo, plan.document(), _now())
    bust = bust_for(spec)
    history = History(plan, budget.count, bust)
    stored = db.session_turns(sid)
    full_turn = db.session_row(sid)["context_full_turn"]
    for row in stored:
        history.exchanges.append((history.user_text(plan.turns[row["turn"] - 1]), row["reply"] or ""))
        history.dropped = max(history.dropped, row["dropped_turns"] or 0)
    start = len(stored) + 1
    if stored:
        summary.resumed.append(f"{spec.canonical} #{repeat} at turn {start}")
    summary.sessions += 1
    progress.session(spec.canonical, repeat, start, len(plan.turns))
    for turn in plan.turns[start - 1:]:
        user = history.user_text(turn)
        allowance = spec.options.get("max_tokens") or turn["max_tokens"]
        messages, counted, trimmed = history.fit(user, allowance, budget.context)
        full_now = full_turn is None and (trimmed or messages is None)
        if full_now:
            full_turn = turn["turn"]
        if messages is None:
            _stop(db, sid, turn, counted, history, full_turn, budget.context, allowance)
            return
        started = _now()
        measure = StreamMeasure()
        while True:
            request = _request(spec, messages, turn, repeat, sid)
            try:
                ask(request, measure)
                break
            except BackendError as exc:
                if _context_refused(exc) and history.drop_one_more():
                    full_turn = full_turn or turn["turn"]
                    full_now = True
                    messages = history.messages(user)
                    counted = history.tokens(messages)
                    measure = StreamMeasure()
                    continue
                if _context_refused(exc):
                    _stop(db, sid, turn, counted, history, full_turn or turn["turn"], budget.context, allowance,
                          f"the engine refused the prompt: {exc}")
                    return
                db.finish_session(sid, "error", _now(), f"turn {turn['turn']} of {len(plan.turns)}: {exc}")
                summary.errors.append(f"{spec.canonical} #{repeat}: turn {turn['turn']}: {exc}")
                return
        figures = measure.finish()
        cache = classify_request(measure.cache, figures.prompt_tokens, request, ledger, bust)
        verdict = score_turn(measure.output, turn["key"], plan.defect)
        row = {"turn": turn["turn"], "kind": turn["kind"], "fact": turn["fact"], "user": turn["user"],
               "reply": measure.output, "answer": verdict.answer, "passed": int(verdict.passed),
               "score": verdict.score, "outcome": verdict.outcome, "detail": verdict.detail,
               "ttft_ms": figures.ttft_ms, "e2e_ms": figures.e2e_ms, "prompt_tokens": figures.prompt_tokens,
               "output_tokens": figures.output_tokens, "engine_prompt_n": figures.engine_prompt_n,
               "engine_prompt_ms": figures.engine_prompt_ms, "engine_prefill_tps": figures.engine_prefill_tps,
               "cached_tokens": cache.cached_tokens, "cache_label": cache.label, "cache_warm": int(cache.warm),
               "cache_cold": None if cache.cold is None else int(cache.cold),
               "finish_reason": figures.finish_reason, "history_tokens": counted, "dropped_turns": history.dropped,
               "started_at": started, "finished_at": _now()}
        db.record_session_turn(sid, row, full_turn if full_now else None)
        history.exchanges.append((user, measure.output))
        summary.turns_run += 1
        progress.turn(row, len(plan.turns))
    db.finish_session(sid, "ok", _now())


def _stop(db, sid, turn, counted, history, full_turn, context, allowance, why: str | None = None) -> None:
    """The turn cannot be asked even with every earlier exchange but the first left out: the session ends."""
    reason = why or (f"turn {turn['turn']} needs {counted} + {allowance} tokens with only the files and the first "
                     f"exchange kept; the context holds {context}")
    row = {"turn": turn["turn"], "kind": turn["kind"], "fact": turn["fact"], "user": turn["user"], "reply": None,
           "passed": None, "score": None, "outcome": "context_full", "detail": reason, "history_tokens": counted,
           "dropped_turns": history.dropped, "started_at": _now(), "finished_at": _now()}
    db.record_session_turn(sid, row, full_turn)
    db.finish_session(sid, "stopped", _now(), reason)

