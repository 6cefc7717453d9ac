"""Architecture twins (`bakeoff twin`, `twin:` contenders, `bakeoff fit --measure`) on tiny real
architectures: a few layers each, with the real layer patterns (Gemma 4's sliding and global
layers, per-layer embeddings, KV-sharing layers and double-wide MLPs; a Gemma 4 MoE with K=V
global layers), plus tiny Gemma 3, Qwen2 and Llama 3 layouts. Every twin is loaded by llama.cpp
itself (llama-cpp-python), which refuses a GGUF whose tensors or metadata differ from what its
loader expects, and its tensor types are compared with what llama.cpp's quantizer chooses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backend_calls import close, load
from backend_calls import events as generated
from gguf import GGUFReader

from conftest import bakeoff, report_json, wait_for

GEMMA4_LAYERS = ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention",
                 "full_attention", "sliding_attention", "sliding_attention", "full_attention"]
TINY = {
    # 8 layers, 3 of them reusing the caches of layers 3 (sliding) and 4 (global), as E2B/E4B do
    "gemma4-dense": {"model_type": "gemma4", "text_config": {
        "model_type": "gemma4_text", "num_hidden_layers": 8, "hidden_size": 256, "vocab_size": 1024,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "global_head_dim": 128,
        "sliding_window": 128, "layer_types": GEMMA4_LAYERS, "num_kv_shared_layers": 3,
        "intermediate_size": 512, "use_double_wide_mlp": True, "hidden_size_per_layer_input": 32,
        "tie_word_embeddings": True, "max_position_embeddings": 131072}},
    # 8 experts, 2 used, a shared FFN, K=V global layers with fewer KV heads: 26B-A4B's shape
    "gemma4-moe": {"model_type": "gemma4_text", "num_hidden_layers": 6, "hidden_size": 256, "vocab_size": 1024,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "num_global_key_value_heads": 1,
                   "head_dim": 64, "global_head_dim": 128, "sliding_window": 128,
                   "layer_types": GEMMA4_LAYERS[:5] + ["full_attention"], "attention_k_eq_v": True,
                   "intermediate_size": 256, "enable_moe_block": True, "num_experts": 8, "top_k_experts": 2,
                   "moe_intermediate_size": 128, "tie_word_embeddings": True, "max_position_embeddings": 262144},
    "gemma3": {"model_type": "gemma3_text", "num_hidden_layers": 6, "hidden_size": 128, "vocab_size": 1024,
               "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64, "sliding_window": 64,
               "intermediate_size": 256, "max_position_embeddings": 32768},
    # the real vocabulary sizes: the special tokens sit at their real ids, near the end
    "qwen2": {"model_type": "qwen2", "num_hidden_layers": 3, "hidden_size": 64, "vocab_size": 151936,
              "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
              "tie_word_embeddings": True, "max_position_embeddings": 32768},
    "llama": {"model_type": "llama", "num_hidden_layers": 3, "hidden_size": 256, "vocab_size": 128256,
              "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
              "tie_word_embeddings": False, "max_position_embeddings": 131072},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("twin-home")


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("configs")
    out = {}
    for name, cfg in TINY.items():
        out[name] = d / f"{name}.json"
        out[name].write_text(json.dumps(cfg))
    return out


def env(home: Path) -> dict[str, str]:
    return {"BAKEOFF_HOME": str(home)}


def twin(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return bakeoff("twin", *args, "--json", env=env(home), check=check, timeout=300)


LOAD = """
import sys, time, json, llama_cpp
t0 = time.perf_counter()
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=512, n_threads=1, use_mmap=False, verbose=False)
loaded = time.perf_counter() - t0
text = llm.create_completion("hello", max_tokens=4, temperature=0)["choices"][0]["text"]
print(json.dumps({"params": llama_cpp.llama_model_n_params(llm._model.model), "load_s": loaded,
                  "generated": text}))
"""


def load_in_llama_cpp(path: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", LOAD, path], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_twin_loads_in_llama_cpp_with_the_quantizers_types(home, configs, name):
    made = json.loads(twin(home, str(configs[name])).stdout)
    path = made["path"]
    assert made["quant"] == "Q4_K_M" and not made["cached"]
    loaded = load_in_llama_cpp(path)  # within the 30 s timeout: tiny twins load in about a second
    assert loaded["params"] == made["params"]  # llama.cpp's own count of what was written
    assert loaded["generated"]  # random weights write nonsense, but they write
    # the types are llama.cpp's quantizer's (dry run); bakeoff's port of its rules, used when
    # estimating a model not on disk, chooses the same ones for these layouts
    from bakeoff.estimate.source import load_model
    from bakeoff.estimate.weights import type_name

    written = {t.name: t.tensor_type.name for t in GGUFReader(path).tensors}
    estimated = {n: type_name(t) for n, _, t in load_model(str(configs[name]), "Q4_K_M").tensors}
    assert {n: written[n] for n in estimated} == estimated
    # quantized: K-quants where rows divide into 256-element blocks, llama.cpp's fallbacks (Q5_0, Q8_0)
    # where they do not (the tiny Qwen2's 64-wide rows)
    assert {"Q4_K", "Q6_K"} <= set(written.values()) if name != "qwen2" else {"Q5_0", "Q8_0"} <= set(written.values())
    # a second build is the cache's
    again = json.loads(twin(home, str(configs[name])).stdout)
    assert again["cached"] and again["path"] == path


def test_gemma4_tiny_moe_has_the_moe_tensors(home, configs):
    made = json.loads(twin(home, str(configs["gemma4-moe"])).stdout)
    names = {t.name for t in GGUFReader(made["path"]).tensors}
    assert {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_down_exps.weight", "blk.0.ffn_gate_inp.weight",
            "blk.0.pre_ffw_norm_2.weight"} <= names
    assert "blk.2.attn_v.weight" not in names and "blk.0.attn_v.weight" in names  # K=V on the global layer


def _thinking_backend(config: Path, setting: str):
    from bakeoff.backends import make_backend
    from bakeoff.spec import parse_spec

    spec = parse_spec(f"twin:{config}?thinking={setting}&threads=1&ctx=1024")
    return make_backend(spec, trial_timeout_s=120)


# Random weights write nonsense: a grammar forces the reply through Gemma 4's thought channel.
THOUGHT = r'root ::= "<|channel>thought\n" [a-z]{2,6} " " [a-z]{2,6} "<channel|>" "The answer is 4."'


def _events(backend, grammar: str | None = None) -> list[dict]:
    from bakeoff.backends.base import GenerationRequest

    req = GenerationRequest(messages=[{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "What is 2 + 2?"}],
                            max_tokens=96, grammar=grammar)
    return generated(backend, req)


def test_gemma4_template_and_thought_channel_on_a_tiny_twin(home, configs, monkeypatch):
    monkeypatch.setenv("BAKEOFF_HOME", str(home))
    on = _thinking_backend(configs["gemma4-dense"], "on")
    try:
        facts = load(on)
        assert facts["chat_format"] == "the GGUF's chat template"
        assert facts["thinking"]["mode"] == "native gemma4"
        assert facts["twin"]["quality"].startswith("not applicable")
        events = _events(on, THOUGHT)
    finally:
        close(on)
    prompt = next(e["text"] for e in events if e["type"] == "prompt")
    # Gemma 4's own template: <|think|> opens the system turn, turns are <|turn>role ... <turn|>
    assert prompt.startswith("<bos><|turn>system\n<|think|>") and "Be brief." in prompt
    assert "<|turn>user\nWhat is 2 + 2?<turn|>" in prompt and prompt.endswith("<|turn>model\n")
    reasoning = "".join(e["text"] for e in events if e["type"] == "reasoning")
    answer = "".join(e["text"] for e in events if e["type"] == "content")
    usage = next(e for e in events if e["type"] == "usage")
    assert answer == "The answer is 4."  # the channel markers and the thought are split off
    assert reasoning.strip() and "<|channel>" not in reasoning and "<channel|>" not in answer
    assert usage["reasoning_tokens"] > 0

    off = _thinking_backend(configs["gemma4-dense"], "off")
    try:
        load(off)
        events = _events(off, 'root ::= "The answer is 4."')
    finally:
        close(off)
    prompt = next(e["text"] for e in events if e["type"] == "prompt")
    assert "<|think|>" not in prompt and prompt.startswith("<bos><|turn>system\nBe brief.")
    assert "".join(e["text"] for e in events if e["type"] == "content") == "The answer is 4."
    assert not any(e["type"] == "reasoning" and e["text"] for e in events)


# Gemma 4's native call syntax, forced through a grammar (random weights choose nothing useful).
Q = '<|"|>'
CALL = '<|tool_call>call:get_weather{city:' + Q + 'Paris' + Q + ',days:2}<tool_call|>'
WEATHER_SUITE = """
cases:
  - id: weather
    prompt: Weather in Paris for two days?
    max_tokens: 64
    tools:
      - name: get_weather
        description: Current weather
        python: 'twin_tools:get_weather'
        parameters: {type: object, properties: {city: {type: string}, days: {type: integer}}, required: [city]}
    agent: {max_steps: 3}
    checks: [{tool_call: {name: get_weather, arguments: {city: Paris, days: 2}}}, {contains: clear}]
"""


def test_gemma4_native_tool_calls_round_trip_through_its_template(home, configs, tmp_path, monkeypatch):
    """An agent loop on a tiny Gemma 4 twin: the tools are declared in Gemma 4's own syntax, the
    model's <|tool_call>call:NAME{...}<tool_call|> is read as a call, the tool runs, and its result
    goes back as <|tool_response> in the same model turn (as Gemma 4's template writes it)."""
    import dataclasses

    from bakeoff.measure.timing import StreamMeasure
    from bakeoff.suite.loader import load_suite
    from bakeoff.run.agent_loop import AgentLoop

    monkeypatch.setenv("BAKEOFF_HOME", str(home))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "twin_tools.py").write_text("def get_weather(city, days=1):\n    return {'sky': 'clear', 'days': days}\n")
    (tmp_path / "suite.yaml").write_text(WEATHER_SUITE)
    case = load_suite(tmp_path / "suite.yaml").cases[0]
    backend = _thinking_backend(configs["gemma4-dense"], "off")
    grammars = [f'root ::= "{CALL.replace(chr(34), chr(92) + chr(34))}"', 'root ::= "It is clear, both days."']
    try:
        facts = load(backend)
        assert facts["tool_format"].startswith("Gemma 4's native tool-call syntax")
        from bakeoff.backends.base import GenerationRequest

        loop = AgentLoop(case, GenerationRequest(messages=case.messages, max_tokens=64, tools=case.tools))
        prompts = []
        while (req := loop.next_request()) is not None:
            measure = StreamMeasure()
            for event in generated(backend, dataclasses.replace(req, grammar=grammars[len(prompts)])):
                measure.feed(event)
            prompts.append(measure.prompt)
            loop.take(measure)
    finally:
        close(backend)
    first, second = prompts
    assert "<|tool>declaration:get_weather{description:" + Q + "Current weather" + Q in first
    assert loop.calls[0]["name"] == "get_weather" and loop.calls[0]["error"] is None
    assert loop.calls[0]["arguments"] == {"city": "Paris", "days": 2}
    assert loop.calls[0]["arguments_raw"] == "{city:" + Q + "Paris" + Q + ",days:2}"  # as the model wrote it
    # the call once (from tool_calls, not again from the content), then the result, in the model's turn
    assert second.count("<|tool_call>") == 1
    assert ("<|tool_response>response:get_weather{value:" + Q + '{"sky": "clear", "days": 2}' + Q
            + "}<tool_response|>") in second
    assert not second.endswith("<|turn>model\n")
    assert loop.answer == "It is clear, both days." and loop.summary()["valid_calls"] == 1
    cols = loop.trial_columns()
    assert cols["passed"] == 1, [r.detail for r in loop.results]


SUITE = """
cases:
  - id: sum
    prompt: "What is 2 + 2? Reply with the number."
    max_tokens: 8
    checks:
      - contains: "4"
  - id: capital
    prompt: "The capital of France?"
    max_tokens: 8
    checks:
      - contains: "Paris"
"""


def test_twin_contender_in_speed_and_run_reports_no_quality(home, configs, tmp_path):
    spec = f"twin:{configs['gemma4-moe']}?threads=1"
    speed = bakeoff("speed", spec, "-p", "32", "-n", "4", "-d", "0,64", "-r", "1", "--json",
                    "--no-store", env=env(home), check=True)
    rows = json.loads(speed.stdout)
    assert [(r["test"], r["depth"]) for r in rows] == [("pp32", 0), ("tg4", 0), ("pp32", 64), ("tg4", 64)]
    assert all(r["avg_tps"] > 0 and r["engine_memory"]["kv_mib"] > 0 for r in rows)

    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "twin.db"
    run = bakeoff("run", str(suite), "-c", spec, "-c", "smollm2-135m?threads=1", "--db", str(db),
                  "--fail-under", "0", env=env(home))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "random weights" in " ".join((run.stdout + run.stderr).split())  # the run's note on the twin
    data = report_json(db)
    row = next(c for c in data["contenders"] if c["spec"].startswith("twin:"))
    assert row["quality"].startswith("not applicable") and row["pass_rate"] is None
    assert row["decode_tps_median"] > 0 and row["peak_mem_mb"] > 0  # speed and memory stay
    for plot in data["pareto"]:
        assert all(not p["spec"].startswith("twin:") for p in plot["points"])
        assert any(m["spec"].startswith("twin:") and "random weights" in m["reason"] for m in plot["missing"])
    # a quality gate ignores the twin: --fail-under 0.99 fails only the real model
    gate = bakeoff("run", str(suite), "-c", spec, "-c", "smollm2-135m?threads=1", "--db", str(db),
                   "--fail-under", "0.99", env=env(home))
    assert gate.returncode == 1
    summary = (gate.stdout + gate.stderr).splitlines()
    assert any("shortfalls in 1 of 2 contenders" in line for line in summary)
    failing = [line.strip() for line in summary if line.startswith("  ") and not line.startswith("    ")]
    assert failing == ["llamacpp:smollm2-135m?threads=1"]
    table = bakeoff("report", "--db", str(db), env=env(home), check=True).stdout
    assert "n/a (twin)" in table


def test_fit_measure_puts_estimate_beside_the_twin(home, configs):
    proc = bakeoff("fit", str(configs["gemma4-dense"]), "--measure", "--ctx", "1024", "-p", "64", "-n", "4",
                   "-r", "1", "--threads", "1", "-H", "this-machine", "--json", env=env(home), check=True)
    m = json.loads(proc.stdout)["twin_measurement"]
    rows = {r["figure"]: r for r in m["memory"]}
    # llama.cpp's own allocation sizes, which its log gives to 0.01 MiB: the weights (the estimate lacks
    # only Gemma 4's 256-byte RoPE mask) and the KV cache (V padded, flash attention off)
    for figure in ("weights", "KV cache"):
        assert abs(rows[figure]["estimated_bytes"] - rows[figure]["measured_bytes"]) < 0.01 * 2**20
    peak = rows["peak memory after a 64-token prompt"]
    assert peak["measured_bytes"] > 0 and peak["estimated_bytes"] > 0
    assert m["speed"]["decode_tps"] > 0 and m["speed"]["prefill_tps"] > 0
    assert 0 < m["speed"]["efficiency"] and m["quality"].startswith("not applicable")
    text = bakeoff("fit", str(configs["gemma4-dense"]), "--measure", "--ctx", "1024", "-p", "64", "-n", "4",
                   "-r", "1", "--threads", "1", "-H", "this-machine", env=env(home), check=True).stdout
    assert "estimate vs the twin measured on this machine" in text and "efficiency" in text


def test_twin_of_a_gguf_at_another_quantization_keeps_its_tokenizer(home):
    made = json.loads(twin(home, "smollm2-135m", "--quant", "Q8_0").stdout)
    assert made["quant"] == "Q8_0" and made["tokenizer"].startswith("copied from")
    types = {t.tensor_type.name for t in GGUFReader(made["path"]).tensors}
    assert "Q8_0" in types and "Q4_K" not in types
    loaded = load_in_llama_cpp(made["path"])
    assert loaded["params"] == made["params"]


def test_vocab_file_gives_the_twin_a_real_tokenizer(home, qwen05, tmp_path):
    out = tmp_path / "qwen-twin.gguf"
    made = json.loads(twin(home, "qwen2.5-0.5b", "--vocab", str(qwen05), "--out", str(out)).stdout)
    assert made["path"] == str(out) and made["tokenizer"] == f"from {qwen05}"
    script = ("import sys, llama_cpp\n"
              "a = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)\n"
              "b = llama_cpp.Llama(model_path=sys.argv[2], vocab_only=True, verbose=False)\n"
              "text = b'def add(a, b):\\n    return a + b  # caf\\xc3\\xa9'\n"
              "print(a.tokenize(text) == b.tokenize(text), len(a.tokenize(text)))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(out), str(qwen05)], capture_output=True, text=True,
                          timeout=60, check=True)
    same, n = proc.stdout.split()
    assert same == "True" and int(n) < 20  # BPE merges at work, not one token per byte


@pytest.mark.parametrize("args, message", [
    (["no-such-model"], "unknown model 'no-such-model'"),
    (["gemma4-e2b", "--quant", "Q9_K"], "unknown quantization"),
])
def test_bad_input_is_exit_2(home, args, message):
    proc = twin(home, *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_architectures_llama_cpp_cannot_run_are_refused_before_writing(home, configs, tmp_path):
    mamba = tmp_path / "config.json"
    mamba.write_text(json.dumps({"model_type": "mamba", "num_hidden_layers": 4, "hidden_size": 64,
                                 "vocab_size": 1000, "num_attention_heads": 4}))
    proc = twin(home, str(mamba), check=False)
    assert proc.returncode == 2 and "'mamba'" in proc.stderr
    bad = json.loads(configs["gemma4-dense"].read_text())
    bad["text_config"]["layer_types"] = GEMMA4_LAYERS[:4] + ["sliding_attention"] + GEMMA4_LAYERS[5:]
    broken = tmp_path / "gemma4-bad-sharing.json"
    broken.write_text(json.dumps(bad))
    proc = twin(home, str(broken), check=False)
    assert proc.returncode == 2 and "llama.cpp cannot run this Gemma 4 layout" in proc.stderr
    assert not list((home / "twins").glob("gemma4-bad-sharing*"))
    assert not list((home / "twins").glob(".bakeoff-twin-*"))


def test_not_enough_disk_says_how_much_and_leaves_nothing(configs, tmp_path, monkeypatch):
    """A full disk cannot be made here without root: shutil.disk_usage is the stand-in, reporting
    1 MiB free to the real build, which must stop before writing the twin."""
    import shutil
    from collections import namedtuple

    from bakeoff.errors import InputError
    from bakeoff.twin import build_twin

    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    with pytest.raises(InputError, match=r"not enough disk for the twin: it needs .* GiB .* and 0.00 GiB is free"):
        build_twin(str(configs["qwen2"]))
    assert list((tmp_path / "home" / "twins").iterdir()) == []


def test_a_killed_build_leaves_nothing_half_written(tmp_path):
    home = tmp_path / "home"
    cmd = [sys.executable, "-m", "bakeoff", "twin", "qwen2.5-1.5b", "--quant", "Q8_0"]
    proc = subprocess.Popen(cmd, env={**os.environ, "BAKEOFF_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    twins = home / "twins"
    wait_for(lambda: any(twins.glob(".bakeoff-twin-*/twin.gguf.part")), timeout=120, what="the twin being written")
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(twins.glob("*.gguf"))  # no twin under its final name
    # the next build sweeps the dead build's work folder and finishes
    made = json.loads(bakeoff("twin", "qwen2.5-0.5b", "--json", env={"BAKEOFF_HOME": str(home)},
                              check=True).stdout)
    assert Path(made["path"]).is_file()
    assert not list(twins.glob(".bakeoff-twin-*"))
