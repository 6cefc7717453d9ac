"""Repository suites: the facts tree-sitter reads and the questions built from them, checked
against what the test repositories (tests/repo_fixtures.py) and this project's own code say.
No model runs here."""

from __future__ import annotations

from pathlib import Path

from bakeoff.checks.repo import answer_items, normalise, set_scores
from bakeoff.suite.repo.facts import collect_facts, syntax_errors
from bakeoff.suite.repo.packing import load_repository
from bakeoff.suite.repo.questions import all_questions, choose_questions
from repo_fixtures import PYTHON, RAILS, TYPESCRIPT

ROOT = Path(__file__).resolve().parents[2]


def _by_id(files: dict[str, str]) -> dict:
    return {q.id: q for q in all_questions(collect_facts(files))}


def test_fixtures_parse_cleanly():
    for rel, text in {**RAILS, **PYTHON, **TYPESCRIPT}.items():
        assert syntax_errors(rel, text) == [], rel


def test_rails_app_ground_truth():
    qs = _by_id(RAILS)
    assert qs["inherits-User"].answer == ("ApplicationRecord",)
    assert qs["inherits-ReportJob"].answer == ("ApplicationJob",)
    assert qs["inherits-ApplicationRecord"].answer == ("ActiveRecord::Base",)
    assert qs["callers-User#format_name"].answer == ("User#display_name",)
    # user.display_name, order.total_cents: receivers whose class the syntax does not show: not asked.
    assert "callers-User#display_name" not in qs and "callers-Order#total_cents" not in qs
    assert qs["imports-app/services/checkout_service.rb"].answer == ("../models/order", "json")
    assert qs["defined-Order"].answer == ("app/models/order.rb",)
    # A file uses a model when it names the class, or (a migration) changes its table.
    assert qs["model_users-Order"].answer == (
        "app/services/checkout_service.rb", "app/workers/cleanup_worker.rb", "app/workers/receipt_worker.rb",
        "db/migrate/20240102000000_create_orders.rb", "db/migrate/20240103000000_add_status_to_orders.rb")
    assert qs["model_users-User"].answer == ("app/jobs/report_job.rb", "db/migrate/20240101000000_create_users.rb")
    assert "model_users-ApplicationRecord" not in qs  # abstract base, not a model with a table
    assert qs["worker_options-ReceiptWorker"].answer == ("queue=mailers", "retry=3")
    assert qs["worker_options-CleanupWorker"].answer == ("queue=low", "retry=false")
    assert qs["worker_options-ReportJob"].answer == ("queue=reports",)
    assert qs["workers"].answer == ("CleanupWorker", "ReceiptWorker", "ReportJob")  # not the base ApplicationJob
    assert qs["callers-CheckoutService#compute_total"].answer == ("CheckoutService#call",)


def test_python_package_ground_truth():
    qs = _by_id(PYTHON)
    assert qs["callers-shop.pricing.apply_discount"].answer == ("shop.billing.BillingService.bill",)
    assert qs["callers-shop.pricing.invoice_total"].answer == ("shop.billing.BillingService.bill",)
    assert "callers-shop.billing.BillingService.bill" not in qs  # service.bill(): the receiver's class is not shown
    assert qs["imports-shop/billing.py"].answer == ("logging", "shop.models", "shop.pricing")
    assert qs["imports-shop/tasks.py"].answer == ("celery", "shop.billing")
    assert qs["inherits-shop.models.Invoice"].answer == ("Base",)
    assert qs["defined-shop.pricing.apply_discount"].answer == ("shop/pricing.py",)
    assert qs["model_users-shop.models.Invoice"].answer == ("shop/billing.py", "shop/pricing.py")
    assert qs["worker_options-shop.tasks.bill_customer"].answer == ("queue=billing", "retry=5")
    assert qs["worker_options-shop.tasks.nightly_summary"].answer == ("queue=default", "retry=0")
    assert qs["workers"].answer == ("shop.tasks.bill_customer", "shop.tasks.nightly_summary")
    assert "callers-shop.billing.BillingService.refund" not in qs  # invoice.refund is another object's method


def test_typescript_service_ground_truth():
    qs = _by_id(TYPESCRIPT)
    assert qs["inherits-src/services/userService.UserService"].answer == ("HttpClient",)
    assert qs["inherits-src/services/userService.UserService"].evidence == ("src/http/client.ts",
                                                                           "src/services/userService.ts")
    assert qs["imports-src/services/userService.ts"].answer == ("../http/client", "./format")
    assert qs["imports-src/index.ts"].answer == ("./services/userService",)
    assert qs["callers-src/services/format.formatUser"].answer == ("src/services/userService.UserService.findUser",)
    assert "callers-src/services/userService.UserService.findUser" not in qs  # service.findUser(1): class not shown
    assert qs["defined-src/http/client.HttpClient"].answer == ("src/http/client.ts",)
    assert qs["defined-src/services/format.formatUser"].answer == ("src/services/format.ts",)


def test_questions_prefer_multi_file_and_repeat_from_seed():
    facts = collect_facts({**RAILS, **PYTHON, **TYPESCRIPT})
    chosen = choose_questions(facts, 8, seed=7)
    assert [q.id for q in chosen] == [q.id for q in choose_questions(facts, 8, seed=7)]
    assert [q.id for q in chosen] != [q.id for q in choose_questions(facts, 8, seed=8)]
    assert len({q.kind for q in chosen}) >= 6  # spread over the kinds
    kinds_with_multi = {q.kind for q in all_questions(facts) if q.multi_file}
    for q in chosen:  # within a kind, a multi-file question comes first when there is one
        if q.kind in kinds_with_multi and q.kind not in ("imports", "worker_options"):
            assert q.multi_file, q.id
    for q in chosen:  # every answer is in the repository's text
        assert all(p in {**RAILS, **PYTHON, **TYPESCRIPT} for p in q.evidence)


def test_this_projects_own_repository():
    repo = load_repository(ROOT)
    assert repo.git and any(p == "src/bakeoff/cli.py" for p in (f.path for f in repo.files))
    facts = collect_facts(repo.texts())
    qs = {q.id: q for q in all_questions(facts)}
    assert qs["defined-bakeoff.suite.repo.packing.load_repository"].answer == ("src/bakeoff/suite/repo/packing.py",)
    assert qs["inherits-bakeoff.checks.repo.AnswerSet"].answer == ("Check",)
    assert qs["inherits-bakeoff.backends.llamacpp.LlamaCppBackend"].answer == ("SubprocessBackend",)
    assert "bakeoff.checks.base" in qs["imports-src/bakeoff/checks/repo.py"].answer
    assert "collect_facts" in {d.name for d in facts.definitions if d.path == "src/bakeoff/suite/repo/facts.py"}
    assert "bakeoff.suite.repo.build_repo_suite" in qs["callers-bakeoff.suite.repo.defects.seed_defects"].answer


def test_answers_are_normalised_before_scoring():
    assert answer_items('Sure: ["./app/models/user.rb", "lib/x.rb"]') == ["./app/models/user.rb", "lib/x.rb"]
    assert answer_items("- bill\n- refund") == ["bill", "refund"]
    assert answer_items('["json", "os", "sys", "pa') == ["json", "os", "sys", "pa"]  # cut off by max_tokens
    assert normalise("`./App/Models/User.rb:12`", "path") == "app/models/user.rb"
    assert normalise("BillingService#bill()", "name") == "bill"
    assert normalise("queue: :mailers", "option") == "queue=mailers"
    p, r, _ = set_scores('["bill", "nightly"]', ["bill", "refund"], "name")
    assert (p, r) == (0.5, 0.5)
    assert set_scores("[]", [], "name")[:2] == (1.0, 1.0)
