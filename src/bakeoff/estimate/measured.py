"""Measured runs of a GGUF model in the results database, to set beside the estimates.

A contender matches when its recorded model path is the file's path, or its recorded sha256 is
the file's (computed only for files under 2 GiB, or taken from bakeoff's sha256 cache). Only
successful trials count. The database is opened read-only.
"""

from __future__ import annotations

import json
import platform
import statistics
from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.store import Database, DatabaseError, OperationalError

_SHA_LIMIT = 2 * 2**30


def _sha256(path: Path) -> str | None:
    from bakeoff.models.packaged import file_sha256

    try:
        if path.stat().st_size > _SHA_LIMIT:
            return None
        return file_sha256(path)
    except OSError:
        return None


def measured_runs(db_path: str | Path, model_path: Path) -> list[dict]:
    """One entry per contender spec that ran this model file: context, threads, trials,
    median decode tok/s, peak memory, typical depth, and whether it ran on this host."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise InputError(f"no results database at {db_path}")
    try:
        with Database.read_only(db_path) as db:
            sha = _sha256(model_path)
            contenders = db.contenders_of_model(str(model_path), sha or "-")
            by_spec: dict[str, dict] = {}
            host = platform.node()
            for c in contenders:
                facts = json.loads(c["facts"] or "{}")
                options = json.loads(c["options"] or "{}")
                env = json.loads(c["environment"] or "{}")
                entry = by_spec.setdefault(c["spec"], {
                    "spec": c["spec"], "runs": set(), "ctx": facts.get("n_ctx") or options.get("ctx") or 4096,
                    "threads": facts.get("threads") or options.get("threads"),
                    "this_host": env.get("host") == host, "hosts": set()})
                entry["runs"].add(c["run_id"])
                entry["hosts"].add(env.get("host"))
                entry["this_host"] = entry["this_host"] or env.get("host") == host
            out = []
            for spec, entry in by_spec.items():
                rows = db.ok_trial_figures(spec, entry["runs"])
                tps = [r["decode_tps"] for r in rows if r["decode_tps"]]
                mem = [r["peak_mem_mb"] for r in rows if r["peak_mem_mb"] is not None]
                prompts = [r["prompt_tokens"] for r in rows if r["prompt_tokens"]]
                depths = [(r["prompt_tokens"] or 0) + (r["output_tokens"] or 0) / 2 for r in rows if r["prompt_tokens"]]
                if not rows:
                    continue
                out.append({
                    "spec": spec, "ctx": int(entry["ctx"]), "threads": entry["threads"], "trials": len(rows),
                    "this_host": entry["this_host"],
                    "decode_tps_median": statistics.median(tps) if tps else None,
                    "peak_mem_mib_max": max(mem) if mem else None,
                    "peak_mem_mib_median": statistics.median(mem) if mem else None,
                    "prompt_tokens_max": max(prompts) if prompts else None,
                    "depth_median": statistics.median(depths) if depths else None,
                })
            return out
    except DatabaseError as exc:
        raise InputError(f"{db_path}: not a readable bakeoff results database ({exc})") from None


def measured_speed(db_path: str | Path, model_path: Path, specs: list[str]) -> list[dict]:
    """Generation results of `bakeoff speed` (table speed_results, tg tests) for this model file:
    one entry per (spec, test, depth) with the mean tok/s, for an efficiency at that depth."""
    try:
        with Database.read_only(db_path) as db:
            rows = db.generation_speed_results(_sha256(model_path) or "-", specs)
    except OperationalError:
        return []  # a database from before `bakeoff speed` existed
    except DatabaseError as exc:
        raise InputError(f"{db_path}: not a readable bakeoff results database ({exc})") from None
    host = platform.node()
    out = []
    for r in rows:
        env = json.loads(r["environment"] or "{}")
        out.append({"spec": r["spec"], "test": r["test"], "depth": r["depth"], "n_gen": r["n_gen"],
                    "ctx": r["ctx"], "threads": r["threads"], "reps": r["reps"], "avg_tps": r["avg_tps"],
                    "stddev_tps": r["stddev_tps"], "this_host": env.get("host") == host,
                    "peak_mem_mib": r["peak_mem_mb"], "engine_memory": json.loads(r["engine_memory"] or "{}")})
    return out
