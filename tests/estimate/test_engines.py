"""bakeoff.estimate.engines directly: the names users give engines, and the rules that make the
same GGUF take different memory in each (felt through fit)."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.estimate import fit
from bakeoff.estimate.engines import DEFAULT_ENGINES, ENGINES, get_engine


def test_engine_names_as_users_write_them():
    assert get_engine("llama.cpp").id == "llama-server"
    assert get_engine("LLAMA_CPP_PYTHON").id == "llama-cpp-python"
    assert get_engine("llamacpp").id == "llama-cpp-python"  # bakeoff's own backend name
    assert get_engine(" vllm ") is ENGINES["vllm"]
    with pytest.raises(InputError, match="unknown engine 'tgi'; known: llama-server, ollama, llama-cpp-python, vllm"):
        get_engine("tgi")


def test_each_engine_sizes_the_sliding_window_cache_by_its_own_rule(gemma3):
    """Gemma 3 270M (512-token window) at 8192 tokens: the global layers hold 8192 cells in every
    engine; the sliding layers differ."""
    result = fit(str(gemma3), ctx=8192, engine=["llama-server", "ollama", "llama-cpp-python", "vllm"],
                 hardware=["rtx-4090"])
    cells = {e: {g["attention"]: g["cells"] for g in r["kv"]["groups"]} for e, r in result["engines"].items()}
    assert {e: c["global"] for e, c in cells.items()} == dict.fromkeys(cells, 8192)
    assert cells["llama-server"]["sliding"] == 2560  # 4 slots x 512 + a 512 ubatch, padded to 256
    assert cells["ollama"]["sliding"] == 1024  # 512 + num_batch 512
    assert cells["llama-cpp-python"]["sliding"] == 8192  # swa_full: a full-size cache
    assert cells["vllm"]["sliding"] == 528  # the window + one 16-token block
    assert result["engines"]["vllm"]["hardware"][0]["usable_rule"].startswith("0.9 × VRAM")
    assert list(fit(str(gemma3), ctx=2048)["engines"]) == list(DEFAULT_ENGINES)
