"""The project's own pages stay true to the code: the CLI reference is the CLI's help as it is
now, and no file points readers to a document that is not in this repository."""

import subprocess
import sys
from pathlib import Path

import pytest

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


RUNNABLE = "```sh runnable\n"


def runnable_blocks(path: Path) -> list[str]:
    """The fenced blocks marked ```sh runnable in a Markdown file, in order."""
    text, blocks, start = path.read_text(), [], 0
    while (i := text.find(RUNNABLE, start)) != -1:
        j = text.index("\n```", i + len(RUNNABLE))
        blocks.append(text[i + len(RUNNABLE):j + 1])
        start = j + 4
    return blocks


def run_blocks(blocks: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the blocks as a reader pastes them: one shell, the venv's bin first on the PATH (as
    after `. .venv/bin/activate`), stopping at the first command that fails. The shell gets its
    own process group, ended whatever happens, so a timed-out test leaves no model running."""
    import os
    import signal

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = "set -euo pipefail\n" + "\n".join(blocks)
    proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_no_reference_to_documents_outside_the_repository():
    """A project document cited anywhere (an upper-case Markdown file name, or such a name without
    its suffix before a section sign) is a file in this repository: nothing points readers to
    notes they cannot see."""
    import re

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    present = {Path(name).name for name in tracked}
    cited = re.compile(r"\b([A-Z][A-Z_]+\.md)\b|\b([A-Z][A-Z_]{2,}) §")
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".png", ".gguf", ".gz"} or not path.is_file():
            continue
        for match in cited.finditer(path.read_text(errors="replace")):
            document = match.group(1) or f"{match.group(2)}.md"
            if document not in present:
                offenders.append(f"{name}: {match.group(0)}")
    assert not offenders, offenders


def test_every_docs_page_link_resolves():
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which is missing"


@pytest.mark.timeout(1800)
def test_docs_pages_runnable_blocks(tmp_path, smollm2):
    pages = sorted((ROOT / "docs").glob("*.md"))
    ran = 0
    for page in pages:
        blocks = runnable_blocks(page)
        if not blocks:
            continue
        proc = run_blocks(blocks, tmp_path)
        assert proc.returncode == 0, f"{page.name}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        ran += 1
    assert ran >= 2


@pytest.mark.timeout(1800)
def test_readme_first_own_bakeoff_as_pasted(tmp_path, smollm2, qwen05):
    """The README's five steps, pasted into a shell with no edits: `bakeoff init`, validate, run
    (the two packaged models on the starter's ten cases), the per-case report and the HTML file."""
    import json
    import sqlite3

    blocks = runnable_blocks(ROOT / "README.md")
    assert len(blocks) == 1 and "bakeoff init" in blocks[0]
    proc = run_blocks(blocks, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    home = tmp_path / "my-bakeoff"
    assert "2 contenders, 10 cases" in proc.stdout and "comparison matrix" in proc.stdout
    assert (home / "report.html").stat().st_size > 100_000
    from conftest import report_json

    data = report_json(home / "bakeoff.db")
    assert [c["spec"] for c in data["contenders"]] == [
        "llamacpp:qwen2.5-coder-0.5b?threads=2", "llamacpp:smollm2-135m?threads=2"]
    assert all(c["trials"] == 10 and c["errors"] == 0 for c in data["contenders"])
    # Every case has a verdict (the judge and the user's own python check included), and the
    # coder model gets the plain ones right.
    cells = {(c["case_id"], c["spec"]): c for c in data["cases"]}
    assert all(c["judged"] == 1 for c in cells.values()), [k for k, c in cells.items() if c["judged"] != 1]
    qwen = "llamacpp:qwen2.5-coder-0.5b?threads=2"
    assert all(cells[(case, qwen)]["passed"] == 1 for case in ("capital", "add-function", "add-runs"))
    assert {r["tag"] for r in data["tags"]} >= {"facts", "code", "json", "tools", "judged"}
    conn = sqlite3.connect(home / "bakeoff.db")
    assert json.loads(conn.execute("SELECT argv FROM runs").fetchone()[0])[-1] == "bakeoff.yaml"
