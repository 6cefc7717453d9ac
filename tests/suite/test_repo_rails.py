"""bakeoff.suite.repo.rails directly: ActiveSupport's inflections as Rails derives table names,
the tables each migration changes, STI models, and Sidekiq workers found through a concern."""

from __future__ import annotations

from bakeoff.suite.repo.rails import pluralize, read_rails_migration, singularize, underscore
from repo_fixtures import RAILS
from repo_scan import framework_facts, parsed


def test_inflections_match_rails_for_regular_words_and_give_up_on_irregular_ones():
    assert underscore("Shop::HTMLParser") == "html_parser"
    assert underscore("LineItem") == "line_item"
    assert [pluralize(w) for w in ("order", "tax", "batch", "category", "day")] == [
        "orders", "taxes", "batches", "categories", "days"]
    # words Rails' inflector treats otherwise (or that merely contain such a word, like "box"): not derived
    assert pluralize("person") is None and pluralize("status") is None and pluralize("box") is None
    assert singularize("categories") == "category" and singularize("addresses") == "address"
    assert singularize("people") is None


def test_a_migration_names_the_tables_it_changes_and_those_it_only_touches():
    path = "db/migrate/20240105000000_rework.rb"
    text = ("class Rework < ActiveRecord::Migration[7.1]\n  def change\n    rename_table :carts, :baskets\n"
            "    add_column :orders, :note, :string\n    add_foreign_key :orders, :users\n"
            "    execute \"UPDATE invoices SET paid = 1\"\n  end\nend\n")
    facts, trees = parsed({path: text})
    read_rails_migration(facts, path, trees[path][1])
    assert {t for t, paths in facts.tables.items() if path in paths} == {"carts", "baskets", "orders"}
    assert "baskets" in facts.created_tables and "carts" not in facts.created_tables
    assert {"users", "invoices"} <= set(facts.tables_unsure)


def test_fixture_app_models_tables_and_workers():
    facts = framework_facts(RAILS)
    assert facts.models["User"].table == "users" and facts.models["Order"].table == "orders"
    assert "ApplicationRecord" not in facts.models  # abstract
    workers = {w.name: w.options for w in facts.workers}
    assert workers == {"CleanupWorker": {"queue": "low", "retry": "false"},
                       "ReceiptWorker": {"queue": "mailers", "retry": "3"}, "ReportJob": {"queue": "reports"}}


def test_an_sti_subclass_shares_its_parents_table_and_a_concern_makes_a_worker():
    files = {**RAILS,
             "app/models/admin.rb": "class Admin < User\nend\n",
             "app/models/concerns/background.rb": "module Background\n  include Sidekiq::Job\nend\n",
             "app/workers/export_worker.rb": "class ExportWorker\n  include Background\n\n  def perform\n  end\nend\n",
             "app/workers/legacy_worker.rb": "class LegacyWorker < VendorBaseWorker\nend\n"}
    facts = framework_facts(files)
    admin = facts.models["Admin"]
    assert admin.table is None and admin.why_unsure == "an STI subclass: shares the table of User"
    assert "ExportWorker" in {w.name for w in facts.workers}
    assert "LegacyWorker inherits from VendorBaseWorker, which is not defined here" in facts.workers_unsure
