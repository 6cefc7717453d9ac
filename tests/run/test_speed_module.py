"""bakeoff.run.speed called directly on smollm2: each depth on a load whose context is just large
enough, pp and tg per depth with every sample and the mean derived from them, results handed on
as they come and stored with their run; a context the spec fixes too small is refused and the
run is marked interrupted. (tests/run/test_speed.py runs `bakeoff speed` through the CLI.)"""

from __future__ import annotations

import sqlite3
import statistics

import pytest

from bakeoff.errors import InputError
from bakeoff.run.speed import _ctx_for, run_speed, speed_rows_json
from bakeoff.spec import parse_spec
from bakeoff.store import Database


def test_the_context_is_the_need_rounded_up_to_256():
    assert [_ctx_for(0, 16), _ctx_for(240, 16), _ctx_for(241, 16), _ctx_for(1000, 512)] == [256, 256, 512, 1536]


def test_results_per_depth_and_test_with_their_samples(tmp_path, smollm2):
    seen = []
    db = Database(tmp_path / "s.db")
    try:
        results = run_speed(db, [parse_spec("llamacpp:smollm2-135m?threads=1")], [16], [4], [0, 300], reps=2,
                            argv=["speed"], on_result=seen.append)
        stored = db.conn.execute("SELECT test, depth, ctx, avg_tps FROM speed_results ORDER BY depth, test").fetchall()
        (status,) = db.conn.execute("SELECT status FROM runs").fetchone()
    finally:
        db.close()
    assert seen == results
    assert [(r.test, r.depth, r.ctx) for r in results] == [("pp16", 0, 256), ("tg4", 0, 256),
                                                           ("pp16", 300, 512), ("tg4", 300, 512)]
    for r in results:
        assert len(r.samples_ns) == 2 and r.reps == 2 and r.threads == 1 and len(r.model_sha256) == 64
        n = r.n_prompt or r.n_gen
        assert r.samples_tps == pytest.approx([n / (ns / 1e9) for ns in r.samples_ns])
        assert r.avg_tps == pytest.approx(statistics.fmean(r.samples_tps))
        assert r.stddev_tps == pytest.approx(statistics.stdev(r.samples_tps))
        assert r.peak_mem_mb is not None and r.engine_avg_tps > 0
    assert [tuple(row)[:3] for row in stored] == [("pp16", 0, 256), ("tg4", 0, 256), ("pp16", 300, 512),
                                                  ("tg4", 300, 512)]
    assert status == "completed"
    assert speed_rows_json(results)[0]["test"] == "pp16"


def test_a_fixed_context_too_small_for_the_depth_is_refused(tmp_path, smollm2):
    db = Database(tmp_path / "s.db")
    try:
        with pytest.raises(InputError, match=r"ctx=256 cannot hold depth 300 \+ 16 tokens"):
            run_speed(db, [parse_spec("llamacpp:smollm2-135m?threads=1&ctx=256")], [16], [], [300], reps=1,
                      argv=["speed"])
    finally:
        db.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
