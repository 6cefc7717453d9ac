"""`bakeoff cost` as text (bakeoff.report.cost): every assumption and the break-even per local
contender and cloud model, from cost_report's data."""

from __future__ import annotations

import pytest

from bakeoff.measure.cost import cost_report
from bakeoff.report.cost import format_cost_report


@pytest.fixture(autouse=True)
def no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_text_has_prices_assumptions_and_break_even():
    data = cost_report(cloud=["openai:gpt-4o-mini"], local_tps=20, local_watts=30)
    text = format_cost_report(data)
    assert text.startswith("Cloud prices (USD per 1M tokens; user-editable: ")
    assert "openai:gpt-4o-mini" in text and "hardware_price = 1500.0" in text
    assert "given: 30 W at 20 tokens/s" in text
    assert "Break-even: tokens per month above which local is cheaper than the cloud model" in text
    assert "vs openai:gpt-4o-mini" in text


def test_without_a_local_figure_the_text_says_how_to_get_one():
    text = format_cost_report(cost_report(cloud=["openai:gpt-4o"]))
    assert "No local figure: pass --db PATH" in text and "Break-even" not in text
