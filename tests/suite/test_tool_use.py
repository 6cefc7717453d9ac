"""bakeoff.suite.tool_use: a case's declared tools as the loader hands them on (schemas as
written, Python functions imported with their source's hash), an agent loop over a repository
(the directory resolved, the built-in repository tools added), and a tool of the suite's own
that takes a built-in tool's name refused. (The other refusals are in tests/checks/test_tool_checks.py.)"""

from __future__ import annotations

import hashlib

import pytest

from bakeoff.errors import InputError
from bakeoff.suite.loader import SuiteLoader
from bakeoff.suite.schema import SuiteModel
from bakeoff.suite.tool_use import case_tools
from bakeoff.tools.repo import REPO_TOOLS

WEATHER = "def weather(args):\n    return f\"{args['city']}: sunny\"\n"


def _tools(text: str, base_dir):
    loader = SuiteLoader(text, "suite.yaml", base_dir)
    case = SuiteModel.model_validate(loader.read_yaml()).cases[0]
    return case_tools(loader, case, ("cases", 0), [])


def test_tools_with_python_functions(tmp_path):
    (tmp_path / "mytools.py").write_text(WEATHER)
    text = ("cases:\n  - prompt: Weather in Paris?\n    tools:\n      - name: weather\n        description: the weather\n"
            "        parameters: {type: object, properties: {city: {type: string}}}\n        python: mytools:weather\n"
            "      - name: now\n")
    tools, functions, sources, agent = _tools(text, tmp_path)
    assert tools == [{"name": "weather", "description": "the weather",
                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                     {"name": "now", "description": tools[1]["description"], "parameters": tools[1]["parameters"]}]
    assert list(functions) == ["weather"] and functions["weather"]({"city": "Paris"}) == "Paris: sunny"
    assert sources == {"weather": {"function": "mytools:weather",
                                   "source_sha256": hashlib.sha256(WEATHER.encode()).hexdigest()}}
    assert agent is None  # a single-shot tool case


def test_an_agent_over_a_repository_gets_the_builtin_tools(tmp_path):
    (tmp_path / "repo").mkdir()
    tools, functions, _, agent = _tools("cases:\n  - prompt: Fix the bug.\n    agent: {repo: repo, max_steps: 7}\n",
                                        tmp_path)
    assert [t["name"] for t in tools] == [t["name"] for t in REPO_TOOLS]
    assert agent["repo"] == str((tmp_path / "repo").resolve()) and agent["repo_as_written"] == "repo"
    assert agent["max_steps"] == 7 and functions == {}


def test_a_tool_named_like_a_builtin_repository_tool_is_refused(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "mytools.py").write_text("def f(args):\n    return ''\n")
    name = REPO_TOOLS[0]["name"]
    text = (f"cases:\n  - prompt: x\n    tools:\n      - name: {name}\n        python: mytools:f\n"
            "    agent: {repo: repo}\n")
    with pytest.raises(InputError) as caught:
        _tools(text, tmp_path)
    assert f"tool name {name!r} is taken by the built-in repository tools" in caught.value.message
    assert caught.value.line == 4
