"""measure/cost.py split along its seams: the assumptions (cost_config), the price table
(pricing), YAML read with lines (bakeoff.util.yaml_lines); every name stays importable from
bakeoff.measure.cost, where the callers import it."""

from __future__ import annotations

import pytest

import bakeoff.measure.cost as cost
from bakeoff.errors import InputError
from bakeoff.measure import cost_config, pricing
from bakeoff.util.yaml_lines import load_yaml_with_lines


@pytest.fixture(autouse=True)
def no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_cost_keeps_the_names_its_callers_import():
    for name in ("CostConfig", "cpu_power", "load_cost_config", "default_cost_config_path"):
        assert getattr(cost, name) is getattr(cost_config, name)
    for name in ("DEFAULT_CLOUD_MODELS", "PackagePrices", "PriceEntry", "PriceTable", "find_price", "load_prices",
                 "package_prices", "default_prices_path"):
        assert getattr(cost, name) is getattr(pricing, name)
    assert set(cost.__all__) <= set(dir(cost))


def test_yaml_lines_maps_keys_to_lines_and_refuses_duplicates():
    data, lines = load_yaml_with_lines("a: 1\nb:\n  - x\n  - y\n", "f.yaml")
    assert data == {"a": 1, "b": ["x", "y"]}
    assert lines[("a",)] == 1 and lines[("b",)] == 2 and lines[("b", 1)] == 4
    with pytest.raises(InputError, match="duplicate key 'a' \\(first on line 1\\)"):
        load_yaml_with_lines("a: 1\na: 2\n", "f.yaml")


def test_config_and_prices_load_from_their_modules(tmp_path):
    config = cost_config.load_cost_config()
    assert config.currency == "USD" and config.lifetime_hours > 0
    bad = tmp_path / "cost.yaml"
    bad.write_text("hardware_price: 900\n\nlifetime_years: -3\n")
    with pytest.raises(InputError) as err:
        cost_config.load_cost_config(bad)
    assert err.value.line == 3
    entry = pricing.find_price("openai:gpt-4o", pricing.load_prices())
    assert entry.key == "openai:gpt-4o" and entry.as_of and entry.source
