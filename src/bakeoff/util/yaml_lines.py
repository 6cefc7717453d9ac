"""YAML read safely, with the line of every value: YAML 1.2 booleans and no implicit timestamps,
absurd nesting refused before the (recursive) composer sees it, duplicate keys, recursive aliases
and alias bombs refused, and every error an InputError naming the file and line. Suites
(bakeoff.suite.loader) are read with YamlDocument; the cost config and price files with
load_yaml_with_lines (the line of every key, for pydantic errors through raise_validation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bakeoff.errors import InputError

MAX_NODES = 100_000  # after alias expansion
MAX_DEPTH = 100

_MERGE_TAG = "tag:yaml.org,2002:merge"
_DROPPED_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}


class SafeYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false: ``answer: no`` stays the text "no"),
    no implicit timestamps (``2024-01-01`` stays text), and constructor failures (a 5000-digit
    integer, a bad base64 value) reported with the node's position."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError, AttributeError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None


SafeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in list("yYnNoO"):
    SafeYamlLoader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in SafeYamlLoader.yaml_implicit_resolvers.get(_first, []) if tag != "tag:yaml.org,2002:bool"
    ]
SafeYamlLoader.yaml_implicit_resolvers = {k: v for k, v in SafeYamlLoader.yaml_implicit_resolvers.items() if v}


class YamlDocument:
    """One YAML text and the node tree it was read from: ``read_yaml`` returns plain data, and
    ``line_at`` maps a pydantic-style location in that data back to its line."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        self.root: Node | None = None
        self.line: int | None = None  # the best line known so far, for unexpected failures

    def error(self, message: str, line: int | None) -> InputError:
        return InputError(message, self.path, line)

    def node_at(self, loc: tuple[Any, ...]) -> tuple[Node | None, Node | None]:
        """The deepest node along ``loc`` (pydantic-style path) and the key node that led to it.

        Path parts that match nothing (pydantic's union tags, a missing key) are skipped.
        """
        node, key = self.root, None
        for part in loc:
            if isinstance(node, MappingNode):
                found = None
                for k, v in node.value:
                    if isinstance(k, ScalarNode) and k.value == str(part):
                        found = (k, v)
                if found is not None:
                    key, node = found
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                key, node = None, node.value[part]
        return node, key

    def line_at(self, loc: tuple[Any, ...], at_key: bool = False) -> int | None:
        node, key = self.node_at(loc)
        target = key if (at_key and key is not None) else node
        return target.start_mark.line + 1 if target is not None else None

    def fail(self, loc: tuple[Any, ...], message: str, at_key: bool = False) -> InputError:
        return self.error(message, self.line_at(loc, at_key))

    def fail_first(self, problems: list[Any], prefix: tuple[Any, ...] = ()) -> InputError:
        """Of several problems (each with ``loc``, ``at_key`` and ``message``, as the checks'
        CheckConfigError), report the one highest in the file."""
        located = [(self.line_at(prefix + p.loc, p.at_key), n, p) for n, p in enumerate(problems)]
        line, _, problem = min(located, key=lambda t: (t[0] if t[0] is not None else 1 << 60, t[1]))
        return self.error(problem.message, line)


    def read_yaml(self) -> Any:
        loader = None
        try:
            loader = SafeYamlLoader(self.text)
            self.check_depth()
            self.root = loader.get_single_node()
            if self.root is None:
                return None
            self.check_tree(self.root)
            return loader.construct_document(self.root)
        except yaml.MarkedYAMLError as exc:
            raise self.yaml_error(exc) from None
        except yaml.reader.ReaderError as exc:
            line = self.text[: max(exc.position, 0)].count("\n") + 1
            char = exc.character if isinstance(exc.character, str) else chr(exc.character)
            raise self.error(f"special character {char!r} (U+{ord(char):04X}) is not allowed in YAML", line) from None
        except yaml.YAMLError as exc:
            raise self.error(f"YAML error: {exc}", self.line) from None
        finally:
            if loader is not None:
                loader.dispose()

    def yaml_error(self, exc: yaml.MarkedYAMLError) -> InputError:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        syntax = isinstance(exc, (yaml.scanner.ScannerError, yaml.parser.ParserError))
        what = "YAML syntax error" if syntax else "YAML error"
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        message = f"{what}: {problem}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return self.error(message, line)

    def check_depth(self) -> None:
        """Refuse absurd nesting before the (recursive) composer sees it."""
        opens = (
            yaml.BlockSequenceStartToken,
            yaml.BlockMappingStartToken,
            yaml.FlowSequenceStartToken,
            yaml.FlowMappingStartToken,
        )
        closes = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)
        depth = 0
        for token in yaml.scan(self.text, Loader=SafeYamlLoader):
            if isinstance(token, opens):
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.error(f"nested more than {MAX_DEPTH} levels deep", token.start_mark.line + 1)
            elif isinstance(token, closes):
                depth -= 1

    def check_tree(self, root: Node) -> None:
        """Duplicate keys, recursive aliases, and size/depth after alias expansion."""
        size: dict[int, int] = {}
        depth: dict[int, int] = {}
        state: dict[int, int] = {}  # 1: on the current path, 2: done
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            nid = id(node)
            kids = list(_children(node))
            if leaving:
                size[nid] = 1 + sum(size[id(k)] for k in kids)
                depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
                state[nid] = 2
                if size[nid] > MAX_NODES:
                    raise self.error(
                        f"the document expands to more than {MAX_NODES} values (an alias bomb?); "
                        "use fewer aliases",
                        node.start_mark.line + 1,
                    )
                if depth[nid] > MAX_DEPTH:
                    raise self.error(f"aliases nest more than {MAX_DEPTH} levels deep", node.start_mark.line + 1)
                continue
            seen = state.get(nid)
            if seen == 2:
                continue
            if seen == 1:
                raise self.error("an alias refers to a value that contains it (a recursive alias)", node.start_mark.line + 1)
            state[nid] = 1
            if isinstance(node, MappingNode):
                self.check_duplicates(node)
            stack.append((node, True))
            stack.extend((k, False) for k in kids)

    def check_duplicates(self, node: MappingNode) -> None:
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            line = key.start_mark.line + 1
            ident = (key.tag, key.value)
            if ident in first:
                raise self.error(f"duplicate key {key.value!r} (first given at line {first[ident]})", line)
            first[ident] = line


    def line_in_text(self, loc: tuple[Any, ...], text: str, needle: str | None) -> int | None:
        """The line of ``needle`` inside a scalar: exact for literal blocks (``|``), else the
        scalar's first line."""
        node, _ = self.node_at(loc)
        if node is None:
            return None
        line = node.start_mark.line + 1
        if isinstance(node, ScalarNode) and node.style == "|" and needle:
            at = text.find(needle)
            if at >= 0:
                return line + 1 + text.count("\n", 0, at)
        return line


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            yield k
            yield v
    elif isinstance(node, SequenceNode):
        yield from node.value


def load_yaml_with_lines(text: str, path: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML; return the data and the line (1-based) of every mapping key and value path.

    Duplicate keys are an error (PyYAML would keep the last one silently).
    """
    loader = SafeYamlLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        loader.dispose()
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

    try:
        if node is None:
            return None, lines
        walk(node, ())
        return loader.construct_document(node), lines  # from the tree just walked: parsed once
    finally:
        loader.dispose()


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
