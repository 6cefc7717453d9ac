"""Repository suites ask a question only when its answer key is certain. Each test writes a small
repository showing one way a key went wrong on real applications (a receiver that is not the
defining class, a table named by a framework's own rules, a name defined twice, a worker reached
through a base class, a require that is no import, a model named in a template, a migration
marked generated, a seed outside application code) and checks the keys a user would check by
hand. No model runs here."""

from __future__ import annotations

import re

from bakeoff.checks.repo import set_scores
from bakeoff.suite.repo.defects import seed_defects
from bakeoff.suite.repo.facts import collect_facts, parse, syntax_errors
from bakeoff.suite.repo.packing import load_repository
from bakeoff.suite.repo.questions import all_questions
from repo_fixtures import write_repo

RECORD = "class ApplicationRecord < ActiveRecord::Base\n  self.abstract_class = true\nend\n"


def _migration(name: str, body: str) -> str:
    camel = "".join(w.capitalize() for w in name.split("_"))
    return f"class {camel} < ActiveRecord::Migration[7.1]\n  def change\n    {body}\n  end\nend\n"


def _asked(files: dict[str, str]) -> list:
    return all_questions(collect_facts(files))


def _about(questions, kind: str, name: str) -> list:
    """The questions of KIND about NAME (as the question names it, qualified or not)."""
    pattern = re.compile(rf"`(?:[\w:.#/]*(?:::|\.|#))?{re.escape(name)}`")
    return [q for q in questions if q.kind == kind and pattern.search(q.text.split("?")[0])]


def _one(questions, kind: str, name: str):
    found = _about(questions, kind, name)
    assert len(found) == 1, [q.id for q in questions if q.kind == kind]
    return found[0]


# 1. Callers: only calls whose receiver proves the definition they reach.

def test_callers_only_where_the_receiver_is_the_defining_class():
    files = {
        "app/models/application_record.rb": RECORD,
        "app/models/order.rb": "class Order < ApplicationRecord\n  has_many :items\n\n"
                               "  def summary\n    items.count\n  end\nend\n",
        "app/services/payment_client.rb": "class PaymentClient\n  def items\n    @api.get(\"/items\")\n  end\n\n"
                                          "  def self.fetch_all\n    new.refresh\n  end\n\n"
                                          "  def refresh\n    reload_cache\n  end\n\n"
                                          "  def reload_cache\n    @cache = {}\n  end\nend\n",
        "app/jobs/sync_job.rb": "class SyncJob < ApplicationJob\n  def perform\n    PaymentClient.fetch_all\n  end\nend\n",
        "app/decorators/order_decorator.rb": "class OrderDecorator\n  def total\n    @order.amount\n  end\nend\n",
        "app/views/orders/show.html.erb": "<p><%= @order.total %></p>\n",
        "app/services/invoice_exporter.rb": "class InvoiceExporter\n  def export(invoice)\n    invoice.total\n  end\nend\n",
    }
    qs = _asked(files)
    # `items` is also an association (has_many :items): order.items is not PaymentClient#items.
    assert _about(qs, "callers", "items") == []
    # `total` is called on an invoice of unknown class, and from a template: not asked.
    assert _about(qs, "callers", "total") == []
    assert _one(qs, "callers", "fetch_all").answer == ("SyncJob#perform",)  # a constant receiver
    assert _one(qs, "callers", "reload_cache").answer == ("PaymentClient#refresh",)  # a bare call in the class


def test_callers_in_python_only_through_imports_self_and_the_class():
    files = {
        "shop/__init__.py": "",
        "shop/cart.py": "class Cart:\n    def subtotal(self):\n        return self.taxed(1)\n\n"
                        "    def taxed(self, amount):\n        return amount\n\n\n"
                        "class Wishlist:\n    def refresh(self):\n        return []\n\n\n"
                        "class Basket:\n    def refresh(self):\n        return []\n",
        "shop/pricing.py": "def round_price(x):\n    return round(x, 2)\n",
        "shop/checkout.py": "from shop.pricing import round_price\n\n\n"
                            "def checkout(cart):\n    cart.refresh()\n    return round_price(cart.subtotal())\n",
    }
    qs = _asked(files)
    assert _one(qs, "callers", "round_price").answer == ("shop.checkout.checkout",)
    assert _one(qs, "callers", "taxed").answer == ("shop.cart.Cart.subtotal",)
    assert _about(qs, "callers", "refresh") == []  # defined by two classes
    assert _about(qs, "callers", "subtotal") == []  # cart.subtotal(): the receiver's class is not shown


# 7. Calls inside nested or anonymous functions.

def test_calls_in_nested_functions_credit_the_innermost_named_one_and_accept_the_enclosing():
    files = {
        "shop/__init__.py": "",
        "shop/util.py": "def fmt(row):\n    return str(row)\n",
        "shop/report.py": "from shop.util import fmt\n\n\ndef build(rows):\n    def line(row):\n        return fmt(row)\n"
                          "    return [line(r) for r in rows]\n\n\n"
                          "def summary(rows):\n    return list(map(lambda r: fmt(r), rows))\n",
    }
    q = _one(_asked(files), "callers", "fmt")
    assert q.answer == ("shop.report.build.line", "shop.report.summary")  # the lambda's call is summary's
    assert "innermost named function" in q.text
    accept = dict(q.accept)
    assert accept == {"shop.report.build": "shop.report.build.line"}
    # A model that names the enclosing function is right too; one that misses summary is not.
    assert set_scores('["build", "summary"]', list(q.answer), q.match, accept)[:2] == (1.0, 1.0)
    assert set_scores('["line"]', list(q.answer), q.match, accept)[1] == 0.5


def test_a_call_in_a_module_level_callback_drops_the_question_instead_of_a_partial_key():
    files = {
        "src/notify.ts": "export function notify(what: string): void {\n  console.log(what);\n}\n",
        "src/events.ts": "import { notify } from \"./notify\";\n\n"
                         "emitter.on(\"saved\", () => notify(\"saved\"));\n\n"
                         "export function onSave(): void {\n  notify(\"x\");\n}\n",
    }
    assert _about(_asked(files), "callers", "notify") == []


# 2. Tables as the framework derives them.

def test_rails_tables_follow_table_name_prefix_nesting_and_table_name():
    files = {
        "app/models/application_record.rb": RECORD,
        "app/models/shop.rb": "module Shop\n  def self.table_name_prefix\n    \"shop_\"\n  end\nend\n",
        "app/models/shop/order.rb": "class Shop::Order < ApplicationRecord\nend\n",
        "app/models/shop/order/item.rb": "class Shop::Order::Item < ApplicationRecord\nend\n",
        "app/models/legacy_thing.rb": "class LegacyThing < ApplicationRecord\n  self.table_name = \"things_v1\"\nend\n",
        "app/models/principal.rb": "class Principal < ApplicationRecord\n"
                                   "  self.table_name = \"#{table_name_prefix}users#{table_name_suffix}\"\nend\n",
        "app/services/directory.rb": "class Directory\n  def all\n    Principal.all\n  end\nend\n",
        "db/migrate/20240105000000_create_users.rb": _migration("create_users", "create_table :users"),
        "app/services/restock.rb": "class Restock\n  def run\n    Shop::Order::Item.where(qty: 0)\n    LegacyThing.first\n"
                                   "  end\nend\n",
        "db/migrate/20240101000000_create_shop_orders.rb": _migration("create_shop_orders", "create_table :shop_orders"),
        "db/migrate/20240102000000_create_shop_order_items.rb":
            _migration("create_shop_order_items", "create_table :shop_order_items"),
        "db/migrate/20240103000000_add_qty_to_shop_order_items.rb":
            _migration("add_qty_to_shop_order_items", "add_column :shop_order_items, :qty, :integer"),
        "db/migrate/20240104000000_create_things_v1.rb": _migration("create_things_v1", "create_table :things_v1"),
        "db/migrate/20240106000000_create_gadgets.rb": _migration("create_gadgets", "create_table :gadgets"),
        "db/migrate/20240107000000_fill_gadgets.rb": "class FillGadgets < ActiveRecord::Migration[7.1]\n"
                                                       "  class Gadget < ActiveRecord::Base\n  end\n\n"
                                                       "  def up\n    Gadget.update_all(ok: true)\n  end\nend\n",
    }
    qs = _asked(files)
    assert _about(qs, "model_users", "FillGadgets::Gadget") == []  # a migration's own model: history, not asked
    item = _one(qs, "model_users", "Shop::Order::Item")
    assert "table `shop_order_items`" in item.text  # Shop's prefix, then Shop::Order's singular table
    assert item.answer == ("app/services/restock.rb", "db/migrate/20240102000000_create_shop_order_items.rb",
                           "db/migrate/20240103000000_add_qty_to_shop_order_items.rb")
    assert "table `users`" in _one(qs, "model_users", "Principal").text  # Redmine's way of naming its table
    thing = _one(qs, "model_users", "LegacyThing")
    assert "table `things_v1`" in thing.text
    assert thing.answer == ("app/services/restock.rb", "db/migrate/20240104000000_create_things_v1.rb")


def test_django_tables_use_the_app_label_and_migrations_name_the_model(tmp_path):
    files = {
        "billing/__init__.py": "",
        "billing/apps.py": "from django.apps import AppConfig\n\n\nclass BillingConfig(AppConfig):\n    name = \"billing\"\n",
        "billing/models.py": "from django.db import models\n\n\nclass Invoice(models.Model):\n"
                             "    number = models.CharField(max_length=20)\n",
        "billing/migrations/__init__.py": "",
        "billing/migrations/0001_initial.py":
            "# Generated by Django 4.2 on 2024-01-01 10:00\n\nfrom django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n    operations = [\n        migrations.CreateModel(\n"
            "            name=\"Invoice\",\n            fields=[(\"id\", models.AutoField(primary_key=True))],\n"
            "        ),\n    ]\n",
        "billing/migrations/0002_invoice_number.py":
            "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
            "    operations = [\n        migrations.AddField(\n            model_name=\"invoice\",\n"
            "            name=\"number\",\n            field=models.CharField(max_length=20),\n        ),\n    ]\n",
        "billing/views.py": "from billing.models import Invoice\n\n\ndef show(request, pk):\n"
                            "    return Invoice.objects.get(pk=pk)\n",
        "shipping/__init__.py": "",
        "shipping/apps.py": "from django.apps import AppConfig\n\n\nclass ShippingConfig(AppConfig):\n"
                            "    name = \"shipping\"\n",
        "shipping/models.py": "from django.db import models\n\n\nclass Parcel(models.Model):\n"
                              "    invoice = models.ForeignKey(\"billing.Invoice\", on_delete=models.CASCADE)\n",
    }
    files["billing/migrations/0002b_invoice_note.py"] = files["billing/migrations/0002_invoice_number.py"].replace(
        "number", "note")  # a migration whose number has a letter (pretix's 0162b_...)
    repo = load_repository(write_repo(tmp_path / "app", files))
    q = _one(_asked(repo.texts()), "model_users", "Invoice")
    assert "table `billing_invoice`" in q.text
    assert q.answer == ("billing/migrations/0001_initial.py", "billing/migrations/0002_invoice_number.py",
                        "billing/migrations/0002b_invoice_note.py", "billing/views.py", "shipping/models.py")
    # Another app's migration moving its own table onto this one: the key could not say so, not asked.
    files["shipping/migrations/__init__.py"] = ""
    files["shipping/migrations/0002_move.py"] = (
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    operations = [migrations.AlterModelTable(\"Parcel\", \"billing_invoice\")]\n")
    assert _about(_asked(files), "model_users", "Invoice") == []


def test_django_migrations_name_the_model_positionally_too(tmp_path):
    """Django's operations take the model as their first argument as well as by keyword
    (pretix's RemoveIndex("reusablemedium", ...)): such a migration changes the table."""
    migration = ("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
                 "    operations = [\n{ops}    ]\n")
    files = {
        "billing/__init__.py": "",
        "billing/models.py": "from django.db import models\n\n\nclass Invoice(models.Model):\n"
                             "    number = models.CharField(max_length=20)\n",
        "billing/migrations/__init__.py": "",
        "billing/migrations/0001_initial.py": migration.format(
            ops="        migrations.CreateModel('Invoice', [('id', models.AutoField(primary_key=True))]),\n"),
        "billing/migrations/0002_drop_index.py": migration.format(
            ops="        migrations.RemoveIndex(\"invoice\", 'invoice_number_idx'),\n"),
        "billing/migrations/0003_rename.py": migration.format(
            ops="        migrations.RenameField('invoice', 'number', 'code'),\n"),
        "billing/views.py": "from billing.models import Invoice\n\n\ndef show(request, pk):\n"
                            "    return Invoice.objects.get(pk=pk)\n",
    }
    repo = load_repository(write_repo(tmp_path / "app", files))
    q = _one(_asked(repo.texts()), "model_users", "Invoice")
    assert q.answer == ("billing/migrations/0001_initial.py", "billing/migrations/0002_drop_index.py",
                        "billing/migrations/0003_rename.py", "billing/views.py")


def test_a_django_table_shared_with_another_apps_model_is_not_asked_about():
    migration = ("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = [\n"
                 "        migrations.CreateModel(name=\"ReferencedObject\", fields=[]),\n    ]\n")
    files = {
        "paypal/__init__.py": "", "paypal/migrations/0001_initial.py": migration,  # its models.py is gone
        "paypal2/__init__.py": "",
        "paypal2/models.py": "from django.db import models\n\n\nclass ReferencedObject(models.Model):\n"
                             "    class Meta:\n        db_table = \"paypal_referencedobject\"\n",
        "paypal2/migrations/0001_initial.py": migration,
        "paypal2/views.py": "from paypal2.models import ReferencedObject\n\n\ndef show():\n"
                            "    return ReferencedObject.objects.all()\n",
    }
    assert _about(_asked(files), "model_users", "ReferencedObject") == []  # paypal's migrations change it too
    files["paypal/models.py"] = "x = 1\n"
    assert _about(_asked(files), "model_users", "ReferencedObject") == []


# 3. Qualified names; never a short name defined twice; a namespace prefix is not a use.

def test_a_short_name_defined_twice_is_never_asked_about():
    files = {
        "shop/__init__.py": "",
        "shop/models.py": "from django.db import models\n\n\nclass Base(models.Model):\n    class Meta:\n"
                          "        abstract = True\n\n\nclass Invoice(Base):\n    class Meta(Base.Meta):\n"
                          "        ordering = [\"id\"]\n",
        "shop/views.py": "from shop.models import Invoice\n\n\ndef show():\n    return Invoice.objects.all()\n",
    }
    qs = _asked(files)
    assert not [q.id for q in qs if re.search(r"`[\w.]*Meta`", q.text)]


def test_a_namespace_prefix_is_not_a_use_and_questions_name_the_qualified_class():
    files = {
        "app/models/application_record.rb": RECORD,
        "app/models/shop.rb": "class Shop < ApplicationRecord\nend\n",
        "app/models/shop/order.rb": "class Shop::Order < ApplicationRecord\nend\n",
        "app/services/checkout.rb": "class Checkout\n  def run(id)\n    Shop::Order.find(id)\n  end\nend\n",
        "app/services/directory.rb": "class Directory\n  def all\n    Shop.all\n  end\nend\n",
        "db/migrate/20240101000000_create_shops.rb": _migration("create_shops", "create_table :shops"),
        "db/migrate/20240102000000_create_shop_orders.rb": _migration("create_shop_orders", "create_table :shop_orders"),
    }
    qs = _asked(files)
    shop = _one(qs, "model_users", "Shop")
    assert shop.answer == ("app/services/directory.rb", "db/migrate/20240101000000_create_shops.rb")  # not checkout.rb
    order = _one(qs, "model_users", "Shop::Order")  # named as the code names it, never plain `Order`
    assert "`Shop::Order`" in order.text and "table `shop_orders`" in order.text  # nested in a model
    assert order.answer == ("app/services/checkout.rb", "db/migrate/20240102000000_create_shop_orders.rb")


# 4. Workers through inheritance and includes, across files.

def test_workers_are_found_through_base_classes_and_named_qualified():
    files = {
        "app/workers/application_worker.rb": "class ApplicationWorker\n  include Sidekiq::Worker\nend\n",
        "app/workers/shop/sync_worker.rb": "module Shop\n  class SyncWorker < ApplicationWorker\n"
                                           "    sidekiq_options queue: :sync\n\n    def perform(id)\n      id\n"
                                           "    end\n  end\nend\n",
        "app/jobs/application_job.rb": "class ApplicationJob < ActiveJob::Base\nend\n",
        "app/jobs/report_job.rb": "class ReportJob < ApplicationJob\n  def perform\n  end\nend\n",
    }
    q = next(q for q in _asked(files) if q.kind == "workers")
    assert q.answer == ("ReportJob", "Shop::SyncWorker")  # not the bases ApplicationWorker, ApplicationJob
    opts = next(q for q in _asked(files) if q.kind == "worker_options")
    assert "`Shop::SyncWorker`" in opts.text and opts.answer == ("queue=sync",)


def test_celery_tasks_are_named_by_module():
    files = {
        "billing/__init__.py": "",
        "billing/celery.py": "from celery import Celery\n\napp = Celery(\"billing\")\n",
        "billing/tasks.py": "from celery import shared_task\n\nfrom billing.celery import app\n\n\n"
                            "@shared_task\ndef send_invoice(pk):\n    return pk\n\n\n"
                            "@app.task(queue=\"low\")\ndef cleanup():\n    return 0\n",
    }
    q = next(q for q in _asked(files) if q.kind == "workers")
    assert q.answer == ("billing.tasks.cleanup", "billing.tasks.send_invoice")


# 5. Imports: only import statements with a literal path.

def test_imports_are_only_import_statements_with_literal_paths():
    files = {
        "config/application.rb": "require_relative \"boot\"\nrequire \"rails/all\"\n\nBundler.require(*Rails.groups)\n\n"
                                 "module Shop\n  class Application < Rails::Application\n  end\nend\n",
        "lib/plugins.rb": "Dir[\"plugins/*.rb\"].each do |file|\n  require file\nend\n",
        "src/lazy.ts": "const fs = require(\"fs\");\n\nexport async function load(): Promise<unknown> {\n"
                       "  return import(\"./heavy\");\n}\n",
        "src/heavy.ts": "export const weight = 1;\n",
        "src/legacy.ts": "import path = require(\"path\");\nexport * from \"./heavy\";\n",
        "tools/old.py": "from __future__ import unicode_literals\n\nimport os\n",
    }
    qs = {q.id: q for q in _asked(files) if q.kind == "imports"}
    assert qs["imports-tools/old.py"].answer == ("__future__", "os")
    assert qs["imports-config/application.rb"].answer == ("boot", "rails/all")  # not "*Rails.groups"
    assert "imports-lib/plugins.rb" not in qs  # `require file`: no literal, no certain list
    assert qs["imports-src/lazy.ts"].answer == ("./heavy", "fs")
    assert qs["imports-src/legacy.ts"].answer == ("./heavy", "path")


# 6. Uses of a model in templates and in string class names.

def test_model_uses_include_erb_templates_and_class_name_strings():
    files = {
        "app/models/application_record.rb": RECORD,
        "app/models/shop.rb": "class Shop < ApplicationRecord\nend\n",
        "app/models/customer.rb": "class Customer < ApplicationRecord\n  belongs_to :store, class_name: \"Shop\"\nend\n",
        "app/views/shops/show.html.erb": "<h1><%= @record.becomes(Shop).name %></h1>\n",
        "db/migrate/20240101000000_create_shops.rb": _migration("create_shops", "create_table :shops"),
        "db/migrate/20240102000000_create_customers.rb": _migration("create_customers", "create_table :customers"),
    }
    q = _one(_asked(files), "model_users", "Shop")
    assert q.answer == ("app/models/customer.rb", "app/views/shops/show.html.erb",
                        "db/migrate/20240101000000_create_shops.rb")
    # A plain string naming the class ('Shop' => ..., %w(Shop Customer)) may or may not be a use: not asked.
    for helper in ("LINKS = { 'Shop' => :shop_path }\n", "NAMES = %w(Shop Customer)\n"):
        assert _about(_asked({**files, "app/helpers/links_helper.rb": helper}), "model_users", "Shop") == []


# 8. The key comes from exactly the files in the prompt: migrations packed, schema dumps not.

def test_migrations_are_packed_and_schema_dumps_lock_files_and_build_output_are_not(tmp_path):
    generated = "# Generated by Django 4.2 on 2024-01-01 10:00\n\nfrom django.db import migrations\n\n\n" \
                "class Migration(migrations.Migration):\n    operations = []\n"
    root = write_repo(tmp_path / "app", {
        "billing/models.py": "x = 1\n", "billing/migrations/0001_initial.py": generated,
        "db/migrate/20240101000000_create_shops.rb": _migration("create_shops", "create_table :shops"),
        "prisma/migrations/20240101000000_init/migration.sql": "-- CreateTable\nCREATE TABLE \"Shop\" (id int);\n",
        "db/schema.rb": "ActiveRecord::Schema[7.1].define(version: 1) do\nend\n",
        "package-lock.json": "{}\n", "dist/app.js": "var a = 1;\n",
        "shop/static.dist/rrule/rrule.2726faff1251.js": "var r = 1;\n", "shop/static/rrule.js": "var r = 1;\n",
        "shop/static/d3/d3-interpolate.v2.js": "var d = 1;\n", "shop/static/jquery-3.6.1.js": "var j = 1;\n",
    })
    repo = load_repository(root)
    packed = {f.path for f in repo.files}
    assert {"billing/migrations/0001_initial.py", "db/migrate/20240101000000_create_shops.rb",
            "prisma/migrations/20240101000000_init/migration.sql"} <= packed
    assert not packed & {"db/schema.rb", "package-lock.json", "dist/app.js", "shop/static.dist/rrule/rrule.2726faff1251.js",
                         "shop/static/d3/d3-interpolate.v2.js", "shop/static/jquery-3.6.1.js"}
    assert "shop/static/rrule.js" in packed


def test_a_question_is_kept_only_if_the_prompt_files_give_the_same_key():
    from bakeoff.suite.repo import _KeyCheck
    from bakeoff.suite.repo.packing import SourceFile

    files = {
        "app/models/application_record.rb": RECORD,
        "app/models/shop.rb": "class Shop < ApplicationRecord\nend\n",
        "app/services/directory.rb": "class Directory\n  def all\n    Shop.all\n  end\nend\n",
        "db/migrate/20240101000000_create_shops.rb": _migration("create_shops", "create_table :shops"),
    }
    q = _one(_asked(files), "model_users", "Shop")
    holds = _KeyCheck(files, [SourceFile(p, t) for p, t in files.items()])
    assert holds(q, files)
    assert not holds(q, [p for p in files if p != "app/services/directory.rb"])  # the key would change


# 9. Seeded defects inside existing application code.

def test_seeded_defects_stay_in_application_code_and_duplicates_go_inside_a_class():
    files = {
        "shop/__init__.py": "",
        "shop/billing.py": "class Billing:\n    def total(self, lines):\n        s = 0\n        for line in lines:\n"
                           "            s += line\n        return s\n\n    def tax(self, amount):\n"
                           "        if amount > 100:\n            return amount * 0.2\n        return 0\n",
        "shop/shipping.py": "class Shipping:\n    def cost(self, weight):\n        if weight < 10:\n"
                            "            return 5\n        return 10\n\n    def label(self, name):\n"
                            "        text = name.upper()\n        return text\n",
        "tests/test_billing.py": "from shop.billing import Billing\n\n\nclass TestBilling:\n"
                                 "    def test_total(self):\n        result = Billing().total([1, 2])\n"
                                 "        assert result == 3\n",
        "shop/migrations/0002_fill.py": "def forwards(apps, schema_editor):\n    Invoice = apps.get_model(\"shop\", "
                                        "\"Invoice\")\n    if Invoice.objects.count() > 0:\n        print(\"x\")\n",
        "shop/static/jquery-3.6.1.js": "function pick(a) {\n  if (a > 1) {\n    return a;\n  }\n  return 0;\n}\n",
    }
    not_application = {"tests/test_billing.py", "shop/migrations/0002_fill.py", "shop/static/jquery-3.6.1.js"}
    facts = collect_facts(files)
    for seed in range(6):
        mutated, mutations = seed_defects(files, facts, 3, seed)
        assert mutations
        for m in mutations:
            assert m.file not in not_application and m.edited not in not_application, (m.kind, m.file)
            if m.kind != "duplicate":
                continue
            text = mutated[m.file]
            assert syntax_errors(m.file, text) == []
            assert m.lines[0] <= len(files[m.file].rstrip("\n").split("\n"))  # not past the file's last line
            node = parse(m.file, text).root_node.descendant_for_point_range((m.lines[0] - 1, 4), (m.lines[0] - 1, 4))
            while node is not None and node.type != "function_definition":
                node = node.parent
            assert node is not None and node.parent.parent.type == "class_definition", m  # a method of a class


def test_a_celery_task_routed_to_a_queue_elsewhere_gets_no_options_question():
    files = {
        "billing/__init__.py": "",
        "billing/settings.py": "CELERY_TASK_ROUTES = ([('billing.tasks.send_*', {'queue': 'mail'})],)\n",
        "billing/tasks.py": "from celery import shared_task\n\n\n@shared_task(max_retries=5)\ndef send_invoice(pk):\n"
                            "    return pk\n\n\n@shared_task(max_retries=3, default_retry_delay=60)\ndef archive(pk):\n"
                            "    return pk\n\n\n@shared_task(max_retries=2)\ndef cleanup():\n    return 0\n",
    }
    options = {q.text.split("`")[1]: q.answer for q in _asked(files) if q.kind == "worker_options"}
    # send_invoice's queue is set by the route; archive sets a retry option the question does not name.
    assert options == {"billing.tasks.cleanup": ("retry=2",)}


def test_bullmq_workers_are_named_by_their_queue():
    files = {
        "src/workers/email.ts": "import { Worker } from \"bullmq\";\n\n"
                                "export const emailWorker = new Worker(\"emails\", async (job) => job.data);\n",
        "src/workers/dynamic.ts": "import { Worker } from \"bullmq\";\n\nexport function start(name: string) {\n"
                                  "  return new Worker(name, async (job) => job.data);\n}\n",
    }
    assert not [q for q in _asked(files) if q.kind == "workers"]  # a queue named by a variable: not certain
    del files["src/workers/dynamic.ts"]
    q = next(q for q in _asked(files) if q.kind == "workers")
    assert q.answer == ("queue emails",) and 'named "queue NAME"' in q.text


def test_a_model_reached_through_its_module_is_a_use():
    files = {
        "billing/__init__.py": "",
        "billing/models.py": "from django.db import models\n\n\nclass Invoice(models.Model):\n    pass\n",
        "billing/views.py": "from billing import models\n\n\ndef create():\n    return models.Invoice()\n",
        "reports/__init__.py": "",
        "reports/totals.py": "import billing.models\n\n\ndef count():\n    return billing.models.Invoice.objects.count()\n",
    }
    q = _one(_asked(files), "model_users", "Invoice")
    assert q.answer == ("billing/views.py", "reports/totals.py")


def test_a_qualified_name_written_with_its_file_matches_the_key():
    """Seen with Qwen2.5-Coder-1.5B on umami: the caller src/lib/session.findSession answered as
    "src/lib/session.ts#findSession" is the right caller, not a miss."""
    key = ["src/lib/session.findSession"]
    assert set_scores('["src/lib/session.ts#findSession"]', key, "name")[:2] == (1.0, 1.0)
    assert set_scores('["app/models/shop/order.rb::Shop::Order#total"]', ["Shop::Order#total"], "name")[:2] == (1.0, 1.0)
    assert set_scores('["src/lib/session.ts#loadSession"]', key, "name")[:2] == (0.0, 0.0)
