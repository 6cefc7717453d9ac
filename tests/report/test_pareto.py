"""The Pareto frontier (pure functions) and the frontier plot built from it."""

from bakeoff.report.charts import frontier_figure
from bakeoff.report.pareto import axes, dominates, frontier, frontier_plot, frontier_plots


def test_dominance_needs_no_worse_on_both_and_better_on_one():
    assert dominates((0.9, 1.0), (0.8, 2.0))
    assert dominates((0.9, 1.0), (0.9, 2.0))       # same quality, cheaper
    assert dominates((0.9, 1.0), (0.8, 1.0))       # same cost, better
    assert not dominates((0.9, 1.0), (0.9, 1.0))   # a tie dominates nothing
    assert not dominates((0.9, 2.0), (0.8, 1.0))   # better but dearer: a trade-off
    assert not dominates((0.8, 2.0), (0.9, 1.0))


def test_frontier_of_a_crafted_set():
    points = {
        "cheap-bad": (0.40, 1.0),
        "mid": (0.70, 3.0),
        "dear-good": (0.95, 9.0),
        "dominated-by-mid": (0.60, 4.0),
        "dominated-by-all-dear": (0.30, 10.0),
        "twin-of-mid": (0.70, 3.0),                 # equal to "mid": both stay
        "same-cost-worse": (0.65, 3.0),             # beaten by mid at the same cost
        "same-quality-dearer": (0.95, 9.5),         # beaten by dear-good at the same quality
    }
    flags = dict(zip(points, frontier(list(points.values()))))
    assert {k for k, on in flags.items() if on} == {"cheap-bad", "mid", "dear-good", "twin-of-mid"}


def test_frontier_edge_cases():
    assert frontier([]) == []
    assert frontier([(0.5, 1.0)]) == [True]
    # A chain where each point beats the next: only the first is on the frontier.
    assert frontier([(0.9, 1.0), (0.8, 2.0), (0.7, 3.0)]) == [True, False, False]


def _row(spec, rate, e2e=None, mem=None, cost=None, ci=None):
    return {"spec": spec, "pass_rate": rate, "pass_rate_ci": ci or ([rate - 0.1, rate + 0.1] if rate is not None else None),
            "e2e_ms_median": e2e, "peak_mem_mb": mem,
            "cost_per_mtok": {"value": cost, "label": "estimated" if cost is not None else "unavailable",
                              "currency": "USD", "source": "energy unavailable" if cost is None else "TDP x time"},
            "figure_sources": {"e2e_ms_median": "client-observed", "peak_mem_mb": "measured",
                               "cost_per_mtok": "local formula"}}


def test_frontier_plots_mark_points_and_say_why_a_contender_is_missing():
    rows = [_row("a", 0.9, e2e=500, mem=300, cost=2.0), _row("b", 0.5, e2e=900, mem=200, cost=None),
            _row("c", 0.4, e2e=1000, mem=400, cost=3.0), _row("no-checks", None, e2e=100, mem=10, cost=0.1)]
    cost, latency, memory = frontier_plots(rows)
    assert cost.x_title == "cost per 1M output tokens (USD)"
    assert {p.spec: p.on_frontier for p in cost.points} == {"a": True, "c": False}
    assert {m["spec"]: m["reason"] for m in cost.missing} == {
        "b": "energy unavailable", "no-checks": "no judged trials (no checks, or only errors)"}
    assert {p.spec: p.on_frontier for p in latency.points} == {"a": True, "b": False, "c": False}
    # Less memory but worse: b is a trade-off, so it stays on the memory frontier.
    assert {p.spec: p.on_frontier for p in memory.points} == {"a": True, "b": True, "c": False}
    assert latency.points[0].source == "client-observed" and "(ms)" in latency.x_title
    assert "(MB)" in memory.x_title


def test_frontier_figure_draws_the_frontier_and_greys_the_rest():
    rows = [_row("a", 0.9, e2e=500), _row("b", 0.5, e2e=900), _row("c", 0.95, e2e=2000),
            _row("<b>x</b>", 0.2, e2e=3000)]
    latency_axis = next(a for a in axes() if a.key == "e2e_ms_median")
    fig = frontier_figure(frontier_plot(rows, latency_axis), {"a": "#1", "b": "#2", "c": "#3", "<b>x</b>": "#4"})
    data = {d["spec"]: d for d in fig["data"]["values"]}
    assert {s: d["status"] for s, d in data.items()} == {
        "a": "Pareto frontier", "b": "dominated", "c": "Pareto frontier", "<b>x</b>": "dominated"}
    assert data["a"]["label"] == "#1" and (data["a"]["x"], data["a"]["y"]) == (500, 90)
    assert (round(data["a"]["lo"], 6), round(data["a"]["hi"], 6)) == (80, 100)  # the Wilson interval, in percent
    layers = {layer["name"]: layer for layer in fig["layer"]}
    # The frontier: a staircase through the frontier points only, in cost order.
    line = layers["frontier_line"]
    assert line["mark"]["interpolate"] == "step-after"
    assert line["transform"] == [{"filter": {"field": "status", "equal": "Pareto frontier"}}]
    assert line["encoding"]["order"]["field"] == "x"
    # Dominated contenders in grey.
    colour = layers["dominated_points"]["encoding"]["color"]["scale"]
    assert dict(zip(colour["domain"], colour["range"])) == {"Pareto frontier": "#1f6fb4", "dominated": "#b4b4b4"}
    # Units on the axes; the tooltip says where the figure came from.
    assert layers["frontier_points"]["encoding"]["x"]["title"].startswith("median E2E latency (ms)")
    assert {"field": "source", "title": "source"} in layers["frontier_points"]["encoding"]["tooltip"]
