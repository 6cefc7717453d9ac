"""Statistics behind the report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 and n the bound on that side is exactly 0 or 1 (rounding would leave 0.9999999999999999).
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def is_cold(trial) -> bool:
    """Whether a trial's TTFT and prefill count as cold ones (bakeoff.measure.cache): not when its
    prompt came partly from a prefix cache, or may have, or was a conversation's warm turn. Rows
    stored before the cache was recorded count as cold."""
    try:
        return trial["cache_cold"] != 0
    except (KeyError, IndexError):
        return True


def summarise_trials(trials: list) -> dict:
    """The figures every view of a group of trials shows (medians over successful trials; TTFT
    and prefill over the cold ones only)."""
    ok = [t for t in trials if t["status"] == "ok"]
    cold = [t for t in ok if is_cold(t)]
    judged = [t for t in ok if t["passed"] is not None]
    passed = sum(t["passed"] for t in judged)
    ci = wilson_interval(passed, len(judged))
    peaks = [t["peak_mem_mb"] for t in ok if t["peak_mem_mb"] is not None]
    return {
        "trials": len(trials),
        "errors": len(trials) - len(ok),
        "judged": len(judged),
        "passed": passed,
        "pass_rate": passed / len(judged) if judged else None,
        "pass_rate_ci": list(ci) if ci else None,
        "ttft_ms_median": median(t["ttft_ms"] for t in cold),
        "cold_trials": len(cold),
        "e2e_ms_median": median(t["e2e_ms"] for t in ok),
        "decode_tps_median": median(t["decode_tps"] for t in ok),
        "engine_decode_tps_median": median(t["engine_decode_tps"] for t in ok),
        "prefill_tps_median": median(t["engine_prefill_tps"] for t in cold),
        "peak_mem_mb": max(peaks) if peaks else None,
        "output_tokens_median": median(t["output_tokens"] for t in ok),
    }


# --- repeats: pass@k and pass^k ---------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Chance that at least one of k repeats passes, from n repeats of which c passed.

    The unbiased estimator of Chen et al. 2021 (HumanEval): 1 - C(n-c, k) / C(n, k), the share
    of k-subsets of the n repeats that hold at least one pass. None where it is not defined
    (n = 0, or k > n: k repeats cannot be drawn from fewer).
    """
    _check_counts(n, c, k)
    if n == 0 or k > n:
        return None
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """pass^k: chance that all k repeats pass, estimated as C(c, k) / C(n, k) (tau-bench's
    estimator: the share of k-subsets of the n repeats that hold only passes). None where n = 0
    or k > n."""
    _check_counts(n, c, k)
    if n == 0 or k > n:
        return None
    return math.comb(c, k) / math.comb(n, k)


def _check_counts(n: int, c: int, k: int) -> None:
    if n < 0 or not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")


# --- paired tests -----------------------------------------------------------------------------

# Below this many discordant pairs McNemar's test uses the exact binomial distribution; the
# chi-square approximation is poor there (the usual rule: b + c < 25).
MCNEMAR_EXACT_BELOW = 25


def chi2_sf_1df(x: float) -> float:
    """Upper tail of the chi-square distribution with one degree of freedom: P(X >= x)."""
    if x <= 0:
        return 1.0
    return math.erfc(math.sqrt(x / 2))


def binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact binomial p-value for k successes in n trials with p = 1/2 (the smaller
    tail doubled, at most 1)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def mcnemar(b: int, c: int, alpha: float = 0.05, exact: bool | None = None) -> dict:
    """McNemar's test on the discordant pairs of a paired comparison.

    b: pairs where the first passed and the second failed; c: the reverse. exact=None picks the
    exact binomial test when b + c < MCNEMAR_EXACT_BELOW, else chi-square with continuity
    correction, (|b - c| - 1)^2 / (b + c) on one degree of freedom. The result names the method.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    use_exact = n < MCNEMAR_EXACT_BELOW if exact is None else exact
    if use_exact:
        method, statistic, p = "exact binomial", None, binomial_two_sided(min(b, c), n)
    else:
        statistic = (abs(b - c) - 1) ** 2 / n if n else 0.0
        method, p = "chi-square with continuity correction", chi2_sf_1df(statistic)
    return {"method": method, "b": b, "c": c, "discordant": n, "statistic": statistic, "p_value": p,
            "alpha": alpha, "significant": p < alpha}


def paired_bootstrap(diffs: list[float], iterations: int = 10_000, seed: int = 0,
                     confidence: float = 0.95, alpha: float = 0.05) -> dict:
    """Paired bootstrap of the mean of per-pair differences (resampling pairs with replacement).

    Fixed seed, so the same data give the same interval. The interval is the percentile
    interval; the two-sided p-value is twice the smaller share of resampled means on either side
    of zero (at most 1), so it is significant exactly when the (1 - alpha) interval excludes 0.
    """
    import random

    n = len(diffs)
    if n == 0:
        return {"pairs": 0, "mean_difference": None, "ci": None, "p_value": None, "iterations": iterations,
                "seed": seed, "confidence": confidence, "alpha": alpha, "significant": False}
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(iterations))
    # round, not floor: (1 - 0.95) / 2 * 10000 is 249.99999999999997 in floating point
    lo_i = min(iterations - 1, round((1 - confidence) / 2 * iterations))
    hi_i = max(lo_i, min(iterations - 1, round((1 + confidence) / 2 * iterations) - 1))
    below = sum(m <= 0 for m in means) / iterations
    above = sum(m >= 0 for m in means) / iterations
    p = min(1.0, 2 * min(below, above))
    return {"pairs": n, "mean_difference": sum(diffs) / n, "ci": [means[lo_i], means[hi_i]], "p_value": p,
            "iterations": iterations, "seed": seed, "confidence": confidence, "alpha": alpha,
            "significant": p < alpha}
