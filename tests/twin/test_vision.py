"""bakeoff.twin.vision directly: a Gemma 4 vision projector twin from a vision_config, its
tensors and keys as llama.cpp's clip loader reads them, and mmproj= resolved for a text model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gguf import GGUFReader

from bakeoff.errors import InputError
from bakeoff.twin.vision import (GEMMA4_LARGE, GEMMA4_SMALL, VisionDims, build_projector_twin, gemma4_dims,
                                 projector_params, resolve_mmproj, tensor_shapes, text_width_of)

SMALL_TOWER = {"vision_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                 "num_attention_heads": 2, "head_dim": 32, "position_embedding_size": 256}}


def test_vision_config_dims_and_tensor_counts():
    dims = VisionDims.from_config(SMALL_TOWER, "vision.json")
    assert dims.patch_size == 16 and dims.position_embedding_size == 256 and not dims.standardize
    shapes = tensor_shapes(dims, text_width=576)
    assert len(shapes) == 3 + 2 * 14
    assert ("mm.input_projection.weight", (576, 64), "F16") in shapes
    assert projector_params(dims, 576) == sum(int(np.prod(s)) for _, s, _ in shapes)
    assert len(tensor_shapes(GEMMA4_LARGE, 2816)) == 3 + 2 + 27 * 14  # standardisation tensors too
    with pytest.raises(InputError, match="vision.json: the vision config has no 'head_dim'"):
        VisionDims.from_config({"hidden_size": 64, "intermediate_size": 1, "num_hidden_layers": 1,
                                "num_attention_heads": 1}, "vision.json")


def test_the_small_or_large_tower_follows_the_text_width():
    assert gemma4_dims(1536) is GEMMA4_SMALL and gemma4_dims(2816) is GEMMA4_LARGE


def test_projector_twin_is_a_clip_gguf_and_cached_by_its_dims(tmp_path):
    dims = VisionDims.from_config(SMALL_TOWER, "vision.json")
    path = build_projector_twin(dims, 576, tmp_path)
    reader = GGUFReader(str(path))
    assert bytes(reader.fields["clip.projector_type"].parts[-1]).decode() == "gemma4v"
    assert int(reader.fields["clip.vision.projection_dim"].parts[-1][0]) == 576
    assert {t.name for t in reader.tensors} == {name for name, _, _ in tensor_shapes(dims, 576)}
    assert build_projector_twin(dims, 576, tmp_path) == path and len(list(tmp_path.iterdir())) == 1
    assert build_projector_twin(dims, 960, tmp_path) != path


def test_mmproj_values_resolve_for_the_packaged_text_model(smollm2, tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    assert text_width_of(str(smollm2)) == 576  # SmolLM2-135M's embedding width
    given = tmp_path / "mine.gguf"
    assert resolve_mmproj(str(given), str(smollm2)) == (str(given), {"mmproj": str(given), "mmproj_twin": False})
    (tmp_path / "vision.json").write_text(json.dumps(SMALL_TOWER))
    path, facts = resolve_mmproj(str(tmp_path / "vision.json"), str(smollm2))
    assert facts["mmproj_twin"] and facts["vision_dims"]["hidden_size"] == 64
    assert path.startswith(str(tmp_path / "home" / "twins"))
    with pytest.raises(InputError, match="cannot read the vision config"):
        resolve_mmproj(str(tmp_path / "absent.json"), str(smollm2))
