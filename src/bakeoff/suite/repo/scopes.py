"""Where each node sits: the enclosing classes/modules and named functions, and the qualified
name of every definition (Ruby ``Shop::Order#total``, Python ``shop.billing.Billing.bill``,
TypeScript ``src/services/user.UserService.findUser``, by module path). Questions and keys name things this way, so two classes
that share a short name (eleven Django ``class Meta``) are never confused."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


def text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


@dataclass(frozen=True)
class Ctx:
    prefix: str = ""  # qualified name of the innermost enclosing definition (Python: the module at top)
    nesting: tuple[str, ...] = ()  # enclosing classes/modules, qualified, outermost first
    funcs: tuple[str, ...] = ()  # enclosing named functions, qualified, outermost first
    singleton: bool = False  # inside Ruby's `class << self`
    fn_singleton: bool = False  # the innermost named function is a class-level method
    fn_node: object = field(default=None, compare=False)  # the innermost named function's node


@dataclass
class Definition:
    name: str  # short name
    kind: str  # class | module | function | method
    path: str
    line: int
    owner: str | None = None  # qualified enclosing class/module (methods)
    qualified: str = ""
    singleton: bool = False  # Ruby `def self.x`, Python static/class method, JS static
    top_level: bool = False  # a module-level function (Python, JavaScript)
    end_line: int = 0


CLASS_TYPES = {"python": ("class_definition",), "ruby": ("class", "module"),
               "javascript": ("class_declaration",), "typescript": ("class_declaration", "abstract_class_declaration"),
               "tsx": ("class_declaration", "abstract_class_declaration")}
FUNC_TYPES = {"python": ("function_definition",), "ruby": ("method", "singleton_method"),
              "javascript": ("function_declaration", "generator_function_declaration", "method_definition",
                             "variable_declarator", "field_definition"),
              "typescript": ("function_declaration", "generator_function_declaration", "method_definition",
                             "variable_declarator", "public_field_definition"),
              "tsx": ("function_declaration", "generator_function_declaration", "method_definition",
                      "variable_declarator", "public_field_definition")}
_JS_FUNCTION_VALUES = ("arrow_function", "function_expression", "function", "generator_function")


def module_of(path: str) -> str:
    """Python's dotted module for a file path (``shop/billing.py`` -> ``shop.billing``)."""
    stem = path.rsplit(".", 1)[0]
    stem = stem[: -len("/__init__")] if stem.endswith("/__init__") else stem
    return stem.removeprefix("src/").replace("/", ".")  # a src layout: the package is below src/


def function_name(node) -> str | None:
    """The name of a named function node (None for an anonymous one or a plain variable)."""
    if node.type in ("variable_declarator", "field_definition", "public_field_definition"):
        value = node.child_by_field_name("value")
        if value is None or value.type not in _JS_FUNCTION_VALUES:
            return None
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        return text(name) or None
    return text(node.child_by_field_name("name")) or None


def _is_static(node, lang: str) -> bool:
    if lang == "python":
        parent = node.parent
        decorators = parent.named_children if parent is not None and parent.type == "decorated_definition" else []
        return any(text(d).lstrip("@") in ("staticmethod", "classmethod") for d in decorators if d.type == "decorator")
    if lang in ("javascript", "typescript", "tsx"):
        return any(c.type == "static" or text(c) == "static" for c in node.children)
    return node.type == "singleton_method"


def enter(node, ctx: Ctx, lang: str, path: str) -> tuple[Ctx, Definition | None]:
    """The context of NODE's children, and the definition NODE makes (if any)."""
    line, end = node.start_point[0] + 1, node.end_point[0] + 1
    if node.type in CLASS_TYPES[lang]:
        name = text(node.child_by_field_name("name"))
        if not name:
            return ctx, None
        if lang == "ruby":
            q = name[2:] if name.startswith("::") else (f"{ctx.nesting[-1]}::{name}" if ctx.nesting else name)
        else:
            q = f"{ctx.prefix}.{name}" if ctx.prefix else name
        kind = "module" if node.type == "module" else "class"
        d = Definition(name.split("::")[-1], kind, path, line, ctx.nesting[-1] if ctx.nesting else None, q,
                       end_line=end)
        return replace(ctx, prefix=q, nesting=ctx.nesting + (q,), singleton=False), d
    if lang == "ruby" and node.type == "singleton_class":
        return replace(ctx, singleton=True), None
    if node.type in FUNC_TYPES[lang]:
        name = function_name(node)
        if not name:
            return ctx, None
        in_class = _directly_in_class(node, lang)
        owner = ctx.nesting[-1] if in_class and ctx.nesting else None
        static = _is_static(node, lang) or (lang == "ruby" and ctx.singleton)
        if lang == "ruby":
            q = f"{owner}{'.' if static else '#'}{name}" if owner else name
        else:
            q = f"{ctx.prefix}.{name}" if ctx.prefix else name
        # A module-level function (not a method of an object literal, which no bare call reaches).
        top = not ctx.funcs and owner is None and lang != "ruby" and node.type != "method_definition"
        d = Definition(name, "method" if owner else "function", path, line, owner, q, static, top, end)
        return replace(ctx, prefix=q, funcs=ctx.funcs + (q,), fn_singleton=static, fn_node=node), d
    return ctx, None


def _directly_in_class(node, lang: str) -> bool:
    """A method: its nearest enclosing class or function is a class."""
    n = node.parent
    while n is not None:
        if n.type in CLASS_TYPES[lang] or (lang == "ruby" and n.type == "singleton_class"):
            return True
        if n.type in FUNC_TYPES[lang] and function_name(n) or n.type in ("program", "module") and lang != "ruby":
            return False
        n = n.parent
    return False


def walk(tree, lang: str, path: str):
    """(node, ctx, definition made by the node or None) for every named node, parents first."""
    start = Ctx(prefix=module_of(path) if lang == "python" else path.rsplit(".", 1)[0] if lang != "ruby" else "")
    scoping = set(CLASS_TYPES[lang]) | set(FUNC_TYPES[lang]) | {"singleton_class"}
    stack = [(tree.root_node, start)]
    while stack:
        node, ctx = stack.pop()
        inner, d = enter(node, ctx, lang, path) if node.type in scoping else (ctx, None)
        yield node, ctx, d
        if node.named_child_count:
            stack.extend((c, inner) for c in reversed(node.named_children))


def superclasses(node, lang: str) -> tuple[str, ...] | None:
    """A class's direct superclasses as written; () for none; None when one is not a plain name
    (``Struct.new(...)``, ``Base[T]``, ``mixin(A)``): no question is asked about it."""
    plain = ("identifier", "constant", "scope_resolution", "attribute", "member_expression", "type_identifier",
             "nested_type_identifier", "dotted_name")
    if lang == "python":
        supers = node.child_by_field_name("superclasses")
        found = [c for c in (supers.named_children if supers is not None else []) if c.type != "keyword_argument"]
    elif lang == "ruby":  # ActiveRecord::Migration[7.1] is a plain name too
        sup = node.child_by_field_name("superclass")
        found = sup.named_children[:1] if sup is not None else []
        if found and found[0].type == "element_reference":
            return (text(found[0]),)
    else:
        heritage = next((c for c in node.children if c.type == "class_heritage"), None)
        extends = next((c for c in heritage.named_children if c.type == "extends_clause"), heritage) \
            if heritage is not None else None
        found = [c for c in (extends.named_children if extends is not None else [])
                 if c.type not in ("type_arguments", "implements_clause", "extends_clause")][:1]
    if any(c.type not in plain for c in found):
        return None
    return tuple(text(c) for c in found)
