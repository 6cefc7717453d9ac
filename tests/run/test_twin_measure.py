"""bakeoff.run.twin_measure directly: the estimate of a tiny Gemma 3 layout beside what its
twin takes when llama.cpp loads it here, and the settings a measurement refuses."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.estimate import fit
from bakeoff.run.twin_measure import measure_twin, roofline_profile
from tiny_models import tiny_gemma3


@pytest.fixture
def config(tmp_path, monkeypatch):
    return str(tiny_gemma3(tmp_path, monkeypatch))


def test_the_roofline_uses_this_machine_on_cpu_and_only_a_single_gpu_profile():
    rows = [{"id": "rtx-4090", "kind": "gpu"}, {"id": "this-machine", "kind": "cpu"}]
    assert roofline_profile({"hardware": rows}, gpu_layers=0)["id"] == "this-machine"
    assert roofline_profile({"hardware": rows}, gpu_layers=10)["id"] == "rtx-4090"
    assert roofline_profile({"hardware": rows + [{"id": "h100", "kind": "gpu"}]}, gpu_layers=10) is None


def test_settings_a_measurement_cannot_honour_are_refused(config):
    with pytest.raises(InputError, match="needs the llama-cpp-python engine's estimate"):
        measure_twin(fit(config, ctx=512, engine="ollama"), config, None, 1, 0, 64, 16, 1)
    with pytest.raises(InputError, match="leave --kv-type at f16"):
        measure_twin(fit(config, ctx=512, kv_type="q8_0"), config, None, 1, 0, 64, 16, 1)
    with pytest.raises(InputError, match="--ctx 64 cannot hold the measurement's 64 \\+ 16 tokens"):
        measure_twin(fit(config, ctx=64), config, None, 1, 0, 64, 16, 1)


def test_a_tiny_twin_measured_beside_its_estimate(config):
    result = fit(config, ctx=512)
    m = measure_twin(result, config, None, 1, 0, n_prompt=32, n_gen=8, reps=1)
    rows = {r["figure"]: r for r in m["memory"]}
    assert set(rows) == {"weights", "KV cache", "compute buffer", "peak memory after a 32-token prompt"}
    kv = rows["KV cache"]
    assert kv["measured_bytes"] and abs(kv["error_pct"]) < 10  # llama.cpp's own allocation
    assert m["speed"]["decode_tps"] > 0 and m["speed"]["n_gen"] == 8 and m["twin"]["ctx"] == 512
    assert m["twin"]["spec"].startswith("twin:") and m["quality"] == "not applicable (random weights)"
