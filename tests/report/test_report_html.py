"""`bakeoff report --html` in real headless Chromium, on a real bake-off plus hostile answers."""

import json
import re

import pytest

from browser import browser_context, wait_js
from conftest import bakeoff
from report_db import HOSTILE_CASE, HOSTILE_SPECS, SPECS, add_hostile_trials, assert_inert, copy_db, real_db

pytestmark = pytest.mark.slow  # a real bake-off (smollm2-135m) is built for these tests

DRAWN = "document.body.dataset.plotsDrawn !== undefined"


def _marks(page, figure_id: str, layer: str) -> list[str]:
    """The fill colours of the SVG marks Vega drew for one named layer of one figure."""
    return page.evaluate("([id, layer]) => Array.from(document.querySelectorAll(`#${id} .${layer}_marks path`))"
                         ".map(p => p.getAttribute('fill'))", [figure_id, layer])


def test_html_report_draws_its_plots_and_never_runs_model_output(tmp_path_factory, tmp_path, smollm2):
    db = copy_db(real_db(tmp_path_factory), tmp_path / "r.db")
    add_hostile_trials(db)
    out = tmp_path / "out" / "report.html"
    proc = bakeoff("report", "--db", db, "--html", out)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stderr
    html = out.read_text()

    # Self-contained: nothing is fetched, from a CDN or anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    # The payloads are in the file only escaped.
    for raw in ("<script>window.__pwned", "<img src=x", '<a href="javascript:', "<svg onload"):
        assert raw not in html
    assert "&lt;script&gt;window.__pwned = 1" in html

    data = json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)
    pareto = {p["key"]: p for p in data["pareto"]}
    specs = [c["spec"] for c in data["contenders"]]
    assert set(specs) == set(SPECS) | set(HOSTILE_SPECS)

    with browser_context() as context:
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        wait_js(page, DRAWN, timeout=30)
        assert_inert(page, "bakeoff report")

        # 3 frontier plots (the cost one too: the TDP in the cost config makes energy and cost
        # `estimated`), prefill and decode speed against depth, and the temperature sweep.
        assert page.evaluate("document.body.dataset.plotsDrawn") == "6"
        for key in ("cost_per_mtok", "e2e_ms_median", "peak_mem_mb"):
            points = pareto[key]["points"]
            assert len(points) == 4, pareto[key]["missing"]
            on = sum(p["on_frontier"] for p in points)
            assert 1 <= on <= 4
            assert _marks(page, f"fig-pareto-{key}", "frontier_points") == ["#1f6fb4"] * on
            assert _marks(page, f"fig-pareto-{key}", "dominated_points") == ["#b4b4b4"] * (len(points) - on)
            labels = page.locator(f"#fig-pareto-{key} .labels_marks text").all_text_contents()
            assert sorted(labels) == ["#1", "#2", "#3", "#4"]   # the matrix's row numbers
        for i in (0, 1):  # one series each, at depths 0 and 64
            assert len(_marks(page, f"fig-speed-{i}", "points")) == 2
        assert page.locator("#fig-sweep-0 .pass_rate_marks path").count() == 2   # a bar per variant
        assert "context depth (tokens already in the KV cache)" in page.locator("#fig-speed-0").text_content()
        assert "median E2E latency (ms)" in page.locator("#fig-pareto-e2e_ms_median").text_content()

        # Tooltips show the hostile specs as text.
        points = page.locator("#fig-pareto-e2e_ms_median .frontier_points_marks path, "
                              "#fig-pareto-e2e_ms_median .dominated_points_marks path")
        tips = []
        for i in range(points.count()):
            page.mouse.move(1, 1)  # off the chart: the tooltip hides
            wait_js(page, "!document.querySelector('#vg-tooltip-element.visible')", timeout=5)
            points.nth(i).hover(force=True)
            wait_js(page, "!!document.querySelector('#vg-tooltip-element.visible')", timeout=5)
            tips.append(page.evaluate("document.getElementById('vg-tooltip-element').textContent"))
        assert any(HOSTILE_SPECS[0] in tip for tip in tips) and any(HOSTILE_SPECS[1] in tip for tip in tips), tips
        assert_inert(page, "bakeoff report")

        # Every answer, check detail, prompt, error and note is shown as text.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        text = page.inner_text("body")
        for shown in ("<script>window.__pwned = 1", "<img src=x onerror=", '<a href="javascript:window.__pwned = 3">',
                      HOSTILE_CASE, HOSTILE_SPECS[1]):
            assert shown in text
        assert text.count("ANSWER-FROM-EVIL-A") >= 1

        # The diff view: word pieces, drawn on demand from the answers' text.
        page.check("#show-diff")
        assert page.locator("pre.diff span.del, pre.diff span.ins").count() > 0
        pieces = page.evaluate("c => Array.from(Array.from(document.querySelectorAll('details.case'))"
                               ".find(d => d.dataset.case === c).querySelector('pre.diff').childNodes)"
                               ".map(n => [n.className || 'equal', n.textContent])", HOSTILE_CASE)
        # The two hostile answers differ in one word: evil A's letter removed, evil B's added.
        assert ["del", "A"] in pieces and ["ins", "B"] in pieces
        assert "".join(t for kind, t in pieces if kind != "ins").startswith("ANSWER-FROM-EVIL-A <script>")
        assert_inert(page, "bakeoff report")

        # Flaky cases: the hostile case passes on one repeat and fails on the other.
        flaky = page.locator("#flaky-table tr.flaky-row")
        assert flaky.count() >= 2
        assert HOSTILE_CASE in page.locator("#flaky-table").inner_text()

        # The environment of the real run, and the models' sha256.
        runs = page.locator("#runs ~ details.run").all_inner_texts()
        assert any("hardware.cores_logical" in r and "versions.llama-cpp-python" in r for r in runs)
        sha = data["contenders"][specs.index(SPECS[0])]["model_sha256"]
        assert len(sha) == 64 and sha in page.inner_text("body")

        # The matrix keeps units and labels.
        matrix = page.locator("#matrix-table").inner_text()
        for header in ("TTFT median (ms)", "decode median (tok/s)", "peak memory (MB above baseline)", "estimated"):
            assert header in matrix

        assert all(u.startswith("file://") for u in requests), requests
        assert_inert(page, "bakeoff report")


def test_html_report_of_one_run_and_bad_paths(tmp_path_factory, tmp_path, smollm2):
    db = real_db(tmp_path_factory)
    run_id = json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)["runs"][0]["id"]
    out = tmp_path / "one.html"
    assert bakeoff("report", "--db", db, "--run", run_id, "--html", out).returncode == 0
    assert f"run {run_id} only" in out.read_text()
    missing = bakeoff("report", "--db", tmp_path / "none.db", "--html", out)
    assert missing.returncode == 2 and "no results database" in missing.stderr
    unwritable = bakeoff("report", "--db", db, "--html", tmp_path / "one.html" / "x.html")
    assert unwritable.returncode == 2 and "Traceback" not in unwritable.stderr
