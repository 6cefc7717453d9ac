"""Packaged models: found in their PyPI packages, assembled once, hashed, described."""

import json
import os
import subprocess
import sys

import pytest

from bakeoff.models import PACKAGED, model_status
from bakeoff.models.gguf_meta import read_gguf_info
from conftest import bakeoff


def test_models_json_lists_every_alias_with_state(smollm2, qwen05, gemma3):
    rows = json.loads(bakeoff("models", "--json", check=True).stdout)
    by_alias = {r["alias"]: r for r in rows}
    assert set(PACKAGED) <= set(by_alias)
    for alias in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"):
        r = by_alias[alias]
        assert r["installed"] and r["assembled"]
        assert os.path.isfile(r["path"]) and len(r["sha256"]) == 64
    assert by_alias["smollm2-135m"]["architecture"] == "llama"
    assert by_alias["smollm2-135m"]["quant"] == "Q4_1"
    assert by_alias["smollm2-135m"]["context_length"] == 8192
    assert by_alias["gemma3-270m"]["architecture"] == "gemma3"
    assert by_alias["gemma3-270m"]["has_chat_template"] is False
    assert by_alias["gemma3-270m"]["sha256_source"] == "published"
    assert by_alias["qwen2.5-coder-0.5b"]["architecture"] == "qwen2"
    assert by_alias["qwen2.5-coder-0.5b"]["block_count"] == 24


def test_models_accepts_plain_paths(smollm2):
    rows = json.loads(bakeoff("models", smollm2, "--json", check=True).stdout)
    extra = [r for r in rows if r["alias"] is None]
    assert len(extra) == 1 and extra[0]["path"] == str(smollm2)
    assert extra[0]["parameters"] > 100_000_000
    missing = bakeoff("models", "/nonexistent/x.gguf")
    assert missing.returncode == 2 and "no such GGUF file" in missing.stderr


def test_assembly_into_a_fresh_home_checks_the_published_hash(tmp_path, gemma3):
    """Gemma 3's package publishes its sha256: a fresh assembly must match it, and happen once."""
    env = dict(os.environ, BAKEOFF_HOME=str(tmp_path))
    code = ("from bakeoff.models.packaged import assemble, PACKAGED, file_sha256;"
            "p = assemble(PACKAGED['gemma3-270m']); print(p); print(file_sha256(p))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    path, sha = out.split()
    assert path.startswith(str(tmp_path)) and sha == PACKAGED["gemma3-270m"].sha256
    mtime = os.stat(path).st_mtime_ns
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert os.stat(path).st_mtime_ns == mtime  # not assembled twice
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.endswith(".part")]


@pytest.mark.skipif(model_status("qwen2.5-coder-1.5b").installed,
                    reason="bakeoff[models-large] is installed here, so no alias is missing")
def test_uninstalled_alias_says_how_to_install():
    from bakeoff.backends.llamacpp import LlamaCppBackend
    from bakeoff.errors import InputError

    try:
        LlamaCppBackend.check_model("qwen2.5-coder-1.5b")
    except InputError as exc:
        assert "pip install 'bakeoff[models-large]'" in str(exc)
    else:
        raise AssertionError("an uninstalled alias must be refused")


def test_gguf_reader_rejects_a_non_gguf_file(tmp_path):
    from bakeoff.errors import InputError

    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a gguf file at all")
    try:
        read_gguf_info(bad)
    except InputError as exc:
        assert "not a readable GGUF file" in str(exc)
    else:
        raise AssertionError("expected InputError")


def test_header_scan_agrees_with_gguf_py(smollm2):
    """The fast scanner reads the same metadata and tensors as gguf-py's GGUFReader."""
    from gguf import GGUFReader

    from bakeoff.models.gguf_meta import scan_gguf

    meta, tensors = scan_gguf(smollm2)
    reader = GGUFReader(str(smollm2), "r")
    for key in ("general.architecture", "llama.context_length", "llama.block_count", "general.file_type",
                "tokenizer.chat_template"):
        assert meta[key] == reader.fields[key].contents()
    assert len(tensors) == len(reader.tensors)
    for (name, dims, ttype), t in zip(tensors, reader.tensors):
        assert name == t.name and ttype == int(t.tensor_type)
        assert list(dims) == [int(d) for d in t.shape]
    assert read_gguf_info(smollm2).parameters == sum(int(t.n_elements) for t in reader.tensors)
