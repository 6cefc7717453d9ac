"""Suites: the cases a run asks every contender, loaded from a ``bakeoff.yaml`` file.

    from bakeoff.suite import load_suite
    suite = load_suite("bakeoff.yaml")     # raises InputError "file:line: message" if wrong
    for case in suite.cases: case.messages, case.checks, case.identity()
"""

from __future__ import annotations

from bakeoff.checks.base import CheckSpec
from bakeoff.suite.loader import load_default_suite, load_suite, parse_suite
from bakeoff.suite.schema import Case, ContenderRef, Suite

__all__ = ["Case", "CheckSpec", "ContenderRef", "Suite", "load_default_suite", "load_suite", "parse_suite"]
