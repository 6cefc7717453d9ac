"""The cost frontier in the HTML report, in real headless Chromium: on a machine with no energy
meter and no cost.yaml, the three packaged local models are on it labelled `estimated` (each
saying its assumption), and a cloud model priced from genai-prices shows its price's date and
source.

The database is written through the Database API as `bakeoff run` writes it on this machine
(the meter's description and the trials' energy as the worker records them with the default
per-core estimate); test_run_energy checks that a real run writes exactly that.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

from browser import browser_context, wait_js
from conftest import bakeoff

from bakeoff.measure.cost import cpu_power, load_cost_config
from bakeoff.measure.energy import EnergyMeter
from bakeoff.store import Database

LOCAL = ["llamacpp:smollm2-135m", "llamacpp:gemma3-270m", "llamacpp:qwen2.5-coder-0.5b"]
CLOUD = "openai:gpt-4o-mini"
# (pass rate out of 4, output tokens per trial, seconds per trial): quality rises with cost.
FIGURES = {LOCAL[0]: (1, 40, 0.5), LOCAL[1]: (2, 40, 1.0), LOCAL[2]: (3, 40, 2.0), CLOUD: (4, 40, 1.5)}


def _db(path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))          # bakeoff's defaults only
    watts, source = cpu_power(load_cost_config(), logical_cores=2, cpu_model="AMD EPYC")
    meter = EnergyMeter(tdp_watts=watts, tdp_source=source, cpu_reason="no /sys/class/powercap",
                        gpu_reason="NVML unavailable", logical_cores=2).describe()
    db = Database(path)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    db.start_run("costrun", now, "cost frontier", ["tests"], "test", {"synthetic": True})
    for spec, (passes, tokens, seconds) in FIGURES.items():
        backend, _, model = spec.partition(":")
        cloud = spec == CLOUD
        facts = {"runs_in": "cloud"} if cloud else {"runs_in": "in-process", "energy_meter": meter}
        db.record_contender("costrun", SimpleNamespace(canonical=spec, backend=backend, model=model, options={}),
                            None, None, facts, {}, [], None)
        for i in range(4):
            # the worker's estimate: TDP × elapsed × CPU share (one of two cores busy)
            energy = None if cloud else watts * seconds * 0.5
            db.record_trial({
                "id": f"{spec}-{i}", "run_id": "costrun", "spec": spec, "case_id": f"c{i}", "repeat": 0, "sweep": {},
                "case_json": {"messages": [{"role": "user", "content": "q"}], "checks": [{"contains": "a"}],
                              "pass_threshold": 1.0},
                "request": {"messages": [{"role": "user", "content": "q"}]}, "prompt": "q", "status": "ok",
                "output": "a", "passed": int(i < passes), "score": float(i < passes), "ttft_ms": 50.0,
                "e2e_ms": seconds * 1000, "decode_tps": tokens / seconds, "prompt_tokens": 20, "output_tokens": tokens,
                "tokens_source": "engine", "peak_mem_mb": None if cloud else 300.0, "energy_j": energy,
                "energy_label": "unavailable" if cloud else "estimated",
                "energy_source": "cloud" if cloud else f"CPU estimated: TDP {watts:g} W ({source}) × {seconds:.3f} s",
                "started_at": now, "finished_at": now,
            }, [{"kind": "contains", "passed": i < passes, "score": float(i < passes), "weight": 1.0, "detail": ""}])
    db.finish_run("costrun", now, "completed")
    db.close()


def test_cost_frontier_has_every_local_model_labelled_estimated(tmp_path, monkeypatch):
    db = tmp_path / "cost.db"
    _db(db, tmp_path, monkeypatch)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    data = json.loads(bakeoff("report", "--db", db, "--json", check=True, env=env).stdout)
    cost = next(p for p in data["pareto"] if p["key"] == "cost_per_mtok")
    assert not cost["missing"], cost["missing"]
    points = {p["spec"]: p for p in cost["points"]}
    assert set(points) == set(FIGURES)
    for spec in LOCAL:
        assert points[spec]["source"].startswith("estimated: ")
        assert "CPU estimated: 8 W × this process's share of the cores (assumed: 4 W per logical core" in points[spec]["source"]
    for row in data["contenders"]:
        if row["spec"] in LOCAL:
            assert row["figure_sources"]["energy_j"].startswith(
                "estimated (sum over the successful trials; CPU estimated: 8 W × this process's share of the cores")
    assert points[CLOUD]["source"].startswith("price table: openai:gpt-4o-mini: 0.15 in / 0.6 out USD per 1M, ")
    assert "via genai-prices" in points[CLOUD]["source"] and " as of 20" in points[CLOUD]["source"]

    out = tmp_path / "report.html"
    bakeoff("report", "--db", db, "--html", out, check=True, env=env)
    numbers = {c["spec"]: f"#{i + 1}" for i, c in enumerate(data["contenders"])}
    with browser_context() as context:
        page = context.new_page()
        page.goto(out.as_uri())
        wait_js(page, "document.body.dataset.plotsDrawn !== undefined", timeout=30)
        fig = "#fig-pareto-cost_per_mtok"
        drawn = page.locator(f"{fig} .frontier_points_marks path, {fig} .dominated_points_marks path").count()
        assert drawn == 4
        labels = sorted(page.locator(f"{fig} .labels_marks text").all_text_contents())
        assert labels == sorted(numbers.values())
        assert "cost per 1M output tokens (USD)" in page.locator(fig).text_content()

        basis = page.locator("details.cost-basis")
        summary = basis.locator("summary").inner_text()
        for spec in LOCAL:
            assert f"{numbers[spec]} estimated" in summary
        assert f"{numbers[CLOUD]} price table" in summary
        basis.locator("summary").click()
        for spec in LOCAL:
            item = basis.locator(f"li[data-spec='{spec}']").inner_text()
            assert spec in item and "estimated: (" in item and "4 W per logical core × 2 logical cores" in item
        cloud = basis.locator(f"li[data-spec='{CLOUD}']").inner_text()
        assert "developers.openai.com/api/docs/pricing via genai-prices" in cloud and "as of 20" in cloud
        assert "No contender has this figure" not in page.inner_text("#pareto ~ .plots")
