"""Databases for the report, viewer and gate tests.

`real_db` is a real bake-off, built once per test session through the CLI: smollm2-135m at
temperature 0 and 1.5 (a sweep, so the variant charts have data), 3 cases, 2 repeats (the hot
variant's repeats disagree: flaky cases), with `bakeoff speed` at two context depths, and a
CPU TDP in the cost config so that energy and cost are labelled `estimated` and the cost
frontier has points. Tests that write get their own copy.

`add_hostile_trials` adds, through the Database API, answers no small model would write on
request: `<script>`, `<img onerror>`, `javascript:` links, a `</script>` breakout and U+2028,
from two contenders whose names are hostile too. Each payload would set `window.__pwned`
and the page title if it ever ran.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from conftest import bakeoff

from bakeoff.store import Database

SUITE = """\
defaults:
  max_tokens: 24
  temperature: 0
cases:
  - id: sum
    prompt: 'What is 2 + 2? Answer with a number.'
    checks:
      - regex: '\\b4\\b'
  - id: hello
    prompt: 'Say hello to Ada in one short sentence.'
    checks:
      - regex: '\\w'
  - id: never
    prompt: 'Name a colour.'
    checks:
      - contains: 'zqxjv-never-said'
"""
CONTENDER = "smollm2-135m?threads=1"
SWEEP = "temperature=0,1.5"
SPECS = ["llamacpp:smollm2-135m?temperature=0.0&threads=1", "llamacpp:smollm2-135m?temperature=1.5&threads=1"]

PAYLOAD = ('<script>window.__pwned = 1; document.title = "pwned"</script>'
           '<img src=x onerror="window.__pwned = 2; document.title = \'pwned\'">'
           '<a href="javascript:window.__pwned = 3">click me</a>'
           '</pre></div></script><svg onload="window.__pwned = 4"></svg>'
           '\u2028\u2029<!-- <script>window.__pwned = 5</script>')
HOSTILE_SPECS = ['llamacpp:evil-a?note=<img src=x onerror="window.__pwned=6">',
                 'llamacpp:evil-b?note=<script>window.__pwned=7</script>']
HOSTILE_CASE = 'xss-<img src=x onerror="window.__pwned=8">'
# What each hostile contender answered: a marker that tells them apart, then the payload.
HOSTILE_OUTPUTS = {HOSTILE_SPECS[0]: "ANSWER-FROM-EVIL-A " + PAYLOAD, HOSTILE_SPECS[1]: "ANSWER-FROM-EVIL-B " + PAYLOAD}

_built: dict[str, Path] = {}


def cost_env(root: Path) -> dict[str, str]:
    """A cost config with a CPU TDP: energy `estimated`, so local cost per 1M tokens has a value."""
    config = root / "xdg"
    (config / "bakeoff").mkdir(parents=True, exist_ok=True)
    (config / "bakeoff" / "cost.yaml").write_text("cpu_tdp_watts: 15\n")
    return {"XDG_CONFIG_HOME": str(config)}


def real_db(tmp_path_factory) -> Path:
    """The real bake-off database (built on first use, then shared read-only)."""
    if "db" not in _built:
        root = tmp_path_factory.mktemp("report-db")
        suite = root / "suite.yaml"
        suite.write_text(SUITE)
        db = root / "real.db"
        env = cost_env(root)
        bakeoff("run", suite, "-c", CONTENDER, "--sweep", SWEEP, "--repeat", "2", "--db", db, check=True, env=env)
        bakeoff("speed", CONTENDER, "-p", "16", "-n", "4", "-d", "0,64", "-r", "1", "--db", db, check=True, env=env)
        _built.update(db=db, suite=suite, root=root)
    return _built["db"]


def suite_path(tmp_path_factory) -> Path:
    real_db(tmp_path_factory)
    return _built["suite"]


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy (SQLite's backup API, WAL included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst


def add_hostile_trials(db_path: Path) -> None:
    db = Database(db_path)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    run_id = "hostile0run"
    db.start_run(run_id, now, "hostile answers (inserted by the tests)", ["tests"], "test",
                 {"synthetic": True, "note": PAYLOAD})
    for i, spec in enumerate(HOSTILE_SPECS):
        backend, _, rest = spec.partition(":")
        model, _, note = rest.partition("?note=")
        # The hostile string is the contender's identity itself, as a trial's spec column holds it.
        contender = SimpleNamespace(canonical=spec, backend=backend, model=model, options={"note": note})
        db.record_contender(run_id, contender, None, None,
                            {"runs_in": "in-process", "note": PAYLOAD}, {}, [PAYLOAD], None)
        for repeat in range(2):
            db.record_trial({
                "id": f"hostile-{i}-{repeat}", "run_id": run_id, "spec": spec, "case_id": HOSTILE_CASE,
                "repeat": repeat, "sweep": {}, "case_json": {"messages": [{"role": "user", "content": PAYLOAD}],
                                                            "checks": [{"contains": "x"}], "pass_threshold": 1.0},
                "request": {"messages": [{"role": "user", "content": PAYLOAD}]}, "prompt": PAYLOAD,
                "status": "ok", "output": HOSTILE_OUTPUTS[spec] + f" (repeat {repeat})",
                "reasoning": PAYLOAD, "passed": repeat % 2, "score": float(repeat % 2),
                "ttft_ms": 100.0 + 50 * i, "e2e_ms": 400.0 + 300 * i, "decode_tps": 50.0, "output_tokens": 20,
                "tokens_source": "engine", "peak_mem_mb": 200.0 + i, "energy_j": 1.0 + i, "energy_label": "estimated",
                "started_at": now, "finished_at": now,
            }, [{"kind": "contains", "passed": bool(repeat % 2), "score": float(repeat % 2), "weight": 1.0,
                 "detail": PAYLOAD}])
        db.record_trial({
            "id": f"hostile-{i}-error", "run_id": run_id, "spec": spec, "case_id": "xss-error",
            "repeat": 0, "sweep": {}, "case_json": {"messages": [{"role": "user", "content": "x"}], "checks": []},
            "status": "error", "error": PAYLOAD, "started_at": now, "finished_at": now,
        }, [])
    db.finish_run(run_id, now, "completed")
    db.close()


# In the browser: did anything from the payloads run or become an element?
PAGE_IS_CLEAN = """() => ({
    pwned: window.__pwned === undefined ? null : window.__pwned,
    title: document.title,
    handlers: document.querySelectorAll('[onerror], [onload]').length,
    images: document.querySelectorAll('img[src="x"]').length,
    js_links: Array.from(document.querySelectorAll('a[href]')).filter(a => a.href.trim().toLowerCase().startsWith('javascript:')).length,
    foreign_scripts: Array.from(document.scripts).filter(s => s.type !== 'application/json' && s.textContent.includes('__pwned')).length,
})"""


def assert_inert(page, expected_title: str) -> None:
    state = page.evaluate(PAGE_IS_CLEAN)
    assert state == {"pwned": None, "title": expected_title, "handlers": 0, "images": 0, "js_links": 0,
                     "foreign_scripts": 0}, state
