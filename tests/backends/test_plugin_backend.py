"""The example backend of docs/plugins.md, installed as a plugin would be (a package and its
dist-info with a ``bakeoff.backends`` entry point), runs a real trial through ``bakeoff run``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import bakeoff

from bakeoff.store import Database

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def example_code() -> str:
    """The doc's example backend, exactly as printed (the one python block under its heading)."""
    section = DOC.read_text().split("## An example backend", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def install_plugin(root: Path) -> None:
    (root / "my_pkg").mkdir()
    (root / "my_pkg" / "__init__.py").write_text("")
    (root / "my_pkg" / "echo.py").write_text(example_code())
    info = root / "my_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bakeoff.backends]\necho = my_pkg.echo:EchoBackend\n")


def test_the_documented_example_backend_runs_a_trial_through_its_entry_point(tmp_path):
    code = example_code()
    assert 25 <= len(code.splitlines()) <= 45  # the page promises a short example
    plugin = tmp_path / "site"
    plugin.mkdir()
    install_plugin(plugin)
    suite = tmp_path / "suite.yaml"
    suite.write_text("cases:\n  - id: parrot\n    prompt: 'one two three four five six'\n"
                     "    max_tokens: 4\n    checks: [{contains: 'one two three four'}]\n")
    env = {"PYTHONPATH": os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")])}
    db_path = tmp_path / "r.db"
    proc = bakeoff("run", suite, "-c", "echo:parrot?delay_s=0.01", "--db", db_path, env=env)
    assert proc.returncode == 0, proc.stderr
    db = Database(db_path)
    try:
        trial = db.trials()[0]
        contender = db.conn.execute("SELECT * FROM contenders").fetchone()
    finally:
        db.close()
    assert trial["status"] == "ok" and trial["passed"] == 1
    assert trial["output"] == "one two three four" and trial["finish_reason"] == "length"
    assert (trial["prompt_tokens"], trial["output_tokens"]) == (6, 4)
    # Timings come from the events' own stamps: four words, 10 ms apart.
    assert trial["ttft_ms"] >= 9 and trial["e2e_ms"] >= 3 * 9 + trial["ttft_ms"] * 0.9
    assert 0 < trial["decode_tps"] <= 1000 / 9
    assert '"echo 1.0"' in contender["facts"] and '"in-process"' in contender["facts"]

    bad = bakeoff("run", suite, "-c", "echo:owl", "--db", db_path, env=env)
    assert bad.returncode == 2 and "only echo:parrot" in bad.stderr  # check_model, before any trial
