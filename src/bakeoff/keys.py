"""API keys: from the usual environment variables, else from a keys file that `bakeoff keys set`
writes with mode 0600, outside the results database (like simonw/llm's keys.json).

A key is only ever handed to the backend that sends it. Anything that may reach a user, a log or
the database (error messages, facts) goes through ``redact`` first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bakeoff.errors import InputError

REDACTED = "[REDACTED]"


def config_home() -> Path:
    """$BAKEOFF_CONFIG, else $XDG_CONFIG_HOME/bakeoff, else ~/.config/bakeoff."""
    if os.environ.get("BAKEOFF_CONFIG"):
        return Path(os.environ["BAKEOFF_CONFIG"]).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "bakeoff"


def keys_path() -> Path:
    return config_home() / "keys.json"


def _read() -> dict[str, str]:
    path = keys_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable keys file ({type(exc).__name__}); fix or delete it") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError(f"{path}: expected a JSON object of name -> key")
    return data


def _write(keys: dict[str, str]) -> None:
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before the key is written, then swapped in: the key is never world-readable.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keys, f, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def set_key(name: str, value: str) -> None:
    value = value.strip()
    if not name or not value:
        raise InputError("a key needs a name and a non-empty value")
    keys = _read()
    keys[name] = value
    _write(keys)


def remove_key(name: str) -> bool:
    keys = _read()
    if name not in keys:
        return False
    del keys[name]
    _write(keys)
    return True


def stored_names() -> list[str]:
    return sorted(_read())


def find_key(env_names: tuple[str, ...], stored_name: str) -> tuple[str | None, str | None]:
    """The key and where it came from ("env:NAME" or "keys file"), or (None, None)."""
    for env in env_names:
        if os.environ.get(env):
            return os.environ[env], f"env:{env}"
    key = _read().get(stored_name)
    return (key, "keys file") if key else (None, None)


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret (and any 8+ character tail of it that a server may echo) in text."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, REDACTED)
        # Servers often echo a key partially ("sk-...abcd1234"): hide any long tail or head too.
        for n in range(len(secret) - 1, 7, -1):
            text = text.replace(secret[-n:], REDACTED).replace(secret[:n], REDACTED)
    return text
