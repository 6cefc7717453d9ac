import pytest

from bakeoff.errors import InputError
from bakeoff.spec import parse_spec


def test_bare_alias_means_llamacpp():
    spec = parse_spec("smollm2-135m")
    assert (spec.backend, spec.model, spec.options) == ("llamacpp", "smollm2-135m", {})
    assert spec.canonical == "llamacpp:smollm2-135m"


def test_options_are_typed_and_canonical_is_sorted():
    spec = parse_spec("llamacpp:qwen2.5-coder-0.5b?threads=2&ctx=4096&temperature=0&seed=0")
    assert spec.options == {"ctx": 4096, "threads": 2, "temperature": 0.0, "seed": 0}
    assert spec.canonical == "llamacpp:qwen2.5-coder-0.5b?ctx=4096&seed=0&temperature=0.0&threads=2"
    assert parse_spec(spec.canonical) == spec


def test_paths_are_models():
    spec = parse_spec("/models/x.gguf?ctx=512")
    assert spec.backend == "llamacpp" and spec.model == "/models/x.gguf" and spec.options == {"ctx": 512}


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "empty contender spec"),
        ("smollm2-135m?ctxx=4", "unknown option 'ctxx'"),
        ("smollm2-135m?ctx=big", "option ctx='big'"),
        ("smollm2-135m?ctx=-1", "option ctx='-1'"),
        ("smollm2-135m?ctx=1&ctx=2", "option 'ctx' given twice"),
        ("vllmx:foo", "unknown backend 'vllmx'"),
        ("llamacpp:", "names no model"),
        ("smollm2-135m?mmap=perhaps", "option mmap='perhaps'"),
    ],
)
def test_errors_name_the_bad_part(text, phrase):
    with pytest.raises(InputError) as info:
        parse_spec(text)
    assert phrase in str(info.value)
