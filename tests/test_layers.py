"""Layers point down: no module under src/bakeoff imports from a layer above its own.

The map (docs/architecture.md, "Layers"), top to bottom:
cli → report/web → run → backends/checks/suite/tools → measure/estimate/store → models/util.
Every import counts: module level and inside functions, absolute and relative. Sibling packages of
one layer may import each other, except the pairs in SIBLINGS_APART.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bakeoff"

# Each top-level module or package of bakeoff, by layer (0 is the top).
LAYERS: dict[str, tuple[int, str]] = {}
for _index, (_label, _names) in enumerate([
    ("cli", ["cli", "__main__"]),
    ("report/web", ["report", "web"]),
    ("run", ["run"]),
    ("backends/checks/suite/tools", ["backends", "checks", "suite", "tools", "spec"]),
    ("measure/estimate/store", ["measure", "estimate", "store", "twin"]),
    ("models/util", ["models", "util", "errors", "paths", "keys", "sandbox", "thinking", ""]),
]):
    for _name in _names:
        LAYERS[_name] = (_index, _label)

# Same layer, but one must load without the other: a backend loads without the suite loader and
# the checks (it only needs the image encoding, in bakeoff.util.images).
SIBLINGS_APART = {("backends", "suite"), ("backends", "checks")}

# Upward imports allowed: none.
ALLOWED: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported bakeoff module, line) for every import in the file, relative ones resolved."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(text: str, name: str, is_package: bool) -> list[tuple[str, int]]:
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == "bakeoff":  # from . import x / from bakeoff import x
                found += [(f"{target}.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((target, node.lineno))
    return [(target, line) for target, line in found if target == "bakeoff" or target.startswith("bakeoff.")]


def top(module: str) -> str:
    """The top-level part of a bakeoff module: bakeoff.report.matrix -> report; bakeoff -> ""."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] not in LAYERS and parts[1].startswith("__"):
        return ""  # bakeoff.__version__
    return parts[1] if len(parts) > 1 else ""


def problems() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        source = module_name(path)
        here = top(source)
        assert here in LAYERS, f"{source}: not in the layer map (tests/test_layers.py and docs/architecture.md)"
        for target, line in imports(path):
            there = top(target)
            if there not in LAYERS:
                there = ""  # a name imported from the root package (bakeoff.__version__)
            (mine, my_label), (theirs, their_label) = LAYERS[here], LAYERS[there]
            upward = theirs < mine
            apart = (here, there) in SIBLINGS_APART
            if (upward or apart) and (source, target) not in ALLOWED:
                rel = path.relative_to(SRC.parent.parent)
                why = f"{my_label} -> {their_label}" if upward else f"{here} must load without {there}"
                out.append(f"{rel}:{line}: {source} imports {target} ({why})")
    return out


def test_every_module_has_a_layer():
    tops = {top(module_name(p)) for p in SRC.rglob("*.py")}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_upward_imports():
    found = problems()
    assert not found, "imports that point up the layers:\n" + "\n".join(found)


def test_allowed_list_is_still_needed():
    """An entry the code no longer needs is taken out, so the list only shrinks."""
    present = {(module_name(p), t) for p in SRC.rglob("*.py") for t, _ in imports(p)}
    assert not ALLOWED - present, sorted(ALLOWED - present)


def test_imports_are_resolved():
    """Relative imports resolve against the file's package; imports inside functions count."""
    text = ("from . import matrix\nfrom ..run import plan\nfrom .stats import wilson_interval\n"
            "import json\ndef f():\n    from bakeoff.cli import app\n")
    assert imports_in(text, "bakeoff.report.flaky", False) == [
        ("bakeoff.report.matrix", 1), ("bakeoff.run", 2), ("bakeoff.report.stats", 3), ("bakeoff.cli", 6)]
    assert imports_in("from . import flaky\n", "bakeoff.report", True) == [("bakeoff.report.flaky", 1)]
    assert imports_in("from bakeoff import __version__\n", "bakeoff.run.plan", False) == [
        ("bakeoff.__version__", 1)]
    assert top("bakeoff.__version__") == "" and top("bakeoff") == "" and top("bakeoff.run.plan") == "run"
