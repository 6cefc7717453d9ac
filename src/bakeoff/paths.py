"""Where bakeoff keeps its files."""

from __future__ import annotations

import os
from pathlib import Path


def bakeoff_home() -> Path:
    """$BAKEOFF_HOME, else $XDG_CACHE_HOME/bakeoff, else ~/.cache/bakeoff."""
    if os.environ.get("BAKEOFF_HOME"):
        return Path(os.environ["BAKEOFF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "bakeoff"
