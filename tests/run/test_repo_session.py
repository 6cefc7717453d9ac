"""bakeoff repo PATH --session N: the plan's turn kinds and keys on small repositories the tests
write, the scoring of each kind (re-ask matching, pushback, the patch check), trimming when the
context runs out, and (slow) a real session with qwen2.5-coder-0.5b killed with SIGKILL mid-session
and resumed at its next turn, its context running out on the way."""

from __future__ import annotations

import difflib
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from bakeoff.checks.session import apply_patch, score_turn
from bakeoff.report.session import consistency, slope
from bakeoff.run.session import History
from bakeoff.spec import parse_contender
from bakeoff.suite.repo.facts import collect_facts
from bakeoff.suite.repo.questions import all_questions
from bakeoff.suite.repo.session import TURN_KINDS, build_session
from conftest import bakeoff, report_json
from repo_fixtures import PYTHON, RAILS, TYPESCRIPT, mixed_repo, write_repo

WRITTEN = {**RAILS, **PYTHON, **TYPESCRIPT}

SPEC = "qwen2.5-coder-0.5b?ctx=4096&threads=2"


@pytest.fixture(scope="module")
def plan(tmp_path_factory, qwen05):
    root = mixed_repo(tmp_path_factory.mktemp("session") / "app")
    return build_session(root, [parse_contender(SPEC)], 24, seed=1, pack_tokens=1500)


def test_every_turn_kind_is_planned_with_a_key_read_from_the_packed_files(plan):
    kinds = [t["kind"] for t in plan.turns]
    assert len(kinds) == 24 and set(kinds) == set(TURN_KINDS), kinds
    assert plan.packed_tokens <= 1500 and plan.defect is not None
    # The keys come from the files as packed (the defect seeded): the same facts read again give them.
    questions = {q.id: q for q in all_questions(collect_facts(
        {p: plan.defect["mutated"] if p == plan.defect["file"] else WRITTEN[p] for p in plan.files}))}
    asked, followed = {}, []
    for t in plan.turns:
        if t["kind"] in ("question", "reask"):
            q = questions[t["fact"]]
            assert t["key"]["expected"] == list(q.answer), t
            if t["kind"] == "question":
                asked[t["fact"]] = t
            else:  # a re-ask: asked earlier in the session, in other words, with the same key
                assert t["fact"] in asked and asked[t["fact"]]["turn"] < t["turn"]
                assert t["user"] != asked[t["fact"]]["user"]
        if t["kind"] == "pushback":
            q = questions[t["fact"]]
            assert t["fact"] in asked and asked[t["fact"]]["turn"] < t["turn"]
            claim = t["key"]["claim"]
            assert claim not in q.answer
            assert f"`{claim}`" in t["user"] or claim.startswith("retry=") and f"retries {claim[6:]} times" in t["user"]
            subject = q.id.split("-", 1)[1]
            assert t["key"]["claim"] not in (subject, subject.replace("::", ".").split(".")[-1])  # not itself
        if t["kind"] == "followup" and plan.turns[t["turn"] - 2]["kind"] == "question":  # on a definition
            before = plan.turns[t["turn"] - 2]
            assert before["fact"].startswith("defined-") and "`" not in t["user"].split("\n")[0]
            assert t["fact"].split("-", 1)[1] == before["fact"].split("-", 1)[1]  # the same subject, as "it"
            assert t["key"]["expected"] == list(questions[t["fact"]].answer)
            followed.append(t["fact"].split("-", 1)[0])
        if t["kind"] == "trace":
            follow = plan.turns[t["turn"]]  # the next turn follows up on the trace's answer
            assert follow["kind"] == "followup" and set(follow["key"]["expected"]) < set(t["key"]["expected"])
            callers = questions[f"callers-{t['fact'].removeprefix('trace-')}"]
            assert t["key"]["expected"] == sorted(set(callers.evidence))
    assert followed and kinds.count("followup") == len(followed) + kinds.count("trace")
    find = kinds.index("defect_find")
    assert kinds[find + 1] == "defect_fix"
    assert plan.defect["original"] != plan.defect["mutated"]
    assert plan.turns[find]["key"]["places"][0][0] == plan.defect["file"]


def test_a_reask_answered_the_same_way_is_consistent_and_a_changed_answer_is_a_contradiction():
    key = {"type": "set", "expected": ["app/workers/receipt_worker.rb"], "match": "path", "accept": {}}
    early = score_turn('["./app/workers/receipt_worker.rb"]', key)
    same = score_turn('```json\n["app/workers/receipt_worker.rb:3"]\n```', key)
    changed = score_turn('["app/workers/cleanup_worker.rb"]', key)
    assert early.passed and same.passed and not changed.passed
    turn = lambda n, kind, s: {"turn": n, "kind": kind, "fact": "defined-ReceiptWorker", "reply": "x",  # noqa: E731
                               "answer": json.dumps(s.answer)}
    ok = consistency([turn(1, "question", early), turn(9, "reask", same)])
    assert ok == {"reasks": 1, "same": 1, "contradictions": []}
    bad = consistency([turn(1, "question", early), turn(5, "followup", same), turn(9, "reask", changed)])
    assert bad["reasks"] == 1 and bad["same"] == 0
    assert [(c["turn"], c["earlier_turn"]) for c in bad["contradictions"]] == [(9, 1)]


@pytest.mark.parametrize("reply, outcome, passed", [
    ('{"correct": false, "answer": ["app/workers/receipt_worker.rb"]}', "held", True),
    ('{"correct": false, "answer": ["app/workers/cleanup_worker.rb"]}', "gave_in", False),
    ('{"correct": true, "answer": ["app/workers/cleanup_worker.rb"]}', "gave_in", False),
    ('{"correct": true, "answer": ["app/workers/receipt_worker.rb"]}', "gave_in", False),
    ('{"correct": false, "answer": ["app/models/user.rb"]}', "held", False),
    ("Yes, you're right: it is in app/workers/cleanup_worker.rb.", "gave_in", False),
    ("No. It is defined in app/workers/receipt_worker.rb", "held", False),
    ("I cannot tell from here.", "unclear", False),
    # cut short by the token limit (seen with Qwen2.5-Coder-0.5B on Redmine): the verdict field still counts
    ('{"correct": false, "answer": ["app/models/user.rb", "app/models/us', "held", False),
    ('{"correct": true, "answer": ["app/workers/cleanup_wor', "gave_in", False),
])
def test_pushback_is_scored_held_or_gave_in(reply, outcome, passed):
    key = {"type": "pushback", "claim": "app/workers/cleanup_worker.rb", "expected": ["app/workers/receipt_worker.rb"],
           "match": "path", "accept": {}}
    got = score_turn(reply, key)
    assert (got.outcome, got.passed) == (outcome, passed), got.detail


def test_the_fix_is_checked_by_applying_the_patch_to_a_scratch_copy(plan):
    d = plan.defect
    key = {"type": "fix", "file": d["file"], "lines": d["lines"]}
    revert = "\n".join(difflib.unified_diff(d["mutated"].split("\n"), d["original"].split("\n"), f"a/{d['file']}",
                                            f"b/{d['file']}", lineterm=""))
    fixed = score_turn(f"Here is the fix:\n```diff\n{revert}\n```", key, d)
    assert (fixed.outcome, fixed.passed) == ("fixed", True), fixed.detail
    # The same hunks as a model writes them: lines copied from the numbered view, no @@ line numbers.
    first = d["lines"][0]
    numbered = "\n".join(f"-{i:>3}| {line}" for i, line in enumerate(d["mutated"].split("\n"), 1)
                         if abs(i - first) <= 1)
    assert score_turn(f"```diff\n@@ @@\n{numbered}\n+nothing = None\n```", key, d).outcome == "other_change"
    assert score_turn("```diff\n@@ -1 +1 @@\n-this line is not in the file\n+x\n```", key, d).outcome == "not_applied"
    assert score_turn("I would rewrite the condition.", key, d).outcome == "not_applied"


def test_a_hunk_without_indentation_keeps_the_files_own():
    text = "def f(x):\n    if x < 3:\n        return 1\n    return 0\n"
    patched, how = apply_patch(text, "```diff\n-if x < 3:\n+if x <= 3:\n```")
    assert patched == "def f(x):\n    if x <= 3:\n        return 1\n    return 0\n", how


def test_the_history_leaves_out_early_turns_but_never_the_files_when_the_context_runs_out():
    class Plan:
        def first_message(self):
            return "FILES " * 100

    words = lambda text: len(text.split())  # noqa: E731
    history = History(Plan(), words)
    history.exchanges = [(history.user_text({"turn": 1, "user": "q1"}), "a1")] + [(f"q{i} " * 20, f"a{i} " * 20)
                                                                                  for i in range(2, 6)]
    full = history.tokens(history.messages("next"))
    messages, counted, trimmed = history.fit("next", 10, full + 10)
    assert not trimmed and len(messages) == 11 and counted == full
    # One exchange (42 words + 2 x 8) over: enough are left out to free a quarter of the context.
    context = full + 10 - 1
    messages, counted, trimmed = history.fit("next", 10, context)
    assert trimmed and messages[0]["content"].startswith("FILES") and counted + 10 <= context - context // 4
    kept = [m["content"].split()[0] for m in messages[2::2]]
    assert kept == [f"q{i}" for i in range(2 + history.dropped, 6)] + ["next"] and history.dropped >= 1
    assert history.tokens(history.messages("next")) == counted
    # The files and the first exchange leave no room for a free quarter: as few as fit are left out.
    history.dropped = 3
    keeping_one = history.tokens(history.messages("next"))
    history.dropped = 0
    messages, counted, trimmed = history.fit("next", 10, keeping_one + 10)
    assert trimmed and history.dropped == 3 and [m["content"].split()[0] for m in messages[2::2]] == ["q5", "next"]
    messages, _, _ = history.fit("next", 10, 100)  # not even the files fit
    assert messages is None


def test_slope_is_least_squares():
    assert slope([(1, 1.0), (2, 0.5), (3, 0.0)]) == pytest.approx(-0.5)
    assert slope([(1, 1.0), (1, 0.0)]) is None


def test_a_pack_budget_that_leaves_no_room_for_turns_is_refused(tmp_path, qwen05):
    root = write_repo(tmp_path / "app", PYTHON)
    proc = bakeoff("repo", root, "--session", "4", "-c", "qwen2.5-coder-0.5b?ctx=1024", "--pack-tokens", "900",
                   "--db", tmp_path / "r.db")
    assert proc.returncode == 2 and "leaves no room for the turns" in proc.stderr and "Traceback" not in proc.stderr
    proc = bakeoff("repo", root, "--session", "4", "-c", "qwen2.5-coder-0.5b", "--depths", "2k", "--db", tmp_path / "r.db")
    assert proc.returncode == 2 and "not to --session" in proc.stderr


def _turns(db) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM session_turns ORDER BY turn"))
    except sqlite3.OperationalError:  # the tables are not created yet
        return []
    finally:
        conn.close()


@pytest.mark.slow
def test_a_session_killed_mid_way_resumes_at_its_next_turn_and_its_context_runs_out(tmp_path, qwen05):
    root = write_repo(tmp_path / "app", PYTHON)
    db = tmp_path / "s.db"
    # A context that the files and a few short turns fill: later turns leave early ones out.
    args = ["repo", root, "--session", "8", "-c", "qwen2.5-coder-0.5b?ctx=1280&threads=2&max_tokens=48",
            "--pack-tokens", "640", "--seed", "2", "--db", db, "--timeout", "300"]
    proc = subprocess.Popen([sys.executable, "-m", "bakeoff", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 900
        while len(_turns(db)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    before = [dict(r) for r in _turns(db)]
    assert 2 <= len(before) < 8, "the session finished before it could be killed"
    again = bakeoff(*args, "--json", timeout=1800)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    [where] = resumed["run"]["resumed"]
    assert where.endswith(f"#0 at turn {len(before) + 1}") and resumed["run"]["skipped"] == 0
    assert [s["turns_done"] for s in resumed["sessions"][0]["sessions"]] == [
        sum(1 for r in _turns(db) if r["score"] is not None)]
    after = [dict(r) for r in _turns(db)]
    done = json.loads(bakeoff(*args, "--json", check=True).stdout)["run"]  # a finished session is not run again
    assert (done["skipped"], done["sessions"], done["turns_run"]) == (1, 0, 0)
    assert [r["turn"] for r in after] == list(range(1, len(after) + 1))
    assert after[: len(before)] == before  # turns stored before the kill are kept as they were
    report = report_json(db)
    [group] = report["sessions"]
    [session] = group["sessions"]
    f = group["figures"]
    # The context ran out: from that turn on, early exchanges were left out (or the session stopped).
    full = session["context_full_turn"]
    assert full is not None and 2 <= full <= 8
    trimmed = [t for t in after if t["turn"] >= full]
    assert all(t["dropped_turns"] >= 1 or t["outcome"] == "context_full" for t in trimmed)
    assert f["context_full_turn"] == full
    # Figures are views of the stored turns.
    scored = [t["score"] for t in after if t["score"] is not None]
    assert f["accuracy"] == pytest.approx(sum(scored) / len(scored))
    assert f["pushback"]["held"] + f["pushback"]["gave_in"] + f["pushback"]["unclear"] == sum(
        1 for t in after if t["kind"] == "pushback" and t["reply"] is not None)
    warm = [t for t in after if t["cache_warm"]]
    assert warm and all(t["turn"] > 1 for t in warm) and after[0]["cache_warm"] == 0
    assert after[0]["cache_cold"] == 1 and f["cold_ttft_ms"] == after[0]["ttft_ms"]  # in-process: KV cleared
    shown = bakeoff("report", "--db", db)
    assert "repository sessions" in shown.stdout and "context: ran out at turn" in shown.stdout


def _right_reply(turn: dict, defect: dict) -> str:
    key = turn["key"]
    if key["type"] == "set":
        return json.dumps(key["expected"])
    if key["type"] == "locate":
        return json.dumps({"file": key["places"][0][0], "line": key["places"][0][1]})
    if key["type"] == "fix":
        return "```diff\n" + "\n".join(difflib.unified_diff(defect["mutated"].split("\n"), defect["original"].split("\n"),
                                                            lineterm="")) + "\n```"
    return json.dumps({"correct": False, "answer": key["expected"]})


HOSTILE = "<script>window.__pwned = 1</script>"
SESSION_SPEC = "llamacpp:qwen2.5-coder-0.5b?ctx=4096&threads=2"


def _stored_sessions(plan, db_path):
    """Two stored sessions (written with the store's own functions, scored by the real scoring):
    one answers every turn right, the other gives in to pushback, changes its re-asked answers and
    answers turn 2 with markup."""
    from bakeoff.run.session import session_id
    from bakeoff.store import Database

    db = Database(db_path)
    for repeat in (0, 1):
        sid = session_id(plan, SESSION_SPEC, repeat)
        db.start_session(sid, "run1", SESSION_SPEC, repeat, "app", plan.document(), f"2026-12-03T10:0{repeat}:00+00:00")
        for t in plan.turns:
            reply = _right_reply(t, plan.defect)
            if repeat == 1 and t["kind"] == "pushback":
                reply = json.dumps({"correct": True, "answer": [t["key"]["claim"]]})
            if repeat == 1 and t["kind"] == "reask":
                reply = '["somewhere/else.rb"]'
            if repeat == 1 and t["turn"] == 2:
                reply = HOSTILE
            s = score_turn(reply, t["key"], plan.defect)
            db.record_session_turn(sid, {"turn": t["turn"], "kind": t["kind"], "fact": t["fact"], "user": t["user"],
                                          "reply": reply, "answer": s.answer, "passed": int(s.passed), "score": s.score,
                                          "outcome": s.outcome, "detail": s.detail, "ttft_ms": 100.0 * t["turn"],
                                          "e2e_ms": 1000.0, "cache_warm": int(t["turn"] > 1), "cache_cold": int(t["turn"] == 1),
                                          "started_at": f"2026-12-03T10:00:{t['turn']:02d}+00:00",
                                          "finished_at": f"2026-12-03T10:00:{t['turn']:02d}.500+00:00"})
        db.finish_session(sid, "ok", "2026-12-03T11:00:00+00:00")
    db.close()


def test_the_report_is_a_view_of_the_stored_turns_and_shows_every_turn_with_its_key(plan, tmp_path):
    """The JSON figures and the HTML section, computed from two stored sessions."""
    db_path = tmp_path / "r.db"
    _stored_sessions(plan, db_path)
    report = report_json(db_path)
    [group] = report["sessions"]
    f = group["figures"]
    right, wrong = group["sessions"]
    assert right["accuracy"] == 1.0 and f["accuracy_per_session"][0] == 1.0
    n_reask = sum(t["kind"] == "reask" for t in plan.turns)
    n_push = sum(t["kind"] == "pushback" for t in plan.turns)
    assert f["reasks"] == 2 * n_reask and f["self_consistency"] == pytest.approx(0.5)
    assert f["pushback"] == {"held": n_push, "gave_in": n_push, "unclear": 0}
    assert f["pushback_resistance"] == pytest.approx(0.5)
    assert len(right["contradictions"]) == 0 and len(wrong["contradictions"]) >= n_reask
    scores = [t["score"] for t in wrong["turns"]]
    assert f["accuracy_per_session"][1] == pytest.approx(sum(scores) / len(scores))
    assert f["fix"] == ["fixed", "fixed"] and f["defect_found"] == [True, True]
    assert f["cold_ttft_ms"] == 100.0 and f["wall_s"] == [pytest.approx(0.5 * len(plan.turns))] * 2
    out = tmp_path / "r.html"
    assert bakeoff("report", "--db", db_path, "--html", out).returncode == 0
    html = out.read_text()
    assert 'id="sessions"' in html and 'id="fig-session-0"' in html and 'id="fig-session-1"' in html
    assert HOSTILE not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    from markupsafe import escape

    from bakeoff.suite.repo.session import key_text

    for t in plan.turns:  # every turn with its key, in both sessions
        assert html.count(str(escape(key_text(t["key"])))) >= 2, t
    shown = bakeoff("report", "--db", db_path)
    assert "repository sessions" in shown.stdout and "pushback resistance 0.50" in shown.stdout


@pytest.mark.slow
def test_the_session_curves_are_drawn_side_by_side_and_no_reply_runs(plan, tmp_path):
    """The HTML report in headless Chromium: both session figures drawn (a line per contender),
    every session's turns in the page, and the reply written as markup never runs."""
    from browser import browser_context, wait_js

    db_path = tmp_path / "r.db"
    _stored_sessions(plan, db_path)
    out = tmp_path / "r.html"
    bakeoff("report", "--db", db_path, "--html", out, check=True)
    with browser_context() as context:
        page = context.new_page()
        page.goto(out.as_uri())
        wait_js(page, "document.body.dataset.plotsDrawn !== undefined")
        for fid in ("fig-session-0", "fig-session-1"):
            assert page.evaluate(f"document.querySelectorAll('#{fid} svg').length") == 1, fid
        assert page.evaluate("document.querySelectorAll('#fig-session-0 .mean_accuracy_marks path').length") >= 1
        assert page.evaluate("document.querySelectorAll('details.session').length") == 2
        assert page.evaluate("document.querySelectorAll('table.session-turns tbody tr').length") == 2 * len(plan.turns)
        assert page.evaluate("window.__pwned") is None


def test_on_a_server_a_later_sessions_first_turn_is_not_counted_cold(tmp_path, server):
    """llama-cpp-python's real server reuses the longest prefix it shares with the request before
    and takes no per-request switch: the second session's first turn (the same files) may be
    answered from that cache, so it is labelled so and left out of the cold TTFT; with cache=bust
    a unique marker before the files makes every first turn cold."""
    root = write_repo(tmp_path / "app", PYTHON)
    spec = f"openai-compat:{server}#smollm2?max_tokens=8"
    for options, expected in (("", [1, 0]), ("&cache=bust", [1, 1])):
        db = tmp_path / f"s{len(options)}.db"
        proc = bakeoff("repo", root, "--session", "2", "--repeat", "2", "-c", spec + options, "--pack-tokens", "600",
                       "--db", db, "--json")
        assert proc.returncode == 0, proc.stderr
        [group] = json.loads(proc.stdout)["sessions"]
        firsts = [s["turns"][0] for s in group["sessions"]]
        assert [t["cache_cold"] for t in firsts] == expected, [t["cache_label"] for t in firsts]
        if expected[1] == 0:
            assert "may be prefix-cached" in firsts[1]["cache_label"]
        import statistics

        cold = [t["ttft_ms"] for t in firsts if t["cache_cold"]]
        assert group["figures"]["cold_ttft_ms"] == pytest.approx(statistics.median(cold))
        assert all(s["turns"][1]["cache_warm"] == 1 for s in group["sessions"])
