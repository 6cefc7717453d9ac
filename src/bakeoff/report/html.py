"""`bakeoff report --html FILE`: one self-contained HTML file that works offline.

Everything is inlined (Vega, Vega-Lite and vega-embed, styles, the data), nothing is fetched. Model output is
untrusted (docs/architecture.md, rule 6): the template escapes every value (jinja2 autoescape); the data the
plots read is JSON inside a ``<script type="application/json">`` block with ``<``, ``>``, ``&``
and U+2028/2029 escaped, so no text can close the block; and a Content-Security-Policy lets
only the report's own scripts run (their nonce is new for every file), so even a mistake in
escaping would not execute a script from an answer.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import defaultdict
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bakeoff import __version__
from bakeoff.errors import InputError
from bakeoff.report.charts import (budget_figures, frontier_figure, load_figures, session_figures, speed_figures,
                                    sweep_figures)
from bakeoff.report.flaky import flaky_cells
from bakeoff.report.jsbundle import vega_bundle
from bakeoff.report.load import annotate, level_label, row_json, summary_lines
from bakeoff.report.data import report_data
from bakeoff.report.matrix import LEGEND, fmt
from bakeoff.report.pareto import FrontierPlot, FrontierPoint
from bakeoff.report.side_by_side import side_by_side
from bakeoff.report.tools import LEGEND as TOOLS_LEGEND
from bakeoff.store import Database
from bakeoff.store.reads import TrialsOnce

# Caps that keep a report of a very large database quick to write and to open; each section
# says how many it left out (the JSON report and `bakeoff view` have them all).
MAX_CASES = 500
MAX_FLAKY = 300
MAX_UNSTABLE = 100

_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                 0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json(value: Any) -> Markup:
    """JSON that is safe inside a <script> element: it cannot contain ``</script>`` or ``<!--``."""
    return Markup(json.dumps(value, default=str, separators=(",", ":")).translate(_JSON_ESCAPES))


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("bakeoff.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    env.filters["script_json"] = script_json
    return env


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested environment dict as (dotted key, value) rows."""
    if isinstance(value, dict):
        rows = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        rows = []
        for i, v in enumerate(value):
            rows += _flatten(v, f"{prefix}[{i}]")
        return rows
    return [(prefix, json.dumps(value) if isinstance(value, (list, bool)) or value is None else str(value))]


def _runs(db: Database, run_id: str | None, trial_counts: dict[str, int]) -> list[dict]:
    loaded: dict[str, list[dict]] = defaultdict(list)
    for c in db.contenders():
        loaded[c["run_id"]].append({
            "spec": c["spec"], "model_path": c["model_path"], "model_sha256": c["model_sha256"],
            "options": json.loads(c["options"] or "{}"), "facts": _flatten(json.loads(c["facts"] or "{}")),
            "load": _flatten(json.loads(c["load"] or "{}")), "notes": json.loads(c["notes"] or "[]"),
            "error": c["error"]})
    runs = []
    for r in db.runs():
        if run_id and r["id"] != run_id:
            continue
        runs.append({"id": r["id"], "started_at": r["started_at"], "finished_at": r["finished_at"],
                     "status": r["status"], "suite": r["suite"], "bakeoff_version": r["bakeoff_version"],
                     "argv": " ".join(json.loads(r["argv"] or "[]")), "trials": trial_counts.get(r["id"], 0),
                     "environment": _flatten(json.loads(r["environment"] or "{}")),
                     "contenders": loaded.get(r["id"], [])})
    return runs


def _frontier_from_dict(d: dict) -> FrontierPlot:
    return FrontierPlot(d["key"], d["x_title"], d["y_title"], [FrontierPoint(**p) for p in d["points"]], d["missing"])


def html_context(db: Database, run_id: str | None = None) -> dict[str, Any]:
    """Everything the template shows, from one pass over the database."""
    db = TrialsOnce.wrap(db)
    data = report_data(db, run_id)
    trials = db.trials(run_id)
    ids = {t["id"] for t in trials}
    specs = [r["spec"] for r in data["contenders"]]
    sbs = side_by_side(trials, specs, db.check_results_by_trial(ids), max_cases=MAX_CASES)
    flaky = flaky_cells(trials)
    frontiers = [_frontier_from_dict(p) for p in data["pareto"]]
    figures: list[dict] = []
    pareto = []
    numbers = {spec: f"#{i + 1}" for i, spec in enumerate(specs)}
    for plot in frontiers:
        fid = f"fig-pareto-{plot.key}"
        if plot.points:  # an axis no contender has a figure for gets its reasons, not an empty plot
            figures.append({"id": fid, "figure": frontier_figure(plot, numbers)})
        pareto.append({"id": fid if plot.points else None, "plot": plot})
    speed = []
    for i, f in enumerate(speed_figures(db.speed_results(run_id))):
        fid = f"fig-speed-{i}"
        figures.append({"id": fid, "figure": f["figure"]})
        speed.append({"id": fid, "title": f["title"]})
    load_rows = annotate([row_json(r, samples=False) for r in db.load_results(run_id)])
    load = {"figures": [], "rows": load_rows, "summaries": []}
    for i, f in enumerate(load_figures(load_rows)):
        fid = f"fig-load-{i}"
        figures.append({"id": fid, "figure": f["figure"]})
        load["figures"].append({"id": fid, "title": f["title"]})
    for spec in dict.fromkeys(r["spec"] for r in load_rows):
        load["summaries"] += [f"{spec}: {line}" for line in summary_lines([r for r in load_rows if r["spec"] == spec])]
    for r in load_rows:
        r["label"] = level_label(r)
    sweeps = []
    for i, (f, group) in enumerate(zip(sweep_figures(data["variants"]), data["variants"])):
        fid = f"fig-sweep-{i}"
        figures.append({"id": fid, "figure": f["figure"]})
        sweeps.append({"id": fid, "group": group})
    budgets = []
    for i, (f, group) in enumerate(zip(budget_figures(data["visual_budgets"]), data["visual_budgets"])):
        fid = f"fig-budget-{i}"
        figures.append({"id": fid, "figure": f["figure"]})
        budgets.append({"id": fid, "group": group})
    session_plots = []
    for i, f in enumerate(session_figures(data["sessions"]) if data["sessions"] else []):
        fid = f"fig-session-{i}"
        figures.append({"id": fid, "figure": f["figure"]})
        session_plots.append({"id": fid, "title": f["title"]})
    trial_counts: dict[str, int] = defaultdict(int)
    for t in trials:
        trial_counts[t["run_id"]] += 1
    return {
        "data": data,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "run_id": run_id,
        "trial_count": len(trials),
        "legend": LEGEND,
        "pareto": pareto,
        "numbers": numbers,  # the matrix's row number of each contender
        "speed": speed,
        "load": load,
        "sweeps": sweeps,
        "budgets": budgets,
        "sessions": data["sessions"],
        "session_plots": session_plots,
        "tools": [r for r in data["contenders"] if r.get("tools")],
        "tools_legend": TOOLS_LEGEND,
        "cases": sbs["cases"],
        "cases_omitted": sbs["omitted"],
        "flaky": flaky["flaky"][:MAX_FLAKY],
        "flaky_omitted": max(0, len(flaky["flaky"]) - MAX_FLAKY),
        "unstable": flaky["unstable"][:MAX_UNSTABLE],
        "unstable_omitted": max(0, len(flaky["unstable"]) - MAX_UNSTABLE),
        "runs": _runs(db, run_id, trial_counts),
        "figures": figures,
    }


def render_html(context: dict[str, Any]) -> str:
    return _environment().get_template("report.html").render(
        **context, nonce=secrets.token_urlsafe(18), vega_js=Markup(vega_bundle()))


def write_report_file(path: str | Path, text: str) -> Path:
    """Write an export, creating its folder; a path that cannot be written is bad input (exit 2)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_html(db: Database, path: str | Path, run_id: str | None = None) -> Path:
    return write_report_file(path, render_html(html_context(db, run_id)))
