"""`bakeoff fit` through the real CLI: the JSON contract, GGUF / config.json / catalog models,
hardware profiles, measured runs from a results database, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
import platform
import sqlite3

import pytest
from conftest import bakeoff

from bakeoff.estimate import fit
from bakeoff.estimate.hardware import GIB, usable_bytes
from bakeoff.estimate.source import (
    _arch_from_catalog,
    _estimated_tensors,
    catalog,
    load_model,
)
from bakeoff.estimate.weights import weigh
from bakeoff.models.packaged import file_sha256
from bakeoff.store import Database

CONTRACT_HW = {"name", "memory_bytes", "fits", "decode_tps_roofline"}


def fit_json(*args: str) -> dict:
    proc = bakeoff("fit", *args, "--json", check=True)
    return json.loads(proc.stdout)


def test_gemma4_moe_json_contract_and_roofline():
    inproc = ("--engine", "llama-cpp-python")
    moe = fit_json("gemma4-26b-a4b", "--ctx", "32768", "-H", "rtx-3060-12gb", "-H", "rtx-4090", "-H", "m4-max", *inproc)
    dense = fit_json("gemma4-31b", "--ctx", "32768", "-H", "rtx-3060-12gb", "-H", "rtx-4090", "-H", "m4-max", *inproc)
    for r in (moe, dense):
        assert {"weights_bytes", "kv_bytes", "total_bytes", "hardware"} <= set(r)
        assert r["total_bytes"] > r["weights_bytes"] + r["kv_bytes"] > 0
        assert r["label"] == "estimated" and r["kind"] == "catalog" and "transformers" in r["source"]
        for h in r["hardware"]:
            assert CONTRACT_HW <= set(h)
    # sensible numbers: ~15.6 GiB of Q4_K_M weights, 7.2 GiB of full-size-window KV at 32K (6.25 GiB on the
    # sliding layers, 0.94 on the global ones, whose V llama.cpp pads to the sliding layers' width)
    assert moe["weights_bytes"] / GIB == pytest.approx(15.6, abs=0.1)
    assert moe["kv_bytes"] / GIB == pytest.approx(7.1875, abs=0.01)
    by_name = {h["name"]: h for h in moe["hardware"]}
    dense_by_name = {h["name"]: h for h in dense["hardware"]}
    for name, h in by_name.items():
        assert h["decode_tps_roofline"] > 4 * dense_by_name[name]["decode_tps_roofline"]
    assert not by_name["NVIDIA GeForce RTX 3060 12 GB"]["fits"]
    assert by_name["Apple M4 Max (16-core CPU / 40-core GPU), 48 GB"]["fits"]
    # the sliding-window alternative (llama-server, Ollama) is shown beside it
    # (flash attention off: 300 MiB of sliding layers + 960 MiB of padded global layers; 940 MiB with it on)
    assert moe["kv_alternative"]["kv_bytes"] / 2**20 == 300 + 960


def test_smollm_from_the_gguf(smollm2):
    r = fit_json("smollm2-135m", "-H", "rtx-3060-12gb")
    assert r["kind"] == "gguf" and r["tensor_types"] == "read from the GGUF header"
    assert r["quant"] == "Q4_1"
    # llama.cpp logs "CPU model buffer size = 92.10 MiB" for this file
    assert r["weights_bytes"] == 96_576_768
    # 30 layers × 4096 cells × 3 KV heads × (64 + 64) × 2 B
    assert r["kv_bytes"] == 30 * 4096 * 3 * 128 * 2
    assert r["hardware"][0]["fits"] is True


def test_human_output_shows_the_working(smollm2):
    proc = bakeoff("fit", "smollm2-135m", "--ctx", "2048", "-H", "rtx-4090", check=True)
    text = proc.stdout
    for piece in ("Q4_1", "30 global layers × 2,048 cells × 3 KV heads × (64 + 64) × 2 B = 45.0 MiB",
                  "155 B ×", "estimated", "RTX 4090", "tok/s"):
        assert piece in text, piece


def test_catalog_quantizer_rules_reproduce_the_packaged_gemma3_file(gemma3):
    # the catalog entry + llama.cpp's quantizer rules give the real Q4_K_M file's tensors exactly
    real = {name: (dims, t) for name, dims, t in load_model("gemma3-270m").tensors}
    est, _ = _estimated_tensors(_arch_from_catalog(catalog()["gemma3-270m"]), "Q4_K_M")
    assert {name: (dims, t) for name, dims, t in est} == real


def test_config_json_matches_catalog(tmp_path):
    text_config = {
        "model_type": "gemma4_text", "num_hidden_layers": 30, "hidden_size": 2816, "vocab_size": 262144,
        "num_attention_heads": 16, "num_key_value_heads": 8, "num_global_key_value_heads": 2,
        "head_dim": 256, "global_head_dim": 512, "sliding_window": 1024, "attention_k_eq_v": True,
        "intermediate_size": 2112, "enable_moe_block": True, "num_experts": 128, "top_k_experts": 8,
        "moe_intermediate_size": 704, "num_kv_shared_layers": 0, "max_position_embeddings": 262144,
        "layer_types": ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(30)],
        "tie_word_embeddings": True,
    }
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "gemma4", "text_config": text_config}))
    from_cfg = fit_json(str(cfg), "--ctx", "32768", "-H", "rtx-4090", "--engine", "llama-cpp-python")
    from_cat = fit("gemma4-26b-a4b", ctx=32768, hardware=["rtx-4090"], engine="llama-cpp-python")
    assert from_cfg["kind"] == "hf-config"
    for key in ("weights_bytes", "kv_bytes"):
        assert from_cfg[key] == from_cat[key]
    assert from_cfg["hardware"][0]["decode_tps_roofline"] == pytest.approx(
        from_cat["hardware"][0]["decode_tps_roofline"])

    qwen = tmp_path / "qwen" / "config.json"
    qwen.parent.mkdir()
    qwen.write_text(json.dumps({"model_type": "qwen2", "num_hidden_layers": 24, "hidden_size": 896,
                                "vocab_size": 151936, "num_attention_heads": 14, "num_key_value_heads": 2,
                                "intermediate_size": 4864, "tie_word_embeddings": True,
                                "sliding_window": 32768, "use_sliding_window": False,
                                "max_position_embeddings": 32768}))
    q = fit_json(str(qwen), "--quant", "Q8_0", "-H", "rtx-4090")
    assert q["weights_bytes"] == weigh(load_model("qwen2.5-0.5b", "Q8_0").tensors).total
    assert q["kv_bytes"] == 24 * 4096 * 2 * (64 + 64) * 2  # no sliding window in llama.cpp's qwen2


def test_hardware_profiles_user_file_and_given(tmp_path, monkeypatch):
    (tmp_path / "bakeoff").mkdir()
    (tmp_path / "bakeoff" / "hardware.yaml").write_text(
        "my-box:\n  name: My box\n  kind: gpu\n  memory_gib: 16\n  bandwidth_gbs: 448\n  source: my spec sheet\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    r = fit("gemma4-e4b", ctx=8192, hardware=["my-box"], memory_gb=8, bandwidth_gbs=100, kind="unified", engine="llama-cpp-python")
    mine, given = r["hardware"]
    assert mine["name"] == "My box" and mine["memory_bytes"] == 16 * GIB and mine["source"] == "my spec sheet"
    assert given["bandwidth_label"] == "given" and given["kind"] == "unified"
    assert given["decode_tps_roofline"] == pytest.approx(100e9 / r["roofline"]["bytes_per_token"])
    assert mine["fits"] == (mine["total_bytes"] <= 16 * GIB - GIB // 2)
    extra = tmp_path / "extra.yaml"
    extra.write_text("tiny:\n  kind: cpu\n  memory_gib: 1\n  bandwidth_gbs: 10\n")
    r = fit("gemma4-e4b", hardware=["tiny"], hardware_file=extra, engine="llama-cpp-python")
    assert r["hardware"][0]["fits"] is False


def test_usable_memory_rules():
    assert usable_bytes("gpu", 12 * GIB) == 11.5 * GIB
    assert usable_bytes("unified", 16 * GIB) == pytest.approx(16 * GIB * 2 / 3, abs=1)
    assert usable_bytes("unified", 64 * GIB) == 48 * GIB
    assert usable_bytes("cpu", 32 * GIB) == pytest.approx(0.85 * 32 * GIB, abs=1)
    assert usable_bytes("gpu", 12 * GIB, 0.5) == 6 * GIB


def test_this_machine_is_detected_and_measured():
    r = fit_json("smollm2-135m", "-H", "this-machine")
    here = r["hardware"][0]
    assert here["memory_label"] == "detected" and here["bandwidth_label"] == "measured"
    assert 0.5 < here["bandwidth_gbs"] < 2000 and here["memory_bytes"] > GIB
    assert "numpy" in here["source"]


def _db_with_runs(path, model_path, host):
    Database(path).close()  # the real schema, all migrations
    conn = sqlite3.connect(path)
    env = json.dumps({"host": host, "hardware": {}})
    conn.execute("INSERT INTO runs (id, started_at, status, environment) VALUES ('r1', '2026-01-01', 'completed', ?)",
                 (env,))
    spec = "llamacpp:smollm2-135m?ctx=2048"
    conn.execute("INSERT INTO contenders (run_id, spec, backend, model, options, model_path, model_sha256, facts) "
                 "VALUES ('r1', ?, 'llamacpp', 'smollm2-135m', ?, ?, NULL, ?)",
                 (spec, json.dumps({"ctx": 2048}), str(model_path), json.dumps({"n_ctx": 2048, "threads": 2})))
    for i, (tps, mem) in enumerate([(90.0, 188.0), (100.0, 190.0), (110.0, 189.0), (None, None)]):
        conn.execute("INSERT INTO trials (id, run_id, spec, case_id, repeat, sweep, case_json, status, "
                     "decode_tps, peak_mem_mb, prompt_tokens, output_tokens, started_at, finished_at) "
                     "VALUES (?, 'r1', ?, 'c', ?, '{}', '{}', ?, ?, ?, 30, 40, 't', 't')",
                     (f"t{i}", spec, i, "ok" if tps else "error", tps, mem))
    # a `bakeoff speed` result: tg32 at depth 0, with llama.cpp's own KV and compute sizes
    # (matched by the file's sha256: the speed spec names no options)
    conn.execute("INSERT INTO speed_results (run_id, spec, test, n_prompt, n_gen, depth, ctx, threads, reps, avg_tps, "
                 "samples_tps, samples_ns, peak_mem_mb, engine_memory, model_sha256, created_at) "
                 "VALUES ('r1', 'llamacpp:smollm2-135m', 'tg32', 0, 32, 0, 256, 2, 5, 80.0, '[]', '[]', 148.0, ?, ?, 't')",
                 (json.dumps({"kv_mib": 5.62, "compute_mib": 49.13, "swa_full": False}), file_sha256(model_path)))
    conn.commit()
    conn.close()


def test_measured_runs_give_an_efficiency(tmp_path, smollm2):
    db = tmp_path / "bakeoff.db"
    _db_with_runs(db, smollm2, platform.node())
    r = fit_json("smollm2-135m", "--db", str(db), "-H", "rtx-4090")
    speed, m = r["measured"]
    # speed: efficiency against the roofline at depth 16 (half of the 32 generated tokens)
    assert speed["source"] == "bakeoff speed tg32 at depth 0" and speed["decode_tps_median"] == 80.0
    assert speed["roofline_depth"] == 16 and speed["efficiency"] == pytest.approx(80.0 / speed["roofline_this_machine_tps"])
    e = speed["engine_reported"]
    assert e["estimated_kv_mib"] == pytest.approx(e["kv_mib"], abs=0.01)  # 30 × 256 × 3 × 128 × 2 B
    assert e["estimated_compute_reserved_mib"] == pytest.approx(e["compute_mib"], rel=0.05)
    assert abs(speed["peak_error_pct"]) < 10
    assert m["trials"] == 3 and m["decode_tps_median"] == 100.0 and m["peak_mem_mib_max"] == 190.0
    assert m["ctx"] == 2048 and m["this_host"] is True
    assert m["efficiency"] == pytest.approx(100.0 / m["roofline_this_machine_tps"])
    assert abs(m["peak_error_pct"]) < 10  # estimate for a 30-token prompt at n_ctx 2048
    # the default database is ./bakeoff.db when it exists; the human output shows the table
    proc = bakeoff("fit", "smollm2-135m", "-H", "rtx-4090", cwd=tmp_path, check=True)
    assert "efficiency" in proc.stdout and "measured" in proc.stdout


def test_runs_on_another_host_show_no_efficiency(tmp_path, smollm2):
    db = tmp_path / "other.db"
    _db_with_runs(db, smollm2, "some-other-host")
    for m in fit("smollm2-135m", db=db, hardware=["rtx-4090"], engine="llama-cpp-python")["measured"]:
        assert m["this_host"] is False and "efficiency" not in m


@pytest.mark.parametrize("args, message", [
    (["no-such-model"], "unknown model 'no-such-model'"),
    (["/nonexistent/model.gguf"], "does not exist"),
    (["{junk}"], "not a readable GGUF file"),
    (["{dir}"], "is not a file"),
    (["{badjson}"], "not a readable config.json"),
    (["{emptycfg}"], "not a model config.json"),
    (["gemma4-e2b", "--ctx", "lots"], "--ctx must be a whole number"),
    (["gemma4-e2b", "--ctx", "0"], "--ctx must be between"),
    (["gemma4-e2b", "--ctx", "-5"], "--ctx must be between"),
    (["gemma4-e2b", "--quant", "Q9_Z"], "unknown quantization"),
    (["gemma4-e2b", "--kv-type", "q3"], "unknown KV cache type"),
    (["gemma4-e2b", "-H", "mars"], "unknown hardware profile 'mars'"),
    (["gemma4-e2b", "--memory-gb", "8"], "go together"),
    (["gemma4-e2b", "--memory-gb", "-8", "--bandwidth-gbs", "100"], "must be positive"),
    (["gemma4-e2b", "--hardware-file", "{badyaml}"], "hardware profile 'x'"),
    (["smollm2-135m", "--db", "{junk}"], "not a readable bakeoff results database"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, message, smollm2):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    (tmp_path / "adir.gguf").mkdir()
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "config.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "hw.yaml").write_text("x:\n  memory_gib: lots\n  bandwidth_gbs: 1\n")
    subs = {"{junk}": str(junk), "{dir}": str(tmp_path / "adir.gguf"), "{badjson}": str(tmp_path / "bad.json"),
            "{emptycfg}": str(tmp_path / "config.json"), "{badyaml}": str(tmp_path / "hw.yaml")}
    args = [subs.get(a, a) for a in args]
    proc = bakeoff("fit", *args, "-H", "rtx-4090") if "-H" not in args else bakeoff("fit", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
