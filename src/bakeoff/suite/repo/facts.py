"""Facts about a repository, read from tree-sitter syntax trees (Python, Ruby, JavaScript,
TypeScript): definitions, calls, imports, inheritance, models and tables, job/worker classes.

These are the ground truth of the comprehension questions, so they are read from the syntax,
never guessed: a fact the grammar cannot show (a call made through ``send``, a dynamic import)
is simply not asked about.
"""

from __future__ import annotations


import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

LANGUAGES = {".py": "python", ".rb": "ruby", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
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


@dataclass
class Definition:
    name: str  # bare name
    kind: str  # class | function | method | module
    path: str
    line: int
    owner: str | None = None  # enclosing class


@dataclass
class Worker:
    name: str
    path: str
    line: int
    options: dict[str, str] = field(default_factory=dict)  # queue, retry


@dataclass
class RepoFacts:
    definitions: list[Definition] = field(default_factory=list)
    calls: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))  # name -> {(path, caller)}
    imports: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # path -> modules as written
    parents: dict[str, tuple[str, str]] = field(default_factory=dict)  # class -> (superclass as written, path)
    models: dict[str, tuple[str, str]] = field(default_factory=dict)  # model class -> (table, path)
    references: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # constant/identifier -> paths
    tables: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # table -> migration paths
    workers: list[Worker] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)  # path -> language

    def defined_in(self, name: str) -> set[str]:
        return {d.path for d in self.definitions if d.name == name}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def table_name(model: str) -> str:
    """Rails' default table of a model class: snake case, plural (the common English rules)."""
    word = _snake(model.split("::")[-1])
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def _symbol(node) -> str:
    return _text(node).lstrip(":").strip("'\"")


def _enclosing(node, types: tuple[str, ...]):
    n = node.parent
    while n is not None:
        if n.type in types:
            return n
        n = n.parent
    return None


_FUNC_TYPES = {"python": ("function_definition",), "ruby": ("method", "singleton_method"),
               "javascript": ("function_declaration", "method_definition", "variable_declarator", "function_expression"),
               "typescript": ("function_declaration", "method_definition", "variable_declarator", "function_expression"),
               "tsx": ("function_declaration", "method_definition", "variable_declarator", "function_expression")}
_CLASS_TYPES = {"python": ("class_definition",), "ruby": ("class", "module"),
                "javascript": ("class_declaration",), "typescript": ("class_declaration",), "tsx": ("class_declaration",)}
_MIGRATION_OPS = {"create_table", "drop_table", "add_column", "remove_column", "rename_column", "change_column",
                  "add_index", "remove_index", "add_reference", "remove_reference", "rename_table",
                  "change_column_null", "change_column_default"}
_RUBY_MODEL_BASES = {"ApplicationRecord", "ActiveRecord::Base"}
_RUBY_JOB_BASES = {"ApplicationJob", "ActiveJob::Base"}


def _function_name(node) -> str | None:
    if node.type == "variable_declarator":
        value = node.child_by_field_name("value")
        if value is None or value.type not in ("arrow_function", "function_expression", "function"):
            return None
    if node.type == "function_expression":
        return None
    name = node.child_by_field_name("name")
    return _text(name) or None


def _caller_of(node, lang: str) -> str:
    fn = node.parent
    while fn is not None:
        if fn.type in _FUNC_TYPES[lang] and (name := _function_name(fn)):
            return name
        fn = fn.parent
    return "(top level)"


def collect_facts(files: dict[str, str]) -> RepoFacts:
    facts = RepoFacts()
    defined_methods: set[str] = set()
    trees = {}
    for path, text in files.items():
        lang = language_of(path)
        if lang is None:
            continue
        tree = parse(path, text)
        trees[path] = (lang, tree)
        facts.languages[path] = lang
        for node in _walk(tree.root_node):
            if node.type in _CLASS_TYPES[lang]:
                name = _text(node.child_by_field_name("name"))
                if not name:
                    continue
                bare = name.split("::")[-1]
                kind = "module" if node.type == "module" else "class"
                facts.definitions.append(Definition(bare, kind, path, node.start_point[0] + 1))
                parent = _superclass(node, lang)
                if parent:
                    facts.parents[bare] = (parent, path)
            elif node.type in _FUNC_TYPES[lang]:
                name = _function_name(node)
                if not name:
                    continue
                owner = _enclosing(node, _CLASS_TYPES[lang])
                owner_name = _text(owner.child_by_field_name("name")).split("::")[-1] if owner is not None else None
                facts.definitions.append(Definition(name, "method" if owner is not None else "function", path,
                                                    node.start_point[0] + 1, owner_name))
                defined_methods.add(name)
    for path, (lang, tree) in trees.items():
        _scan_uses(facts, path, lang, tree, defined_methods)
    return facts


def _superclass(node, lang: str) -> str | None:
    if lang == "python":
        supers = node.child_by_field_name("superclasses")
        if supers is None:
            return None
        names = [_text(c) for c in supers.named_children if c.type in ("identifier", "attribute")]
        return names[0] if names else None
    if lang == "ruby":
        sup = node.child_by_field_name("superclass")
        return _text(sup.named_children[0]) if sup is not None and sup.named_children else None
    for child in node.children:
        if child.type == "class_heritage":
            for sub in _walk(child):
                if sub.type == "extends_clause":
                    value = sub.child_by_field_name("value")
                    return _text(value) if value is not None else None
            named = [c for c in child.named_children if c.type in ("identifier", "member_expression")]
            return _text(named[0]) if named else None
    return None


def _scan_uses(facts: RepoFacts, path: str, lang: str, tree, defined_methods: set[str]) -> None:
    is_migration = "/migrate/" in f"/{path}" and lang == "ruby"
    for node in _walk(tree.root_node):
        t = node.type
        if lang == "python":
            if t == "call":
                fn = node.child_by_field_name("function")
                name = _text(fn.child_by_field_name("attribute")) if fn is not None and fn.type == "attribute" else _text(fn)
                if name.isidentifier():
                    facts.calls[name].add((path, _caller_of(node, lang)))
            elif t == "import_statement":
                for c in node.named_children:
                    facts.imports[path].append(_text(c.child_by_field_name("name") if c.type == "aliased_import" else c))
            elif t == "import_from_statement":
                facts.imports[path].append(_text(node.child_by_field_name("module_name")))
            elif t == "identifier" and node.parent is not None and node.parent.type not in ("function_definition", "class_definition"):
                facts.references[_text(node)].add(path)
            elif t == "class_definition":
                _python_model(facts, path, node)
            elif t == "decorated_definition":
                _python_task(facts, path, node)
        elif lang == "ruby":
            if t == "call":
                method = _text(node.child_by_field_name("method"))
                args = node.child_by_field_name("arguments")
                if method in ("require", "require_relative") and args is not None and args.named_children:
                    facts.imports[path].append(_text(args.named_children[0]).strip("'\""))
                    continue
                if method:
                    facts.calls[method].add((path, _caller_of(node, lang)))
                if is_migration and method in _MIGRATION_OPS and args is not None and args.named_children:
                    facts.tables[_symbol(args.named_children[0])].add(path)
            elif t == "identifier" and _text(node) in defined_methods and node.parent is not None \
                    and node.parent.type in ("body_statement", "then", "else", "do", "begin", "argument_list"):
                facts.calls[_text(node)].add((path, _caller_of(node, lang)))  # a call without parentheses
            elif t == "constant" and node.parent is not None and node.parent.type != "class":
                facts.references[_text(node)].add(path)
            elif t == "class":
                _ruby_class(facts, path, node)
        else:
            if t == "call_expression":
                fn = node.child_by_field_name("function")
                name = _text(fn.child_by_field_name("property")) if fn is not None and fn.type == "member_expression" else _text(fn)
                args = node.child_by_field_name("arguments")
                if name == "require" and args is not None and args.named_children and args.named_children[0].type == "string":
                    facts.imports[path].append(_text(args.named_children[0]).strip("'\"`"))
                elif name.isidentifier():
                    facts.calls[name].add((path, _caller_of(node, lang)))
            elif t == "import_statement":
                source = node.child_by_field_name("source")
                if source is not None:
                    facts.imports[path].append(_text(source).strip("'\"`"))
            elif t in ("identifier", "type_identifier") and node.parent is not None \
                    and node.parent.type not in ("class_declaration",):
                facts.references[_text(node)].add(path)


def _python_model(facts: RepoFacts, path: str, node) -> None:
    name = _text(node.child_by_field_name("name"))
    parent = _superclass(node, "python") or ""
    body = node.child_by_field_name("body")
    table = None
    for stmt in body.named_children if body is not None else []:
        expr = stmt.named_children[0] if stmt.type == "expression_statement" and stmt.named_children else None
        if expr is not None and expr.type == "assignment" and _text(expr.child_by_field_name("left")) == "__tablename__":
            table = _text(expr.child_by_field_name("right")).strip("'\"")
    if table or parent.endswith("models.Model"):
        facts.models[name] = (table or _snake(name), path)


def _python_task(facts: RepoFacts, path: str, node) -> None:
    fn = node.child_by_field_name("definition")
    if fn is None or fn.type != "function_definition":
        return
    for dec in (c for c in node.named_children if c.type == "decorator"):
        expr = dec.named_children[0] if dec.named_children else None
        head = expr.child_by_field_name("function") if expr is not None and expr.type == "call" else expr
        if _text(head).split(".")[-1] not in ("task", "shared_task", "actor"):
            continue
        options = {}
        args = expr.child_by_field_name("arguments") if expr is not None and expr.type == "call" else None
        for kw in (args.named_children if args is not None else []):
            if kw.type == "keyword_argument":
                key = _text(kw.child_by_field_name("name"))
                value = _text(kw.child_by_field_name("value")).strip("'\"")
                if key == "queue":
                    options["queue"] = value
                elif key in ("max_retries", "retry", "max_retry"):
                    options["retry"] = value.lower()
        facts.workers.append(Worker(_text(fn.child_by_field_name("name")), path, fn.start_point[0] + 1, options))


def _ruby_class(facts: RepoFacts, path: str, node) -> None:
    name = _text(node.child_by_field_name("name")).split("::")[-1]
    parent = _superclass(node, "ruby") or ""
    body = node.child_by_field_name("body")
    is_job = parent in _RUBY_JOB_BASES
    options: dict[str, str] = {}
    table = None
    for stmt in body.named_children if body is not None else []:
        if stmt.type == "call":
            method = _text(stmt.child_by_field_name("method"))
            args = stmt.child_by_field_name("arguments")
            items = args.named_children if args is not None else []
            if method == "include" and any(_text(a) in ("Sidekiq::Worker", "Sidekiq::Job") for a in items):
                is_job = True
            elif method == "sidekiq_options":
                for pair in (a for a in items if a.type == "pair"):
                    key = _symbol(pair.child_by_field_name("key")).rstrip(":")
                    if key in ("queue", "retry"):
                        options[key] = _symbol(pair.child_by_field_name("value")).lower()
            elif method == "queue_as" and items:
                options["queue"] = _symbol(items[0])
        elif stmt.type == "assignment" and _text(stmt.child_by_field_name("left")) == "self.table_name":
            table = _text(stmt.child_by_field_name("right")).strip("'\"")
    if is_job:
        facts.workers.append(Worker(name, path, node.start_point[0] + 1, options))
    if parent in _RUBY_MODEL_BASES and name != "ApplicationRecord":
        facts.models[name] = (table or table_name(name), path)
