"""bakeoff.run.server_speed called directly against the stand-in of a vLLM server
(tests/standins/openai_api.py, ``cache_salt`` partitions its prefix cache): pp's three requests
of a repetition share one salt that no other repetition has, tg asks cold, ``cache=bust`` starts
every prompt with a unique marker; and how the figures are summarised and described."""

from __future__ import annotations

import pytest

from bakeoff.run.server_speed import cache_summary, run_server_speed, summarise_server
from bakeoff.spec import parse_spec
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app


@pytest.fixture
def vllm():
    state = StandInState(prefix_cache=True, prefill_s_per_token=0.001)
    with StandInServer(make_app(state, ["qwen"], server="vllm"), state) as server:
        yield server


def _measure(server, options: str = "") -> tuple[list[tuple], list[dict]]:
    results: list[tuple] = []
    spec = parse_spec(f"openai-compat:{server.url}/v1#qwen{options}")
    run_server_speed(spec, [20], [3], [10], reps=2, timeout_s=30, on_result=results.append,
                     make_result=lambda kind, n, depth, figures, backend, maker: (kind, n, depth, figures))
    return results, [r.body for r in server.posted("/chat/completions")]


def test_pp_requests_of_a_repetition_share_a_salt_and_tg_asks_cold(vllm):
    results, bodies = _measure(vllm)
    assert [(kind, n, depth) for kind, n, depth, _ in results] == [("pp", 20, 10), ("tg", 3, 10)]
    pp, tg = results[0][3], results[1][3]
    assert len(pp["samples_tps"]) == len(pp["samples_ns"]) == 2 and all(x > 0 for x in pp["samples_tps"])
    assert len(tg["samples_tps"]) == 2
    pp_bodies, tg_bodies = [b for b in bodies if b["max_tokens"] == 1], [b for b in bodies if b["max_tokens"] == 3]
    assert len(pp_bodies) == 3 * 3 and len(tg_bodies) == 3  # (warm-up + 2 repetitions) x requests
    salts = [b["cache_salt"] for b in pp_bodies]
    assert [len(set(salts[i:i + 3])) for i in range(0, 9, 3)] == [1, 1, 1] and len(set(salts)) == 3
    assert not {b["cache_salt"] for b in tg_bodies} & set(salts) and len({b["cache_salt"] for b in tg_bodies}) == 3
    texts = [b["messages"][0]["content"] for b in pp_bodies]
    assert texts[2].startswith(texts[1]) and len(texts[2].split()) == len(texts[1].split()) + 20


def test_cache_bust_starts_every_prompt_with_a_unique_marker(vllm):
    _, bodies = _measure(vllm, "?cache=bust")
    firsts = [b["messages"][0]["content"].split("\n")[0] for b in bodies]
    assert all(f.startswith("[cache-bust ") for f in firsts) and len(set(firsts)) == len(bodies)


def test_summaries_and_the_cache_description():
    assert summarise_server({"samples_tps": [10.0, 20.0], "engine": [None, 30.0]}) == \
        {"avg_tps": 15.0, "stddev_tps": pytest.approx(7.0711, abs=1e-3), "engine_avg_tps": 30.0}
    assert summarise_server({"samples_tps": [5.0], "engine": [None]})["stddev_tps"] is None
    tg = cache_summary("tg", [{"control": "cache_salt (fresh per request)", "cached_tokens": 0, "source": "usage"},
                              {"control": "cache_salt (fresh per request)", "cached_tokens": 16, "source": "usage"}])
    assert tg == "cold (cache_salt (fresh per request)); cached prompt tokens per timed request: 0 to 16 (usage)"
    pp = cache_summary("pp", [{"control": None}])
    assert "the server keeps only the previous prompt's prefix" in pp and pp.endswith("cached tokens not reported")
