"""`bakeoff load`'s figures (vLLM's calculate_metrics): per-level throughput, goodput and
latency percentiles from the per-request samples, the rates a level achieved and where a server
saturated. Computed when a level ends (bakeoff.run.load) and again from stored rows
(bakeoff.report.load).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

SOURCE = "client-observed: wall clock in bakeoff's process, on receipt of each streamed chunk"
PERCENTILES = (50, 90, 99)


def percentile(values: list[float], p: float) -> float:
    """numpy.percentile's default ("linear"): x[lo] + (h - lo) * (x[lo + 1] - x[lo]), h = (n - 1) p / 100."""
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def latency_summary(values: list[float]) -> dict[str, float] | None:
    """n, mean, population stdev and the percentiles of one latency figure; None without values."""
    if not values:
        return None
    out = {"n": len(values), "mean": statistics.fmean(values), "std": statistics.pstdev(values)}
    out.update({f"p{p}": percentile(values, p) for p in PERCENTILES})
    return out


def summarise(samples: list[dict], duration_s: float, slo: dict[str, float],
              prompt_tokens_asked: int) -> dict[str, Any]:
    """The level's figures from its per-request samples, as vLLM's calculate_metrics."""
    done = [s for s in samples if s["ok"]]
    completed = len(done)
    outputs = [s["output_tokens"] for s in done]
    outputs_known = all(n is not None for n in outputs)
    total_output = sum(outputs) if done and outputs_known else (0 if not done else None)
    prompt_counts = [s["prompt_tokens"] if s["prompt_tokens"] is not None else prompt_tokens_asked for s in done]
    total_input = sum(prompt_counts)
    ttfts = [s["ttft_ms"] for s in done if s["ttft_ms"] is not None]
    tpots = [s["tpot_ms"] for s in done if s["tpot_ms"] is not None]
    itls = [gap for s in done for gap in s["itl_ms"]]
    e2es = [s["e2e_ms"] for s in done if s["e2e_ms"] is not None]
    good = None
    if slo:
        good = sum(1 for s in done if _meets(s, slo))

    def rate(x):
        return x / duration_s if duration_s > 0 and x is not None else None

    return {
        "completed": completed, "failed": len(samples) - completed,
        "total_input_tokens": total_input, "total_output_tokens": total_output,
        "request_throughput": rate(completed),
        "output_throughput": rate(total_output),
        "total_token_throughput": rate(total_input + total_output) if total_output is not None else None,
        "goodput": rate(good) if slo else None, "good_requests": good,
        "latency": {"ttft_ms": latency_summary(ttfts), "tpot_ms": latency_summary(tpots),
                    "itl_ms": latency_summary(itls), "e2e_ms": latency_summary(e2es)},
    }


def _meets(sample: dict, slo: dict[str, float]) -> bool:
    """Every SLO met. TPOT of a one-token answer counts 0 (vLLM); an unknown figure fails the SLO."""
    for key, limit in slo.items():
        if key == "ttft_ms":
            value = sample["ttft_ms"]
        elif key == "e2el_ms":
            value = sample["e2e_ms"]
        else:
            n = sample["output_tokens"]
            value = 0.0 if n is not None and n <= 1 else sample["tpot_ms"]
        if value is None or value > limit:
            return False
    return True


def tokens_source(samples: list[dict]) -> str:
    """Where the level's token counts came from, e.g. "output: tokenizer; prompt: server usage"."""
    done = [s for s in samples if s["ok"]]
    out = sorted({s["output_tokens_source"] or "unknown" for s in done}) or ["none completed"]
    prompt = sorted({s["prompt_tokens_source"] or "unknown" for s in done}) or ["none completed"]
    return f"output: {' + '.join(out)}; prompt: {' + '.join(prompt)}"


def rates_achieved(samples: list[dict]) -> tuple[float | None, float | None]:
    """(requests/s sent, first to last send; requests/s completed, first to last completion)."""
    def rate(times: list[float]) -> float | None:
        span = max(times) - min(times) if len(times) > 1 else 0
        return (len(times) - 1) / span if span > 0 else None

    return rate([s["sent_s"] for s in samples]), rate([s["done_s"] for s in samples if s["ok"]])


KEPT_UP = 0.95  # a rate level where completions kept at least this share of the sent rate


def server_kept_up(row: dict) -> bool | None:
    """Whether the server kept up with a rate level: completions at >= 95% of the rate sent."""
    if row.get("target_rate") is None or not row.get("sent_rate"):
        return None
    return (row.get("completion_rate") or 0.0) >= KEPT_UP * row["sent_rate"] and row["failed"] == 0


def saturation(rows: list[dict]) -> dict[str, Any] | None:
    """Where the server saturated among a contender's rate levels (rows as report.load.result_json):
    the highest rate it kept up with, the lowest it did not, and the most it completed."""
    rated = sorted((r for r in rows if r.get("target_rate") is not None), key=lambda r: r["target_rate"])
    if not rated:
        return None
    kept = [r for r in rated if server_kept_up(r)]
    missed = [r for r in rated if not server_kept_up(r)]
    return {"kept_up_to": kept[-1]["target_rate"] if kept else None,
            "saturated_from": missed[0]["target_rate"] if missed else None,
            "max_completion_rate": max((r["completion_rate"] or 0.0) for r in rows)}


def max_goodput(rows: list[dict]) -> dict[str, Any] | None:
    """The level with the highest goodput (requests/s meeting every SLO), or None without an SLO."""
    scored = [r for r in rows if r.get("goodput") is not None]
    return max(scored, key=lambda r: r["goodput"]) if scored else None
