"""Vega-Lite charts for the HTML report, as plain JSON specs.

The report inlines Vega, Vega-Lite and vega-embed (see jsbundle.py) and draws these specs in
the browser as SVG. Specs are written as dicts rather than through Altair: importing Altair
alone takes ~0.7 s of the report's 3 s budget on a small machine, and the specs are simple.
Every axis title carries its unit; tooltips say where each figure came from. Vega draws text
as SVG text and its tooltips escape HTML, so a spec or case id is shown, never parsed.
"""

from __future__ import annotations

from collections import defaultdict

from bakeoff.report.pareto import FrontierPlot

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier only: nothing is fetched
FRONTIER_COLOUR = "#1f6fb4"
DOMINATED_COLOUR = "#b4b4b4"
SECOND_COLOUR = "#d6631a"
HEIGHT = 300


def short_spec(spec: str) -> str:
    """Legends drop the default backend prefix; tooltips keep the full spec."""
    return spec.removeprefix("llamacpp:")


def _chart(data: list[dict], layers: list[dict], **extra) -> dict:
    return {"$schema": SCHEMA, "width": "container", "height": HEIGHT, "data": {"values": data},
            "layer": layers, "config": {"view": {"stroke": "#ddd"}, "axis": {"labelFontSize": 11, "titleFontSize": 12}},
            **extra}


def frontier_figure(plot: FrontierPlot, labels: dict[str, str] | None = None) -> dict:
    """Quality against one cost: the frontier as a staircase, dominated contenders in grey.

    Points are labelled with ``labels[spec]`` (the report uses the matrix's row numbers, as
    specs are too long to print beside a point); the tooltip gives the full spec.
    """
    labels = labels or {}
    rows = [{"spec": p.spec, "label": labels.get(p.spec, short_spec(p.spec)), "x": p.cost, "y": p.quality * 100,
             "lo": (p.quality_ci[0] * 100) if p.quality_ci else p.quality * 100,
             "hi": (p.quality_ci[1] * 100) if p.quality_ci else p.quality * 100,
             "status": "Pareto frontier" if p.on_frontier else "dominated", "source": p.source}
            for p in plot.points]
    x = {"field": "x", "type": "quantitative", "title": f"{plot.x_title} — lower is better",
         "scale": {"zero": False, "nice": True}}
    y = {"field": "y", "type": "quantitative", "title": f"{plot.y_title} — higher is better",
         "scale": {"domain": [0, 100]}}
    colour = {"field": "status", "type": "nominal", "title": None,
              "scale": {"domain": ["Pareto frontier", "dominated"], "range": [FRONTIER_COLOUR, DOMINATED_COLOUR]},
              "legend": {"orient": "bottom"}}
    tooltip = [{"field": "spec", "title": "contender"}, {"field": "y", "title": "pass rate (%)", "format": ".0f"},
               {"field": "lo", "title": "95% CI low (%)", "format": ".0f"},
               {"field": "hi", "title": "95% CI high (%)", "format": ".0f"},
               {"field": "x", "title": plot.x_title, "format": ".4~g"}, {"field": "source", "title": "source"}]
    frontier_only = [{"filter": {"field": "status", "equal": "Pareto frontier"}}]
    return _chart(rows, [
        {"name": "frontier_line", "transform": frontier_only,
         "mark": {"type": "line", "interpolate": "step-after", "color": FRONTIER_COLOUR, "strokeWidth": 2},
         "encoding": {"x": x, "y": y, "order": {"field": "x", "type": "quantitative"}}},
        {"name": "interval", "mark": {"type": "rule", "strokeWidth": 1.5},
         "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"}, "color": colour}},
        {"name": "frontier_points", "transform": frontier_only,
         "mark": {"type": "point", "filled": True, "size": 110, "stroke": "#333", "strokeWidth": 0.8},
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tooltip}},
        {"name": "dominated_points", "transform": [{"filter": {"field": "status", "equal": "dominated"}}],
         "mark": {"type": "point", "filled": True, "size": 110, "stroke": "#777", "strokeWidth": 0.8},
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tooltip}},
        {"name": "labels", "mark": {"type": "text", "dy": -13, "fontSize": 11},
         "encoding": {"x": x, "y": y, "text": {"field": "label"}, "color": colour}},
    ])


def speed_figures(rows: list[dict]) -> list[dict]:
    """tok/s against context depth from `bakeoff speed`: one chart for prefill (pp), one for decode (tg).

    When a (contender, test, depth) was measured in several runs, the latest run counts.
    """
    latest: dict[tuple[str, str, int], dict] = {}
    for r in rows:  # oldest run first
        latest[(r["spec"], r["test"], r["depth"])] = r
    series: dict[str, list[dict]] = defaultdict(list)
    for (spec, test, depth), r in sorted(latest.items()):
        sd = r["stddev_tps"] or 0
        series["pp" if test.startswith("pp") else "tg"].append({
            "series": f"{short_spec(spec)} {test}", "spec": spec, "test": test, "depth": depth, "tps": r["avg_tps"],
            "lo": r["avg_tps"] - sd, "hi": r["avg_tps"] + sd, "reps": r["reps"], "engine_tps": r.get("engine_avg_tps"),
            "source": r.get("source") or "in process: wall clock around the decode calls"})
    titles = {"pp": "prompt processing (pp)", "tg": "generation (tg)"}
    figures = []
    for kind in ("pp", "tg"):
        if kind not in series:
            continue
        x = {"field": "depth", "type": "quantitative", "title": "context depth (tokens already in the KV cache)"}
        y = {"field": "tps", "type": "quantitative", "title": "tok/s (mean ± sample stdev, measured)"}
        colour = {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom", "columns": 2}}
        tooltip = [{"field": "spec", "title": "contender"}, {"field": "test"}, {"field": "depth"},
                   {"field": "tps", "title": "tok/s (measured)", "format": ".1f"},
                   {"field": "source", "title": "measured how"},
                   {"field": "engine_tps", "title": "tok/s (engine-reported)", "format": ".1f"},
                   {"field": "reps", "title": "repetitions"}]
        figures.append({"title": titles[kind], "figure": _chart(series[kind], [
            {"name": "lines", "mark": {"type": "line", "point": False}, "encoding": {"x": x, "y": y, "color": colour}},
            {"name": "spread", "mark": {"type": "rule"},
             "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"}, "color": colour}},
            {"name": "points", "mark": {"type": "point", "filled": True, "size": 60},
             "encoding": {"x": x, "y": y, "color": colour, "tooltip": tooltip}},
        ], title={"text": titles[kind], "anchor": "start"})})
    return figures


def _variant_name(v: dict) -> str:
    return ", ".join(f"{k}={val}" for k, val in v["sweep"].items()) + (" (ref)" if v["reference"] else "")


def sweep_figures(groups: list[dict]) -> list[dict]:
    """Per sweep (quant, thinking, ...): pass rate (bars, with the Wilson interval) and decode speed (line)."""
    figures = []
    for group in groups:
        rows = [{"variant": _variant_name(v), "order": i,
                 "rate": None if v["pass_rate"] is None else v["pass_rate"] * 100,
                 "lo": v["pass_rate_ci"][0] * 100 if v["pass_rate_ci"] else None,
                 "hi": v["pass_rate_ci"][1] * 100 if v["pass_rate_ci"] else None,
                 "judged": v["judged"], "decode": v["decode_tps_median"]} for i, v in enumerate(group["variants"])]
        x = {"field": "variant", "type": "nominal", "sort": None, "title": "variant",
             "axis": {"labelAngle": 0}}
        rate = {"field": "rate", "type": "quantitative", "title": "pass rate (%)", "scale": {"domain": [0, 100]}}
        figures.append({"title": f"variants of {group['base']}", "figure": _chart(rows, [
            {"layer": [
                {"name": "pass_rate", "mark": {"type": "bar", "color": FRONTIER_COLOUR, "opacity": 0.85},
                 "encoding": {"x": x, "y": rate,
                              "tooltip": [{"field": "variant"}, {"field": "rate", "title": "pass rate (%)", "format": ".0f"},
                                          {"field": "judged", "title": "judged trials"}]}},
                {"name": "pass_rate_interval", "mark": {"type": "rule", "color": "#333"},
                 "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative", "title": "pass rate (%)",
                                            "scale": {"domain": [0, 100]}}, "y2": {"field": "hi"}}},
            ]},
            {"name": "decode", "mark": {"type": "line", "color": SECOND_COLOUR, "point": {"color": SECOND_COLOUR, "size": 70}},
             "encoding": {"x": x, "y": {"field": "decode", "type": "quantitative",
                                        "title": "decode tok/s (median, client-observed)",
                                        "axis": {"titleColor": SECOND_COLOUR}},
                          "tooltip": [{"field": "variant"}, {"field": "decode", "title": "decode tok/s", "format": ".1f"}]}},
        ], resolve={"scale": {"y": "independent"}}, title={"text": f"variants of {group['base']}", "anchor": "start"})})
    return figures



def budget_figures(groups: list[dict]) -> list[dict]:
    """Per visual-budget sweep: median TTFT against image tokens per image, one point per budget,
    marked by whether it is on the frontier of pass rate against TTFT (or n/a without quality)."""
    figures = []
    for group in groups:
        rows = [{"budget": str(r["visual_budget"] or "default"), "tokens": r["image_tokens_per_image"],
                 "ttft": r["ttft_ms_median"], "prefill": r["prefill_ms_median"], "memory": r["peak_mem_mb"],
                 "quality": r["quality"] if r["pass_rate"] is None else f"{r['pass_rate'] * 100:.0f}% passed",
                 "frontier": {True: "on the frontier", False: "dominated", None: "no frontier (no quality)"}[r["on_frontier"]]}
                for r in group["budgets"] if r["ttft_ms_median"] is not None]
        x = {"field": "tokens", "type": "quantitative", "title": "image tokens per image (engine-reported)"}
        y = {"field": "ttft", "type": "quantitative", "title": "median TTFT (ms, measured)"}
        tooltip = [{"field": "budget", "title": "visual budget"}, {"field": "tokens", "title": "image tokens"},
                   {"field": "ttft", "title": "TTFT ms", "format": ".0f"},
                   {"field": "prefill", "title": "prefill ms", "format": ".0f"},
                   {"field": "memory", "title": "peak memory MB", "format": ".0f"}, {"field": "quality"},
                   {"field": "frontier"}]
        title = f"visual budgets of {group['base']}"
        figures.append({"title": title, "figure": _chart(rows, [
            {"name": "line", "mark": {"type": "line", "color": SECOND_COLOUR}, "encoding": {"x": x, "y": y}},
            {"name": "points", "mark": {"type": "point", "filled": True, "size": 90},
             "encoding": {"x": x, "y": y, "color": {"field": "frontier", "type": "nominal", "title": None},
                          "tooltip": tooltip}},
            {"name": "labels", "mark": {"type": "text", "dy": -12}, "encoding": {"x": x, "y": y, "text": {"field": "budget"}}},
        ], title={"text": title, "anchor": "start"})})
    return figures


def session_figures(groups: list[dict]) -> list[dict]:
    """Repository sessions: accuracy by turn (each contender's mean over its sessions as a line,
    each session's turns as points), and TTFT by turn (turn 1 cold, later turns warm) on a log axis."""
    means = [{"contender": short_spec(g["spec"]), "spec": g["spec"], "turn": c["turn"], "kind": c["kind"],
              "accuracy": None if c["accuracy"] is None else c["accuracy"] * 100, "sessions": c["sessions"],
              "ttft_s": None if c["ttft_ms"] is None else c["ttft_ms"] / 1000,
              "prefill": c["prefill_tps"], "evaluated": c["evaluated_tokens"]}
             for g in groups for c in g["figures"]["curve"]]
    points = [{"contender": short_spec(g["spec"]), "turn": t["turn"], "session": s["repeat"] + 1, "kind": t["kind"],
               "score": t["score"] * 100} for g in groups for s in g["sessions"] for t in s["turns"]
              if t["score"] is not None]
    colour = {"field": "contender", "type": "nominal", "title": None, "legend": {"orient": "bottom"}}
    turn = {"field": "turn", "type": "quantitative", "title": "turn", "axis": {"tickMinStep": 1}}
    accuracy = _chart(means, [
        {"name": "session_points", "data": {"values": points}, "mark": {"type": "point", "opacity": 0.35, "size": 40},
         "encoding": {"x": turn, "y": {"field": "score", "type": "quantitative"}, "color": colour,
                      "tooltip": [{"field": "contender"}, {"field": "session"}, {"field": "turn"}, {"field": "kind"},
                                  {"field": "score", "title": "score (%)", "format": ".0f"}]}},
        {"name": "mean_accuracy", "mark": {"type": "line", "point": True, "strokeWidth": 2},
         "encoding": {"x": turn, "y": {"field": "accuracy", "type": "quantitative",
                                       "title": "score (%), mean over sessions", "scale": {"domain": [0, 100]}},
                      "color": colour,
                      "tooltip": [{"field": "spec", "title": "contender"}, {"field": "turn"}, {"field": "kind"},
                                  {"field": "accuracy", "title": "mean score (%)", "format": ".0f"},
                                  {"field": "sessions"}]}},
    ], title={"text": "accuracy by turn", "anchor": "start"})
    ttft = _chart(means, [
        {"name": "ttft", "mark": {"type": "line", "point": True},
         "encoding": {"x": turn, "y": {"field": "ttft_s", "type": "quantitative", "scale": {"type": "log"},
                                       "title": "TTFT (s, median; turn 1 cold, later turns warm)"},
                      "color": colour,
                      "tooltip": [{"field": "spec", "title": "contender"}, {"field": "turn"},
                                  {"field": "ttft_s", "title": "TTFT (s)", "format": ".2f"},
                                  {"field": "evaluated", "title": "prompt tokens evaluated (engine)"},
                                  {"field": "prefill", "title": "prefill tok/s (engine)", "format": ".1f"}]}},
    ], title={"text": "time to first token by turn", "anchor": "start"})
    return [{"title": "accuracy by turn", "figure": accuracy}, {"title": "TTFT by turn", "figure": ttft}]


def load_figures(rows: list[dict]) -> list[dict]:
    """`bakeoff load` against its load: throughput, latency percentiles and goodput, one set of
    charts per kind of load (fixed concurrency; arrival rate). Rows as report.load.row_json.
    When a (contender, level) was measured in several runs, the latest run counts."""
    latest: dict[tuple, dict] = {}
    for r in rows:  # oldest run first
        x = ("rate", r["profile"], r["target_rate"]) if r.get("target_rate") is not None else ("concurrency", r["concurrency"])
        latest[(r["spec"], x)] = r
    axes = {"concurrency": "concurrency (requests in flight)", "rate": "arrival rate asked for (requests/s)"}
    figures = []
    for axis, axis_title in axes.items():
        chosen = [r for (spec, x), r in sorted(latest.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
                  if x[0] == axis and r.get("concurrency") != 0]
        if not chosen:
            continue

        specs = list(dict.fromkeys(r["spec"] for r in chosen))

        def point(r: dict, figure: str, value) -> dict:
            # one contender: the figure's name; several: "#k figure" (the tooltip has the full spec)
            series = f"#{specs.index(r['spec']) + 1} {figure}" if len(specs) > 1 else figure
            return {"series": series, "spec": r["spec"], "value": value, "profile": r["profile"],
                    "x": r["target_rate"] if axis == "rate" else r["concurrency"]}

        tput = [point(r, "output tok/s", r["output_throughput"]) for r in chosen if r["output_throughput"] is not None]
        latency = [point(r, f"{name} {p}", (r["latency"].get(metric) or {}).get(p))
                   for r in chosen for metric, name in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"))
                   for p in ("p50", "p90", "p99") if (r["latency"].get(metric) or {}).get(p) is not None]
        rates = [point(r, name, r[key]) for r in chosen
                 for key, name in (("request_throughput", "completed / duration"), ("goodput", "goodput"),
                                   ("completion_rate", "completed, first to last answer"))
                 if r.get(key) is not None]
        x = {"field": "x", "type": "quantitative", "title": axis_title}
        for kind, data, y_title in (
                ("throughput", tput, "output tokens/s (client-observed)"),
                ("latency", latency, "ms (p50, p90, p99 over the completed requests)"),
                ("requests and goodput", rates, "requests/s (goodput: those meeting every SLO)")):
            if not data:
                continue
            y = {"field": "value", "type": "quantitative", "title": y_title}
            colour = {"field": "series", "type": "nominal", "title": None,
                      "legend": {"orient": "bottom", "columns": 3, "labelLimit": 260}}
            tooltip = [{"field": "spec", "title": "contender"}, {"field": "series", "title": "figure"},
                       {"field": "x", "title": axis_title}, {"field": "value", "title": y_title, "format": ".2f"}]
            title = f"{kind} against {axis}"
            figures.append({"title": title, "figure": _chart(data, [
                {"name": "lines", "mark": {"type": "line"}, "encoding": {"x": x, "y": y, "color": colour}},
                {"name": "points", "mark": {"type": "point", "filled": True, "size": 50},
                 "encoding": {"x": x, "y": y, "color": colour, "tooltip": tooltip}},
            ], title={"text": title, "anchor": "start"})})
    return figures
