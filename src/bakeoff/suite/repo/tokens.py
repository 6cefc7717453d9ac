"""Counting tokens with each contender's own tokenizer, and its context budget.

An in-process llama.cpp contender's GGUF is opened vocabulary-only (no weights, a fraction of a
second) and its tokenizer counts; other backends give no tokenizer to a client, so their count is
an estimate (4 characters a token), labelled as such wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

CHARS_PER_TOKEN = 4
DEFAULT_REMOTE_CONTEXT = 32768  # a server or cloud contender whose spec names no context size


@dataclass
class TokenBudget:
    count: Callable[[str], int]
    context: int  # tokens the contender holds
    counted_by: str  # "tokenizer of FILE" | "estimated (...)"
    context_source: str


@lru_cache(maxsize=8)
def _vocab(path: str):
    import os

    from llama_cpp import Llama

    # llama.cpp writes context warnings to fd 2 even with verbose=False; a vocabulary-only load
    # has no context worth warning about, so its stderr is silenced while it loads.
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            return Llama(model_path=path, vocab_only=True, verbose=False, n_ctx=64)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def budget_for(spec) -> TokenBudget:
    """The contender's token counter and context size."""
    if spec.backend == "llamacpp":
        from bakeoff.backends import make_backend

        backend = make_backend(spec, 60.0)
        path = backend.model_file()
        vocab = _vocab(path)

        def count(text: str) -> int:
            return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

        return TokenBudget(count, int(backend.options.ctx), f"measured (the model's own tokenizer, {path})",
                           "the contender's ctx option")
    ctx = spec.options.get("num_ctx") or spec.options.get("ctx")
    return TokenBudget(lambda text: (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN,
                       int(ctx) if ctx else DEFAULT_REMOTE_CONTEXT,
                       f"estimated ({CHARS_PER_TOKEN} characters per token; this backend exposes no tokenizer)",
                       "the contender's option" if ctx else f"assumed {DEFAULT_REMOTE_CONTEXT} (no context option given)")
