"""Choosing what to show in a blind A/B rating, and keeping the hidden order server-side.

A *cell* is a (case, contender X, contender Y) with an answer from both. Cells not rated yet
come first, so a person rating for a while sees every case before any repeats; within a cell
one successful repeat of each side is drawn at random, and a coin decides which side is shown
as A. The page only gets an opaque token: which trial is behind A and B stays on the server
until the verdict is in.
"""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class BlindPair:
    case_id: str
    trial_a: str   # shown first, as "A"
    spec_a: str
    trial_b: str   # shown second, as "B"
    spec_b: str


def answered(trials) -> dict[tuple[str, str], list]:
    """Successful trials by (case id, contender): the answers that can be compared."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    for t in trials:
        if t["status"] == "ok" and t["output"] is not None:
            out[(t["case_id"], t["spec"])].append(t)
    return out


def choose_pair(trials, rated_cells: set[tuple[str, str, str]], x: str | None = None, y: str | None = None,
                rng: random.Random | None = None) -> BlindPair | None:
    """A random pair of answers to the same case from two different contenders (``x`` and ``y`` if given).

    ``rated_cells``: (case id, spec, spec) with the specs sorted, for cells already rated.
    Returns None when no two contenders answered a common case.
    """
    rng = rng or random.SystemRandom()
    by_cell = answered(trials)
    specs_by_case: dict[str, set[str]] = defaultdict(set)
    for case_id, spec in by_cell:
        specs_by_case[case_id].add(spec)
    cells = []
    for case_id, specs in specs_by_case.items():
        if x and y:
            pairs = [tuple(sorted((x, y)))] if x != y and {x, y} <= specs else []
        else:
            pairs = list(itertools.combinations(sorted(specs), 2))
        cells += [(case_id, p, q) for p, q in pairs]
    if not cells:
        return None
    fresh = [c for c in cells if c not in rated_cells]
    case_id, p, q = rng.choice(fresh or cells)
    tp, tq = rng.choice(by_cell[(case_id, p)]), rng.choice(by_cell[(case_id, q)])
    if rng.random() < 0.5:
        tp, tq, p, q = tq, tp, q, p
    return BlindPair(case_id, tp["id"], p, tq["id"], q)


class PendingPairs:
    """Pairs shown and not rated yet, by token. Bounded: the oldest are forgotten first."""

    def __init__(self, limit: int = 1000):
        self.limit = limit
        self._pairs: dict[str, tuple[float, BlindPair]] = {}
        self._lock = threading.Lock()

    def add(self, pair: BlindPair) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._pairs[token] = (time.monotonic(), pair)
            while len(self._pairs) > self.limit:
                self._pairs.pop(next(iter(self._pairs)))
        return token

    def take(self, token: str) -> BlindPair | None:
        """The pair behind a token, once: a second post of the same form does not count twice."""
        with self._lock:
            entry = self._pairs.pop(token, None)
        return entry[1] if entry else None
