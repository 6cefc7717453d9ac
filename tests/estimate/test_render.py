"""bakeoff.estimate.render directly: the `bakeoff fit` text a user reads, printed from a real
estimate of the packaged SmolLM2, every figure with its working."""

from __future__ import annotations

from rich.console import Console

from bakeoff.estimate import fit
from bakeoff.estimate.render import print_fit, print_hardware_table, print_twin_measurement, size


def printed(fn, *args) -> str:
    out = Console(record=True, width=200, color_system=None)
    fn(*args, out)
    return out.export_text()


def test_sizes_switch_to_gib_at_one_gib():
    assert size(None) == "–" and size(2**29) == "512.0 MiB" and size(3 * 2**30) == "3.00 GiB"


def test_fit_text_names_the_model_context_and_kv_working(smollm2):
    result = fit(str(smollm2), ctx=2048, hardware=["rtx-4090"])
    text = printed(print_fit, result)
    assert "context 2,048 tokens, KV cache f16" in text
    assert "30 global layers × 2,048 cells × 3 KV heads × (64 + 64) × 2 B = 45.0 MiB" in text
    assert "estimated" in text
    table = printed(print_hardware_table, result)
    assert "NVIDIA GeForce RTX 4090" in table and "llama-server" in table and "yes" in table


def test_twin_measurement_table_shows_errors_and_efficiency():
    m = {"twin": {"spec": "twin:tiny.json?ctx=512", "threads": 2},
         "memory": [{"figure": "KV cache", "estimated_bytes": 110 * 2**20, "measured_bytes": 100 * 2**20,
                     "error_pct": 10.0, "measured_source": "engine-reported"}],
         "speed": {"repetitions": 3, "n_prompt": 64, "prefill_tps": 500.0, "prefill_tps_stddev": 5.0,
                   "n_gen": 16, "decode_tps": 40.0, "decode_tps_stddev": None, "roofline_decode_tps": 80.0,
                   "roofline_depth": 8, "bandwidth_gbs": 20.0, "bandwidth_source": "this machine: measured"},
         "quality": "not applicable (random weights)"}
    m["speed"]["efficiency"] = 0.5
    text = printed(print_twin_measurement, m)
    assert "110.0 MiB" in text and "+10.0%" in text
    assert "prefill pp64 500.00 ± 5.00 tok/s, decode tg16 40.00 tok/s" in text
    assert "efficiency 50% of the roofline" in text
