"""Context depth: the same fact questions, with the file that answers them placed at a chosen
position inside packed contexts of growing size (2K, 8K, 32K tokens, up to the contender's
context), counted with the contender's tokenizer. Accuracy against context length shows whether
a long context works, not whether it is advertised."""

from __future__ import annotations

import random
import re

from bakeoff.errors import InputError
from bakeoff.suite.repo.packing import Packed, SourceFile, render_file

POSITIONS = (0.1, 0.5, 0.9)  # where the answering file sits, as a fraction of the context


def parse_depths(text: str) -> list[int | str]:
    """'2k,8k,32k,max' -> [2048, 8192, 32768, 'max']."""
    out: list[int | str] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part == "max":
            out.append("max")
            continue
        m = re.fullmatch(r"(\d+)(k?)", part)
        if not m or int(m.group(1)) <= 0:
            raise InputError(f"--depths takes token counts like 2k,8k,32k,max or 4096; got {part!r}")
        out.append(int(m.group(1)) * (1024 if m.group(2) else 1))
    if not out:
        raise InputError("--depths names no depth; e.g. --depths 2k,8k")
    return out


def pack_at_depth(files: list[SourceFile], needle: str, target: int, position: float, count,
                  seed: int) -> Packed | None:
    """About TARGET tokens of files with NEEDLE at POSITION; None when the repository is too small."""
    by_path = {f.path: f for f in files}
    others = [p for p in sorted(by_path) if p != needle]
    random.Random(seed).shuffle(others)
    needle_tokens = count(render_file(by_path[needle]))
    if needle_tokens > target:
        return None
    filler, used = [], needle_tokens
    for p in others:
        n = count(render_file(by_path[p]))
        if used + n > target:
            continue
        filler.append((p, n))
        used += n
    if used < target * 0.8:
        return None
    before, acc = [], 0
    for p, n in filler:
        if acc + n / 2 > position * (used - needle_tokens):
            break
        before.append(p)
        acc += n
    after = [p for p, _ in filler[len(before):]]
    order = before + [needle] + after
    text = "".join(render_file(by_path[p]) for p in order)
    return Packed(text, order, [], used)
