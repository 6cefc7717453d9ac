"""bakeoff.suite.repo.uses_python on real code: the requests package as installed, its module-level
helpers and Session methods; and the loose uses that keep a question from being asked."""

from __future__ import annotations

from bakeoff.suite.repo.uses_python import scan_python
from repo_fixtures import PYTHON
from repo_scan import installed_sources, scanned, sites

VERBS = ("delete", "get", "head", "options", "patch", "post", "put")


REQUESTS = ("__init__.py", "api.py", "sessions.py", "models.py")


def callers(facts, target):
    return [caller for _, caller in sites(facts, target)]


def test_requests_verbs_call_the_module_request_function_and_session_methods_call_self_request():
    facts = scanned(installed_sources("requests", *REQUESTS), scan_python)
    assert callers(facts, "requests.api.request") == [f"requests.api.{v}" for v in VERBS]
    assert callers(facts, "requests.sessions.Session.request") == [f"requests.sessions.Session.{v}" for v in VERBS]


def test_requests_imports_resolve_a_relative_module_to_its_file():
    facts = scanned(installed_sources("requests", *REQUESTS), scan_python)
    assert facts.index.py_imports["requests/api.py"]["sessions"] == ("module", "requests/sessions.py")
    assert ".models" in facts.imports["requests/api.py"]
    assert "collections.abc" in facts.imports["requests/sessions.py"]


def test_fixture_package_ties_imported_calls_and_leaves_unknown_receivers_loose():
    facts = scanned(PYTHON, scan_python)
    assert callers(facts, "shop.pricing.apply_discount") == ["shop.billing.BillingService.bill"]
    assert callers(facts, "shop.pricing.invoice_total") == ["shop.billing.BillingService.bill"]
    # service = BillingService(); service.bill(...): the receiver's type is not read, so "bill" is loose
    assert "shop.billing.BillingService.bill" not in facts.calls
    assert "shop/tasks.py" in facts.loose["bill"]
    assert "shop/billing.py" in facts.references["shop.models.Invoice"]
