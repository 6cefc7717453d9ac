"""Drift over a conversation, from the per-turn table (``turns``, migration m007).

Per contender: accuracy against the turn index (over the turns that have checks), its slope,
and for consistency probes how often a later answer agrees with the first one and with the
truth. Only conversations that finished (trial status ``ok``) count.

Two kinds of agreement, both reported:

- ``agreement_text``: the answer equals the first answer after normalisation (lower case,
  punctuation and markup dropped, whitespace collapsed); an empty answer agrees with nothing.
- ``agreement_outcome``: the answer has the same truth-check outcome as the first answer; only
  for probes whose first answer is checked against the truth (``establish: {truth: true}``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bakeoff.util.answers import normal_form

AGREEMENT_TEXT = ("the later answer equals the first answer after normalisation (lower case, punctuation "
                  "and markup dropped, whitespace collapsed)")
AGREEMENT_OUTCOME = "the later answer has the same truth-check outcome as the first answer"
CLIP = 200


def normalise(text: str | None) -> str:
    """The form of AGREEMENT_TEXT: a probe's later answer agrees when it equals the first here."""
    return normal_form(text, fold=str.lower, drop_punctuation=True)


def _rate(values: list[Any]) -> float | None:
    known = [bool(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _slope(points: list[tuple[int, int]]) -> float | None:
    """Least-squares slope of pass (1/0) against turn index: accuracy change per turn."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"


def probe_answers(turns: list[Any], establish_truth: bool) -> list[dict[str, Any]]:
    """Each asked-again answer of one probe conversation, compared with the first answer."""
    first = next((t for t in turns if t["role"] == "establish"), None)
    if first is None:
        return []
    base = normalise(first["reply"])
    out = []
    for t in turns:
        if t["role"] != "ask":
            continue
        text = normalise(t["reply"])
        outcome = None
        if establish_truth and first["passed"] is not None and t["passed"] is not None:
            outcome = first["passed"] == t["passed"]
        out.append({
            "turn": t["turn"], "question": t["user"], "first_answer": _clip(first["reply"]),
            "answer": _clip(t["reply"]), "agrees_text": bool(base) and text == base,
            "agrees_outcome": outcome, "truth": None if t["passed"] is None else bool(t["passed"]),
        })
    return out


def drift_rows(db, run_id: str | None = None) -> list[dict[str, Any]]:
    """One dict per contender that had conversations (see the module docstring)."""
    by_trial: dict[str, list[Any]] = defaultdict(list)
    for row in db.turns(run_id):
        if row["status"] == "ok":
            by_trial[row["trial_id"]].append(row)
    by_spec: dict[str, list[list[Any]]] = defaultdict(list)
    for rows in by_trial.values():
        by_spec[rows[0]["spec"]].append(sorted(rows, key=lambda r: r["turn"]))

    out = []
    for spec, conversations in by_spec.items():
        per_turn: dict[int, list[int]] = defaultdict(list)
        for rows in conversations:
            for t in rows:
                if t["passed"] is not None:
                    per_turn[t["turn"]].append(int(t["passed"]))
        points = [(turn, p) for turn, passes in per_turn.items() for p in passes]

        answers, establish_truth, n_probes = [], [], 0
        for rows in conversations:
            probe = json.loads(rows[0]["case_json"] or "{}").get("probe")
            if probe is None:
                continue
            n_probes += 1
            first = next((t for t in rows if t["role"] == "establish"), None)
            if probe.get("establish_truth") and first is not None:
                establish_truth.append(first["passed"])
            for a in probe_answers(rows, bool(probe.get("establish_truth"))):
                answers.append({"case_id": rows[0]["case_id"], "repeat": rows[0]["repeat"], **a})

        by_ask: dict[int, list[dict]] = defaultdict(list)
        for a in answers:
            by_ask[a["turn"]].append(a)
        out.append({
            "spec": spec,
            "conversations": len(conversations),
            "turns": max(len(rows) for rows in conversations),
            "accuracy_by_turn": [
                {"turn": turn, "checked": len(p), "passed": sum(p), "accuracy": sum(p) / len(p)}
                for turn, p in sorted(per_turn.items())
            ],
            "accuracy_slope_per_turn": _slope(points),
            "probes": None if not n_probes else {
                "conversations": n_probes,
                "asks": len(answers),
                "agreement_text": _rate([a["agrees_text"] for a in answers]),
                "agreement_outcome": _rate([a["agrees_outcome"] for a in answers]),
                "truth_accuracy": _rate([a["truth"] for a in answers]),
                "establish_truth_accuracy": _rate(establish_truth),
                "agreement_methods": {"agreement_text": AGREEMENT_TEXT, "agreement_outcome": AGREEMENT_OUTCOME},
                "by_ask_turn": [
                    {"turn": turn, "asks": len(items),
                     "agreement_text": _rate([a["agrees_text"] for a in items]),
                     "agreement_outcome": _rate([a["agrees_outcome"] for a in items]),
                     "truth_accuracy": _rate([a["truth"] for a in items])}
                    for turn, items in sorted(by_ask.items())
                ],
                "answers": answers,
            },
        })
    return out
