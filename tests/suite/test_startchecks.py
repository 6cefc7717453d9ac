"""bakeoff.suite.starter.startchecks, the check module `bakeoff init` writes beside the starter
suite, used directly on answers a model gives."""

from __future__ import annotations

from bakeoff.suite.starter.startchecks import one_sentence


def test_one_sentence_scores_short_long_and_several_sentences():
    assert one_sentence("Paris is the capital of France.") == 1.0
    assert one_sentence(" ".join(["word"] * 31) + ".") == 0.5
    assert one_sentence("Paris. It is in France!") == 0.0
    assert one_sentence("") == 0.0
