"""Consistency probes: the distracting user turns put between a fact and the question that asks
for it again, generated deterministically from a pool."""

from __future__ import annotations

import random

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
