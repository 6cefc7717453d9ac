"""Pass rates per case tag (``tags:`` in a suite file): which kind of task a contender gets right."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bakeoff.util.stats import summarise_trials


def tag_rows(trials: list) -> list[dict[str, Any]]:
    """One row per (tag, contender) over the trials whose case carries the tag, with the same
    figures as the matrix (pass rate over judged trials with its Wilson interval, errors apart)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for t in trials:
        for tag in json.loads(t["tags"] or "[]"):
            groups[(tag, t["spec"])].append(t)
    rows = []
    for (tag, spec), group in sorted(groups.items()):
        figures = summarise_trials(group)
        rows.append({"tag": tag, "spec": spec, **{k: figures[k] for k in
                     ("trials", "errors", "judged", "passed", "pass_rate", "pass_rate_ci")}})
    return rows


def print_tags(rows: list[dict[str, Any]], console, fmt) -> None:
    """A table of tags × contenders: pass rate (passed/judged)."""
    if not rows:
        return
    from rich.table import Table

    specs = list(dict.fromkeys(r["spec"] for r in rows))
    cells = {(r["tag"], r["spec"]): r for r in rows}
    table = Table(title="pass rate by tag (passed/judged)", title_justify="left")
    table.add_column("tag")
    for spec in specs:
        table.add_column(spec, justify="right", overflow="fold")
    for tag in dict.fromkeys(r["tag"] for r in rows):
        marks = []
        for spec in specs:
            r = cells.get((tag, spec))
            marks.append("" if r is None else f"{fmt(r['pass_rate'], 'pct')} ({r['passed']}/{r['judged']})"
                         + (f" {r['errors']} E" if r["errors"] else ""))
        table.add_row(tag, *marks)
    console.print(table)
