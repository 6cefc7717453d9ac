"""Seeded defects: known mutations applied to a scratch copy of the repository's texts (the
user's files are read once and never written), each one a kind of fault reviewers care about.

Kinds: ``duplicate`` (a function copied into another file under a new name), ``needless_retry``
(a retry loop around a call that needs none), ``migration`` (a new migration that undoes an
earlier one), ``dead_code`` (a statement put behind an always-false condition),
``renamed_call`` (a function renamed while its callers keep the old name),
``inverted_condition``, ``off_by_one`` and ``swallowed_exception``.

Each mutation is verified before it is kept: the mutated file still parses (tree-sitter, no
ERROR or MISSING node), and a line diff against the original touches only the lines the
mutation names; files it does not name are unchanged. The same seed gives the same mutations.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass, field

from bakeoff.checks.repo import DEFECT_KINDS as DESCRIPTIONS
from bakeoff.suite.repo.facts import RepoFacts, _enclosing, _text, _walk, language_of, parse, syntax_errors
from bakeoff.suite.repo.packing import COPIED_LIBRARY
from bakeoff.suite.repo.scopes import CLASS_TYPES

KINDS = tuple(DESCRIPTIONS)
_SYNONYMS = {"get": "fetch", "fetch": "get", "compute": "calculate", "calculate": "compute", "build": "make",
             "make": "build", "format": "render", "render": "format", "find": "lookup", "check": "verify",
             "validate": "ensure", "apply": "use", "create": "new", "load": "read", "read": "load", "is": "check",
             "total": "sum", "send": "deliver", "parse": "decode", "to": "as", "display": "show", "invoice": "bill",
             "user": "account", "order": "purchase"}
_NEGATE = {"<": ">=", ">=": "<", ">": "<=", "<=": ">", "==": "!=", "!=": "==", "===": "!==", "!==": "==="}
_SHIFT = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
# Named functions and methods with a body to mutate: narrower than facts._FUNC_TYPES (no arrow
# functions or singleton methods, whose bodies the mutators do not edit).
_FUNCS = {"python": ("function_definition",), "ruby": ("method",), "javascript": ("function_declaration", "method_definition"),
          "typescript": ("function_declaration", "method_definition"), "tsx": ("function_declaration", "method_definition")}
_COMPARISONS = {"python": "comparison_operator", "ruby": "binary", "javascript": "binary_expression",
                "typescript": "binary_expression", "tsx": "binary_expression"}
_IDEMPOTENT = re.compile(r"(get|find|fetch|format|compute|calc|total|sum|parse|load|read|is_|to_|display|where|"
                         r"lookup|render|strip|join|split|count|len)", re.I)


@dataclass
class Mutation:
    kind: str
    file: str  # where the defect now is (mutated file)
    lines: list[int]  # its lines in the mutated file
    touched: tuple[int, int]  # original lines replaced (first, last); an insertion: (n + 1, n)
    description: str
    also: list[tuple[str, int]] = field(default_factory=list)  # other places that reveal it
    new_file: bool = False

    @property
    def edited(self) -> str:
        """The file whose text the mutation changes (a renamed function: its definition's file)."""
        return self.also[0][0] if self.kind == "renamed_call" else self.file

    def to_seeded(self) -> dict:
        return {"file": self.file, "lines": self.lines, "kind": self.kind, "also": [list(a) for a in self.also]}


def new_name(name: str) -> str:
    """A different, plausible name: the first word swapped for a synonym (else 'do_'/'do' prefix)."""
    camel = not "_" in name and name[:1].islower() and any(c.isupper() for c in name)
    words = re.findall(r"[A-Z]?[a-z0-9?!]+|[A-Z]+(?![a-z])", name) if camel else name.split("_")
    for i, w in enumerate(words):
        syn = _SYNONYMS.get(w.lower())
        if syn:
            words[i] = syn.capitalize() if w[:1].isupper() else syn
            break
    else:
        return ("do" + name[:1].upper() + name[1:]) if camel else "do_" + name
    out = "".join(words) if camel else "_".join(words)
    return out if out != name else "do_" + name


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _replace_lines(text: str, first: int, last: int, new: list[str]) -> str:
    lines = text.split("\n")
    return "\n".join(lines[: first - 1] + new + lines[last:])


def _statements(path: str, text: str) -> list:
    """Single-line statements inside function bodies that are a call or an assignment from a call."""
    lang = language_of(path)
    tree = parse(path, text)
    lines = text.split("\n")
    out = []
    for node in _walk(tree.root_node):
        if node.start_point[0] != node.end_point[0]:
            continue
        if lang == "python":
            ok = node.type == "expression_statement" and node.named_children and (
                node.named_children[0].type == "call" or (node.named_children[0].type == "assignment" and
                    (r := node.named_children[0].child_by_field_name("right")) is not None and r.type == "call"))
        elif lang == "ruby":
            ok = node.parent is not None and node.parent.type in ("body_statement",) and (
                node.type == "call" or (node.type == "assignment" and
                    (r := node.child_by_field_name("right")) is not None and r.type == "call"))
        else:
            ok = node.type == "expression_statement" and node.named_children and \
                node.named_children[0].type == "call_expression"
        if not ok:
            continue
        fn = _enclosing(node, _FUNCS[lang])
        line = lines[node.start_point[0]]
        if fn is None or line.strip() != _text(node).strip():
            continue
        out.append(node)
    return out


def _wrap(kind: str, lang: str, indent: str, stmt: str) -> list[str]:
    step = "  " if lang != "python" else "    "
    if kind == "needless_retry":
        if lang == "python":
            body = ["for _attempt in range(3):", f"{step}try:", f"{step * 2}{stmt}", f"{step * 2}break",
                    f"{step}except Exception:", f"{step * 2}continue"]
        elif lang == "ruby":
            body = ["attempts = 0", "begin", f"{step}{stmt}", "rescue StandardError", f"{step}attempts += 1",
                    f"{step}retry if attempts < 3", "end"]
        else:
            body = ["for (let attempt = 0; attempt < 3; attempt++) {", f"{step}try {{", f"{step * 2}{stmt}",
                    f"{step * 2}break;", f"{step}}} catch (err) {{", f"{step * 2}continue;", f"{step}}}", "}"]
    elif kind == "swallowed_exception":
        if lang == "python":
            body = ["try:", f"{step}{stmt}", "except Exception:", f"{step}pass"]
        elif lang == "ruby":
            body = ["begin", f"{step}{stmt}", "rescue StandardError", "end"]
        else:
            body = ["try {", f"{step}{stmt}", "} catch (err) {", "}"]
    else:  # dead_code
        if lang == "python":
            body = ["if False:", f"{step}{stmt}"]
        elif lang == "ruby":
            body = ["if false", f"{step}{stmt}", "end"]
        else:
            body = ["if (false) {", f"{step}{stmt}", "}"]
    return [indent + b for b in body]


def _mutate_wrap(kind, texts, facts, rng, free):
    cands = [(p, n) for p in free for n in _statements(p, texts[p])]
    if kind == "needless_retry":
        preferred = [c for c in cands if _IDEMPOTENT.search(_text(c[1]))]
        cands = preferred or cands
    if not cands:
        return None
    path, node = rng.choice(cands)
    lang = language_of(path)
    row = node.start_point[0] + 1
    line = texts[path].split("\n")[row - 1]
    new = _wrap(kind, lang, _indent(line), line.strip())
    # The defect is where the wrapper starts and where the wrapped statement now is.
    lines = sorted({row, *(row + i for i, text in enumerate(new) if line.strip() in text)})
    return {path: _replace_lines(texts[path], row, row, new)}, Mutation(kind, path, lines, (row, row), DESCRIPTIONS[kind])


def _operators(path: str, text: str, table: dict) -> list[tuple]:
    lang = language_of(path)
    tree = parse(path, text)
    out = []
    for node in _walk(tree.root_node):
        if node.type != _COMPARISONS[lang]:
            continue
        ops = [c for c in node.children if not c.is_named and _text(c) in table]
        if len(ops) == 1 and node.start_point[0] == node.end_point[0]:
            if _enclosing(node, _FUNCS[lang]) is not None:
                out.append(ops[0])
    return out


def _mutate_operator(kind, texts, facts, rng, free):
    table = _NEGATE if kind == "inverted_condition" else _SHIFT
    cands = [(p, op) for p in free for op in _operators(p, texts[p], table)]
    if not cands:
        return None
    path, op = rng.choice(cands)
    data = texts[path].encode("utf-8")
    new = data[: op.start_byte] + table[_text(op)].encode() + data[op.end_byte:]
    row = op.start_point[0] + 1
    return {path: new.decode("utf-8")}, Mutation(kind, path, [row], (row, row),
                                                 f"{DESCRIPTIONS[kind]}: {_text(op)} became {table[_text(op)]}")


_CLASS_BODY = {"python": "block", "ruby": "body_statement", "javascript": "class_body", "typescript": "class_body",
               "tsx": "class_body"}


def _members(path: str, text: str) -> list[tuple]:
    """(class node, its methods) for each class or module of a file that has at least one method
    of two or more lines: where a duplicated method can be placed among the others."""
    lang = language_of(path)
    tree = parse(path, text)
    out = []
    for node in _walk(tree.root_node):
        if node.type not in CLASS_TYPES[lang]:
            continue
        body = node.child_by_field_name("body")
        if body is None:
            continue
        methods = [c.child_by_field_name("definition") if c.type == "decorated_definition" else c
                   for c in body.named_children if c.type in (*_FUNCS[lang], "decorated_definition")]
        methods = [m for m in methods if m is not None and m.type in _FUNCS[lang]
                   and m.end_point[0] - m.start_point[0] >= 2]
        if methods:
            out.append((node, methods))
    return out


def _mutate_duplicate(kind, texts, facts, rng, free):
    """A method copied, under a new name, into a class or module of another file, after that
    class's last method and at its indentation: inside existing code, never past the file's end."""
    cands = []
    for p in free:
        targets = [q for q in free if q != p and language_of(q) == language_of(p) and _members(q, texts[q])]
        if targets:
            cands += [(p, m, targets) for _, methods in _members(p, texts[p]) for m in methods]
    if not cands:
        return None
    path, node, targets = rng.choice(cands)
    same_dir = [q for q in targets if q.rsplit("/", 1)[0] == path.rsplit("/", 1)[0]]
    target = rng.choice(same_dir or targets)
    cls, methods = rng.choice(_members(target, texts[target]))
    lines = texts[path].split("\n")[node.start_point[0]: node.end_point[0] + 1]
    cut = len(_indent(texts[path].split("\n")[node.start_point[0]]))
    last = methods[-1]
    old = texts[target].split("\n")
    indent = _indent(old[last.start_point[0]])
    block = [indent + ln[cut:] if ln.strip() else "" for ln in lines]
    name = _text(node.child_by_field_name("name"))
    renamed = new_name(name)
    block[0] = re.sub(rf"(?<![\w]){re.escape(name)}(?![\w?!])", renamed, block[0], count=1)
    after = last.end_point[0] + 1  # the line the last method ends on
    new_text = "\n".join(old[:after] + [""] + block + old[after:])
    return {target: new_text}, Mutation(kind, target, [after + 2], (after + 1, after),
                                        f"{DESCRIPTIONS[kind]}: {name} of {path} copied as {renamed} into "
                                        f"{_text(cls.child_by_field_name('name'))}", also=[(path, node.start_point[0] + 1)])


def _mutate_renamed_call(kind, texts, facts, rng, free):
    cands = []
    for d in facts.definitions:
        if d.kind not in ("function", "method") or d.path not in free or len(facts.defined_in(d.name)) != 1:
            continue
        if d.name in ("initialize", "constructor", "perform", "call", "change", "main") or len(d.name) < 4:
            continue
        callers = sorted({s.path for s in facts.calls.get(d.qualified, set()) if s.path in free and s.caller != d.qualified})
        if callers:
            cands.append((d, callers))
    if not cands:
        return None
    d, callers = rng.choice(cands)
    tree = parse(d.path, texts[d.path])
    node = next(n for n in _walk(tree.root_node) if n.start_point[0] + 1 == d.line and n.child_by_field_name("name") is not None
                and _text(n.child_by_field_name("name")) == d.name)
    name_node = node.child_by_field_name("name")
    renamed = new_name(d.name)
    data = texts[d.path].encode("utf-8")
    new = data[: name_node.start_byte] + renamed.encode() + data[name_node.end_byte:]
    pattern = re.compile(rf"(?<![\w]){re.escape(d.name)}(?![\w?!])")
    caller = callers[0]
    call_lines = [i for i, ln in enumerate(texts[caller].split("\n"), 1)
                  if pattern.search(ln) and not (caller == d.path and i == d.line)]
    row = name_node.start_point[0] + 1
    return {d.path: new.decode("utf-8")}, Mutation(
        kind, caller, call_lines or [row], (row, row),
        f"{DESCRIPTIONS[kind]}: {d.name} in {d.path} renamed to {renamed}; {caller} still calls {d.name}",
        also=[(d.path, row)] + [(caller, ln) for ln in call_lines[1:]])


_MIGRATION_FILE = re.compile(r"(^|/)db/migrate/\d+_\w+\.rb$")
_NOT_APPLICATION = re.compile(r"(^|/)(tests?|spec|specs|__tests__|test_helpers?|fixtures|migrations|migrate|versions|"
                              r"alembic|seeds?|scripts?|bin|config|docs?|examples?)/|(^|/)(test_[^/]*|[^/]*_(test|spec)"
                              r"\.\w+|[^/]*\.(test|spec)\.\w+|conftest\.py|setup\.py|manage\.py|schema\.rb)$")


# A library copied in under its versioned name (jquery-3.6.1-ui-1.13.2.js): not the application's code.
_COPIED_LIBRARY = re.compile(r"(^|/)[^/]*[-.]v?\d+\.\d+[^/]*\.(js|css)$|(^|/)(jquery|bootstrap|lodash|moment|d3|select2)"
                             r"[^/]*\.js$")


def application_file(path: str) -> bool:
    """Code of the application itself: not a test, a migration (data migrations included), a
    fixture, a script, configuration or a copied library, where a seeded defect would be out of place."""
    return not _NOT_APPLICATION.search(path) and not COPIED_LIBRARY.search(path)
_COLUMN = re.compile(r"^\s*(?:t\.\w+|add_column\s+:(\w+),)\s*:(\w+)")


def _mutate_migration(kind, texts, facts, rng, free):
    migrations = sorted(p for p in texts if _MIGRATION_FILE.search(p))
    cands = []
    for p in migrations:
        table = None
        for i, ln in enumerate(texts[p].split("\n"), 1):
            if m := re.search(r"create_table\s+:(\w+)", ln):
                table = m.group(1)
            m = _COLUMN.match(ln)
            if m and (m.group(1) or table) and m.group(2) not in ("timestamps", "references"):
                if not ln.strip().startswith(("t.timestamps", "t.references", "t.index")):
                    cands.append((p, i, m.group(1) or table, m.group(2)))
    if not cands:
        return None
    path, line, table, column = rng.choice(cands)
    stamp = max(int(re.search(r"/(\d+)_", "/" + p.rsplit("/", 1)[-1]).group(1)) for p in migrations) + 1
    camel = "".join(w.capitalize() for w in f"remove_{column}_from_{table}".split("_"))
    version = re.search(r"Migration\[([\d.]+)\]", texts[path])
    base = f"ActiveRecord::Migration[{version.group(1)}]" if version else "ActiveRecord::Migration[7.1]"
    rel = f"{path.rsplit('/', 1)[0]}/{stamp}_remove_{column}_from_{table}.rb"
    text = f"class {camel} < {base}\n  def change\n    remove_column :{table}, :{column}\n  end\nend\n"
    return {rel: text}, Mutation(kind, rel, [1, 3], (1, 0), f"{DESCRIPTIONS[kind]}: drops {table}.{column}, "
                                 f"which {path} added", also=[(path, line)], new_file=True)


_MUTATORS = {"duplicate": _mutate_duplicate, "needless_retry": _mutate_wrap, "migration": _mutate_migration,
             "dead_code": _mutate_wrap, "renamed_call": _mutate_renamed_call,
             "inverted_condition": _mutate_operator, "off_by_one": _mutate_operator,
             "swallowed_exception": _mutate_wrap}


def verify(original: dict[str, str], mutated: dict[str, str], mutations: list[Mutation]) -> list[str]:
    """Problems with a set of mutations (empty when each parses and touches only what it names)."""
    problems = []
    named: dict[str, list[Mutation]] = {}
    for m in mutations:
        named.setdefault(m.edited, []).append(m)
    for path in sorted(set(original) | set(mutated)):
        before, after = original.get(path), mutated.get(path)
        if before == after:
            continue
        if path not in named:
            problems.append(f"{path}: changed, but no mutation names it")
            continue
        if language_of(path) and (errors := syntax_errors(path, after or "")):
            problems.append(f"{path}: does not parse after mutation (lines {errors})")
        if before is None:
            continue
        ranges = [m.touched for m in named[path]]
        matcher = difflib.SequenceMatcher(a=before.split("\n"), b=(after or "").split("\n"), autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag == "equal":
                continue
            first, last = i1 + 1, i2  # original lines replaced/deleted; an insertion before i1: (i1 + 1, i1)
            if not any(lo <= first and last <= hi or (first > last and lo <= first <= hi + 1) for lo, hi in ranges):
                problems.append(f"{path}: lines {first}-{last} changed outside the mutation's lines {ranges}")
    return problems


def seed_defects(texts: dict[str, str], facts: RepoFacts, n: int, seed: int,
                 kinds: tuple[str, ...] = KINDS, allowed: set[str] | None = None) -> tuple[dict[str, str], list[Mutation]]:
    """N verified mutations of a copy of TEXTS, each in files no other mutation touches (and, with
    ALLOWED, only in those files)."""
    rng = random.Random(seed)
    order = list(kinds)
    rng.shuffle(order)
    mutated = dict(texts)
    done: list[Mutation] = []
    used: set[str] = set()
    # Migrations are history: only the migration kind adds to them, nothing edits them.
    sources = sorted(p for p in texts if language_of(p) and not _MIGRATION_FILE.search(p) and application_file(p)
                     and (allowed is None or p in allowed))
    attempts = 0
    while len(done) < n and attempts < n * len(order) * 2:
        kind = order[attempts % len(order)]
        attempts += 1
        free = [p for p in sources if p not in used]
        try:
            result = _MUTATORS[kind](kind, mutated, facts, rng, free)
        except (StopIteration, ValueError, AttributeError):
            result = None
        if result is None:
            continue
        changes, mutation = result
        trial = {**mutated, **changes}
        if verify(mutated, trial, [mutation]):
            continue
        mutated = trial
        done.append(mutation)
        used |= set(changes) | {mutation.file} | {p for p, _ in mutation.also}
    return mutated, done
