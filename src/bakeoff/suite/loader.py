"""Load a suite file into a Suite, or fail with one ``file:line: message``.

Steps: read the bytes (UTF-8), scan the YAML to refuse absurd nesting, compose the node tree
(it keeps the line of every value), refuse duplicate keys, recursive aliases and alias bombs,
construct plain Python data, validate it with the pydantic models of ``schema.py``, then check
what a schema cannot say and build the Case objects. Every error is an InputError that names
the file and the line of the deepest node the problem could be traced to.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bakeoff.checks import CheckConfigError, build_check
from bakeoff.checks.base import CheckSpec, dotted, validation_problems
from bakeoff.errors import InputError
from bakeoff.suite.probes import generated_distractors
from bakeoff.suite.schema import (
    Case,
    CaseModel,
    ContenderRef,
    DefaultsModel,
    GenerateModel,
    ProbeModel,
    Suite,
    SuiteModel,
    Turn,
    TurnModel,
    _user_turn,
)

MAX_BYTES = 20 * 1024 * 1024
MAX_NODES = 100_000  # after alias expansion
MAX_DEPTH = 100

# Tests turn this off so that a bug surfaces as itself instead of as an InputError.
_CATCH_ALL = True

_MERGE_TAG = "tag:yaml.org,2002:merge"
_DROPPED_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}


class _YamlLoader(yaml.SafeLoader):
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


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in list("yYnNoO"):
    _YamlLoader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in _YamlLoader.yaml_implicit_resolvers.get(_first, []) if tag != "tag:yaml.org,2002:bool"
    ]
_YamlLoader.yaml_implicit_resolvers = {k: v for k, v in _YamlLoader.yaml_implicit_resolvers.items() if v}


def load_suite(path: str | Path, contenders_ready: bool = True) -> Suite:
    """Load and validate a suite file; raise InputError (``file:line: message``) if it is wrong.
    ``contenders_ready=False`` (the command line names its own contenders) checks the suite's
    contender specs but not whether their models or keys are there."""
    label = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError("is a directory, not a suite file", label)
        if not p.exists():
            raise InputError("suite file not found", label)
        if not p.is_file():
            raise InputError("not a regular file", label)
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except InputError:
        raise
    except PermissionError:
        raise InputError("cannot read the suite file: permission denied", label) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the suite file: {exc}", label) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"suite file is larger than {MAX_BYTES // (1024 * 1024)} MiB", label)
    text = _decode(data, label)
    return parse_suite(text, label, base_dir=p.resolve().parent, contenders_ready=contenders_ready)


def load_default_suite() -> Suite:
    """The suite packaged with bakeoff (``bakeoff/suite/default.yaml``)."""
    ref = resources.files("bakeoff.suite").joinpath("default.yaml")
    with resources.as_file(ref) as path:
        return load_suite(path)


def parse_suite(text: str, path: str = "<suite>", base_dir: Path | None = None,
                contenders_ready: bool = True) -> Suite:
    """Load a suite from text. ``path`` names it in errors; ``base_dir`` is where python
    checks and schema files are looked up (default: the current directory)."""
    loader = _SuiteLoader(text, path, base_dir, contenders_ready)
    if not _CATCH_ALL:
        return loader.load()
    try:
        return loader.load()
    except InputError:
        raise
    except RecursionError:
        raise InputError("the suite is nested too deeply", path, loader.line) from None
    except MemoryError:
        raise InputError("the suite is too large to load", path, loader.line) from None
    except Exception as exc:  # the promise: bad input never gives a traceback
        raise InputError(f"cannot load the suite: {type(exc).__name__}: {exc}", path, loader.line) from None


def _decode(data: bytes, label: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("the suite file is UTF-16; save it as UTF-8", label, 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} at column {col} cannot be decoded; save the file as UTF-8",
            label,
            line,
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


class _SuiteLoader:
    def __init__(self, text: str, path: str, base_dir: Path | None, contenders_ready: bool = True):
        self.text = text
        self.contenders_ready = contenders_ready
        self.path = path
        self.base_dir = base_dir
        self.root: Node | None = None
        self.line: int | None = None  # the best line known so far, for unexpected failures

    # -- errors -------------------------------------------------------------------------------

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

    def fail_first(self, problems: list[CheckConfigError], prefix: tuple[Any, ...] = ()) -> InputError:
        """Of several problems, report the one highest in the file."""
        located = [(self.line_at(prefix + p.loc, p.at_key), n, p) for n, p in enumerate(problems)]
        line, _, problem = min(located, key=lambda t: (t[0] if t[0] is not None else 1 << 60, t[1]))
        return self.error(problem.message, line)

    # -- YAML ---------------------------------------------------------------------------------

    def load(self) -> Suite:
        data = self.read_yaml()
        if self.root is None or data is None:
            raise self.error("the suite file is empty; it needs a 'cases:' list", 1)
        if not isinstance(data, dict):
            kind = "a list" if isinstance(data, list) else f"the value {str(data)[:40]!r}"
            raise self.error(
                f"the suite file must be a mapping with a 'cases:' list at the top level (found {kind})",
                self.root.start_mark.line + 1,
            )
        # Top-level keys starting with "x-" are free for the author (a place for YAML anchors).
        data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        try:
            model = SuiteModel.model_validate(data)
        except ValidationError as exc:
            problems = validation_problems(exc, SuiteModel, "the suite file")
            for p in problems:
                if p.at_key and len(p.loc) == 1 and p.message.startswith("unknown key"):
                    p.message += " (keys starting with 'x-' are free, e.g. to hold YAML anchors)"
            raise self.fail_first(problems) from None
        return self.build(model)

    def read_yaml(self) -> Any:
        loader = None
        try:
            loader = _YamlLoader(self.text)
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
        for token in yaml.scan(self.text, Loader=_YamlLoader):
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

    # -- meaning ------------------------------------------------------------------------------

    def build(self, model: SuiteModel) -> Suite:
        contenders = [self.contender(i, raw) for i, raw in enumerate(model.contenders or [])]
        defaults = model.defaults or DefaultsModel()
        if not model.cases:
            raise self.fail(("cases",), "'cases' is empty; add at least one case")
        cases: list[Case] = []
        ids: dict[str, int | None] = {}
        for i, cm in enumerate(model.cases):
            case = self.case(i, cm, defaults)
            if case.id in ids:
                where = f" (first at line {ids[case.id]})" if ids[case.id] else ""
                loc = ("cases", i, "id") if cm.id is not None else ("cases", i)
                raise self.fail(loc, f"duplicate case id {case.id!r}{where}")
            ids[case.id] = case.line
            cases.append(case)
        return Suite(path=self.path, contenders=contenders, cases=cases)

    def contender(self, i: int, raw: str) -> ContenderRef:
        from bakeoff.spec import parse_contender

        line = self.line_at(("contenders", i))
        self.line = line
        try:
            spec = parse_contender(raw, ready=self.contenders_ready)
        except InputError as exc:
            msg = exc.message
            if raw.strip() not in msg:
                msg = f"contender {raw.strip()!r}: {msg}"
            raise self.error(msg, line) from None
        except Exception as exc:
            raise self.error(f"contender {raw.strip()!r}: {type(exc).__name__}: {exc}", line) from None
        return ContenderRef(spec=spec, line=line)

    def case(self, i: int, cm: CaseModel, d: DefaultsModel) -> Case:
        loc = ("cases", i)
        line = self.line_at(loc)
        self.line = line
        case_id = cm.id if cm.id is not None else f"case-{i + 1}"
        if not case_id.strip() or "\n" in case_id or len(case_id) > 200:
            raise self.fail(loc + ("id",), "a case id must be one line of 1 to 200 characters")

        given = [k for k in ("prompt", "messages", "turns", "probe") if getattr(cm, k) is not None]
        if len(given) > 1:
            raise self.fail(loc + (given[1],), f"a case has {given[0]!r} or {given[1]!r}, not both "
                            "(one of 'prompt', 'messages', 'turns', 'probe')", at_key=True)
        if not given:
            raise self.fail(loc, "the case has neither 'prompt' nor 'messages'; give one of them "
                            "(or 'turns' for a conversation, 'probe' for a consistency probe)")

        vars_ = cm.vars
        turns: list[Turn] = []
        probe = None
        if cm.turns is not None or cm.probe is not None:
            if cm.checks:
                where = "its turns ('checks:' under a turn)" if cm.turns is not None else "'truth:' of the probe"
                raise self.fail(loc + ("checks",), f"a conversation case has no case-level checks; put them on {where}",
                                at_key=True)
            if cm.turns is not None:
                turns = self.turns(cm.turns, vars_, loc)
            else:
                assert cm.probe is not None
                turns, probe = self.probe(cm.probe, vars_, loc + ("probe",), case_id)
            convo = [{"role": "user", "content": turns[0].user}]
        elif cm.prompt is not None:
            convo = [{"role": "user", "content": self.render(cm.prompt, vars_, loc + ("prompt",))}]
        else:
            assert cm.messages is not None
            if not cm.messages:
                raise self.fail(loc + ("messages",), "'messages' is empty; give at least one user message")
            convo = []
            for j, m in enumerate(cm.messages):
                mloc = loc + ("messages", j)
                if m.role == "system" and j > 0:
                    raise self.fail(mloc + ("role",), "a system message must come first")
                convo.append({"role": m.role, "content": self.render(m.content, vars_, mloc + ("content",))})
            if convo[-1]["role"] != "user":
                raise self.fail(
                    loc + ("messages", len(convo) - 1, "role"),
                    f"the last message must have role 'user' (it is {convo[-1]['role']!r}): it is what the model answers",
                )
        image_error = self.attach_images(cm, convo, loc)
        own_system = convo[0]["role"] == "system"
        if "system" in cm.model_fields_set:
            if own_system:
                raise self.fail(
                    loc + ("system",), "the system prompt is given twice: as 'system' and as the first message", at_key=True
                )
            system = cm.system
        else:
            system = None if own_system else d.system
        if system:
            convo.insert(0, {"role": "system", "content": system})

        checks = self.checks(cm.checks, loc + ("checks",))
        tools, functions, sources, agent = self.tool_use(cm, loc, checks)

        return Case(
            id=case_id,
            messages=convo,
            max_tokens=cm.max_tokens if cm.max_tokens is not None else d.max_tokens,
            temperature=float(cm.temperature if cm.temperature is not None else d.temperature),
            tags=list(cm.tags),
            checks=checks,
            pass_threshold=float(cm.pass_threshold if cm.pass_threshold is not None else d.pass_threshold),
            line=line,
            vars=dict(vars_ or {}),
            turns=turns,
            probe=probe,
            tools=tools,
            tool_functions=functions,
            tool_sources=sources,
            agent=agent,
            image_error=image_error,
        )

    def attach_images(self, cm: CaseModel, convo: list[dict[str, Any]], loc: tuple[Any, ...]) -> str | None:
        """Check the case's images and put them on their user messages; return why one of them
        cannot be sent (an error for this case only), or None. A missing file is an InputError."""
        from bakeoff.suite.images import ImageProblem, check_image

        wanted: list[tuple[int, list[str], tuple[Any, ...]]] = []  # (message index, paths, location)
        if cm.images is not None:
            if cm.turns is not None or cm.probe is not None:
                raise self.fail(loc + ("images",), "images attach to 'prompt' or to a user message in 'messages'; "
                                "conversation cases ('turns', 'probe') take none", at_key=True)
            last_user = max(i for i, m in enumerate(convo) if m["role"] == "user")
            wanted.append((last_user, cm.images, loc + ("images",)))
        for j, m in enumerate(cm.messages or []):
            if m.images is not None:
                if m.role != "user":
                    raise self.fail(loc + ("messages", j, "images"), f"images attach to user messages, not {m.role!r}",
                                    at_key=True)
                wanted.append((j, m.images, loc + ("messages", j, "images")))
        error = None
        for index, paths, iloc in wanted:
            if not paths:
                raise self.fail(iloc, "'images' is empty; list image files or leave it out")
            refs = []
            for k, written in enumerate(paths):
                path = (self.base_dir or Path.cwd()) / written
                if not path.is_file():
                    raise self.fail(iloc + (k,), f"image file {written!r} not found (looked for {path})")
                try:
                    refs.append(check_image(path.resolve(), written).to_dict())
                except ImageProblem as exc:
                    error = error or str(exc)
                    refs.append({"path": str(path.resolve()), "as_written": written, "sha256": exc.sha256,
                                 "problem": str(exc)})
            convo[index]["images"] = convo[index].get("images", []) + refs
        return error

    def tool_use(self, cm: CaseModel, loc: tuple[Any, ...], checks: list[CheckSpec]):
        """The case's declared tools, their Python functions and its agent loop, checked: names
        unique, schemas valid, functions importable, the repository a directory inside reach,
        tool checks naming declared tools."""
        import jsonschema

        from bakeoff.checks.python_check import import_function
        from bakeoff.tools.repo import REPO_TOOLS

        if (cm.tools is not None or cm.agent is not None) and (cm.turns is not None or cm.probe is not None):
            key = "tools" if cm.tools is not None else "agent"
            raise self.fail(loc + (key,), "tools and agent loops are not available in conversation cases "
                            "('turns', 'probe'); use 'prompt' or 'messages'", at_key=True)
        tools: list[dict[str, Any]] = []
        functions: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for j, tm in enumerate(cm.tools or []):
            tloc = loc + ("tools", j)
            if tm.name in seen:
                raise self.fail(tloc + ("name",), f"duplicate tool name {tm.name!r} (tool {seen[tm.name] + 1} has it too)")
            seen[tm.name] = j
            try:
                jsonschema.Draft202012Validator.check_schema(tm.parameters)
            except jsonschema.SchemaError as exc:
                raise self.fail(tloc + ("parameters",), f"tool {tm.name!r}: parameters is not a valid JSON Schema: "
                                f"{exc.message}") from None
            if tm.parameters.get("type", "object") != "object":
                raise self.fail(tloc + ("parameters",), f"tool {tm.name!r}: parameters must be an object schema "
                                "(type: object); a call's arguments are a mapping")
            tools.append({"name": tm.name, "description": tm.description, "parameters": tm.parameters})
            if tm.python is not None:
                try:
                    functions[tm.name], _, sha = import_function(tm.python, self.base_dir, any_arity=True)
                except CheckConfigError as exc:
                    raise self.fail(tloc + ("python",), f"tool {tm.name!r}: {exc.message}") from None
                sources[tm.name] = {"function": tm.python, "source_sha256": sha}
        agent = None
        if cm.agent is not None:
            aloc = loc + ("agent",)
            agent = {"max_steps": cm.agent.max_steps, "repo": None, "repo_as_written": cm.agent.repo,
                     "tool_timeout_s": cm.agent.tool_timeout_s}
            if cm.agent.repo is not None:
                repo = (self.base_dir or Path.cwd()) / cm.agent.repo
                if not repo.is_dir():
                    raise self.fail(aloc + ("repo",), f"agent repo {cm.agent.repo!r} is not a directory "
                                    f"(looked for {repo})")
                agent["repo"] = str(repo.resolve())
                for t in REPO_TOOLS:
                    if t["name"] in seen:
                        raise self.fail(loc + ("tools", seen[t["name"]], "name"), f"tool name {t['name']!r} is "
                                        "taken by the built-in repository tools of 'agent: repo'")
                    tools.append(dict(t))
            if not tools:
                raise self.fail(aloc, "an agent loop needs tools: 'tools' with python functions, or 'agent: {repo: DIR}'")
            missing = [t["name"] for t in tools[:len(cm.tools or [])] if t["name"] not in functions]
            if missing:
                j = seen[missing[0]]
                raise self.fail(loc + ("tools", j), f"tool {missing[0]!r} has no 'python: module:function'; "
                                "an agent loop runs every tool it offers")
        names = {t["name"] for t in tools}
        for j, spec in enumerate(checks):
            inner = spec.inner or spec
            if not getattr(inner.check, "reads_tool_calls", False):
                continue
            if not tools:
                raise self.error(f"a {inner.kind} check needs the case to declare 'tools'", spec.line)
            wanted = [getattr(inner.check.params, "name", None)] + list(getattr(inner.check.params, "names", None) or [])
            unknown = [n for n in wanted if n is not None and n not in names]
            if unknown:
                raise self.error(f"{inner.kind} check names {unknown[0]!r}, which the case does not declare "
                                 f"(tools: {', '.join(sorted(names))})", spec.line)
        return tools, functions, sources, agent

    def checks(self, entries: list[Any], loc: tuple[Any, ...]) -> list[CheckSpec]:
        checks = []
        for j, entry in enumerate(entries):
            cloc = loc + (j,)
            try:
                spec = build_check(entry, self.base_dir)
            except CheckConfigError as exc:
                raise self.fail_first([exc, *exc.others], cloc) from None
            spec.line = self.line_at(cloc)
            checks.append(spec)
        return checks

    def user_text(self, text: str, vars_: dict[str, str] | None, loc: tuple[Any, ...]) -> str:
        text = self.render(text, vars_, loc)
        if not text.strip():
            raise self.fail(loc, "the user text of a turn is empty")
        return text

    def turns(self, models: list[TurnModel], vars_: dict[str, str] | None, loc: tuple[Any, ...]) -> list[Turn]:
        if not models:
            raise self.fail(loc + ("turns",), "'turns' is empty; give at least one user turn")
        out = []
        for j, tm in enumerate(models):
            tloc = loc + ("turns", j)
            out.append(Turn(user=self.user_text(tm.user, vars_, tloc + ("user",)),
                            checks=self.checks(tm.checks, tloc + ("checks",)), line=self.line_at(tloc)))
        return out

    def probe(self, pm: ProbeModel, vars_: dict[str, str] | None, loc: tuple[Any, ...],
              case_id: str) -> tuple[list[Turn], dict[str, Any]]:
        """Expand a consistency probe into its turns: establish, distractors, and the question(s)
        again. Several paraphrases of the question are spread evenly through the distractors,
        the last one at the end."""
        truth = self.truth(pm.truth, loc + ("truth",)) if "truth" in pm.model_fields_set else []
        if pm.establish.truth and not truth:
            raise self.fail(loc + ("establish", "truth"), "'truth: true' checks the first reply against the "
                            "probe's truth, but the probe has no 'truth:'", at_key=True)
        eloc = loc + ("establish",)
        est_checks = self.checks(pm.establish.checks, eloc + ("checks",))
        est_user_loc = eloc + ("user",) if isinstance(self.node_at(eloc)[0], MappingNode) else eloc
        establish = Turn(user=self.user_text(pm.establish.user, vars_, est_user_loc),
                         checks=(truth if pm.establish.truth else []) + est_checks, role="establish",
                         line=self.line_at(eloc))

        distractors: list[Turn] = []
        raw, dloc = pm.distractors, loc + ("distractors",)
        if isinstance(raw, dict):
            try:
                gen = GenerateModel.model_validate(raw)
            except ValidationError as exc:
                raise self.fail_first(validation_problems(exc, GenerateModel, "distractors"), dloc) from None
            distractors = [Turn(user=text, role="distractor", line=self.line_at(dloc))
                           for text in generated_distractors(gen.generate, gen.seed, case_id)]
        elif isinstance(raw, list):
            for j, item in enumerate(raw):
                try:
                    tm = TurnModel.model_validate(_user_turn(item))
                except ValidationError as exc:
                    raise self.fail_first(validation_problems(exc, TurnModel, "turn"), dloc + (j,)) from None
                except ValueError as exc:  # from _user_turn: neither text nor a mapping
                    raise self.fail(dloc + (j,), str(exc)) from None
                tloc = dloc + (j, "user") if isinstance(item, dict) else dloc + (j,)
                distractors.append(Turn(user=self.user_text(tm.user, vars_, tloc),
                                        checks=self.checks(tm.checks, dloc + (j, "checks")), role="distractor",
                                        line=self.line_at(dloc + (j,))))
        elif raw is not None:
            raise self.fail(dloc, "'distractors' is a list of user turns, or {generate: K} for K generated ones")

        listed = isinstance(self.node_at(loc + ("ask",))[0], SequenceNode)
        asks = [(self.user_text(text, vars_, aloc), self.line_at(aloc))
                for j, text in enumerate(pm.ask) for aloc in [loc + ("ask", j) if listed else loc + ("ask",)]]
        # Question j (of n) comes after the first round((j+1) * D / n) distractors.
        turns = [establish]
        done = 0
        for j, (text, line) in enumerate(asks):
            upto = round((j + 1) * len(distractors) / len(asks))
            turns += distractors[done:upto]
            done = upto
            turns.append(Turn(user=text, checks=list(truth), role="ask", line=line))
        return turns, {"establish_truth": bool(pm.establish.truth), "truth": [c.identity() for c in truth]}

    def truth(self, raw: Any, loc: tuple[Any, ...]) -> list[CheckSpec]:
        """Text (the reply contains it, any case), one check entry, or a list of check entries."""
        if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
            text = str(raw)
            if not text.strip():
                raise self.fail(loc, "'truth' is empty")
            return self._one_check({"contains": text}, loc)
        if isinstance(raw, dict):
            return self._one_check(raw, loc)
        if isinstance(raw, list) and raw:
            return self.checks(raw, loc)
        raise self.fail(loc, "'truth' is the expected answer: text the reply contains, a check "
                             "(e.g. {regex: '...'}), or a list of checks")

    def _one_check(self, entry: Any, loc: tuple[Any, ...]) -> list[CheckSpec]:
        try:
            spec = build_check(entry, self.base_dir)
        except CheckConfigError as exc:
            raise self.fail_first([exc, *exc.others], loc) from None
        spec.line = self.line_at(loc)
        return [spec]

    def render(self, text: str, vars_: dict[str, str] | None, loc: tuple[Any, ...]) -> str:
        """Fill ``{name}`` placeholders from the case's vars (only when it has vars).

        A case without ``vars`` is sent exactly as written, braces and all.
        """
        if vars_ is None:
            return text
        name = dotted(loc[2:])  # "prompt" or "messages[1].content"
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise self.error(
                f"{name}: {exc}; with vars, write {{{{ and }}}} for literal braces", self.line_in_text(loc, text, None)
            ) from None
        out: list[str] = []
        for literal, field, spec, conv in parts:
            out.append(literal)
            if field is None:
                continue
            raw = "{" + field + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            line = self.line_in_text(loc, text, raw)
            if not field.isidentifier() or spec or conv:
                raise self.error(
                    f"{name}: placeholder {raw} is not a plain {{name}}; with vars, write {{{{ and }}}} for literal braces",
                    line,
                )
            if field not in vars_:
                known = ", ".join(sorted(vars_)) or "none"
                raise self.error(
                    f"{name}: unknown placeholder {raw}; vars has: {known} (write {{{{ and }}}} for literal braces)",
                    line,
                )
            out.append(vars_[field])
        return "".join(out)

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
