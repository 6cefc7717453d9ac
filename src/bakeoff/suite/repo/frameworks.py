"""What frameworks make of the code: models and their tables (Rails, Django, SQLAlchemy), the
migrations that change each table, and job/worker classes (Sidekiq, ActiveJob, Celery, RQ,
Dramatiq, BullMQ), followed through inheritance and includes across files.

Tables are derived the way the framework derives them and then checked against the migrations
in the repository; a model whose table cannot be derived with certainty gets a reason instead.
"""

from __future__ import annotations

from collections import defaultdict

from bakeoff.suite.repo.django_celery import celery_routes, python_models, python_tasks
from bakeoff.suite.repo.facts import RepoFacts, Worker
from bakeoff.suite.repo.rails import (RAILS_MIGRATION, RubyClass, rails_models, read_rails_migration, read_ruby_classes,
                                      ruby_workers)
from bakeoff.suite.repo.scopes import text
from bakeoff.suite.repo.uses import descendants, string_content


def find_models_and_workers(facts: RepoFacts, trees: dict, files: dict[str, str]) -> None:
    ix = facts.index
    ruby: dict[str, RubyClass] = defaultdict(RubyClass)
    defs_in: dict[str, list] = defaultdict(list)
    for entry in facts.def_nodes:
        defs_in[entry[0].path].append(entry)
    for path, (lang, tree, template) in sorted(trees.items()):
        if lang == "ruby" and not template:
            read_ruby_classes(ix, ruby, path, defs_in[path])
            if RAILS_MIGRATION.search(path):
                read_rails_migration(facts, path, tree)
    for table, paths in facts.migration_literals.items():  # named, but by no operation read here
        facts.tables_unsure[table] |= paths - facts.tables.get(table, set())
    rails_models(facts, ruby)
    ruby_workers(facts, ruby)
    routes = celery_routes(files)
    for path, (lang, tree, _) in trees.items():
        if lang == "python":
            python_tasks(facts, path, tree, defs_in[path], routes, files[path])
        elif lang in ("javascript", "typescript", "tsx"):
            _bullmq_workers(facts, path, tree)
    python_models(facts, trees, files)


# --- JavaScript / TypeScript: BullMQ ---

def _bullmq_workers(facts: RepoFacts, path: str, tree) -> None:
    from_bullmq = any(n.type == "import_statement" and "bullmq" in text(n.child_by_field_name("source"))
                      and "Worker" in text(n) for n in tree.root_node.named_children) or \
        "require('bullmq')" in text(tree.root_node) or 'require("bullmq")' in text(tree.root_node)
    if not from_bullmq:
        return
    for node in descendants(tree.root_node):
        if node.type == "new_expression" and text(node.child_by_field_name("constructor")) == "Worker":
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            queue = string_content(first) if first is not None and first.type == "string" else None
            if queue is None:
                facts.workers_unsure.append(f"{path}: a BullMQ Worker on a computed queue name")
            else:
                facts.workers.append(Worker(f"queue {queue}", path, node.start_point[0] + 1))
