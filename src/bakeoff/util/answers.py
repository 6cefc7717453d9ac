"""Reading model answers: the one normaliser two answers are compared in, and the JSON values
found in a reply.

Callers compare answers under different rules, each chosen on purpose and kept by parameters:
repeats of one case (flaky, variants, side by side, view) differ when anything but whitespace
differs; the agreement figure (stability) also ignores case; a conversation's drift also ignores
punctuation and markup ("**PostgreSQL.**" and "postgresql" are the same answer there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_NOT_WORD = re.compile(r"[^\w\s]|_")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def normal_form(text: str | None, fold: Callable[[str], str] | None = None,
                     drop_punctuation: bool = False) -> str:
    """Whitespace runs collapsed to one space; ``fold`` (str.casefold or str.lower) applied
    first where case does not count; with ``drop_punctuation``, every character that is not a
    letter, digit or space (underscore included) read as a space."""
    text = text or ""
    if fold is not None:
        text = fold(text)
    if drop_punctuation:
        text = _NOT_WORD.sub(" ", text)
    return " ".join(text.split())


def json_values(text: str) -> list[Any]:
    """JSON values found in a reply: fenced blocks first, then from each '[' or '{' onward."""
    found, decoder = [], json.JSONDecoder()
    for chunk in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        i = 0
        while i < len(chunk):
            j = min((k for k in (chunk.find("[", i), chunk.find("{", i)) if k >= 0), default=-1)
            if j < 0:
                break
            try:
                value, end = decoder.raw_decode(chunk, j)
            except ValueError:
                i = j + 1
                continue
            found.append(value)
            i = end
    return found
