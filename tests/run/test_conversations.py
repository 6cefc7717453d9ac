"""Conversations (multi-turn cases) and consistency probes, through the real CLI on real models
(in-process) and on the OpenAI stand-in (the async server path)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from conftest import bakeoff, report_json, trial_rows, turn_rows, wait_for
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app

from bakeoff.report.drift import drift_rows
from bakeoff.store import Database

SMOL = "smollm2-135m?threads=1"
QWEN = "qwen2.5-coder-0.5b?threads=1"
KEY = "sk-proj-standin-conversations"


def check_rows(db, trial_id: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM check_results WHERE trial_id = ? ORDER BY idx", (trial_id,)))
    finally:
        conn.close()


CHAIN = """\
defaults: {max_tokens: 16, temperature: 0}
cases:
  - id: chain
    system: You are a concise assistant.
    turns:
      - "Name one colour of the rainbow. Answer with one word."
      - user: "Repeat exactly what you said in your previous answer."
        checks:
          - regex: '\\w'
          - not: {contains: zebra-never}
      - "Thank you."
"""


def test_three_turns_keep_the_models_own_replies_and_check_the_middle_turn(tmp_path, smollm2):
    suite = tmp_path / "s.yaml"
    suite.write_text(CHAIN)
    db = tmp_path / "c.db"
    proc = bakeoff("run", suite, "-c", SMOL, "--db", db)
    assert proc.returncode == 0, proc.stderr

    [trial] = trial_rows(db)  # the whole conversation is one trial
    assert trial["status"] == "ok", trial["error"]
    turns = turn_rows(db)
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert [t["user"] for t in turns] == ["Name one colour of the rainbow. Answer with one word.",
                                          "Repeat exactly what you said in your previous answer.", "Thank you."]
    assert all(t["reply"].strip() for t in turns)
    assert all(t["ttft_ms"] > 0 and t["e2e_ms"] >= t["ttft_ms"] and t["output_tokens"] > 0 for t in turns)
    # Each turn's prompt holds the earlier turns: it grows.
    assert turns[0]["prompt_tokens"] < turns[1]["prompt_tokens"] < turns[2]["prompt_tokens"]

    # The last request sent the model's own replies back, as assistant turns, in order.
    sent = json.loads(trial["request"])["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[2]["content"] == turns[0]["reply"] and sent[4]["content"] == turns[1]["reply"]
    assert turns[0]["reply"].strip() in trial["prompt"]  # as the engine saw it (chat template applied)
    assert trial["output"] == turns[2]["reply"]

    # Only the middle turn has checks: its verdict is the trial's, with the turn in the detail.
    assert turns[0]["passed"] is None and turns[2]["passed"] is None and turns[1]["passed"] == 1
    assert trial["passed"] == 1 and trial["score"] == 1.0
    checks = check_rows(db, trial["id"])
    assert [c["kind"] for c in checks] == ["regex", "not contains"]
    assert all(c["detail"].startswith("turn 2: ") for c in checks)
    # Figures that add up are summed over the turns.
    assert trial["output_tokens"] == sum(t["output_tokens"] for t in turns)
    assert trial["e2e_ms"] == pytest.approx(sum(t["e2e_ms"] for t in turns))

    # A context that holds turn 1 but not turn 2 ends the conversation as an error naming the turn.
    long = tmp_path / "long.yaml"
    long.write_text("defaults: {max_tokens: 8}\ncases:\n  - id: long\n    turns:\n      - Say hi.\n"
                    f"      - Summarise these words {'apple banana cherry ' * 60}\n      - Thanks.\n")
    small = bakeoff("run", long, "-c", f"{SMOL}&ctx=128", "--db", db)
    assert small.returncode == 0, small.stderr
    [err] = [r for r in trial_rows(db) if r["case_id"] == "long"]
    assert err["status"] == "error"
    assert err["error"].startswith("turn 2 of 3:") and "context holds" in err["error"], err["error"]
    kept = [t for t in turn_rows(db) if t["case_id"] == "long"]
    assert [t["turn"] for t in kept] == [1]  # the turn that finished is kept for inspection


PROBE = """\
defaults:
  max_tokens: 10
  temperature: 0
  system: Be brief.
cases:
  - id: db-decision
    probe:
      establish:
        user: We chose PostgreSQL as our database. Which database did we choose? One word.
        truth: true
      distractors: {generate: 8}
      ask: Which database did we choose? One word.
      truth: postgres
"""


def test_consistency_probe_over_ten_turns_on_two_real_models(tmp_path, smollm2, qwen05):
    suite = tmp_path / "p.yaml"
    suite.write_text(PROBE)
    db = tmp_path / "p.db"
    proc = bakeoff("run", suite, "-c", SMOL, "-c", QWEN, "--db", db, timeout=400)
    assert proc.returncode == 0, proc.stderr
    trials = trial_rows(db)
    assert len(trials) == 2 and all(t["status"] == "ok" for t in trials), [t["error"] for t in trials]

    turns = turn_rows(db)
    for spec in ("llamacpp:smollm2-135m?threads=1", "llamacpp:qwen2.5-coder-0.5b?threads=1"):
        mine = [t for t in turns if t["spec"] == spec]
        assert len(mine) == 10  # establish + 8 generated distractors + the question again
        assert [t["role"] for t in mine] == ["establish"] + ["distractor"] * 8 + ["ask"]
        assert mine[0]["passed"] is not None and mine[-1]["passed"] is not None
        assert all(t["passed"] is None for t in mine[1:-1])  # distractors are not scored
        assert all(t["reply"].strip() for t in mine)
    # Both models heard the same distractors (generated deterministically from the seed).
    by_spec = {}
    for t in turns:
        by_spec.setdefault(t["spec"], []).append(t["user"])
    first, second = by_spec.values()
    assert first == second and len(set(first[1:9])) == 8

    with _closing(Database(db)) as database:
        rows = {r["spec"]: r for r in drift_rows(database)}
    assert set(rows) == set(by_spec)
    for spec, row in rows.items():
        mine = [t for t in turns if t["spec"] == spec]
        assert row["conversations"] == 1 and row["turns"] == 10
        assert [a["turn"] for a in row["accuracy_by_turn"]] == [1, 10]
        assert [a["accuracy"] for a in row["accuracy_by_turn"]] == [mine[0]["passed"], mine[-1]["passed"]]
        probes = row["probes"]
        assert probes["asks"] == 1 and probes["truth_accuracy"] == mine[-1]["passed"]
        assert probes["establish_truth_accuracy"] == mine[0]["passed"]
        assert probes["agreement_outcome"] == float(mine[0]["passed"] == mine[-1]["passed"])
        [answer] = probes["answers"]
        assert answer["turn"] == 10 and answer["first_answer"] == mine[0]["reply"][:200]
        assert isinstance(answer["agrees_text"], bool)
        assert "normalisation" in probes["agreement_methods"]["agreement_text"]
    # The report still reads a database with conversations.
    assert {c["spec"] for c in report_json(db)["contenders"]} == set(by_spec)


class _closing:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        return self.db

    def __exit__(self, *exc):
        self.db.close()


@pytest.fixture
def openai_server():
    state = StandInState(expected_key=KEY, reply="Blue is my answer.")
    with StandInServer(make_app(state, ["gpt-4o-mini"]), state) as server:
        yield server


def _env(tmp_path) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "BAKEOFF_CONFIG": str(tmp_path / "cfg")}


SERVER_SUITE = """\
defaults: {max_tokens: 20, temperature: 0}
cases:
  - id: talk
    turns:
      - Pick a colour.
      - user: Why that one?
        checks: [{contains: blue}]
      - user: And your second choice?
        checks: [{contains: green}]
  - id: broken
    turns: [One., Two., Three.]
"""


def test_server_contender_runs_conversations_on_the_async_path(tmp_path, openai_server):
    suite = tmp_path / "s.yaml"
    suite.write_text(SERVER_SUITE)
    db = tmp_path / "s.db"
    # Requests in order (concurrency 1): talk's three turns, then broken's turn 1 ok, turn 2 refused.
    openai_server.state.script("ok", "ok", "ok", "ok", "auth")
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr

    bodies = [r.body for r in openai_server.posted("/chat/completions")]
    assert len(bodies) == 5
    talk = bodies[:3]
    assert [len(b["messages"]) for b in talk] == [1, 3, 5]
    assert talk[2]["messages"] == [
        {"role": "user", "content": "Pick a colour."}, {"role": "assistant", "content": "Blue is my answer."},
        {"role": "user", "content": "Why that one?"}, {"role": "assistant", "content": "Blue is my answer."},
        {"role": "user", "content": "And your second choice?"}]

    trials = {r["case_id"]: r for r in trial_rows(db)}
    ok, broken = trials["talk"], trials["broken"]
    assert ok["status"] == "ok" and ok["output"] == "Blue is my answer."
    assert ok["passed"] == 0 and ok["score"] == pytest.approx(0.5)  # turn 2 passes, turn 3 does not
    assert [c["detail"].split(":")[0] for c in check_rows(db, ok["id"])] == ["turn 2", "turn 3"]
    assert broken["status"] == "error" and broken["error"].startswith("turn 2 of 3:"), broken["error"]
    assert "Incorrect API key" not in broken["error"] or KEY not in broken["error"]
    turns = turn_rows(db)
    assert [(t["case_id"], t["turn"], t["passed"]) for t in turns] == [
        ("broken", 1, None), ("talk", 1, None), ("talk", 2, 1), ("talk", 3, 0)]
    assert all(t["output_tokens"] == 4 and t["ttft_ms"] > 0 for t in turns)

    with _closing(Database(db)) as database:
        [row] = drift_rows(database)
    assert row["conversations"] == 1  # the errored conversation does not count
    assert row["accuracy_by_turn"] == [{"turn": 2, "checked": 1, "passed": 1, "accuracy": 1.0},
                                       {"turn": 3, "checked": 1, "passed": 0, "accuracy": 0.0}]
    assert row["accuracy_slope_per_turn"] == pytest.approx(-1.0) and row["probes"] is None


def _finished(db) -> int:
    try:
        return len(trial_rows(db)) if db.exists() else 0
    except sqlite3.OperationalError:  # the database is still being created
        return 0


def test_killed_run_resumes_without_duplicating_a_conversation(tmp_path, openai_server):
    openai_server.state.chunk_delay_s = 0.05  # 4 words a turn, 3 turns: over half a second a conversation
    lines = ["defaults: {max_tokens: 20}", "cases:"]
    for i in range(8):
        lines += [f"  - id: conv-{i}", "    turns:", f"      - Hello {i}.", "      - How are you?", "      - Bye."]
    suite = tmp_path / "r.yaml"
    suite.write_text("\n".join(lines) + "\n")
    db = tmp_path / "r.db"
    spec = f"openai:gpt-4o-mini?base_url={openai_server.url}/v1"
    args = [sys.executable, "-m", "bakeoff", "run", str(suite), "-c", spec, "--db", str(db)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **_env(tmp_path)})
    try:
        wait_for(lambda: _finished(db) >= 2, timeout=120, what="2 finished conversations")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = len(trial_rows(db))
    assert 2 <= before < 8, "the run finished before it could be killed"
    # The conversation in flight left nothing behind: every stored turn belongs to a stored trial.
    assert len(turn_rows(db)) == 3 * before

    again = bakeoff("run", suite, "-c", spec, "--db", db, env=_env(tmp_path))
    assert again.returncode == 0, again.stderr
    assert f"resuming: {before} of 8" in again.stderr
    rows = trial_rows(db)
    assert sorted(r["case_id"] for r in rows) == sorted(f"conv-{i}" for i in range(8))
    assert all(r["status"] == "ok" for r in rows)
    turns = turn_rows(db)
    assert len(turns) == 24 and len({(t["trial_id"], t["turn"]) for t in turns}) == 24


BAD = [
    ("unknown key in a turn", "    turns:\n      - user: hi\n        chekcs: []\n", 5,
     "unknown key 'chekcs' in turn (did you mean 'checks'?)"),
    ("empty user text", "    turns:\n      - user: hi\n      - user: '  '\n", 5, "the user text of a turn is empty"),
    ("invalid check on a turn", "    turns:\n      - user: hi\n        checks:\n          - regex: '('\n", 6,
     "bad regex"),
    ("turn that is a list", "    turns:\n      - [a, b]\n", 4, "a turn is the user's text, or a mapping"),
    ("turns beside prompt", "    prompt: hi\n    turns: [hi]\n", 4, "'prompt' or 'turns', not both"),
    ("case checks on a conversation", "    turns: [hi]\n    checks: [{contains: x}]\n", 4,
     "put them on its turns"),
    ("probe without ask", "    probe:\n      establish: hi\n      truth: x\n", 4, "missing required key 'ask' in probe"),
    ("bad generated distractors", "    probe:\n      establish: hi\n      distractors: {generat: 3}\n      ask: q\n", 5,
     "unknown key 'generat' in distractors"),
    ("bad scripted distractor", ("    probe:\n      establish: hi\n      distractors:\n        - ok\n        - ''\n"
                                 "      ask: q\n"), 7, "the user text of a turn is empty"),
    ("truth on establish without a truth", "    probe:\n      establish: {user: hi, truth: true}\n      ask: q\n", 4,
     "the probe has no 'truth:'"),
]


@pytest.mark.parametrize("name, body, line, message", BAD, ids=[b[0] for b in BAD])
def test_bad_turns_are_exit_2_with_file_and_line(tmp_path, name, body, line, message):
    suite = tmp_path / "bad.yaml"
    suite.write_text("cases:\n  - id: c\n" + body)
    proc = bakeoff("validate", suite)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{suite}:{line}: " in proc.stderr and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_json_shows_the_expanded_probe(tmp_path):
    suite = tmp_path / "ok.yaml"
    suite.write_text(PROBE.replace("ask: Which", "ask:\n        - Which").replace(
        "One word.\n      truth: postgres", "One word.\n        - Remind me, which database?\n"
        "      truth: postgres"))
    proc = bakeoff("validate", suite, "--json")
    assert proc.returncode == 0, proc.stderr
    [case] = json.loads(proc.stdout)["cases"]
    roles = [t["role"] for t in case["turns"]]
    # Two paraphrases: one halfway through the distractors, one at the end.
    assert roles == ["establish"] + ["distractor"] * 4 + ["ask"] + ["distractor"] * 4 + ["ask"]
    assert case["turns"][-1]["user"] == "Remind me, which database?"
    assert case["probe"]["establish_truth"] is True and case["turns"][0]["checks"]
