"""A stand-in for Ollama's native API (docs/api.md in github.com/ollama/ollama), for tests on
machines where Ollama's binary cannot run: GET /api/version, GET /api/tags, POST /api/show,
GET /api/ps and POST /api/chat streaming NDJSON, with load and unload by empty-messages requests.

Durations are nanoseconds, as Ollama sends them, and deterministic, so a test can check the
figures bakeoff derives from them: ``NS_PER_PROMPT_TOKEN`` and ``NS_PER_OUTPUT_TOKEN``. Every
final object sent is kept in ``app.state.finals``; the loaded models are ``app.state.loaded``.
A chat to a model that is not loaded loads it first (``load_s`` of real waiting, reported as
``load_duration``), as Ollama does; to a loaded one, ``load_duration`` is ``WARM_LOAD_NS``.
``crashy:1b`` streams two chunks, then an ``{"error": ...}`` line, as Ollama does when its
runner dies mid-generation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from standins.base import Dropped, StandInState, Tracked, ollama_image_problem, pause, record

MODELS = ("gemma4:e4b", "qwen3:0.6b", "crashy:1b")  # crashy: its runner dies mid-stream, every time
RUNNER_ERROR = "an error was encountered while running the model: unexpected EOF"
VERSION = "0.12.3"
SIZE = 3_355_443_200  # bytes /api/ps reports for a loaded model (3200 MiB)
SIZE_VRAM = 2_147_483_648  # 2048 MiB of it on the GPU
LOAD_S = 0.2  # real time a cold load takes, unless make_app is given another
WARM_LOAD_NS = 1_500_000  # load_duration when the model is already loaded: 1.5 ms
NS_PER_PROMPT_TOKEN = 2_500_000  # 2.5 ms a prompt token: 400 tok/s prefill
NS_PER_OUTPUT_TOKEN = 20_000_000  # 20 ms an output token: 50 tok/s decode
THINKING = "Adding the two numbers."
HANG_S = 30.0
NDJSON = "application/x-ndjson"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _canonical(name: str, models: tuple[str, ...]) -> str | None:
    """Ollama resolves ``gemma3`` to ``gemma3:latest``."""
    for candidate in (name, f"{name}:latest"):
        if candidate in models:
            return candidate
    return None


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """What the stand-in reports as prompt_eval_count: words of the messages, plus a template's 4 a message."""
    return sum(len(str(m.get("content", "")).split()) + 4 for m in messages)


def _prompt_words(messages: list[dict[str, Any]]) -> list[str]:
    """The prompt as the stand-in's tokens: per message 4 template tokens, then its words."""
    return [w for m in messages for w in [f"<{m.get('role')}>"] * 4 + str(m.get("content", "")).split()]


def _object_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments  # not what Ollama sends; lets a test see bakeoff keep a bad call as written


def make_app(state: StandInState, models: tuple[str, ...] = MODELS, load_s: float = LOAD_S) -> Starlette:
    loaded: dict[str, str] = {}  # name -> expires_at
    finals: list[dict[str, Any]] = []

    async def version(request: Request) -> JSONResponse:
        await record(state, request)
        return JSONResponse({"version": VERSION})

    def entry(name: str) -> dict[str, Any]:
        return {"name": name, "model": name, "size": SIZE, "digest": "a" * 64,
                "details": {"parent_model": "", "format": "gguf", "family": name.split(":")[0],
                            "families": [name.split(":")[0]], "parameter_size": "4.0B",
                            "quantization_level": "Q4_K_M"}}

    async def tags(request: Request) -> JSONResponse:
        await record(state, request)
        return JSONResponse({"models": [{**entry(m), "modified_at": _now()} for m in models]})

    async def show(request: Request) -> JSONResponse:
        body = await record(state, request) or {}
        name = _canonical(str(body.get("model") or body.get("name") or ""), models)
        if name is None:
            return _error(404, f"model '{body.get('model')}' not found")
        capabilities = ["completion", "thinking"] if name.startswith("qwen3") else ["completion", "vision"]
        return JSONResponse({"modelfile": f"FROM {name}\n", "parameters": "", "template": "{{ .Prompt }}",
                             "details": entry(name)["details"],
                             "model_info": {"general.architecture": name.split(":")[0]},
                             "capabilities": capabilities, "modified_at": _now()})

    async def ps(request: Request) -> JSONResponse:
        await record(state, request)
        return JSONResponse({"models": [{**entry(name), "expires_at": expires, "size_vram": SIZE_VRAM,
                                         "context_length": 4096} for name, expires in loaded.items()]})

    async def chat(request: Request):
        body = await record(state, request)
        if not isinstance(body, dict):
            return _error(400, "invalid request body")
        name = _canonical(str(body.get("model") or ""), models)
        if name is None:
            return _error(404, f"model '{body.get('model')}' not found, try pulling it first")
        messages = body.get("messages") or []
        if (problem := ollama_image_problem(body)) is not None:
            return _error(400, problem)
        keep_alive = body.get("keep_alive")
        if not messages:  # load, or unload with keep_alive 0
            if keep_alive in (0, "0", "0s"):
                loaded.pop(name, None)
                reason = "unload"
            else:
                if name not in loaded:
                    await asyncio.sleep(load_s)
                loaded[name] = _now()
                reason = "load"
            return JSONResponse({"model": name, "created_at": _now(),
                                 "message": {"role": "assistant", "content": ""},
                                 "done_reason": reason, "done": True})
        fault = "crash" if name.startswith("crashy") else state.next_fault()
        if fault == "429":
            return _error(429, "too many requests", {"Retry-After": state.retry_after})
        if fault == "500":
            return _error(500, "llama runner process has terminated: exit status 2")
        if fault == "auth":
            return _error(401, "unauthorized")
        if body.get("think") and not name.startswith("qwen3"):
            return _error(400, f'"{name}" does not support thinking')
        return StreamingResponse(_stream(name, body, fault), media_type=NDJSON)

    async def _stream(name: str, body: dict[str, Any], fault: str) -> AsyncIterator[bytes]:
        with Tracked(state):
            load_ns = WARM_LOAD_NS
            if name not in loaded:
                await asyncio.sleep(load_s)
                load_ns = int(load_s * 1e9)
            if body.get("keep_alive") not in (0, "0", "0s"):
                loaded[name] = _now()
            if fault == "hang":
                await asyncio.sleep(HANG_S)
                return
            options = body.get("options") or {}
            thought = THINKING.split(" ")
            thought = [thought[0]] + [" " + w for w in thought[1:]]
            pieces = [("thinking", w) for w in thought] if body.get("think") else []
            scripted = state.next_reply()
            calls = scripted.get("tool_calls") or []
            words = [] if calls else state.words(scripted.get("content"))
            limit = options.get("num_predict")
            if isinstance(limit, int) and limit >= 0:
                words = words[:limit]
            pieces += [("content", w) for w in words]
            for i, (field, text) in enumerate(pieces):
                if fault == "drop" and i == 2:
                    raise Dropped()
                if fault == "crash" and i == 2:  # Ollama's status is already 200: the error is a line
                    yield _line({"error": RUNNER_ERROR})
                    return
                if fault == "malformed" and i == 1:
                    yield b'{"model": "' + name.encode() + b'", "message": {"role": "assistant", "content": \n'
                    return
                message = {"role": "assistant", "content": text if field == "content" else ""}
                if field == "thinking":
                    message["thinking"] = text
                yield _line({"model": name, "created_at": _now(), "message": message, "done": False})
                await pause(state)
            if calls:  # Ollama parses the model's calls itself and sends them in one chunk, arguments an object
                yield _line({"model": name, "created_at": _now(), "done": False, "message": {
                    "role": "assistant", "content": "", "tool_calls": [
                        {"function": {"name": c["name"], "arguments": _object_or_text(c["arguments"])}} for c in calls]}})
            # Ollama evaluates only the prompt tokens its slot did not have cached (one slot here).
            n_prompt = prompt_tokens(body.get("messages") or [])
            n_prompt -= state.cached_prefix(_prompt_words(body.get("messages") or []), previous_only=True)
            n_out = len(pieces)
            final = {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                     "done": True,
                     "done_reason": "length" if isinstance(limit, int) and len(state.words()) > limit else "stop",
                     "total_duration": load_ns + n_prompt * NS_PER_PROMPT_TOKEN + n_out * NS_PER_OUTPUT_TOKEN,
                     "load_duration": load_ns, "prompt_eval_count": n_prompt,
                     "prompt_eval_duration": n_prompt * NS_PER_PROMPT_TOKEN, "eval_count": n_out,
                     "eval_duration": n_out * NS_PER_OUTPUT_TOKEN}
            finals.append(final)
            yield _line(final)

    app = Starlette(routes=[
        Route("/api/version", version, methods=["GET"]),
        Route("/api/tags", tags, methods=["GET"]),
        Route("/api/show", show, methods=["POST"]),
        Route("/api/ps", ps, methods=["GET"]),
        Route("/api/chat", chat, methods=["POST"]),
    ])
    app.state.loaded = loaded
    app.state.finals = finals
    return app
