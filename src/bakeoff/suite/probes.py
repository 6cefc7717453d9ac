"""Consistency probes: a fact established, distracting user turns, and the question that asks for
it again. A probe expands into the turns of a conversation; distractors can be generated,
deterministically, from a pool."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from yaml.nodes import MappingNode, SequenceNode

from bakeoff.checks import CheckConfigError, build_check
from bakeoff.checks.base import CheckSpec, validation_problems
from bakeoff.suite.schema import GenerateModel, ProbeModel, Turn, TurnModel, _user_turn

if TYPE_CHECKING:
    from bakeoff.suite.loader import SuiteLoader

# Generic coding and chat questions, answerable in a sentence or two, free of digits and of
# the facts a probe is likely to establish (names, databases, dates).
DISTRACTOR_POOL = (
    "How do I reverse a list in Python?",
    "What is the difference between a tuple and a list?",
    "Explain what a closure is in JavaScript.",
    "Suggest a good name for a pet cat.",
    "How do I remove trailing whitespace from a string in Python?",
    "What does the git rebase command do?",
    "Give me a tip for writing readable functions.",
    "What is a race condition?",
    "How can I read a text file line by line in Python?",
    "What is the purpose of a unit test?",
    "Write a short haiku about autumn leaves.",
    "What does the HTTP method PUT do?",
    "Explain recursion in one sentence.",
    "How do I check whether a key exists in a Python dictionary?",
    "What is the difference between a process and a thread?",
    "Recommend a healthy breakfast.",
    "What is a pure function?",
    "How do I undo the last git commit but keep the changes?",
    "What is the difference between equality and identity in Python?",
    "Explain what an API is to a beginner.",
    "How do I sort a list of words by their length?",
    "What is a hash map used for?",
    "Give me a tip for staying focused while working.",
    "What does the word idempotent mean in programming?",
    "How do I make an HTTP request from the command line?",
    "What is the difference between a compiler and an interpreter?",
    "Explain what a regular expression is.",
    "Suggest a title for a short story about the sea.",
    "Why are global variables often discouraged?",
    "What is a linked list?",
)


def generated_distractors(k: int, seed: int, case_id: str) -> list[str]:
    """K distracting user turns from the pool, deterministic for (seed, case id); without
    repetition until the pool is used up."""
    rng = random.Random(f"bakeoff-distractors:{seed}:{case_id}")
    out: list[str] = []
    while len(out) < k:
        batch = list(DISTRACTOR_POOL)
        rng.shuffle(batch)
        out += batch[: k - len(out)]
    return out


def expand_probe(doc: SuiteLoader, pm: ProbeModel, vars_: dict[str, str] | None, loc: tuple[Any, ...],
                 case_id: str) -> tuple[list[Turn], dict[str, Any]]:
    """Expand a consistency probe into its turns: establish, distractors, and the question(s)
    again. Several paraphrases of the question are spread evenly through the distractors,
    the last one at the end."""
    truth = probe_truth(doc, pm.truth, loc + ("truth",)) if "truth" in pm.model_fields_set else []
    if pm.establish.truth and not truth:
        raise doc.fail(loc + ("establish", "truth"), "'truth: true' checks the first reply against the "
                       "probe's truth, but the probe has no 'truth:'", at_key=True)
    eloc = loc + ("establish",)
    est_checks = doc.checks(pm.establish.checks, eloc + ("checks",))
    est_user_loc = eloc + ("user",) if isinstance(doc.node_at(eloc)[0], MappingNode) else eloc
    establish = Turn(user=doc.user_text(pm.establish.user, vars_, est_user_loc),
                     checks=(truth if pm.establish.truth else []) + est_checks, role="establish",
                     line=doc.line_at(eloc))

    distractors: list[Turn] = []
    raw, dloc = pm.distractors, loc + ("distractors",)
    if isinstance(raw, dict):
        try:
            gen = GenerateModel.model_validate(raw)
        except ValidationError as exc:
            raise doc.fail_first(validation_problems(exc, GenerateModel, "distractors"), dloc) from None
        distractors = [Turn(user=text, role="distractor", line=doc.line_at(dloc))
                       for text in generated_distractors(gen.generate, gen.seed, case_id)]
    elif isinstance(raw, list):
        for j, item in enumerate(raw):
            try:
                tm = TurnModel.model_validate(_user_turn(item))
            except ValidationError as exc:
                raise doc.fail_first(validation_problems(exc, TurnModel, "turn"), dloc + (j,)) from None
            except ValueError as exc:  # from _user_turn: neither text nor a mapping
                raise doc.fail(dloc + (j,), str(exc)) from None
            tloc = dloc + (j, "user") if isinstance(item, dict) else dloc + (j,)
            distractors.append(Turn(user=doc.user_text(tm.user, vars_, tloc),
                                    checks=doc.checks(tm.checks, dloc + (j, "checks")), role="distractor",
                                    line=doc.line_at(dloc + (j,))))
    elif raw is not None:
        raise doc.fail(dloc, "'distractors' is a list of user turns, or {generate: K} for K generated ones")

    listed = isinstance(doc.node_at(loc + ("ask",))[0], SequenceNode)
    asks = [(doc.user_text(text, vars_, aloc), doc.line_at(aloc))
            for j, text in enumerate(pm.ask) for aloc in [loc + ("ask", j) if listed else loc + ("ask",)]]
    # Question j (of n) comes after the first round((j+1) * D / n) distractors.
    turns = [establish]
    done = 0
    for j, (text, line) in enumerate(asks):
        upto = round((j + 1) * len(distractors) / len(asks))
        turns += distractors[done:upto]
        done = upto
        turns.append(Turn(user=text, checks=list(truth), role="ask", line=line))
    return turns, {"establish_truth": bool(pm.establish.truth), "truth": [c.identity() for c in truth]}


def probe_truth(doc: SuiteLoader, raw: Any, loc: tuple[Any, ...]) -> list[CheckSpec]:
    """Text (the reply contains it, any case), one check entry, or a list of check entries."""
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        text = str(raw)
        if not text.strip():
            raise doc.fail(loc, "'truth' is empty")
        return one_check(doc, {"contains": text}, loc)
    if isinstance(raw, dict):
        return one_check(doc, raw, loc)
    if isinstance(raw, list) and raw:
        return doc.checks(raw, loc)
    raise doc.fail(loc, "'truth' is the expected answer: text the reply contains, a check "
                   "(e.g. {regex: '...'}), or a list of checks")


def one_check(doc: SuiteLoader, entry: Any, loc: tuple[Any, ...]) -> list[CheckSpec]:
    """One check entry, built, at the line of ``loc``."""
    try:
        spec = build_check(entry, doc.base_dir)
    except CheckConfigError as exc:
        raise doc.fail_first([exc, *exc.others], loc) from None
    spec.line = doc.line_at(loc)
    return [spec]
