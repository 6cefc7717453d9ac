"""Tool calls as bakeoff keeps them, whatever the backend's wire format.

A call is a plain dict (it crosses the worker's JSON pipe and is stored as JSON)::

    {"id": "call_1", "name": "get_weather", "arguments_raw": '{"city": "Paris"}',
     "arguments": {"city": "Paris"} | None, "error": None | "why it could not be read"}

``arguments_raw`` is the text exactly as the model wrote it, so a malformed call is recorded as
such rather than crashing anything. Whether a call is *valid* (names a declared tool, arguments
match its schema) is decided against the case's tools by ``problem``, not by the backend.

Messages with tool use, in the backend-neutral form the backends translate from::

    {"role": "assistant", "content": "...", "tool_calls": [call, ...]}
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "result text"}

Hermes-style calls (``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``) are what the
Qwen2.5 chat template asks for, and the documented fallback format bakeoff prompts for when a
template has no tool syntax (NousResearch Hermes function calling, the same JSON shape).
Gemma 4's template asks for its own syntax, read by ``parse_gemma4``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)


def make_call(call_id: str, name: str | None, arguments_raw: Any) -> dict[str, Any]:
    """A call from a name and its arguments (text, or a mapping already decoded by the API)."""
    error = None
    if isinstance(arguments_raw, dict):
        arguments: dict | None = arguments_raw
        raw = json.dumps(arguments_raw)
    else:
        raw = "" if arguments_raw is None else str(arguments_raw)
        arguments = None
        try:
            decoded = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            error = f"arguments are not JSON: {exc.msg} at character {exc.pos}"
        else:
            if isinstance(decoded, dict):
                arguments = decoded
            else:
                error = f"arguments are JSON but not an object ({type(decoded).__name__})"
    if not name and error is None:
        error = "the call names no tool"
    return {"id": call_id, "name": name or None, "arguments_raw": raw, "arguments": arguments, "error": error}


def parse_hermes(text: str, first_id: int = 1) -> tuple[str, list[dict[str, Any]]]:
    """Split a reply into its prose and its ``<tool_call>`` blocks (an unclosed last block, cut
    by max_tokens, still counts: as a malformed call)."""
    calls = []
    if "<tool_call>" not in text:
        return _bare_calls(text, first_id)
    for n, match in enumerate(HERMES_CALL.finditer(text)):
        body = match.group(1).strip()
        call_id = f"call_{first_id + n}"
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            call = make_call(call_id, _name_guess(body), body)
            call["error"] = f"the tool call is not JSON: {exc.msg} at character {exc.pos}"
            call["arguments"] = None
            calls.append(call)
            continue
        if not isinstance(obj, dict):
            call = make_call(call_id, None, body)
            call.update(arguments=None, error="the tool call is JSON but not an object")
            calls.append(call)
            continue
        args = obj.get("arguments", obj.get("parameters", {}))
        name = obj.get("name")
        calls.append(make_call(call_id, name if isinstance(name, str) else None,
                               args if isinstance(args, (dict, str)) else json.dumps(args)))
    prose = HERMES_CALL.sub("", text).strip()
    return prose, calls


GEMMA4_CALL = re.compile(r"<\|tool_call>(.*?)(?:<tool_call\|>|$)", re.S)
GEMMA4_QUOTE = '<|"|>'


def parse_gemma4(text: str, first_id: int = 1) -> tuple[str, list[dict[str, Any]]]:
    """Split a reply into its prose and Gemma 4's native calls,
    ``<|tool_call>call:NAME{key:value,...}<tool_call|>``: keys bare, strings between ``<|"|>``
    marks, numbers, booleans and null as in JSON (the syntax of Gemma 4's chat template and of
    llama.cpp's gemma4 parser). An unclosed last call (cut by max_tokens) counts, as malformed;
    ``arguments_raw`` keeps the ``{...}`` text exactly as written."""
    calls = []
    for n, match in enumerate(GEMMA4_CALL.finditer(text)):
        body = match.group(1).strip()
        call_id = f"call_{first_id + n}"
        head = re.match(r"call:([^{\s]+)\s*", body)
        if head is None:
            call = make_call(call_id, None, body)
            call.update(arguments=None, error="the tool call does not start with call:NAME{")
        else:
            raw = body[head.end():]
            try:
                arguments = _Gemma4Value(raw).whole()
            except ValueError as exc:
                call = make_call(call_id, head.group(1), raw)
                call.update(arguments=None, error=f"the tool call is not in Gemma 4's call syntax: {exc}")
            else:
                call = make_call(call_id, head.group(1), arguments)
                call["arguments_raw"] = raw
        if not match.group(0).endswith("<tool_call|>"):
            call.update(arguments=None, error=call["error"] or "the tool call is not closed (cut off?)")
        calls.append(call)
    return GEMMA4_CALL.sub("", text).strip(), calls


def parse_calls(text: str, first_id: int = 1) -> tuple[str, list[dict[str, Any]]]:
    """Prose and calls of a reply whose call syntax is not known in advance: Gemma 4's when the
    reply has its ``<|tool_call>`` mark, else Hermes (tagged or bare JSON)."""
    return (parse_gemma4 if "<|tool_call>" in text else parse_hermes)(text, first_id)


def strip_call_markup(text: str) -> str:
    """The reply's prose without its tool-call markup, in any syntax bakeoff reads (in-process
    engines leave the markup in the text; a history sent back must not carry the calls twice)."""
    return parse_hermes(parse_gemma4(text)[0])[0]


class _Gemma4Value:
    """A small recursive-descent reader of Gemma 4's argument syntax (not JSON: keys are bare and
    strings are delimited by the ``<|"|>`` token, so a quote or brace inside a string is plain)."""

    NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def whole(self) -> dict[str, Any]:
        if not self.text.startswith("{"):
            raise ValueError("the arguments do not start with {")
        value = self.value()
        self.space()
        if self.pos != len(self.text):
            raise ValueError(f"unexpected text after the arguments at character {self.pos}")
        return value

    def space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def fail(self, what: str) -> ValueError:
        return ValueError(f"expected {what} at character {self.pos}")

    def value(self) -> Any:
        self.space()
        t, i = self.text, self.pos
        if t.startswith(GEMMA4_QUOTE, i):
            end = t.find(GEMMA4_QUOTE, i + len(GEMMA4_QUOTE))
            if end < 0:
                raise self.fail("a closing <|\"|>")
            self.pos = end + len(GEMMA4_QUOTE)
            return t[i + len(GEMMA4_QUOTE):end]
        if t.startswith("{", i):
            return self.sequence("}", self.member, dict)
        if t.startswith("[", i):
            return self.sequence("]", self.value, list)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if t.startswith(word, i):
                self.pos += len(word)
                return value
        number = self.NUMBER.match(t, i)
        if number is None:
            raise self.fail("a value")
        self.pos = number.end()
        return float(number.group()) if any(c in number.group() for c in ".eE") else int(number.group())

    def member(self) -> tuple[str, Any]:
        self.space()
        key = re.compile(r"[^:}]+").match(self.text, self.pos)  # llama.cpp's gemma4-dict-key-name
        if key is None or not self.text.startswith(":", key.end()):
            raise self.fail("key:value")
        self.pos = key.end() + 1
        return key.group().strip(), self.value()

    def sequence(self, close: str, item: Any, build: Any) -> Any:
        self.pos += 1
        items = []
        self.space()
        if self.text.startswith(close, self.pos):
            self.pos += 1
            return build(items)
        while True:
            items.append(item())
            self.space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith(close, self.pos):
                self.pos += 1
                return build(items)
            else:
                raise self.fail(f"',' or {close!r}")


FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def _bare_calls(text: str, first_id: int) -> tuple[str, list[dict[str, Any]]]:
    """Small models often drop the tags and write the call's JSON alone (an object, a list of
    objects, or one per line, maybe in a code fence). Only a reply that is nothing but such
    objects counts, each with name and arguments; the call says it was untagged."""
    body = text.strip()
    fenced = FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    objects: list[Any] = []
    try:
        value = json.loads(body)
        objects = value if isinstance(value, list) else [value]
    except json.JSONDecodeError:
        # One call per line; a line that starts like a call but does not parse (cut by
        # max_tokens) is a malformed call, anything else means the reply is prose.
        for line in (ln.strip() for ln in body.splitlines()):
            if not line:
                continue
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError:
                if not re.match(r'\{\s*"name"\s*:', line):
                    return text.strip(), []
                objects.append(line)
    if not objects or not all(isinstance(o, str) or (isinstance(o, dict) and isinstance(o.get("name"), str)
                                                     and "arguments" in o) for o in objects):
        return text.strip(), []
    calls = []
    for n, o in enumerate(objects):
        if isinstance(o, str):
            call = make_call(f"call_{first_id + n}", _name_guess(o), o)
            call.update(arguments=None, error="the tool call is not JSON (cut off?)")
        else:
            args = o["arguments"]
            call = make_call(f"call_{first_id + n}", o["name"], args if isinstance(args, (dict, str)) else json.dumps(args))
        call["note"] = "untagged: the reply was the call's JSON without <tool_call> tags"
        calls.append(call)
    return "", calls


def _name_guess(body: str) -> str | None:
    m = re.search(r'"name"\s*:\s*"([^"]+)"', body)
    return m.group(1) if m else None


def problem(call: dict[str, Any], tools: list[dict[str, Any]]) -> str | None:
    """Why a call is not well formed against the declared tools, or None when it is."""
    if call.get("error"):
        return call["error"]
    declared = {t["name"]: t for t in tools}
    if call["name"] not in declared:
        return f"calls {call['name']!r}, which is not a declared tool ({', '.join(sorted(declared)) or 'none'})"
    schema = declared[call["name"]].get("parameters") or {"type": "object"}
    try:
        jsonschema.validate(call["arguments"], schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path))
        return f"arguments do not match the schema of {call['name']}: {exc.message}" + (f" (at {where})" if where else "")
    except jsonschema.SchemaError as exc:  # the loader checks schemas; a belt for other callers
        return f"the tool's schema is invalid: {exc.message}"
    return None


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Declared tools in the Chat Completions shape (also what the Qwen2.5 template prints)."""
    return [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                              "parameters": t.get("parameters") or {"type": "object", "properties": {}}}}
            for t in tools]


def hermes_system_text(tools: list[dict[str, Any]]) -> str:
    """The fallback instruction for models whose chat template has no tool syntax (the text of
    the Qwen2.5 / Hermes templates, so the format is the documented one)."""
    listed = "\n".join(json.dumps(t) for t in openai_tools(tools))
    return ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            f"{listed}\n</tools>\n\nFor each function call, return a json object with function name and "
            "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')


def hermes_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Tool-use messages as plain text turns, for a template that knows only user/assistant/system."""
    out: list[dict[str, str]] = []
    system = hermes_system_text(tools) if tools else ""
    for m in messages:
        if m["role"] == "system":
            system = m["content"] + ("\n\n" + system if system else "")
            continue
        if m["role"] == "assistant" and m.get("tool_calls"):
            body = "".join(f'\n<tool_call>\n{json.dumps({"name": c["name"], "arguments": c.get("arguments") or {}})}\n</tool_call>'
                           for c in m["tool_calls"])
            out.append({"role": "assistant", "content": (m.get("content") or "") + body})
        elif m["role"] == "tool":
            text = f"<tool_response>\n{m['content']}\n</tool_response>"
            if out and out[-1]["role"] == "user" and out[-1]["content"].startswith("<tool_response>"):
                out[-1]["content"] += "\n" + text
            else:
                out.append({"role": "user", "content": text})
        else:
            out.append({"role": m["role"], "content": m.get("content") or ""})
    return ([{"role": "system", "content": system}] if system else []) + out
