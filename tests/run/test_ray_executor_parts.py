"""bakeoff.run.ray_executor's parts that need no cluster: where a contender's actors are placed
(CPUs, GPUs and memory from its declared resources), the writes an actor records instead of
opening the database, their replay on the driver's real database with attempts lost to dead
actors joined to the trial's retry log, and Ray told not to phone home. The Ray runs themselves
are in test_ray_executor.py, in a private network namespace."""

from __future__ import annotations

import contextlib
import json
import os
import sys

import pytest

from bakeoff.errors import InputError
from bakeoff.run.ray_executor import RAY_QUIET, RecordedWrites, _replay, import_ray, placement
from bakeoff.spec import parse_spec
from bakeoff.store import Database


@pytest.mark.parametrize("spec, expected", [
    ("llamacpp:smollm2-135m?threads=4", {"num_cpus": 4.0, "num_gpus": 0}),
    ("llamacpp:smollm2-135m?threads=2&gpu_layers=-1", {"num_cpus": 2.0, "num_gpus": 1}),
    ("llamacpp:smollm2-135m?num_cpus=8&num_gpus=0&gpu_layers=99&memory_mb=1500",
     {"num_cpus": 8, "num_gpus": 0, "memory": 1500 * 2**20}),
    ("openai-compat:http://127.0.0.1:9/v1#m", {"num_cpus": 0, "num_gpus": 0}),  # a server waits on the network
])
def test_placement_follows_the_declared_resources(spec, expected, smollm2):
    assert placement(parse_spec(spec)) == expected


def _trial(trial_id: str, **extra) -> dict:
    return {"id": trial_id, "run_id": "r1", "spec": "llamacpp:m", "case_id": "c", "repeat": 0, "sweep": {},
            "case_json": {"messages": []}, "status": "ok", "output": "4", "passed": 1, "score": 1.0,
            "started_at": "2026-01-01T00:00:00", "finished_at": "2026-01-01T00:00:01", **extra}


def test_recorded_writes_replay_on_the_real_database_with_lost_attempts(tmp_path):
    on_actor = RecordedWrites()
    check = {"kind": "contains", "passed": True, "score": 1.0, "weight": 1.0, "detail": "found 4"}
    on_actor.record_trial(_trial("t1", retries=1, retry_log=json.dumps([{"attempt": 1, "reason": "HTTP 429"}])),
                          [check])
    assert [name for name, _ in on_actor.writes] == ["record_trial"]
    lost = [{"attempt": "actor", "reason": "the actor died (node lost)"}]
    db = Database(tmp_path / "r.db")
    try:
        db.start_run("r1", "2026-01-01T00:00:00", "suite", ["run"], "test", {})
        _replay(db, on_actor.writes, lost)
        _replay(db, RecordedWrites().writes)  # an actor that recorded nothing: nothing to replay
        other = RecordedWrites()
        other.record_trial(_trial("t2"), [])
        _replay(db, other.writes)
        rows = {r["id"]: r for r in db.trials()}
        checks = db.check_results("t1")
    finally:
        db.close()
    assert rows["t1"]["retries"] == 2
    assert json.loads(rows["t1"]["retry_log"]) == [{"attempt": 1, "reason": "HTTP 429"}] + lost
    assert rows["t2"]["retries"] in (None, 0) and rows["t2"]["retry_log"] in (None, "[]")
    assert [(c["kind"], c["detail"]) for c in checks] == [("contains", "found 4")]


def test_ray_is_told_not_to_phone_home_unless_the_user_says_otherwise(monkeypatch):
    for key in RAY_QUIET:
        monkeypatch.setenv(key, "unset")  # so that the test's end puts back what was there
        monkeypatch.delenv(key)
    monkeypatch.setenv("RAY_DISABLE_DOCKER_CPU_WARNING", "0")  # the user's own setting wins
    with contextlib.suppress(InputError):  # Ray absent: the settings are made before the import is tried
        import_ray()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert os.environ["RAY_DISABLE_DOCKER_CPU_WARNING"] == "0"


def test_without_ray_the_executor_asks_for_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # an import of ray now fails
    with pytest.raises(InputError, match=r"pip install 'bakeoff\[ray\]'"):
        import_ray()
