"""bakeoff.suite.repo.depth directly: --depths parsed as a user writes it, and the answering file
placed at the chosen depth of a packed context of about the target size."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.suite.repo.depth import pack_at_depth, parse_depths
from bakeoff.suite.repo.packing import SourceFile, render_file
from repo_fixtures import PYTHON, RAILS, TYPESCRIPT
from repo_scan import installed_sources

FILES = [SourceFile(p, t) for p, t in {**RAILS, **PYTHON, **TYPESCRIPT,
                                       **installed_sources("requests", "api.py", "hooks.py", "structures.py")}.items()]
NEEDLE = "shop/pricing.py"


def count(text: str) -> int:
    return len(text) // 4


def test_parse_depths_reads_k_suffixes_and_max():
    assert parse_depths("2k, 8K,4096,max") == [2048, 8192, 4096, "max"]
    for bad in ("2x", "0", "", " , "):
        with pytest.raises(InputError, match="--depths"):
            parse_depths(bad)


@pytest.mark.parametrize("position", [0.1, 0.5, 0.9])
def test_the_needle_sits_near_the_asked_position_within_the_target(position):
    packed = pack_at_depth(FILES, NEEDLE, 2000, position, count, seed=1)
    assert packed is not None and 0.8 * 2000 <= packed.tokens <= 2000
    assert packed.text.count(f"=== {NEEDLE} ") == 1
    where = packed.text.index(f"=== {NEEDLE} ") / len(packed.text)
    assert abs(where - position) < 0.3
    assert packed.tokens == sum(count(render_file(f)) for f in FILES if f.path in packed.included)


def test_the_same_seed_packs_the_same_context_and_too_small_a_repository_packs_none():
    assert pack_at_depth(FILES, NEEDLE, 2000, 0.5, count, seed=3) == pack_at_depth(FILES, NEEDLE, 2000, 0.5, count, seed=3)
    assert pack_at_depth(FILES, NEEDLE, 10**6, 0.5, count, seed=3) is None  # cannot fill 80% of it
    assert pack_at_depth(FILES, NEEDLE, 10, 0.5, count, seed=3) is None  # the needle alone is larger
