"""bakeoff.suite.repo.uses_js directly: TypeScript calls tied through a named relative import,
class references through imports, and method calls on objects left loose."""

from __future__ import annotations

from bakeoff.suite.repo.uses_js import scan_js
from repo_fixtures import TYPESCRIPT
from repo_scan import scanned, sites

JS = {
    "lib/math.js": """\
export function square(x) { return x * x; }
export const cube = (x) => x * square(x);
export default class Stats {
  static mean(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }
  spread(xs) { return Stats.mean(xs.map(square)) - Stats.mean(xs) ** 2; }
}
""",
    "lib/index.js": """\
const math = require("./math");
import("./lazy.js").then((m) => m.run());
export { square as sq } from "./math";
export function report(xs) {
  return [1, 2, 3].map(math.square);
}
""",
    "lib/lazy.js": "export function run() { return 1; }\n",
}



def test_typescript_service_calls_an_imported_function_and_inherited_this_calls_stay_loose():
    facts = scanned(TYPESCRIPT, scan_js)
    assert sites(facts, "src/services/format.formatUser") == [
        ("src/services/userService.ts", "src/services/userService.UserService.findUser")]
    assert "src/services/userService.ts" in facts.loose["get"]  # this.get is HttpClient's, not UserService's
    assert "src/index.ts" in facts.loose["findUser"]  # service.findUser: the receiver's class is not read
    assert facts.references["src/http/client.HttpClient"] == {"src/services/userService.ts"}
    assert facts.imports["src/services/userService.ts"] == ["./format", "../http/client"]


def test_javascript_same_module_calls_static_methods_requires_and_dynamic_imports():
    facts = scanned(JS, scan_js)
    assert sites(facts, "lib/math.square") == [("lib/math.js", "lib/math.cube")]
    assert sites(facts, "lib/math.Stats.mean") == [("lib/math.js", "lib/math.Stats.spread")]
    assert facts.imports["lib/index.js"] == ["./math", "./math", "./lazy.js"]  # require, re-export, import()
    # square passed to map is a callback, in its own module and through the required module
    assert facts.loose["square"] == {"lib/math.js", "lib/index.js"}
