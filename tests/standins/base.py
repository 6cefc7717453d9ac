"""A stand-in server: a Starlette app under uvicorn in a background thread of the test process,
so a test can script faults and read back exactly what the client sent."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request

from conftest import free_port

# What the next requests to a generation endpoint do, in order; "ok" when the script is empty.
FAULTS = ("ok", "429", "500", "drop", "hang", "malformed", "auth")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StandInState:
    reply: str = "The capital of France is Paris."
    reasoning: str = ""  # openai stand-in: streamed first as reasoning_content deltas (vLLM, llama-server)
    faults: deque = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    chunk_delay_s: float = 0.0  # between streamed chunks (lets a test see concurrency)
    prefill_s_per_token: float = 0.0  # openai stand-in: before the first chunk, per prompt token not cached
    retry_after: str = "1"
    expected_key: str | None = None  # when set, other keys get the vendor's 401
    # Tool use: scripted replies, one per generation request: {"content": text} or
    # {"tool_calls": [{"name": ..., "arguments": JSON text as the model wrote it}]}; when none are
    # left, ``forever`` (a model that never stops calling) or the plain ``reply``.
    scripted: deque = field(default_factory=deque)
    forever: dict | None = None

    # Prefix caching as the servers do it (off unless a test turns it on): each prompt's tokens
    # (the stand-ins count words) are kept, and a later prompt's longest shared prefix with a kept
    # one is what the server reports as cached.
    prefix_cache: bool = False
    seen_prompts: list = field(default_factory=list)  # (cache key, tokens)

    def cached_prefix(self, tokens: list[str], key: str | None = None, previous_only: bool = False) -> int:
        """Tokens of ``tokens`` a server would take from its cache: the longest prefix shared with an
        earlier prompt of the same key (only the previous prompt: one slot, as llama-server and
        Ollama with one parallel request), never the whole prompt (its last token is evaluated)."""
        if not self.prefix_cache:
            return 0
        earlier = [t for k, t in self.seen_prompts if k == key]
        if previous_only:
            earlier = earlier[-1:]
        self.seen_prompts.append((key, tokens))
        best = 0
        for old in earlier:
            n = 0
            for a, b in zip(old, tokens):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        return min(best, max(0, len(tokens) - 1))

    def next_fault(self) -> str:
        return self.faults.popleft() if self.faults else "ok"

    def script(self, *faults: str) -> None:
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self.faults.extend(faults)

    def next_reply(self) -> dict:
        if self.scripted:
            return self.scripted.popleft()
        return self.forever or {"content": self.reply}

    def words(self, text: str | None = None) -> list[str]:
        """The reply in streaming pieces: one word (with its leading space) per chunk."""
        parts = (self.reply if text is None else text).split(" ")
        return [parts[0]] + [" " + p for p in parts[1:]]


async def record(state: StandInState, request: Request) -> Any:
    try:
        body = await request.json()
    except Exception:  # noqa: BLE001 - GETs and bodies that are not JSON
        body = None
    state.requests.append(Recorded(request.method, request.url.path, dict(request.headers), body))
    return body


class Tracked:
    """Counts streams in flight, so a test can check the client's concurrency."""

    def __init__(self, state: StandInState):
        self.state = state

    def __enter__(self):
        self.state.in_flight += 1
        self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)

    def __exit__(self, *exc):
        self.state.in_flight -= 1


async def pause(state: StandInState) -> None:
    if state.chunk_delay_s:
        await asyncio.sleep(state.chunk_delay_s)


class Dropped(Exception):
    """Raised inside a streaming body: uvicorn closes the connection before the body ends."""


class StandInServer:
    def __init__(self, app: Starlette, state: StandInState):
        self.app, self.state = app, state
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical",
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "StandInServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def posted(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == "POST" and r.path.endswith(path_suffix)]


# --- images, checked against each vendor's documented request format ---------------------------

_MIME_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}


def _decode_image(data: str, mime: str | None) -> str | None:
    """Base64 text -> None if it is a real image (of the declared type), else what is wrong."""
    import base64
    import binascii
    import io

    from PIL import Image

    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return "image data is not valid base64"
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the client's fault here
        return f"image data does not decode: {exc}"
    if mime is not None and _MIME_FORMAT.get(mime) != img.format:
        return f"media type {mime} but the bytes are {img.format}"
    return None


def openai_image_problem(body: dict) -> str | None:
    """Chat Completions: content is text or a list of parts {type: text, text} and {type: image_url,
    image_url: {url: "data:<mime>;base64,<data>", detail?: low|high|auto}}."""
    for m in body.get("messages") or []:
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                continue
            if part.get("type") != "image_url" or set(part) != {"type", "image_url"}:
                return f"unknown content part {sorted(part)}"
            url = part["image_url"]
            if not isinstance(url, dict) or not set(url) <= {"url", "detail"} or url.get("detail") not in (
                    None, "low", "high", "auto"):
                return "image_url must be {url, detail?: low|high|auto}"
            head, sep, data = url["url"].partition(";base64,")
            if not sep or not head.startswith("data:image/"):
                return "image_url.url must be a data URL: data:image/...;base64,..."
            problem = _decode_image(data, head.removeprefix("data:"))
            if problem:
                return problem
    return None


def anthropic_image_problem(body: dict) -> str | None:
    """Messages API: {type: image, source: {type: base64, media_type, data}} blocks."""
    for m in body.get("messages") or []:
        if not isinstance(m.get("content"), list):
            continue
        for block in m["content"]:
            if block.get("type") != "image":
                continue
            source = block.get("source") or {}
            if set(source) != {"type", "media_type", "data"} or source["type"] != "base64":
                return "messages.content.source: expected {type: base64, media_type, data}"
            if source["media_type"] not in _MIME_FORMAT:
                return f"messages.content.source.media_type: {source['media_type']!r} is not supported"
            problem = _decode_image(source["data"], source["media_type"])
            if problem:
                return problem
    return None


def ollama_image_problem(body: dict) -> str | None:
    """/api/chat: a message's ``images`` is a list of base64 strings; its content stays text."""
    for m in body.get("messages") or []:
        if not isinstance(m.get("content", ""), str):
            return "message content must be a string"
        for data in m.get("images") or []:
            if not isinstance(data, str):
                return "images must be base64 strings"
            problem = _decode_image(data, None)
            if problem:
                return problem
    return None


def text_of(content) -> str:
    """The text of a message's content, whether a string or a list of parts/blocks."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""
