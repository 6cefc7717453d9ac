"""LoRA adapters on the in-process llama.cpp backend: a real adapter GGUF (written here with gguf-py
in the format llama.cpp loads), swept against the base model, and adapters that cannot be used."""

import hashlib
import json
import sqlite3
from urllib.parse import parse_qs

import gguf

from conftest import bakeoff, report_json, trial_rows, write_suite
from lora_gguf import write_lora_adapter


def _contender_rows(db):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {r["spec"]: dict(r) for r in conn.execute("SELECT spec, facts, error FROM contenders")}
    finally:
        conn.close()


def test_adapter_file_has_the_layout_llama_cpp_loads(tmp_path):
    path = write_lora_adapter(tmp_path / "adapter.gguf")
    assert path.stat().st_size < 1_000_000
    reader = gguf.GGUFReader(path)
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 16.0
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}  # ggml order: ne0 first
    assert shapes["blk.0.attn_q.weight.lora_a"] == [576, 8]  # [n_in, rank]
    assert shapes["blk.0.attn_q.weight.lora_b"] == [8, 576]  # [rank, n_out]
    assert len(shapes) == 8


def test_lora_sweep_compares_the_adapted_model_with_the_base(tmp_path, smollm2):
    adapter = write_lora_adapter(tmp_path / "adapter.gguf")
    suite = write_suite(tmp_path / "s.yaml", cases=4)
    db = tmp_path / "lora.db"
    proc = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--sweep", f"lora=none,{adapter}", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert all(t["status"] == "ok" for t in trial_rows(db)), [t["error"] for t in trial_rows(db)]

    data = report_json(db)
    specs = {c["spec"] for c in data["contenders"]}
    assert len(specs) == 2
    base_spec = "llamacpp:smollm2-135m?threads=1"
    assert base_spec in specs
    (adapted_spec,) = specs - {base_spec}
    assert parse_qs(adapted_spec.partition("?")[2]) == {"lora": [str(adapter)], "threads": ["1"]}

    (group,) = data["variants"]
    assert group["base"] == base_spec and group["reference"] == base_spec
    base, adapted = group["variants"]
    assert base["spec"] == base_spec and base["sweep"] == {"lora": "none"} and base["reference"]
    assert base["differs_from_reference"] == 0
    assert adapted["spec"] == adapted_spec and adapted["sweep"] == {"lora": str(adapter)}
    assert not adapted["reference"] and adapted["errors"] == 0
    assert adapted["compared_with_reference"] == 4
    # The adapter is really applied: greedy answers change on at least one case.
    assert adapted["differs_from_reference"] > 0

    rows = _contender_rows(db)
    base_facts = json.loads(rows[base_spec]["facts"])
    assert base_facts["lora"] is None and base_facts["lora_sha256"] is None
    facts = json.loads(rows[adapted_spec]["facts"])
    assert facts["lora"] == str(adapter)
    assert facts["lora_sha256"] == hashlib.sha256(adapter.read_bytes()).hexdigest()


def test_missing_adapter_file_is_exit_2(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", cases=1)
    db = tmp_path / "x.db"
    proc = bakeoff("run", suite, "-c", "smollm2-135m?lora=/nonexistent.gguf", "--db", db)
    assert proc.returncode == 2, proc.stderr
    assert "no LoRA adapter file at /nonexistent.gguf" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_file_that_is_not_an_adapter_gives_error_trials(tmp_path, smollm2):
    suite = write_suite(tmp_path / "s.yaml", cases=2)
    db = tmp_path / "bad.db"
    # The base model's own GGUF: a real file, but general.type is "model", not "adapter".
    proc = bakeoff("run", suite, "-c", f"smollm2-135m?threads=1&lora={smollm2}", "--db", db)
    assert proc.returncode == 0, proc.stderr
    trials = trial_rows(db)
    assert len(trials) == 2
    for t in trials:
        assert t["status"] == "error"
        error = t["error"].lower()
        # Said at load time, as an adapter problem (not a worker crash on the first decode).
        assert "lora adapter" in error and ("could not" in error or "failed" in error), t["error"]
        assert "sigsegv" not in error and "killed" not in error, t["error"]
    (row,) = _contender_rows(db).values()
    assert row["error"] and "lora adapter" in row["error"].lower()
