"""The comparison matrix and the per-case view, as data and as terminal, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from typing import Any

from bakeoff.errors import InputError
from bakeoff.measure.cost import CostFigure, cloud_cost_per_mtok, load_cost_config, local_cost_per_mtok
from bakeoff.measure.energy import meter_basis
from bakeoff.report.stability import stability_figures
from bakeoff.util.stats import summarise_trials
from bakeoff.store import Database

# (key, short header for the terminal, long header for Markdown, format)
COLUMNS = [
    ("spec", "contender", "contender", None),
    ("trials", "trials", "trials", None),
    ("pass_rate", "pass", "pass rate", "pct"),
    ("pass_rate_ci", "95% CI", "95% CI (Wilson)", "ci"),
    ("ttft_ms_median", "TTFT ms", "TTFT median (ms)", "f0"),
    ("e2e_ms_median", "E2E ms", "E2E median (ms)", "f0"),
    ("decode_tps_median", "tg tok/s", "decode median (tok/s, client)", "f1"),
    ("prefill_tps_median", "pp tok/s", "prefill median (tok/s, engine)", "f1"),
    ("peak_mem_mb", "mem MB", "peak memory (MB above baseline)", "f0"),
    ("errors", "errors", "errors", None),
]
LEGEND = (
    "pass: passed / judged trials (cases with checks), with a 95% Wilson interval. "
    "TTFT ms, E2E ms: medians, send to first / last token, measured at the client; TTFT and pp tok/s over "
    "cold trials only (no cached prompt prefix: see the prompt cache table). "
    "tg tok/s: median client decode speed, (output tokens - 1) / (last - first token time), "
    "tokens counted by the engine. pp tok/s: median prefill speed, engine-reported. "
    "mem MB: peak RSS of the model's worker above its baseline before loading (weights + KV + buffers)."
)


def _energy(ok: list) -> tuple[float | None, str]:
    """Total energy of a contender's trials, labelled by the weakest figure among them."""
    labels = {t["energy_label"] for t in ok}
    if not ok or None in labels or "unavailable" in labels:
        return None, "unavailable"
    return sum(t["energy_j"] for t in ok), "estimated" if "estimated" in labels else "measured"


def _one_of(values, default: str) -> str:
    seen = sorted({v for v in values if v})
    return " / ".join(seen) if seen else default


def _figure_sources(runs_in: str, ok: list, energy_label: str, cost_source: str,
                    energy_basis: str | None = None) -> dict[str, str]:
    """Where each figure of a contender came from: client-observed, engine-reported or not measured."""
    client = ("client-observed (bakeoff's HTTP client, network included)" if runs_in != "in-process"
              else "client-observed (clock in the model's worker process)")
    engine = _one_of((t["engine_source"] for t in ok), "")
    tokens = _one_of((t["tokens_source"] for t in ok), "unknown (no usage, no tokenizer)")
    return {
        "ttft_ms_median": client,
        "e2e_ms_median": client,
        "decode_tps_median": f"{client}; output tokens from {tokens}",
        "engine_decode_tps_median": f"engine-reported ({engine})" if engine else "unavailable (the engine reports no timings)",
        "prefill_tps_median": f"engine-reported ({engine})" if engine else "unavailable (the engine reports no timings)",
        "peak_mem_mb": ("measured (worker peak RSS above its pre-load baseline)" if runs_in == "in-process"
                        else "not measured (the model runs in the server's process; see the contender's load facts)"),
        "energy_j": f"{energy_label} (sum over the successful trials{'; ' + energy_basis if energy_basis else ''})",
        "cost_per_mtok": cost_source,
    }


def _cost(spec: str, runs_in: str, ok: list, energy_j, energy_label: str, cost_config, energy_basis: str | None = None):
    """Cloud contenders: the price table on the tokens they used; others: the local formula."""
    if runs_in == "cloud":
        try:
            cost = cloud_cost_per_mtok(spec, sum(t["prompt_tokens"] or 0 for t in ok),
                                       sum(t["output_tokens"] or 0 for t in ok))
        except InputError as exc:
            cost = CostFigure(None, "unavailable", cost_config.currency, source=str(exc))
        return cost, "price table: (input tokens x input price + output tokens x output price) / output tokens x 1e6"
    cost = local_cost_per_mtok(
        energy_j, tokens=sum(t["output_tokens"] or 0 for t in ok),
        seconds=sum((t["e2e_ms"] or 0) for t in ok) / 1000, config=cost_config,
        energy_label=energy_label if energy_j is not None else None, energy_source=energy_basis)
    return cost, ("local: (energy kWh x price + hardware price / lifetime hours x hours used) "
                  "/ output tokens x 1e6; inputs in cost_per_mtok.assumptions")


def contender_rows(db: Database, run_id: str | None = None,
                   checks: dict[str, list[dict]] | None = None) -> list[dict[str, Any]]:
    """One row per contender; ``checks`` (check results by trial) when the caller has read them."""
    cost_config = load_cost_config()
    trials = db.trials(run_id)
    if checks is None:
        checks = db.check_results_by_trial({t["id"] for t in trials} if run_id else None)
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        by_spec[t["spec"]].append(t)
    facts = {c["spec"]: c for c in db.contenders()}  # the latest load of each contender
    rows = []
    for spec, ts in by_spec.items():
        ok = [t for t in ts if t["status"] == "ok"]
        c = facts.get(spec)
        contender_facts = json.loads(c["facts"] or "{}") if c else {}
        runs_in = contender_facts.get("runs_in", "in-process")
        energy_j, energy_label = _energy(ok)
        basis = meter_basis(contender_facts.get("energy_meter")) if "energy_meter" in contender_facts else None
        cost, cost_source = _cost(spec, runs_in, ok, energy_j, energy_label, cost_config, basis)
        load = json.loads(c["load"] or "{}") if c else {}
        rows.append({
            "spec": spec,
            "runs_in": runs_in,
            "server_mem_mb": load.get("engine_mem_mb"),  # what a local server says the model holds
            **summarise_trials(ts),
            **stability_figures(ts, checks),  # repeats, pass_at_k, pass_hat_k, agreement, flaky_cases
            "retries": sum(t["retries"] or 0 for t in ts),
            "model_sha256": c["model_sha256"] if c else None,
            "energy_j": energy_j,
            "energy_label": energy_label,
            "cost_per_mtok": cost.to_dict(),
            "figure_sources": {**_figure_sources(runs_in, ok, energy_label, cost_source, basis),
                               "server_mem_mb": load.get("memory_source", "unavailable (not reported by the server)")},
        })
        twin = json.loads(c["facts"] or "{}").get("twin") if c else None
        if twin:
            _quality_not_applicable(rows[-1], twin["quality"])
    return rows


QUALITY_FIGURES = ("passed", "pass_rate", "pass_rate_ci", "pass_at_k", "pass_hat_k", "flaky_cases")


def _quality_not_applicable(row: dict[str, Any], why: str) -> None:
    """An architecture twin (random weights): its speed and memory are real, its checks are not;
    no quality figure is shown, charted or put on a Pareto frontier."""
    for key in QUALITY_FIGURES:
        if key in row:
            row[key] = None
    row["quality"] = why
    row["figure_sources"]["pass_rate"] = why


def case_rows(db: Database, run_id: str | None = None) -> list[dict[str, Any]]:
    """One row per (case, contender): passes / judged over repeats, and the last output."""
    cells: dict[tuple[str, str], dict] = {}
    for t in db.trials(run_id):
        cell = cells.setdefault((t["case_id"], t["spec"]), {
            "case_id": t["case_id"], "spec": t["spec"], "trials": 0, "passed": 0, "judged": 0,
            "errors": 0, "output": None, "error": None})
        cell["trials"] += 1
        if t["status"] != "ok":
            cell["errors"] += 1
            cell["error"] = t["error"]
            continue
        if t["passed"] is not None:
            cell["judged"] += 1
            cell["passed"] += t["passed"]
        cell["output"] = t["output"]
    return list(cells.values())


def fmt(value: Any, style: str | None) -> str:
    if value is None:
        return "–"
    if style == "pct":
        return f"{value * 100:.0f}%"
    if style == "ci":
        return f"{value[0] * 100:.0f}–{value[1] * 100:.0f}%"
    if style == "f0":
        return f"{value:.0f}"
    if style == "f1":
        return f"{value:.1f}"
    if style == "f2":
        return f"{value:.2f}"
    return str(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([k for k, _, _, _ in COLUMNS])
    for r in rows:
        writer.writerow(["" if r[k] is None else (f"{r[k][0]:.4f}-{r[k][1]:.4f}" if k == "pass_rate_ci" else r[k])
                         for k, _, _, _ in COLUMNS])
    return buf.getvalue()


def to_markdown(rows: list[dict[str, Any]], warnings: list[str] = ()) -> str:
    from bakeoff.report.sandbox import markdown_warnings

    lines = ["| " + " | ".join(h for _, _, h, _ in COLUMNS) + " |",
             "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r[k], s).replace("|", "\\|") for k, _, _, s in COLUMNS) + " |")
    return markdown_warnings(list(warnings)) + "\n".join(lines) + "\n"
