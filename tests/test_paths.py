"""bakeoff.paths directly: where bakeoff keeps its models, twins and caches."""

from __future__ import annotations

from pathlib import Path

from bakeoff.paths import bakeoff_home


def test_bakeoff_home_prefers_its_own_variable_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("BAKEOFF_HOME", "~/bk")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bakeoff_home() == Path.home() / "bk"
    monkeypatch.setenv("BAKEOFF_HOME", "")
    assert bakeoff_home() == tmp_path / "xdg" / "bakeoff"
    monkeypatch.delenv("BAKEOFF_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert bakeoff_home() == tmp_path / "user" / ".cache" / "bakeoff"
