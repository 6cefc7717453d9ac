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


def make_plan(specs: list[ContenderSpec], cases: list, repeat: int = 1) -> list[Trial]:
    """Ordered contender by contender, so each model is loaded once."""
    return [Trial(spec, case, r) for spec in specs for case in cases for r in range(repeat)]
