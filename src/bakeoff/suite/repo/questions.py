"""Comprehension questions whose answers are known: each is built from the facts that tree-sitter
read (bakeoff.suite.repo.facts), its answer a set scored with precision and recall.

Kinds: where X is defined; which functions call X; what file F imports or requires; which classes
C inherits from; which files use model M (table T); which queue and retry a job/worker sets; which
workers exist. A question is asked only when its key is certain; every one left out is returned
as ``Dropped`` with the reason, so a user can see what was not asked and why. Questions whose
evidence spans more than one file are preferred where the repository has them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bakeoff.suite.repo.facts import RepoFacts
from bakeoff.suite.repo.scopes import Definition

ANSWER_RULE = ('Answer with a JSON array of strings and nothing else, e.g. ["a", "b"]; '
               'an empty array [] if there is none.')


@dataclass(frozen=True)
class Question:
    id: str
    kind: str  # defined | callers | imports | inherits | model_users | worker_options | workers
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


_FRAMEWORK_CALLED = {"initialize", "constructor", "__init__", "perform", "call", "change", "up", "down", "main",
                     "setUp", "tearDown", "render", "get", "post", "put", "patch", "delete", "save", "clean",
                     "handle", "run", "dispatch", "process", "execute", "show", "index", "create", "update",
                     "destroy", "new", "edit"}


def _files(paths) -> str:
    paths = sorted(paths)
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def all_questions(facts: RepoFacts) -> list[Question]:
    return [q for q in question_candidates(facts) if isinstance(q, Question)]


def question_candidates(facts: RepoFacts) -> list[Question | Dropped]:
    """Every question the facts allow, and each one left out as uncertain (with the reason)."""
    out: list[Question | Dropped] = []
    short = facts.short_counts()
    by_qualified: dict[str, list[Definition]] = {}
    for d in facts.definitions:
        by_qualified.setdefault(d.qualified, []).append(d)
    for q, defs in sorted(by_qualified.items()):
        d = defs[0]
        if d.name.startswith("_") or len(d.name) < 3:
            continue
        lang = facts.languages.get(d.path)
        ambiguous = _ambiguous(d, defs, short, lang)
        if d.kind in ("function", "method"):
            out.append(_callers(facts, d, ambiguous))
        if d.kind in ("class", "function") and not d.owner or d.kind == "class":
            out.append(_defined(facts, d, ambiguous, lang))
    out += [_imports(facts, path) for path in sorted(facts.imports)]
    class_files: dict[str, set[str]] = {}
    for d in facts.definitions:
        if d.kind == "class":
            class_files.setdefault(d.name, set()).add(d.path)
    for q, entries in sorted(facts.parents.items()):
        out.append(_inherits(q, entries, by_qualified[q], short, facts, class_files))
    out += [_model_users(facts, q, m) for q, m in sorted(facts.models.items())]
    out += _workers(facts)
    return [q for q in out if q is not None]


def _ambiguous(d: Definition, defs: list[Definition], short, lang) -> str:
    """Why a definition cannot be named unambiguously ('' when it can)."""
    files = {x.path for x in defs}
    if len(files) > 1:
        return f"{d.qualified} is defined in {len(files)} files ({_files(files)})"
    if len(defs) > 1:
        return f"{d.qualified} is defined {len(defs)} times"
    if lang != "ruby" and short[d.name] > 1 or d.kind in ("function", "method") and short[d.name] > 1:
        return f"the name {d.name} is defined {short[d.name]} times"
    return ""


def _callers(facts: RepoFacts, d: Definition, ambiguous: str) -> Question | Dropped | None:
    sites = facts.calls.get(d.qualified, set())
    if not (sites or facts.loose.get(d.name)) or d.name.startswith("__"):
        return None
    drop = lambda why: Dropped("callers", d.qualified, why)  # noqa: E731
    if d.name in _FRAMEWORK_CALLED:
        return drop(f"{d.name} is called by the framework too")
    if ambiguous:
        return drop(ambiguous)
    if facts.loose.get(d.name):
        return drop(f"{d.name} is also used where the receiver is not known to be {d.owner or 'this function'}, "
                    f"or as an association, attribute, column, symbol or callback ({_files(facts.loose[d.name])})")
    if any(s.caller is None for s in sites):
        where = sorted({s.path for s in sites if s.caller is None})
        return drop(f"called outside any named function ({_files(where)})")
    if any(s.caller == d.qualified for s in sites):
        return drop("it calls itself: whether that counts is ambiguous")
    callers = sorted({s.caller for s in sites})
    accept = tuple(sorted({(s.outer, s.caller) for s in sites if s.outer}))
    return Question(f"callers-{d.qualified}", "callers",
                    f"Which functions or methods call `{d.qualified}` (defined in {d.path})? Credit a call inside a "
                    "block, lambda or nested function to the innermost named function or method around it (the "
                    "named function around that one is accepted too). Give each caller's qualified name "
                    "(Class#method, Class.method, module.function).",
                    tuple(callers), "name", tuple(sorted({d.path, *(s.path for s in sites)})), accept)


def _defined(facts: RepoFacts, d: Definition, ambiguous: str, lang: str | None) -> Question | Dropped | None:
    users = {s.path for s in facts.calls.get(d.qualified, set())} | facts.references.get(d.qualified, set())
    users.discard(d.path)
    if not users:
        return None
    if ambiguous:
        return Dropped("defined", d.qualified, ambiguous)
    # Ruby names a constant by its namespace; Python and JavaScript by the short name (unique here),
    # since the module path would give the file away.
    name = d.qualified if lang == "ruby" else d.name
    return Question(f"defined-{d.qualified}", "defined", f"In which file is `{name}` defined? Give its path.",
                    (d.path,), "path", tuple(sorted({d.path, *users})))


def _imports(facts: RepoFacts, path: str) -> Question | Dropped | None:
    modules = facts.imports[path]
    if not modules:
        return None
    if path in facts.imports_unsure:
        return Dropped("imports", path, facts.imports_unsure[path])
    return Question(f"imports-{path}", "imports",
                    f"What does the file {path} import or require? List each module or path as written in its "
                    "import, from-import, require, require_relative, export-from or import() statements.",
                    tuple(sorted(set(modules))), "module", (path,))


def _inherits(q: str, entries, defs: list[Definition], short, facts: RepoFacts,
              class_files: dict[str, set[str]]) -> Question | Dropped | None:
    written = {bases for bases, _ in entries if bases != ()}
    if not written:
        return None
    d = defs[0]
    lang = facts.languages.get(d.path)
    if None in written:
        return Dropped("inherits", q, "a superclass is not a plain name (a call, a generic, a mixin function)")
    if len(written) > 1:
        return Dropped("inherits", q, "reopened with different superclasses")
    if len({p for _, p in entries}) > 1 and lang != "ruby" or lang != "ruby" and short[d.name] > 1:
        return Dropped("inherits", q, f"the name {d.name} is defined {short[d.name]} times")
    bases = written.pop()
    paths = {p for _, p in entries}
    for base in bases:  # the superclass's file too, where the name reaches a class of the repository
        found = _superclass_file(facts, d, base, class_files)
        paths |= {found} if found else set()
    return Question(f"inherits-{q}", "inherits",
                    f"Which class{'es does' if len(bases) > 1 else ' does'} `{q}` (defined in {d.path}) inherit from "
                    "directly? Give each direct superclass as written in the class statement.",
                    bases, "name", tuple(sorted(paths)))


def _superclass_file(facts: RepoFacts, d: Definition, base: str, class_files) -> str | None:
    """The file defining the class BASE names, resolved as the language would (Python: imports,
    Ruby: the constant lookup from the class's namespace); None when it is outside the repository."""
    lang, ix = facts.languages.get(d.path), facts.index
    if lang == "python":
        found = ix.py_origin(d.path, base) if "." not in base else None
        return found.path if found is not None and found.kind == "class" else None
    if lang == "ruby":
        parts = d.qualified.split("::")[:-1]
        resolved = ix.ruby_constant(base, tuple("::".join(parts[:i + 1]) for i in range(len(parts))))
        return ix.classes[resolved].path if resolved else None
    files = class_files.get(base, set())
    return next(iter(files)) if len(files) == 1 and (d.path, base) not in ix.top else (d.path if (d.path, base) in ix.top else None)


def _model_users(facts: RepoFacts, q: str, m) -> Question | Dropped | None:
    drop = lambda why: Dropped("model_users", q, why)  # noqa: E731
    if m.why_unsure:
        return drop(m.why_unsure)
    short = re.split(r"::|\.", q)[-1]
    unsure = facts.unsure_refs.get(short, set()) | facts.unsure_refs.get(q, set())
    unsure.discard(m.path)
    if unsure:
        return drop(f"{_files(unsure)} name {short} in a way not tied to {q} (an unresolved constant, a star "
                    "import, a template not parsed, a constant read through it)")
    if m.table and facts.tables_unsure.get(m.table):
        return drop(f"migrations touch {m.table} in ways not read here ({_files(facts.tables_unsure[m.table])})")
    if sum(1 for other in facts.models.values() if other.table and other.table == m.table) > 1:
        return drop(f"another model shares the table {m.table}")
    users = facts.references.get(q, set()) | (facts.tables.get(m.table, set()) if m.table else set()) | set(m.named_by)
    users.discard(m.path)
    if not users:
        return None
    table = f" (table `{m.table}`)" if m.table else ""
    return Question(f"model_users-{q}", "model_users",
                    f"Which files use the model `{q}`{table}? Count a file if its code names the class (in code, "
                    "in a template's code, or in a string the framework resolves to it: class_name: '...', "
                    "'app_label.Model', apps.get_model(...)), or, for a migration, creates or changes its table "
                    "or names the model; prose in comments, docstrings and messages does not count; leave out "
                    "the file that defines it. Give paths.", tuple(sorted(users)), "path", tuple(sorted({m.path, *users})))


def _workers(facts: RepoFacts) -> list[Question | Dropped]:
    out: list[Question | Dropped] = []
    for w in facts.workers:
        if w.options and w.options_unsure:
            out.append(Dropped("worker_options", w.name, w.options_unsure))
        elif w.options:
            opts = tuple(sorted(f"{k}={v}" for k, v in w.options.items()))
            out.append(Question(f"worker_options-{w.name}", "worker_options",
                                f"The job/worker `{w.name}` (in {w.path}) sets which queue and retry options? Answer "
                                'as strings like "queue=NAME" and "retry=VALUE" (the number of retries: Sidekiq\'s '
                                "retry, Celery's max_retries), only for the options it sets itself.",
                                opts, "option", (w.path,)))
    if not facts.workers:
        return out
    names = sorted({w.name for w in facts.workers})
    if facts.workers_unsure:
        out.append(Dropped("workers", "workers", facts.workers_unsure[0]
                           + (f" (and {len(facts.workers_unsure) - 1} more)" if len(facts.workers_unsure) > 1 else "")))
    else:
        out.append(Question("workers", "workers",
                            "Which job or worker classes (or task functions) does this repository define? Count "
                            "classes that include Sidekiq::Worker or Sidekiq::Job or inherit from ActiveJob::Base, "
                            "directly or through classes and modules of this repository, but not a base class that "
                            "other job classes here inherit from; functions decorated as Celery, RQ or Dramatiq "
                            "tasks; and BullMQ workers, named \"queue NAME\" after their queue. Give qualified "
                            "names (Shop::SyncWorker, billing.tasks.send_invoice).", tuple(names), "name",
                            tuple(sorted({w.path for w in facts.workers}))))
    return out


def choose_questions(facts: RepoFacts, n: int, seed: int, keep=None) -> list[Question]:
    """N questions (of those KEEP accepts) spread over the kinds (round robin in a seeded order), multi-file ones first
    within each kind; the same seed gives the same questions. KEEP is asked only about questions
    that could be chosen (it may pack prompts and read facts again)."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Question]] = {}
    for q in all_questions(facts):
        by_kind.setdefault(q.kind, []).append(q)
    for qs in by_kind.values():
        rng.shuffle(qs)
        qs.sort(key=lambda q: not q.multi_file)  # stable: shuffled order kept within each group
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    out: list[Question] = []
    while len(out) < n and any(by_kind.values()):
        for k in kinds:
            while by_kind[k] and len(out) < n:
                q = by_kind[k].pop(0)
                if keep is None or keep(q):
                    out.append(q)
                    break
    return out
