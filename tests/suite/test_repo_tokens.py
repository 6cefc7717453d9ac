"""bakeoff.suite.repo.tokens directly: a llama.cpp contender counts with its own tokenizer (the
packaged SmolLM2's vocabulary, no weights), any other backend by an estimate said to be one."""

from __future__ import annotations

from bakeoff.spec import parse_spec
from bakeoff.suite.repo.tokens import budget_for

CODE = "def apply_discount(amount, percent):\n    return amount - amount * percent / 100\n"


def test_a_server_contender_estimates_four_characters_a_token_and_says_so():
    told = budget_for(parse_spec("ollama:qwen2.5-coder:7b?num_ctx=8192"))
    assert told.context == 8192 and told.context_source == "the contender's option"
    assert told.count("x" * 9) == 3 and told.count("") == 0
    assert told.counted_by.startswith("estimated (4 characters per token")
    assumed = budget_for(parse_spec("openai:gpt-4o-mini"))
    assert assumed.context == 32768 and assumed.context_source.startswith("assumed 32768")


def test_a_llamacpp_contender_counts_with_its_own_tokenizer(smollm2):
    budget = budget_for(parse_spec("smollm2-135m?ctx=2048"))
    assert budget.context == 2048
    assert "model's own tokenizer" in budget.counted_by and str(smollm2.name) in budget.counted_by
    assert budget.count(CODE) == 23  # SmolLM2's BPE; the 4-character estimate would say 20
    assert budget.count(CODE + CODE) == 46
