"""Energy per trial on a machine without RAPL or NVML: labelled, never a silent zero."""

import os
import subprocess
import sys

import pytest

from bakeoff.measure.energy import EnergyMeter
from conftest import report_json, trial_rows, write_suite

HAS_METER = EnergyMeter.detect().label == "measured"  # readable RAPL or an NVIDIA GPU


def _run(tmp_path, config_dir):
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "e.db"
    env = dict(os.environ, XDG_CONFIG_HOME=str(config_dir))
    proc = subprocess.run([sys.executable, "-m", "bakeoff", "run", str(suite), "-c", "smollm2-135m?threads=1",
                           "--db", str(db)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return db, env


@pytest.mark.skipif(HAS_METER, reason="this machine has a real energy meter: energy is measured, not estimated")
def test_first_run_estimates_energy_and_cost_from_the_cpu(tmp_path, smollm2):
    """No meter and no cost.yaml: the default per-core figure gives an `estimated` energy and
    cost, each saying its assumption."""
    db, _ = _run(tmp_path, tmp_path / "empty-config")
    cores = os.cpu_count()
    for row in trial_rows(db):
        assert row["energy_label"] == "estimated" and row["energy_j"] > 0
        assert f"TDP {4 * cores:g} W (assumed: 4 W per logical core × {cores} logical cores of " in row["energy_source"]
    c = report_json(db)["contenders"][0]
    cost = c["cost_per_mtok"]
    assert c["energy_label"] == "estimated" and cost["label"] == "estimated" and cost["value"] > 0
    assert cost["parts"]["energy"] > 0 and cost["parts"]["hardware"] > 0
    assert "energy estimated: CPU estimated: " in cost["source"] and "cpu_watts_per_core" in cost["source"]
    assert "no GPU counted" in cost["source"]


@pytest.mark.skipif(HAS_METER, reason="this machine has a real energy meter: energy is measured, not unavailable")
def test_no_meter_and_no_estimate_is_unavailable_not_zero(tmp_path, smollm2):
    config = tmp_path / "config" / "bakeoff"
    config.mkdir(parents=True)
    (config / "cost.yaml").write_text("cpu_watts_per_core: null\n")   # the estimate turned off
    db, _ = _run(tmp_path, tmp_path / "config")
    for row in trial_rows(db):
        assert row["energy_j"] is None and row["energy_label"] == "unavailable"
        assert "RAPL" in row["energy_source"] or "powercap" in row["energy_source"]
    c = report_json(db)["contenders"][0]
    assert c["energy_j"] is None and c["energy_label"] == "unavailable"
    assert c["cost_per_mtok"]["value"] is None and c["cost_per_mtok"]["label"] == "unavailable"
    assert c["cost_per_mtok"]["parts"]["hardware"] > 0  # the hardware share is still known


@pytest.mark.skipif(HAS_METER, reason="this machine has a real energy meter, which outranks a TDP estimate")
def test_tdp_gives_an_estimated_energy_and_cost(tmp_path, smollm2):
    config = tmp_path / "config" / "bakeoff"
    config.mkdir(parents=True)
    (config / "cost.yaml").write_text("cpu_tdp_watts: 65\n")
    db, env = _run(tmp_path, tmp_path / "config")
    rows = trial_rows(db)
    for row in rows:
        assert row["energy_label"] == "estimated" and row["energy_j"] > 0
        assert "TDP 65" in row["energy_source"]
    out = subprocess.run([sys.executable, "-m", "bakeoff", "report", "--db", str(db), "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    import json

    c = json.loads(out)["contenders"][0]
    assert c["energy_label"] == "estimated" and c["energy_j"] > 0
    assert c["cost_per_mtok"]["label"] == "estimated" and c["cost_per_mtok"]["value"] > 0
