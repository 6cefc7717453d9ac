"""The util layer: the answer normaliser's three rules, JSON values in a reply, YAML read with
lines, and images on the wire."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.util.answers import json_values, normal_form
from bakeoff.util.images import count_images, data_url
from bakeoff.util.yaml_lines import YamlDocument


def test_repeats_differ_on_anything_but_whitespace():
    assert normal_form("  Paris\n\tis  big ") == "Paris is big"
    assert normal_form(None) == ""
    assert normal_form("Paris") != normal_form("paris")


def test_agreement_folds_case_with_casefold():
    assert normal_form(" Straße ", fold=str.casefold) == "strasse"
    assert normal_form("PARIS.", fold=str.casefold) == "paris."


def test_drift_drops_punctuation_markup_and_underscores():
    """The probe drift rule: lower case, every non-word character (and '_') a space."""
    assert normal_form("**PostgreSQL.**", fold=str.lower, drop_punctuation=True) == "postgresql"
    assert normal_form("snake_case-name", fold=str.lower, drop_punctuation=True) == "snake case name"
    assert normal_form("Straße", fold=str.lower, drop_punctuation=True) == "straße"


def test_json_values_fenced_first_then_inline():
    text = 'Here: {"a": 1} and\n```json\n[1, 2]\n```\nbroken { not json'
    assert json_values(text) == [[1, 2], {"a": 1}, [1, 2]]
    assert json_values("no json here") == []


def test_yaml_document_maps_locations_to_lines():
    doc = YamlDocument("a: 1\nb:\n  - x\n  - y: 2\n", "f.yaml")
    assert doc.read_yaml() == {"a": 1, "b": ["x", {"y": 2}]}
    assert doc.line_at(("b", 1, "y")) == 4
    assert doc.line_at(("b",), at_key=True) == 2


@pytest.mark.parametrize("text, message, line", [
    ("a: 1\na: 2\n", "duplicate key 'a' (first given at line 1)", 2),
    ("a: &x [*x]\n", "recursive alias", 1),
    ("answer: no\n", None, None),
])
def test_yaml_document_refuses_what_is_unsafe(text, message, line):
    doc = YamlDocument(text, "f.yaml")
    if message is None:
        assert doc.read_yaml() == {"answer": "no"}  # YAML 1.2: only true/false are booleans
        return
    with pytest.raises(InputError) as exc:
        doc.read_yaml()
    assert message in str(exc.value) and exc.value.line == line


def test_images_on_the_wire(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG")
    assert data_url({"path": str(path), "mime": "image/png"}) == "data:image/png;base64,iVBORw=="
    assert count_images([{"images": [1, 2]}, {"content": "x"}, {"images": None}]) == 2
