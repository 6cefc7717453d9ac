"""The tests mirror the source: a test of ``bakeoff/<package>/...`` lives in ``tests/<package>/``,
and every source module is imported directly by at least one test (not only reached through the
CLI), so whoever changes a module finds its tests beside it."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "bakeoff"
TESTS = ROOT / "tests"


def holds_code(path: Path) -> bool:
    """False for a package's __init__ that is only its docstring: there is nothing to import."""
    body = ast.parse(path.read_text()).body
    return not all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def source_modules() -> list[str]:
    out = []
    for path in sorted(p for p in SRC.rglob("*.py") if holds_code(p)):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


def imported_by_tests() -> set[str]:
    """Every bakeoff module a test file names in an import (``from bakeoff.x import y`` names
    bakeoff.x, and bakeoff.x.y when y is a module)."""
    names: set[str] = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bakeoff"):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("bakeoff"))
    return names


def test_every_test_folder_is_a_source_package():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders <= packages, f"test folders with no source package of that name: {sorted(folders - packages)}"


def test_tests_of_a_package_live_in_its_folder():
    """A test file at the top of tests/ tests a top-level module (bakeoff/<name>.py) or the docs
    and examples, never a package: those tests belong in tests/<package>/."""
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    misplaced = []
    for path in TESTS.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        targets = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module == "bakeoff":  # from bakeoff import sandbox
                targets.update(alias.name for alias in n.names)
            elif isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("bakeoff."):
                targets.add(n.module.split(".")[1])
        top_level = {t for t in targets if t not in packages}
        if targets and not top_level and path.stem not in ("test_layout", "test_layers", "test_docs", "test_examples"):
            misplaced.append(f"{path.name} imports only packages {sorted(targets)}")
    assert not misplaced, misplaced


def test_every_source_module_is_imported_by_a_test():
    missing = [m for m in source_modules() if m not in imported_by_tests()]
    assert not missing, f"{len(missing)} modules no test imports directly: {missing}"
