"""The judge phase, and pairwise judging.

**Rubric judges.** A judge check is only marked ``pending`` when its trial is recorded (see
``bakeoff.checks.evaluate``), so the judge model never shares memory with a contender or slows a
timed trial. After the last contender, ``run_judge_phase`` loads each judge once, grades every
pending check, writes the check's row, what the judge said (``judgements``), and the trial's
recomputed verdict, one transaction per check. An interrupted phase leaves the rest pending; the
next ``bakeoff run`` of the same plan (whose trials are then all skipped) finishes them. A judge
that cannot be loaded leaves its checks pending and says why (``judges.error``). A reply that
cannot be parsed, or a request the judge fails, is ``judge_error``: the check row says so in its
detail, and the trial's verdict is computed without it (a trial whose only check is in error has
no verdict, like a case without checks), so a bad judge never turns into a fail.

**Pairwise.** ``pairwise`` shows the judge two contenders' answers to the same case in both orders,
(A, B) and (B, A). A verdict counts only when both orders name the same winner (or both say tie);
otherwise the pair is ``inconsistent`` (position bias). Both raw replies are stored
(``pairwise_judgements``); ``pairwise_summary`` gives wins, losses, ties, inconsistent pairs and
judge errors, and A's win rate over decided pairs with a Wilson 95% interval.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bakeoff.backends import make_backend
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.checks.judge import (
    JUDGE_ERROR,
    KIND,
    PENDING,
    ReplyError,
    Scale,
    is_judge_error,
    is_pending,
    judge_from_identity,
    parse_reply,
    reasons_chars,
    reply_schema,
    transcript,
)
from bakeoff.errors import InputError
from bakeoff.run.contender import SyncContender
from bakeoff.spec import ContenderSpec, parse_contender, parse_spec
from bakeoff.store import Database


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# --- one judge model ---------------------------------------------------------------------


@dataclass
class Reply:
    text: str
    finish: str | None
    e2e_ms: float


class JudgeSession:
    """A judge contender, opened once (bakeoff.run.contender) and asked many requests, one at a
    time, through the async backend contract (on an event loop of its own)."""

    def __init__(self, spec: ContenderSpec, trial_timeout_s: float = 300.0):
        self.spec = spec
        self.backend = make_backend(spec, trial_timeout_s)  # bad settings stop here, before the phase
        self._held = SyncContender(spec, trial_timeout_s, failures=(BackendError, InputError), backend=self.backend)
        self.model_path = self.sha256 = None
        self.facts: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        """Open the judge; raises its load failure (BackendError, InputError)."""
        contender = self._held.open()
        self.model_path, self.sha256 = contender.model_path, contender.sha256
        if contender.error is not None:
            raise contender.error
        self.facts = contender.facts
        return self.facts

    def request(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> GenerationRequest:
        o = self.spec.options
        return GenerationRequest(messages=messages, max_tokens=int(o.get("max_tokens") or max_tokens),
                                 temperature=float(o["temperature"]) if o.get("temperature") is not None else 0.0,
                                 top_p=o.get("top_p"), top_k=o.get("top_k"), seed=int(o.get("seed") or 0),
                                 json_schema=schema)

    def ask(self, request: GenerationRequest) -> Reply:
        """The judge's reply (content only: reasoning is not the verdict). Raises BackendError."""
        t0 = time.perf_counter()
        parts: list[str] = []
        finish = None

        def take(event: dict) -> None:
            nonlocal finish
            if event.get("type") == "content":
                parts.append(event.get("text") or "")
            elif event.get("type") == "finish":
                finish = event.get("reason")

        self._held.stream(self.backend, request, take)
        return Reply("".join(parts), finish, (time.perf_counter() - t0) * 1000)

    def close(self) -> None:
        self._held.close()


def _reply_error(reply: Reply, exc: ReplyError) -> str:
    why = str(exc)
    if reply.finish == "length":
        why += " (the reply was cut at the judge's max_tokens)"
    return why


# --- the judge phase -----------------------------------------------------------------------


@dataclass
class JudgeSummary:
    graded: int = 0
    judge_errors: int = 0
    pending_left: int = 0
    notes: list[str] = field(default_factory=list)


def trial_verdict(rows: list[dict[str, Any]], threshold: float) -> tuple[bool | None, float | None]:
    """A trial's verdict from its check rows: None while a judge check is pending; judge errors
    left out; None when nothing is left (as for a case without checks)."""
    if any(is_pending(r["kind"], r["detail"]) for r in rows):
        return None, None
    usable = [r for r in rows if not is_judge_error(r["kind"], r["detail"])]
    total = sum(r["weight"] for r in usable)
    if not usable or total <= 0:
        return None, None
    score = sum(r["weight"] * r["score"] for r in usable) / total
    return score >= threshold - 1e-9, score


def run_judge_phase(db: Database, trial_ids: set[str] | list[str] | None = None, run_id: str | None = None,
                    trial_timeout_s: float = 300.0, progress=None,
                    session_factory: Callable[[ContenderSpec], JudgeSession] | None = None) -> JudgeSummary:
    """Grade every pending judge check (of ``trial_ids``, else of the whole database), one judge
    model loaded at a time."""
    run_id = run_id or f"judge-{uuid.uuid4().hex[:8]}"
    wanted = set(trial_ids) if trial_ids is not None else None
    summary = JudgeSummary()
    by_judge: dict[str, list[tuple[Any, Any]]] = {}
    for row in db.pending_judge_checks(wanted):
        case = json.loads(row["case_json"])
        checks = case.get("checks") or []
        ident = checks[row["idx"]] if row["idx"] < len(checks) and not case.get("turns") else None
        if ident is None or ident.get("kind") != KIND:
            _write_error(db, row, case, None, run_id, "cannot find this judge check's settings in the case "
                         "(judges grade one-turn cases)", None, summary)
            continue
        try:
            check = judge_from_identity(ident["params"])
        except Exception as exc:  # noqa: BLE001 - e.g. the judge's model file is gone since the trial ran
            _write_error(db, row, case, None, run_id, f"bad judge settings: {getattr(exc, 'message', exc)}", None, summary)
            continue
        by_judge.setdefault(check.spec.canonical, []).append((row, check))
    factory = session_factory or (lambda spec: JudgeSession(spec, trial_timeout_s))
    for judge_spec, items in by_judge.items():
        if progress is not None:
            progress.contender(f"judge {judge_spec}", len(items))
        session = factory(items[0][1].spec)
        try:
            try:
                facts = session.load()
            except (BackendError, InputError) as exc:
                msg = str(getattr(exc, "message", exc))
                db.record_judge(run_id, items[0][1].spec, session.model_path, session.sha256, {}, {}, msg, _now())
                note = f"judge {judge_spec} could not be loaded ({msg}); its {len(items)} checks stay pending"
                summary.notes.append(note)
                summary.pending_left += len(items)
                if progress is not None:
                    progress.note(note)
                continue
            db.record_judge(run_id, items[0][1].spec, session.model_path, session.sha256, facts,
                            getattr(session.backend, "load_info", {}), None, _now())
            for row, check in items:
                _grade_one(db, session, row, check, run_id, summary)
        finally:
            session.close()
    if summary.judge_errors and progress is not None:
        progress.note(f"{summary.judge_errors} judge checks ended in judge_error (left out of the verdicts)")
    return summary


def _grade_one(db: Database, session: JudgeSession, row, check, run_id: str, summary: JudgeSummary) -> None:
    case = json.loads(row["case_json"])
    request = session.request(check.messages(case["messages"], row["output"] or ""), check.schema(),
                              check.judge_max_tokens)
    try:
        reply = session.ask(request)
    except BackendError as exc:
        _write_error(db, row, case, check, run_id, f"the judge failed: {exc}", None, summary, request)
        return
    try:
        score, passed, value, reasons, detail = check.grade(reply.text)
    except ReplyError as exc:
        _write_error(db, row, case, check, run_id, _reply_error(reply, exc), reply, summary, request)
        return
    judgement = {"run_id": run_id, "judge_spec": check.spec.canonical, "outcome": "graded", "judge_score": value,
                 "reasons": reasons, "reply": reply.text, "error": None, "request": request.to_dict(),
                 "e2e_ms": reply.e2e_ms, "created_at": _now()}
    _commit(db, row, case, passed, score, detail, judgement)
    summary.graded += 1


def _write_error(db: Database, row, case: dict, check, run_id: str, why: str, reply: Reply | None,
                 summary: JudgeSummary, request: GenerationRequest | None = None) -> None:
    judgement = {"run_id": run_id, "judge_spec": check.spec.canonical if check else "?", "outcome": JUDGE_ERROR,
                 "judge_score": None, "reasons": None, "reply": reply.text if reply else None, "error": why,
                 "request": request.to_dict() if request else None, "e2e_ms": reply.e2e_ms if reply else None,
                 "created_at": _now()}
    _commit(db, row, case, False, 0.0, f"{JUDGE_ERROR}: {why}", judgement)
    summary.judge_errors += 1


def _commit(db: Database, row, case: dict, passed: bool, score: float, detail: str, judgement: dict) -> None:
    rows = [dict(r) for r in db.check_results(row["trial_id"])]
    for r in rows:
        if r["idx"] == row["idx"]:
            r.update(passed=int(passed), score=score, detail=detail)
    verdict = trial_verdict(rows, float(case.get("pass_threshold", 1.0)))
    db.record_judgement(row["trial_id"], row["idx"], passed, score, detail, judgement, verdict)


# --- pairwise ----------------------------------------------------------------------------------

DEFAULT_CRITERIA = ("Prefer the response that does what the task asks, correctly and completely. "
                    "Length and style matter only where the task asks for them.")
PAIR_SYSTEM = ("Compare two responses, A and B, to the same TASK. Reply with JSON: reasons (one short sentence), "
               "then winner: A, B or tie.")
WINNERS = ["A", "B", "tie"]


def pair_messages(task: str, first: str, second: str, criteria: str) -> list[dict[str, str]]:
    user = (f"TASK:\n{task}\n\nRESPONSE A:\n{first}\n\nRESPONSE B:\n{second}\n\n"
            f"Which response is better? {criteria}")
    return [{"role": "system", "content": PAIR_SYSTEM}, {"role": "user", "content": user}]


def combine(pick_ab: str | None, pick_ba: str | None) -> str:
    """The pair's verdict from both orders, each already in terms of the contenders (a, b, tie)."""
    if pick_ab is None or pick_ba is None:
        return JUDGE_ERROR
    return pick_ab if pick_ab == pick_ba else "inconsistent"


@dataclass
class PairwiseSummary:
    spec_a: str
    spec_b: str
    judge: str
    criteria: str
    pairs: int = 0
    wins: int = 0           # A preferred in both orders
    losses: int = 0         # B preferred in both orders
    ties: int = 0           # tie in both orders
    inconsistent: int = 0   # the orders disagree (position bias)
    judge_errors: int = 0
    win_rate: float | None = None          # wins / (wins + losses)
    win_rate_ci: list[float] | None = None  # Wilson 95%
    new: int = 0            # pairs judged by this call (the rest were in the database)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        rate = "n/a" if self.win_rate is None else (
            f"{self.win_rate:.0%} [{self.win_rate_ci[0]:.0%}, {self.win_rate_ci[1]:.0%}]")
        return (f"{self.spec_a} vs {self.spec_b}, judged by {self.judge} in both orders on {self.pairs} cases:\n"
                f"  A wins {self.wins}, B wins {self.losses}, ties {self.ties}, inconsistent {self.inconsistent}"
                f" (the orders disagreed), judge errors {self.judge_errors}\n"
                f"  A's win rate over decided pairs: {rate} (Wilson 95%)")


def _resolve(db: Database, text: str) -> str:
    canonical = parse_spec(text).canonical
    if not db.ok_trials_of(canonical):
        known = db.specs_with_ok_trials()
        raise InputError(f"no finished trials of {canonical} in {db.path}; it holds: {', '.join(known) or 'none'}")
    return canonical


def _latest(db: Database, spec: str) -> dict[tuple, Any]:
    out = {}
    for r in db.ok_trials_of(spec):  # oldest first: a later trial of the same case replaces it
        case = json.loads(r["case_json"])
        key = (r["case_id"], json.dumps(case.get("messages"), sort_keys=True), r["repeat"])
        out[key] = (r, case)
    return out


def pairwise(db: Database, spec_a: str, spec_b: str, judge: str | JudgeSession,
             criteria: str = DEFAULT_CRITERIA, max_tokens: int = 96, run_id: str | None = None,
             trial_timeout_s: float = 300.0, progress=None) -> PairwiseSummary:
    """Judge A against B on every case both answered (same case id, text and repeat index),
    asking in both orders. Pairs already judged (same trials, judge and criteria) are kept."""
    a, b = _resolve(db, spec_a), _resolve(db, spec_b)
    if a == b:
        raise InputError(f"pairwise needs two different contenders (both are {a})")
    session = judge if isinstance(judge, JudgeSession) else JudgeSession(parse_contender(judge), trial_timeout_s)
    judge_spec = session.spec.canonical
    run_id = run_id or f"judge-{uuid.uuid4().hex[:8]}"
    side_a, side_b = _latest(db, a), _latest(db, b)
    keys = [k for k in side_a if k in side_b]
    if not keys:
        raise InputError(f"{a} and {b} have no case in common to compare")
    done = {(r["trial_a"], r["trial_b"]) for r in db.pairwise_judgements(a, b, judge_spec) if r["criteria"] == criteria}
    todo = [k for k in keys if (side_a[k][0]["id"], side_b[k][0]["id"]) not in done]
    new = 0
    if todo:
        if progress is not None:
            progress.contender(f"judge {judge_spec}", len(todo))
        schema = reply_schema(Scale(0, 1), reasons_chars(int(session.spec.options.get("max_tokens") or max_tokens)),
                              score_key="winner", values=WINNERS)
        if not isinstance(judge, JudgeSession) or not getattr(judge, "facts", None):
            try:
                facts = session.load()
            except BackendError as exc:
                session.close()
                raise InputError(f"the judge {judge_spec} could not be loaded: {exc}") from None
            db.record_judge(run_id, session.spec, session.model_path, session.sha256, facts,
                            getattr(session.backend, "load_info", {}), None, _now())
        try:
            for key in todo:
                (ta, case), (tb, _) = side_a[key], side_b[key]
                task = transcript(case["messages"])
                replies, picks, whys = [], [], []
                for first, second, mapping in ((ta, tb, {"A": "a", "B": "b"}), (tb, ta, {"A": "b", "B": "a"})):
                    request = session.request(pair_messages(task, first["output"] or "", second["output"] or "", criteria),
                                              schema, max_tokens)
                    try:
                        reply = session.ask(request)
                    except BackendError as exc:
                        replies.append(None), picks.append(None), whys.append(f"the judge failed: {exc}")
                        continue
                    replies.append(reply.text)
                    try:
                        winner, _reasons = parse_reply(reply.text, WINNERS, score_key="winner")
                    except ReplyError as exc:
                        picks.append(None), whys.append(_reply_error(reply, exc))
                        continue
                    picks.append(mapping.get(winner, "tie"))
                verdict = combine(picks[0], picks[1])
                db.record_pairwise({
                    "run_id": run_id, "case_id": key[0], "repeat": key[2], "trial_a": ta["id"], "trial_b": tb["id"],
                    "spec_a": a, "spec_b": b, "judge_spec": judge_spec, "criteria": criteria,
                    "reply_ab": replies[0], "reply_ba": replies[1], "pick_ab": picks[0], "pick_ba": picks[1],
                    "verdict": verdict, "detail": "; ".join(whys) or None, "created_at": _now()})
                new += 1
        finally:
            if not isinstance(judge, JudgeSession):
                session.close()
    out = pairwise_summary(db, a, b, judge_spec, criteria)
    out.new = new
    return out


def pairwise_summary(db: Database, spec_a: str, spec_b: str, judge_spec: str,
                     criteria: str = DEFAULT_CRITERIA) -> PairwiseSummary:
    from bakeoff.util.stats import wilson_interval

    out = PairwiseSummary(spec_a, spec_b, judge_spec, criteria)
    for r in db.pairwise_judgements(spec_a, spec_b, judge_spec):
        if r["criteria"] != criteria:
            continue
        out.pairs += 1
        v = r["verdict"]
        out.wins += v == "a"
        out.losses += v == "b"
        out.ties += v == "tie"
        out.inconsistent += v == "inconsistent"
        out.judge_errors += v == JUDGE_ERROR
    decided = out.wins + out.losses
    if decided:
        out.win_rate = out.wins / decided
        out.win_rate_ci = list(wilson_interval(out.wins, decided))
    return out


__all__ = [
    "PENDING",
    "JudgeSession",
    "JudgeSummary",
    "PairwiseSummary",
    "combine",
    "pairwise",
    "pairwise_summary",
    "run_judge_phase",
    "trial_verdict",
]
