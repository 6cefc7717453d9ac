"""Prefix caches on servers that cannot run here (llama.cpp's llama-server, vLLM, Ollama, OpenAI,
Anthropic), through the real CLI against protocol stand-ins (tests/standins/) that reuse a cached
prefix as each server does and report it in that server's documented field: llama-server's
``timings.cache_n`` beside ``prompt_n`` (its per-request switch: ``cache_prompt``), vLLM's
``usage.prompt_tokens_details.cached_tokens`` (its cache partitioned by ``cache_salt``), Ollama's
``prompt_eval_count`` (only the tokens it evaluated), OpenAI's ``cached_tokens`` (automatic, from
1,024 tokens), Anthropic's ``cache_read_input_tokens``. The real server is tested in
tests/run/test_prefix_cache.py (llama-cpp-python's).
"""

from __future__ import annotations

import json

from conftest import bakeoff, report_json, said, trial_rows, turn_rows
from standins.anthropic_api import AnthropicState
from standins.anthropic_api import make_app as anthropic_app
from standins.base import StandInServer, StandInState
from standins.ollama_api import make_app as ollama_app
from standins.openai_api import make_app as openai_app

from bakeoff.measure.cache import Ledger, classify

SYSTEM = " ".join(f"rule{i}" for i in range(300))  # a long shared system prompt (300 stand-in tokens)


def _suite(path, repeat_cases: int = 2, conversation: bool = False):
    lines = ["defaults: {max_tokens: 8, temperature: 0}", "cases:"]
    for i in range(repeat_cases):
        lines += [f"  - id: q{i}", f"    system: {SYSTEM}", f"    prompt: 'Question {i}: what is {i} + {i}?'"]
    if conversation:
        lines += ["  - id: chat", f"    system: {SYSTEM}", "    turns:",
                  "      - Name a colour.", "      - Name another.", "      - And a third."]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(tmp_path, spec: str, suite, *extra: str, env=None, cwd=None) -> tuple:
    db = tmp_path / "c.db"
    proc = bakeoff("run", suite, "-c", spec, "--db", db, *extra, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db)
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    return db, rows, proc


def test_llama_server_is_asked_cache_prompt_false_and_reports_cache_n(tmp_path):
    """Stand-in for llama.cpp's llama-server (no llama-server binary here): it lists its models as
    owned by "llamacpp", reuses its slot's prefix unless a request says ``cache_prompt: false``, and
    puts ``timings`` with ``cache_n`` in the last chunk, as llama-server does."""
    state = StandInState(prefix_cache=True)
    with StandInServer(openai_app(state, ["qwen"], server="llama-server"), state) as server:
        spec = f"openai-compat:{server.url}/v1#qwen"
        db, rows, _ = _run(tmp_path, spec, _suite(tmp_path / "s.yaml", conversation=True), "--repeat", "2")
        bodies = [r.body for r in server.posted("/chat/completions")]
    singles = [r for r in rows if r["case_id"] != "chat"]
    assert len(singles) == 4
    for r in singles:  # asked cold: the server reports 0 cached tokens, and says so beside prompt_n
        assert r["cached_tokens"] == 0 and r["cache_cold"] == 1 and r["cache_control"] == "cache_prompt=false"
        assert r["cache_label"].startswith(f"cold: 0 of {r['engine_prompt_n']} prompt tokens cached")
    # Every single-turn request and every conversation's first turn carried cache_prompt: false;
    # later turns of a conversation cache_prompt: true (warm on purpose).
    first_turns = [b for b in bodies if b["messages"][-1]["content"] in ("Name a colour.",) or "Question" in
                   b["messages"][-1]["content"]]
    assert first_turns and all(b["cache_prompt"] is False for b in first_turns)
    later = [b for b in bodies if b["messages"][-1]["content"] in ("Name another.", "And a third.")]
    assert len(later) == 4 and all(b["cache_prompt"] is True for b in later)
    turns = [t for t in turn_rows(db)]
    warm = [t for t in turns if t["turn"] > 1]
    assert all(t["cache_warm"] == 1 and t["cached_tokens"] > 300 for t in warm)
    assert all(t["cache_label"].startswith("warm: ") for t in warm)
    data = report_json(db)
    labels = {(t["case_id"], t["repeat"]): t["label"] for t in data["cache"]["trials"]}
    assert labels[("q0", 1)].startswith("cold: 0 of")


def test_vllm_gets_a_fresh_cache_salt_per_trial_and_cached_tokens_are_stored(tmp_path):
    """Stand-in for vLLM (no vLLM here: its CPU build needs PyTorch's own index): models owned by
    "vllm"; automatic prefix caching in 16-token blocks, partitioned by the request's
    ``cache_salt``; ``usage.prompt_tokens_details.cached_tokens`` as with
    --enable-prompt-tokens-details. The stand-in records each request's salt (vLLM does not echo it)."""
    state = StandInState(prefix_cache=True)
    with StandInServer(openai_app(state, ["gemma"], server="vllm"), state) as server:
        spec = f"openai-compat:{server.url}/v1#gemma"
        db, rows, _ = _run(tmp_path, spec, _suite(tmp_path / "s.yaml", conversation=True), "--repeat", "2")
        bodies = [r.body for r in server.posted("/chat/completions")]
    singles = [b for b in bodies if "Question" in b["messages"][-1]["content"]]
    assert len(singles) == 4 and len({b["cache_salt"] for b in singles}) == 4  # one salt per trial
    for r in rows:
        if r["case_id"] != "chat":
            assert r["cached_tokens"] == 0 and r["cache_cold"] == 1
            assert r["cache_source"] == "server usage.prompt_tokens_details.cached_tokens"
    chats = [b for b in bodies if "Question" not in b["messages"][-1]["content"]]
    by_salt: dict[str, int] = {}
    for b in chats:
        by_salt[b["cache_salt"]] = by_salt.get(b["cache_salt"], 0) + 1
    assert sorted(by_salt.values()) == [3, 3]  # each conversation's turns share their own salt
    warm = [t for t in turn_rows(db) if t["turn"] > 1]
    assert len(warm) == 4 and all(t["cached_tokens"] >= 288 and t["cache_warm"] == 1 for t in warm)  # whole blocks


def test_an_agent_loops_later_steps_are_warm_and_stay_out_of_the_cold_median(tmp_path):
    """Stand-in for llama.cpp's llama-server, as above, scripted to call a tool and then answer. An
    agent loop resends its own earlier steps: the first step is asked cold (``cache_prompt:
    false``), the next may reuse it (``cache_prompt: true``); the trial's TTFT is the last step's,
    so the trial is labelled warm with the cached count the server reported, and the cold median is
    the single-turn trials' alone."""
    (tmp_path / "loop_tools.py").write_text("def get_weather(city):\n    return {'city': city, 'sky': 'clear'}\n")
    suite = _suite(tmp_path / "s.yaml", repeat_cases=1)
    suite.write_text(suite.read_text() + f"""  - id: loop
    system: {SYSTEM}
    prompt: Weather in Paris?
    tools:
      - name: get_weather
        python: 'loop_tools:get_weather'
        parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
    agent: {{max_steps: 3}}
    checks: [{{contains: clear}}]
""")
    state = StandInState(prefix_cache=True)
    state.scripted.extend([{"content": "Zero."},
                           {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]},
                           {"content": "It is clear in Paris."}])
    with StandInServer(openai_app(state, ["qwen"], server="llama-server"), state) as server:
        db, rows, _ = _run(tmp_path, f"openai-compat:{server.url}/v1#qwen", suite, cwd=tmp_path)
        bodies = [r.body for r in server.posted("/chat/completions")]
    steps = [b for b in bodies if b["messages"][-1].get("role") == "tool" or "Paris" in b["messages"][-1]["content"]]
    assert [b["cache_prompt"] for b in steps] == [False, True]
    loop = next(r for r in rows if r["case_id"] == "loop")
    single = next(r for r in rows if r["case_id"] == "q0")
    assert loop["passed"] == 1 and loop["cache_warm"] == 1 and loop["cache_cold"] == 0
    assert loop["cached_tokens"] > 300 and loop["cache_label"].startswith(f"warm: {loop['cached_tokens']} of ")
    data = report_json(db)
    assert data["contenders"][0]["ttft_ms_median"] == single["ttft_ms"]
    labels = {t["case_id"]: t["kind"] for t in data["cache"]["trials"]}
    assert labels == {"q0": "cold", "loop": "warm"}


def test_ollama_cache_hits_are_read_from_prompt_eval_count_and_cache_bust_makes_prompts_unique(tmp_path):
    """Stand-in for Ollama (no Ollama binary here): one slot that keeps the previous prompt;
    ``prompt_eval_count`` counts only the tokens it evaluated, as Ollama's does. Ollama has no
    per-request switch, so the run says so once, and a repeat is found from the drop in
    ``prompt_eval_count``; ``cache=bust`` starts each prompt with a unique marker instead."""
    state = StandInState(prefix_cache=True, reply="Four.")
    with StandInServer(ollama_app(state, load_s=0.0), state) as server:
        suite = _suite(tmp_path / "s.yaml", repeat_cases=1)
        db, rows, proc = _run(tmp_path, f"ollama:gemma4:e4b?base_url={server.url}", suite, "--repeat", "3")
        assert said(proc).count("takes no per-request switch") == 1
        first, *repeats = sorted(rows, key=lambda r: r["repeat"])
        assert first["cache_cold"] == 1 and first["cache_label"].startswith("cache: not reported; no earlier")
        for r in repeats:
            assert r["cache_cold"] == 0 and r["cached_tokens"] > 300
            assert r["cache_label"].startswith(f"prefix-cached: {r['cached_tokens']} of ")
        c = report_json(db)["contenders"][0]
        assert c["ttft_ms_median"] == first["ttft_ms"] and c["cache"]["cached"] == 2

        db2 = tmp_path / "bust.db"
        proc = bakeoff("run", suite, "-c", f"ollama:gemma4:e4b?base_url={server.url}&cache=bust", "--db", db2,
                       "--repeat", "3")
        assert proc.returncode == 0, proc.stderr
        busted = trial_rows(db2)
        sent = [r.body for r in server.posted("/api/chat") if r.body.get("messages")][-3:]
    markers = {b["messages"][0]["content"].split("]")[0] for b in sent}
    assert len(markers) == 3 and all(m.startswith("[cache-bust ") for m in markers)
    for r in busted:
        assert r["cache_cold"] == 1 and r["cache_bust"].startswith("[cache-bust ")
        assert json.loads(r["request"])["messages"][0]["content"].startswith(r["cache_bust"])
        assert (r["cached_tokens"] or 0) == 0


def test_openai_reports_cached_tokens_and_anthropic_cache_reads(tmp_path):
    """Stand-ins for OpenAI's API (automatic caching of prompts from 1,024 tokens, reported as
    ``usage.prompt_tokens_details.cached_tokens``) and Anthropic's (caches only blocks marked
    ``cache_control``, which bakeoff never sends; ``usage.cache_read_input_tokens``)."""
    long_system = " ".join(f"policy{i}" for i in range(1200))
    suite = tmp_path / "s.yaml"
    suite.write_text(f"defaults: {{max_tokens: 8}}\ncases:\n  - id: a\n    system: {long_system}\n    prompt: Hi.\n"
                     f"  - id: b\n    system: {long_system}\n    prompt: Bye.\n")
    state = StandInState(prefix_cache=True, expected_key="sk-test")
    with StandInServer(openai_app(state, ["gpt-4o-mini"]), state) as server:
        db, rows, proc = _run(tmp_path, f"openai:gpt-4o-mini?base_url={server.url}/v1", suite,
                              env={"OPENAI_API_KEY": "sk-test", "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
        bodies = [r.body for r in server.posted("/chat/completions")]
    assert "takes no per-request switch" in said(proc)
    assert all("cache_prompt" not in b and "cache_salt" not in b for b in bodies)  # OpenAI takes neither
    a, b = sorted(rows, key=lambda r: r["case_id"])
    assert a["cached_tokens"] == 0 and a["cache_cold"] == 1
    assert b["cached_tokens"] == 1152 and b["cache_cold"] == 0  # 1,200 shared tokens, in steps of 128
    assert b["cache_label"].startswith("prefix-cached: 1152 of ")
    data = report_json(db)
    assert data["contenders"][0]["ttft_ms_median"] == a["ttft_ms"]

    state = AnthropicState(expected_key="sk-ant-test")
    with StandInServer(anthropic_app(state), state) as server:
        db3 = tmp_path / "a.db"
        proc = bakeoff("run", suite, "-c", f"anthropic:claude-sonnet-4-5?base_url={server.url}", "--db", db3,
                       env={"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": "",
                            "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
        assert proc.returncode == 0, proc.stderr
        bodies = [r.body for r in server.posted("/messages")]
    assert bodies and "cache_control" not in json.dumps(bodies)
    for r in trial_rows(db3):
        assert r["cached_tokens"] == 0 and r["cache_cold"] == 1
        assert r["cache_source"] == "server usage.cache_read_input_tokens"


def test_labels_for_what_a_server_does_not_say():
    """No stand-in: the labelling rules on their own."""
    ledger = Ledger()
    first = classify(None, None, "<system>" + "x" * 1000 + "<user>a", ledger)
    assert first.cold and first.label.startswith("cache: not reported; no earlier request")
    again = classify(None, None, "<system>" + "x" * 1000 + "<user>b", ledger)
    assert not again.cold and "may be prefix-cached" in again.label
    busted = classify(None, None, "<system>[cache-bust 1]" + "x" * 1000, ledger, bust=True)
    assert busted.cold and "cache-busting prefix" in busted.label
    told = classify({"control": "cache_salt fresh per trial"}, 10, "<system>" + "x" * 1000 + "<user>a", ledger)
    assert told.cold and "asked not to reuse" in told.label
    # Ollama: only what it evaluated. A prompt first sent when its prefix was already cached gives
    # a lower bound on a later repeat's cached tokens, not a count of its prompt.
    ollama = Ledger()
    event = {"source": "ollama prompt_eval_count"}
    assert classify({**event, "evaluated_tokens": 300}, 300, "<s>" + "y" * 500 + "a", ollama).cold
    assert not classify({**event, "evaluated_tokens": 20}, 20, "<s>" + "y" * 500 + "b", ollama).cold
    lower = classify({**event, "evaluated_tokens": 1}, 1, "<s>" + "y" * 500 + "b", ollama)
    assert lower.cached_tokens == 19 and lower.label.startswith("prefix-cached: at least 19 prompt tokens")
    exact = classify({**event, "evaluated_tokens": 1}, 1, "<s>" + "y" * 500 + "a", ollama)
    assert exact.label.startswith("prefix-cached: 299 of 300 prompt tokens")
    again = classify({**event, "evaluated_tokens": 300}, 300, "<s>" + "y" * 500 + "a", ollama)
    assert again.cold and again.cached_tokens == 0
    warm = classify({"cached_tokens": 90, "source": "s"}, 100, "t", None, warm=True)
    assert warm.warm and not warm.cold and warm.label == "warm: 90 of 100 prompt tokens cached (s)"
