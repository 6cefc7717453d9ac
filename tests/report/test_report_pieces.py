"""The report's small pure parts: word diff, flaky cells, win rates, gates, safe JSON in <script>, JUnit text."""

import json
import random

import pytest

from bakeoff.errors import InputError
from bakeoff.report.diff import word_diff
from bakeoff.report.flaky import flaky_cells
from bakeoff.report.gates import Thresholds, check_gates, format_summary, gate_rows, parse_pass_rate
from bakeoff.report.html import script_json
from bakeoff.report.junit import xml_text
from bakeoff.report.ratings import win_rates
from bakeoff.web.blind import PendingPairs, choose_pair

CHECKS = json.dumps({"checks": [{"regex": "x"}], "pass_threshold": 1.0})


def trial(case, spec, repeat=0, status="ok", passed=1, output="out", ttft=100.0, e2e=500.0, case_json=CHECKS):
    return {"id": f"{spec}/{case}/{repeat}", "case_id": case, "spec": spec, "repeat": repeat, "status": status,
            "passed": passed if status == "ok" else None, "output": output if status == "ok" else None,
            "error": None if status == "ok" else "worker crashed", "ttft_ms": ttft if status == "ok" else None,
            "e2e_ms": e2e if status == "ok" else None, "case_json": case_json}


def test_word_diff_pieces_rebuild_both_texts():
    a, b = "The answer is 4.\nDone", "The answer is four.\nDone!"
    d = word_diff(a, b)
    assert not d["identical"]
    assert "".join(t for op, t in d["pieces"] if op != "insert") == a
    assert "".join(t for op, t in d["pieces"] if op != "delete") == b
    assert ("delete", "4") in d["pieces"] and ("insert", "four") in d["pieces"]
    assert word_diff("same", "same")["identical"]


def test_flaky_cells_separate_verdict_disagreement_from_different_wording():
    trials = [
        trial("c1", "m", 0, passed=1, output="4"), trial("c1", "m", 1, passed=0, output="5"),        # flaky
        trial("c2", "m", 0, passed=1, output="four"), trial("c2", "m", 1, passed=1, output="4"),     # unstable
        trial("c3", "m", 0, passed=1, output="x"), trial("c3", "m", 1, status="error"),             # flaky (error)
        trial("c4", "m", 0, passed=1, output="same"), trial("c4", "m", 1, passed=1, output=" same "),  # stable
        trial("c5", "m", 0, passed=0, output="only one repeat"),
    ]
    cells = flaky_cells(trials)
    assert [(c["case_id"], c["reasons"]) for c in cells["flaky"]] == [
        ("c1", ["1 of 2 repeats passed"]), ("c3", ["1 of 2 repeats ended in an error"])]
    assert [c["case_id"] for c in cells["unstable"]] == ["c2"]
    assert [o["text"] for o in cells["flaky"][0]["outputs"]] == ["4", "5"]


def test_win_rates_with_wilson_intervals():
    def r(a, b, verdict):
        return {"spec_a": a, "spec_b": b, "verdict": verdict,
                "winner_spec": a if verdict == "a" else b if verdict == "b" else None}

    rows = [r("x", "y", "a"), r("y", "x", "b"), r("x", "y", "b"), r("x", "y", "tie"), r("y", "x", "both_bad")]
    w = win_rates(rows)
    x, y = w["contenders"]["x"], w["contenders"]["y"]
    assert (x["rated"], x["wins"], x["losses"], x["ties"], x["both_bad"]) == (5, 2, 1, 1, 1)
    assert (y["wins"], y["losses"]) == (1, 2)
    assert x["win_rate"] == pytest.approx(0.4)
    lo, hi = x["win_rate_ci"]
    assert lo < 0.4 < hi
    (pair,) = w["pairs"]
    assert (pair["x"], pair["x_wins"], pair["y_wins"], pair["ties"], pair["both_bad"]) == ("x", 2, 1, 1, 1)
    assert pair["x_win_share"] == pytest.approx(2 / 3)


def test_blind_pairs_hide_the_order_and_prefer_unrated_cells():
    trials = [trial("c1", "x"), trial("c1", "y"), trial("c2", "x"), trial("c2", "y"), trial("c3", "x")]
    seen_first = set()
    for seed in range(40):
        pair = choose_pair(trials, {("c1", "x", "y")}, rng=random.Random(seed))
        assert pair.case_id == "c2"                        # c1 already rated, c3 has one side only
        assert {pair.spec_a, pair.spec_b} == {"x", "y"}
        seen_first.add(pair.spec_a)
    assert seen_first == {"x", "y"}                         # both orders happen
    assert choose_pair(trials, set(), "x", "z") is None
    pending = PendingPairs()
    token = pending.add(pair)
    assert pending.take(token) == pair and pending.take(token) is None   # a token rates once


def test_gates_count_errors_as_failures_and_summarise_on_one_screen():
    trials = ([trial(f"c{i}", "good", passed=1, ttft=200) for i in range(4)]
              + [trial("c0", "bad", passed=1, ttft=900, e2e=3000), trial("c1", "bad", passed=0),
                 trial("c2", "bad", status="error"), trial("c3", "bad", passed=1)])
    rows = {r["spec"]: r for r in gate_rows(trials)}
    assert rows["bad"]["pass_rate"] == pytest.approx(2 / 4)   # the error is a failed attempt
    assert rows["bad"]["failing_cases"] == ["c1", "c2"]
    result = check_gates(list(rows.values()), Thresholds(fail_under=0.75, max_ttft_ms=500))
    assert not result.passed
    assert [(s.spec, s.figure) for s in result.shortfalls] == [("bad", "pass_rate")]  # median TTFT 500 is not > 500
    text = format_summary(result)
    assert text.startswith("gates FAILED: 1 shortfalls in 1 of 2 contenders")
    assert "pass rate 50% (2 of 4, 1 errors; 95% CI" in text and "failing: c1, c2" in text
    assert len(text.splitlines()) <= 25
    ok = check_gates(list(rows.values()), Thresholds(fail_under=0.5, max_e2e_ms=5000))
    assert ok.passed and format_summary(ok).startswith("gates met by all 2 contenders")
    no_checks = gate_rows([trial("c", "m", case_json=json.dumps({"checks": []}), passed=None)])
    assert check_gates(no_checks, Thresholds(fail_under=0.5)).shortfalls[0].value is None


def test_parse_pass_rate():
    assert parse_pass_rate("0.8") == 0.8 and parse_pass_rate("80%") == 0.8 and parse_pass_rate("1") == 1.0
    for bad in ("80", "-0.1", "high", "101%"):
        with pytest.raises(InputError):
            parse_pass_rate(bad)


def test_script_json_cannot_close_the_script_element():
    hostile = {"t": "</script><script>alert(1)</script><!-- \u2028\u2029 & >"}
    text = str(script_json(hostile))
    for needle in ("<", ">", "&", "\u2028", "\u2029"):
        assert needle not in text
    assert json.loads(text) == hostile


def test_xml_text_drops_characters_xml_cannot_carry():
    assert xml_text("ok\x00\x1b[31mred\ttab\n") == "ok\ufffd\ufffd[31mred\ttab\n"
