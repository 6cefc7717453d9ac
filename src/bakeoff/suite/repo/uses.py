"""Uses of what the repository defines: calls tied to the one definition they reach, class
references resolved the way the language resolves them, and import statements.

A call is tied to a definition only when its receiver proves it: a bare call to a function of the
same file or one imported by name, ``self.``/``this.`` inside the defining class, a constant
receiver for a class method. Every other use of a defined name (an unknown receiver, a symbol
such as ``has_many :items`` or ``before_action :load``, a function passed as a callback, a
template) is recorded as *loose*: the questions about that name are then not asked.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict

from bakeoff.suite.repo.facts import CallSite, RepoFacts
from bakeoff.suite.repo.scopes import Definition, module_of, text

IDENT = re.compile(r"[A-Za-z_]\w*[?!]?")
_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")
_FAMILY = {"ruby": "ruby", "python": "python", "javascript": "js", "typescript": "js", "tsx": "js"}
# Templates not parsed here, and the language whose classes they can name (Django and Jinja
# templates name no class: only what the view passes them).
_TEMPLATES = [((".haml", ".slim"), "ruby"), ((".vue", ".svelte", ".ejs", ".hbs", ".pug"), "js"),
              ((".html", ".jinja", ".j2", ".txt"), "")]


class Index:
    """Lookups over every definition of the repository."""

    def __init__(self, facts: RepoFacts, files: dict[str, str]):
        self.methods: dict[tuple, Definition] = {}  # (owner, name, class-level?) -> method
        self.top: dict[tuple[str, str], Definition] = {}  # (path, name) -> module-level function/class
        self.classes: dict[str, Definition] = {}  # qualified -> class/module
        self.callable_names = set()  # short names of functions and methods
        self.class_names = set()  # short names of classes
        for d in facts.definitions:
            if d.kind == "method":
                self.methods[(d.owner, d.name, d.singleton)] = d
                self.methods.setdefault((d.owner, d.name, None), d)  # Python/JS: self./this. reach any
            if d.kind in ("function", "method"):
                self.callable_names.add(d.name)
            else:
                self.classes.setdefault(d.qualified, d)
                self.class_names.add(d.name)
            if d.top_level or (d.kind == "class" and d.owner is None):
                self.top[(d.path, d.name)] = d
        self.py_modules = {module_of(p): p for p in files if p.endswith(".py")}
        self.py_suffixes: dict[str, list[str]] = defaultdict(list)  # every dotted tail -> files
        for m, p in self.py_modules.items():
            parts = m.split(".")
            for i in range(len(parts)):
                self.py_suffixes[".".join(parts[i:])].append(p)
        self._modules: dict[tuple[str, str], str | None] = {}
        self._origins: dict[tuple[str, str], Definition | None] = {}
        self.files = files
        self.py_imports: dict[str, dict[str, tuple]] = {}  # path -> local name -> ("module", path) | ("name", module text, name)
        self.py_stars: dict[str, list[str]] = defaultdict(list)
        self.py_locals: dict[str, set[str]] = defaultdict(set)  # path -> names it assigns or takes as parameters

    def py_module(self, path: str, written: str) -> str | None:
        """The repository file a Python import names (None: outside the repository, or not one file)."""
        if (path, written) not in self._modules:
            self._modules[(path, written)] = self._py_module(path, written)
        return self._modules[(path, written)]

    def _py_module(self, path: str, written: str) -> str | None:
        level = len(written) - len(written.lstrip("."))
        rest = written[level:]
        if level:
            package = module_of(path).split(".")
            package = package if path.endswith("/__init__.py") else package[:-1]
            package = package[: len(package) - (level - 1)] if level > 1 else package
            dotted = ".".join(package + ([rest] if rest else []))
            return self.py_modules.get(dotted)
        found = self.py_suffixes.get(rest, [])
        return found[0] if len(found) == 1 else None

    def py_origin(self, path: str, name: str, depth: int = 0) -> Definition | None:
        """The definition NAME reaches in file PATH: defined there, or imported (through re-exports)."""
        if (path, name) not in self._origins:
            self._origins[(path, name)] = self._py_origin(path, name, depth)
        return self._origins[(path, name)]

    def _py_origin(self, path: str, name: str, depth: int) -> Definition | None:
        if (path, name) in self.top:
            return self.top[(path, name)]
        if depth > 3:
            return None
        entry = self.py_imports.get(path, {}).get(name)
        if entry is not None and entry[0] == "name":
            source = self.py_module(path, entry[1])
            return self.py_origin(source, entry[2], depth + 1) if source else None
        for star in self.py_stars.get(path, []):
            source = self.py_module(path, star)
            found = self.py_origin(source, name, depth + 1) if source else None
            if found is not None:
                return found
        return None

    def js_module(self, path: str, written: str) -> str | None:
        if not written.startswith("."):
            return None
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), written))
        stem = base[: -len(posixpath.splitext(base)[1])] if base.endswith(_JS_EXTS) else base
        for cand in [base] + [stem + e for e in _JS_EXTS] + [f"{base}/index{e}" for e in _JS_EXTS]:
            if cand in self.files:
                return cand
        return None

    def ruby_constant(self, written: str, nesting: tuple[str, ...]) -> str | None:
        """Ruby's lexical constant lookup: innermost namespace first, then the top level."""
        if written.startswith("::"):
            return written[2:] if written[2:] in self.classes else None
        for scope in reversed(nesting):
            if f"{scope}::{written}" in self.classes:
                return f"{scope}::{written}"
        return written if written in self.classes else None


def call_site(path: str, ctx) -> CallSite:
    return CallSite(path, ctx.funcs[-1] if ctx.funcs else None, ctx.funcs[-2] if len(ctx.funcs) > 1 else None)


def string_content(node) -> str | None:
    """A string literal's text, or None when it is interpolated."""
    parts = [c for c in node.named_children if c.type not in ("string_start", "string_end")]
    if any(c.type in ("interpolation", "template_substitution", "escape_sequence") for c in parts):
        return None
    return "".join(text(c) for c in parts)


def scan_uses(facts: RepoFacts, trees: dict, files: dict[str, str]) -> None:
    from bakeoff.suite.repo.uses_js import scan_js
    from bakeoff.suite.repo.uses_python import read_python_imports, scan_python
    from bakeoff.suite.repo.uses_ruby import scan_ruby

    ix = Index(facts, files)
    facts.index = ix
    for path, (lang, tree, _) in trees.items():
        if lang == "python":
            read_python_imports(ix, facts, path, tree)
    for path, (lang, tree, template) in trees.items():
        scan = scan_ruby if lang == "ruby" else scan_python if lang == "python" else scan_js
        scan(facts, ix, path, tree, lang)
    classes_of = defaultdict(set)  # language family -> short class names
    for d in facts.definitions:
        if d.kind != "function" and d.kind != "method":
            classes_of[_FAMILY.get(facts.languages.get(d.path), "")].add(d.name)
    for path, text_ in files.items():  # templates the grammars do not read: every word may be a use
        family = next((f for suffixes, f in _TEMPLATES if path.endswith(suffixes)), None)
        if family is None:
            continue
        for word in set(IDENT.findall(text_)):
            if word in ix.callable_names:  # {{ order.total }} calls a method
                facts.loose[word].add(path)
            if word in classes_of.get(family, ()):  # only templates that run code can name a class
                facts.unsure_refs[word].add(path)


def descendants(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def in_import(node) -> bool:
    n = node.parent
    for _ in range(3):
        if n is None:
            return False
        if n.type in ("import_statement", "import_from_statement", "import_clause", "import_specifier",
                      "named_imports", "namespace_import"):
            return True
        n = n.parent
    return False
