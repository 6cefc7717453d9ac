"""CI gates: `bakeoff run --fail-under PASS_RATE --max-ttft-ms MS --max-e2e-ms MS`.

After the run is stored, every contender of the run's plan is held to the thresholds; any
shortfall makes the command exit 1 with a one-screen summary, so a model upgrade can be gated
in CI. What counts:

- pass rate: passed / (judged trials + trials that ended in an error on a case with checks).
  An error is a failed attempt here, unlike in the matrix (where the pass rate is over the
  trials that produced an answer): a gate must not pass because a model crashed.
- latency: the median TTFT (over the cold trials: no cached prompt prefix) / E2E over the
  contender's successful trials, as in the matrix.

Only the trials of this invocation's plan count (including those skipped because they were
already in the database), not whatever else the database holds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from bakeoff.errors import InputError
from bakeoff.util.stats import is_cold, median, wilson_interval

# Lines of detail before the summary says "and N more": one screen.
MAX_LINES = 20
MAX_CASES_LISTED = 8


def parse_pass_rate(text: str) -> float:
    """``0.8`` or ``80%`` -> 0.8."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(f"--fail-under takes a pass rate such as 0.8 or 80%, got {text!r}") from None
    if not 0 <= value <= 1:
        raise InputError(f"--fail-under must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return value


@dataclass
class Thresholds:
    fail_under: float | None = None   # minimum pass rate, 0..1
    max_ttft_ms: float | None = None  # maximum median TTFT
    max_e2e_ms: float | None = None   # maximum median E2E latency

    def any(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def as_text(self) -> str:
        parts = []
        if self.fail_under is not None:
            parts.append(f"pass rate >= {self.fail_under * 100:g}% (errors count as failures)")
        if self.max_ttft_ms is not None:
            parts.append(f"median TTFT <= {self.max_ttft_ms:g} ms")
        if self.max_e2e_ms is not None:
            parts.append(f"median E2E <= {self.max_e2e_ms:g} ms")
        return ", ".join(parts)


@dataclass
class Shortfall:
    spec: str
    figure: str          # pass_rate | ttft_ms_median | e2e_ms_median
    value: float | None  # None: the figure could not be computed
    limit: float
    detail: str          # one line for the summary


@dataclass
class GateResult:
    thresholds: Thresholds
    contenders: list[dict[str, Any]] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.shortfalls

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "thresholds": asdict(self.thresholds), "contenders": self.contenders,
                "shortfalls": [asdict(s) for s in self.shortfalls]}


def _has_checks(trial) -> bool:
    try:
        return bool(json.loads(trial["case_json"] or "{}").get("checks"))
    except (TypeError, ValueError, AttributeError):
        return False


def gate_rows(trials) -> list[dict[str, Any]]:
    """Per contender, the figures the gates read."""
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        by_spec[t["spec"]].append(t)
    rows = []
    for spec, ts in by_spec.items():
        ok = [t for t in ts if t["status"] == "ok"]
        judged = [t for t in ok if t["passed"] is not None]
        errored = [t for t in ts if t["status"] != "ok" and _has_checks(t)]
        passed = sum(t["passed"] == 1 for t in judged)
        attempts = len(judged) + len(errored)
        ci = wilson_interval(passed, attempts)
        failing = sorted({t["case_id"] for t in judged if t["passed"] == 0} | {t["case_id"] for t in errored})
        rows.append({
            "spec": spec, "trials": len(ts), "passed": passed, "attempts": attempts, "errors": len(ts) - len(ok),
            "pass_rate": passed / attempts if attempts else None, "pass_rate_ci": list(ci) if ci else None,
            "ttft_ms_median": median(t["ttft_ms"] for t in ok if is_cold(t)), "e2e_ms_median": median(t["e2e_ms"] for t in ok),
            "failing_cases": failing,
        })
    return rows


def check_gates(rows: list[dict[str, Any]], thresholds: Thresholds) -> GateResult:
    result = GateResult(thresholds, contenders=rows)
    for r in rows:
        # an architecture twin's answers come from random weights: only its speed can be gated
        if thresholds.fail_under is not None and not r["spec"].startswith("twin:"):
            rate = r["pass_rate"]
            if rate is None:
                result.shortfalls.append(Shortfall(r["spec"], "pass_rate", None, thresholds.fail_under,
                                                   "pass rate unknown: no trial was judged (no checks?)"))
            elif rate < thresholds.fail_under:
                ci = r["pass_rate_ci"]
                cases = r["failing_cases"]
                listed = ", ".join(cases[:MAX_CASES_LISTED]) + (f", and {len(cases) - MAX_CASES_LISTED} more"
                                                                 if len(cases) > MAX_CASES_LISTED else "")
                errors = f", {r['errors']} errors" if r["errors"] else ""
                result.shortfalls.append(Shortfall(
                    r["spec"], "pass_rate", rate, thresholds.fail_under,
                    f"pass rate {rate * 100:.0f}% ({r['passed']} of {r['attempts']}{errors}; 95% CI "
                    f"{ci[0] * 100:.0f}–{ci[1] * 100:.0f}%) < {thresholds.fail_under * 100:g}%; failing: {listed}"))
        for key, limit, name in (("ttft_ms_median", thresholds.max_ttft_ms, "median TTFT"),
                                 ("e2e_ms_median", thresholds.max_e2e_ms, "median E2E")):
            if limit is None:
                continue
            value = r[key]
            if value is None:
                result.shortfalls.append(Shortfall(r["spec"], key, None, limit,
                                                   f"{name} unknown: no successful trial"))
            elif value > limit:
                result.shortfalls.append(Shortfall(r["spec"], key, value, limit,
                                                   f"{name} {value:.0f} ms > {limit:g} ms"))
    return result


def format_summary(result: GateResult) -> str:
    """One screen: what fell short, per contender; or one line when every gate was met."""
    n = len(result.contenders)
    if result.passed:
        return f"gates met by all {n} contenders: {result.thresholds.as_text()}\n"
    failing_specs = list(dict.fromkeys(s.spec for s in result.shortfalls))
    lines = [f"gates FAILED: {len(result.shortfalls)} shortfalls in {len(failing_specs)} of {n} contenders "
             f"(required: {result.thresholds.as_text()})"]
    detail = []
    for spec in failing_specs:
        detail.append(f"  {spec}")
        detail += [f"    {s.detail}" for s in result.shortfalls if s.spec == spec]
    if len(detail) > MAX_LINES:
        detail = detail[:MAX_LINES] + [f"  ... and {len(detail) - MAX_LINES} more lines (--json has them all)"]
    return "\n".join(lines + detail) + "\n"


def gate_plan(db, trial_ids: set[str], thresholds: Thresholds) -> GateResult:
    """The gates over the stored trials of a plan (``bakeoff run``'s, after it is stored)."""
    return check_gates(gate_rows([t for t in db.trials() if t["id"] in trial_ids]), thresholds)
