"""bakeoff.twin.build directly: a twin of a tiny Gemma 3 layout (its config.json) written with
the tensor types llama.cpp's quantizer chooses, readable as a GGUF, cached by its inputs."""

from __future__ import annotations

import pytest
from gguf import GGUFReader

from bakeoff.errors import InputError
from bakeoff.twin.build import build_twin, check_disk, twins_dir
from tiny_models import tiny_gemma3


@pytest.fixture
def config(tmp_path, monkeypatch):
    return tiny_gemma3(tmp_path, monkeypatch)


def test_a_twin_is_written_with_the_quantizers_types_and_found_again_in_the_cache(config):
    stages = []
    twin = build_twin(str(config), "Q8_0", progress=lambda stage, done, total: stages.append((done, total)))
    assert twin.path.parent == twins_dir() and twin.path.name.startswith("tiny-gemma3-Q8_0-")
    assert twin.path.stat().st_size == twin.file_bytes and not twin.cached
    reader = GGUFReader(str(twin.path))
    assert len(reader.tensors) == twin.tensors
    assert sum(int(t.n_elements) for t in reader.tensors) == twin.params
    assert set(twin.by_type) <= {"Q8_0", "F32"} and twin.by_type["Q8_0"] >= 6 * 7  # q k v o gate up down
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    assert arch == "gemma3" and "quantizer" in twin.types_source
    assert stages[-1][0] == stages[-1][1]  # progress reaches the total
    again = build_twin(str(config), "Q8_0")
    assert again.cached and again.path == twin.path and again.params == twin.params


def test_bad_requests_are_refused_before_any_work(config, tmp_path):
    with pytest.raises(InputError, match="--vocab .*: no such file"):
        build_twin(str(config), "Q4_K_M", vocab=tmp_path / "missing.gguf")
    with pytest.raises(InputError):
        build_twin(str(config), "Q17_Z")
    with pytest.raises(InputError, match="not enough disk for the twin"):
        check_disk(tmp_path, 2**62)
