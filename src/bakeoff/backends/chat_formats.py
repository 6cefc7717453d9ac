"""Turn formats for GGUFs without a chat template (the llamacpp backend's fallbacks, or the
``chat_format`` option's choice), and tool-use messages in the shape chat templates read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def gemma_prompt(messages: list[dict[str, str]]) -> str:
    """Gemma 2/3 turn format; Gemma has no system role, so the system text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out = ["<bos>"]
    first_user = True
    for m in messages:
        if m["role"] == "system":
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"]
        if role == "user" and first_user and system:
            content = f"{system}\n\n{content}"
        first_user = first_user and role != "user"
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def gemma4_prompt(messages: list[dict[str, str]]) -> str:
    out = ["<bos>"]
    for m in messages:
        role = "model" if m["role"] == "assistant" else m["role"]
        out.append(f"<|turn>{role}\n{m['content']}<turn|>\n")
    out.append("<|turn>model\n")
    return "".join(out)


def chatml_prompt(messages: list[dict[str, str]]) -> str:
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def template_message(m: dict[str, Any]) -> dict[str, Any]:
    """A neutral tool-use message (bakeoff.tools.calls) as chat templates read it: tool_calls in
    the Chat Completions shape with the arguments as a mapping (templates apply ``tojson``)."""
    if m["role"] == "assistant" and m.get("tool_calls"):
        calls = [{"id": c["id"], "type": "function",
                  "function": {"name": c["name"] or "", "arguments": c.get("arguments") if c.get("arguments") is not None
                               else c.get("arguments_raw", "")}} for c in m["tool_calls"]]
        return {"role": "assistant", "content": m.get("content") or "", "tool_calls": calls}
    if m["role"] == "tool":
        return {"role": "tool", "tool_call_id": m.get("tool_call_id"), "name": m.get("name"), "content": m["content"]}
    return m


FALLBACKS: dict[str, Callable[[list[dict[str, str]]], str]] = {
    "gemma": gemma_prompt, "gemma4": gemma4_prompt, "chatml": chatml_prompt,
}
