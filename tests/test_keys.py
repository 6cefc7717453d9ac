"""bakeoff.keys directly: keys stored 0600 outside the database, the environment first, and
redaction of a key (or the long head or tail a server echoes) from any text shown."""

from __future__ import annotations

import json
import stat

import pytest

from bakeoff.errors import InputError
from bakeoff.keys import REDACTED, find_key, keys_path, redact, remove_key, set_key, stored_names

KEY = "sk-proj-4f1e9a7c2b8d6e0f3a5c"


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "cfg"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return tmp_path / "cfg"


def test_a_stored_key_is_private_and_found_after_the_environment(config_home, monkeypatch):
    set_key("openai", f"  {KEY}\n")
    assert keys_path() == config_home / "keys.json"
    assert stat.S_IMODE(keys_path().stat().st_mode) == 0o600
    assert json.loads(keys_path().read_text()) == {"openai": KEY}  # stripped as pasted
    assert find_key(("OPENAI_API_KEY",), "openai") == (KEY, "keys file")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert find_key(("OPENAI_API_KEY",), "openai") == ("sk-from-env", "env:OPENAI_API_KEY")
    assert find_key(("ANTHROPIC_API_KEY",), "anthropic") == (None, None)


def test_removing_and_listing_keys(config_home):
    set_key("openai", KEY)
    set_key("anthropic", "sk-ant-123456789")
    assert stored_names() == ["anthropic", "openai"]
    assert remove_key("openai") and not remove_key("openai")
    assert stored_names() == ["anthropic"]
    with pytest.raises(InputError, match="a key needs a name and a non-empty value"):
        set_key("gemini", "   ")


def test_a_damaged_keys_file_is_an_input_error_naming_it(config_home):
    config_home.mkdir(parents=True)
    (config_home / "keys.json").write_text("{not json")
    with pytest.raises(InputError, match="keys.json: not a readable keys file"):
        stored_names()
    (config_home / "keys.json").write_text('{"openai": 42}')
    with pytest.raises(InputError, match="expected a JSON object of name -> key"):
        find_key((), "openai")


def test_redact_hides_the_key_and_the_parts_servers_echo():
    message = f"401: Incorrect API key provided: {KEY}. Key ending ...{KEY[-10:]}; starts {KEY[:12]}"
    shown = redact(message, [KEY, ""])
    assert KEY not in shown and KEY[-10:] not in shown and KEY[:12] not in shown
    assert shown.startswith("401: Incorrect API key provided: " + REDACTED)
    assert redact("nothing secret here", [KEY]) == "nothing secret here"
