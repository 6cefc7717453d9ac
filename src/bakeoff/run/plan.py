"""The plan: contenders x cases x repeats (x sweep points), each trial with a stable identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bakeoff.spec import ContenderSpec


def trial_identity(case_id: str, case_identity: dict, spec: str, repeat: int, sweep: dict) -> str:
    """Same case (id and content), contender, repeat and sweep point -> same trial.

    The case id is part of it so two cases with the same text stay two trials.
    """
    payload = json.dumps({"case_id": case_id, "case": case_identity, "spec": spec, "repeat": repeat,
                          "sweep": sweep},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Trial:
    spec: ContenderSpec
    case: Any  # bakeoff.suite.Case
    repeat: int
    sweep: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return trial_identity(self.case.id, self.case.identity(), self.spec.canonical, self.repeat, self.sweep)


def make_plan(specs: list[ContenderSpec] | list[tuple[ContenderSpec, dict]], cases: list,
              repeat: int = 1) -> list[Trial]:
    """Ordered contender by contender, so each model is loaded once. ``specs`` may carry the
    sweep point of each variant (see expand_sweeps)."""
    pairs = [s if isinstance(s, tuple) else (s, {}) for s in specs]
    return [Trial(spec, case, r, dict(point)) for spec, point in pairs for case in cases for r in range(repeat)]


def expand_sweeps(specs: list[ContenderSpec], sweeps: list[str]) -> list[tuple[ContenderSpec, dict]]:
    """``--sweep quant=Q8_0,Q4_K_M`` (repeatable; several multiply): each contender becomes one
    variant per value, with the value set as a spec option (validated like any option)."""
    import itertools

    from bakeoff.errors import InputError
    from bakeoff.spec import parse_spec

    axes: list[tuple[str, list[str]]] = []
    for text in sweeps:
        key, eq, values = text.partition("=")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not eq or not key.strip() or not items:
            raise InputError(f"--sweep takes KEY=V1,V2,..., got {text!r}")
        if key in {k for k, _ in axes}:
            raise InputError(f"--sweep {key} given twice")
        axes.append((key.strip(), items))
    if not axes:
        return [(s, {}) for s in specs]
    out = []
    for spec in specs:
        for combo in itertools.product(*(values for _, values in axes)):
            point = dict(zip((k for k, _ in axes), combo))
            options = {**{k: str(v).lower() if isinstance(v, bool) else v for k, v in spec.options.items()}, **point}
            # "none" leaves the option unset: --sweep lora=none,adapter.gguf compares with the base.
            options = {k: v for k, v in options.items() if not (k in point and str(v).lower() == "none")}
            query = "&".join(f"{k}={v}" for k, v in options.items())
            variant = parse_spec(f"{spec.backend}:{spec.model}?{query}")
            out.append((variant, {k: variant.options.get(k, "none") for k in point}))
    return out
