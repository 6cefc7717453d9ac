"""Repeats and paired comparison end to end: real models through the real CLI, figures computed
by report/stability.py and report/paired.py on the trials the run stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bakeoff

from bakeoff.report.paired import comparison_lines, paired_comparison, resolve_spec
from bakeoff.report.stability import case_stability, stability_figures
from bakeoff.store import Database

# Open prompts a 135M model answers differently each time at temperature 0.9.
REPEAT_SUITE = """\
defaults:
  max_tokens: 16
cases:
  - id: animal
    prompt: "Name one animal and say one thing about it."
    checks:
      - regex: '\\w'
  - id: story
    prompt: "Start a short story about a dragon."
    checks:
      - contains: dragon
  - id: sum
    prompt: "What is 2 + 2? Answer with a number."
    checks:
      - contains: "4"
"""

# Short questions with one right answer, where a 135M and a 0.5B model tend to differ.
PAIRED_SUITE = """\
defaults:
  max_tokens: 16
  temperature: 0
cases:
  - id: capital
    prompt: "What is the capital of France? One word."
    checks: [{contains: Paris}]
  - id: mult
    prompt: "What is 7 * 8? Answer with the number only."
    checks: [{contains: "56"}]
  - id: python-len
    prompt: "In Python, which built-in function returns the length of a list? One word."
    checks: [{contains: len}]
  - id: reverse
    prompt: "Spell the word 'stop' backwards. Answer with the word only."
    checks: [{contains: pots}]
"""


def _trials(db: Path) -> tuple[list, dict]:
    d = Database(db, create=False)
    try:
        trials = d.trials()
        return trials, d.check_results_by_trial()
    finally:
        d.close()


def test_repeats_at_temperature_disagree_and_are_real(tmp_path, smollm2):
    suite = tmp_path / "suite.yaml"
    suite.write_text(REPEAT_SUITE)
    db = tmp_path / "r.db"
    spec = "smollm2-135m?threads=1&temperature=0.9"
    bakeoff("run", suite, "-c", spec, "--repeat", "4", "--db", db, check=True)
    trials, checks = _trials(db)
    assert len(trials) == 12 and all(t["status"] == "ok" for t in trials)

    # The repeat index is part of the trial identity, and every repeat ran: its own id, its own
    # seed in the request sent, its own timing. Nothing is answered from a cache.
    assert len({t["id"] for t in trials}) == 12
    for case in ("animal", "story", "sum"):
        ts = sorted((t for t in trials if t["case_id"] == case), key=lambda t: t["repeat"])
        assert [t["repeat"] for t in ts] == [0, 1, 2, 3]
        assert len({json.loads(t["request"])["seed"] for t in ts}) == 4, "the seed moves with the repeat"
        assert all(t["e2e_ms"] and t["e2e_ms"] > 0 and t["ttft_ms"] is not None for t in ts)
        assert all((t["output_tokens"] or 0) > 0 for t in ts)
        assert len({(t["started_at"], t["finished_at"]) for t in ts}) == 4, "each repeat timed on its own"

    per_case = {c["case_id"]: c for c in case_stability(trials, checks)}
    assert all(c["repeats"] == 4 and c["judged"] == 4 for c in per_case.values())
    # At temperature 0.9 the answers differ between repeats.
    assert min(c["agreement"]["answer"] for c in per_case.values()) < 1.0, per_case
    assert any(c["distinct_answers"] > 1 for c in per_case.values())

    figures = stability_figures(trials, checks)
    assert figures["repeats"] == 4
    assert set(figures["pass_at_k"]) == set(figures["pass_hat_k"]) == {"1", "2", "3", "4"}
    assert figures["agreement"]["answer"] < 1.0 and figures["agreement"]["cases"] == 3
    pass_rate = sum(c["passed"] for c in per_case.values()) / 12
    assert figures["pass_at_k"]["1"] == pytest.approx(pass_rate) == figures["pass_hat_k"]["1"]
    # pass@k never falls as k grows, pass^k never rises, and pass^k <= pass@k
    at = [figures["pass_at_k"][str(k)] for k in range(1, 5)]
    hat = [figures["pass_hat_k"][str(k)] for k in range(1, 5)]
    assert at == sorted(at) and hat == sorted(hat, reverse=True)
    assert all(h <= a + 1e-12 for a, h in zip(at, hat))
    # Flaky cases are exactly those whose repeats disagree on pass/fail.
    assert figures["flaky_cases"] == sorted(c for c, row in per_case.items() if 0 < row["passed"] < 4)


def test_paired_comparison_of_two_real_contenders(tmp_path, smollm2, qwen05):
    suite = tmp_path / "suite.yaml"
    suite.write_text(PAIRED_SUITE)
    db = tmp_path / "p.db"
    bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "-c", "qwen2.5-coder-0.5b?threads=1",
            "--db", db, check=True)
    trials, _ = _trials(db)
    specs = sorted({t["spec"] for t in trials})
    a, b = resolve_spec("smollm2", specs), resolve_spec("qwen2.5-coder", specs)
    assert a != b

    r = paired_comparison(trials, a, b)
    assert r["cases"] == 4 and not r["only_a"] and not r["only_b"]
    verdict = {(t["spec"], t["case_id"]): t["passed"] == 1 for t in trials}
    cases = ["capital", "mult", "python-len", "reverse"]
    # The win lists are what the stored verdicts say, and they are McNemar's discordant counts.
    assert r["a_wins"] == sorted(c for c in cases if verdict[(a, c)] and not verdict[(b, c)])
    assert r["b_wins"] == sorted(c for c in cases if verdict[(b, c)] and not verdict[(a, c)])
    assert (r["mcnemar"]["b"], r["mcnemar"]["c"]) == (len(r["a_wins"]), len(r["b_wins"]))
    assert r["both_pass"] + r["both_fail"] + len(r["a_wins"]) + len(r["b_wins"]) == 4
    assert r["pass_rate_a"] == pytest.approx(sum(verdict[(a, c)] for c in cases) / 4)
    assert r["difference"] == pytest.approx(r["pass_rate_a"] - r["pass_rate_b"])
    # 4 cases cannot reach significance: exact binomial, at best 2 * (1/2)^4 = 0.125
    assert r["mcnemar"]["method"] == "exact binomial" and r["mcnemar"]["p_value"] >= 0.125
    assert "not significant at alpha 0.05" in r["summary"]
    assert r["summary"].startswith(f"{a} beats {b} on {len(r['a_wins'])} case")
    # Same data, same seed: the bootstrap is reproducible.
    assert paired_comparison(trials, a, b)["bootstrap"] == r["bootstrap"]
    text = "\n".join(comparison_lines(r))
    assert "paired bootstrap over cases" in text and "seed 0" in text
    # The same through the CLI, naming the contenders by a part of their specs.
    cli = json.loads(bakeoff("report", "--db", db, "--compare", "smollm2", "qwen2.5-coder", "--json", check=True).stdout)
    assert cli["summary"] == r["summary"] and cli["a_wins"] == r["a_wins"]
    unknown = bakeoff("report", "--db", db, "--compare", "gemma", "smollm2")
    assert unknown.returncode == 2 and "no contender 'gemma'" in unknown.stderr
