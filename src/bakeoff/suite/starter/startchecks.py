"""Checks of your own for bakeoff.yaml: a function of the answer (and optionally the case) that
returns True/False or a score in [0, 1]. Name it in the suite as `python: startchecks:NAME`."""


def one_sentence(output: str) -> float:
    """1.0 for a single sentence of at most 30 words, 0.5 for one that runs longer, else 0."""
    text = output.strip()
    sentences = [s for s in text.replace("!", ".").replace("?", ".").split(".") if s.strip()]
    if len(sentences) != 1:
        return 0.0
    return 1.0 if len(text.split()) <= 30 else 0.5
