"""Uses in Python: calls tied to a function imported by name or defined in the same module, to a
method through ``self``/``cls`` or its class; class names resolved through imports (and
re-exports); a function passed as a value, an attribute read and a string naming it are loose."""

from __future__ import annotations

from bakeoff.suite.repo.facts import RepoFacts
from bakeoff.suite.repo.scopes import text, walk
from bakeoff.suite.repo.uses import IDENT, Index, call_site, descendants, in_import, string_content

def read_python_imports(ix: Index, facts: RepoFacts, path: str, tree) -> None:
    """The file's import statements, and the names it assigns (Event = apps.get_model(...) is a
    local, not the model class)."""
    names: dict[str, tuple] = {}
    assigned = ix.py_locals[path]
    for node in descendants(tree.root_node):
        if node.type in ("assignment", "for_statement"):
            target = node.child_by_field_name("left")
            assigned.update(text(n) for n in descendants(target) if n.type == "identifier") if target is not None else None
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


def scan_python(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
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
                    facts.calls[target.qualified].add(call_site(path, ctx))
                elif target is not None and target.kind == "class":
                    facts.references[target.qualified].add(path)
                else:
                    class_use(name)  # a local (Event = apps.get_model(...)) or an import from outside: not ours
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
                    facts.calls[target.qualified].add(call_site(path, ctx))
                else:
                    facts.loose[name].add(path)
        elif t == "identifier" and parent is not None:
            if (parent.type == "call" and parent.child_by_field_name("function") == node) or \
                    (parent.type == "attribute" and parent.child_by_field_name("attribute") == node) or \
                    (parent.type in ("function_definition", "class_definition") and parent.child_by_field_name("name") == node) or \
                    (parent.type == "keyword_argument" and parent.child_by_field_name("name") == node) or \
                    parent.type.endswith("parameter") or parent.type in ("parameters", "lambda_parameters") or in_import(node):
                continue
            name = text(node)
            if name in ix.callable_names:
                facts.loose[name].add(path)  # a function passed as a value, or a variable/field named like one
            if name[:1].isupper():
                class_use(name)
        elif t == "attribute":
            obj, name = node.child_by_field_name("object"), text(node.child_by_field_name("attribute"))
            if parent is None or parent.type != "call" or parent.child_by_field_name("function") != node:
                facts.loose[name].add(path)  # read, not called
            if name in ix.class_names and obj is not None:  # models.Invoice, billing.models.Invoice(...)
                source = modules.get(text(obj)) if obj.type == "identifier" else \
                    ix.py_module(path, text(obj)) if obj.type == "attribute" else None
                found = ix.top.get((source, name)) if source else None
                if found is not None and found.kind == "class":
                    facts.references[found.qualified].add(path)
                elif obj.type != "identifier" or text(obj) not in ("self", "cls"):
                    facts.unsure_refs[name].add(path)  # a class of that name reached some other way
        elif t == "string" and (content := string_content(node)) and IDENT.fullmatch(content):
            facts.loose[content].add(path)  # getattr(obj, "name"), a URL name, a signal's receiver name
    for local, entry in ix.py_imports.get(path, {}).items():  # an import names the class too
        if entry[0] == "name" and local[:1].isupper():
            class_use(local)
