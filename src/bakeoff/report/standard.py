"""Standard suites in the report: measured pass rate beside the published figure, per contender."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from typing import Any

from bakeoff.checks.code import SANDBOX_TAG
from bakeoff.util.stats import wilson_interval
from bakeoff.suite.standard import PREFIX, standard_info


def _published_alias(spec: str) -> str | None:
    """The packaged alias a published figure may be set beside: the plain in-process model,
    with no option that changes the weights (quant, lora)."""
    backend, _, rest = spec.partition(":")
    model, _, query = rest.partition("?")
    if backend != "llamacpp" or re.search(r"(^|&)(quant|lora)=", query):
        return None
    return model


def _seconds(run: dict) -> float | None:
    try:
        return (dt.datetime.fromisoformat(run["finished_at"]) - dt.datetime.fromisoformat(run["started_at"])).total_seconds()
    except (TypeError, ValueError):
        return None


def standard_rows(runs: list[dict], trials: list[dict], checks: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """One row per (standard suite, contender): passed / judged, the 95% Wilson interval, the
    published figure where one exists, which sandbox ran the code checks, and the runs' time."""
    suite_of = {r["id"]: r["suite"] for r in runs if (r["suite"] or "").startswith(PREFIX)}
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t in trials:
        suite = suite_of.get(t["run_id"])
        if suite:
            groups[(suite.split()[0], t["spec"])].append(t)
    rows = []
    for (name, spec), ts in sorted(groups.items()):
        try:
            info = standard_info(name)
        except Exception:  # an unknown std: name in an old database
            continue
        judged = [t for t in ts if t["status"] == "ok" and t["passed"] is not None]
        passed = sum(t["passed"] for t in judged)
        sandboxes = Counter(m.group(1) for t in ts for c in checks.get(t["id"], [])
                            if (m := SANDBOX_TAG.search(c.get("detail") or "")))
        published = info.published.get(_published_alias(spec) or "")
        run_ids = {t["run_id"] for t in ts}
        wall = [s for r in runs if r["id"] in run_ids and (s := _seconds(r)) is not None]
        rows.append({
            "suite": name, "title": info.title, "spec": spec, "trials": len(ts), "judged": len(judged),
            "passed": passed, "errors": sum(t["status"] != "ok" for t in ts),
            "pass_rate": passed / len(judged) if judged else None,
            "pass_rate_ci": list(wilson_interval(passed, len(judged))) if judged else None,
            "published": published.figure if published else None,
            "published_source": published.source if published else None,
            "selection": sorted({s for r in runs if r["id"] in run_ids and (s := (r["suite"] or "")[len(name):].strip())}),
            "sandbox": dict(sandboxes), "wall_s": sum(wall) if wall else None,
            "source": info.source, "license": info.license, "scoring": info.scoring,
        })
    return rows


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


def standard_line(row: dict) -> str:
    """One line: measured beside published, with what it rests on."""
    ci = row["pass_rate_ci"]
    text = (f"{row['suite']} {row['spec']}: {row['passed']}/{row['judged']} passed = {_pct(row['pass_rate'])}"
            + (f" (95% CI {ci[0] * 100:.1f}–{ci[1] * 100:.1f}%)" if ci else ""))
    if row["published"] is not None:
        text += f"; published {row['published']:.1f}% ({row['published_source']})"
    if row["selection"]:
        text += f"; cases chosen by {', '.join(row['selection'])}"
    if row["errors"]:
        text += f"; {row['errors']} errors"
    if row["sandbox"]:
        text += "; code ran in " + ", ".join(f"{k} ({v})" for k, v in sorted(row["sandbox"].items()))
    return text


def print_standard(data: dict, console) -> None:
    rows = data.get("standard") or []
    if not rows:
        return
    from rich.table import Table

    table = Table(title="standard suites: measured beside published", title_justify="left")
    for header in ("suite", "contender", "passed", "pass", "95% CI", "published", "sandbox", "run time"):
        table.add_column(header, justify="left" if header in ("suite", "contender", "sandbox") else "right",
                         overflow="fold")
    for r in rows:
        ci = r["pass_rate_ci"]
        table.add_row(r["suite"], r["spec"], f"{r['passed']}/{r['judged']}", _pct(r["pass_rate"]),
                      f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%" if ci else "–",
                      f"{r['published']:.1f}%" if r["published"] is not None else "–",
                      ", ".join(sorted(r["sandbox"])) or "–", _duration(r["wall_s"]) if r["wall_s"] else "–")
    console.print(table)
    seen = {}
    for r in rows:
        seen.setdefault(r["suite"], r)
    for r in seen.values():
        console.print(f"[dim]{r['suite']}: {r['title']}; data: {r['source']}; license: {r['license']}; "
                      f"scored: {r['scoring']}.[/dim]")
    for r in rows:
        if r["published"] is not None:
            console.print(f"[dim]published for {r['spec']}: {r['published_source']}; a quantized GGUF lands "
                          "near, not on, a bf16 figure.[/dim]")


def closing_lines(data: dict, wall_s: float) -> list[str]:
    """What a run of a standard suite ends with: the figures beside the published ones, and the time."""
    rows = data.get("standard") or []
    suites = {r["suite"] for r in rows} & {(run["suite"] or "").split()[0] for run in data["runs"][-1:]}
    return [standard_line(r) for r in rows if r["suite"] in suites] + ([f"this run took {_duration(wall_s)}"] if suites else [])
