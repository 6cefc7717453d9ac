"""The ``json`` check: the output is JSON, optionally matching a JSON Schema.

YAML forms::

    - json: true                                  # the output parses as JSON
    - json: {schema: {type: object, required: [name]}}
    - json: {schema_file: schemas/person.json}     # relative to the suite file (.json or YAML)

The output is parsed whole; if that fails, the first fenced block tagged ``json`` (or, failing
that, the first untagged fenced block) is parsed instead, since models like to wrap JSON in
Markdown fences. Schemas are checked with ``check_schema`` at load time; ``$ref`` is never
fetched over the network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import yaml
from pydantic import Field, model_validator

from bakeoff.checks.base import Check, CheckConfigError, CheckParams

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


_MAX_SCHEMA_BYTES = 10 * 1024 * 1024


class _NoJson(Exception):
    pass


def extract_json(output: str) -> tuple[Any, str]:
    """Parse the output, or its first ```json fenced block, as JSON.

    Returns (value, where) with ``where`` "" or " (from the ```json block)"; raises _NoJson
    with a readable reason.
    """
    text = output.strip()
    if not text:
        raise _NoJson("JSON parse error: the output is empty")
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        first = exc
    except RecursionError:
        raise _NoJson("JSON parse error: nested too deeply") from None
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(output)]
    block = next((b for lang, b in blocks if lang == "json"), None)
    label = "```json block"
    if block is None:
        block = next((b for lang, b in blocks if lang == ""), None)
        label = "fenced block"
    if block is None:
        raise _NoJson(f"JSON parse error at line {first.lineno} col {first.colno}: {first.msg}")
    try:
        return json.loads(block), f" (from the {label})"
    except json.JSONDecodeError as exc:
        raise _NoJson(f"JSON parse error in the {label} at line {exc.lineno} col {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _NoJson("JSON parse error: nested too deeply") from None


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class JsonCheck(Check):
    """The output is JSON (and matches a JSON Schema when one is given)."""

    kind = "json"

    class Params(CheckParams):
        what: ClassVar[str] = "json check"
        json_schema: dict[str, Any] | bool | None = Field(default=None, alias="schema")
        schema_file: str | None = None

        @model_validator(mode="before")
        @classmethod
        def _short(cls, value: Any) -> Any:
            if value is True:
                return {}
            if value is False:
                raise ValueError("'json: false' checks nothing; to require non-JSON write 'not: {json: true}'")
            if not isinstance(value, dict):
                raise ValueError("write 'json: true', 'json: {schema: {...}}' or 'json: {schema_file: path}'")
            return value

        @model_validator(mode="after")
        def _one(self) -> JsonCheck.Params:
            if self.json_schema is not None and self.schema_file is not None:
                raise ValueError("give 'schema' or 'schema_file', not both")
            return self

    def prepare(self) -> None:
        self.schema: Any = self.params.json_schema
        self.validator: Any = None
        loc: tuple[Any, ...] = ("schema",)
        if self.params.schema_file is not None:
            loc = ("schema_file",)
            self.schema = self._read_schema_file(self.params.schema_file)
        if self.schema is None:
            return
        try:
            cls = jsonschema.validators.validator_for(self.schema, default=jsonschema.Draft202012Validator)
            cls.check_schema(self.schema)
            self.validator = cls(self.schema)
        except jsonschema.SchemaError as exc:
            where = f" at {_json_path(exc.absolute_path)}" if exc.absolute_path else ""
            inner = tuple(exc.absolute_path) if loc == ("schema",) else ()
            raise CheckConfigError(f"invalid JSON schema{where}: {_clip_msg(exc.message)}", loc + inner) from None
        except Exception as exc:  # odd values jsonschema cannot even inspect
            raise CheckConfigError(f"invalid JSON schema: {type(exc).__name__}: {exc}", loc) from None

    def _read_schema_file(self, name: str) -> Any:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = (self.base_dir or Path.cwd()) / path
        try:
            if path.exists() and not path.is_dir() and not path.is_file():
                raise CheckConfigError(f"schema file is not a regular file: {path}", ("schema_file",))
            if path.is_file() and path.stat().st_size > _MAX_SCHEMA_BYTES:
                raise CheckConfigError(f"schema file is larger than 10 MiB: {path}", ("schema_file",))
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CheckConfigError(f"schema file not found: {path}", ("schema_file",)) from None
        except IsADirectoryError:
            raise CheckConfigError(f"schema file is a directory: {path}", ("schema_file",)) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CheckConfigError(f"cannot read schema file {path}: {exc}", ("schema_file",)) from None
        try:
            if path.suffix.lower() == ".json":
                return json.loads(text)
            return yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            raise CheckConfigError(
                f"schema file {path}:{exc.lineno}: not valid JSON: {exc.msg}", ("schema_file",)
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise CheckConfigError(f"schema file {path}{at}: not valid YAML: {problem}", ("schema_file",)) from None
        except (RecursionError, ValueError) as exc:
            raise CheckConfigError(f"cannot read schema file {path}: {exc}", ("schema_file",)) from None

    def identity(self) -> Any:
        # The schema's content, not the file name: editing the schema file changes the task.
        return {"schema": self.schema} if self.schema is not None else {}

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        try:
            value, where = extract_json(output)
        except _NoJson as exc:
            return False, str(exc)
        if self.validator is None:
            return True, f"valid JSON{where}"
        try:
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(value))
        except Exception as exc:  # an unresolvable $ref, a bad pattern met at run time...
            return False, f"schema could not be applied: {type(exc).__name__}: {_clip_msg(str(exc))}"
        if error is None:
            return True, f"valid JSON matching the schema{where}"
        at = f" at {_json_path(error.absolute_path)}" if error.absolute_path else ""
        return False, f"schema: {_clip_msg(error.message)}{at}{where}"


def _clip_msg(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

