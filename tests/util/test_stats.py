"""The report's statistics against values computed by hand (the working is in the comments).

scipy is not a dependency; where it happens to be installed, it cross-checks the same values.
"""

from __future__ import annotations

import math

import pytest

from bakeoff.errors import InputError
from bakeoff.report.paired import paired_comparison, resolve_spec
from bakeoff.report.stability import case_stability, normalise_answer, stability_figures
from bakeoff.util.stats import (
    binomial_two_sided,
    chi2_sf_1df,
    mcnemar,
    paired_bootstrap,
    pass_at_k,
    pass_hat_k,
    wilson_interval,
)

Z = 1.959964


# --- Wilson ----------------------------------------------------------------------------------


def test_wilson_7_of_10_by_hand():
    # p = 0.7, n = 10, z^2 = 3.841459
    # denom  = 1 + z^2/n                          = 1.3841459
    # centre = (p + z^2/(2n)) / denom             = (0.7 + 0.19207294) / 1.3841459 = 0.6444934
    # half   = z * sqrt(p(1-p)/n + z^2/(4n^2)) / denom
    #        = 1.959964 * sqrt(0.021 + 0.00960365) / 1.3841459
    #        = 1.959964 * 0.1749390 / 1.3841459  = 0.2477153
    # -> (0.3967781, 0.8922087)
    lo, hi = wilson_interval(7, 10)
    assert lo == pytest.approx(0.3967781, abs=1e-6)
    assert hi == pytest.approx(0.8922087, abs=1e-6)


def test_wilson_edges():
    assert wilson_interval(0, 0) is None  # n = 0: no interval
    # c = 0: lower bound exactly 0, upper z^2 / (n + z^2) = 3.841459 / 13.841459 = 0.2775328
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775328, abs=1e-6))
    # c = n: upper bound exactly 1, lower n / (n + z^2) = 10 / 13.841459 = 0.7224672
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0
    assert lo == pytest.approx(0.7224672, abs=1e-6)


# --- pass@k and pass^k -------------------------------------------------------------------------


def test_pass_at_k_n5_c2_by_hand():
    # 1 - C(n-c, k) / C(n, k) with n = 5, c = 2 (so n - c = 3):
    # k=1: 1 - C(3,1)/C(5,1) = 1 - 3/5  = 0.4
    # k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7
    # k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10 = 0.9
    # k=4: 1 - C(3,4)/C(5,4) = 1 - 0/5  = 1.0   (any 4 of 5 repeats include a pass)
    # k=5: 1 - 0/1                      = 1.0
    assert [pass_at_k(5, 2, k) for k in range(1, 6)] == pytest.approx([0.4, 0.7, 0.9, 1.0, 1.0])


def test_pass_hat_k_n5_c2_by_hand():
    # C(c, k) / C(n, k) with n = 5, c = 2:
    # k=1: 2/5 = 0.4;  k=2: C(2,2)/C(5,2) = 1/10 = 0.1;  k>=3: C(2,k) = 0 -> 0
    assert [pass_hat_k(5, 2, k) for k in range(1, 6)] == pytest.approx([0.4, 0.1, 0.0, 0.0, 0.0])


def test_pass_k_edges():
    # n = 0 or k > n: undefined
    assert pass_at_k(0, 0, 1) is None and pass_hat_k(0, 0, 1) is None
    assert pass_at_k(3, 1, 4) is None and pass_hat_k(3, 1, 4) is None
    # c = 0: never passes; c = n: always passes, for every k
    assert [pass_at_k(4, 0, k) for k in range(1, 5)] == [0.0] * 4
    assert [pass_hat_k(4, 0, k) for k in range(1, 5)] == [0.0] * 4
    assert [pass_at_k(4, 4, k) for k in range(1, 5)] == [1.0] * 4
    assert [pass_hat_k(4, 4, k) for k in range(1, 5)] == [1.0] * 4
    # k = 1: both are the plain pass rate
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7) and pass_hat_k(7, 3, 1) == pytest.approx(3 / 7)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 0)


# --- McNemar -----------------------------------------------------------------------------------


def test_mcnemar_exact_b1_c8_by_hand():
    # 9 discordant pairs (< 25): exact binomial, X ~ Bin(9, 1/2), observed min(b, c) = 1
    # P(X <= 1) = (C(9,0) + C(9,1)) / 2^9 = (1 + 9) / 512 = 10/512
    # two-sided p = 2 * 10/512 = 20/512 = 0.0390625  -> significant at 0.05
    r = mcnemar(1, 8)
    assert r["method"] == "exact binomial"
    assert r["p_value"] == pytest.approx(0.0390625, abs=1e-12)
    assert r["significant"] is True
    assert mcnemar(8, 1)["p_value"] == r["p_value"]  # symmetric


def test_mcnemar_exact_edges():
    # b = c = 0: nothing discordant, p = 1
    assert mcnemar(0, 0)["p_value"] == 1.0 and mcnemar(0, 0)["significant"] is False
    # b = 0, c = 5: 2 * (1/2)^5 = 0.0625, not significant (5 wins out of 5 is not enough)
    assert mcnemar(0, 5)["p_value"] == pytest.approx(0.0625)
    # b = 0, c = 6: 2 / 64 = 0.03125, significant
    assert mcnemar(0, 6)["p_value"] == pytest.approx(0.03125) and mcnemar(0, 6)["significant"]
    # b = c: the smaller tail doubled is over 1, capped: 2 * (C(4,0)+C(4,1)+C(4,2)) / 16 = 2 * 11/16 -> 1
    assert binomial_two_sided(2, 4) == 1.0


def test_mcnemar_chi_square_b10_c25_by_hand():
    # 35 discordant pairs (>= 25): chi-square with continuity correction
    # X^2 = (|10 - 25| - 1)^2 / (10 + 25) = 14^2 / 35 = 196 / 35 = 5.6
    # p = P(chi2_1 >= 5.6) = P(|Z| >= sqrt(5.6) = 2.36643) = 2 * (1 - Phi(2.36643))
    #   = 2 * 0.0089802 = 0.0179605  -> significant
    r = mcnemar(10, 25)
    assert r["method"] == "chi-square with continuity correction"
    assert r["statistic"] == pytest.approx(5.6)
    assert r["p_value"] == pytest.approx(0.0179605, abs=1e-6)
    assert r["significant"] is True
    # b = 12, c = 13 (exactly 25, chi-square): (|12-13| - 1)^2 / 25 = 0 -> p = 1
    r = mcnemar(12, 13)
    assert r["method"].startswith("chi-square") and r["statistic"] == 0.0 and r["p_value"] == 1.0
    # b = 20, c = 30: (10 - 1)^2 / 50 = 81/50 = 1.62 -> p = erfc(sqrt(0.81)) = erfc(0.9) = 0.2030918
    assert mcnemar(20, 30)["p_value"] == pytest.approx(0.2030918, abs=1e-6)
    assert mcnemar(20, 30)["significant"] is False


def test_chi2_sf_critical_value():
    # The 95% critical value of chi-square with 1 df is 3.841459 (= 1.959964^2)
    assert chi2_sf_1df(Z * Z) == pytest.approx(0.05, abs=1e-6)
    assert chi2_sf_1df(0) == 1.0


# --- paired bootstrap --------------------------------------------------------------------------


def test_paired_bootstrap_fixed_seed_and_hand_checks():
    diffs = [1.0, 0.0, 0.0, 1.0, 0.5]
    a = paired_bootstrap(diffs)
    assert a == paired_bootstrap(diffs)  # fixed seed: same data, same interval
    assert a["mean_difference"] == pytest.approx(0.5)  # (1 + 0 + 0 + 1 + 0.5) / 5
    lo, hi = a["ci"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0  # resampled means of values in [0, 1] around 0.5
    # All differences zero: every resample is 0, interval [0, 0], p = 1
    z = paired_bootstrap([0.0, 0.0, 0.0])
    assert z["ci"] == [0.0, 0.0] and z["p_value"] == 1.0 and not z["significant"]
    # All positive: no resample reaches 0, p = 0, interval = [min, max] range of positive means
    pos = paired_bootstrap([0.5, 1.0, 0.25, 0.75])
    assert pos["p_value"] == 0.0 and pos["significant"] and pos["ci"][0] > 0
    assert paired_bootstrap([])["mean_difference"] is None


# --- stability and paired comparison on hand-made trials ----------------------------------------


def _trial(spec, case, repeat, passed, output, status="ok", score=None):
    return {"id": f"{spec}/{case}/{repeat}", "spec": spec, "case_id": case, "repeat": repeat, "status": status,
            "passed": passed, "score": (float(passed) if passed is not None else None) if score is None else score,
            "output": output, "error": None if status == "ok" else "boom"}


def test_stability_figures_by_hand():
    s = "llamacpp:m"
    trials = [
        # case a: 2 of 5 pass, answers "Paris" x3 (case and spaces differ), "Lyon", "Nice"
        *(_trial(s, "a", r, p, o) for r, (p, o) in enumerate(
            [(1, "Paris"), (1, " paris "), (0, "Lyon"), (0, "Nice"), (0, "PARIS")])),
        # case b: all 5 pass, the same answer
        *(_trial(s, "b", r, 1, "4") for r in range(5)),
    ]
    # "PARIS" with passed 0 is odd but possible (a check on something else); normalisation still groups it
    assert normalise_answer("  Hello \n  World ") == "hello world"
    rows = {r["case_id"]: r for r in case_stability(trials)}
    a = rows["a"]
    assert (a["judged"], a["passed"], a["pass_rate"]) == (5, 2, 0.4)
    assert a["pass_at_k"] == pytest.approx({"1": 0.4, "2": 0.7, "3": 0.9, "4": 1.0, "5": 1.0})
    assert a["pass_hat_k"] == pytest.approx({"1": 0.4, "2": 0.1, "3": 0.0, "4": 0.0, "5": 0.0})
    assert a["agreement"]["answer"] == pytest.approx(3 / 5)  # paris x3 of 5
    assert a["agreement"]["check_outcomes"] == pytest.approx(3 / 5)  # (fail,) x3 of 5
    assert a["distinct_answers"] == 3 and a["flaky"] is True
    assert rows["b"]["agreement"] == {"answer": 1.0, "check_outcomes": 1.0} and rows["b"]["flaky"] is False

    # With per-check outcomes, two failing repeats that fail different checks disagree.
    checks = {t["id"]: [{"passed": True}, {"passed": bool(t["passed"])}] for t in trials}
    checks["llamacpp:m/a/2"] = [{"passed": False}, {"passed": False}]
    rows = {r["case_id"]: r for r in case_stability(trials, checks)}
    assert rows["a"]["agreement"]["check_outcomes"] == pytest.approx(2 / 5)  # (T,F) x2, (T,T) x2, (F,F) x1

    f = stability_figures(trials)
    # contender pass@k: mean over the two cases; case b is 1.0 for every k
    assert f["repeats"] == 5
    assert f["pass_at_k"] == pytest.approx({"1": 0.7, "2": 0.85, "3": 0.95, "4": 1.0, "5": 1.0})
    assert f["pass_hat_k"] == pytest.approx({"1": 0.7, "2": 0.55, "3": 0.5, "4": 0.5, "5": 0.5})
    assert f["agreement"]["answer"] == pytest.approx((0.6 + 1.0) / 2)
    assert f["agreement"]["cases"] == 2 and f["agreement"]["cases_all_same_answer"] == 1
    assert f["flaky_cases"] == ["a"]


def test_stability_edges():
    s = "x"
    # No trials at all
    assert stability_figures([]) == {"repeats": 0, "pass_at_k": {}, "pass_hat_k": {},
                                     "agreement": {"answer": None, "check_outcomes": None, "cases": 0,
                                                   "cases_all_same_answer": 0},
                                     "flaky_cases": []}
    # One repeat: pass@1 only, no agreement, nothing flaky
    f = stability_figures([_trial(s, "a", 0, 1, "yes"), _trial(s, "b", 0, 0, "no")])
    assert f["pass_at_k"] == {"1": 0.5} and f["agreement"]["answer"] is None and f["flaky_cases"] == []
    # Errors leave pass@k but make the case flaky (flaky.py's definition); k stops at the fewest judged repeats
    f = stability_figures([_trial(s, "a", 0, 1, "y"), _trial(s, "a", 1, None, None, status="error"),
                           _trial(s, "b", 0, 1, "y"), _trial(s, "b", 1, 1, "y")])
    assert f["repeats"] == 1 and f["pass_at_k"] == {"1": 1.0} and f["flaky_cases"] == ["a"]
    # Cases without checks: answers compared, no pass figures
    f = stability_figures([_trial(s, "a", 0, None, "y"), _trial(s, "a", 1, None, "n")])
    assert f["pass_at_k"] == {} and f["agreement"]["answer"] == 0.5 and f["agreement"]["check_outcomes"] is None


def test_paired_comparison_by_hand():
    A, B = "llamacpp:a", "llamacpp:b"
    # 10 shared cases: A wins c0, B wins c1..c8 (b = 1, c = 8 as above), both pass c9; c10 only A has
    trials = [_trial(A, "c0", 0, 1, ""), _trial(B, "c0", 0, 0, "")]
    for i in range(1, 9):
        trials += [_trial(A, f"c{i}", 0, 0, ""), _trial(B, f"c{i}", 0, 1, "")]
    trials += [_trial(A, "c9", 0, 1, ""), _trial(B, "c9", 0, 1, ""), _trial(A, "c10", 0, 1, "")]
    r = paired_comparison(trials, A, B)
    assert r["cases"] == 10 and r["only_a"] == ["c10"] and r["only_b"] == []
    assert r["a_wins"] == ["c0"] and r["b_wins"] == [f"c{i}" for i in range(1, 9)]
    assert r["both_pass"] == 1 and r["both_fail"] == 0
    assert r["pass_rate_a"] == pytest.approx(0.2) and r["pass_rate_b"] == pytest.approx(0.9)
    assert r["difference"] == pytest.approx(-0.7)
    assert r["mcnemar"]["method"] == "exact binomial" and r["mcnemar"]["p_value"] == pytest.approx(0.0390625)
    assert r["bootstrap"]["mean_difference"] == pytest.approx(-0.7) and r["bootstrap"]["significant"]
    assert r["summary"].startswith(f"{A} beats {B} on 1 case (c0); {B} beats {A} on 8 cases (c1, ")
    assert "significant at alpha 0.05 (McNemar, exact binomial, p = 0.0391" in r["summary"]
    assert "not significant" not in r["summary"]


def test_paired_comparison_repeats_fold_into_one_verdict_per_case():
    A, B = "a", "b"
    # case x: A passes 3 of 4 (verdict pass), B 2 of 4 (a tie is not a majority: fail) -> A wins
    # case y: both 4 of 4
    trials = [_trial(A, "x", r, p, "") for r, p in enumerate([1, 1, 1, 0])]
    trials += [_trial(B, "x", r, p, "") for r, p in enumerate([1, 0, 1, 0])]
    trials += [_trial(s, "y", r, 1, "") for s in (A, B) for r in range(4)]
    r = paired_comparison(trials, A, B)
    assert r["a_wins"] == ["x"] and r["b_wins"] == [] and r["cases"] == 2
    assert r["mcnemar"]["p_value"] == 1.0 and "not significant" in r["summary"]  # 1 discordant case: 2 * 1/2
    assert r["difference"] == pytest.approx(((0.75 + 1) - (0.5 + 1)) / 2)


def test_resolve_spec():
    specs = ["llamacpp:smollm2-135m?temperature=0.0&threads=1", "llamacpp:qwen2.5-coder-0.5b?temperature=0.0&threads=1"]
    assert resolve_spec("smollm2", specs) == specs[0]
    assert resolve_spec(specs[1], specs) == specs[1]
    # canonical form: options in another order
    assert resolve_spec("smollm2-135m?threads=1&temperature=0", specs) == specs[0]
    with pytest.raises(InputError, match="several"):
        resolve_spec("llamacpp", specs)
    with pytest.raises(InputError, match="no contender 'gemma'"):
        resolve_spec("gemma", specs)


def test_binomial_matches_its_definition():
    # cross-check the tail sum for a mid-size n against the direct formula
    n, k = 20, 5
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    assert binomial_two_sided(k, n) == pytest.approx(2 * tail)
