"""Warnings about how a run isolated model-written code: every report of a run whose code ran
with resource limits only (``--allow-unconfined-code``) says so, in every format."""

from __future__ import annotations

from typing import Any


def sandbox_warnings(runs: list[dict[str, Any]], run_id: str | None = None) -> list[str]:
    """One line per run in the report (``run_id``'s, else all) whose code ran unconfined."""
    out = []
    for r in runs:
        sandbox = (r.get("environment") or {}).get("sandbox") or {}
        if (run_id is None or r["id"] == run_id) and sandbox.get("unconfined"):
            out.append(f"run {r['id']}: model-written code ran UNCONFINED (sandbox: {sandbox.get('tier')}: "
                       "resource limits only, no network or file isolation), allowed with --allow-unconfined-code")
    return out


def print_warnings(data: dict[str, Any], console) -> None:
    for line in data.get("warnings", []):
        console.print(f"[bold red]warning:[/bold red] {line}", highlight=False, soft_wrap=True)


def markdown_warnings(warnings: list[str]) -> str:
    return "".join(f"> **Warning:** {line}\n\n" for line in warnings)
