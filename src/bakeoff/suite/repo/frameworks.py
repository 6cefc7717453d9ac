"""What frameworks make of the code: models and their tables (Rails, Django, SQLAlchemy), the
migrations that change each table, and job/worker classes (Sidekiq, ActiveJob, Celery, RQ,
Dramatiq, BullMQ), followed through inheritance and includes across files.

Tables are derived the way the framework derives them and then checked against the migrations
in the repository; a model whose table cannot be derived with certainty gets a reason instead.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from bakeoff.suite.repo.facts import Model, RepoFacts, Worker
from bakeoff.suite.repo.scopes import text, walk
from bakeoff.suite.repo.uses import _all, _string_content

RAILS_MIGRATION = re.compile(r"(^|/)db/migrate/\d+_\w+\.rb$")
DJANGO_MIGRATION = re.compile(r"(^|/)migrations/\d+_\w*\.py$")
_TABLE_OPS = {"create_table", "drop_table", "change_table", "add_column", "remove_column", "remove_columns",
              "rename_column", "change_column", "add_index", "remove_index", "rename_index", "add_reference",
              "remove_reference", "add_belongs_to", "remove_belongs_to", "rename_table", "change_column_null",
              "change_column_default", "change_column_comment", "change_table_comment", "add_timestamps",
              "remove_timestamps", "add_foreign_key", "remove_foreign_key", "add_check_constraint",
              "remove_check_constraint"}
_DJANGO_MODEL_OPS = ("CreateModel", "DeleteModel", "AlterModelOptions", "AlterModelTable", "AlterUniqueTogether",
                     "AlterIndexTogether", "AlterModelManagers", "AlterOrderWithRespectTo", "RenameModel")
_FK_FIELDS = ("ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject")
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


def find_models_and_workers(facts: RepoFacts, trees: dict, files: dict[str, str]) -> None:
    ix = facts.index
    ruby: dict[str, RubyClass] = defaultdict(RubyClass)
    defs_in: dict[str, list] = defaultdict(list)
    for entry in facts.def_nodes:
        defs_in[entry[0].path].append(entry)
    for path, (lang, tree, template) in sorted(trees.items()):
        if lang == "ruby" and not template:
            _ruby_classes(ix, ruby, path, defs_in[path])
            if RAILS_MIGRATION.search(path):
                _rails_migration(facts, path, tree)
    for table, paths in facts.migration_literals.items():  # named, but by no operation read here
        facts.tables_unsure[table] |= paths - facts.tables.get(table, set())
    _rails_models(facts, ruby)
    _ruby_workers(facts, ruby)
    # Celery routes set queues outside the decorator: a task's own options are then not the whole story.
    routed = sorted(p for p, t in files.items() if p.endswith(".py") and "task_routes" in t.lower())
    routes = f"tasks are routed to queues in {routed[0]} (task_routes)" if routed else ""
    for path, (lang, tree, _) in trees.items():
        if lang == "python":
            _python_tasks(facts, path, tree, defs_in[path], routes, files[path])
        elif lang in ("javascript", "typescript", "tsx"):
            _bullmq_workers(facts, path, tree)
    _python_models(facts, trees, files)


# --- Ruby: classes, Rails models, migrations, Sidekiq and ActiveJob ---

def _ruby_classes(ix, ruby: dict[str, RubyClass], path: str, defs) -> None:
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
                value = _string_content(right) if right is not None and right.type == "string" else None
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
                info.table_name_prefix = _string_content(only) if only is not None else None
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


def _rails_migration(facts: RepoFacts, path: str, tree) -> None:
    for node in _all(tree.root_node):
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


def _rails_models(facts: RepoFacts, ruby: dict[str, RubyClass]) -> None:
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
        if not concrete(q):
            continue
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


def _ruby_workers(facts: RepoFacts, ruby: dict[str, RubyClass]) -> None:
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


# --- Python: Celery / RQ / Dramatiq tasks, Django and SQLAlchemy models ---

_OTHER_TASK_OPTIONS = ("default_retry_delay", "autoretry_for", "retry_backoff", "retry_backoff_max", "retry_jitter",
                       "retry_kwargs", "base", "time_limit", "min_backoff", "max_backoff", "retry_when")


def _python_tasks(facts: RepoFacts, path: str, tree, defs, routes: str, source: str) -> None:
    if re.search(r"\.enqueue(_call|_in|_at)?\(", source):
        facts.workers_unsure.append(f"{path} enqueues functions with RQ: which are jobs is not in the syntax")
    imported_from = {}
    for node in tree.root_node.named_children:
        if node.type == "import_from_statement":
            for c in node.named_children[1:]:
                imported_from[text(c).split(" as ")[-1]] = text(node.child_by_field_name("module_name"))
    for d, node, ctx in defs:
        if d.kind == "class" or node.parent is None or node.parent.type != "decorated_definition":
            continue
        for dec in (c for c in node.parent.named_children if c.type == "decorator"):
            expr = dec.named_children[0] if dec.named_children else None
            call = expr if expr is not None and expr.type == "call" else None
            head = text(call.child_by_field_name("function") if call is not None else expr)
            last = head.split(".")[-1]
            source = imported_from.get(head, "")
            if not (last in ("task", "shared_task") and ("." in head or source.startswith("celery"))
                    or last == "actor" and source.startswith("dramatiq") or last == "job" and source.startswith("rq")):
                continue
            options, unsure = {}, routes
            args = call.child_by_field_name("arguments") if call is not None else None
            for kw in (a for a in (args.named_children if args is not None else []) if a.type == "keyword_argument"):
                key, value = text(kw.child_by_field_name("name")), text(kw.child_by_field_name("value")).strip("'\"")
                if key == "queue" or key == "queue_name":
                    options["queue"] = value
                elif key in ("max_retries", "retry", "max_retry"):
                    options["retry"] = value.lower()
                elif key in _OTHER_TASK_OPTIONS:
                    unsure = unsure or f"it sets {key}, which the question does not name"
            facts.workers.append(Worker(d.qualified, path, d.line, options, unsure))


def app_dir(path: str, files) -> str | None:
    """The Django app a file belongs to: the nearest directory holding models.py, models/ or apps.py."""
    parts = path.split("/")[:-1]
    for i in range(len(parts), 0, -1):
        base = "/".join(parts[:i])
        if any(f"{base}/{n}" in files for n in ("models.py", "apps.py", "models/__init__.py")):
            return base
    return None


def app_label(app: str, trees: dict) -> str | None:
    """An AppConfig's label (None when it is not a plain string), else the app directory's name."""
    entry = trees.get(f"{app}/apps.py")
    if entry is not None:
        for node in _all(entry[1].root_node):
            if node.type == "assignment" and text(node.child_by_field_name("left")) == "label":
                right = node.child_by_field_name("right")
                return _string_content(right) if right is not None and right.type == "string" else None
    return app.split("/")[-1]


def _meta(class_node) -> dict[str, str]:
    body = class_node.child_by_field_name("body")
    for stmt in body.named_children if body is not None else []:
        if stmt.type == "class_definition" and text(stmt.child_by_field_name("name")) == "Meta":
            out = {}
            for node in _all(stmt):
                if node.type == "assignment":
                    right = node.child_by_field_name("right")
                    value = _string_content(right) if right is not None and right.type == "string" else text(right)
                    out[text(node.child_by_field_name("left"))] = value
            return out
    return {}


def _python_models(facts: RepoFacts, trees: dict, files) -> None:
    ix = facts.index
    classes = {}  # qualified -> (node, path, bases as (written, definition))
    for d, node, ctx in facts.def_nodes:
        if facts.languages.get(d.path) == "python" and d.kind == "class":
            supers = node.child_by_field_name("superclasses")
            bases = [(text(b), ix.py_origin(d.path, text(b)) if b.type == "identifier" else None)
                     for b in (supers.named_children if supers is not None else []) if b.type != "keyword_argument"]
            classes[d.qualified] = (node, d.path, bases)

    def django(q: str, depth: int = 0) -> bool:
        return depth < 8 and any(w.endswith("models.Model") or w == "Model" or (b is not None and b.qualified in classes
                                 and django(b.qualified, depth + 1)) for w, b in classes[q][2])

    migration_uses: dict[tuple[str, str], set[str]] = defaultdict(set)  # (app label, model lower) -> files
    string_uses: dict[tuple[str, str], set[str]] = defaultdict(set)
    created: dict[str, set[str]] = defaultdict(set)  # app label -> models created by its migrations
    for path, (lang, tree, _) in trees.items():
        if lang == "python":
            _django_strings(trees, files, path, tree, migration_uses, string_uses, created)
    for q, (node, path, bases) in sorted(classes.items()):
        meta = _meta(node)
        name = q.split(".")[-1]
        tablename = next((_string_content(s.named_children[0].child_by_field_name("right"))
                          for s in (node.child_by_field_name("body").named_children if node.child_by_field_name("body") else [])
                          if s.type == "expression_statement" and s.named_children and s.named_children[0].type == "assignment"
                          and text(s.named_children[0].child_by_field_name("left")) == "__tablename__"), None)
        if tablename:
            facts.models[q] = Model(tablename, path)
            continue
        if not django(q) or meta.get("abstract") == "True":
            continue
        app = app_dir(path, files)
        label = meta.get("app_label") or (app_label(app, trees) if app else None)
        if meta.get("proxy") == "True":
            facts.models[q] = Model(None, path, "a proxy model: its parent's table")
        elif label is None or not (path.startswith(f"{app}/models.py") or path.startswith(f"{app}/models/")):
            facts.models[q] = Model(None, path, "not in an app's models module: its app label is not certain")
        elif any(p.startswith(f"{app}/migrations/") for p in files) and name.lower() not in created[label]:
            facts.models[q] = Model(None, path, f"no CreateModel(name='{name}') in {app}/migrations")
        else:
            key = (label, name.lower())
            table = meta.get("db_table") or f"{label}_{name.lower()}"
            others = sorted(a for a, m in migration_uses if f"{a}_{m}" == table and (a, m) != key)
            if others:  # a db_table that is another app's model's table: its migrations change it too
                facts.models[q] = Model(None, path, f"its table {table} is also another app's model's ({others[0]})")
            else:
                facts.models[q] = Model(table, path, "", tuple(sorted(migration_uses[key] | string_uses[key])), label)


def _django_strings(trees, files, path, tree, migration_uses, string_uses, created) -> None:
    """Where Django names a model by a string: migrations (CreateModel(name='Invoice'),
    model_name='invoice', to='billing.invoice'), 'app.Model' references, ForeignKey('Model')."""
    app = app_dir(path, files)
    label = app_label(app, trees) if app else None
    migration = bool(DJANGO_MIGRATION.search(path))
    for node in _all(tree.root_node):
        if node.type == "string" and (s := _string_content(node)) and re.fullmatch(r"\w+\.\w+", s):
            a, m = s.split(".")
            string_uses[(a, m.lower())].add(path)
        if node.type != "call":
            continue
        fn = text(node.child_by_field_name("function")).split(".")[-1]
        args = node.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        kwargs = {text(a.child_by_field_name("name")): a.child_by_field_name("value") for a in items
                  if a.type == "keyword_argument"}
        strings = {k: _string_content(v) for k, v in kwargs.items() if v is not None and v.type == "string"}
        positional = [_string_content(a) for a in items if a.type == "string"]
        if migration and label:
            if fn in _DJANGO_MODEL_OPS:
                for k in ("name", "old_name", "new_name"):
                    if strings.get(k):
                        migration_uses[(label, strings[k].lower())].add(path)
                        if fn == "CreateModel" and k == "name":
                            created[label].add(strings[k].lower())
            if strings.get("model_name"):
                migration_uses[(label, strings["model_name"].lower())].add(path)
        if fn == "get_model" and len(positional) == 2 and all(positional):
            string_uses[(positional[0], positional[1].lower())].add(path)
        if fn in _FK_FIELDS and label:
            target = strings.get("to") or (positional[0] if positional and items and items[0].type == "string" else None)
            if target and "." not in target and target != "self":
                string_uses[(label, target.lower())].add(path)


# --- JavaScript / TypeScript: BullMQ ---

def _bullmq_workers(facts: RepoFacts, path: str, tree) -> None:
    from_bullmq = any(n.type == "import_statement" and "bullmq" in text(n.child_by_field_name("source"))
                      and "Worker" in text(n) for n in tree.root_node.named_children) or \
        "require('bullmq')" in text(tree.root_node) or 'require("bullmq")' in text(tree.root_node)
    if not from_bullmq:
        return
    for node in _all(tree.root_node):
        if node.type == "new_expression" and text(node.child_by_field_name("constructor")) == "Worker":
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            queue = _string_content(first) if first is not None and first.type == "string" else None
            if queue is None:
                facts.workers_unsure.append(f"{path}: a BullMQ Worker on a computed queue name")
            else:
                facts.workers.append(Worker(f"queue {queue}", path, node.start_point[0] + 1))
