"""Seeded defects: every mutation kind applied to the test repositories and verified: the
mutated file still parses (tree-sitter, no ERROR or MISSING node), a line diff touches only the
lines the mutation names, other files are unchanged, the user's tree on disk is untouched, and
the same seed gives the same defects. No model runs here."""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import pytest

from bakeoff.suite.repo.defects import KINDS, Mutation, new_name, seed_defects, verify
from bakeoff.suite.repo.facts import collect_facts, syntax_errors
from repo_fixtures import PYTHON, RAILS, TYPESCRIPT, mixed_repo

ALL = {**RAILS, **PYTHON, **TYPESCRIPT}


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".git" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _changed_lines(before: str, after: str) -> list[tuple[str, int, int]]:
    ops = difflib.SequenceMatcher(a=before.split("\n"), b=after.split("\n"), autojunk=False).get_opcodes()
    return [(tag, i1 + 1, i2) for tag, i1, i2, _, _ in ops if tag != "equal"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_kind_parses_and_touches_only_what_it_names(kind, seed):
    facts = collect_facts(ALL)
    mutated, mutations = seed_defects(ALL, facts, 1, seed, kinds=(kind,))
    assert len(mutations) == 1, f"{kind} could not be applied"
    m = mutations[0]
    assert m.kind == kind
    assert verify(ALL, mutated, mutations) == []
    changed = [p for p in set(ALL) | set(mutated) if ALL.get(p) != mutated.get(p)]
    assert len(changed) == 1, changed  # one file per mutation
    path = changed[0]
    assert syntax_errors(path, mutated[path]) == []
    if m.new_file:  # migration: a new file, later than every other, undoing an earlier change
        assert path not in ALL and path == m.file
        assert "remove_column" in mutated[path]
        assert m.also and m.also[0][0] in ALL
        return
    for tag, first, last in _changed_lines(ALL[path], mutated[path]):
        lo, hi = m.touched
        assert lo <= first and (last <= hi or first > last), (tag, first, last, m.touched)
    new_lines = mutated[m.file].split("\n") if m.file in mutated else []
    for line in m.lines:  # the named lines exist in the file the defect is reported in
        assert 1 <= line <= len(new_lines)
    if kind == "inverted_condition" or kind == "off_by_one":
        before, after = ALL[path].split("\n")[m.lines[0] - 1], mutated[path].split("\n")[m.lines[0] - 1]
        assert before != after and before.replace(" ", "").rstrip("=<>!") != ""
    if kind == "renamed_call":  # the definition is renamed; the caller still uses the old name
        old = m.description.split(" in ")[0].split(": ")[1]
        assert old in mutated[m.file] and f"def {old}(" not in mutated[m.also[0][0]].replace("def self.", "def ")
    if kind == "duplicate":
        src, line = m.also[0]
        assert path != src and new_name(m.description.split(": ")[1].split(" of ")[0]) in mutated[path]
    if kind == "needless_retry":
        assert "retry" in mutated[path] or "_attempt" in mutated[path] or "attempt" in mutated[path]
    if kind == "swallowed_exception":
        text = mutated[path]
        assert "except Exception:" in text or "rescue StandardError" in text or "catch (err)" in text


def test_several_defects_are_reproducible_and_leave_the_tree_alone(tmp_path):
    root = mixed_repo(tmp_path / "app", git=True)
    before = _tree_hash(root)
    from bakeoff.suite.repo.packing import load_repository

    texts = load_repository(root).texts()
    facts = collect_facts(texts)
    a_texts, a = seed_defects(texts, facts, 6, seed=3)
    b_texts, b = seed_defects(texts, facts, 6, seed=3)
    c_texts, c = seed_defects(texts, facts, 6, seed=4)
    assert [m.to_seeded() for m in a] == [m.to_seeded() for m in b] and a_texts == b_texts
    assert [m.to_seeded() for m in a] != [m.to_seeded() for m in c]
    assert len(a) == 6 and len({m.kind for m in a}) == 6
    assert verify(texts, a_texts, a) == []
    assert len({m.file for m in a}) == 6  # one file per defect, so line numbers stay true
    assert _tree_hash(root) == before  # the scratch copy is in memory; nothing written to the tree


def test_verify_catches_a_bad_mutation():
    path = "shop/pricing.py"
    broken = {**ALL, path: ALL[path].replace("return amount - amount", "return amount - (amount")}
    m = Mutation("off_by_one", path, [5], (5, 5), "test")
    assert any("does not parse" in p for p in verify(ALL, broken, [m]))
    stray = {**ALL, path: ALL[path].replace("total = 0", "total = 1")}  # line 11, not the named line 5
    assert any("outside the mutation" in p for p in verify(ALL, stray, [m]))
    other = {**ALL, "shop/tasks.py": ALL["shop/tasks.py"] + "\n# extra\n"}
    assert any("no mutation names it" in p for p in verify(ALL, other, [m]))
