"""YAML read with the line of every key, so a bad value is reported as file:line (the cost
config and the price files)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from bakeoff.errors import InputError


def load_yaml_with_lines(text: str, path: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML; return the data and the line (1-based) of every mapping key and value path.

    Duplicate keys are an error (PyYAML would keep the last one silently).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path,
                         mark.line + 1 if mark else None) from None
    lines: dict[tuple, int] = {}

    def walk(n: Any, at: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                if key in seen:
                    raise InputError(f"duplicate key {key!r} (first on line {seen[key]})", path, k.start_mark.line + 1)
                seen[key] = k.start_mark.line + 1
                lines[at + (key,)] = k.start_mark.line + 1
                walk(v, at + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines[at + (i,)] = v.start_mark.line + 1
                walk(v, at + (i,))

    if node is not None:
        walk(node, ())
    data = yaml.safe_load(text)
    return data, lines


def _line_for(loc: tuple, lines: dict[tuple, int], prefix: tuple = ()) -> int | None:
    full = prefix + tuple(loc)
    for n in range(len(full), 0, -1):
        if full[:n] in lines:
            return lines[full[:n]]
    return None


def raise_validation(exc: ValidationError, path: str, lines: dict[tuple, int], prefix: tuple = ()) -> None:
    errors = exc.errors()
    # A misspelt key also makes the real one "missing": name the misspelling first.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in prefix + loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    raise InputError(f"{where}: {msg}", path, _line_for(loc, lines, prefix)) from None
