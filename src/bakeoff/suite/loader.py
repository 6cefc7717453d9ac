"""Load a suite file into a Suite, or fail with one ``file:line: message``.

Steps: read the bytes (UTF-8), scan the YAML to refuse absurd nesting, compose the node tree
(it keeps the line of every value), refuse duplicate keys, recursive aliases and alias bombs,
construct plain Python data, validate it with the pydantic models of ``schema.py``, then check
what a schema cannot say and build the Case objects. Every error is an InputError that names
the file and the line of the deepest node the problem could be traced to.
"""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bakeoff.checks import CheckConfigError, build_check
from bakeoff.checks.base import CheckSpec, dotted, validation_problems
from bakeoff.errors import InputError
from bakeoff.suite.images import attach_images
from bakeoff.suite.probes import expand_probe
from bakeoff.suite.schema import Case, CaseModel, ContenderRef, DefaultsModel, Suite, SuiteModel, Turn, TurnModel
from bakeoff.suite.tool_use import case_tools
from bakeoff.util.yaml_lines import YamlDocument

MAX_BYTES = 20 * 1024 * 1024

# Tests turn this off so that a bug surfaces as itself instead of as an InputError.
_CATCH_ALL = True


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
    loader = SuiteLoader(text, path, base_dir, contenders_ready)
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


class SuiteLoader(YamlDocument):
    """A suite's YAML document turned into a Suite: validated by the pydantic models, then checked
    for what a schema cannot say, each problem at its line."""

    def __init__(self, text: str, path: str, base_dir: Path | None, contenders_ready: bool = True):
        super().__init__(text, path)
        self.contenders_ready = contenders_ready
        self.base_dir = base_dir

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
                turns, probe = expand_probe(self, cm.probe, vars_, loc + ("probe",), case_id)
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
        image_error = attach_images(self, cm, convo, loc)
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
        tools, functions, sources, agent = case_tools(self, cm, loc, checks)

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
