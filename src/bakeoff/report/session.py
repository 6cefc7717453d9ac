"""Repository sessions (``bakeoff repo PATH --session N``): figures per contender, read from the
stored sessions and turns (bakeoff.store.sessions). Definitions:

- **accuracy by turn**: the mean score of turn T over the contender's sessions (repeats); the
  **slope** is the least-squares slope of score against turn number over every scored turn, given
  per 10 turns (negative: it gets worse as the session goes on);
- **self-consistency**: of the re-asks, the share answered with the same set (normalised) as the
  first time the fact was asked in that session;
- **contradictions**: turns whose answer differs from an earlier answer of the same session about
  the same fact (re-asks, follow-ups, pushback answers, repeated questions);
- **pushback resistance**: of the pushback turns, the share where the model held (said the claim
  was wrong and left it out of its answer); gave-in and unclear counted beside it;
- **context**: the first turn whose prompt no longer fit the context (then the earliest exchanges
  after the files are left out, or the session stops), and the accuracy after it;
- **TTFT and prefill**: per turn, the median over sessions; turn 1 is cold (the whole repository;
  the cold figure counts only first turns that reused nothing), later turns warm (the engine
  reuses the conversation's prefix; the label says how much);
- **session wall time**: the sum over its turns of send -> scored, per session (across resumes).
Repeats give the spread: each session's accuracy, min and max.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict

from bakeoff.store import Database
from bakeoff.suite.repo.session import key_text


def _seconds(a: str | None, b: str | None) -> float:
    if not a or not b:
        return 0.0
    return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y on x; None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def consistency(turns: list[dict]) -> dict:
    """Re-asks answered as the first time, and contradictions of earlier answers, in one session."""
    first: dict[str, tuple[int, list]] = {}
    earlier: dict[str, list[tuple[int, list]]] = defaultdict(list)
    reasks, same, contradictions = 0, 0, []
    for t in turns:
        if t["reply"] is None or not t["fact"]:
            continue
        answer = sorted(json.loads(t["answer"] or "[]"))
        fact = t["fact"]
        if t["kind"] == "reask" and fact in first:
            reasks += 1
            same += answer == first[fact][1]
        for turn_no, before in earlier.get(fact, []):
            if answer != before:
                contradictions.append({"turn": t["turn"], "earlier_turn": turn_no, "fact": fact,
                                       "answer": answer, "earlier_answer": before})
                break
        if answer:  # an empty answer says nothing that could be contradicted
            first.setdefault(fact, (t["turn"], answer))
            earlier[fact].append((t["turn"], answer))
    return {"reasks": reasks, "same": same, "contradictions": contradictions}


def session_data(db: Database, run_id: str | None = None) -> list[dict]:
    """One entry per (repository plan, contender): its sessions, turns and figures."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for s in db.all_sessions(run_id):
        groups[(s["plan"], s["spec"])].append(s)
    out = []
    for (plan_text, spec), sessions in groups.items():
        plan = json.loads(plan_text)
        entries = []
        for s in sorted(sessions, key=lambda s: s["repeat"]):
            turns = [dict(t, key=key_text(plan["turns"][t["turn"] - 1]["key"])) for t in db.session_turns(s["id"])]
            entries.append({"id": s["id"], "repeat": s["repeat"], "status": s["status"], "error": s["error"],
                            "context_full_turn": s["context_full_turn"], "turns": turns,
                            "wall_s": sum(_seconds(t["started_at"], t["finished_at"]) for t in turns),
                            **_session_figures(turns, s["context_full_turn"])})
        out.append({"repo": sessions[0]["repo"], "spec": spec, "planned_turns": len(plan["turns"]),
                    "files": plan["files"], "packed_tokens": plan["packed_tokens"], "defect": _defect_summary(plan),
                    "keys": {t["turn"]: t for t in plan["turns"]}, "sessions": entries,
                    "figures": _contender_figures(entries)})
    return out


def _defect_summary(plan: dict) -> dict | None:
    d = plan.get("defect")
    return None if d is None else {k: d[k] for k in ("kind", "file", "lines", "description")}


def _session_figures(turns: list[dict], full_turn: int | None) -> dict:
    scored = [t for t in turns if t["score"] is not None]
    c = consistency(turns)
    push = [t for t in turns if t["kind"] == "pushback" and t["reply"] is not None]
    after = [t["score"] for t in scored if full_turn is not None and t["turn"] >= full_turn]
    return {"accuracy": sum(t["score"] for t in scored) / len(scored) if scored else None,
            "turns_done": len(scored), "reasks": c["reasks"], "reasks_same": c["same"],
            "contradictions": c["contradictions"],
            "pushback": {o: sum(t["outcome"] == o for t in push) for o in ("held", "gave_in", "unclear")},
            "accuracy_after_full": sum(after) / len(after) if after else None,
            "dropped_turns": max((t["dropped_turns"] or 0 for t in turns), default=0),
            "defect_found": next((bool(t["passed"]) for t in turns if t["kind"] == "defect_find" and t["reply"] is not None), None),
            "fix": next((t["outcome"] for t in turns if t["kind"] == "defect_fix" and t["reply"] is not None), None)}


def _contender_figures(entries: list[dict]) -> dict:
    by_turn: dict[int, list[dict]] = defaultdict(list)
    for e in entries:
        for t in e["turns"]:
            by_turn[t["turn"]].append(t)
    curve = []
    for n in sorted(by_turn):
        rows = by_turn[n]
        scores = [t["score"] for t in rows if t["score"] is not None]
        warm = [t["ttft_ms"] for t in rows if t["cache_warm"]]
        curve.append({"turn": n, "kind": rows[0]["kind"], "accuracy": sum(scores) / len(scores) if scores else None,
                      "sessions": len(scores), "min": min(scores, default=None), "max": max(scores, default=None),
                      "ttft_ms": _median([t["ttft_ms"] for t in rows]), "warm": bool(warm),
                      "prefill_tps": _median([t["engine_prefill_tps"] for t in rows]),
                      "prompt_tokens": _median([t["prompt_tokens"] for t in rows]),
                      "evaluated_tokens": _median([t["engine_prompt_n"] for t in rows])})
    points = [(t["turn"], t["score"]) for e in entries for t in e["turns"] if t["score"] is not None]
    s = slope(points)
    reasks = sum(e["reasks"] for e in entries)
    push = {o: sum(e["pushback"][o] for e in entries) for o in ("held", "gave_in", "unclear")}
    pushed = sum(push.values())
    accuracies = [e["accuracy"] for e in entries if e["accuracy"] is not None]
    # Only a first turn that reused nothing is a cold one (a server may hold an earlier session's files).
    first = [t["ttft_ms"] for e in entries for t in e["turns"]
             if t["turn"] == 1 and t["cache_cold"] and t["ttft_ms"] is not None]
    warm = [t["ttft_ms"] for e in entries for t in e["turns"] if t["cache_warm"] and t["ttft_ms"] is not None]
    walls = [e["wall_s"] for e in entries]
    full = [e["context_full_turn"] for e in entries if e["context_full_turn"] is not None]
    return {
        "curve": curve,
        "accuracy": sum(accuracies) / len(accuracies) if accuracies else None,
        "accuracy_per_session": accuracies,
        "accuracy_spread": (max(accuracies) - min(accuracies)) if len(accuracies) > 1 else None,
        "slope_per_10_turns": None if s is None else s * 10,
        "self_consistency": sum(e["reasks_same"] for e in entries) / reasks if reasks else None,
        "reasks": reasks,
        "contradictions": sum(len(e["contradictions"]) for e in entries),
        "pushback_resistance": push["held"] / pushed if pushed else None,
        "pushback": push,
        "context_full_turn": min(full) if full else None,
        "context_full_sessions": len(full),
        "after_full": ("stopped" if any(e["status"] == "stopped" for e in entries) else
                       f"history trimmed (up to {max(e['dropped_turns'] for e in entries)} early turns left out)"
                       if full else None),
        "accuracy_after_full": _median([e["accuracy_after_full"] for e in entries]),
        "defect_found": [e["defect_found"] for e in entries],
        "fix": [e["fix"] for e in entries],
        "cold_ttft_ms": _median(first),
        "warm_ttft_ms": _median(warm),
        "wall_s": walls,
        "turns": [e["turns_done"] for e in entries],
        "statuses": [e["status"] for e in entries],
    }


def _fmt(v, spec: str = ".2f", unit: str = "") -> str:
    return "—" if v is None else f"{v:{spec}}{unit}"


def session_lines(groups: list[dict]) -> list[str]:
    """The terminal report: per contender its figures, then its accuracy curve."""
    lines = []
    for g in groups:
        f = g["figures"]
        sessions = len(g["sessions"])
        lines.append(f"{g['spec']} — {g['repo']}: {sessions} session{'s' if sessions > 1 else ''} of "
                     f"{g['planned_turns']} turns over {len(g['files'])} files ({g['packed_tokens']} tokens)")
        per = ", ".join(_fmt(a) for a in f["accuracy_per_session"])
        lines.append(f"  accuracy {_fmt(f['accuracy'])} (per session: {per or '—'}); slope "
                     f"{_fmt(f['slope_per_10_turns'], '+.2f')} per 10 turns")
        lines.append(f"  self-consistency {_fmt(f['self_consistency'])} ({f['reasks']} re-asks); contradictions "
                     f"{f['contradictions']}; pushback resistance {_fmt(f['pushback_resistance'])} "
                     f"(held {f['pushback']['held']}, gave in {f['pushback']['gave_in']}, unclear {f['pushback']['unclear']})")
        if g["defect"]:
            found = ", ".join("found" if x else "missed" if x is False else "—" for x in f["defect_found"])
            lines.append(f"  seeded {g['defect']['kind']} in {g['defect']['file']}: {found}; fix: "
                         + ", ".join(x or "—" for x in f["fix"]))
        full = f["context_full_turn"]
        lines.append("  context: " + ("never ran out" if full is None else
                                      f"ran out at turn {full} in {f['context_full_sessions']} of {sessions} sessions; "
                                      f"then {f['after_full']}; accuracy after {_fmt(f['accuracy_after_full'])}"))
        walls = ", ".join(f"{w / 60:.1f} min" for w in f["wall_s"])
        lines.append(f"  TTFT: turn 1 (cold) {_fmt(f['cold_ttft_ms'], '.0f', ' ms')}, later turns (warm) median "
                     f"{_fmt(f['warm_ttft_ms'], '.0f', ' ms')}; session wall time {walls} "
                     f"({', '.join(map(str, f['turns']))} turns); status {', '.join(f['statuses'])}")
        lines.append("  turn     " + " ".join(f"{c['turn']:>5}" for c in f["curve"]))
        lines.append("  kind     " + " ".join(f"{_KIND_MARK[c['kind']]:>5}" for c in f["curve"]))
        lines.append("  accuracy " + " ".join(f"{_fmt(c['accuracy'], '.2f'):>5}" for c in f["curve"]))
        lines.append("  TTFT s   " + " ".join(f"{_fmt(None if c['ttft_ms'] is None else c['ttft_ms'] / 1000, '.1f'):>5}"
                                              for c in f["curve"]))
    if groups:
        lines.append("  kinds: " + ", ".join(f"{m} {k}" for k, m in _KIND_MARK.items()))
    return lines


_KIND_MARK = {"question": "Q", "trace": "T", "followup": "F", "defect_find": "D", "defect_fix": "X",
              "reask": "R", "pushback": "P"}
