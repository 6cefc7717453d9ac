"""The Ray executor (``bakeoff run --executor ray``): a contender's trials run on Ray actors.

Each actor holds one loaded contender (``ContenderActor``), placed by the resources the contender
declares (``num_cpus``, ``num_gpus``, ``memory_mb`` spec options; defaults below), and runs the
trials the driver hands it one at a time, through the scheduler's own trial code. That code
writes to a database; on an actor it writes to a ``RecordedWrites`` instead, and the driver —
the only process that opens the SQLite file — replays those writes, one commit per trial, exactly
as the local executor would have made them. The plan, the trial identities and resume are the
local executor's, so a run can start on one executor and finish on the other.

Contenders still run one after another (their actors are created, used and killed before the
next contender's), so memory and speed figures are not polluted by a resident neighbour on a
one-machine cluster; ``--ray-actors N`` puts N actors on one contender's trials. A server
contender's actors share its ``concurrency``: the driver never has more of its trials in flight.

An actor (or its node) that dies takes its in-flight trial back to the queue, to be run again on
a fresh actor at most ``max_retries`` times; the trial row records each lost attempt in its
``retry_log``. Ctrl-C kills the actors; the trials already replayed are committed, so nothing
finished is lost and the same command resumes. LLM judges run afterwards on the driver, as in a
local run.

Ray phones home unless told not to, and its dashboard probes the network at start: bakeoff sets
``RAY_USAGE_STATS_ENABLED=0`` and starts no dashboard, and docs/ray.md says how to keep a cluster
off the network entirely.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections import deque
from typing import Any

from bakeoff.errors import InputError
from bakeoff.run.plan import Trial
from bakeoff.sandbox import sandbox_settings

DEFAULT_MAX_RETRIES = 2  # a trial whose actor died this many times more is recorded as an error
RAY_QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}


def import_ray():
    for key, value in RAY_QUIET.items():  # before Ray is imported; a user's own setting wins
        os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'bakeoff[ray]'") from None
    return ray


class RecordedWrites:
    """Stands in for the results Database on an actor: keeps the writes the trial code makes
    (method name and arguments) for the driver to replay on the real database."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, tuple]] = []

    def _keep(self, name: str, *args: Any) -> None:
        self.writes.append((name, args))

    def record_trial(self, *args: Any) -> None:
        self._keep("record_trial", *args)

    def record_conversation(self, *args: Any) -> None:
        self._keep("record_conversation", *args)

    def record_agent_loop(self, *args: Any) -> None:
        self._keep("record_agent_loop", *args)

    def record_contender(self, *args: Any) -> None:
        self._keep("record_contender", *args)


class ContenderActor:
    """One loaded contender on a Ray worker (an async actor), driven through the same async
    contract and the same trial code as the local executor: a server contender's trials share its
    event loop and client; an in-process model answers one trial at a time."""

    def __init__(self, spec, timeout: float, tdp_watts: float | None, tdp_source: str | None = None,
                 sandbox_settings: dict[str, str] | None = None):
        from bakeoff.backends import make_backend

        # The driver's sandbox settings (a forced tier, the unconfined opt-in): the code checks
        # run here, and a worker started before the driver set them would not have them.
        os.environ.update(sandbox_settings or {})
        self.spec, self.timeout = spec, timeout
        self.tdp_watts, self.tdp_source = tdp_watts, tdp_source
        self.opened = contextlib.AsyncExitStack()
        self.backend = make_backend(spec, timeout)

    async def load(self, run_id: str) -> dict[str, Any]:
        """Load the model; the contender's row as writes, or the load error."""
        from bakeoff.backends._server import ServerBackend
        from bakeoff.run.contender import open_contender
        from bakeoff.run.scheduler import Progress, RunSummary, _loaded

        contender = await self.opened.enter_async_context(
            open_contender(self.spec, self.timeout, tdp_watts=self.tdp_watts, tdp_source=self.tdp_source,
                           backend=self.backend))
        if contender.error is not None:
            return {"error": str(contender.error), "model_path": contender.model_path, "sha256": contender.sha256}
        store, summary = RecordedWrites(), RunSummary(run_id, 0)
        facts = {**contender.facts, "executor": {"name": "ray", "node": socket.gethostname(), "pid": os.getpid()}}
        _loaded(store, run_id, self.backend, self.spec, contender.model_path, contender.sha256, facts, summary,
                Progress())
        return {"error": None, "writes": store.writes, "notes": summary.notes,
                "server": isinstance(self.backend, ServerBackend), "slots": self.backend.concurrency}

    async def run(self, run_id: str, trial: Trial) -> tuple[str, list]:
        from bakeoff.run.scheduler import _run_trial

        store = RecordedWrites()
        status = await _run_trial(store, run_id, self.backend, trial)
        return status, store.writes

    async def close(self) -> None:
        await self.opened.aclose()


def placement(spec) -> dict[str, Any]:
    """Ray actor options from the contender's declared resources; in-process models default to
    their thread count in CPUs (and a GPU when layers are offloaded), servers to no CPU (they
    wait on the network)."""
    from bakeoff.backends import get_backend
    from bakeoff.backends._server import ServerBackend

    o = spec.options
    server = issubclass(get_backend(spec.backend), ServerBackend)
    cpus = o.get("num_cpus")
    if cpus is None:
        cpus = 0 if server else float(o.get("threads") or 1)
    gpus = o.get("num_gpus")
    if gpus is None:
        gpus = 1 if not server and (o.get("gpu_layers") or 0) != 0 else 0
    out: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus}
    if o.get("memory_mb"):
        out["memory"] = int(o["memory_mb"]) * 2**20
    return out


def _suite_modules_by_value() -> None:
    """Python checks and tools are imported from the suite's folder, which a Ray worker's
    sys.path lacks: cloudpickle sends those modules by value, not by name."""
    from ray import cloudpickle

    from bakeoff.checks.python_check import suite_modules

    for module in suite_modules():
        cloudpickle.register_pickle_by_value(module)


class RayExecutor:
    """Runs a contender's trials on Ray actors (an ``executor`` for scheduler.run_plan)."""

    def __init__(self, address: str | None = None, actors: int = 1, max_retries: int = DEFAULT_MAX_RETRIES):
        self.ray = import_ray()
        self.actors = actors
        self.max_retries = max_retries
        if not self.ray.is_initialized():
            try:
                # A local instance binds to loopback (else Ray probes 8.8.8.8 to find this host's IP).
                local = {"_node_ip_address": "127.0.0.1"} if address is None else {}
                self.ray.init(address=address, include_dashboard=False, logging_level="ERROR",
                              log_to_driver=False, **local)
            except ConnectionError as exc:
                raise InputError(f"cannot reach the Ray cluster at {address}: {exc}") from None
        self.remote_actor = self.ray.remote(ContenderActor)

    def shutdown(self) -> None:
        self.ray.shutdown()

    def __call__(self, db, run_id, trials, timeout, summary, progress, tdp_watts=None, tdp_source=None) -> None:
        _suite_modules_by_value()
        ContenderRun(self, db, run_id, trials, timeout, summary, progress, tdp_watts, tdp_source).run()


class ContenderRun:
    """One contender's trials on its actors: the driver's queue, dispatch and replay."""

    def __init__(self, executor: RayExecutor, db, run_id, trials, timeout, summary, progress, tdp_watts,
                 tdp_source=None):
        self.ray, self.executor = executor.ray, executor
        self.db, self.run_id, self.summary, self.progress = db, run_id, summary, progress
        self.spec = trials[0].spec
        self.queue = deque((t, []) for t in trials)  # each trial with the attempts it lost to dead actors
        self.inflight: dict[Any, tuple[Any, Trial, list]] = {}  # ref -> actor, trial, lost attempts
        self.ready: list[Any] = []
        self.slots = 1  # trials in flight per actor (in-process) or in all (server: its concurrency)
        self.server = False
        self.contender_recorded = False
        self.make = lambda: executor.remote_actor.options(**placement(self.spec), max_concurrency=256).remote(
            self.spec, timeout, tdp_watts, tdp_source, sandbox_settings())

    def run(self) -> None:
        try:
            self._start([self.make() for _ in range(max(1, min(self.executor.actors, len(self.queue))))])
            while self.queue or self.inflight:
                self._dispatch()
                if not self.inflight:
                    break  # no actor left to run the queue: _start recorded why
                done, _ = self.ray.wait(list(self.inflight), num_returns=1)
                self._collect(done[0])
            self._close_actors()
        finally:
            for actor in self.ready:
                self.ray.kill(actor, no_restart=True)

    def _close_actors(self) -> None:
        """Close each backend as the local executor does (an Ollama model is unloaded by it)
        before its actor is killed; an actor that died meanwhile has nothing left to close."""
        for ref in [actor.close.remote() for actor in self.ready]:
            try:
                self.ray.get(ref)
            except self.ray.exceptions.RayError:
                pass

    def _start(self, actors: list[Any]) -> None:
        """Wait for new actors to load their model; a load error ends the contender (its pending
        trials become error trials, as in a local run)."""
        from bakeoff.run.scheduler import _load_failed

        refs = [a.load.remote(self.run_id) for a in actors]
        failed = None
        for actor, ref in zip(actors, refs):
            try:
                loaded = self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                loaded = {"error": f"the Ray actor died while loading ({type(exc).__name__})",
                          "model_path": None, "sha256": None}
            if loaded["error"] is not None:
                failed = loaded
                self.ray.kill(actor, no_restart=True)
                continue
            if not self.contender_recorded:
                for text in loaded["notes"]:
                    self.progress.note(text)
                self.summary.notes.extend(loaded["notes"])
                _replay(self.db, loaded["writes"])
                self.contender_recorded = True
            self.server, self.slots = loaded["server"], loaded["slots"]
            self.ready.append(actor)
        if failed and not self.ready and not self.inflight and self.queue:
            _load_failed(self.db, self.run_id, [t for t, _ in self.queue], failed["model_path"], failed["sha256"],
                         Exception(failed["error"]), self.summary, self.progress)
            self.queue.clear()

    def _dispatch(self) -> None:
        busy = [a for a, _, _ in self.inflight.values()]
        for actor in self.ready:
            while self.queue and (len(self.inflight) < self.slots if self.server else busy.count(actor) < self.slots):
                trial, lost = self.queue.popleft()
                self.inflight[actor.run.remote(self.run_id, trial)] = (actor, trial, lost)
                busy.append(actor)

    def _collect(self, ref) -> None:
        actor, trial, lost = self.inflight.pop(ref)
        try:
            status, writes = self.ray.get(ref)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError) as exc:
            self._lost(actor, trial, lost, exc)
            return
        _replay(self.db, writes, lost)
        self._done(trial, status)

    def _done(self, trial: Trial, status: str) -> None:
        self.summary.ran += 1
        self.summary.errors += status == "error"
        self.progress.advance(trial, status)

    def _lost(self, actor, trial: Trial, lost: list, exc: Exception) -> None:
        """The actor (or its node) died with this trial in flight: back to the queue, at most
        max_retries times, on a fresh actor."""
        from bakeoff.run.scheduler import _now, _record_error

        lost = lost + [{"attempt": len(lost) + 1, "error": f"Ray actor lost: {type(exc).__name__}", "at": _now()}]
        if len(lost) > self.executor.max_retries:
            _record_error(self.db, self.run_id, trial, f"the Ray actor running this trial died {len(lost)} "
                          f"times (last: {type(exc).__name__})", _now(), retries=lost)
            self._done(trial, "error")
        else:
            self.queue.appendleft((trial, lost))
            self.progress.note(f"a Ray actor of {self.spec.canonical} died; its trial goes back to the queue "
                               f"(attempt {len(lost) + 1} of at most {self.executor.max_retries + 1})")
        if actor in self.ready:
            self.ready.remove(actor)
            if self.queue or self.inflight:
                self._start([self.make()])


def _replay(db, writes: list[tuple[str, tuple]], lost: list[dict] | None = None) -> None:
    """The actor's writes on the real database (each one transaction: one commit per trial).
    Attempts lost to dead actors join the trial row's retry log."""
    for name, args in writes:
        if lost and name != "record_contender":
            row = dict(args[0])
            log = json.loads(row.get("retry_log") or "[]") + lost
            row.update(retries=(row.get("retries") or 0) + len(lost), retry_log=json.dumps(log))
            args = (row, *args[1:])
        getattr(db, name)(*args)
