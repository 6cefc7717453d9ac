"""The report on a terminal: rich tables and their legends, for the matrix and its sections, the
packaged models and the speed protocol's results."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.markup import escape

from bakeoff.report.matrix import COLUMNS, LEGEND, fmt
from bakeoff.report.tools import LEGEND as TOOLS_LEGEND
from bakeoff.report.vision import print_budgets


def print_sessions(groups: list[dict], console) -> None:
    """Repository sessions (bakeoff repo --session), when the database holds any."""
    if not groups:
        return
    from bakeoff.report.session import session_lines

    console.print("[bold]repository sessions[/bold]")
    console.print("\n".join(session_lines(groups)), markup=False, highlight=False, soft_wrap=True)


def print_terminal(data: dict[str, Any], console, show_cases: bool = False) -> None:
    from rich.table import Table

    from bakeoff.report.sandbox import print_warnings

    print_warnings(data, console)
    table = Table(title="bakeoff: comparison matrix", title_justify="left")
    for key, header, _, _ in COLUMNS:
        if key == "spec":
            table.add_column(header, no_wrap=True)
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for r in data["contenders"]:
        table.add_row(*("n/a (twin)" if k == "pass_rate" and r.get("quality") else fmt(r[k], s)
                        for k, _, _, s in COLUMNS))
    console.print(table)
    console.print(f"[dim]{LEGEND}[/dim]")
    from bakeoff.report.cache import print_cache

    print_cache(data, console, fmt)
    from bakeoff.report.standard import print_standard

    print_standard(data, console)
    from bakeoff.report.repo import print_repo

    print_repo(data, console)
    print_sessions(data.get("sessions", []), console)
    from bakeoff.report.tags import print_tags

    print_tags(data.get("tags", []), console, fmt)
    repeated = [r for r in data["contenders"] if r.get("repeats", 0) > 1]
    if repeated:
        from bakeoff.report.stability import AGREEMENT_LEGEND

        rt = Table(title="repeats (per case, averaged over cases)", title_justify="left")
        for header in ("contender", "repeats", "pass@1", "pass@k", "pass^k", "same answer", "same checks", "flaky cases"):
            rt.add_column(header, justify="left" if header in ("contender", "flaky cases") else "right", overflow="fold")
        for r in repeated:
            k = str(r["repeats"])
            rt.add_row(r["spec"], k, fmt(r["pass_at_k"]["1"], "pct"), fmt(r["pass_at_k"][k], "pct"),
                       fmt(r["pass_hat_k"][k], "pct"), fmt(r["agreement"]["answer"], "pct"),
                       fmt(r["agreement"]["check_outcomes"], "pct"), ", ".join(r["flaky_cases"]) or "none")
        console.print(rt)
        console.print(f"[dim]k = the repeats every case has. {AGREEMENT_LEGEND}[/dim]")
    tooled = [r for r in data["contenders"] if r.get("tools")]
    if tooled:
        tt = Table(title="tool use", title_justify="left")
        for header in ("contender", "valid calls", "correct calls", "task success", "steps to success",
                       "tokens to success", "repeat loops", "budget ran out", "tool errors"):
            tt.add_column(header, justify="left" if header == "contender" else "right", overflow="fold")
        for r in tooled:
            t = r["tools"]
            tt.add_row(r["spec"], f"{fmt(t['valid_call_rate'], 'pct')} of {t['calls']}",
                       f"{t['correct_calls']}/{t['single_cases']}", f"{t['loops_passed']}/{t['agent_loops']}",
                       fmt(t["steps_to_success"], "f1"), fmt(t["tokens_to_success"], "f0"), str(t["repeat_loops"]),
                       str(t["budget_exhaustions"]), str(t["tool_errors"]))
        console.print(tt)
        console.print(f"[dim]{TOOLS_LEGEND}[/dim]")
    for group in data.get("variants", []):
        vt = Table(title=f"variants of {group['base']} (reference: the most precise type, or the base without adapter)", title_justify="left")
        for header in ("variant", "file MB", "pass", "tg tok/s", "pp tok/s", "mem MB", "differs from ref"):
            vt.add_column(header, justify="left" if header == "variant" else "right", no_wrap=True)
        for v in group["variants"]:
            name = ", ".join(f"{k}={val}" for k, val in v["sweep"].items()) + (" (ref)" if v["reference"] else "")
            vt.add_row(name, fmt(v["file_mb"], "f0"), "n/a (twin)" if v.get("quality") else fmt(v["pass_rate"], "pct"), fmt(v["decode_tps_median"], "f1"),
                       fmt(v["prefill_tps_median"], "f1"), fmt(v["peak_mem_mb"], "f0"),
                       fmt(v["differs_from_reference"], "pct") + f" of {v['compared_with_reference']}")
        console.print(vt)
    print_budgets(data.get("visual_budgets", []), console, fmt)
    if not show_cases:
        return
    specs = [r["spec"] for r in data["contenders"]]
    cases: dict[str, dict[str, dict]] = defaultdict(dict)
    for cell in data["cases"]:
        cases[cell["case_id"]][cell["spec"]] = cell
    ct = Table(title="per case (passed/judged; E = error)", title_justify="left")
    ct.add_column("case")
    for s in specs:
        ct.add_column(s, justify="center", overflow="fold")
    for case_id, by_spec in cases.items():
        marks = []
        for s in specs:
            c = by_spec.get(s)
            if c is None:
                marks.append("")
            elif c["errors"] and not c["judged"]:
                marks.append("[red]E[/red]")
            elif c["judged"] == 0:
                marks.append("no checks")
            else:
                colour = "green" if c["passed"] == c["judged"] else "red" if c["passed"] == 0 else "yellow"
                marks.append(f"[{colour}]{c['passed']}/{c['judged']}[/{colour}]" + (" E" if c["errors"] else ""))
        ct.add_row(case_id, *marks)
    console.print(ct)


def print_models(rows: list[dict[str, Any]], console) -> None:
    """`bakeoff models`: the packaged models and given GGUF files, one row each."""
    from rich.table import Table

    table = Table(title="models", title_justify="left")
    for header in ("alias / path", "installed", "assembled", "size (MB)", "arch", "quant", "ctx", "params", "sha256"):
        table.add_column(header, overflow="fold")
    for r in rows:
        table.add_row(r["alias"] or r["path"], "yes" if r["installed"] else escape(f"no [{r.get('extra')}]"),
                      "yes" if r["assembled"] else "no", f"{r['size_bytes'] / 1e6:.0f}" if r.get("size_bytes") else "–",
                      r.get("architecture") or "–", r.get("quant") or "–", str(r.get("context_length") or "–"),
                      f"{r['parameters'] / 1e6:.0f}M" if r.get("parameters") else "–",
                      (r["sha256"][:12] + "… " + (r.get("sha256_source") or "")) if r.get("sha256") else "–")
    console.print(table)


def speed_line(result) -> str:
    """One speed-protocol result (`bakeoff speed`), printed as it arrives."""
    sd = f" ± {result.stddev_tps:.2f}" if result.stddev_tps is not None else ""
    eng = f"{result.engine_avg_tps:.2f}" if result.engine_avg_tps else "–"
    if result.cache is not None:  # through a server: client-observed, the server's own beside it
        return (f"{result.spec}  {result.test:>7} @ d{result.depth:<6} server     "
                f"{result.avg_tps:9.2f}{sd} tok/s client-observed   engine-reported {eng} tok/s")
    mem = f"{result.peak_mem_mb:.0f}" if result.peak_mem_mb is not None else "–"
    kv = result.engine_memory.get("kv_mib")
    return (f"{result.spec}  {result.test:>7} @ d{result.depth:<6} ctx {result.ctx:<6} "
            f"{result.avg_tps:9.2f}{sd} tok/s   engine {eng} tok/s   mem {mem} MB   "
            f"KV {kv if kv is not None else '–'} MiB")


def print_speed_legend(results: list, console) -> None:
    """What the speed figures mean; for server contenders, how pp and tg were timed."""
    console.print("[dim]tok/s: mean ± sample stdev over the repetitions, measured around the decode calls "
                  "(llama-bench's method); engine: llama.cpp's own perf counters; mem: worker peak RSS "
                  "above its pre-load baseline; KV: the cache llama.cpp allocated for that context.[/dim]")
    if any(r.cache is not None for r in results):
        from bakeoff.run.server_speed import PP_SOURCE, TG_SOURCE

        console.print(f"[dim]server contenders: pp tok/s = {PP_SOURCE.removeprefix('client-observed: ')}; tg tok/s = "
                      f"{TG_SOURCE.removeprefix('client-observed: ')}; engine-reported: the server's own timings where "
                      f"it sends them. {next(r.cache for r in results if r.cache)}.[/dim]")
