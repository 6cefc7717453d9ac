"""Rails: Ruby classes read across files (superclasses resolved, includes, table settings,
Sidekiq/ActiveJob options), model tables as Rails derives them (``table_name_prefix`` of the
enclosing module or model, a model nested in a model, ``self.table_name``, STI) checked against
the migrations, the tables each migration changes, and Sidekiq/ActiveJob workers followed through
base classes and included modules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bakeoff.suite.repo.facts import Model, RepoFacts, Worker
from bakeoff.suite.repo.scopes import text
from bakeoff.suite.repo.uses import descendants, string_content

RAILS_MIGRATION = re.compile(r"(^|/)db/migrate/\d+_\w+\.rb$")
_TABLE_OPS = {"create_table", "drop_table", "change_table", "add_column", "remove_column", "remove_columns",
              "rename_column", "change_column", "add_index", "remove_index", "rename_index", "add_reference",
              "remove_reference", "add_belongs_to", "remove_belongs_to", "rename_table", "change_column_null",
              "change_column_default", "change_column_comment", "change_table_comment", "add_timestamps",
              "remove_timestamps", "add_foreign_key", "remove_foreign_key", "add_check_constraint",
              "remove_check_constraint"}
_SIDEKIQ = ("Sidekiq::Worker", "Sidekiq::Job")
# Words Rails' inflector does not pluralize by the regular rules: their tables are not derived here.
_IRREGULAR = re.compile(r"(person|man|child|sex|move|zombie|ox|mouse|louse|quiz|matrix|vertex|index|alias|status|"
                        r"octopus|virus|axis|crisis|testis|analysis|datum|medium|equipment|information|rice|money|"
                        r"species|series|fish|sheep|jeans|police|news|[^f]fe|[lr]f|o|us|is|um)$")


@dataclass
class RubyClass:
    paths: list[str] = field(default_factory=list)
    parents: list[tuple[str, str | None]] = field(default_factory=list)  # (as written, resolved)
    table_name: str | None = None
    table_name_prefix: str | None = None
    prefix_unsure: bool = False
    sets_suffix: bool = False
    abstract: bool = False
    options: dict[str, str] = field(default_factory=dict)
    options_unsure: str = ""
    line: int = 0


def underscore(name: str) -> str:
    """ActiveSupport's underscore of a constant's last part (``HTMLParser`` -> ``html_parser``)."""
    s = re.sub(r"([A-Z\d]+)([A-Z][a-z])", r"\1_\2", name.split("::")[-1])
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", s).lower()


def pluralize(word: str) -> str | None:
    """The regular English plural (None for a word Rails' inflector treats otherwise)."""
    if _IRREGULAR.search(word):
        return None
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def singularize(table: str) -> str | None:
    for plural, single in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x"), ("s", "")):
        if table.endswith(plural) and pluralize(table[: -len(plural)] + single) == table:
            return table[: -len(plural)] + single
    return None


def read_ruby_classes(ix, ruby: dict[str, RubyClass], path: str, defs) -> None:
    for d, node, ctx in defs:
        if d.kind not in ("class", "module"):
            continue
        info = ruby[d.qualified]
        info.paths.append(path)
        info.line = info.line or d.line
        sup = node.child_by_field_name("superclass")
        if sup is not None and sup.named_children:
            written = text(sup.named_children[0])
            info.parents.append((written, ix.ruby_constant(written, ctx.nesting)))
        body = node.child_by_field_name("body")
        for stmt in body.named_children if body is not None else []:
            if stmt.type == "assignment":
                left, right = text(stmt.child_by_field_name("left")), stmt.child_by_field_name("right")
                value = string_content(right) if right is not None and right.type == "string" else None
                if left == "self.table_name":
                    info.table_name = value or _prefixed_table(right) or "?"
                elif left == "self.table_name_prefix":
                    info.table_name_prefix, info.prefix_unsure = value, value is None
                elif left == "self.table_name_suffix":
                    info.sets_suffix = True
                elif left == "self.abstract_class":
                    info.abstract = text(right) == "true"
            elif stmt.type == "singleton_method" and text(stmt.child_by_field_name("name")) == "table_name_suffix":
                info.sets_suffix = True
            elif stmt.type == "singleton_method" and text(stmt.child_by_field_name("name")) == "table_name_prefix":
                body_ = stmt.child_by_field_name("body")
                parts = body_.named_children if body_ is not None else []
                only = parts[0] if len(parts) == 1 and parts[0].type == "string" else None
                info.table_name_prefix = string_content(only) if only is not None else None
                info.prefix_unsure = info.table_name_prefix is None
            elif stmt.type == "call":
                method, args = text(stmt.child_by_field_name("method")), stmt.child_by_field_name("arguments")
                items = args.named_children if args is not None else []
                if method == "sidekiq_options":
                    for pair in (a for a in items if a.type == "pair"):
                        key = text(pair.child_by_field_name("key")).strip(":").rstrip(":")
                        if key in ("queue", "retry"):
                            info.options[key] = text(pair.child_by_field_name("value")).strip(":'\"").lower()
                elif method == "queue_as" and items:
                    info.options["queue"] = text(items[0]).strip(":'\"")
                elif method in ("retry_on", "discard_on", "sidekiq_retry_in", "sidekiq_retries_exhausted"):
                    info.options_unsure = f"{method} sets retries in its own terms"


def _prefixed_table(node) -> str | None:
    """"#{table_name_prefix}users#{table_name_suffix}": the table with markers for the two
    class attributes (None for any other interpolation)."""
    if node is None or node.type != "string":
        return None
    out = []
    for c in node.named_children:
        if c.type == "string_content":
            out.append(text(c))
        elif c.type == "interpolation" and text(c)[2:-1].strip() in ("table_name_prefix", "table_name_suffix"):
            out.append("\0prefix" if "prefix" in text(c) else "\0suffix")
        else:
            return None
    return "".join(out)


def read_rails_migration(facts: RepoFacts, path: str, tree) -> None:
    for node in descendants(tree.root_node):
        if node.type in ("simple_symbol", "string", "delimited_symbol") and (name := text(node).strip(":'\"")):
            facts.migration_literals[name].add(path)  # "imports" => {...} then change_column_default(table, ...)
        if node.type != "call" or node.child_by_field_name("receiver") is not None:
            continue
        method, args = text(node.child_by_field_name("method")), node.child_by_field_name("arguments")
        items = [a for a in (args.named_children if args is not None else [])
                 if a.type in ("simple_symbol", "string", "delimited_symbol")]
        tables = [text(a).strip(":'\"") for a in items]
        if method in _TABLE_OPS and tables:
            facts.tables[tables[0]].add(path)
            if method == "create_table":
                facts.created_tables.add(tables[0])
            if method == "rename_table" and len(tables) > 1:
                facts.tables[tables[1]].add(path)
                facts.created_tables.add(tables[1])
            for other in tables[1:] if method in ("add_foreign_key", "remove_foreign_key") else []:
                facts.tables_unsure[other].add(path)  # refers to that table without changing it
        elif method in ("create_join_table", "drop_join_table"):
            for t in tables:
                facts.tables_unsure[t].add(path)
        elif method == "execute":  # raw SQL: any table it names is touched in ways not read here
            for word in re.findall(r"\w+", text(args)):
                facts.tables_unsure[word].add(path)


def _ancestors(ruby: dict[str, RubyClass], q: str) -> list[str]:
    """Superclasses as resolved (or as written when outside the repository), nearest first."""
    out, seen = [], set()
    while q in ruby and q not in seen:
        seen.add(q)
        parents = {r or w for w, r in ruby[q].parents}
        if len(parents) != 1:
            break
        q = parents.pop()
        out.append(q)
    return out


def rails_models(facts: RepoFacts, ruby: dict[str, RubyClass]) -> None:
    def is_record(q: str) -> bool:
        return "ActiveRecord::Base" in _ancestors(ruby, q)

    def concrete(q: str) -> bool:
        return q in ruby and is_record(q) and not ruby[q].abstract

    def prefix_of(q: str) -> str | None:
        parts = q.split("::")
        for i in range(len(parts) - 1, 0, -1):  # module_parents, nearest first
            parent = "::".join(parts[:i])
            info = ruby.get(parent)
            if info is not None and (info.table_name_prefix is not None or info.prefix_unsure or is_record(parent)):
                q = parent
                break
        for c in [q, *_ancestors(ruby, q)]:  # a class attribute: inherited
            info = ruby.get(c)
            if info is not None and (info.table_name_prefix is not None or info.prefix_unsure):
                return None if info.prefix_unsure else info.table_name_prefix
        return ""

    memo: dict[str, tuple[str | None, str]] = {}
    suffixed = any(info.sets_suffix for info in ruby.values())  # a suffix set anywhere: not derived here

    def table_of(q: str) -> tuple[str | None, str]:
        """(table, why not known)."""
        if q in memo:
            return memo[q]
        info = ruby[q]
        if info.table_name is not None:
            prefix = prefix_of(q) if "\0prefix" in info.table_name else ""
            if info.table_name == "?" or prefix is None or ("\0suffix" in info.table_name and suffixed):
                memo[q] = (None, "self.table_name is not a plain string")
            else:
                memo[q] = (info.table_name.replace("\0prefix", prefix).replace("\0suffix", ""), "")
            return memo[q]
        parent = q.rsplit("::", 1)[0] if "::" in q else None
        contained = ""
        if parent and concrete(parent):  # a model nested in a model: the parent's singular table first
            parent_table, why = table_of(parent)
            single = singularize(parent_table) if parent_table else None
            if single is None:
                memo[q] = (None, why or f"the singular of {parent_table} is not certain")
                return memo[q]
            contained = single + "_"
        prefix = prefix_of(q)
        plural = pluralize(underscore(q))
        if prefix is None or plural is None:
            memo[q] = (None, "table_name_prefix is computed" if prefix is None
                       else f"{underscore(q)} is not pluralized by the regular rules")
        else:
            memo[q] = (prefix + contained + plural, "")
        return memo[q]

    for q in sorted(ruby):
        if not concrete(q) or all(RAILS_MIGRATION.search(p) for p in ruby[q].paths):
            continue  # a model a migration declares for its own use is part of that history, not the app's
        info = ruby[q]
        path = info.paths[0]
        parent = _ancestors(ruby, q)[0]
        if len(set(info.paths)) > 1:
            facts.models[q] = Model(None, path, f"defined in {len(set(info.paths))} files")
        elif concrete(parent):
            facts.models[q] = Model(None, path, f"an STI subclass: shares the table of {parent}")
        else:
            table, why = table_of(q)
            if table and facts.created_tables and table not in facts.created_tables:
                why = f"its table {table} (Rails' rules) is created by no migration here"
            facts.models[q] = Model(table if not why else None, path, why)


def ruby_workers(facts: RepoFacts, ruby: dict[str, RubyClass]) -> None:
    def includes_sidekiq(q: str, depth: int = 0) -> bool:
        return depth < 5 and any(m in _SIDEKIQ or (m in ruby and includes_sidekiq(m, depth + 1))
                                 for m in facts.includes.get(q, []))

    def is_worker(q: str) -> bool:
        chain = [q, *_ancestors(ruby, q)]
        return "ActiveJob::Base" in chain or any(includes_sidekiq(c) for c in chain)

    workers = [q for q in sorted(ruby) if is_worker(q) and q != "ActiveJob::Base"]
    bases = {a for q in workers for a in _ancestors(ruby, q)}
    for q in workers:
        if q not in bases:
            facts.workers.append(Worker(q, ruby[q].paths[0], ruby[q].line, dict(ruby[q].options),
                                        ruby[q].options_unsure))
    for q, info in sorted(ruby.items()):
        unknown = [w for w, r in info.parents if r is None and w not in ("ActiveJob::Base", "ActiveRecord::Base")]
        if any(w.endswith(("Job", "Worker")) for w in unknown):
            facts.workers_unsure.append(f"{q} inherits from {unknown[0]}, which is not defined here")
