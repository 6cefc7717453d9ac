"""Property tests: whatever the file holds, load_suite returns a Suite or raises InputError
naming the file, never any other exception.

The loader's last-resort ``except Exception`` (which turns a bug into an InputError) is turned
off here, so that a bug shows up as itself.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bakeoff.suite.loader as loader_mod
from bakeoff.errors import InputError
from bakeoff.suite import Suite, load_suite

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "cases", "defaults", "contenders", "id", "prompt", "messages", "role", "content", "vars", "tags",
    "max_tokens", "temperature", "system", "pass_threshold", "checks", "contains", "equals", "regex",
    "json", "python", "not", "weight", "any", "all", "case_sensitive", "strip", "value", "pattern",
    "flags", "schema", "schema_file", "type", "properties", "required", "<<", "x-anchor", "user",
    "assistant",
]
SCALARS = [
    "", "~", "null", "true", "false", "yes", "no", "0", "-1", "1.5", ".nan", ".inf", "1e999", "0x1F",
    "2024-02-30", "'quoted'", '"dq \\u00e9"', "'", '"', "|", ">", "|-", "&a", "*a", "*b", "&a [1, 2]",
    "[*a, *a]", "{", "}", "[", "]", "{a: 1}", "[x, y]", "!!binary aGk=", "!!str 3", "!!int x",
    "!!python/object:os.system x", "!!set {a}", "!!omap [a: 1]", "'{x}'", "'{{x}}'", "'{0}'", "'{x.y}'",
    "'(abc'", "'\\bParis\\b'", "user", "assistant", "bot", "system", "llamacpp:smollm2-135m",
    "foo:bar", "smollm2-135m?ctx=abc", "nope.json", "no_such_module_zz:f", "os:nope", "'\\t'",
    "9" * 40, "# comment", "\u00e9\u00e8", "\ud7ff", "\x85", "\ufeff",
]


@contextlib.contextmanager
def strict_loader():
    """Turn off the loader's safety net so that a bug is not hidden as an InputError."""
    saved = loader_mod._CATCH_ALL
    loader_mod._CATCH_ALL = False
    try:
        yield
    finally:
        loader_mod._CATCH_ALL = saved


def assert_loads_or_input_error(content: str | bytes) -> None:
    before = list(sys.path)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz-suite.yaml"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        else:
            path.write_bytes(content)
        with strict_loader():
            try:
                suite = load_suite(path)
            except InputError as exc:
                message = str(exc)
                assert message.startswith(str(path)), message
                assert exc.line is None or exc.line >= 1
            else:
                assert isinstance(suite, Suite) and suite.cases
    assert sys.path == before


# -- (1) random text ------------------------------------------------------------------------------

yamlish_line = st.builds(
    lambda indent, dash, key, sep, value, comment: " " * indent + ("- " if dash else "") + key + sep + value + comment,
    st.integers(0, 10),
    st.booleans(),
    st.sampled_from(KEYS) | st.text(max_size=6),
    st.sampled_from([": ", ":", " ", ": |\n  ", ": >\n    ", ""]),
    st.sampled_from(SCALARS) | st.text(max_size=12),
    st.sampled_from(["", "", " # c", "\t"]),
)
yamlish = st.lists(yamlish_line, max_size=25).map("\n".join)


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text):
    assert_loads_or_input_error(text.replace("\ud800", "").encode("utf-8", "replace"))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data):
    assert_loads_or_input_error(data)


@SETTINGS
@given(yamlish)
def test_random_yamlish_text(text):
    assert_loads_or_input_error(text.encode("utf-8", "replace"))


@SETTINGS
@given(yamlish)
def test_random_yamlish_text_after_a_valid_head(text):
    head = "defaults:\n  max_tokens: 16\ncases:\n  - id: a\n    prompt: hi\n"
    assert_loads_or_input_error((head + text).encode("utf-8", "replace"))


# -- (2) random structures dumped as YAML ---------------------------------------------------------

leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(SCALARS)
)
key = st.sampled_from(KEYS) | st.text(max_size=8)
anything = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=5),
    max_leaves=30,
)

def mostly(valid, times: int = 12):
    """Usually a valid value, now and then anything at all: reaches the deeper checks.
    (st.one_of would pick each branch about as often as the other.)"""
    return st.sampled_from([True] * times + [False]).flatmap(lambda ok: valid if ok else anything)


text = st.text(max_size=12)
regex_text = st.sampled_from([r"\bParis\b", "(abc", "a[b", "^x$", "(?P<n>a)(?P=n)", "*", "x{2,1}"]) | text
schema = st.sampled_from(
    [{"type": "object"}, {"type": 12}, {"const": [1, 2]}, {"required": "a"}, {"$ref": "#/nope"},
     {"properties": {"a": {"type": "integer"}}}, {"pattern": "("}, True, False, {}]
) | anything
check_value = st.one_of(
    mostly(text),
    mostly(st.fixed_dictionaries({}, optional={"any": mostly(st.lists(text, max_size=3)), "all": mostly(st.lists(text, max_size=3)), "case_sensitive": mostly(st.booleans())})),
    mostly(st.fixed_dictionaries({"pattern": mostly(regex_text)}, optional={"flags": st.text("imsxq", max_size=3)})),
    mostly(st.fixed_dictionaries({}, optional={"schema": schema, "schema_file": st.sampled_from(["nope.json", "", ".", "/dev/null"]) | text})),
    mostly(st.fixed_dictionaries({"value": mostly(text)}, optional={"strip": mostly(st.booleans()), "case_sensitive": mostly(st.booleans())})),
    st.sampled_from([True, False, None, "no_such_module_zz:f", "nomod:f", "os:nope", "os.path:join", "a:b:c"]),
)
kinds = st.sampled_from(["contains", "equals", "regex", "json", "python", "not", "bogus"])
check_entry = st.deferred(
    lambda: st.one_of(
        st.builds(lambda k, v: {k: v}, kinds, check_value),
        st.builds(lambda k, v, w: {k: v, "weight": w}, kinds, check_value, mostly(st.floats(0.1, 5)) | st.integers(-2, 3)),
        st.builds(lambda inner: {"not": inner}, check_entry),
        st.dictionaries(kinds, check_value, min_size=2, max_size=3),
        anything,
    )
)
message = st.fixed_dictionaries(
    {"role": mostly(st.sampled_from(["user", "assistant", "system"])), "content": mostly(st.sampled_from(["hi {x}", "a {0}", "}", "{{y}}"]) | text)}
)
case_fields = {
    "id": mostly(st.sampled_from(["a", "b", "case-1", "case-2", ""]) | text),
    "vars": mostly(st.dictionaries(st.sampled_from(["x", "y"]), mostly(text | st.integers()), max_size=2)),
    "tags": mostly(st.lists(text, max_size=2)),
    "max_tokens": mostly(st.integers(1, 300)),
    "temperature": mostly(st.floats(0, 2)),
    "system": mostly(text),
    "pass_threshold": mostly(st.floats(0, 1)),
    "checks": mostly(st.lists(check_entry, min_size=1, max_size=4)),
}
prompt = mostly(st.sampled_from(["hi", "a {x} b", "{0}", "}", "{{x}}", "{y!r}"]) | text)
case = st.one_of(
    st.fixed_dictionaries({"prompt": prompt}, optional=case_fields),
    st.fixed_dictionaries({"messages": mostly(st.lists(message, min_size=1, max_size=4))}, optional=case_fields),
    st.fixed_dictionaries({}, optional={"prompt": prompt, "messages": st.lists(message, max_size=2), **case_fields}),
)
suite_like = st.fixed_dictionaries(
    {"cases": mostly(st.lists(case, min_size=1, max_size=4))},
    optional={
        "defaults": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "max_tokens": mostly(st.integers(1, 300)),
                    "temperature": mostly(st.floats(0, 2)),
                    "system": mostly(text),
                    "pass_threshold": mostly(st.floats(0, 1)),
                },
            )
        ),
        "contenders": mostly(
            st.lists(st.sampled_from(["smollm2-135m", "foo:bar", "x?y=1", "", "llamacpp:", "smollm2-135m?ctx=abc"]) | text, max_size=2)
        ),
        "x-extra": anything,
    },
)


@SETTINGS
@given(anything)
def test_random_structures(data):
    assert_loads_or_input_error(yaml.safe_dump(data, allow_unicode=True))


@SETTINGS
@given(suite_like)
def test_random_suite_shaped_structures(data):
    assert_loads_or_input_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
