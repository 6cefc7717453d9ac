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
from bakeoff.suite.repo.scopes import Definition, module_of, text, walk

_IDENT = re.compile(r"[A-Za-z_]\w*[?!]?")
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


def _site(path: str, ctx) -> CallSite:
    return CallSite(path, ctx.funcs[-1] if ctx.funcs else None, ctx.funcs[-2] if len(ctx.funcs) > 1 else None)


def _string_content(node) -> str | None:
    """A string literal's text, or None when it is interpolated."""
    parts = [c for c in node.named_children if c.type not in ("string_start", "string_end")]
    if any(c.type in ("interpolation", "template_substitution", "escape_sequence") for c in parts):
        return None
    return "".join(text(c) for c in parts)


def scan_uses(facts: RepoFacts, trees: dict, files: dict[str, str]) -> None:
    ix = Index(facts, files)
    facts.index = ix
    for path, (lang, tree, _) in trees.items():
        if lang == "python":
            _python_imports(ix, facts, path, tree)
    for path, (lang, tree, template) in trees.items():
        scan = _scan_ruby if lang == "ruby" else _scan_python if lang == "python" else _scan_js
        scan(facts, ix, path, tree, lang)
    classes_of = defaultdict(set)  # language family -> short class names
    for d in facts.definitions:
        if d.kind != "function" and d.kind != "method":
            classes_of[_FAMILY.get(facts.languages.get(d.path), "")].add(d.name)
    for path, text_ in files.items():  # templates the grammars do not read: every word may be a use
        family = next((f for suffixes, f in _TEMPLATES if path.endswith(suffixes)), None)
        if family is None:
            continue
        for word in set(_IDENT.findall(text_)):
            if word in ix.callable_names:  # {{ order.total }} calls a method
                facts.loose[word].add(path)
            if word in classes_of.get(family, ()):  # only templates that run code can name a class
                facts.unsure_refs[word].add(path)


# --- Ruby ---

_RUBY_PARAMS = ("method_parameters", "block_parameters", "lambda_parameters", "optional_parameter",
                "keyword_parameter", "splat_parameter", "hash_splat_parameter", "block_parameter")


def _ruby_assigned(fn_node) -> set[str]:
    """Names a method (or a template) assigns or takes as a parameter: local variables."""
    names = set()
    stack = [fn_node]
    while stack:
        n = stack.pop()
        if n.type in ("assignment", "operator_assignment"):
            left = n.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                names.add(text(left))
        elif n.type == "identifier" and n.parent is not None and n.parent.type in _RUBY_PARAMS:
            names.add(text(n))
        stack.extend(n.children)
    return names


def _scan_ruby(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
    locals_of: dict[int, set[str]] = {}

    def bare_call(name: str, ctx) -> None:
        owner = ctx.nesting[-1] if ctx.nesting else None
        target = ix.methods.get((owner, name, ctx.fn_singleton))
        if target is not None:
            facts.calls[target.qualified].add(_site(path, ctx))
        else:
            facts.loose[name].add(path)

    def constant_use(written: str, ctx) -> None:
        resolved = ix.ruby_constant(written, ctx.nesting)
        if resolved is not None:
            facts.references[resolved].add(path)
            return
        facts.unsure_refs[written.split("::")[-1]].add(path)
        head = written.rsplit("::", 1)[0] if "::" in written else None
        owner = ix.ruby_constant(head, ctx.nesting) if head else None
        if owner is not None:  # Shop::Order::STATUSES: reads the class, a use or not
            facts.unsure_refs[owner].add(path)

    for node, ctx, d in walk(tree, "ruby", path):
        t, parent = node.type, node.parent
        if t == "call":
            method, receiver = node.child_by_field_name("method"), node.child_by_field_name("receiver")
            name = text(method)
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if receiver is None and name in ("require", "require_relative"):
                literal = _string_content(first) if first is not None and first.type == "string" else None
                if literal is None:
                    facts.imports_unsure[path] = f"{name} of a computed path"
                else:
                    facts.imports[path].append(literal)
                continue
            if receiver is None and name in ("include", "extend", "prepend") and ctx.nesting and args is not None:
                for a in args.named_children:
                    facts.includes[ctx.nesting[-1]].append(ix.ruby_constant(text(a), ctx.nesting) or text(a))
            if method is None or method.type != "identifier":
                continue
            if receiver is None or receiver.type == "self":
                bare_call(name, ctx)
            elif receiver.type in ("constant", "scope_resolution") and \
                    (owner := ix.ruby_constant(text(receiver), ctx.nesting)) and (owner, name, True) in ix.methods:
                facts.calls[ix.methods[(owner, name, True)].qualified].add(_site(path, ctx))
            elif name != "new":
                facts.loose[name].add(path)
        elif t == "identifier" and text(node) in ix.callable_names:
            if parent is None or parent.type in _RUBY_PARAMS or \
                    (parent.type == "call" and parent.child_by_field_name("method") == node) or \
                    (parent.type in ("method", "singleton_method") and parent.child_by_field_name("name") == node):
                continue
            if parent.type in ("assignment", "operator_assignment") and parent.child_by_field_name("left") == node:
                facts.loose[text(node)].add(path)  # a local variable named like a method
                continue
            scope = ctx.fn_node if ctx.fn_node is not None else tree.root_node
            if id(scope) not in locals_of:
                locals_of[id(scope)] = _ruby_assigned(scope)
            if text(node) in locals_of[id(scope)]:
                facts.loose[text(node)].add(path)
            else:
                bare_call(text(node), ctx)  # a call without parentheses or receiver
        elif t in ("simple_symbol", "delimited_symbol", "hash_key_symbol"):
            facts.loose[text(node).strip(":\"'")].add(path)  # has_many :items, before_action :load, send(:x)
        elif t == "string" and (content := _string_content(node)) and _IDENT.fullmatch(content):
            facts.loose[content].add(path)
        elif t in ("constant", "scope_resolution"):
            if parent is not None and (parent.type == "scope_resolution" or
                                       parent.type in ("class", "module") and parent.child_by_field_name("name") == node):
                continue  # a namespace prefix (Shop:: in Shop::Order) or the name being defined
            constant_use(text(node), ctx)
        elif t == "pair":
            key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
            if key is not None and text(key).strip(":").rstrip(":").strip() in ("class_name", "'class_name'") \
                    and value is not None and value.type == "string" and (name := _string_content(value)):
                constant_use(name, ctx)  # has_many :items, class_name: 'Shop::Order::Item'


# --- Python ---

def _python_imports(ix: Index, facts: RepoFacts, path: str, tree) -> None:
    """The file's import statements, and the names it assigns (Event = apps.get_model(...) is a
    local, not the model class)."""
    names: dict[str, tuple] = {}
    assigned = ix.py_locals[path]
    for node in _all(tree.root_node):
        if node.type in ("assignment", "for_statement"):
            target = node.child_by_field_name("left")
            assigned.update(text(n) for n in _all(target) if n.type == "identifier") if target is not None else None
        elif node.type == "identifier" and node.parent is not None and (
                node.parent.type.endswith("parameter") or node.parent.type == "parameters"):
            assigned.add(text(node))
        elif node.type == "import_statement":
            for c in node.named_children:
                dotted = text(c.child_by_field_name("name") if c.type == "aliased_import" else c)
                facts.imports[path].append(dotted)
                if c.type == "aliased_import":
                    names[text(c.child_by_field_name("alias"))] = ("module", ix.py_module(path, dotted))
                else:
                    names[dotted.split(".")[0]] = ("module", ix.py_module(path, dotted.split(".")[0]))
        elif node.type == "future_import_statement":
            facts.imports[path].append("__future__")
        elif node.type == "import_from_statement":
            module = text(node.child_by_field_name("module_name"))
            if module.strip(".") == "":
                facts.imports_unsure[path] = f"`from {module} import ...` names a package, not a module"
            facts.imports[path].append(module)
            for c in node.named_children:
                if c.type == "wildcard_import":
                    ix.py_stars[path].append(module)
                if c == node.child_by_field_name("module_name") or c.type not in ("dotted_name", "aliased_import"):
                    continue
                orig = text(c.child_by_field_name("name") if c.type == "aliased_import" else c)
                local = text(c.child_by_field_name("alias")) if c.type == "aliased_import" else orig
                submodule = ix.py_module(path, f"{module}.{orig}" if not module.endswith(".") else module + orig)
                names[local] = ("module", submodule) if submodule else ("name", module, orig)
    ix.py_imports[path] = names


def _all(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def _in_import(node) -> bool:
    n = node.parent
    for _ in range(3):
        if n is None:
            return False
        if n.type in ("import_statement", "import_from_statement", "import_clause", "import_specifier",
                      "named_imports", "namespace_import"):
            return True
        n = n.parent
    return False


def _python_target(ix: Index, path: str, name: str) -> Definition | None:
    found = ix.py_origin(path, name)
    if found is None and (entry := ix.py_imports.get(path, {}).get(name)) and entry[0] == "module" and entry[1]:
        return None
    return found


def _scan_python(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
    modules = {k: v[1] for k, v in ix.py_imports.get(path, {}).items() if v[0] == "module"}

    local = ix.py_locals.get(path, set())
    imported = ix.py_imports.get(path, {})

    def class_use(name: str) -> None:
        d = ix.py_origin(path, name)
        if d is not None and d.kind == "class":
            facts.references[d.qualified].add(path)
        elif name in ix.class_names and name not in local and name not in imported:
            facts.unsure_refs[name].add(path)  # neither defined, imported nor assigned here: a star import?

    for node, ctx, d in walk(tree, "python", path):
        t, parent = node.type, node.parent
        if t == "call":
            fn = node.child_by_field_name("function")
            if fn is None:
                continue
            if fn.type == "identifier":
                name = text(fn)
                if name in ("__import__",):
                    facts.imports_unsure[path] = "__import__ of a computed name"
                target = ix.py_origin(path, name)
                if target is not None and target.kind == "function":
                    facts.calls[target.qualified].add(_site(path, ctx))
                elif target is not None and target.kind == "class":
                    facts.references[target.qualified].add(path)
                else:
                    if name in ix.class_names:
                        facts.unsure_refs[name].add(path)
                    facts.loose[name].add(path)
            elif fn.type == "attribute":
                obj, name = fn.child_by_field_name("object"), text(fn.child_by_field_name("attribute"))
                if text(obj) == "importlib" and name == "import_module":
                    facts.imports_unsure[path] = "importlib.import_module of a computed name"
                target = None
                if obj.type == "identifier":
                    o = text(obj)
                    if o in ("self", "cls") and ctx.nesting:
                        target = ix.methods.get((ctx.nesting[-1], name, None))
                    elif o in modules and modules[o]:
                        target = ix.top.get((modules[o], name))
                        target = target if target is not None and target.kind == "function" else None
                    elif (cls := ix.py_origin(path, o)) is not None and cls.kind == "class":
                        target = ix.methods.get((cls.qualified, name, True))
                if target is not None:
                    facts.calls[target.qualified].add(_site(path, ctx))
                else:
                    facts.loose[name].add(path)
        elif t == "identifier" and parent is not None:
            if (parent.type == "call" and parent.child_by_field_name("function") == node) or \
                    (parent.type == "attribute" and parent.child_by_field_name("attribute") == node) or \
                    (parent.type in ("function_definition", "class_definition") and parent.child_by_field_name("name") == node) or \
                    (parent.type == "keyword_argument" and parent.child_by_field_name("name") == node) or \
                    parent.type.endswith("parameter") or parent.type in ("parameters", "lambda_parameters") or _in_import(node):
                continue
            name = text(node)
            if name in ix.callable_names:
                facts.loose[name].add(path)  # a function passed as a value, or a variable/field named like one
            if name[:1].isupper():
                class_use(name)
        elif t == "attribute" and (parent is None or parent.type != "call" or parent.child_by_field_name("function") != node):
            obj, name = node.child_by_field_name("object"), text(node.child_by_field_name("attribute"))
            facts.loose[name].add(path)
            if obj is not None and obj.type == "identifier" and modules.get(text(obj)) and name[:1].isupper():
                d2 = ix.top.get((modules[text(obj)], name))
                if d2 is not None:
                    facts.references[d2.qualified].add(path)
        elif t == "string" and (content := _string_content(node)) and _IDENT.fullmatch(content):
            facts.loose[content].add(path)  # getattr(obj, "name"), a URL name, a signal's receiver name
    for local, entry in ix.py_imports.get(path, {}).items():  # an import names the class too
        if entry[0] == "name" and local[:1].isupper():
            class_use(local)


# --- JavaScript / TypeScript ---

def _scan_js(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
    names: dict[str, tuple[str | None, str]] = {}  # local -> (repository file, exported name or "*")

    def origin(name: str) -> Definition | None:
        if (path, name) in ix.top:
            return ix.top[(path, name)]
        source, exported = names.get(name, (None, ""))
        return ix.top.get((source, exported)) if source else None

    def literal_import(arg, how: str) -> None:
        if arg is not None and arg.type == "string" or (arg is not None and arg.type == "template_string"
                                                        and not arg.named_children[1:]):
            content = _string_content(arg) if arg.type == "string" else text(arg).strip("`")
            if content is not None and "${" not in content:
                facts.imports[path].append(content)
                return
        facts.imports_unsure[path] = f"{how} of a computed path"

    for node in _all(tree.root_node):
        if node.type in ("import_statement", "export_statement") and node.child_by_field_name("source") is not None:
            written = _string_content(node.child_by_field_name("source")) or ""
            facts.imports[path].append(written)
            source = ix.js_module(path, written)
            for spec in (n for n in _all(node) if n.type == "import_specifier"):
                orig = text(spec.child_by_field_name("name"))
                names[text(spec.child_by_field_name("alias")) or orig] = (source, orig)
            for ns in (n for n in _all(node) if n.type == "namespace_import"):
                names[text(ns.named_children[-1])] = (source, "*")
    for node, ctx, d in walk(tree, lang, path):
        t, parent = node.type, node.parent
        if t == "call_expression":
            fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if fn is not None and (fn.type == "import" or (fn.type == "identifier" and text(fn) == "require")):
                literal_import(first, text(fn) if fn.type == "identifier" else "import()")
                continue
            target, name = None, ""
            if fn is not None and fn.type == "identifier":
                name = text(fn)
                target = origin(name)
                target = target if target is not None and target.kind == "function" else None
            elif fn is not None and fn.type == "member_expression":
                obj, name = fn.child_by_field_name("object"), text(fn.child_by_field_name("property"))
                if obj is not None and obj.type == "this" and ctx.nesting:
                    target = ix.methods.get((ctx.nesting[-1], name, None))
                elif obj is not None and obj.type == "identifier":
                    if names.get(text(obj), ("", ""))[1] == "*":
                        target = ix.top.get((names[text(obj)][0], name))
                    elif (cls := origin(text(obj))) is not None and cls.kind == "class":
                        target = ix.methods.get((cls.qualified, name, True))
            if target is not None:
                facts.calls[target.qualified].add(_site(path, ctx))
            elif name:
                facts.loose[name].add(path)
        elif t in ("identifier", "type_identifier") and text(node) in ix.class_names:
            cls = origin(text(node))
            if cls is not None and cls.kind == "class" and cls.path != path:
                facts.references[cls.qualified].add(path)
        if t in ("identifier", "property_identifier", "shorthand_property_identifier") and parent is not None \
                and text(node) in ix.callable_names:
            if (parent.type == "call_expression" and parent.child_by_field_name("function") == node) or \
                    (parent.type == "member_expression" and parent.child_by_field_name("property") == node
                     and parent.parent is not None and parent.parent.type == "call_expression"
                     and parent.parent.child_by_field_name("function") == parent) or \
                    parent.child_by_field_name("name") == node and parent.type in (
                        "function_declaration", "generator_function_declaration", "method_definition",
                        "variable_declarator", "public_field_definition", "class_declaration") or \
                    (parent.type == "field_definition" and parent.child_by_field_name("property") == node) or \
                    parent.type in ("required_parameter", "optional_parameter", "formal_parameters") or _in_import(node):
                continue
            facts.loose[text(node)].add(path)  # passed as a callback, or a property read without a call
