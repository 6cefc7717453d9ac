"""No cache answers a timed trial: against llama-cpp-python's real OpenAI-compatible server (which
reuses the longest prefix it shares with the previous request and has no per-request switch) and
the in-process llama.cpp backend, through the real CLI, with a packaged model.

Cold by default on that server means: every trial is either measured cold, or labelled as one
that may have been answered from the cache and left out of the cold medians; ``cache=bust``
makes every prompt unique so that every trial is measured cold. A conversation is warm on
purpose: its later turns reuse its own earlier turns, and with ``cold_turns=true`` each later
turn's prompt is asked again cold, so the report shows both.
"""

from __future__ import annotations

import pytest
from conftest import bakeoff, report_json, said, trial_rows, turn_rows

SYSTEM = "The quick brown fox jumps over the lazy dog. " * 100  # about 1,000 tokens
SMOL = "smollm2-135m?threads=1&ctx=2048"


def _shared_prompt_suite(path):
    path.write_text("defaults: {max_tokens: 4, temperature: 0}\ncases:\n"
                    f"  - id: a\n    system: '{SYSTEM}'\n    prompt: 'What animal jumps?'\n"
                    f"  - id: b\n    system: '{SYSTEM}'\n    prompt: 'What animal is lazy?'\n")
    return path


def _by_case(rows) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: (r["case_id"], r["repeat"])):
        out.setdefault(r["case_id"], []).append(r)
    return out


def _cold_or_labelled(rows) -> None:
    """Every trial either measured cold or labelled as cached and left out of the cold median.

    Measured cold means no cache made it faster: its TTFT is at least 75% of its case's first
    repeat (a cached prefix answers in a few percent of it). Slower than the first repeat is what
    a busy machine does, not a cache: this shared 2-core machine has put a cold repeat 29% above
    the first (7.4 s vs 5.7 s), so the upper side is held at twice the first."""
    for case, trials in _by_case(rows).items():
        first = trials[0]
        for r in trials:
            if r["cache_cold"] == 1:
                assert first["cache_cold"] == 1, (case, first["cache_label"])
                assert 0.75 * first["ttft_ms"] <= r["ttft_ms"] <= 2 * first["ttft_ms"], \
                    (case, r["repeat"], r["ttft_ms"], first["ttft_ms"])
            else:
                assert "may be prefix-cached" in r["cache_label"] or r["cache_label"].startswith("prefix-cached")


def test_repeats_and_a_shared_system_prompt_on_llama_cpp_python_server(tmp_path, server):
    suite = _shared_prompt_suite(tmp_path / "s.yaml")
    db = tmp_path / "default.db"
    proc = bakeoff("run", suite, "-c", f"openai-compat:{server}#smollm2", "--db", db, "--repeat", "3")
    assert proc.returncode == 0, proc.stderr
    assert said(proc).count("takes no per-request switch") == 1  # said once per run
    rows = trial_rows(db)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    _cold_or_labelled(rows)
    cases = _by_case(rows)
    a0 = cases["a"][0]
    # The first trial is the only one whose prefix the server had never seen: it alone is cold.
    assert a0["cache_cold"] == 1 and a0["cache_label"].startswith("cache: not reported; no earlier request")
    flagged = [r for r in rows if r["cache_cold"] == 0]
    assert len(flagged) == 5
    # They were indeed answered from the server's cache: far faster than the cold one.
    assert max(r["ttft_ms"] for r in flagged) < 0.5 * a0["ttft_ms"]
    data = report_json(db)
    c = data["contenders"][0]
    assert c["ttft_ms_median"] == pytest.approx(a0["ttft_ms"])  # the reported median is a cold one
    assert c["cache"]["cold"] == 1 and c["cache"]["possibly cached"] == 5
    labels = {(t["case_id"], t["repeat"]): t["label"] for t in data["cache"]["trials"]}
    assert len(labels) == 6 and "may be prefix-cached" in labels[("b", 0)]
    text = said(bakeoff("report", "--db", db, check=True))
    assert "prompt cache" in text and "may be prefix-cached" in text

    # cache=bust: a unique marker starts every prompt, so every trial is measured cold.
    db2 = tmp_path / "bust.db"
    proc = bakeoff("run", suite, "-c", f"openai-compat:{server}#smollm2?cache=bust", "--db", db2, "--repeat", "2")
    assert proc.returncode == 0, proc.stderr
    rows = trial_rows(db2)
    assert all(r["cache_cold"] == 1 and r["cache_bust"] for r in rows), [r["cache_label"] for r in rows]
    _cold_or_labelled(rows)
    median = report_json(db2)["contenders"][0]["ttft_ms_median"]
    assert median > 0.5 * a0["ttft_ms"]  # a cold figure, not a cached one


def _conversation_suite(path, turns: int = 10):
    lines = ["defaults: {max_tokens: 6, temperature: 0}", "cases:", "  - id: chat",
             f"    system: '{SYSTEM[: len(SYSTEM) // 4]}'", "    turns:"]
    lines += [f"      - 'Give me word number {i}.'" for i in range(1, turns + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _warm_below_cold(db, turns: int = 10, conversations: int = 1) -> list:
    """Per turn after the first: warm, and its TTFT below the cold TTFT of the same prompt; both
    in report --json and in the terminal report."""
    rows = turn_rows(db)
    assert len(rows) == turns * conversations
    for t in rows:
        if t["turn"] == 1:
            assert t["cache_warm"] == 0 and t["cache_cold"] == 1  # the first turn is cold
            continue
        assert t["cache_warm"] == 1 and t["cache_label"].startswith("warm")
        assert t["cold_ttft_ms"] is not None and t["ttft_ms"] < t["cold_ttft_ms"], \
            (t["turn"], t["ttft_ms"], t["cold_ttft_ms"])
    data = report_json(db)
    shown = [u for u in data["cache"]["turns"] if u["warm"]]
    assert len(shown) == (turns - 1) * conversations and all(u["cold_ttft_ms"] and u["ttft_ms"] for u in shown)
    c = data["contenders"][0]["cache"]
    assert c["warm_ttft_ms_median"] < c["cold_replay_ttft_ms_median"]
    text = said(bakeoff("report", "--db", db, check=True))
    assert "warm TTFT beside the same prompt asked cold" in text
    return rows


def test_a_ten_turn_conversation_is_warm_in_process(tmp_path):
    suite = _conversation_suite(tmp_path / "c.yaml")
    db = tmp_path / "c.db"
    bakeoff("run", suite, "-c", f"{SMOL}&cold_turns=true", "--db", db, "--repeat", "2", check=True)
    rows = _warm_below_cold(db, conversations=2)
    # Each conversation starts from an empty cache: the second's first turn reuses nothing of the first.
    firsts = [t for t in rows if t["turn"] == 1]
    assert len(firsts) == 2 and all(t["cached_tokens"] == 0 for t in firsts)
    # Later turns: the engine's own count of reused tokens covers the long system prompt.
    assert all(t["cached_tokens"] > 200 for t in rows if t["turn"] > 1)


def test_a_ten_turn_conversation_is_warm_on_the_server(tmp_path, server):
    suite = _conversation_suite(tmp_path / "c.yaml")
    db = tmp_path / "c.db"
    bakeoff("run", suite, "-c", f"openai-compat:{server}#smollm2?cold_turns=true", "--db", db, check=True)
    _warm_below_cold(db)
    cold = [t for t in turn_rows(db) if t["turn"] > 1]
    # The server cannot be told not to reuse: each cold replay was made unique by a marker.
    assert all("cache-busting prefix" in t["cold_cache_label"] for t in cold)
