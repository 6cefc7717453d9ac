"""Facts about a repository, read from tree-sitter syntax trees (Python, Ruby, JavaScript,
TypeScript, and the Ruby inside ERB templates): definitions with qualified names, calls tied to
the definition they reach, imports, inheritance, models and tables, job/worker classes.

These are the ground truth of the comprehension questions, so they are read from the syntax,
never guessed: a use the syntax cannot tie to one definition (a call on an unknown receiver, a
method name passed as a symbol, a dynamic import) is recorded as such, and the question it
would make uncertain is not asked.
"""

from __future__ import annotations


import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from bakeoff.suite.repo.scopes import Definition

LANGUAGES = {".py": "python", ".rb": "ruby", ".rake": "ruby", ".jbuilder": "ruby", ".builder": "ruby", ".rsb": "ruby", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
             ".cjs": "javascript", ".ts": "typescript", ".tsx": "tsx"}


@lru_cache(maxsize=None)
def parser_for(lang: str):
    import tree_sitter as ts

    if lang == "python":
        import tree_sitter_python as g
        language = g.language()
    elif lang == "ruby":
        import tree_sitter_ruby as g
        language = g.language()
    elif lang == "javascript":
        import tree_sitter_javascript as g
        language = g.language()
    else:
        import tree_sitter_typescript as g
        language = g.language_tsx() if lang == "tsx" else g.language_typescript()
    return ts.Parser(ts.Language(language))


def language_of(path: str) -> str | None:
    for suffix, lang in LANGUAGES.items():
        if path.endswith(suffix):
            return lang
    return None


@lru_cache(maxsize=8192)
def parse(path: str, text: str):
    """The file's syntax tree (None for a language without a grammar here). Cached: facts, each
    mutator's search and each mutation's check parse the same unchanged files again."""
    lang = language_of(path)
    return None if lang is None else parser_for(lang).parse(text.encode("utf-8"))


def syntax_errors(path: str, text: str) -> list[int]:
    """Lines (1-based) of ERROR or MISSING nodes; empty when the file parses cleanly."""
    tree = parse(path, text)
    if tree is None or not tree.root_node.has_error:
        return []
    lines, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            lines.append(node.start_point[0] + 1)
        elif node.has_error:
            stack.extend(node.children)
    return sorted(set(lines))


def _text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _enclosing(node, types: tuple[str, ...]):
    n = node.parent
    while n is not None:
        if n.type in types:
            return n
        n = n.parent
    return None


@dataclass(frozen=True)
class CallSite:
    path: str
    caller: str | None  # the innermost named function holding the call (None: outside any)
    outer: str | None = None  # the named function around that one, also accepted


@dataclass
class Worker:
    name: str  # qualified
    path: str
    line: int
    options: dict[str, str] = field(default_factory=dict)  # queue, retry
    options_unsure: str = ""  # why its queue/retry options are not only what it sets itself


@dataclass
class Model:
    table: str | None  # None: the table could not be derived with certainty
    path: str
    why_unsure: str = ""  # why no model_users question is asked about it
    named_by: tuple[str, ...] = ()  # files naming it by a string (Django: migrations, 'app.Model')
    app: str = ""  # Django app label


@dataclass
class RepoFacts:
    definitions: list[Definition] = field(default_factory=list)
    calls: dict[str, set[CallSite]] = field(default_factory=lambda: defaultdict(set))  # qualified target -> sites
    loose: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # short name -> files using it untied
    imports: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # path -> modules as written
    imports_unsure: dict[str, str] = field(default_factory=dict)  # path -> why its import list is not certain
    parents: dict[str, list[tuple[tuple[str, ...] | None, str]]] = field(default_factory=lambda: defaultdict(list))  # class -> [(bases as written (None: not plain names), path)]
    includes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # Ruby class -> included modules (resolved)
    models: dict[str, Model] = field(default_factory=dict)  # qualified model class -> its table
    references: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # qualified class -> files naming it
    unsure_refs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # short class name -> files with an unresolved use
    tables: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # table -> migrations changing it
    tables_unsure: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # table -> migrations touching it in ways not read
    created_tables: set[str] = field(default_factory=set)  # tables some migration creates
    migration_literals: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # literal -> migrations
    workers: list[Worker] = field(default_factory=list)
    workers_unsure: list[str] = field(default_factory=list)  # why the list of workers may be incomplete
    languages: dict[str, str] = field(default_factory=dict)  # path -> language
    index: object = None  # uses.Index, for the framework pass
    def_nodes: list = field(default_factory=list)  # (definition, its syntax node, its context)

    def defined_in(self, name: str) -> set[str]:
        return {d.path for d in self.definitions if d.name == name}

    def short_counts(self) -> Counter:
        return Counter(d.name for d in self.definitions)


_ERB_CODE = re.compile(r"<%(?!%)[=\-]?(.*?)-?%>", re.S)


def erb_code(template: str) -> str:
    """The Ruby inside an ERB template's <% %> tags, one fragment a line (comments left out)."""
    parts = [m.group(1) for m in _ERB_CODE.finditer(template)]
    return "\n".join(p for p in parts if not p.lstrip().startswith("#"))


def collect_facts(files: dict[str, str]) -> RepoFacts:
    from bakeoff.suite.repo.frameworks import find_models_and_workers
    from bakeoff.suite.repo.scopes import superclasses, walk
    from bakeoff.suite.repo.uses import scan_uses

    facts = RepoFacts()
    trees = {}
    for path, text in files.items():
        lang = language_of(path)
        if lang is None and path.endswith(".erb"):
            trees[path] = ("ruby", parser_for("ruby").parse(erb_code(text).encode("utf-8")), True)
            continue
        if lang is None:
            continue
        trees[path] = (lang, parse(path, text), False)
        facts.languages[path] = lang
        for node, ctx, d in walk(trees[path][1], lang, path):
            if d is not None:
                facts.definitions.append(d)
                facts.def_nodes.append((d, node, ctx))
                if d.kind == "class":
                    facts.parents[d.qualified].append((superclasses(node, lang), path))
    scan_uses(facts, trees, files)
    find_models_and_workers(facts, trees, files)
    return facts

