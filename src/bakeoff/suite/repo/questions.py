"""Comprehension questions whose answers are known: each is built from the facts that tree-sitter
read (bakeoff.suite.repo.facts), its answer a set scored with precision and recall.

Kinds: where X is defined; which functions call X; what file F imports or requires; which class
C inherits from; which files use model M (table T); which queue and retry a job/worker sets.
Questions whose evidence spans more than one file are preferred where the repository has them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bakeoff.suite.repo.facts import RepoFacts

ANSWER_RULE = ('Answer with a JSON array of strings and nothing else, e.g. ["a", "b"]; '
               'an empty array [] if there is none.')


@dataclass(frozen=True)
class Question:
    id: str
    kind: str  # defined | callers | imports | inherits | model_users | worker_options
    text: str
    answer: tuple[str, ...]
    match: str  # path | name | module | option: how answers are normalised
    evidence: tuple[str, ...]  # the files that hold the answer

    accept: tuple[tuple[str, str], ...] = ()  # (another answer accepted for an item, that item)

    @property
    def multi_file(self) -> bool:
        return len(set(self.evidence)) > 1


@dataclass(frozen=True)
class Dropped:
    """A question not asked because its key would not be certain."""
    kind: str
    subject: str
    reason: str


def _unique_defs(facts: RepoFacts) -> dict[str, str]:
    """Names defined in exactly one file (so 'where is X defined' has one answer)."""
    seen: dict[str, set[str]] = {}
    for d in facts.definitions:
        seen.setdefault(d.name, set()).add(d.path)
    return {n: next(iter(p)) for n, p in seen.items() if len(p) == 1 and not n.startswith("_") and len(n) > 2}


def all_questions(facts: RepoFacts) -> list[Question]:
    return [q for q in question_candidates(facts) if isinstance(q, Question)]


def question_candidates(facts: RepoFacts) -> list[Question | Dropped]:
    """Every question the facts allow, and each one left out as uncertain (with the reason)."""
    out: list[Question | Dropped] = []
    unique = _unique_defs(facts)
    for name, path in sorted(unique.items()):
        callers = facts.calls.get(name, set())
        kinds = {d.kind for d in facts.definitions if d.name == name}
        if callers and kinds & {"function", "method"} and name not in ("initialize", "constructor", "perform", "call"):
            names = sorted({c for _, c in callers if c not in ("(top level)", name)})
            files = sorted({p for p, _ in callers})
            if names and len(callers) == len({(p, c) for p, c in callers}):
                out.append(Question(f"callers-{name}", "callers",
                                    f"Which functions or methods call `{name}` (defined in {path})? "
                                    "List the calling functions' names.",
                                    tuple(names), "name", tuple(sorted({path, *files}))))
        if kinds & {"function", "class"} and (callers or name in facts.references):
            users = sorted({p for p, _ in callers} | facts.references.get(name, set()))
            if any(u != path for u in users):
                out.append(Question(f"defined-{name}", "defined", f"In which file is `{name}` defined? Give its path.",
                                    (path,), "path", tuple(sorted({path, *users}))))
    for path, modules in sorted(facts.imports.items()):
        if modules:
            out.append(Question(f"imports-{path}", "imports",
                                f"What does the file {path} import or require? List each module or path as written "
                                "in the import or require statement.", tuple(sorted(set(modules))), "module", (path,)))
    for cls, (parent, path) in sorted(facts.parents.items()):
        parent_files = unique.get(parent.split("::")[-1].split(".")[-1].split("[")[0])
        out.append(Question(f"inherits-{cls}", "inherits", f"Which class does `{cls}` inherit from (its direct superclass)?",
                            (parent,), "name", tuple(sorted({path, *([parent_files] if parent_files else [])}))))
    for model, (table, path) in sorted(facts.models.items()):
        users = set(facts.references.get(model, set())) | set(facts.tables.get(table, set()))
        users.discard(path)
        if users:
            out.append(Question(f"model_users-{model}", "model_users",
                                f"Which files use the model `{model}` (table `{table}`)? Count a file if it names the "
                                "class, or, for a migration, changes its table; leave out the file that defines it. "
                                "Give paths.", tuple(sorted(users)), "path", tuple(sorted({path, *users}))))
    for w in facts.workers:
        if w.options:
            opts = tuple(sorted(f"{k}={v}" for k, v in w.options.items()))
            out.append(Question(f"worker_options-{w.name}", "worker_options",
                                f"The job/worker `{w.name}` sets which queue and retry options? Answer as strings "
                                'like "queue=NAME" and "retry=VALUE", only for the options it sets itself.',
                                opts, "option", (w.path,)))
    if facts.workers:
        out.append(Question("workers", "workers", "Which job or worker classes (or task functions) does this "
                            "repository define? Give their names.", tuple(sorted({w.name for w in facts.workers})),
                            "name", tuple(sorted({w.path for w in facts.workers}))))
    return out


def choose_questions(facts: RepoFacts, n: int, seed: int, keep=None) -> list[Question]:
    """N questions (of those KEEP accepts) spread over the kinds (round robin in a seeded order), multi-file ones first
    within each kind; the same seed gives the same questions."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Question]] = {}
    for q in all_questions(facts):
        if keep is not None and not keep(q):
            continue
        by_kind.setdefault(q.kind, []).append(q)
    for qs in by_kind.values():
        rng.shuffle(qs)
        qs.sort(key=lambda q: not q.multi_file)  # stable: shuffled order kept within each group
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    out: list[Question] = []
    while len(out) < n and any(by_kind.values()):
        for k in kinds:
            if by_kind[k] and len(out) < n:
                out.append(by_kind[k].pop(0))
    return out
