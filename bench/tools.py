"""Tool calls and agent loops with real packaged models: 15 tool-call cases and 5 agent loops
over a small repository this script writes, run in-process (llama.cpp, each model's own chat
template), then the ``tools`` figures of ``bakeoff report --json`` per contender.

    .venv/bin/python bench/tools.py [--models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b] [--db PATH] [--json]

Results and how they were read: bench/README.md, "tools.py".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = {
    "README.md": "# shopfront\n\nA tiny web shop. Settings live in app/settings.py.\n",
    "app/__init__.py": "",
    "app/settings.py": "DEFAULT_PORT = 8731\nDEBUG = False\nDATABASE_URL = 'sqlite:///shop.db'\n",
    "app/config.py": textwrap.dedent('''\
        import json


        def parse_config(path):
            """Read the shop's JSON configuration file."""
            with open(path) as fh:
                return json.load(fh)
        '''),
    "app/auth.py": textwrap.dedent('''\
        MAX_RETRIES = 3


        def login(user, password, backend):
            """Try the backend up to MAX_RETRIES times, then give up."""
            for attempt in range(MAX_RETRIES):
                if backend.check(user, password):
                    return True
            return False
        '''),
    "app/text.py": textwrap.dedent('''\
        def slugify(title):
            """Lower-case words joined by hyphens: 'Hello World' -> 'hello-world'."""
            return "-".join(title.lower().split())
        '''),
    "app/orders.py": textwrap.dedent('''\
        TAX_RATE = 0.2


        def total(prices):
            return round(sum(prices) * (1 + TAX_RATE), 2)
        '''),
}

TOOLS_PY = textwrap.dedent('''\
    def add(a, b):
        return a + b


    def multiply(a, b):
        return a * b
    ''')

CHECKS_PY = textwrap.dedent('''\
    def five_minutes(args):
        return args.get("seconds") == 300 or args.get("minutes") == 5


    def mentions_install(args):
        return "install" in str(args.get("query", "")).lower()
    ''')

WEATHER = {"name": "get_weather", "description": "Current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "description": "Current local time in an IANA time zone, e.g. Europe/Paris",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}}
NUMS = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}
ADD = {"name": "add", "description": "Add two numbers", "parameters": NUMS}
MUL = {"name": "multiply", "description": "Multiply two numbers", "parameters": NUMS}
CURRENCY = {"name": "convert_currency", "description": "Convert an amount between currencies (ISO codes)",
            "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from_currency": {"type": "string"},
                                                            "to_currency": {"type": "string"}},
                           "required": ["amount", "from_currency", "to_currency"]}}
USER = {"name": "lookup_user", "description": "Find a user account by its numeric id",
        "parameters": {"type": "object", "properties": {"user_id": {"type": "integer"}}, "required": ["user_id"]}}
TIMER = {"name": "set_timer", "description": "Start a countdown timer",
         "parameters": {"type": "object", "properties": {"seconds": {"type": "integer"}}, "required": ["seconds"]}}
EMAIL = {"name": "send_email", "description": "Send an email",
         "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "subject": {"type": "string"},
                                                         "body": {"type": "string"}}, "required": ["to", "subject"]}}
DOCS = {"name": "search_docs", "description": "Search the product documentation",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
THERMO = {"name": "set_temperature", "description": "Set the thermostat",
          "parameters": {"type": "object", "properties": {"value": {"type": "number"},
                                                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                         "required": ["value", "unit"]}}


def tool_cases() -> list[dict]:
    def case(cid, prompt, tools, *checks, valid=True):
        return {"id": cid, "prompt": prompt, "max_tokens": 64, "tools": tools, "tags": ["tool-call"],
                "checks": ([{"valid_tool_calls": True}] if valid else []) + list(checks)}

    return [
        case("weather-paris", "What is the weather in Paris right now?", [WEATHER],
             {"tool_call": {"name": "get_weather", "arguments_subset": {"city": "Paris"}}}),
        case("no-call-arithmetic", "What is 2 + 2? Answer directly.", [WEATHER], {"no_tool_call": True}, valid=False),
        case("add-exact", "Use the add tool to add 17 and 25.", [ADD, MUL],
             {"tool_call": {"name": "add", "arguments": {"a": 17, "b": 25}}}),
        case("currency", "Convert 100 US dollars to euros.", [CURRENCY, WEATHER],
             {"tool_call": {"name": "convert_currency",
                            "arguments_subset": {"amount": 100, "from_currency": "USD", "to_currency": "EUR"}}}),
        case("two-cities", "What is the weather in Paris and in Tokyo?", [WEATHER],
             {"tool_calls": {"names": ["get_weather", "get_weather"]}}),
        case("pick-user-tool", "Look up the user with id 42.", [WEATHER, USER, EMAIL],
             {"tool_call": {"name": "lookup_user", "arguments": {"user_id": 42}}}),
        case("timer-predicate", "Set a timer for 5 minutes.", [TIMER],
             {"tool_call": {"name": "set_timer", "predicate": "shop_checks:five_minutes"}}),
        case("no-call-greeting", "Say hello in French.", [WEATHER, TIME], {"no_tool_call": True}, valid=False),
        case("email", "Email bob@example.com with the subject 'Lunch' asking if he is free at noon.", [EMAIL, USER],
             {"tool_call": {"name": "send_email", "arguments_subset": {"to": "bob@example.com", "subject": "Lunch"}}}),
        case("time-tokyo", "What time is it in Tokyo? The time zone is Asia/Tokyo.", [TIME, WEATHER],
             {"tool_call": {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}}),
        case("docs-predicate", "How do I install the product? Search the docs.", [DOCS, EMAIL],
             {"tool_call": {"name": "search_docs", "predicate": "shop_checks:mentions_install"}}),
        case("weather-and-time", "What is the weather in Berlin, and what time is it there (Europe/Berlin)?",
             [WEATHER, TIME], {"tool_calls": {"names": ["get_weather", "get_time"]}}),
        case("thermostat-enum", "Set the thermostat to 21 degrees Celsius.", [THERMO],
             {"tool_call": {"name": "set_temperature", "arguments": {"value": 21, "unit": "celsius"}}}),
        case("multiply", "Multiply 6 by 7 with the tool.", [ADD, MUL],
             {"tool_call": {"name": "multiply", "arguments": {"a": 6, "b": 7}}}),
        case("no-call-code", "Write a Python one-liner that reverses a string s.", [DOCS],
             {"no_tool_call": True}, valid=False),
    ]


def agent_cases() -> list[dict]:
    def loop(cid, prompt, *checks, **agent):
        return {"id": cid, "prompt": prompt, "max_tokens": 96, "tags": ["agent"],
                "agent": {"repo": "shopfront", "max_steps": 5, **agent}, "checks": list(checks)}

    python_tools = [dict(ADD, python="shop_tools:add"), dict(MUL, python="shop_tools:multiply")]
    return [
        loop("find-parse-config", "Use the tools to find which file defines the function parse_config. "
             "Answer with its path.", {"contains": "app/config.py"}),
        loop("login-retries", "How many times does login() try the backend before giving up? Find it in the code "
             "with the tools and answer with the number.", {"regex": "\\b3\\b|three"}),
        loop("default-port", "What is the default port of the shop? Look it up in the repository with the tools.",
             {"contains": "8731"}),
        loop("tax-rate", "What tax rate does the order total use? Find it in the code with the tools.",
             {"regex": "0\\.2|20 ?%"}),
        {"id": "arithmetic-chain", "prompt": "Compute (17 + 25) * 2 with the tools: first add, then multiply. "
         "Answer with the number.", "max_tokens": 96, "tags": ["agent"], "tools": python_tools,
         "agent": {"max_steps": 5}, "checks": [{"contains": "84"}]},
    ]


def write_workspace(root: Path) -> Path:
    for rel, text in REPO.items():
        path = root / "shopfront" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "shop_tools.py").write_text(TOOLS_PY)
    (root / "shop_checks.py").write_text(CHECKS_PY)
    suite = {"cases": tool_cases() + agent_cases()}
    (root / "suite.yaml").write_text(json.dumps(suite, indent=1))  # JSON is YAML
    return root / "suite.yaml"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tools-"))
    suite = write_workspace(work)
    db = args.db or work / "tools.db"
    cmd = [sys.executable, "-m", "bakeoff", "run", str(suite), "--db", str(db), "--json"]
    for model in args.models.split(","):
        cmd += ["-c", f"llamacpp:{model}?ctx=4096"]
    subprocess.run(cmd, check=True, cwd=work, stdout=subprocess.DEVNULL)
    report = json.loads(subprocess.run([sys.executable, "-m", "bakeoff", "report", "--db", str(db), "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    figures = {c["spec"]: c.get("tools") for c in report["contenders"]}
    if args.json:
        print(json.dumps({"db": str(db), "tools": figures}, indent=2))
    else:
        for spec, f in figures.items():
            print(f"{spec}: valid-call rate {f['valid_call_rate']}, correct-call rate {f['correct_call_rate']} "
                  f"({f['correct_calls']}/{f['single_cases']}), task success {f['task_success']} "
                  f"({f['loops_passed']}/{f['agent_loops']}), steps to success {f['steps_to_success']}, "
                  f"tokens to success {f['tokens_to_success']}, repeat loops {f['repeat_loops']}, "
                  f"budget exhaustions {f['budget_exhaustions']}")
        print(f"database: {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
