"""bakeoff.suite.repo.uses directly: the Index's lookups (Python relative and absolute imports to
files, JavaScript paths to files, Ruby's lexical constant lookup) and the template pass, where
every word naming a method is a loose use."""

from __future__ import annotations

from bakeoff.suite.repo.uses import Index, scan_uses
from repo_fixtures import RAILS, TYPESCRIPT
from repo_scan import installed_sources, parsed


def test_python_imports_name_files_of_the_repository_or_nothing():
    files = {**installed_sources("click", "__init__.py", "core.py", "utils.py", "testing.py"),
             "tools/helpers/__init__.py": "", "tools/helpers/text.py": "def slug(s):\n    return s\n",
             "tools/cli.py": "from .helpers.text import slug\n"}
    ix = parsed(files)[0].index
    assert ix.py_module("click/core.py", ".utils") == "click/utils.py"
    assert ix.py_module("click/core.py", ".") == "click/__init__.py"
    assert ix.py_module("tools/helpers/text.py", "..cli") == "tools/cli.py"
    assert ix.py_module("tools/cli.py", "helpers.text") == "tools/helpers/text.py"  # a unique dotted tail
    assert ix.py_module("click/core.py", "os.path") is None  # the standard library is not in the repository


def test_python_origin_follows_a_re_export():
    files = {"pkg/__init__.py": "from .impl import run\n", "pkg/impl.py": "def run():\n    return 1\n",
             "app.py": "from pkg import run\n"}
    facts, trees = parsed(files)
    scan_uses(facts, trees, files)
    assert facts.index.py_origin("app.py", "run").qualified == "pkg.impl.run"
    assert facts.index.py_origin("app.py", "missing") is None


def test_javascript_paths_resolve_with_extensions_and_index_files():
    files = {**TYPESCRIPT, "src/widgets/index.tsx": "export const Widget = () => null;\n"}
    ix = parsed(files)[0].index
    assert ix.js_module("src/services/userService.ts", "../http/client") == "src/http/client.ts"
    assert ix.js_module("src/index.ts", "./widgets") == "src/widgets/index.tsx"
    assert ix.js_module("src/index.ts", "react") is None


def test_ruby_constants_resolve_innermost_namespace_first():
    files = {"a.rb": "module Billing\n  class Order\n  end\nend\nclass Order\nend\n"}
    ix = Index(parsed(files)[0], files)
    assert ix.ruby_constant("Order", ("Billing",)) == "Billing::Order"
    assert ix.ruby_constant("Order", ()) == "Order"
    assert ix.ruby_constant("::Order", ("Billing",)) == "Order"
    assert ix.ruby_constant("Invoice", ("Billing",)) is None


def test_templates_make_loose_uses_and_only_code_templates_name_classes():
    files = {**RAILS, "app/views/users/show.html.haml": "%h1= @user.display_name\n= User.count\n",
             "templates/receipt.html": "<p>{{ order.total_cents }} for User</p>\n"}
    facts, trees = parsed(files)
    scan_uses(facts, trees, files)
    assert "app/views/users/show.html.haml" in facts.loose["display_name"]
    assert "templates/receipt.html" in facts.loose["total_cents"]
    assert "app/views/users/show.html.haml" in facts.unsure_refs["User"]
    assert "templates/receipt.html" not in facts.unsure_refs.get("User", set())
