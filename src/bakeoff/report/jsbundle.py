"""The JavaScript the HTML report inlines: Vega, Vega-Lite and vega-embed, in one bundle.

vl-convert (the Vega project's converter, the one Altair uses to inline its JavaScript) builds
the bundle from the libraries it ships, offline. Building it takes a few seconds, so it is
kept in bakeoff's cache, one file per vl-convert version; later reports read the file.
The bundle is checked once more before use: it must not be able to close its <script>.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bakeoff.paths import bakeoff_home


def _cache_path(version: str) -> Path:
    return bakeoff_home() / "report" / f"vega-bundle-vl-convert-{version}.js"


def vega_bundle() -> str:
    import vl_convert

    path = _cache_path(getattr(vl_convert, "__version__", "unknown"))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = vl_convert.javascript_bundle()
        try:  # an unwritable cache only costs the next report the same few seconds
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vega-bundle-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError:
            pass
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:
        raise RuntimeError(f"the Vega bundle at {path} could close its <script> element; delete it and retry")
    return text
