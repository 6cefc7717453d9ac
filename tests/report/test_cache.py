"""bakeoff.report.cache on hand-built trials and turns: which trials count as cold, cached,
possibly cached or warm, the cold TTFT median that leaves out every trial that may have reused a
prefix, the warm turns beside their cold replays, and the terminal tables."""

from __future__ import annotations

import io

from rich.console import Console

from bakeoff.report.cache import cache_rows, print_cache
from report_rows import trial

SPEC = "openai-compat:http://127.0.0.1:1/v1#m"


def _trials():
    return [
        trial(SPEC, "a", ttft_ms=100.0, cache_label="cold", cache_cold=1, cached_tokens=0),
        trial(SPEC, "b", ttft_ms=300.0, cache_label="cold", cache_cold=1, cached_tokens=0),
        trial(SPEC, "c", ttft_ms=5.0, cache_label="prefix-cached: 512 tokens", cache_cold=0, cached_tokens=512),
        trial(SPEC, "d", ttft_ms=7.0, cache_label="cache: not reported; may be cached", cache_cold=0),
        trial(SPEC, "e", status="error", ttft_ms=None, cache_label="cold", cache_cold=1),
        trial("llamacpp:old", "a", ttft_ms=50.0),  # stored before caches were recorded
    ]


def _turn(turn: int, warm: int, ttft: float, cold_ttft: float | None):
    return {"spec": SPEC, "case_id": "chat", "repeat": 0, "turn": turn, "status": "ok",
            "cache_label": "warm: the conversation's own turns" if warm else "cold", "cache_warm": warm,
            "ttft_ms": ttft, "cached_tokens": 40 * warm, "prompt_tokens": 60, "cold_ttft_ms": cold_ttft,
            "cold_cache_label": "cold" if cold_ttft else None}


def test_only_cold_trials_make_the_cold_median_and_warm_turns_their_own():
    turns = [_turn(1, 0, 90.0, None), _turn(2, 1, 20.0, 95.0), _turn(3, 1, 30.0, 105.0)]
    data = cache_rows(_trials(), turns)
    by_spec = {r["spec"]: r for r in data["contenders"]}
    row = by_spec[SPEC]
    assert (row["cold"], row["cached"], row["possibly cached"], row["not_reported"]) == (2, 1, 1, 1)
    assert row["cold_ttft_ms_median"] == 200.0  # 100 and 300; the 5 and 7 ms cached ones left out
    assert row["warm_turns"] == 2 and row["warm_ttft_ms_median"] == 25.0
    assert row["cold_replay_ttft_ms_median"] == 100.0
    old = by_spec["llamacpp:old"]
    assert old["unlabelled"] == 1 and old["cold_ttft_ms_median"] == 50.0
    kinds = {(t["spec"], t["case_id"]): t["kind"] for t in data["trials"]}
    assert kinds[(SPEC, "c")] == "cached" and kinds[(SPEC, "d")] == "possibly cached"
    assert (SPEC, "e") not in kinds  # error trials are not labelled
    assert [u["turn"] for u in data["turns"]] == [1, 2, 3]


def test_the_tables_list_what_was_not_cold_and_skip_unlabelled_runs():
    data = {"cache": cache_rows(_trials(), [_turn(2, 1, 20.0, 95.0)])}
    out = io.StringIO()
    print_cache(data, Console(file=out, width=250), lambda v, kind: "-" if v is None else f"{v:.0f}")
    text = out.getvalue()
    assert "prompt cache: cold vs warm TTFT" in text and "llamacpp:old" not in text
    assert f"{SPEC} c #0: prefix-cached: 512 tokens" in text and f"{SPEC} a #0" not in text
    assert "warm TTFT beside the same prompt asked cold" in text
    empty = io.StringIO()
    print_cache({"cache": cache_rows([trial("llamacpp:old")], [])}, Console(file=empty), str)
    assert empty.getvalue() == ""
