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
