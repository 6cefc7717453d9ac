"""Repository facts read one pass at a time, so a test can drive a single pass (the uses of one
language, the framework pass) directly: ``parsed`` does what collect_facts does before its passes."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import requests

from bakeoff.suite.repo import frameworks, uses
from bakeoff.suite.repo.facts import RepoFacts, collect_facts

SITE_PACKAGES = Path(requests.__file__).resolve().parents[1]  # real open-source code to read


def parsed(files: dict[str, str]) -> tuple[RepoFacts, dict]:
    """The definitions of every file, and its syntax tree as the passes take them: collect_facts
    itself, stopped before its uses and framework passes (so this stays what it does)."""
    seen = {}

    def stop(facts, trees, files):
        seen.update(facts=facts, trees=trees)

    with patch.object(uses, "scan_uses", stop), patch.object(frameworks, "find_models_and_workers", lambda *a: None):
        collect_facts(files)
    seen["facts"].index = uses.Index(seen["facts"], files)
    return seen["facts"], seen["trees"]


def installed_sources(package: str, *names: str) -> dict[str, str]:
    """Files of an installed package, keyed by their path from site-packages (``requests/api.py``)."""
    return {f"{package}/{n}": (SITE_PACKAGES / package / n).read_text(encoding="utf-8") for n in names}


def scanned(files: dict[str, str], scan) -> RepoFacts:
    """The facts after one language's uses pass (``scan``: scan_python, scan_ruby or scan_js)."""
    facts, trees = parsed(files)
    if scan.__name__ == "scan_python":
        from bakeoff.suite.repo.uses_python import read_python_imports

        for path, (lang, tree, _) in trees.items():
            read_python_imports(facts.index, facts, path, tree)
    for path, (lang, tree, _) in trees.items():
        scan(facts, facts.index, path, tree, lang)
    return facts


def framework_facts(files: dict[str, str]) -> RepoFacts:
    """The facts after the uses pass and the framework pass (models, tables, workers)."""
    facts, trees = parsed(files)
    uses.scan_uses(facts, trees, files)
    frameworks.find_models_and_workers(facts, trees, files)
    return facts


def sites(facts: RepoFacts, target: str) -> list[tuple[str, str | None]]:
    """(file, calling function) of each call tied to TARGET, sorted."""
    return sorted((s.path, s.caller) for s in facts.calls[target])
