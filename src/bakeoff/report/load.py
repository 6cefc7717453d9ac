"""`bakeoff load` results: the JSON shape (one object per contender and concurrency level) and the
terminal table. Both work from a fresh result or from a stored ``load_results`` row."""

from __future__ import annotations

import json
from typing import Any

from bakeoff.measure.load_stats import KEPT_UP, SOURCE, max_goodput, saturation, server_kept_up, summarise

UNITS = {
    "duration_s": "s", "request_throughput": "requests/s", "output_throughput": "output tokens/s",
    "total_token_throughput": "(prompt + output) tokens/s", "goodput": "requests/s meeting every SLO",
    "latency": "ms", "slo": "ms", "prompt_tokens": "tokens asked for per request",
    "output_tokens": "tokens asked for per request (max_tokens)", "target_rate": "requests/s asked for",
    "sent_rate": "requests/s sent (first to last send)", "completion_rate": "requests/s completed (first to last answer)",
    "client": "the load client's own CPU: seconds and busy share of the level's wall time, per worker process",
}
_KEYS = ("run_id", "spec", "level", "profile", "concurrency", "target_rate", "sent_rate", "completion_rate", "requests", "completed", "failed", "prompt_tokens", "output_tokens",
         "duration_s", "total_input_tokens", "total_output_tokens", "request_throughput", "output_throughput",
         "total_token_throughput", "goodput", "good_requests", "slo", "latency", "tokens_source", "client", "sweep")


def result_json(r, samples: bool = True) -> dict[str, Any]:
    """A LevelResult as JSON-ready data."""
    data = {k: getattr(r, k) for k in _KEYS}
    data.update(source=r.source, units=UNITS, notes=list(r.notes), created_at=r.created_at)
    if samples:
        data["samples"] = r.samples
    return data


def row_json(row, samples: bool = True) -> dict[str, Any]:
    """A stored load_results row in the same shape (totals recomputed from its samples)."""
    per_request = json.loads(row["samples"])
    slo = json.loads(row["slo"]) if row["slo"] else None
    figures = summarise(per_request, row["duration_s"], slo or {}, row["prompt_tokens"])
    data = {k: row[k] for k in row.keys() if k not in ("samples", "slo", "latency", "client", "created_at")}
    data.update(total_input_tokens=figures["total_input_tokens"], total_output_tokens=figures["total_output_tokens"],
                good_requests=figures["good_requests"], slo=slo, latency=json.loads(row["latency"]),
                client=json.loads(row["client"]) if row["client"] else None)
    data = {k: data.get(k) for k in _KEYS}
    data.update(source=SOURCE, units=UNITS, notes=[], created_at=row["created_at"])
    if samples:
        data["samples"] = per_request
    return data


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ms(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _slo_text(slo: dict | None) -> str:
    if not slo:
        return ""
    names = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2el_ms": "E2E"}
    return ", ".join(f"{names.get(k, k)} ≤ {v:g} ms" for k, v in slo.items())


def print_load_table(rows: list[dict[str, Any]], console) -> None:
    """Two tables, throughput and latency, one row per contender and level (rows: result_json / row_json)."""
    from rich.table import Table

    several = len({r["spec"] for r in rows}) > 1
    slo = next((r["slo"] for r in rows if r["slo"]), None)
    lead = (["contender"] if several else []) + ["level"]

    def lead_cells(r: dict) -> list[str]:
        return ([r["spec"]] if several else []) + [level_label(r)]

    tput = Table(title="bakeoff load: throughput (client-observed)", title_justify="left")
    for h in lead + ["completed / sent", "duration (s)", "requests/s", "output tok/s", "total tok/s",
                     "goodput (req/s)", "mean TTFT (ms)", "mean TPOT (ms)", "mean E2E (ms)"]:
        tput.add_column(h, justify="left" if h == "contender" else "right", overflow="fold")
    lat = Table(title="latency (ms): p50 / p90 / p99 over the completed requests (ITL: over all chunk gaps)",
                title_justify="left")
    for h in lead + [f"{m} {p}" for m in ("TTFT", "TPOT", "ITL", "E2E") for p in ("p50", "p90", "p99")]:
        lat.add_column(h, justify="left" if h == "contender" else "right", overflow="fold")
    pace = Table(title="arrivals and the client's own cost", title_justify="left")
    for h in lead + ["sent req/s", "done req/s", "server kept up", "client workers", "client CPU (s)",
                     "busiest worker"]:
        pace.add_column(h, justify="left" if h == "contender" else "right", overflow="fold")
    for r in rows:
        figures = r["latency"]
        mean = {k: (figures.get(k) or {}).get("mean") for k in ("ttft_ms", "tpot_ms", "e2e_ms")}
        tput.add_row(*lead_cells(r), f"{r['completed']} / {r['requests']}", _num(r["duration_s"]),
                     _num(r["request_throughput"]), _num(r["output_throughput"], 1),
                     _num(r["total_token_throughput"], 1), _num(r["goodput"]) if r["slo"] else "–",
                     _ms(mean["ttft_ms"]), _ms(mean["tpot_ms"]), _ms(mean["e2e_ms"]))
        client = r.get("client") or {}
        kept = server_kept_up(r)
        pace.add_row(*lead_cells(r), _num(r.get("sent_rate")), _num(r.get("completion_rate")),
                     "–" if kept is None else "yes" if kept else "no (saturated)", str(client.get("workers", "–")),
                     _num(sum(client["cpu_s"])) if client else "–",
                     (f"{max(client['busy']):.0%}" + (" saturated" if client.get("saturated") else "")) if client else "–")
        lat.add_row(*lead_cells(r), *[_ms((figures.get(m) or {}).get(p))
                                      for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms") for p in ("p50", "p90", "p99")])
    console.print(tput)
    console.print(lat)
    console.print(pace)
    if rows and not several:
        console.print(f"[dim]contender: {rows[0]['spec']}[/dim]", highlight=False)
    if rows:
        console.print(f"[dim]each request: {rows[0]['prompt_tokens']} prompt tokens, up to {rows[0]['output_tokens']} "
                      f"output tokens. Token counts: {'; '.join(sorted({r['tokens_source'] for r in rows}))}.[/dim]",
                      highlight=False)
    console.print(
        "[dim]duration: first send → last request done. requests/s, output tok/s, total tok/s: the completed "
        "requests and their tokens / duration. TTFT: send → first token. TPOT: (E2E − TTFT) / (output tokens − 1). "
        "ITL: gaps between streamed chunks. E2E: send → last token. Definitions as vLLM's serving benchmark; "
        "percentiles as numpy's; all measured in bakeoff's process.[/dim]", highlight=False)
    console.print("[dim]sent, done req/s: requests sent per second (first to last send) and completed per second "
                  "(first to last answer); at an arrival rate the server kept up when done ≥ 95% of sent. client CPU: "
                  "the load client's own CPU over the level, all its worker processes; busiest worker: its CPU / the "
                  "level's wall time (85% or more: saturated).[/dim]", highlight=False)
    if slo:
        console.print(f"[dim]goodput: completed requests meeting every SLO ({_slo_text(slo)}) / duration.[/dim]",
                      highlight=False)
    for spec in dict.fromkeys(r["spec"] for r in rows):
        for line in summary_lines([r for r in rows if r["spec"] == spec]):
            console.print(f"{spec}: {line}" if several else line, highlight=False)


def level_label(r: dict) -> str:
    """concurrency 4 | constant 2 req/s | poisson 2 req/s, with the sweep step where there is one."""
    text = (f"concurrency {r['concurrency']}" if r.get("target_rate") is None
            else f"{r['profile']} {r['target_rate']:.3g} req/s")
    return f"{text} ({r['sweep']})" if r.get("sweep") else text


def annotate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row: whether the server kept up with its arrival rate, and which level had the most
    goodput for its contender."""
    for r in rows:
        r["server_kept_up"] = server_kept_up(r)
        r["max_goodput"] = False
    for spec in {r["spec"] for r in rows}:
        best = max_goodput([r for r in rows if r["spec"] == spec])
        if best is not None:
            best["max_goodput"] = True
    return rows


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One contender's saturation point and max goodput, in words."""
    lines = []
    sat = saturation(rows)
    if sat:
        kept = f"kept up with {sat['kept_up_to']:.3g} req/s" if sat["kept_up_to"] is not None else \
            "kept up with none of the rates"
        missed = (f", saturated at {sat['saturated_from']:.3g} req/s" if sat["saturated_from"] is not None
                  else ", saturated at none of them")
        lines.append(f"saturation: the server {kept}{missed} (completions below {KEPT_UP:.0%} of the rate sent); "
                     f"most it completed: {sat['max_completion_rate']:.3g} req/s")
    best = max_goodput(rows)
    if best is not None:
        lines.append(f"max goodput: {best['goodput']:.3g} req/s meeting every SLO, at {level_label(best)}")
    return lines
