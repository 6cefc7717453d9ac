"""A case's tools and agent loop, as a suite declares them: names unique, parameter schemas valid,
Python functions importable, the agent's repository a directory, tool checks naming declared
tools."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.checks import CheckConfigError
from bakeoff.checks.base import CheckSpec

if TYPE_CHECKING:
    from bakeoff.suite.loader import SuiteLoader
    from bakeoff.suite.schema import CaseModel


def case_tools(doc: SuiteLoader, cm: CaseModel, loc: tuple[Any, ...], checks: list[CheckSpec]):
    """The case's declared tools, their Python functions and its agent loop, checked: names
    unique, schemas valid, functions importable, the repository a directory inside reach,
    tool checks naming declared tools."""
    import jsonschema

    from bakeoff.checks.python_check import import_function
    from bakeoff.tools.repo import REPO_TOOLS

    if (cm.tools is not None or cm.agent is not None) and (cm.turns is not None or cm.probe is not None):
        key = "tools" if cm.tools is not None else "agent"
        raise doc.fail(loc + (key,), "tools and agent loops are not available in conversation cases "
                       "('turns', 'probe'); use 'prompt' or 'messages'", at_key=True)
    tools: list[dict[str, Any]] = []
    functions: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for j, tm in enumerate(cm.tools or []):
        tloc = loc + ("tools", j)
        if tm.name in seen:
            raise doc.fail(tloc + ("name",), f"duplicate tool name {tm.name!r} (tool {seen[tm.name] + 1} has it too)")
        seen[tm.name] = j
        try:
            jsonschema.Draft202012Validator.check_schema(tm.parameters)
        except jsonschema.SchemaError as exc:
            raise doc.fail(tloc + ("parameters",), f"tool {tm.name!r}: parameters is not a valid JSON Schema: "
                           f"{exc.message}") from None
        if tm.parameters.get("type", "object") != "object":
            raise doc.fail(tloc + ("parameters",), f"tool {tm.name!r}: parameters must be an object schema "
                           "(type: object); a call's arguments are a mapping")
        tools.append({"name": tm.name, "description": tm.description, "parameters": tm.parameters})
        if tm.python is not None:
            try:
                functions[tm.name], _, sha = import_function(tm.python, doc.base_dir, any_arity=True)
            except CheckConfigError as exc:
                raise doc.fail(tloc + ("python",), f"tool {tm.name!r}: {exc.message}") from None
            sources[tm.name] = {"function": tm.python, "source_sha256": sha}
    agent = None
    if cm.agent is not None:
        aloc = loc + ("agent",)
        agent = {"max_steps": cm.agent.max_steps, "repo": None, "repo_as_written": cm.agent.repo,
                 "tool_timeout_s": cm.agent.tool_timeout_s}
        if cm.agent.repo is not None:
            repo = (doc.base_dir or Path.cwd()) / cm.agent.repo
            if not repo.is_dir():
                raise doc.fail(aloc + ("repo",), f"agent repo {cm.agent.repo!r} is not a directory "
                               f"(looked for {repo})")
            agent["repo"] = str(repo.resolve())
            for t in REPO_TOOLS:
                if t["name"] in seen:
                    raise doc.fail(loc + ("tools", seen[t["name"]], "name"), f"tool name {t['name']!r} is "
                                   "taken by the built-in repository tools of 'agent: repo'")
                tools.append(dict(t))
        if not tools:
            raise doc.fail(aloc, "an agent loop needs tools: 'tools' with python functions, or 'agent: {repo: DIR}'")
        missing = [t["name"] for t in tools[:len(cm.tools or [])] if t["name"] not in functions]
        if missing:
            j = seen[missing[0]]
            raise doc.fail(loc + ("tools", j), f"tool {missing[0]!r} has no 'python: module:function'; "
                           "an agent loop runs every tool it offers")
    names = {t["name"] for t in tools}
    for j, spec in enumerate(checks):
        inner = spec.inner or spec
        if not getattr(inner.check, "reads_tool_calls", False):
            continue
        if not tools:
            raise doc.error(f"a {inner.kind} check needs the case to declare 'tools'", spec.line)
        wanted = [getattr(inner.check.params, "name", None)] + list(getattr(inner.check.params, "names", None) or [])
        unknown = [n for n in wanted if n is not None and n not in names]
        if unknown:
            raise doc.error(f"{inner.kind} check names {unknown[0]!r}, which the case does not declare "
                            f"(tools: {', '.join(sorted(names))})", spec.line)
    return tools, functions, sources, agent
