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
    return (max(0.0, centre - half), min(1.0, centre + half))


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarise_trials(trials: list) -> dict:
    """The figures every view of a group of trials shows (medians over successful trials)."""
    ok = [t for t in trials if t["status"] == "ok"]
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
        "ttft_ms_median": median(t["ttft_ms"] for t in ok),
        "e2e_ms_median": median(t["e2e_ms"] for t in ok),
        "decode_tps_median": median(t["decode_tps"] for t in ok),
        "engine_decode_tps_median": median(t["engine_decode_tps"] for t in ok),
        "prefill_tps_median": median(t["engine_prefill_tps"] for t in ok),
        "peak_mem_mb": max(peaks) if peaks else None,
        "output_tokens_median": median(t["output_tokens"] for t in ok),
    }
