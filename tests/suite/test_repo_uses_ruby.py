"""bakeoff.suite.repo.uses_ruby directly: calls tied by a bare call or a constant receiver, Ruby's
lexical constant lookup, and names used in ways the syntax cannot tie (symbols, locals, unknown
receivers) kept as loose uses."""

from __future__ import annotations

from bakeoff.suite.repo.uses_ruby import scan_ruby
from repo_fixtures import RAILS
from repo_scan import scanned, sites

SHOP = {
    "lib/shop/pricing.rb": """\
module Shop
  class Pricing
    def self.rate(region)
      region == :eu ? 0.2 : 0.0
    end
  end

  class Invoice
    def total(net)
      net + tax(net)
    end

    def tax(net)
      tax = net * Pricing.rate(:eu)
      tax.round(2)
    end
  end
end
""",
    "lib/report.rb": """\
class Report
  def build(net)
    Shop::Invoice.new.total(net) + Shop::Pricing.rate(:us)
  end
end
""",
}



def test_class_method_reached_through_a_lexical_constant_and_a_qualified_one():
    facts = scanned(SHOP, scan_ruby)
    assert sites(facts, "Shop::Pricing.rate") == [("lib/report.rb", "Report#build"),
                                                   ("lib/shop/pricing.rb", "Shop::Invoice#tax")]
    assert facts.references["Shop::Pricing"] == {"lib/report.rb", "lib/shop/pricing.rb"}
    assert facts.references["Shop::Invoice"] == {"lib/report.rb"}


def test_a_bare_call_ties_to_the_method_of_the_same_class_and_a_local_of_its_name_is_loose():
    facts = scanned(SHOP, scan_ruby)
    assert sites(facts, "Shop::Invoice#tax") == [("lib/shop/pricing.rb", "Shop::Invoice#total")]
    assert "lib/shop/pricing.rb" in facts.loose["tax"]  # tax = ...; tax.round(2)
    # Shop::Invoice.new.total: the receiver is an instance, so #total is not tied
    assert "Shop::Invoice#total" not in facts.calls and "lib/report.rb" in facts.loose["total"]


def test_rails_app_symbols_and_unknown_receivers_are_loose_and_framework_constants_unsure():
    facts = scanned(RAILS, scan_ruby)
    assert sites(facts, "CheckoutService#compute_total") == [("app/services/checkout_service.rb",
                                                             "CheckoutService#call")]
    assert sites(facts, "User#format_name") == [("app/models/user.rb", "User#display_name")]
    assert "app/jobs/report_job.rb" in facts.loose["display_name"]  # user.display_name
    assert "app/models/user.rb" in facts.loose["orders"]  # has_many :orders
    assert facts.references["Order"] >= {"app/services/checkout_service.rb", "app/workers/receipt_worker.rb"}
    assert "app/workers/receipt_worker.rb" in facts.unsure_refs["ReceiptMailer"]  # defined nowhere here
    assert facts.imports["app/services/checkout_service.rb"] == ["../models/order", "json"]
