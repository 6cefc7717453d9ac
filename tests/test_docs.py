"""The project's own pages stay true to the code: the CLI reference is the CLI's help as it is
now, and no file points readers to a document that is not in this repository."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPER = Path(sys.executable).with_name("typer")


def test_cli_reference_is_generated_from_the_current_cli(tmp_path):
    fresh = tmp_path / "cli.md"
    subprocess.run([str(TYPER), "bakeoff.cli", "utils", "docs", "--name", "bakeoff", "--output", str(fresh)],
                   check=True, capture_output=True, text=True, cwd=ROOT)
    current = (ROOT / "docs" / "cli.md").read_text()
    assert fresh.read_text() == current, "docs/cli.md is out of date: run make docs"
    # It documents every command the CLI has (the help lists them all).
    from bakeoff.cli import app

    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"## `bakeoff {name}`" in current
