"""`bakeoff run --executor ray` on a real Ray instance that the CLI starts on this machine, with
the packaged SmolLM2 model in its actors.

Ray's startup probes the network (usage stats, which bakeoff turns off, and an address lookup that
bakeoff cannot turn off), and this machine allows no traffic but loopback: every Ray run here is
in a private network namespace (`unshare -n`, loopback up), where nothing can leave.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


from conftest import bakeoff, wait_for


MODEL = "smollm2-135m?threads=1"


def cases(n: int, max_tokens: int = 12, check: str = "{regex: '[a-z]'}") -> str:
    prompts = ["Say hello.", "What is 2 + 2?", "Name a colour.", "Name a fruit.", "Count to three.",
               "Name a planet.", "Say goodbye.", "Name an animal.", "Name a city.", "Name a tree."]
    body = "".join(f"  - id: c{i}\n    prompt: {prompts[i]!r}\n    max_tokens: {max_tokens}\n"
                   f"    checks: [{check}]\n" for i in range(n))
    return "defaults:\n  temperature: 0\ncases:\n" + body


def private_network(args: list[str]) -> list[str]:
    """The command in a new network namespace with only loopback, up (a user namespace too when
    not root)."""
    return ["unshare", "-n" if os.geteuid() == 0 else "-rn", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
            "sh", *args]


def ray_cli(*args) -> list[str]:
    return private_network([sys.executable, "-m", "bakeoff", "run", *map(str, args), "--executor", "ray"])


def rows(db: Path) -> dict[str, sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return {r["id"]: r for r in conn.execute("SELECT * FROM trials")}


def network_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def actor_pids(network: str) -> list[int]:
    """This run's actor processes: those in its private network (other sessions may run Ray too)."""
    out = subprocess.run(["pgrep", "-f", "ray::ContenderActor"], capture_output=True, text=True).stdout
    pids = []
    for pid in map(int, out.split()):
        try:
            if network_of(pid) == network:
                pids.append(pid)
        except OSError:  # gone meanwhile
            pass
    return pids


def test_ray_gives_the_local_results_and_resumes_a_local_run(tmp_path, smollm2):
    """Temperature 0, the same seed: two actors give the trials the local executor gives, and a
    run begun locally (one case) is finished on Ray (the rest), by the same trial identities. The
    check is a Python function from the suite's folder, which Ray's workers cannot import by name."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(4, check="{python: 'ray_checks:words'}"))
    (tmp_path / "ray_checks.py").write_text("def words(output):\n    return min(1.0, len(output.split()) / 4)\n")
    local_db, mixed_db = tmp_path / "local.db", tmp_path / "mixed.db"
    bakeoff("run", suite, "-c", MODEL, "--db", local_db, check=True)
    bakeoff("run", suite, "-c", MODEL, "--db", mixed_db, "--limit", "1", check=True)
    proc = subprocess.run(ray_cli(suite, "-c", MODEL, "--db", mixed_db, "--ray-actors", "2"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "3 trials run, 1 already done, 0 errors" in proc.stderr
    local, mixed = rows(local_db), rows(mixed_db)
    assert set(local) == set(mixed) and len(local) == 4
    for tid, row in local.items():
        assert (mixed[tid]["output"], mixed[tid]["score"], mixed[tid]["output_tokens"]) == \
            (row["output"], row["score"], row["output_tokens"])
    assert all(r["score"] is not None for r in mixed.values())
    conn = sqlite3.connect(mixed_db)
    facts = [f for (f,) in conn.execute("SELECT facts FROM contenders ORDER BY run_id")]
    assert sum('"executor": {"name": "ray"' in f for f in facts) == 1  # the Ray run's contender row


def interrupted_run(suite: Path, db: Path, finished: int, act) -> tuple[int, str, dict, int]:
    """A Ray run, ``act(proc, network)`` once ``finished`` trials are stored; its exit code, stderr,
    the trials finished before the act (id -> finished_at) and its network namespace."""
    proc = subprocess.Popen(ray_cli(suite, "-c", MODEL, "--db", db), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: db.exists() and _finished(db) >= finished, timeout=240, what=f"{finished} finished trials")
        before = {tid: r["finished_at"] for tid, r in rows(db).items()}
        network = network_of(proc.pid)
        act(proc, network)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err, before, network


def test_a_killed_actor_loses_no_finished_trial_and_duplicates_none(tmp_path, smollm2):
    """SIGKILL to the actor mid-run: its trial goes back to the queue, a fresh actor loads the
    model and finishes the run; trials finished before the kill are untouched."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(8, max_tokens=48))
    db = tmp_path / "killed.db"

    def kill_actors(proc, network):
        pids = actor_pids(network)
        assert pids, "no Ray actor process found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    returncode, err, before, _ = interrupted_run(suite, db, 2, kill_actors)
    assert returncode == 0, err
    assert "died; its trial goes back to the queue" in " ".join(err.split()), err
    after = rows(db)
    assert len(after) == 8 and {r["status"] for r in after.values()} == {"ok"}
    assert all(after[tid]["finished_at"] == at for tid, at in before.items())
    requeued = [r for r in after.values() if r["retry_log"] and "Ray actor lost" in r["retry_log"]]
    assert len(requeued) >= 1 and all(r["retries"] >= 1 for r in requeued)
    assert not requeued[0]["id"] in before


def _finished(db: Path) -> int:
    try:
        return sqlite3.connect(db).execute("SELECT count(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def test_ctrl_c_stops_the_actors_keeps_finished_trials_and_local_resumes(tmp_path, smollm2):
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(6, max_tokens=48))
    db = tmp_path / "stopped.db"
    returncode, err, _, network = interrupted_run(suite, db, 1, lambda proc, _: proc.send_signal(signal.SIGINT))
    assert returncode == 130, err
    assert "finished trials are saved" in err
    kept = rows(db)
    assert 1 <= len(kept) < 6 and {r["status"] for r in kept.values()} == {"ok"}
    wait_for(lambda: not actor_pids(network), timeout=30, what="the Ray actors to stop")
    status = sqlite3.connect(db).execute("SELECT status FROM runs").fetchone()[0]
    assert status == "interrupted"
    done = bakeoff("run", suite, "-c", MODEL, "--db", db, check=True)  # the local executor finishes it
    assert f"{6 - len(kept)} trials run, {len(kept)} already done" in done.stderr
    assert len(rows(db)) == 6


def test_bad_executor_options_are_exit_2(tmp_path):
    for args, phrase in ((["--executor", "slurm"], "--executor takes local or ray"),
                         (["--ray-actors", "2"], "need --executor ray")):
        proc = bakeoff("run", "-c", MODEL, "--db", tmp_path / "x.db", *args)
        assert proc.returncode == 2 and phrase in proc.stderr and "Traceback" not in proc.stderr


def test_actors_sharing_a_server_respect_its_concurrency(tmp_path):
    """Three actors drive one OpenAI-compatible server whose contender allows 2 requests at a
    time: never more than 2 in flight, and 2 at once do happen. The server is the OpenAI stand-in
    (slow streams, so requests overlap), in its own process inside the same private network."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(6))
    db = tmp_path / "server.db"
    serve = Path(__file__).parents[1] / "standins" / "serve.py"
    script = (f'{sys.executable} {serve} {tmp_path} 0.05 & srv=$!; '
              f'while [ ! -s {tmp_path}/url ]; do sleep 0.1; done; '
              f'{sys.executable} -m bakeoff run {suite} -c "openai-compat:$(cat {tmp_path}/url)/v1#gpt-standin'
              f'?concurrency=2" --db {db} --executor ray --ray-actors 3; rc=$?; kill $srv; wait $srv; exit $rc')
    proc = subprocess.run(private_network(["sh", "-c", script]), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["generations"] == 6 and seen["max_in_flight"] == 2
    assert {r["status"] for r in rows(db).values()} == {"ok"}


def test_actors_sharing_llama_cpp_server_respect_its_concurrency(tmp_path, smollm2):
    """Three actors drive llama-cpp-python's real server (with SmolLM2, in the same private
    network) through a contender that allows 2 requests at a time: the trials' spans, as the
    actors timed them, never overlap more than 2 deep, and 2 at once do happen."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(6, max_tokens=16))
    db = tmp_path / "llama.db"
    url = "http://127.0.0.1:8765/v1"  # a fresh network: the port is free
    ready = f"import urllib.request as u; u.urlopen('{url}/models', timeout=2)"
    script = (f'{sys.executable} -m llama_cpp.server --model {smollm2} --host 127.0.0.1 --port 8765 '
              f'--n_threads 1 --n_ctx 2048 --model_alias smollm2 --interrupt_requests False >/dev/null 2>&1 & srv=$!; '
              f'n=0; until {sys.executable} -c "{ready}" 2>/dev/null; do n=$((n+1)); [ $n -gt 240 ] && exit 9; sleep 0.5; done; '
              f'{sys.executable} -m bakeoff run {suite} -c "openai-compat:{url}#smollm2'
              f'?concurrency=2" --db {db} --executor ray --ray-actors 3; rc=$?; kill $srv; wait $srv; exit $rc')
    proc = subprocess.run(private_network(["sh", "-c", script]), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    trials = rows(db).values()
    assert len(trials) == 6 and {r["status"] for r in trials} == {"ok"}, [r["error"] for r in trials]
    spans = [(r["started_at"], r["finished_at"]) for r in trials]
    depth = max(sum(s <= at < e for s, e in spans) for at, _ in spans)
    assert depth == 2


def test_a_run_joins_a_cluster_started_with_ray_start(tmp_path, smollm2):
    """`ray start --head` (on 127.0.0.1, in a private network), then `bakeoff run --executor ray
    --ray-address HOST:PORT` with RAY_AUTH_MODE=token, as a user joins an existing cluster: the
    trials run on that cluster's actors. The cluster's processes, all in that network, are ended
    by pid afterwards (`ray stop` would end every Ray process of this user on the machine)."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(2))
    db = tmp_path / "joined.db"
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    ray = f'{sys.executable} -c "from ray.scripts.scripts import main; main()"'
    script = (f'{ray} start --head --node-ip-address 127.0.0.1 --port 6399 --num-cpus 2 --include-dashboard false '
              f'--disable-usage-stats --temp-dir {temp} >{tmp_path}/ray-start.log 2>&1 || exit 8; '
              f'{sys.executable} -m bakeoff run {suite} -c "{MODEL}" --db {db} --executor ray '
              f'--ray-address 127.0.0.1:6399; rc=$?; me=$(readlink /proc/$$/ns/net); '
              f'for p in /proc/[0-9]*; do p=${{p#/proc/}}; [ "$p" != $$ ] && '
              f'[ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ] && kill -9 $p 2>/dev/null; done; exit $rc')
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        proc = subprocess.run(private_network(["sh", "-c", script]), capture_output=True, text=True,
                              timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr + (tmp_path / "ray-start.log").read_text()[-2000:]
        assert {r["status"] for r in rows(db).values()} == {"ok"} and len(rows(db)) == 2
        facts = json.loads(sqlite3.connect(db).execute("SELECT facts FROM contenders").fetchone()[0])
        assert facts["executor"]["name"] == "ray"
        # The actor was a worker of the started cluster: its log is in that cluster's session.
        logs = Path(temp, "session_latest", "logs")
        assert list(logs.glob(f"worker-*-{facts['executor']['pid']}.*")), sorted(p.name for p in logs.iterdir())
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_actors_run_code_checks_with_the_drivers_sandbox_and_opt_in(tmp_path, smollm2):
    """The code checks run on the actors, started before the driver learns the opt-in
    (--allow-unconfined-code): the actors get it, with the forced tier, from the driver."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(cases(1, check="{code: {tests: 'assert True'}}"))
    db = tmp_path / "r.db"
    proc = subprocess.run(ray_cli(suite, "-c", MODEL, "--db", db, "--allow-unconfined-code"), capture_output=True,
                          text=True, timeout=300, env={**os.environ, "BAKEOFF_SANDBOX": "rlimits"})
    assert proc.returncode == 0, proc.stderr
    [detail] = [d for (d,) in sqlite3.connect(db).execute("SELECT detail FROM check_results")]
    assert detail.endswith("[sandbox: rlimits]") and "not run" not in detail, detail
