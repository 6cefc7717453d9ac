"""Conversations: a case with several user turns, asked one request per turn, the model's own
earlier replies kept in the history (its reasoning is not sent back).

Prefix caches (bakeoff.measure.cache): the first turn is asked cold; each later turn is warm, i.e.
may reuse what the conversation's own earlier turns left in the cache (as a chat client gets it),
and is labelled so; its turns share one cache salt, which no other trial has. With
``cold_turns=true`` each later turn's prompt is asked once more after the last turn, cold and for
one token (with a cache-busting marker where the server cannot be told), so a turn's warm TTFT
stands beside the cold TTFT of the same prompt.

The whole conversation is one trial. Its row carries the last reply as ``output``; every turn
check (with ``turn N:`` in its detail), passed when every checked turn passes, score the mean of
the checked turns' scores; figures that add up (tokens, E2E time, energy, engine counts) summed
over the turns, peak memory the largest, the other figures (TTFT, decode rate, ...) those of the
last turn. Each turn is also stored on its own (the ``turns`` table) so drift can be plotted.

Consistency probes (``probe:`` in a suite) are expanded by the loader into turns with the roles
establish / distractor / ask; the distractors may be generated from the pool below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from typing import Any

from bakeoff.backends.base import GenerationRequest
from bakeoff.checks import evaluate
from bakeoff.checks.base import CheckResult
from bakeoff.measure.cache import Ledger, bust_prefix, classify, classify_request, with_bust, with_fresh_salt
from bakeoff.measure.timing import StreamMeasure

CACHE_COLUMNS = ("cache_control", "cached_tokens", "cache_source", "cache_label", "cache_cold", "cache_warm")

_SUMMED = ("prompt_tokens", "output_tokens", "e2e_ms", "engine_prompt_n", "engine_prompt_ms",
           "engine_eval_n", "engine_eval_ms", "energy_j")
_LARGEST = ("peak_mem_mb", "gpu_mem_mb")


def combined_figures(figures: list[Any]) -> dict[str, Any]:
    """The figures of several requests as one trial's: totals summed, peaks the largest, the
    rest (TTFT, decode rate, ...) the last request's."""
    cols = asdict(figures[-1])
    for key in _SUMMED:
        values = [getattr(f, key) for f in figures if getattr(f, key) is not None]
        cols[key] = sum(values) if values else None
    for key in _LARGEST:
        values = [getattr(f, key) for f in figures if getattr(f, key) is not None]
        cols[key] = max(values) if values else None
    return cols


class Conversation:
    """The state of one conversation trial. The scheduler loops::

        while (request := convo.next_request()) is not None:
            measure = StreamMeasure(); ...feed the backend's events...; convo.take(measure)
    """

    def __init__(self, case: Any, base: GenerationRequest, ledger: Ledger | None = None, bust: str | None = None,
                 cold_turns: bool = False, cold_bust: bool = False):
        self.case = case
        # One cache salt for the whole conversation: its turns share cached blocks with no other trial.
        self.base = with_fresh_salt(base)
        self.history: list[dict[str, str]] = [m for m in case.messages[:-1]]  # the system prompt, if any
        self.turns: list[dict[str, Any]] = []  # finished turns, as rows of the turns table
        self.rows = self.turns  # what the scheduler stores with the trial
        self.results: list[CheckResult] = []
        self.measures: list[StreamMeasure] = []
        self.figures: list[Any] = []
        self.request: GenerationRequest | None = None
        self.ledger, self.bust = ledger, bust  # bust: the cache-busting marker of cache=bust, on every turn
        self.cold_turns, self.cold_bust = cold_turns, cold_bust
        self.sent: list[GenerationRequest] = []  # each turn's request, to ask again cold (cold_turns)
        self.replaying: int | None = None  # the turn (1-based) whose prompt is being asked cold

    @property
    def index(self) -> int:
        """1-based number of the turn in flight (or next)."""
        return len(self.turns) + 1

    def next_request(self) -> GenerationRequest | None:
        if len(self.turns) >= len(self.case.turns):
            return self._next_replay()
        turn = self.case.turns[len(self.turns)]
        self.history.append({"role": "user", "content": turn.user})
        messages = with_bust(self.history, self.bust) if self.bust else list(self.history)
        # The first turn is cold; each later one may reuse what the conversation's own turns cached.
        self.request = dataclasses.replace(self.base, messages=messages, warm=bool(self.turns))
        self.sent.append(self.request)
        return self.request

    def _next_replay(self) -> GenerationRequest | None:
        """After the last turn (cold_turns): each later turn's prompt once more, cold, one token."""
        if not self.cold_turns:
            return None
        turn = 2 if self.replaying is None else self.replaying + 1
        if turn > len(self.turns):
            return None
        self.replaying = turn
        sent = self.sent[turn - 1]
        messages = with_bust(sent.messages, bust_prefix()) if self.cold_bust else sent.messages
        return dataclasses.replace(sent, messages=messages, warm=False, cache_salt=None, max_tokens=1)

    def take(self, measure: StreamMeasure) -> None:
        """The reply to the turn in flight: scored, kept in the history."""
        if self.replaying is not None:
            return self._take_replay(measure)
        turn = self.case.turns[len(self.turns)]
        figures = measure.finish()
        cache = classify_request(measure.cache, figures.prompt_tokens, self.request, self.ledger, self.bust)
        verdict = evaluate(turn.checks, measure.output, self.case)
        n = self.index
        for r in verdict.results:
            self.results.append(dataclasses.replace(r, detail=f"turn {n}: {r.detail}"))
        self.history.append({"role": "assistant", "content": measure.output})
        self.measures.append(measure)
        self.figures.append(figures)
        self.turns.append({
            "turn": n, "role": turn.role, "user": turn.user, "reply": measure.output,
            "reasoning": measure.reasoning or None, "ttft_ms": figures.ttft_ms, "e2e_ms": figures.e2e_ms,
            "output_tokens": figures.output_tokens, "prompt_tokens": figures.prompt_tokens,
            "passed": None if verdict.passed is None else int(verdict.passed), "score": verdict.score,
            "finish_reason": figures.finish_reason, **cache.columns(),
        })

    def _take_replay(self, measure: StreamMeasure) -> None:
        figures = measure.finish()
        # No ledger: the replay is a measurement of its own, not a request later trials could reuse
        # more than the turn it repeats.
        cache = classify(measure.cache, figures.prompt_tokens, "", None, bust=self.cold_bust)
        row = self.turns[self.replaying - 1]
        row["cold_ttft_ms"], row["cold_cache_label"] = figures.ttft_ms, cache.label

    def error_message(self, exc: Exception) -> str:
        if self.replaying is not None:
            return f"asking turn {self.replaying}'s prompt again cold (cold_turns): {exc}"
        return f"turn {self.index} of {len(self.case.turns)}: {exc}"

    def verdict(self) -> tuple[int | None, float | None]:
        checked = [t for t in self.turns if t["passed"] is not None]
        if not checked:
            return None, None
        return int(all(t["passed"] for t in checked)), sum(t["score"] for t in checked) / len(checked)

    def trial_columns(self) -> dict[str, Any]:
        """The trial row's output and figures (see the module docstring)."""
        last = self.measures[-1]
        cols = combined_figures(self.figures)
        reasoning_tokens = [m.reasoning_tokens for m in self.measures if m.reasoning_tokens is not None]
        truncated = [m.thinking_truncated for m in self.measures if m.thinking_truncated is not None]
        passed, score = self.verdict()
        last_turn = self.turns[-1]
        cols.update({k: last_turn.get(k) for k in CACHE_COLUMNS})  # the last turn's, as its TTFT is
        cols.update(
            cache_bust=self.bust,
            prompt=last.prompt, output=last.output, reasoning=last.reasoning or None, passed=passed, score=score,
            reasoning_tokens=sum(reasoning_tokens) if reasoning_tokens else None,
            thinking_truncated=int(any(truncated)) if truncated else None,
        )
        return cols

    # What the scheduler records (bakeoff.run.scheduler._record_steps; an AgentLoop has the same).
    step_name = "turn"  # the key each retry is numbered by
    store_with = "record_conversation"  # the Database method that writes the trial with its rows

    def failure(self, exc: Exception | None) -> str | None:
        """The trial's error message, None when it ended well."""
        return self.error_message(exc) if exc is not None else None

    def error_columns(self) -> dict[str, Any]:
        return {}
