"""Python frameworks: Celery, RQ and Dramatiq tasks; Django models with their tables (app label
from the app directory or its AppConfig, ``Meta.db_table``, abstract and proxy models) and the
migrations and strings that name them (``CreateModel(name='Invoice')``, ``model_name='invoice'``,
``'billing.Invoice'``); SQLAlchemy models by ``__tablename__``."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict

from bakeoff.suite.repo.facts import Model, RepoFacts, Worker
from bakeoff.suite.repo.scopes import text
from bakeoff.suite.repo.uses import descendants, string_content

DJANGO_MIGRATION = re.compile(r"(^|/)migrations/(?!__init__\.py$)\w+\.py$")  # 0162b_auto_... too
_DJANGO_MODEL_OPS = ("CreateModel", "DeleteModel", "AlterModelOptions", "AlterModelTable", "AlterUniqueTogether",
                     "AlterIndexTogether", "AlterModelManagers", "AlterOrderWithRespectTo", "RenameModel")
_FK_FIELDS = ("ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject")


_OTHER_TASK_OPTIONS = ("default_retry_delay", "autoretry_for", "retry_backoff", "retry_backoff_max", "retry_jitter",
                       "retry_kwargs", "base", "time_limit", "min_backoff", "max_backoff", "retry_when")


def celery_routes(files: dict[str, str]):
    """Why a task's queue is (or may be) set outside its decorator, by Celery's task_routes: a
    function of the task's name ('' when no route names it). Routes given as literal names or
    globs are matched; any other kind of router makes every task uncertain."""
    sources = sorted((p, t) for p, t in files.items() if p.endswith(".py") and "task_routes" in t.lower())
    patterns = [(p, m) for p, t in sources for m in re.findall(r"['\"]([\w*]+(?:\.[\w*]+)+)['\"]", t)]
    if any("re.compile" in t for _, t in sources) or (sources and not patterns):
        return lambda name: f"tasks are routed to queues by a rule in {sources[0][0]} (task_routes)"
    return lambda name: next((f"routed to a queue in {p} ({m})" for p, m in patterns if fnmatch.fnmatchcase(name, m)), "")


def python_tasks(facts: RepoFacts, path: str, tree, defs, routes, source: str) -> None:
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
            args = call.child_by_field_name("arguments") if call is not None else None
            named = [text(a.child_by_field_name("value")).strip("'\"") for a in (args.named_children if args else [])
                     if a.type == "keyword_argument" and text(a.child_by_field_name("name")) == "name"]
            options, unsure = {}, routes(named[0] if named else d.qualified)
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
        for node in descendants(entry[1].root_node):
            if node.type == "assignment" and text(node.child_by_field_name("left")) == "label":
                right = node.child_by_field_name("right")
                return string_content(right) if right is not None and right.type == "string" else None
    return app.split("/")[-1]


def _meta(class_node) -> dict[str, str]:
    body = class_node.child_by_field_name("body")
    for stmt in body.named_children if body is not None else []:
        if stmt.type == "class_definition" and text(stmt.child_by_field_name("name")) == "Meta":
            out = {}
            for node in descendants(stmt):
                if node.type == "assignment":
                    right = node.child_by_field_name("right")
                    value = string_content(right) if right is not None and right.type == "string" else text(right)
                    out[text(node.child_by_field_name("left"))] = value
            return out
    return {}


def python_models(facts: RepoFacts, trees: dict, files) -> None:
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
        tablename = next((string_content(s.named_children[0].child_by_field_name("right"))
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
            named = migration_uses[key] | string_uses[key]
            stray = sorted(string_uses[("", table)] - named)  # a migration naming the table itself
            if others:  # a db_table that is another app's model's table: its migrations change it too
                facts.models[q] = Model(None, path, f"its table {table} is also another app's model's ({others[0]})")
            elif stray:  # AlterModelTable('Checkin', 'pretixbase_checkin') in another app, a db_table option
                facts.models[q] = Model(None, path, f"{stray[0]} names its table {table} in a way not read here")
            else:
                facts.models[q] = Model(table, path, "", tuple(sorted(migration_uses[key] | string_uses[key])), label)


def _django_strings(trees, files, path, tree, migration_uses, string_uses, created) -> None:
    """Where Django names a model by a string: migrations (CreateModel(name='Invoice'),
    model_name='invoice', to='billing.invoice'), 'app.Model' references, ForeignKey('Model')."""
    migration = bool(DJANGO_MIGRATION.search(path))
    # A migrations package belongs to the app around it, even one whose models.py is gone.
    app = path.rsplit("/migrations/", 1)[0] if migration else app_dir(path, files)
    label = app_label(app, trees) if app else None
    for node in descendants(tree.root_node):
        if node.type == "string" and (s := string_content(node)) and re.fullmatch(r"\w+\.\w+", s):
            a, m = s.split(".")
            string_uses[(a, m.lower())].add(path)
        elif migration and node.type == "string" and (s := string_content(node)) and re.fullmatch(r"\w+_\w+", s):
            string_uses[("", s)].add(path)  # perhaps a table name
        if node.type != "call":
            continue
        fn = text(node.child_by_field_name("function")).split(".")[-1]
        args = node.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        kwargs = {text(a.child_by_field_name("name")): a.child_by_field_name("value") for a in items
                  if a.type == "keyword_argument"}
        strings = {k: string_content(v) for k, v in kwargs.items() if v is not None and v.type == "string"}
        positional = [string_content(a) for a in items if a.type == "string"]
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
