"""bakeoff.suite.repo.scopes directly: the qualified name of every definition in each language, so
that two classes sharing a short name are never confused, and superclasses as written."""

from __future__ import annotations

from bakeoff.suite.repo.facts import parse
from bakeoff.suite.repo.scopes import CLASS_TYPES, module_of, superclasses, walk
from repo_scan import installed_sources


def definitions(path, text, lang):
    return {d.qualified: d for _, _, d in walk(parse(path, text), lang, path) if d is not None}


def test_module_of_drops_init_and_a_src_layout():
    assert module_of("src/shop/billing.py") == "shop.billing"
    assert module_of("shop/__init__.py") == "shop"


def test_python_nested_classes_static_methods_and_real_code():
    text = ("class Order:\n    class Meta:\n        ordering = ['id']\n\n    @staticmethod\n    def make():\n"
            "        def inner():\n            pass\n        return inner\n\nclass Invoice:\n    class Meta:\n        pass\n")
    found = definitions("shop/models.py", text, "python")
    assert {"shop.models.Order.Meta", "shop.models.Invoice.Meta"} <= set(found)  # two Metas, two names
    make = found["shop.models.Order.make"]
    assert make.kind == "method" and make.singleton and make.owner == "shop.models.Order"
    inner = found["shop.models.Order.make.inner"]
    assert inner.kind == "function" and not inner.top_level
    real = definitions("requests/api.py", installed_sources("requests", "api.py")["requests/api.py"], "python")
    assert real["requests.api.get"].top_level and real["requests.api.get"].kind == "function"


def test_ruby_methods_singletons_and_nested_modules():
    text = ("module Shop\n  class Order < ApplicationRecord\n    def total; end\n    def self.open; end\n"
            "    class << self\n      def recent; end\n    end\n  end\nend\nclass Shop::Item < Struct.new(:sku)\nend\n")
    found = definitions("app/models/order.rb", text, "ruby")
    assert {"Shop", "Shop::Order", "Shop::Order#total", "Shop::Order.open", "Shop::Order.recent",
            "Shop::Item"} <= set(found)
    assert found["Shop::Order#total"].end_line == 3
    classes = {d.qualified: superclasses(node, "ruby") for node, _, d in walk(parse("x.rb", text), "ruby", "x.rb")
               if d is not None and node.type in CLASS_TYPES["ruby"] and d.kind == "class"}
    assert classes == {"Shop::Order": ("ApplicationRecord",), "Shop::Item": None}


def test_typescript_arrow_functions_and_static_members_are_named_by_module_path():
    text = ("export const fmt = (s: string) => s.trim();\nconst LIMIT = 3;\n"
            "export class Repo extends Base<User> {\n  static open() { return new Repo(); }\n"
            "  find = (id: number) => id;\n}\n")
    found = definitions("src/repo.ts", text, "typescript")
    assert found["src/repo.fmt"].top_level
    assert "src/repo.LIMIT" not in found  # a plain constant is no function
    assert found["src/repo.Repo.open"].singleton and found["src/repo.Repo.find"].kind == "method"
    node = next(n for n, _, d in walk(parse("src/repo.ts", text), "typescript", "src/repo.ts")
                if d is not None and d.kind == "class")
    assert superclasses(node, "typescript") == ("Base",)
