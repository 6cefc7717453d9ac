"""bakeoff.report.jsbundle: the Vega bundle the HTML report inlines is built offline once, kept
in bakeoff's cache for later reports, and refused when it could close its <script> element."""

from __future__ import annotations

import pytest
import vl_convert

from bakeoff.report.jsbundle import _cache_path, vega_bundle


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_bundle_is_built_once_and_then_read_from_the_cache(home):
    text = vega_bundle()
    assert "vegaEmbed" in text and len(text) > 100_000
    cached = _cache_path(vl_convert.__version__)
    assert cached.is_relative_to(home) and cached.read_text(encoding="utf-8") == text
    cached.write_text("/* the cached copy */", encoding="utf-8")
    assert vega_bundle() == "/* the cached copy */"  # not built again


@pytest.mark.parametrize("bad", ["x = '</SCRIPT>';", "<!-- y"])
def test_a_bundle_that_could_close_its_script_is_refused(home, bad):
    cached = _cache_path(vl_convert.__version__)
    cached.parent.mkdir(parents=True)
    cached.write_text(bad, encoding="utf-8")
    with pytest.raises(RuntimeError, match="could close its <script>"):
        vega_bundle()
