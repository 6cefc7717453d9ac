"""The Pareto frontier: contenders no other contender beats on both quality and a cost.

Quality (pass rate) is better higher; the other axis (cost per 1M tokens, median latency, peak
memory) is better lower. A contender is *dominated* when another is at least as good on both
axes and strictly better on one; the frontier is everyone else. Contenders tied on both axes
do not dominate each other, so both stay on the frontier.

Pure functions over the rows of :func:`bakeoff.report.matrix.contender_rows`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` = (quality, cost) dominates ``b``: no worse on both, strictly better on one."""
    (qa, ca), (qb, cb) = a, b
    return qa >= qb and ca <= cb and (qa > qb or ca < cb)


def frontier(points: list[tuple[float, float]]) -> list[bool]:
    """For each (quality, cost) point, whether it is on the Pareto frontier."""
    return [not any(dominates(other, p) for j, other in enumerate(points) if j != i)
            for i, p in enumerate(points)]


@dataclass
class Axis:
    """One cost axis of a frontier plot: how to read it from a contender row and how to label it."""

    key: str                      # the figure's key in the contender row (and its figure_sources)
    title: str                    # axis title, unit included
    read: Callable[[dict], float | None]
    source: Callable[[dict], str]  # where the figure came from, or why it is missing


def _cost_value(row: dict) -> float | None:
    return (row.get("cost_per_mtok") or {}).get("value")


def _cost_source(row: dict) -> str:
    cost = row.get("cost_per_mtok") or {}
    label = cost.get("label") or "unavailable"
    source = cost.get("source") or (row.get("figure_sources") or {}).get("cost_per_mtok", "")
    return source if label == "unavailable" else f"{label}: {source}"


def _figure_source(key: str) -> Callable[[dict], str]:
    return lambda row: (row.get("figure_sources") or {}).get(key, "")


def axes(currency: str = "USD") -> list[Axis]:
    return [
        Axis("cost_per_mtok", f"cost per 1M output tokens ({currency})", _cost_value, _cost_source),
        Axis("e2e_ms_median", "median E2E latency (ms)", lambda r: r.get("e2e_ms_median"),
             _figure_source("e2e_ms_median")),
        Axis("peak_mem_mb", "peak memory above baseline (MB)", lambda r: r.get("peak_mem_mb"),
             _figure_source("peak_mem_mb")),
    ]


@dataclass
class FrontierPoint:
    spec: str
    quality: float                 # pass rate, 0..1
    quality_ci: list[float] | None  # Wilson 95%
    cost: float
    on_frontier: bool
    source: str                    # where the cost figure came from


@dataclass
class FrontierPlot:
    key: str
    x_title: str
    y_title: str = "pass rate (%, 95% Wilson interval)"
    points: list[FrontierPoint] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)  # {spec, reason}: not plotted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def frontier_plot(rows: list[dict], axis: Axis) -> FrontierPlot:
    """Quality against one cost axis: every contender with both figures, marked on or off the frontier."""
    plot = FrontierPlot(axis.key, axis.title)
    usable = []
    for row in rows:
        x = axis.read(row)
        if row.get("quality"):  # not applicable (an architecture twin)
            plot.missing.append({"spec": row["spec"], "reason": row["quality"]})
        elif row.get("pass_rate") is None:
            plot.missing.append({"spec": row["spec"], "reason": "no judged trials (no checks, or only errors)"})
        elif x is None:
            plot.missing.append({"spec": row["spec"], "reason": axis.source(row) or "figure unavailable"})
        else:
            usable.append((row, float(x)))
    on = frontier([(row["pass_rate"], x) for row, x in usable])
    plot.points = [FrontierPoint(row["spec"], row["pass_rate"], row.get("pass_rate_ci"), x, flag, axis.source(row))
                   for (row, x), flag in zip(usable, on)]
    return plot


def frontier_plots(rows: list[dict]) -> list[FrontierPlot]:
    """The three plots the report shows: quality against cost, latency and memory."""
    currencies = {(r.get("cost_per_mtok") or {}).get("currency") for r in rows} - {None}
    currency = currencies.pop() if len(currencies) == 1 else "mixed currencies"
    return [frontier_plot(rows, axis) for axis in axes(currency)]
