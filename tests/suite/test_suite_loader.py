"""Good suite files load into the Case objects the runner consumes."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from bakeoff.checks import evaluate
from bakeoff.suite import Case, ContenderRef, Suite, load_default_suite, load_suite, parse_suite


def write(tmp_path: Path, text: str, name: str = "bakeoff.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


FULL = """
defaults:
  max_tokens: 64
  temperature: 0.2
  system: "You are a concise assistant."
  pass_threshold: 0.5
cases:
  - id: capital
    prompt: "What is the capital of {country}? One word."
    vars: {country: France}
    tags: [geo]
    checks:
      - contains: Paris
      - {regex: '\\bParis\\b', weight: 2}
  - prompt: plain with {braces} kept as written
    max_tokens: 8
    temperature: 0
    pass_threshold: 1
    system: "Override."
  - id: chat
    system: ""
    messages:
      - {role: user, content: "Hi, I am {who}."}
      - {role: assistant, content: "Hello {who}!"}
      - {role: user, content: "Who am I? {{literal}}"}
    vars: {who: Ann}
  - id: own-system
    messages:
      - {role: system, content: "Be terse."}
      - {role: user, content: "hi"}
"""


def test_full_file_loads(tmp_path):
    path = write(tmp_path, FULL)
    suite = load_suite(path)
    assert isinstance(suite, Suite) and suite.path == str(path) and suite.contenders == []
    assert [c.id for c in suite.cases] == ["capital", "case-2", "chat", "own-system"]
    assert all(isinstance(c, Case) for c in suite.cases)
    assert [c.line for c in suite.cases] == [7, 14, 19, 26]
    capital = suite.cases[0]
    assert capital.tags == ["geo"] and capital.vars == {"country": "France"}
    assert [c.kind for c in capital.checks] == ["contains", "regex"]
    assert [c.weight for c in capital.checks] == [1.0, 2.0]
    assert [c.line for c in capital.checks] == [12, 13]


def test_vars_render_into_prompt_and_messages(tmp_path):
    suite = load_suite(write(tmp_path, FULL))
    capital, plain, chat, _ = suite.cases
    assert capital.messages[-1] == {"role": "user", "content": "What is the capital of France? One word."}
    assert chat.messages == [
        {"role": "user", "content": "Hi, I am Ann."},
        {"role": "assistant", "content": "Hello Ann!"},
        {"role": "user", "content": "Who am I? {literal}"},
    ]
    # a case without vars is sent exactly as written
    assert plain.messages[-1]["content"] == "plain with {braces} kept as written"


def test_numbers_in_vars_and_checks_become_text(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            """
            cases:
              - prompt: "What is {a} + {b}?"
                vars: {a: 2, b: 0.5}
                checks:
                  - equals: 2.5
            """,
        )
    )
    case = suite.cases[0]
    assert case.prompt == "What is 2 + 0.5?"
    assert evaluate(case.checks, "2.5", case).passed


def test_defaults_inherit_and_cases_override(tmp_path):
    capital, plain, chat, own = load_suite(write(tmp_path, FULL)).cases
    assert (capital.max_tokens, capital.temperature, capital.pass_threshold) == (64, 0.2, 0.5)
    assert (plain.max_tokens, plain.temperature, plain.pass_threshold) == (8, 0.0, 1.0)
    assert isinstance(plain.temperature, float) and isinstance(plain.pass_threshold, float)


def test_built_in_defaults(tmp_path):
    case = load_suite(write(tmp_path, "cases:\n  - prompt: hi\n")).cases[0]
    assert (case.id, case.max_tokens, case.temperature, case.pass_threshold) == ("case-1", 256, 0.0, 1.0)
    assert case.messages == [{"role": "user", "content": "hi"}] and case.tags == [] and case.checks == []
    assert evaluate(case.checks, "anything", case).passed is None


def test_system_prompt_goes_first(tmp_path):
    capital, plain, chat, own = load_suite(write(tmp_path, FULL)).cases
    assert capital.messages[0] == {"role": "system", "content": "You are a concise assistant."}
    assert plain.messages[0] == {"role": "system", "content": "Override."}
    assert [m["role"] for m in plain.messages] == ["system", "user"]
    # system: "" turns the default off; a case's own system message replaces the default
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "user"]
    assert own.messages == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]


def test_yaml_1_2_scalars(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            """
            cases:
              - id: 2024-01-01
                prompt: Answer yes or no.
                checks:
                  - equals: no
                  - contains: {any: [on, off]}
            """,
        )
    )
    case = suite.cases[0]
    assert case.id == "2024-01-01"
    assert case.checks[0].check.params.value == "no"
    assert case.checks[1].check.params.any == ["on", "off"]


def test_anchors_merge_keys_and_x_keys(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            """
            x-short: &short {max_tokens: 16, tags: [quick]}
            cases:
              - <<: *short
                prompt: a
              - <<: *short
                prompt: b
                max_tokens: 32
            """,
        )
    )
    assert [(c.max_tokens, c.tags) for c in suite.cases] == [(16, ["quick"]), (32, ["quick"])]


def test_identity_is_stable_and_json_serialisable(tmp_path):
    path = write(tmp_path, FULL)
    first = [c.identity() for c in load_suite(path).cases]
    second = [c.identity() for c in load_suite(path).cases]
    assert first == second
    dumped = json.dumps(first, sort_keys=True)
    assert json.loads(dumped) == first
    ident = first[0]
    assert set(ident) == {"messages", "max_tokens", "temperature", "checks", "pass_threshold", "vars"}
    assert ident["checks"][1] == {"kind": "regex", "params": {"pattern": r"\bParis\b", "flags": ""}, "weight": 2.0}


def test_identity_ignores_id_tags_and_equivalent_spellings(tmp_path):
    a = load_suite(write(tmp_path, "cases:\n  - id: a\n    tags: [x]\n    prompt: hi\n    checks:\n      - equals: Paris\n", "a.yaml"))
    b = load_suite(
        write(
            tmp_path,
            "cases:\n  - id: b\n    prompt: hi\n    temperature: 0.0\n    checks:\n"
            "      - {equals: {value: Paris, strip: true}, weight: 1}\n",
            "b.yaml",
        )
    )
    assert a.cases[0].identity() == b.cases[0].identity()


@pytest.mark.parametrize(
    "change",
    [
        ("contains: Paris", "contains: Pariss"),
        ("contains: Paris", "not: {contains: Paris}"),
        ("{regex: '\\bParis\\b', weight: 2}", "{regex: '\\bParis\\b', weight: 3}"),
        ("{regex: '\\bParis\\b', weight: 2}", "{regex: {pattern: '\\bParis\\b', flags: i}, weight: 2}"),
        ("max_tokens: 64", "max_tokens: 65"),
        ("pass_threshold: 0.5", "pass_threshold: 0.6"),
        ("country: France", "country: Spain"),
        ("You are a concise assistant.", "You are a verbose assistant."),
    ],
)
def test_identity_changes_when_the_task_changes(tmp_path, change):
    old, new = change
    assert old in FULL
    before = load_suite(write(tmp_path, FULL, "a.yaml")).cases[0].identity()
    after = load_suite(write(tmp_path, FULL.replace(old, new), "b.yaml")).cases[0].identity()
    assert before != after


def test_identity_follows_schema_file_content(tmp_path):
    (tmp_path / "s.json").write_text('{"type": "object"}')
    path = write(tmp_path, "cases:\n  - prompt: hi\n    checks:\n      - json: {schema_file: s.json}\n")
    before = load_suite(path).cases[0].identity()
    (tmp_path / "s.json").write_text('{"type": "array"}')
    after = load_suite(path).cases[0].identity()
    assert before != after and after["checks"][0]["params"] == {"schema": {"type": "array"}}


def test_python_check_is_found_next_to_the_suite_and_sys_path_is_clean(tmp_path):
    sub = tmp_path / "suite"
    sub.mkdir()
    (sub / "loader_checks_t.py").write_text("def good(output, case):\n    return case.id in output\n")
    path = write(sub, "cases:\n  - id: abc\n    prompt: hi\n    checks:\n      - python: loader_checks_t:good\n")
    before = list(sys.path)
    case = load_suite(path).cases[0]
    assert sys.path == before
    assert evaluate(case.checks, "abc!", case).passed is True
    assert evaluate(case.checks, "xyz", case).passed is False


def test_parse_suite_from_text(tmp_path):
    suite = parse_suite("cases:\n  - prompt: hi\n", "inline.yaml", base_dir=tmp_path)
    assert suite.path == "inline.yaml" and suite.cases[0].prompt == "hi"


def test_contenders_are_parsed_with_their_lines(tmp_path, smollm2):
    alias = "smollm2-135m"
    path = write(tmp_path, f"contenders:\n  - {alias}\n  - llamacpp:{alias}?ctx=4096&threads=1\ncases:\n  - prompt: hi\n")
    suite = load_suite(path)
    assert all(isinstance(c, ContenderRef) for c in suite.contenders)
    assert [c.line for c in suite.contenders] == [2, 3]
    assert [c.spec.model for c in suite.contenders] == [alias, alias]
    assert suite.contenders[1].spec.backend == "llamacpp"


# -- the packaged default suite -----------------------------------------------------------------


def test_default_suite_loads():
    suite = load_default_suite()
    assert 18 <= len(suite.cases) <= 24
    assert suite.contenders == []
    tags = {t for c in suite.cases for t in c.tags}
    assert {"code", "json", "instructions", "reasoning", "chat"} <= tags
    assert all(c.tags and c.checks for c in suite.cases)
    assert all(c.max_tokens <= 256 for c in suite.cases)
    assert sum(c.max_tokens <= 128 for c in suite.cases) >= len(suite.cases) * 3 // 4
    assert any(len(c.messages) >= 3 and c.messages[-2]["role"] == "assistant" for c in suite.cases)
    kinds = {chk.kind for c in suite.cases for chk in c.checks}
    assert {"regex", "json", "equals", "contains", "not"} <= kinds and "python" not in kinds


def test_every_default_case_has_a_one_line_comment():
    text = Path(load_default_suite().path).read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  - id: "):
            assert lines[i - 1].strip().startswith("# "), f"no comment above {line.strip()}"


# A right and a wrong answer for every default case: the checks must tell them apart.
RIGHT_AND_WRONG = {
    "code-add": ("def add(a: int, b: int) -> int:\n    return a + b", "def add(a, b):\n    return a - b"),
    "code-is-even": ("```python\ndef is_even(n):\n    return n % 2 == 0\n```", "def is_even(n):\n    return n / 2 == 0"),
    "code-reverse": ("def reverse(s):\n    return s[::-1]", "def reverse(s):\n    return s"),
    "code-sql": ("SELECT name FROM users WHERE age > 30;", "SELECT * FROM users;"),
    "code-read": ("18", "14"),
    "json-person": ('```json\n{"name": "Maria Lopez", "age": 34}\n```', '{"name": "Maria Lopez", "age": "34"}'),
    "json-primes": ("[2, 3, 5, 7, 11]", "[1, 2, 3, 5, 7]"),
    "json-invoice": ('{"item": "USB-C cable", "quantity": 3, "unit_price": 4.50}', '{"item": "USB-C cable", "quantity": 3, "unit_price": 13.5}'),
    "json-sentiment": ('{"sentiment": "positive"}', '{"sentiment": "negative"}'),
    "instr-one-word": ("Jupiter", "Saturn"),
    "instr-capital": ("Tokyo.", "Kyoto"),
    "instr-uppercase": ("BLUE", "Blue"),
    "instr-word-limit": ("Vast, deep, and blue.", "The ocean is vast, deep and blue."),
    "instr-three-bullets": ("- apple\n- banana\n- cherry\n", "Here are three fruits:\n- apple\n- banana\n- cherry"),
    "instr-system-french": ("Blanche.", "White"),
    "reason-pencils": ("$4", "36"),
    "reason-multiply": ("102", "112"),
    "reason-weekday": ("Thursday", "Wednesday"),
    "reason-decimals": ("0.9", "0.11"),
    "chat-remember-name": ("Your name is Priya.", "Your name is Lisbon."),
    "chat-follow-up": ("14", "7"),
    "chat-correction": ("Canberra", "Sydney"),
}


def test_default_suite_checks_are_fair():
    suite = load_default_suite()
    assert {c.id for c in suite.cases} == set(RIGHT_AND_WRONG)
    for case in suite.cases:
        right, wrong = RIGHT_AND_WRONG[case.id]
        good = evaluate(case.checks, right, case)
        bad = evaluate(case.checks, wrong, case)
        assert good.passed is True, (case.id, [r.detail for r in good.results])
        assert bad.passed is False, (case.id, [r.detail for r in bad.results])


def test_command_line_contenders_replace_the_suites_without_checking_their_keys(tmp_path, monkeypatch, smollm2):
    """`run suite.yaml -c X` runs X only, so a cloud contender the suite lists needs no key then;
    validating the suite as it stands still names the missing key, with its line."""
    from conftest import bakeoff

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = tmp_path / "config"
    config.mkdir()
    suite = tmp_path / "bakeoff.yaml"
    suite.write_text("contenders:\n  - smollm2-135m\n  - openai:gpt-4o-mini\n"
                     "cases:\n  - id: hi\n    prompt: Say hi.\n    max_tokens: 4\n")
    env = {"BAKEOFF_CONFIG": str(config), "XDG_CONFIG_HOME": str(config)}
    validate = bakeoff("validate", suite, env=env)
    assert validate.returncode == 2 and "OPENAI_API_KEY" in validate.stderr and ":3:" in validate.stderr
    run = bakeoff("run", suite, "-c", "smollm2-135m?threads=1", "--db", tmp_path / "r.db", "--json", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["run"]["ran"] == 1
    # A spec that is wrong as written is still an error, -c or not.
    suite.write_text("contenders:\n  - 'openai:gpt-4o-mini?no_such_option=1'\ncases:\n  - id: hi\n    prompt: Say hi.\n")
    bad = bakeoff("run", suite, "-c", "smollm2-135m", "--db", tmp_path / "r.db", env=env)
    assert bad.returncode == 2 and "no_such_option" in bad.stderr
