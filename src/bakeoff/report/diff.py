"""A word-level diff of two outputs, for the side-by-side views (report and viewer).

The result is a list of (operation, text) pieces; templates render each piece as escaped text
inside a <span> that says whether it was kept, removed or added: the diff never produces markup.
"""

from __future__ import annotations

import difflib
import re

# Words, runs of whitespace, and single punctuation marks: whitespace is kept so that the
# pieces put back together are exactly the two texts.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
# Beyond this many tokens a side is diffed only up to there (SequenceMatcher is quadratic in
# the worst case); the rest is shown as it is and the diff says so.
MAX_TOKENS = 3000


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def word_diff(reference: str | None, other: str | None) -> dict:
    """Pieces turning ``reference`` into ``other``: ("equal" | "delete" | "insert", text)."""
    a, b = tokens(reference or ""), tokens(other or "")
    truncated = len(a) > MAX_TOKENS or len(b) > MAX_TOKENS
    a_cut, b_cut = a[:MAX_TOKENS], b[:MAX_TOKENS]
    pieces: list[tuple[str, str]] = []

    def add(op: str, parts: list[str]) -> None:
        text = "".join(parts)
        if not text:
            return
        if pieces and pieces[-1][0] == op:
            pieces[-1] = (op, pieces[-1][1] + text)
        else:
            pieces.append((op, text))

    matcher = difflib.SequenceMatcher(None, a_cut, b_cut, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            add("equal", a_cut[i1:i2])
        else:
            add("delete", a_cut[i1:i2])
            add("insert", b_cut[j1:j2])
    if truncated:
        add("delete", a[MAX_TOKENS:])
        add("insert", b[MAX_TOKENS:])
    return {"pieces": pieces, "identical": a == b, "truncated": truncated}
