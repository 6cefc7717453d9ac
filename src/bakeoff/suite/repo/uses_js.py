"""Uses in JavaScript and TypeScript: calls tied to a function of the same module or one imported
by name from a relative path, to a method through ``this`` or its class; imports, re-exports,
``require`` and ``import()`` of literal paths; a function passed as a callback is a loose use."""

from __future__ import annotations

from bakeoff.suite.repo.facts import RepoFacts
from bakeoff.suite.repo.scopes import Definition, text, walk
from bakeoff.suite.repo.uses import Index, call_site, descendants, in_import, string_content

def scan_js(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
    names: dict[str, tuple[str | None, str]] = {}  # local -> (repository file, exported name or "*")

    def origin(name: str) -> Definition | None:
        if (path, name) in ix.top:
            return ix.top[(path, name)]
        source, exported = names.get(name, (None, ""))
        return ix.top.get((source, exported)) if source else None

    def literal_import(arg, how: str) -> None:
        if arg is not None and arg.type == "string" or (arg is not None and arg.type == "template_string"
                                                        and not arg.named_children[1:]):
            content = string_content(arg) if arg.type == "string" else text(arg).strip("`")
            if content is not None and "${" not in content:
                facts.imports[path].append(content)
                return
        facts.imports_unsure[path] = f"{how} of a computed path"

    for node in descendants(tree.root_node):
        if node.type == "import_require_clause":  # TypeScript's import fs = require("fs")
            literal_import(next((c for c in node.named_children if c.type == "string"), None), "import = require")
        elif node.type in ("import_statement", "export_statement") and node.child_by_field_name("source") is not None:
            written = string_content(node.child_by_field_name("source")) or ""
            facts.imports[path].append(written)
            source = ix.js_module(path, written)
            for spec in (n for n in descendants(node) if n.type == "import_specifier"):
                orig = text(spec.child_by_field_name("name"))
                names[text(spec.child_by_field_name("alias")) or orig] = (source, orig)
            for ns in (n for n in descendants(node) if n.type == "namespace_import"):
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
                facts.calls[target.qualified].add(call_site(path, ctx))
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
                    parent.type in ("required_parameter", "optional_parameter", "formal_parameters") or in_import(node):
                continue
            facts.loose[text(node)].add(path)  # passed as a callback, or a property read without a call
