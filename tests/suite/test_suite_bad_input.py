"""Malformed suite files: each gives one InputError ``file:LINE: message`` at the right line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.errors import InputError
from bakeoff.suite import load_suite

# (name, file text, expected line, phrase the message must contain)
BAD = [
    ("yaml-syntax", "cases:\n  - prompt: x\n   bad: [\n", 3, "YAML syntax error"),
    ("yaml-unclosed-quote", "cases:\n  - prompt: 'x\n", 3, "YAML syntax error: found unexpected end of stream"),
    ("yaml-tab", "cases:\n\t- prompt: x\n", 2, "cannot start any token"),
    ("two-documents", "cases:\n  - prompt: x\n---\ncases: []\n", 3, "expected a single document"),
    ("control-char", 'cases:\n  - prompt: "x\x01"\n', 2, "special character"),
    ("top-level-list", "- a\n- b\n", 1, "must be a mapping with a 'cases:' list"),
    ("empty", "\n# only a comment\n", 1, "the suite file is empty"),
    ("unknown-top-key", "cases:\n  - prompt: hi\nfoo: 1\n", 3, "unknown key 'foo' in the suite file; allowed keys: contenders, defaults, cases"),
    ("unknown-case-key", "cases:\n  - prompt: hi\n    promt: x\n", 3, "unknown key 'promt' in case (did you mean 'prompt'?); allowed keys: id, prompt, messages"),
    ("unknown-defaults-key", "defaults:\n  max_token: 3\ncases:\n  - prompt: hi\n", 2, "unknown key 'max_token' in defaults"),
    ("unknown-message-key", "cases:\n  - messages:\n      - role: user\n        text: hi\n", 4, "unknown key 'text' in message; allowed keys: role, content"),
    ("wrong-type", "defaults:\n  max_tokens: many\ncases:\n  - prompt: hi\n", 2, "max_tokens: Input should be a valid integer"),
    ("max-tokens-negative", "cases:\n  - prompt: hi\n\n    max_tokens: -5\n", 4, "greater than 0"),
    ("temperature-negative", "defaults:\n  temperature: -0.5\ncases:\n  - prompt: hi\n", 2, "temperature: Input should be greater than or equal to 0"),
    ("threshold-above-1", "defaults:\n  pass_threshold: 1.5\ncases:\n  - prompt: hi\n", 2, "less than or equal to 1"),
    ("case-threshold-below-0", "cases:\n  - prompt: hi\n    pass_threshold: -0.1\n", 3, "pass_threshold"),
    ("missing-cases", "defaults:\n  max_tokens: 3\n", 1, "missing required key 'cases'"),
    ("empty-cases", "defaults:\n  max_tokens: 3\ncases: []\n", 3, "'cases' is empty"),
    ("cases-not-a-list", "cases: hello\n", 1, "cases: Input should be a valid list"),
    ("case-not-a-mapping", "cases:\n  - prompt: x\n  - hello\n", 3, "cases[1]: Input should be a valid dictionary"),
    ("prompt-and-messages", "cases:\n  - prompt: hi\n    messages:\n      - {role: user, content: x}\n", 3, "'prompt' or 'messages', not both"),
    ("neither-prompt-nor-messages", "cases:\n  - prompt: ok\n  - id: a\n    tags: [x]\n", 3, "neither 'prompt' nor 'messages'"),
    ("empty-messages", "cases:\n  - messages: []\n", 2, "'messages' is empty"),
    ("bad-role", "cases:\n  - messages:\n      - {role: user, content: x}\n      - {role: bot, content: y}\n", 4, "role: Input should be 'system', 'user' or 'assistant'"),
    ("last-not-user", "cases:\n  - messages:\n      - {role: user, content: x}\n      - {role: assistant, content: y}\n", 4, "the last message must have role 'user'"),
    ("system-not-first", "cases:\n  - messages:\n      - {role: user, content: x}\n      - {role: system, content: y}\n      - {role: user, content: z}\n", 4, "a system message must come first"),
    ("system-twice", "cases:\n  - system: be nice\n    messages:\n      - {role: system, content: y}\n      - {role: user, content: z}\n", 2, "system prompt is given twice"),
    ("duplicate-case-id", "cases:\n  - id: a\n    prompt: x\n  - id: b\n    prompt: y\n  - id: a\n    prompt: z\n", 6, "duplicate case id 'a' (first at line 2)"),
    ("duplicate-default-id", "cases:\n  - prompt: x\n  - id: case-1\n    prompt: y\n", 3, "duplicate case id 'case-1'"),
    ("duplicate-key", "cases:\n  - prompt: x\n    tags: [a]\n    prompt: y\n", 4, "duplicate key 'prompt' (first given at line 2)"),
    ("duplicate-top-key", "cases:\n  - prompt: x\ncases:\n  - prompt: y\n", 3, "duplicate key 'cases'"),
    ("unknown-check-kind", "cases:\n  - prompt: x\n    checks:\n      - contains: y\n      - contain: y\n", 5, "unknown check kind 'contain'; known kinds: answer_set, code, contains, equals, ifbench, json, judge, no_tool_call, not, number, python, regex, review, tool_call, tool_calls, valid_tool_calls"),
    ("two-kinds-in-one-check", "cases:\n  - prompt: x\n    checks:\n      - contains: y\n        regex: z\n", 5, "2 check kinds ('contains', 'regex')"),
    ("check-not-a-mapping", "cases:\n  - prompt: x\n    checks:\n      - contains\n", 4, "a check is a mapping with one check kind"),
    ("check-without-kind", "cases:\n  - prompt: x\n    checks:\n      - weight: 2\n", 4, "names no check kind"),
    ("unknown-check-option", "cases:\n  - prompt: x\n    checks:\n      - regex:\n          pattern: a\n          flag: i\n", 6, "unknown key 'flag' in regex check (did you mean 'flags'?); allowed keys: pattern, flags"),
    ("bad-regex", "cases:\n  - prompt: x\n    checks:\n      - regex: '(abc'\n", 4, "bad regex '(abc': missing ), unterminated subpattern"),
    ("bad-regex-long-form", "cases:\n  - prompt: x\n    checks:\n      - regex:\n          flags: i\n          pattern: 'a[b'\n", 6, "bad regex 'a[b'"),
    ("bad-regex-flag", "cases:\n  - prompt: x\n    checks:\n      - regex: {pattern: a,\n               flags: iq}\n", 5, "unknown regex flag 'q'"),
    ("equals-boolean", "cases:\n  - prompt: x\n    checks:\n      - equals: true\n", 4, "put the text in quotes"),
    ("contains-bare-list", "cases:\n  - prompt: x\n    checks:\n      - contains: [a, b]\n", 4, "{all: [...]} or {any: [...]}"),
    ("contains-all-and-any", "cases:\n  - prompt: x\n    checks:\n      - contains: {all: [a], any: [b]}\n", 4, "exactly one of 'all' or 'any'"),
    ("invalid-json-schema", "cases:\n  - prompt: x\n    checks:\n      - json:\n          schema:\n            type: object\n            properties:\n              a: {type: 12}\n", 8, "invalid JSON schema at $.properties.a.type"),
    ("json-false", "cases:\n  - prompt: x\n    checks:\n      - json: false\n", 4, "checks nothing"),
    ("missing-schema-file", "cases:\n  - prompt: x\n    checks:\n      - json: {schema_file: nope.json}\n", 4, "schema file not found"),
    ("python-module-missing", "cases:\n  - prompt: x\n    checks:\n      - python: no_such_module_zz:f\n", 4, "cannot import module 'no_such_module_zz'"),
    ("python-function-missing", "cases:\n  - prompt: x\n    checks:\n      - python: badsuite_checks:nope\n", 4, "has no function 'nope'"),
    ("python-module-broken", "cases:\n  - prompt: x\n    checks:\n      - python: badsuite_broken:f\n", 4, "ZeroDivisionError"),
    ("python-bad-form", "cases:\n  - prompt: x\n    checks:\n      - python: just_a_name\n", 4, "module:function"),
    ("bad-weight", "cases:\n  - prompt: x\n    checks:\n      - {contains: a, weight: -1}\n", 4, "weight must be a number greater than 0"),
    ("weight-inside-not", "cases:\n  - prompt: x\n    checks:\n      - not:\n          contains: a\n          weight: 2\n", 6, "'weight' goes beside 'not'"),
    ("unknown-var", "cases:\n  - prompt: 'hi {nmae}'\n    vars: {name: x}\n", 2, "unknown placeholder {nmae}; vars has: name"),
    ("unknown-var-in-block", "cases:\n  - vars: {name: x}\n    prompt: |\n      line one\n      line {nmae}\n", 5, "unknown placeholder {nmae}"),
    ("unknown-var-in-message", "cases:\n  - vars: {a: b}\n    messages:\n      - {role: user, content: '{b}'}\n", 4, "unknown placeholder {b}"),
    ("positional-placeholder", "cases:\n  - prompt: 'a {0} b'\n    vars: {a: b}\n", 2, "is not a plain {name}"),
    ("lone-brace-with-vars", "cases:\n  - prompt: 'a } b'\n    vars: {a: b}\n", 2, "Single '}'"),
    ("var-not-scalar", "cases:\n  - prompt: 'a {x}'\n    vars:\n      x: [1, 2]\n", 4, "vars.x: Input should be a valid string"),
    ("unknown-backend", "contenders:\n  - llamacpp:smollm2-135m\n  - foo:bar\ncases:\n  - prompt: x\n", 3, "unknown backend 'foo'"),
    ("contender-not-text", "contenders:\n  - 12\ncases:\n  - prompt: x\n", 2, "contenders[0]: Input should be a valid string"),
    ("alias-bomb", "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10) if p else ', '.join(['x'] * 10)}]\n"
        for p, c in zip(["", "a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"])
    ) + "cases: *f\n", 5, "alias bomb"),
    ("recursive-alias", "cases: &a\n  - *a\n", 1, "recursive alias"),
    ("nesting-too-deep", "cases:\n  - prompt: " + "[" * 150 + "]" * 150 + "\n", 2, "nested more than 100 levels"),
    ("huge-integer", "cases:\n  - prompt: x\n    max_tokens: " + "9" * 5000 + "\n", 3, "cannot read this value"),
    ("python-tag", "cases:\n  - prompt: !!python/object/apply:os.system [echo hi]\n", 2, "could not determine a constructor"),
    ("undefined-alias", "cases:\n  - prompt: *nothing\n", 2, "found undefined alias"),
]


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    (tmp_path / "badsuite_checks.py").write_text("def ok(output):\n    return True\n")
    (tmp_path / "badsuite_broken.py").write_text("X = 1 / 0\n")
    return tmp_path


@pytest.mark.parametrize("name,text,line,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_suite_names_file_and_line(suite_dir: Path, name: str, text: str, line: int, phrase: str):
    path = suite_dir / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    before = list(sys.path)
    with pytest.raises(InputError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert phrase in message, message
    assert "\n" not in message and "Traceback" not in message
    assert info.value.file == str(path) and info.value.line == line
    assert sys.path == before


def test_at_least_22_distinct_bad_files():
    assert len({b[0] for b in BAD}) == len(BAD) >= 22
    assert len({b[1] for b in BAD}) == len(BAD)


def test_unknown_model_alias_is_reported_at_its_line(tmp_path: Path):
    path = tmp_path / "bakeoff.yaml"
    path.write_text("contenders:\n  - smollm2-135m\n  - no-such-model-zz\ncases:\n  - prompt: x\n")
    with pytest.raises(InputError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: "), message
    assert "unknown model" in message and "no-such-model-zz" in message


def test_bad_contender_option_is_reported_at_its_line(tmp_path: Path):
    path = tmp_path / "bakeoff.yaml"
    path.write_text("contenders:\n  - smollm2-135m?bogus=1\ncases:\n  - prompt: x\n")
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:2: ") and "bogus" in str(info.value)


# -- files that cannot be read at all ----------------------------------------------------------


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value) == f"{path}: suite file not found"


def test_directory(tmp_path: Path):
    with pytest.raises(InputError) as info:
        load_suite(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a suite file"


def test_not_utf8(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cases:\n  - prompt: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:2: not UTF-8: byte 0xe9 at column 16")


def test_utf16(tmp_path: Path):
    path = tmp_path / "utf16.yaml"
    path.write_bytes("cases:\n  - prompt: x\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        load_suite(path)


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value) == f"{path}:1: the suite file is empty; it needs a 'cases:' list"


def test_schema_file_that_is_a_device(tmp_path: Path):
    path = tmp_path / "b.yaml"
    path.write_text("cases:\n  - prompt: x\n    checks:\n      - json: {schema_file: /dev/zero}\n")
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:4: schema file is not a regular file")


def test_the_first_error_in_the_file_is_reported(tmp_path: Path):
    path = tmp_path / "b.yaml"
    path.write_text("defaults:\n  max_tokens: 0\ncases:\n  - prompt: x\n    temperature: -1\n")
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:2: ")


# -- the CLI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["unknown-case-key", "bad-regex", "yaml-syntax", "duplicate-case-id"])
def test_cli_validate_prints_one_line_and_exits_2(tmp_path: Path, name: str):
    _, text, line, phrase = next(b for b in BAD if b[0] == name)
    path = tmp_path / "bakeoff.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "bakeoff", "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    # the CLI may put a word such as "error: " before the location
    assert re.fullmatch(rf"(\w+: )?{re.escape(str(path))}:{line}: .+", lines[0]), lines[0]
    assert phrase in lines[0], lines[0]
