"""Uses in Ruby (and the Ruby of ERB templates): calls tied to a method through a bare call or
``self.`` in the defining class, or a constant receiver for a class method; constants resolved by
Ruby's lexical lookup; symbols, strings and local variables named like a method are loose uses."""

from __future__ import annotations

from bakeoff.suite.repo.facts import RepoFacts
from bakeoff.suite.repo.scopes import text, walk
from bakeoff.suite.repo.uses import IDENT, Index, call_site, string_content

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


def _class_name_option(node) -> bool:
    """The string is the value of a class_name: option (read as a use where the pair is)."""
    pair = node.parent
    return pair is not None and pair.type == "pair" and text(pair.child_by_field_name("key")).strip(":'\" =>") \
        .startswith("class_name")


def scan_ruby(facts: RepoFacts, ix: Index, path: str, tree, lang: str) -> None:
    locals_of: dict[int, set[str]] = {}

    def bare_call(name: str, ctx) -> None:
        owner = ctx.nesting[-1] if ctx.nesting else None
        target = ix.methods.get((owner, name, ctx.fn_singleton))
        if target is not None:
            facts.calls[target.qualified].add(call_site(path, ctx))
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
                literal = string_content(first) if first is not None and first.type == "string" else None
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
                facts.calls[ix.methods[(owner, name, True)].qualified].add(call_site(path, ctx))
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
        elif t in ("string", "bare_string") and (content := string_content(node)) and IDENT.fullmatch(content):
            facts.loose[content].add(path)
            if content[:1].isupper() and not _class_name_option(node):  # 'CustomValue' => ..., %w(Issue TimeEntry)
                facts.unsure_refs[content].add(path)
        elif t in ("constant", "scope_resolution"):
            if parent is not None and (parent.type == "scope_resolution" or
                                       parent.type in ("class", "module") and parent.child_by_field_name("name") == node):
                continue  # a namespace prefix (Shop:: in Shop::Order) or the name being defined
            constant_use(text(node), ctx)
        elif t == "pair":
            key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
            if key is not None and text(key).strip(":").rstrip(":").strip() in ("class_name", "'class_name'") \
                    and value is not None and value.type == "string" and (name := string_content(value)):
                constant_use(name, ctx)  # has_many :items, class_name: 'Shop::Order::Item'
