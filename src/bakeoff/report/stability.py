"""What repeats of the same case say about a contender (``bakeoff run --repeat N``).

Per case, over its repeats: the pass rate with a Wilson interval, pass@k (at least one of k
repeats passes; Chen et al. 2021's unbiased estimator), pass^k (all k pass; tau-bench's
estimator), and two agreements, labelled apart:

- ``answer``: the share of repeats that give the most common answer, answers compared after
  whitespace and case normalisation (1.0: every repeat said the same thing);
- ``check_outcomes``: the same share over the repeats' check outcomes (which checks passed, in
  order), so two differently worded answers that the checks treat alike agree here.

Per contender: pass@k and pass^k averaged over the cases for k = 1 .. the fewest judged repeats
any case has (so every figure covers every case), the agreements averaged over the cases with at
least two repeats, and the flaky cases. *Flaky* is report/flaky.py's definition, so the list here
and the report's flaky section always name the same cases: the repeats disagree on the verdict
(some pass, some fail), or some ended in an error and others did not.

Errors (status != ok) and trials without checks are left out of pass rates and pass@k, as in
``summarise_trials``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bakeoff.report.flaky import flaky_cells
from bakeoff.util.stats import pass_at_k, pass_hat_k, wilson_interval
from bakeoff.util.answers import normal_form

AGREEMENT_LEGEND = (
    "agreement.answer: share of a case's repeats giving its most common answer (after whitespace and "
    "case normalisation), averaged over cases with >= 2 repeats; agreement.check_outcomes: the same "
    "over which checks passed. pass_at_k[k]: chance at least one of k repeats passes (1 - C(n-c,k)/C(n,k)); "
    "pass_hat_k[k]: chance all k pass (C(c,k)/C(n,k)); both averaged over cases."
)


def normalise_answer(text: str | None) -> str:
    """Whitespace runs collapsed and case folded: the form two answers are compared in."""
    return normal_form(text, fold=str.casefold)


def _modal_share(values: list) -> float | None:
    if len(values) < 2:
        return None
    return Counter(values).most_common(1)[0][1] / len(values)


def _outcome(t, checks: dict[str, list] | None) -> tuple:
    """Which checks passed, in order; without check results, the verdict alone."""
    if checks is not None and checks.get(t["id"]):
        return tuple(bool(c["passed"]) for c in checks[t["id"]])
    return (t["passed"],)


def case_stability(trials, checks: dict[str, list] | None = None) -> list[dict[str, Any]]:
    """Per-case repeat figures for one contender's trials (rows with case_id, repeat, status,
    passed, output, id, error). checks: trial id -> its check results in order (each with
    "passed"), e.g. ``Database.check_results_by_trial``; without it the check-outcome
    agreement compares verdicts."""
    by_case: dict[str, list] = defaultdict(list)
    for t in trials:
        by_case[t["case_id"]].append(t)
    flaky = {c["case_id"] for c in flaky_cells(trials)["flaky"]}
    rows = []
    for case_id, ts in by_case.items():
        ts = sorted(ts, key=lambda t: t["repeat"])
        ok = [t for t in ts if t["status"] == "ok"]
        judged = [t for t in ok if t["passed"] is not None]
        n, c = len(judged), sum(int(t["passed"]) for t in judged)
        ci = wilson_interval(c, n)
        answers = [normalise_answer(t["output"]) for t in ok]
        rows.append({
            "case_id": case_id,
            "repeats": len(ts),
            "errors": len(ts) - len(ok),
            "judged": n,
            "passed": c,
            "pass_rate": c / n if n else None,
            "pass_rate_ci": list(ci) if ci else None,
            "pass_at_k": {str(k): pass_at_k(n, c, k) for k in range(1, n + 1)},
            "pass_hat_k": {str(k): pass_hat_k(n, c, k) for k in range(1, n + 1)},
            "agreement": {"answer": _modal_share(answers),
                          "check_outcomes": _modal_share([_outcome(t, checks) for t in judged])},
            "distinct_answers": len(set(answers)),
            "flaky": case_id in flaky,
        })
    return rows


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def stability_figures(trials, checks: dict[str, list] | None = None) -> dict[str, Any]:
    """The per-contender repeat figures for the matrix row and ``--json``: pass_at_k,
    pass_hat_k, agreement, flaky_cases (and repeats: the fewest judged repeats of any case, the
    largest k shown)."""
    cases = case_stability(trials, checks)
    judged = [c for c in cases if c["judged"]]
    k_max = min((c["judged"] for c in judged), default=0)
    ks = [str(k) for k in range(1, k_max + 1)]
    repeated = [c for c in cases if c["agreement"]["answer"] is not None or c["agreement"]["check_outcomes"] is not None]
    return {
        "repeats": k_max,
        "pass_at_k": {k: _mean(c["pass_at_k"][k] for c in judged) for k in ks},
        "pass_hat_k": {k: _mean(c["pass_hat_k"][k] for c in judged) for k in ks},
        "agreement": {
            "answer": _mean(c["agreement"]["answer"] for c in cases),
            "check_outcomes": _mean(c["agreement"]["check_outcomes"] for c in cases),
            "cases": len(repeated),
            "cases_all_same_answer": sum(c["agreement"]["answer"] == 1.0 for c in cases),
        },
        "flaky_cases": sorted(c["case_id"] for c in cases if c["flaky"]),
    }


def repeat_case_rows(trials, checks: dict[str, list] | None = None) -> list[dict[str, Any]]:
    """case_stability for every contender in ``trials``, each row with its spec (for --json)."""
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        by_spec[t["spec"]].append(t)
    return [{"spec": spec, **row} for spec, ts in by_spec.items() for row in case_stability(ts, checks)]
