"""bakeoff.suite.repo.frameworks directly: one pass over a mixed repository finds the models and
workers of every framework (Rails, Celery, SQLAlchemy, BullMQ) and says which lists are uncertain."""

from __future__ import annotations

from bakeoff.suite.repo.frameworks import find_models_and_workers
from bakeoff.suite.repo.uses import scan_uses
from repo_fixtures import PYTHON, RAILS, TYPESCRIPT
from repo_scan import parsed

QUEUES = {
    "src/queues/mail.js": "const { Worker } = require(\"bullmq\");\n"
                          "const worker = new Worker('mail', async (job) => job.data.to);\n",
    "src/queues/dynamic.ts": "import { Worker } from \"bullmq\";\n\nexport function start(name: string) {\n"
                             "  return new Worker(name, async (job) => job.data);\n}\n",
    "src/queues/not_bullmq.ts": "class Worker {}\nexport const w = new Worker('other');\n",
}


def test_one_pass_finds_models_and_workers_of_every_framework_in_a_mixed_repository():
    files = {**RAILS, **PYTHON, **TYPESCRIPT, **QUEUES}
    facts, trees = parsed(files)
    scan_uses(facts, trees, files)
    find_models_and_workers(facts, trees, files)
    assert {q: m.table for q, m in facts.models.items()} == {
        "Order": "orders", "User": "users", "shop.models.Invoice": "invoices"}
    assert sorted(w.name for w in facts.workers) == [
        "CleanupWorker", "ReceiptWorker", "ReportJob", "queue mail", "shop.tasks.bill_customer",
        "shop.tasks.nightly_summary"]
    assert facts.workers_unsure == ["src/queues/dynamic.ts: a BullMQ Worker on a computed queue name"]


def test_a_table_a_migration_names_without_a_known_operation_is_unsure():
    files = {**RAILS, "db/migrate/20240109000000_backfill.rb":
             "class Backfill < ActiveRecord::Migration[7.1]\n  def up\n    Order.connection.update(\"orders\")\n"
             "    change_column_default :users, :email, \"x\"\n  end\nend\n"}
    facts, trees = parsed(files)
    scan_uses(facts, trees, files)
    find_models_and_workers(facts, trees, files)
    assert "db/migrate/20240109000000_backfill.rb" in facts.tables_unsure["orders"]
    assert "db/migrate/20240109000000_backfill.rb" in facts.tables["users"]
