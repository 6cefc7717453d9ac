"""bakeoff.backends.llamacpp_vision: a file that is no vision projector is refused when the
contender loads, with llama.cpp's reason; the vision facts say how the visual budget was set
and hash the projector; and a case with images on a contender without a projector fails."""

from __future__ import annotations

import hashlib

import pytest

from bakeoff.backends import make_backend
from bakeoff.backends.llamacpp_engine import LlamaCppEngine
from bakeoff.backends.llamacpp_vision import VisionMixin
from bakeoff.spec import parse_spec


def _engine(smollm2, **options):
    backend = make_backend(parse_spec("llamacpp:smollm2-135m?threads=2&ctx=128"), 60)
    return LlamaCppEngine(backend.model_file(), {**backend.engine_options(), **options})


def test_a_text_model_given_as_projector_is_refused_at_load(smollm2):
    engine = _engine(smollm2, mmproj=str(smollm2))
    with pytest.raises(ValueError, match="could not load the projector|is not a vision projector"):
        engine.load()


def test_images_without_a_projector_are_refused(smollm2):
    engine = _engine(smollm2)
    engine.load()
    try:
        image = {"path": str(smollm2), "mime": "image/png", "sha256": "0" * 64}
        with pytest.raises(ValueError, match="has no vision projector: add mmproj=PATH"):
            engine.generate({"messages": [{"role": "user", "content": "What is this?", "images": [image]}],
                             "max_tokens": 2, "temperature": 0.0, "seed": 0, "stop": []}, lambda e: None)
    finally:
        engine.close()


def test_vision_facts_name_the_budget_setting_and_hash_the_projector(tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    projector = tmp_path / "mmproj.gguf"
    projector.write_bytes(b"GGUF projector bytes")
    digest = hashlib.sha256(projector.read_bytes()).hexdigest()
    budgeted = VisionMixin()._vision_facts({"mmproj": str(projector), "visual_budget": 280,
                                            "mmproj_facts": {"mmproj": str(projector), "mmproj_twin": False}})
    assert budgeted == {"mmproj": str(projector), "mmproj_twin": False, "visual_budget": 280,
                        "budget_setting": "llama.cpp image_min_tokens = image_max_tokens = visual_budget",
                        "mmproj_sha256": digest}
    default = VisionMixin()._vision_facts({"mmproj": str(projector)})
    assert default["budget_setting"] == "the projector's default image token limits"
    assert default["visual_budget"] is None and default["mmproj"] == str(projector)
