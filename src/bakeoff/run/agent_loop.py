"""Agent loops: the model calls tools, bakeoff runs them and feeds the results back, until the
model answers without a call or the step budget (``max_steps`` requests) runs out.

The whole loop is one trial; every step (one request to the model) is stored with its calls,
their arguments, result sizes, tool errors, tokens and time (the ``tool_steps`` table). The
case's checks read the final answer and every call made on the way. A loop whose budget runs
out fails, with a check result saying so. A call identical to an earlier one (same tool, same
arguments) is counted as a repeat: the mark of a model going round in circles.

Prefix caches (bakeoff.measure.cache), as for conversations: the first step is cold; each later
step resends the loop's own earlier steps and may reuse them (warm, on purpose, under one cache
salt no other trial has). The trial's TTFT is the last step's, so the trial carries the last
step's cache label: a loop of several steps is warm and stays out of the cold medians.

The scheduler drives it as it drives a conversation::

    while (request := loop.next_request()) is not None:
        measure = StreamMeasure(); ...feed the backend's events...; loop.take(measure)
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bakeoff.backends.base import GenerationRequest
from bakeoff.checks import evaluate
from bakeoff.checks.base import CheckResult
from bakeoff.measure.cache import CacheFigures, Ledger, classify_request, with_fresh_salt, with_bust
from bakeoff.measure.timing import StreamMeasure
from bakeoff.run.conversation import combined_figures
from bakeoff.tools.calls import problem, strip_call_markup
from bakeoff.tools.toolbox import Toolbox


def call_signature(call: dict[str, Any]) -> str:
    args = call.get("arguments")
    return f"{call.get('name')}:{json.dumps(args, sort_keys=True) if args is not None else call.get('arguments_raw')}"


def summarise_calls(calls: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, int]:
    valid = sum(problem(c, tools) is None for c in calls)
    seen: set[str] = set()
    repeats = 0
    for c in calls:
        sig = call_signature(c)
        repeats += sig in seen
        seen.add(sig)
    return {"calls": len(calls), "valid_calls": valid, "repeated_calls": repeats}


class AgentLoop:
    def __init__(self, case: Any, base: GenerationRequest, ledger: Ledger | None = None, bust: str | None = None):
        self.case = case
        self.toolbox = Toolbox.for_case(case)
        self.base = with_fresh_salt(base)
        self.ledger, self.bust = ledger, bust  # bust: the cache-busting marker of cache=bust, on every step
        self.cache = CacheFigures()  # the last step's
        self.max_steps = int(case.agent["max_steps"])
        self.history: list[dict[str, Any]] = [dict(m) for m in case.messages]
        self.steps: list[dict[str, Any]] = []
        self.rows = self.steps  # what the scheduler stores with the trial
        self.calls: list[dict[str, Any]] = []
        self.measures: list[StreamMeasure] = []
        self.figures: list[Any] = []
        self.answer: str | None = None
        self.request: GenerationRequest | None = None

    @property
    def budget_exhausted(self) -> bool:
        return self.answer is None and len(self.steps) >= self.max_steps

    @property
    def index(self) -> int:
        return len(self.steps) + 1

    def next_request(self) -> GenerationRequest | None:
        if self.answer is not None or len(self.steps) >= self.max_steps:
            return None
        messages = [dict(m) for m in self.history]
        self.request = dataclasses.replace(self.base, messages=with_bust(messages, self.bust) if self.bust else messages,
                                           warm=bool(self.steps))
        return self.request

    def take(self, measure: StreamMeasure) -> None:
        figures = measure.finish()
        self.cache = classify_request(measure.cache, figures.prompt_tokens, self.request, self.ledger, self.bust)
        self.measures.append(measure)
        self.figures.append(figures)
        step = self.index
        calls = []
        for call in measure.tool_calls:
            call = dict(call, id=f"call_{len(self.calls) + 1}")  # unique over the loop, whatever the engine numbered
            self.calls.append(call)
            calls.append(call)
        content = measure.output
        stored = []
        if calls:
            content = strip_call_markup(content)
            self.history.append({"role": "assistant", "content": content, "tool_calls": calls})
            for call in calls:
                outcome = self.toolbox.execute(call)
                self.history.append({"role": "tool", "tool_call_id": call["id"], "name": call["name"] or "",
                                     "content": outcome.text})
                stored.append({"id": call["id"], "name": call["name"], "arguments_raw": call["arguments_raw"],
                               "problem": problem(call, self.toolbox.tools), "result_bytes": outcome.result_bytes,
                               "result_cut": outcome.truncated, "tool_error": outcome.error,
                               "tool_ms": round(outcome.tool_ms, 3), "result": outcome.text[:300]})
        else:
            self.answer = content
        self.steps.append({
            "step": step, "content": content, "calls": stored, "prompt_tokens": figures.prompt_tokens,
            "output_tokens": figures.output_tokens, "e2e_ms": figures.e2e_ms, "finish_reason": figures.finish_reason,
        })

    def error_message(self, exc: Exception) -> str:
        return f"agent step {self.index} of at most {self.max_steps}: {exc}"

    # What the scheduler records (bakeoff.run.scheduler._record_steps; a Conversation has the same).
    step_name = "step"  # the key each retry is numbered by
    store_with = "record_agent_loop"  # the Database method that writes the trial with its rows

    def failure(self, exc: Exception | None) -> str | None:
        """The trial's error message, None when it ended well (a loop with no step did not)."""
        if exc is not None:
            return self.error_message(exc)
        return None if self.steps else "the loop made no step"

    def error_columns(self) -> dict[str, Any]:
        return {"tool_calls": json.dumps(self.calls), "tool_summary": json.dumps(self.summary())}

    def summary(self) -> dict[str, Any]:
        out = {"mode": "agent", "steps": len(self.steps), "max_steps": self.max_steps,
               "answered": self.answer is not None, "budget_exhausted": self.budget_exhausted,
               "tool_errors": sum(1 for s in self.steps for c in s["calls"] if c["tool_error"]),
               **summarise_calls(self.calls, self.toolbox.tools)}
        return out

    def trial_columns(self) -> dict[str, Any]:
        cols = combined_figures(self.figures)
        cols.update(self.cache.columns(), cache_bust=self.bust)  # the last step's, as its TTFT is
        output = self.answer if self.answer is not None else self.measures[-1].output
        verdict = evaluate(self.case.checks, output, self.case, calls=self.calls)
        results = list(verdict.results)
        passed, score = verdict.passed, verdict.score
        if self.budget_exhausted:
            results.append(CheckResult(kind="agent", passed=False, score=0.0, weight=0.0,
                                       detail=f"the step budget ({self.max_steps}) ran out before an answer"))
            passed, score = False, 0.0
        self.results = results
        cols.update(prompt=self.measures[-1].prompt, output=output, passed=None if passed is None else int(passed),
                    score=score, tool_calls=json.dumps(self.calls), tool_summary=json.dumps(self.summary()))
        return cols
