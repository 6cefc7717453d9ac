"""bakeoff.models.quantize directly: a variant of a GGUF made by llama.cpp's own quantizer, cached
by the source's hash and the type, and quantization names checked and ranked."""

from __future__ import annotations

import pytest
from gguf import GGUFReader

from bakeoff.models.quantize import QUANT_TYPES, check_quant, precision_rank, quantized_path
from bakeoff.twin.build import build_twin
from tiny_models import tiny_gemma3


def test_names_are_checked_and_ranked_by_precision():
    assert check_quant("q4_k_m") == "Q4_K_M"
    with pytest.raises(ValueError, match="unknown quantization 'Q4'; choose from F16, BF16"):
        check_quant("Q4")
    assert precision_rank("F16") == 0 < precision_rank("Q8_0") < precision_rank("Q4_K_M") < precision_rank("Q2_K")
    assert precision_rank("MXFP4") == len(QUANT_TYPES)


def test_a_variant_is_made_with_the_asked_type_and_found_again(tmp_path, monkeypatch):
    source = build_twin(str(tiny_gemma3(tmp_path, monkeypatch)), "Q8_0").path
    variant = quantized_path(source, "q4_0", threads=1)
    assert variant.parent == tmp_path / "home" / "models" / "quant"
    assert variant.name.startswith(f"{source.stem}.") and variant.name.endswith(".Q4_0.gguf")
    types = {t.name: t.tensor_type.name for t in GGUFReader(str(variant)).tensors}
    assert types["blk.0.attn_q.weight"] == "Q4_0"
    assert variant.stat().st_size < source.stat().st_size
    made = variant.stat().st_mtime_ns
    assert quantized_path(source, "Q4_0") == variant and variant.stat().st_mtime_ns == made  # the cache
    assert not list(variant.parent.glob("*.part"))
