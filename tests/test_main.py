"""bakeoff.__main__: ``python -m bakeoff`` runs the CLI under the name ``bakeoff`` (what help and
usage lines show), whatever the interpreter's own argv[0] was."""

from __future__ import annotations

import sys

import pytest


def _run_module(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/runpy-whatever.py", *args])
    sys.modules.pop("bakeoff.__main__", None)  # a module runs its body once per import
    with pytest.raises(SystemExit) as ended:
        from bakeoff import __main__  # importing it runs the CLI, which exits
        raise AssertionError(f"{__main__.__name__} returned instead of exiting")
    return ended.value.code


def test_help_through_the_module_names_the_program_and_its_commands(monkeypatch, capsys):
    assert _run_module(monkeypatch, "--help") == 0
    out = capsys.readouterr().out
    assert "Usage: bakeoff" in out and "runpy-whatever" not in out
    for command in ("run", "report", "speed"):
        assert command in out


def test_an_unknown_command_is_a_usage_error(monkeypatch, capsys):
    assert _run_module(monkeypatch, "no-such-command") == 2
    assert "No such command" in capsys.readouterr().err
