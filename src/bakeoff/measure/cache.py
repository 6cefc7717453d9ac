"""Prefix caches: what a trial's prefill reused, and whether its TTFT counts as a cold one.

Every server bakeoff talks to can answer a prompt from a cached prefix (a repeat, a case sharing
a long system prompt with the one before it, a conversation's earlier turns). A timed trial is
cold unless the user asks otherwise: a backend sends the server's per-request switch where one
exists, and reports what the engine says it reused as a ``cache`` event::

    {"type": "cache", "control": str, "cached_tokens": int | None, "source": str | None}

``control`` is what was done to keep the prefill cold (or, for a conversation's later turns, to
let it reuse the conversation's own turns); ``cached_tokens`` the prompt tokens the engine says
came from its cache (None: the engine does not say).

Each trial (and each turn of a conversation) then gets one label, shown in every view, and a
``cache_cold`` flag: only cold trials enter the cold TTFT and prefill medians.

- ``cold: 0 of M prompt tokens cached (SOURCE)``: the engine said so;
- ``prefix-cached: N of M prompt tokens (SOURCE)``: left out of the cold medians;
- ``warm: ...``: a conversation's later turn, reusing its own earlier turns on purpose;
- ``cache: not reported; ...``: the server does not say. With a per-request switch sent, or a
  cache-busting prefix that makes the prompt unique, it counts as cold (the label says why).
  Otherwise bakeoff compares the prompt with the requests it sent earlier in the run to the same
  server: when a tenth or more of it (in characters) is a prefix it already sent, the trial may
  have been answered from the cache and is left out of the cold medians (``may be
  prefix-cached``).
"""

from __future__ import annotations

import bisect
import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

# Share of a prompt (in characters) that, already sent to the same server, makes a trial whose
# cache use is not reported count as possibly cached. Below it the reused part could change the
# prefill by at most about this share.
SHARED_LIMIT = 0.10

# ``control`` values
KV_CLEARED = "KV cache cleared (in-process)"
WARM = "warm: the conversation's own earlier turns"
NO_CONTROL = "none: the server takes no per-request switch"
BUST = "cache-busting prefix"


def bust_prefix() -> str:
    """A few tokens that make a prompt unique, at its very start, so no cached prefix matches it."""
    return f"[cache-bust {uuid.uuid4().hex[:8]}]\n"


def with_bust(messages: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The messages with ``prefix`` at the start of the first message's text."""
    if not messages:
        return messages
    first = dict(messages[0])
    first["content"] = prefix + (first.get("content") or "")
    return [first, *messages[1:]]


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The messages as one string, to compare the prefixes of two requests (images left out)."""
    parts = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(f"<{m.get('role')}>{content or ''}{m.get('tool_calls') or ''}")
    return "\n".join(parts)


def _shared(a: str, b: str) -> int:
    """Length of the common prefix of a and b (binary search on slices: C speed on long prompts)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class Ledger:
    """What one run sent to one server: the prompts (for the shared-prefix test) and, for a
    server that reports only the tokens it evaluated (Ollama), the most it ever evaluated for
    each prompt (the prompt's full token count)."""

    sent: list[str] = field(default_factory=list)  # sorted
    evaluated: dict[str, tuple[int, bool]] = field(default_factory=dict)  # (tokens, first time was cold)

    def shared_with_earlier(self, text: str) -> int:
        """The longest prefix of ``text`` (characters) already sent in an earlier request: in sorted
        order the string sharing the longest prefix with ``text`` is one of its two neighbours."""
        i = bisect.bisect_left(self.sent, text)
        return max((_shared(text, self.sent[j]) for j in (i - 1, i) if 0 <= j < len(self.sent)), default=0)

    def add(self, text: str) -> None:
        i = bisect.bisect_left(self.sent, text)
        if i == len(self.sent) or self.sent[i] != text:
            self.sent.insert(i, text)


@dataclass
class CacheFigures:
    control: str | None = None
    cached_tokens: int | None = None
    source: str | None = None
    label: str | None = None
    cold: bool | None = None
    warm: bool = False

    def columns(self) -> dict[str, Any]:
        """The trial row's (or turn row's) cache columns."""
        return {"cache_control": self.control, "cached_tokens": self.cached_tokens, "cache_source": self.source,
                "cache_label": self.label, "cache_cold": None if self.cold is None else int(self.cold),
                "cache_warm": int(self.warm)}


def classify(event: dict[str, Any] | None, prompt_tokens: int | None, text: str, ledger: Ledger | None,
             warm: bool = False, bust: bool = False) -> CacheFigures:
    """The label and cold flag of one request from its ``cache`` event (None: the backend sent
    none), its prompt tokens, its prompt text, and what the run sent the same server before."""
    event = event or {}
    control = BUST if bust else event.get("control") or NO_CONTROL
    if warm:
        control = WARM
    cached, source = event.get("cached_tokens"), event.get("source")
    prompt_tokens = event.get("prompt_tokens") or prompt_tokens  # llama-server: prompt_n + cache_n
    evaluated = event.get("evaluated_tokens")
    shared = ledger.shared_with_earlier(text) if ledger is not None else 0
    suspect = bool(text) and shared >= SHARED_LIMIT * len(text)  # a prefix of it was sent before
    at_least = ""
    if cached is None and evaluated is not None and ledger is not None:
        # Ollama counts only the prompt tokens it evaluated: fewer than it evaluated for the same
        # prompt before means the rest came from its cache. When that first time may itself have
        # been served partly from the cache, the full count is unknown and N is a lower bound.
        full, exact = ledger.evaluated.get(text, (None, not suspect))
        if full is not None and evaluated < full:
            cached = full - evaluated
            prompt_tokens = full if exact else None
            at_least = "" if exact else "at least "
            source = f"{source}: {evaluated} evaluated, {full} when this prompt was first sent"
        elif full is not None and exact:  # evaluated in full again: nothing came from the cache
            cached, prompt_tokens = 0, evaluated
            source = f"{source}: the whole prompt evaluated again"
        ledger.evaluated[text] = (max(full or 0, evaluated), exact)
    of = f" of {prompt_tokens}" if prompt_tokens is not None else ""
    if ledger is not None:
        ledger.add(text)
    if warm:
        detail = (f"{cached}{of} prompt tokens cached ({source})" if cached is not None
                  else "cache: not reported")
        return CacheFigures(control, cached, source, f"warm: {detail}", False, True)
    if cached is not None and cached > 0:
        return CacheFigures(control, cached, source, f"prefix-cached: {at_least}{cached}{of} prompt tokens ({source})",
                            False)
    if cached is not None:
        return CacheFigures(control, 0, source, f"cold: 0{of} prompt tokens cached ({source})", True)
    if bust:
        return CacheFigures(control, None, None, "cache: not reported; the prompt was made unique by a "
                                                 "cache-busting prefix", True)
    if control != NO_CONTROL:
        return CacheFigures(control, None, None, f"cache: not reported; asked not to reuse ({control})", True)
    if suspect:
        pct = 100 * shared // len(text)
        return CacheFigures(control, None, None,
                            f"cache: not reported; may be prefix-cached: {pct}% of the prompt was sent earlier "
                            f"in this run (left out of the cold medians)", False)
    return CacheFigures(control, None, None, "cache: not reported; no earlier request in this run shared its prefix",
                        True)


def classify_request(event: dict[str, Any] | None, prompt_tokens: int | None, request: Any, ledger: Ledger | None,
                     bust: str | None) -> CacheFigures:
    """``classify`` for one request sent (a GenerationRequest: its messages, whether it is warm) with
    the trial's cache-busting marker ``bust`` (None: none)."""
    return classify(event, prompt_tokens, prompt_text(request.messages), ledger, warm=request.warm,
                    bust=bust is not None)


def with_fresh_salt(request: Any) -> Any:
    """The request (a GenerationRequest) under a cache salt of its own: the requests of one
    conversation or agent loop share cached blocks with each other and with no other trial."""
    return dataclasses.replace(request, cache_salt=uuid.uuid4().hex)
