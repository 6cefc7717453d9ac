"""bakeoff.backends.twin called directly on a tiny Gemma 3 twin built here: the twin is built on
first use at the quantization asked for, loads in the llamacpp engine, and says in its facts
and notes that it measures speed and memory only; a quantization llama.cpp does not know and a
model it cannot find are refused before anything is built."""

from __future__ import annotations

import json

import pytest

from backend_calls import close, load
from bakeoff.backends import make_backend
from bakeoff.backends.twin import QUALITY_NOT_APPLICABLE, TwinBackend
from bakeoff.errors import InputError
from bakeoff.spec import parse_spec

GEMMA3 = {"model_type": "gemma3_text", "num_hidden_layers": 2, "hidden_size": 64, "vocab_size": 512,
          "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "sliding_window": 64,
          "intermediate_size": 128, "max_position_embeddings": 8192}


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))  # the twin cache
    path = tmp_path / "gemma3-tiny.json"
    path.write_text(json.dumps(GEMMA3))
    return path


def test_a_twin_is_built_at_its_quantization_and_labelled_as_speed_only(config, tmp_path):
    backend = make_backend(parse_spec(f"twin:{config}?quant=Q8_0&threads=1&ctx=256"), 60)
    assert isinstance(backend, TwinBackend)
    try:
        facts = load(backend)
    finally:
        close(backend)
    twin = facts["twin"]
    assert twin["quant"] == "Q8_0" and twin["quality"] == QUALITY_NOT_APPLICABLE and twin["params"] > 0
    assert backend.model_file().startswith(str(tmp_path / "home"))  # built into the cache
    assert twin["file_bytes"] == (tmp_path / "home").joinpath(backend.model_file()).stat().st_size
    assert facts["architecture"] == "gemma3"
    options = backend.engine_options()
    assert options["quant"] is None and "vocab" not in options  # nothing left to requantize
    assert backend.notes()[0].startswith(f"twin:{config}: random weights")


def test_an_unknown_quantization_is_refused(config):
    with pytest.raises(InputError, match="quant"):
        make_backend(parse_spec(f"twin:{config}?quant=Q9_X"), 60)


def test_a_model_that_cannot_be_found_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    with pytest.raises(InputError):
        TwinBackend.check_model(str(tmp_path / "absent.json"))
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.gguf"))
