"""Two contenders on the same cases: who wins where, and is the difference more than chance?

The unit is the case: only cases both contenders answered (with checks) are compared.

- Verdicts: a contender passes a case when more than half of its judged repeats pass (with one
  repeat, the verdict itself). A beats B on a case when A passes it and B does not. McNemar's
  test on those discordant cases (b: A wins, c: B wins): the exact binomial test below 25
  discordant cases, chi-square with continuity correction from there; the result names which.
- Scores: per case, each contender's mean check score over its repeats; a paired bootstrap
  (resampling cases, fixed seed) of the mean difference A - B, with a 95% interval.

Repeats are folded into one figure per case before testing, because repeats of one case are
not independent pairs: counting them as such would overstate significance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bakeoff.errors import InputError
from bakeoff.util.stats import mcnemar, paired_bootstrap

ALPHA = 0.05
BOOTSTRAP_ITERATIONS = 10_000
BOOTSTRAP_SEED = 0


def _per_case(trials, spec: str) -> dict[str, dict]:
    cases: dict[str, list] = defaultdict(list)
    for t in trials:
        if t["spec"] == spec and t["status"] == "ok" and t["passed"] is not None:
            cases[t["case_id"]].append(t)
    out = {}
    for case_id, ts in cases.items():
        passed = sum(int(t["passed"]) for t in ts)
        scores = [t["score"] for t in ts if t["score"] is not None]
        out[case_id] = {"repeats": len(ts), "passed": passed, "pass_rate": passed / len(ts),
                        "verdict": passed * 2 > len(ts),
                        "score": sum(scores) / len(scores) if scores else float(passed) / len(ts)}
    return out


def resolve_spec(name: str, specs: list[str]) -> str:
    """A stored spec from what the user typed: the exact spec, its canonical form, or a part of
    exactly one stored spec (``smollm2`` for ``llamacpp:smollm2-135m?temperature=0``)."""
    if name in specs:
        return name
    try:
        from bakeoff.spec import parse_spec

        canonical = parse_spec(name).canonical
        if canonical in specs:
            return canonical
    except InputError:
        pass
    matches = [s for s in specs if name in s]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(specs)) or "none"
    if matches:
        raise InputError(f"{name!r} matches several contenders ({', '.join(sorted(matches))}); give the full spec")
    raise InputError(f"no contender {name!r} in the database; stored contenders: {known}")


def paired_comparison(trials, spec_a: str, spec_b: str, alpha: float = ALPHA,
                      iterations: int = BOOTSTRAP_ITERATIONS, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Compare two contenders' trials (rows with spec, case_id, status, passed, score) case by case."""
    a, b = _per_case(trials, spec_a), _per_case(trials, spec_b)
    shared = sorted(set(a) & set(b))
    a_wins = [c for c in shared if a[c]["verdict"] and not b[c]["verdict"]]
    b_wins = [c for c in shared if b[c]["verdict"] and not a[c]["verdict"]]
    test = mcnemar(len(a_wins), len(b_wins), alpha=alpha)
    boot = paired_bootstrap([a[c]["score"] - b[c]["score"] for c in shared], iterations=iterations,
                            seed=seed, alpha=alpha)
    rate_a = sum(a[c]["pass_rate"] for c in shared) / len(shared) if shared else None
    rate_b = sum(b[c]["pass_rate"] for c in shared) / len(shared) if shared else None
    result = {
        "a": spec_a,
        "b": spec_b,
        "cases": len(shared),
        "only_a": sorted(set(a) - set(b)),
        "only_b": sorted(set(b) - set(a)),
        "pass_rate_a": rate_a,
        "pass_rate_b": rate_b,
        "difference": rate_a - rate_b if shared else None,
        "a_wins": a_wins,
        "b_wins": b_wins,
        "both_pass": sum(a[c]["verdict"] and b[c]["verdict"] for c in shared),
        "both_fail": sum(not a[c]["verdict"] and not b[c]["verdict"] for c in shared),
        "mcnemar": test,
        "bootstrap": {**boot, "mean_score_a": sum(a[c]["score"] for c in shared) / len(shared) if shared else None,
                      "mean_score_b": sum(b[c]["score"] for c in shared) / len(shared) if shared else None},
        "per_case": [{"case_id": c, "a": a[c], "b": b[c]} for c in shared],
    }
    result["summary"] = summary_line(result)
    return result


def _cases(ids: list[str]) -> str:
    return f"{len(ids)} case{'s' if len(ids) != 1 else ''}" + (f" ({', '.join(ids)})" if ids else "")


def summary_line(r: dict[str, Any]) -> str:
    """"A beats B on these cases, B beats A on these, significant or not at alpha 0.05"."""
    if not r["cases"]:
        return f"{r['a']} and {r['b']} have no judged cases in common: nothing to compare."
    t = r["mcnemar"]
    verdict = "significant" if t["significant"] else "not significant"
    return (f"{r['a']} beats {r['b']} on {_cases(r['a_wins'])}; {r['b']} beats {r['a']} on {_cases(r['b_wins'])}; "
            f"{verdict} at alpha {t['alpha']:g} (McNemar, {t['method']}, p = {t['p_value']:.3g}; "
            f"{r['cases']} shared cases).")


def comparison_lines(r: dict[str, Any]) -> list[str]:
    """The comparison as plain lines for the terminal."""
    lines = [r["summary"]]
    if not r["cases"]:
        return lines
    boot = r["bootstrap"]
    lines.append(f"pass rate on the shared cases: {r['a']} {r['pass_rate_a']:.0%}, {r['b']} {r['pass_rate_b']:.0%} "
                 f"(difference {r['difference'] * 100:+.0f} points); both pass {r['both_pass']}, both fail {r['both_fail']}.")
    lo, hi = boot["ci"]
    lines.append(f"mean score difference {boot['mean_difference']:+.3f}, {boot['confidence']:.0%} CI {lo:+.3f} to {hi:+.3f} "
                 f"(paired bootstrap over cases, {boot['iterations']} resamples, seed {boot['seed']}; "
                 f"p = {boot['p_value']:.3g}, {'significant' if boot['significant'] else 'not significant'}).")
    for side, ids in (("a", r["only_a"]), ("b", r["only_b"])):
        if ids:
            lines.append(f"only {r[side]} has results for {_cases(ids)}; left out.")
    return lines
