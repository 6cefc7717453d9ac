"""Per-variant breakdown of a sweep (quantization, ...): size, speed, memory, quality, and how
often each variant's answers differ from the most precise variant's on the same cases."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bakeoff.models.quantize import precision_rank
from bakeoff.util.stats import summarise_trials
from bakeoff.store import Database
from bakeoff.util.answers import normal_form


def _base_spec(spec: str, sweep_keys: set[str]) -> str:
    head, _, query = spec.partition("?")
    rest = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in sweep_keys]
    return head + (f"?{urlencode(rest)}" if rest else "")


def _reference_rank(point: dict) -> tuple:
    """The reference variant: the most precise quantization, the base model (no adapter), no thinking."""
    return (precision_rank(str(point.get("quant", "none")).upper()) if "quant" in point else 0,
            0 if point.get("lora", "none") == "none" else 1,
            0 if str(point.get("thinking", "off")) in ("off", "none") else 1)


def variant_rows(db: Database, run_id: str | None = None) -> list[dict[str, Any]]:
    trials = [t for t in db.trials(run_id) if t["sweep"] and t["sweep"] != "{}"]
    if not trials:
        return []
    paths = {c["spec"]: c["model_path"] for c in db.contenders()}
    # Architecture twins (random weights): speed and memory are real, quality is not applicable.
    twins = {c["spec"]: (json.loads(c["facts"] or "{}").get("twin") or {}).get("quality") for c in db.contenders()}
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    points: dict[str, dict] = {}
    for t in trials:
        point = json.loads(t["sweep"])
        points[t["spec"]] = point
        groups[_base_spec(t["spec"], set(point))][t["spec"]].append(t)
    out = []
    for base, by_spec in groups.items():
        reference = min(by_spec, key=lambda s: _reference_rank(points[s]))
        ref_out = {(t["case_id"], t["repeat"]): normal_form(t["output"]) for t in by_spec[reference]
                   if t["status"] == "ok"}
        variants = []
        for spec, ts in by_spec.items():
            ok = [t for t in ts if t["status"] == "ok"]
            compared = [t for t in ok if (t["case_id"], t["repeat"]) in ref_out]
            differ = sum(normal_form(t["output"]) != ref_out[(t["case_id"], t["repeat"])] for t in compared)
            path = paths.get(spec)
            variants.append({
                "spec": spec, "sweep": points[spec], "reference": spec == reference,
                "file_mb": os.path.getsize(path) / 1e6 if path and os.path.isfile(path) else None,
                **summarise_trials(ts),
                "differs_from_reference": differ / len(compared) if compared else None,
                "compared_with_reference": len(compared),
            })
            if twins.get(spec):
                variants[-1].update(passed=None, pass_rate=None, pass_rate_ci=None, quality=twins[spec])
        variants.sort(key=lambda v: _reference_rank(v["sweep"]))
        out.append({"base": base, "reference": reference, "variants": variants})
    return out
