"""LLM judges on real models: rubric checks graded in their own phase (pending at trial time,
resumed after an interrupt), grammar-constrained replies that parse every time (50 verdicts from
qwen2.5-coder-0.5b), unusable replies recorded as judge_error (never fail), pairwise judging in
both orders, and bad judge settings refused with file:line."""

from __future__ import annotations

import json

import pytest
from conftest import bakeoff

from bakeoff.backends.base import GenerationRequest
from bakeoff.checks import build_check, evaluate
from bakeoff.checks.judge import (
    JUDGE_ERROR,
    ReplyError,
    Scale,
    is_judge_error,
    is_pending,
    parse_reply,
    reasons_chars,
    reply_schema,
)
from bakeoff.run import judges as J
from bakeoff.run.judges import (
    JudgeSession,
    Reply,
    combine,
    pairwise,
    run_judge_phase,
    trial_verdict,
)
from bakeoff.run.plan import make_plan
from bakeoff.spec import parse_contender
from bakeoff.store import Database
from bakeoff.suite import load_suite, parse_suite

A = "smollm2-135m?threads=1"
B = "gemma3-270m?threads=1"
JUDGE = "qwen2.5-coder-0.5b?threads=1"          # max_tokens 48 set in the check
BAD_JUDGE = "qwen2.5-coder-0.5b?threads=1&max_tokens=2"  # its reply can never be a whole object
GOOD_CASES, BAD_CASES = 10, 1


def _suite_text() -> str:
    lines = ["defaults:", "  max_tokens: 16", "  temperature: 0", "cases:"]
    for i in range(GOOD_CASES):
        lines += [f"  - id: add-{i}", f"    prompt: 'What is {i} + {i}? Answer in one short sentence.'",
                  "    checks:", f"      - regex: '\\b{2 * i}\\b'",
                  (f"      - judge: {{rubric: 'The response gives the correct sum, {2 * i}.', judge: '{JUDGE}',"
                   " scale: 1-5, pass_at: 4, max_tokens: 48}")]
    for i in range(BAD_CASES):
        lines += [f"  - id: colour-{i}", "    prompt: 'Name one colour of the rainbow. One word.'",
                  "    checks:", "      - contains: {any: [red, orange, yellow, green, blue, indigo, violet]}",
                  f"      - judge: {{rubric: 'Names a colour.', judge: '{BAD_JUDGE}', scale: pass/fail}}"]
    return "\n".join(lines) + "\n"


class SharedJudge(JudgeSession):
    """The qwen judge, loaded once for the whole module; counts every reply it gives and can be
    told to stop (KeyboardInterrupt, as Ctrl-C) before a given request."""

    def __init__(self, spec):
        super().__init__(spec, 300.0)
        self.replies: list[tuple[dict, Reply]] = []
        self.interrupt_at: int | None = None

    def load(self):
        return self.facts or super().load()

    def ask(self, request):
        if self.interrupt_at is not None and len(self.replies) >= self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        reply = super().ask(request)
        self.replies.append((request.json_schema, reply))
        return reply

    def close(self):
        pass  # the fixture closes it

    def really_close(self):
        super().close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, smollm2, qwen05, gemma3):
    from bakeoff.run import scheduler
    from bakeoff.run.scheduler import run_plan

    tmp = tmp_path_factory.mktemp("judges")
    (tmp / "suite.yaml").write_text(_suite_text())
    suite = load_suite(tmp / "suite.yaml")
    plan = make_plan([parse_contender(A), parse_contender(B)], suite.cases)
    db = Database(tmp / "j.db")
    out: dict = {"db": db, "plan": plan}
    # The trials alone first (run_plan's judge phase switched off), so the judge checks are pending.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scheduler, "run_judge_phase", lambda *a, **k: J.JudgeSummary())
        run_plan(db, plan, "judges", ["test"])
    out["after_run"] = [dict(r) for r in db.conn.execute("SELECT * FROM check_results WHERE kind = 'judge'")]
    out["trials_after_run"] = {r["id"]: dict(r) for r in db.trials()}

    shared = SharedJudge(parse_contender(JUDGE))
    out["judge"] = shared
    factory = lambda spec: shared if spec.canonical == shared.spec.canonical else JudgeSession(spec)
    try:
        # Ctrl-C during the judge phase, after 7 verdicts; then the phase again finishes the rest.
        shared.interrupt_at = 7
        with pytest.raises(KeyboardInterrupt):
            run_judge_phase(db, {t.id for t in plan}, run_id="r1", session_factory=factory)
        out["pending_after_interrupt"] = len(db.pending_judge_checks())
        out["summary"] = run_judge_phase(db, {t.id for t in plan}, run_id="r2", session_factory=factory)
        # Pairwise, smollm2 vs gemma3, on the same 12 cases, both orders: 24 more verdicts.
        out["pairwise"] = pairwise(db, A, B, shared, max_tokens=48)
        out["pairwise_again"] = pairwise(db, A, B, shared, max_tokens=48)  # all in the database: nothing asked
        # Direct pass/fail calls up to 50 verdicts from the same judge.
        rows = [r for r in db.trials() if r["status"] == "ok"]
        check = build_check({"judge": {"rubric": "The response is a complete sentence.", "judge": JUDGE,
                                       "scale": "pass/fail", "max_tokens": 48}}).check
        out["direct"] = []
        for row in rows[: 50 - len(shared.replies)]:
            case = json.loads(row["case_json"])
            reply = shared.ask(shared.request(check.messages(case["messages"], row["output"]), check.schema(),
                                              check.judge_max_tokens))
            out["direct"].append(check.grade(reply.text))
        yield out
    finally:
        shared.really_close()
        db.close()


# --- the judge phase on real models --------------------------------------------------------------


def test_judge_checks_are_pending_until_the_judge_phase(world):
    total = (GOOD_CASES + BAD_CASES) * 2
    assert len(world["after_run"]) == total
    assert all(is_pending(r["kind"], r["detail"]) for r in world["after_run"])
    # No verdict while a judge is pending (the deterministic checks alone do not decide).
    assert all(t["passed"] is None and t["score"] is None for t in world["trials_after_run"].values())
    assert world["pending_after_interrupt"] == total - 7


def test_phase_grades_every_pending_check_and_recomputes_verdicts(world):
    db = world["db"]
    assert not db.pending_judge_checks()
    s = world["summary"]
    assert (s.graded, s.judge_errors, s.pending_left) == (GOOD_CASES * 2 - 7, BAD_CASES * 2, 0)
    judgements = db.judgements()
    assert len(judgements) == (GOOD_CASES + BAD_CASES) * 2
    assert {j["run_id"] for j in judgements} == {"r1", "r2"}
    for t in db.trials():
        rows = [dict(r) for r in db.check_results(t["id"])]
        case = json.loads(t["case_json"])
        assert (None if t["passed"] is None else bool(t["passed"]), t["score"]) == trial_verdict(rows, case["pass_threshold"])
        judge_row = rows[1]
        if t["case_id"].startswith("add-"):
            j = next(j for j in judgements if j["trial_id"] == t["id"])
            assert j["outcome"] == "graded" and 1 <= j["judge_score"] <= 5 and j["reply"].startswith("{")
            assert judge_row["detail"].startswith(f"{j['judge_score']}/5 (pass at 4): ")
            assert judge_row["passed"] == (j["judge_score"] >= 4)
            assert json.loads(j["request"])["json_schema"]["properties"]["reasons"]["maxLength"] == reasons_chars(48)
    # The judge model's file hash is stored with the run that loaded it.
    judges = list(db.conn.execute("SELECT * FROM judges"))
    assert {r["spec"] for r in judges} == {"llamacpp:qwen2.5-coder-0.5b?threads=1",
                                          "llamacpp:qwen2.5-coder-0.5b?max_tokens=2&threads=1"}
    assert all(len(r["model_sha256"]) == 64 and r["error"] is None for r in judges)


def test_unparseable_reply_is_judge_error_not_fail(world):
    db = world["db"]
    bad = [t for t in db.trials() if t["case_id"].startswith("colour-")]
    assert len(bad) == BAD_CASES * 2
    for t in bad:
        contains, judge = db.check_results(t["id"])
        assert is_judge_error(judge["kind"], judge["detail"])
        assert "cut at the judge's max_tokens" in judge["detail"]
        # The verdict is the contains check's alone: the judge error neither fails nor passes it.
        assert t["passed"] == contains["passed"] and t["score"] == contains["score"]
        j = db.judgements(t["id"])[0]
        assert j["outcome"] == JUDGE_ERROR and j["reply"] is not None and len(j["reply"]) <= 8


def test_fifty_grammar_constrained_verdicts_all_parse(world):
    replies = world["judge"].replies
    assert len(replies) == 50
    for schema, reply in replies:
        assert reply.finish == "stop", reply
        data = json.loads(reply.text)  # the whole reply is the object: no text around it
        assert list(data) == list(schema["properties"])  # reasons first, then the verdict
        key = list(schema["properties"])[1]
        assert data[key] in schema["properties"][key]["enum"]
        assert len(data["reasons"]) <= schema["properties"]["reasons"]["maxLength"]
    assert len(world["direct"]) == 50 - (GOOD_CASES * 2 + (GOOD_CASES + BAD_CASES) * 2)


def test_pairwise_asks_both_orders_and_keeps_both_replies(world):
    db = world["db"]
    s = world["pairwise"]
    n = GOOD_CASES + BAD_CASES
    assert s.pairs == n and s.new == n and world["pairwise_again"].new == 0
    assert s.wins + s.losses + s.ties + s.inconsistent + s.judge_errors == n and s.judge_errors == 0
    rows = db.pairwise_judgements("llamacpp:smollm2-135m?threads=1", "llamacpp:gemma3-270m?threads=1")
    assert len(rows) == n
    for r in rows:
        assert r["reply_ab"] and r["reply_ba"] and r["reply_ab"].startswith("{")
        assert r["pick_ab"] in ("a", "b", "tie") and r["pick_ba"] in ("a", "b", "tie")
        assert r["verdict"] == combine(r["pick_ab"], r["pick_ba"])
    if s.wins + s.losses:
        lo, hi = s.win_rate_ci
        assert lo <= s.win_rate <= hi


class AlwaysFirst(JudgeSession):
    """A judge with total position bias: it always prefers whichever response it is shown first."""

    def __init__(self):
        self.spec = parse_contender("qwen2.5-coder-0.5b?threads=1&seed=99")
        self.facts, self.model_path, self.sha256, self.backend = {"stub": True}, None, None, None

    def ask(self, request):
        return Reply('{"reasons": "first is best", "winner": "A"}', "stop", 1.0)

    def close(self):
        pass


def test_position_biased_pairs_are_inconsistent_not_wins(world):
    s = pairwise(world["db"], A, B, AlwaysFirst(), criteria="Prefer the shorter response.")
    n = GOOD_CASES + BAD_CASES
    assert (s.pairs, s.inconsistent, s.wins, s.losses, s.ties) == (n, n, 0, 0, 0)
    assert s.win_rate is None and f"inconsistent {n}" in s.text()


# --- bakeoff run grades its judge checks after the contenders --------------------------------------


def test_bakeoff_run_judges_after_the_contenders(tmp_path, smollm2, qwen05):
    suite = tmp_path / "s.yaml"
    suite.write_text("defaults: {max_tokens: 8, temperature: 0}\ncases:\n  - id: one\n    prompt: 'What is 1 + 1?'\n"
                     f"    checks:\n      - judge: {{rubric: 'Says 2.', judge: '{JUDGE}', max_tokens: 48}}\n")
    db = tmp_path / "r.db"
    proc = bakeoff("run", suite, "-c", A, "--db", db)
    assert proc.returncode == 0, proc.stderr
    d = Database(db)
    try:
        assert not d.pending_judge_checks()
        assert d.judgements()[0]["outcome"] == "graded"
        assert d.trials()[0]["passed"] is not None
    finally:
        d.close()


# --- bad judge settings: exit 2 with file:line ------------------------------------------------------


@pytest.mark.parametrize("entry, message", [
    ("{rubric: 'ok', judge: 'nosuch-model'}", "judge: unknown model 'nosuch-model'"),
    ("{rubric: 'ok', judge: 'qwen2.5-coder-0.5b', pass_at: 9}", "pass_at 9 is outside the scale 1-5"),
    ("{rubric: 'ok', judge: 'qwen2.5-coder-0.5b', scale: 'ten'}", "scale is LO-HI"),
    ("{rubric: 'ok', judge: 'qwen2.5-coder-0.5b?thread=1'}", "unknown option 'thread'"),
    ("{rubric: 'ok', judg: 'qwen2.5-coder-0.5b'}", "unknown key 'judg'"),
    ("{judge: 'qwen2.5-coder-0.5b'}", "missing required key 'rubric'"),
])
def test_validate_refuses_bad_judge_settings(tmp_path, entry, message):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"cases:\n  - prompt: hi\n    checks:\n      - contains: hi\n      - judge: {entry}\n")
    proc = bakeoff("validate", suite)
    assert proc.returncode == 2
    assert f"{suite}:5:" in proc.stderr and message in proc.stderr, proc.stderr


def test_judge_inside_not_is_refused():
    with pytest.raises(Exception, match="cannot go inside 'not'"):
        parse_suite("cases:\n  - prompt: hi\n    checks:\n"
                    "      - not: {judge: {rubric: r, judge: qwen2.5-coder-0.5b}}\n")


# --- pieces -------------------------------------------------------------------------------------------


def test_evaluate_defers_judge_checks():
    spec = build_check({"judge": {"rubric": "r", "judge": "qwen2.5-coder-0.5b"}, "weight": 2})
    verdict = evaluate([build_check({"contains": "hi"}), spec], "hi there")
    assert verdict.passed is None and verdict.score is None
    assert [r.kind for r in verdict.results] == ["contains", "judge"]
    assert verdict.results[0].passed and is_pending("judge", verdict.results[1].detail)
    assert verdict.results[1].weight == 2
    # The identity uses the canonical spec: an alias and its llamacpp: form are one trial.
    assert spec.identity()["params"]["judge"] == "llamacpp:qwen2.5-coder-0.5b"


def test_trial_verdict_leaves_judge_errors_out():
    row = lambda kind, score, detail, w=1.0: {"kind": kind, "score": score, "weight": w, "detail": detail}
    assert trial_verdict([row("contains", 1.0, "ok"), row("judge", 0.0, "judge_error: not JSON")], 1.0) == (True, 1.0)
    assert trial_verdict([row("contains", 0.0, "no"), row("judge", 0.0, "judge_error: x")], 1.0) == (False, 0.0)
    assert trial_verdict([row("judge", 0.0, "judge_error: x")], 1.0) == (None, None)
    assert trial_verdict([row("contains", 1.0, "ok"), row("judge", 0.0, "pending: later")], 1.0) == (None, None)
    assert trial_verdict([row("contains", 1.0, "ok"), row("judge", 0.0, "2/5 (pass at 4): meh", 3)], 0.5) == (False, 0.25)


def test_parse_reply():
    assert parse_reply('{"reasons": "fine", "score": 4}', [1, 2, 3, 4, 5]) == (4, "fine")
    assert parse_reply('Sure!\n```json\n{"reasons": "x", "score": 2.0}\n```', [1, 2, 3]) == (2, "x")
    assert parse_reply('{"reasons": "x", "winner": "Tie"}', ["A", "B", "tie"], "winner") == ("tie", "x")
    for bad, why in [('{"', "not JSON"), ("", "empty"), ("[1]", "not a JSON object"),
                     ('{"reasons": "x"}', "no 'score'"), ('{"score": 9}', "not one of"),
                     ('{"score": true}', "not one of")]:
        with pytest.raises(ReplyError, match=why):
            parse_reply(bad, [1, 2, 3, 4, 5])


def test_scale():
    assert Scale.parse("1-5") == Scale(1, 5) and Scale.parse("1-5").default_pass_at == 4
    assert Scale.parse("0-10").default_pass_at == 8
    assert Scale.parse("pass/fail") == Scale(0, 1, binary=True)
    for bad in ("5-1", "ten", "1-500"):
        with pytest.raises(ValueError):
            Scale.parse(bad)


def test_schema_becomes_a_grammar_with_reasons_first():
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(reply_schema(Scale(1, 5), reasons_chars(48))))
    root = next(line for line in gbnf.splitlines() if line.startswith("root ::="))
    assert root.index("reasons-kv") < root.index("score-kv")
    assert 'score ::= "1" | "2" | "3" | "4" | "5"' in gbnf


def test_openai_compat_sends_response_format():
    from bakeoff.backends.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend("http://127.0.0.1:9/v1#judge", OpenAICompatBackend.Options())
    backend.model_name = "judge"
    schema = reply_schema(Scale(1, 5), 60)
    args = backend.request_args(GenerationRequest(messages=[{"role": "user", "content": "x"}], json_schema=schema))
    assert args["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "reply", "strict": True, "schema": schema}}
    assert "response_format" not in backend.request_args(GenerationRequest(messages=[{"role": "user", "content": "x"}]))
    backend.schema_lengths = False
    stripped = backend.request_args(GenerationRequest(messages=[], json_schema=schema))["response_format"]
    assert "maxLength" not in stripped["json_schema"]["schema"]["properties"]["reasons"]
    # Requests without a schema are stored as before.
    assert "json_schema" not in GenerationRequest(messages=[]).to_dict()
