"""bakeoff.report.terminal: the report on a terminal from the real bake-off database's data
(matrix, legend, repeats, variants, the per-case table), the speed lines, and the models table."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from bakeoff.report.data import report_data
from bakeoff.report.terminal import print_models, print_terminal, speed_line
from bakeoff.store import Database
from report_db import SPECS, real_db


def _printed(draw) -> str:
    out = io.StringIO()
    draw(Console(file=out, width=400, color_system=None))
    return out.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory, smollm2):
    db = Database(real_db(tmp_path_factory))
    try:
        return report_data(db)
    finally:
        db.close()


def test_the_matrix_repeats_and_variants_are_printed(data):
    text = _printed(lambda c: print_terminal(data, c))
    assert "bakeoff: comparison matrix" in text and all(spec in text for spec in SPECS)
    assert "repeats (per case, averaged over cases)" in text  # two repeats per case
    assert "variants of llamacpp:smollm2-135m?threads=1" in text and "(ref)" in text
    assert "per case (passed/judged" not in text


def test_show_cases_adds_the_per_case_table(data):
    text = _printed(lambda c: print_terminal(data, c, show_cases=True))
    table = text[text.index("per case (passed/judged; E = error)"):]
    for case in ("sum", "hello", "never"):
        assert case in table
    assert "0/2" in table  # the case no answer passes


def test_speed_lines_in_process_and_through_a_server():
    local = SimpleNamespace(spec="llamacpp:m", test="pp512", depth=0, ctx=4096, avg_tps=812.345, stddev_tps=3.2,
                            engine_avg_tps=820.0, peak_mem_mb=311.6, engine_memory={"kv_mib": 48}, cache=None)
    line = speed_line(local)
    assert line.startswith("llamacpp:m    pp512 @ d0      ctx 4096")
    assert "812.35 ± 3.20 tok/s" in line and "engine 820.00 tok/s" in line and "mem 312 MB" in line
    assert line.endswith("KV 48 MiB")
    served = SimpleNamespace(**{**vars(local), "cache": "cache_prompt: false", "engine_avg_tps": None,
                                "stddev_tps": None})
    line = speed_line(served)
    assert "server" in line and "812.35 tok/s client-observed" in line and line.endswith("engine-reported – tok/s")


MODELS = [{"alias": "smollm2-135m", "path": None, "installed": True, "assembled": True, "size_bytes": 145_000_000,
           "architecture": "llama", "quant": "Q8_0", "context_length": 8192, "parameters": 134_500_000,
           "sha256": "ab" * 32, "sha256_source": "sidecar"},
          {"alias": "big-model", "path": None, "installed": False, "extra": "models-large", "assembled": False}]


def test_models_table_rows():
    text = _printed(lambda c: print_models(MODELS, c))
    assert "smollm2-135m" in text and "145" in text and "134M" in text and "abababababab… sidecar" in text
    row = next(line for line in text.splitlines() if "big-model" in line)
    assert "│ no" in row


def test_an_uninstalled_model_names_the_extra_that_installs_it():
    text = _printed(lambda c: print_models(MODELS, c))
    assert "models-large" in text
