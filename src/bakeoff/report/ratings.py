"""Win rates from blind A/B ratings, with 95% Wilson intervals, shown beside the automatic checks.

Per contender: the share of the ratings it took part in where its output was preferred (ties
and "both bad" count as not preferred and are given apart). Per pair: the share of the
decisive ratings (A or B better) each side won.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bakeoff.util.stats import wilson_interval


def win_rates(ratings: list[dict]) -> dict[str, Any]:
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"rated": 0, "wins": 0, "losses": 0, "ties": 0, "both_bad": 0})
    pairs: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"n": 0, "x_wins": 0, "y_wins": 0, "ties": 0, "both_bad": 0})
    for r in ratings:
        a, b, verdict = r["spec_a"], r["spec_b"], r["verdict"]
        for spec in (a, b):
            per[spec]["rated"] += 1
        if verdict in ("a", "b"):
            winner, loser = (a, b) if verdict == "a" else (b, a)
            per[winner]["wins"] += 1
            per[loser]["losses"] += 1
        else:
            for spec in (a, b):
                per[spec]["ties" if verdict == "tie" else "both_bad"] += 1
        x, y = sorted((a, b))
        p = pairs[(x, y)]
        p["n"] += 1
        if verdict in ("a", "b"):
            p["x_wins" if r["winner_spec"] == x else "y_wins"] += 1
        else:
            p["ties" if verdict == "tie" else "both_bad"] += 1
    contenders = {}
    for spec, c in per.items():
        ci = wilson_interval(c["wins"], c["rated"])
        contenders[spec] = {**c, "win_rate": c["wins"] / c["rated"] if c["rated"] else None,
                            "win_rate_ci": list(ci) if ci else None}
    pair_rows = []
    for (x, y), p in sorted(pairs.items()):
        decisive = p["x_wins"] + p["y_wins"]
        ci = wilson_interval(p["x_wins"], decisive)
        pair_rows.append({"x": x, "y": y, **p, "x_win_share": p["x_wins"] / decisive if decisive else None,
                          "x_win_share_ci": list(ci) if ci else None})
    return {"ratings": len(ratings), "contenders": contenders, "pairs": pair_rows,
            "definition": "win rate: ratings where the contender's output was preferred / ratings it took part in "
                          "(ties and both-bad count as not preferred), 95% Wilson interval; per pair: the share of "
                          "decisive ratings (A or B better) each side won"}
