"""bakeoff.suite.repo.django_celery directly, on a Django/Celery-shaped project: task_routes,
Celery/Dramatiq/RQ tasks and their options, Django app labels and tables, SQLAlchemy tables."""

from __future__ import annotations

from bakeoff.suite.repo.django_celery import app_dir, app_label, celery_routes, python_models, python_tasks
from bakeoff.suite.repo.uses import scan_uses
from repo_fixtures import PYTHON
from repo_scan import parsed

MIGRATION = ("from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
             "    operations = [\n        migrations.CreateModel(\n            name=\"{name}\",\n"
             "            fields=[(\"id\", models.AutoField(primary_key=True))],\n        ),\n    ]\n")

PROJECT = {
    "config/__init__.py": "",
    "config/settings.py": "CELERY_TASK_ROUTES = {'ledger.tasks.export_*': {'queue': 'exports'}}\n",
    "ledger/__init__.py": "",
    "ledger/apps.py": "from django.apps import AppConfig\n\n\nclass LedgerConfig(AppConfig):\n"
                      "    name = \"ledger\"\n    label = \"books\"\n",
    "ledger/models.py": ("from django.db import models\n\n\nclass Entry(models.Model):\n"
                         "    amount = models.DecimalField(max_digits=9, decimal_places=2)\n\n\n"
                         "class Account(models.Model):\n    class Meta:\n        db_table = \"gl_accounts\"\n\n\n"
                         "class Stamp(models.Model):\n    class Meta:\n        abstract = True\n"),
    "ledger/migrations/__init__.py": "",
    "ledger/migrations/0001_initial.py": MIGRATION.format(name="Entry"),
    "ledger/migrations/0002_account.py": MIGRATION.format(name="Account"),
    "ledger/tasks.py": ("import dramatiq\nfrom celery import shared_task\nfrom dramatiq import actor\n\n\n"
                        "@shared_task(queue=\"ledger\", max_retries=4)\ndef post_entry(pk):\n    return pk\n\n\n"
                        "@shared_task(autoretry_for=(IOError,))\ndef export_csv(pk):\n    return pk\n\n\n"
                        "@actor(queue_name=\"mail\", max_retries=1)\ndef mail_statement(pk):\n    return pk\n"),
    "ledger/views.py": "from ledger.models import Entry\n\n\ndef show(request, pk):\n    return Entry.objects.get(pk=pk)\n",
}


def test_task_routes_name_the_queue_for_matching_tasks_only():
    route = celery_routes(PROJECT)
    assert route("ledger.tasks.export_csv") == "routed to a queue in config/settings.py (ledger.tasks.export_*)"
    assert route("ledger.tasks.post_entry") == ""
    computed = celery_routes({"config/celery.py": "import re\napp.conf.task_routes = {re.compile(r'x.*'): {}}\n"})
    assert "by a rule in config/celery.py" in computed("anything.at.all")


def test_celery_and_dramatiq_tasks_with_their_options_or_why_they_are_unsure():
    facts, trees = parsed(PROJECT)
    path = "ledger/tasks.py"
    defs = [entry for entry in facts.def_nodes if entry[0].path == path]
    python_tasks(facts, path, trees[path][1], defs, celery_routes(PROJECT), PROJECT[path])
    tasks = {w.name: (w.options, w.options_unsure) for w in facts.workers}
    assert tasks["ledger.tasks.post_entry"] == ({"queue": "ledger", "retry": "4"}, "")
    assert tasks["ledger.tasks.mail_statement"] == ({"queue": "mail", "retry": "1"}, "")
    assert tasks["ledger.tasks.export_csv"][1].startswith("routed to a queue in config/settings.py")


def test_rq_enqueue_makes_the_worker_list_uncertain():
    source = "from redis import Redis\nfrom rq import Queue\n\nQueue(connection=Redis()).enqueue(print, 1)\n"
    facts, trees = parsed({"jobs.py": source})
    python_tasks(facts, "jobs.py", trees["jobs.py"][1], [], celery_routes({}), source)
    assert facts.workers_unsure == ["jobs.py enqueues functions with RQ: which are jobs is not in the syntax"]


def test_django_apps_labels_and_tables():
    facts, trees = parsed(PROJECT)
    assert app_dir("ledger/migrations/0001_initial.py", PROJECT) == "ledger"
    assert app_dir("config/settings.py", PROJECT) is None
    assert app_label("ledger", trees) == "books"
    scan_uses(facts, trees, PROJECT)
    python_models(facts, trees, PROJECT)
    entry = facts.models["ledger.models.Entry"]
    assert entry.table == "books_entry" and entry.app == "books"
    assert entry.named_by == ("ledger/migrations/0001_initial.py",)
    assert facts.models["ledger.models.Account"].table == "gl_accounts"
    assert "ledger.models.Stamp" not in facts.models  # abstract: no table


def test_sqlalchemy_models_by_tablename():
    facts, trees = parsed(PYTHON)
    scan_uses(facts, trees, PYTHON)
    python_models(facts, trees, PYTHON)
    assert facts.models["shop.models.Invoice"].table == "invoices"
