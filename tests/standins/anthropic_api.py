"""Anthropic's Messages API and Models API, as Anthropic's API reference documents them.

- ``GET /v1/models``: the paginated list ``{"data": [...], "has_more", "first_id", "last_id"}``,
  newest first, with ``limit`` / ``after_id`` / ``before_id``; ``GET /v1/models/{id}`` resolves an
  alias (``claude-sonnet-4-5``) to a dated model id, or answers 404 ``not_found_error``.
- ``POST /v1/messages`` with ``stream: true``: named SSE events (``event:`` + ``data:`` lines):
  ``message_start`` (the whole message object, empty content, usage with cache fields), ``ping``,
  a ``thinking`` block (``thinking_delta`` then ``signature_delta``) when thinking is enabled, a
  ``text`` block of ``text_delta``s, ``message_delta`` (stop reason, cumulative output tokens)
  and ``message_stop``. One word of the reply (or of the thinking) counts as one token.
- Requests are checked as the API checks them: a key in ``x-api-key`` or ``Authorization:
  Bearer`` (401 ``authentication_error`` without one), the ``anthropic-version`` header (400
  without it), no ``system`` role in ``messages``, no ``seed``, and since version 2026-10-21 no
  ``temperature`` / ``top_p`` / ``top_k`` ("Extra inputs are not permitted"); thinking needs
  ``budget_tokens`` >= 1024 and below ``max_tokens``, and takes no temperature or top_k.
- Errors are ``{"type": "error", "error": {"type", "message"}, "request_id"}`` with a
  ``request-id`` header and the ``anthropic-ratelimit-*`` headers; 429 carries ``retry-after``.

Faults, from the script (base.py's plus three of Anthropic's): "429" rate_limit_error, "500"
api_error, "529" overloaded_error, "auth" a 401, "drop" cuts the connection mid-stream, "hang"
stops sending after ``message_start``, "hang_headers" sends nothing at all, "malformed" sends a
data line that is not JSON, "stream_error" an ``overloaded_error`` event inside a 200 stream.
One liberty, on purpose: the 401 echoes the whole key it was sent (Anthropic's does not) to
prove that bakeoff redacts whatever a server echoes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from standins import base
from standins.base import Dropped, StandInState, Tracked, anthropic_image_problem, pause, record

# (id, display name, release date), newest first as the API lists them
MODELS = [
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
]
ALIASES = {"claude-haiku-4-5": "claude-haiku-4-5-20251001", "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
           "claude-opus-4-1": "claude-opus-4-1-20250805", "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022"}
VERSIONS = ("2023-06-01", "2026-10-21")
SAMPLING = ("temperature", "top_p", "top_k")
FIELDS = {"model", "messages", "max_tokens", "system", "stream", "stop_sequences", "thinking", "metadata",
          "tools", "tool_choice", "service_tier", "output_config", "container", "inference_geo"}
EXTRA_FAULTS = ("529", "hang_headers", "stream_error")
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"


@dataclass
class AnthropicState(StandInState):
    thinking: str = "The user asks a short question. I will answer it in one sentence."

    def script(self, *faults: str) -> None:
        unknown = set(faults) - set(base.FAULTS) - set(EXTRA_FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self.faults.extend(faults)

    def thinking_words(self) -> list[str]:
        parts = self.thinking.split(" ")
        return [parts[0]] + [" " + p for p in parts[1:]]


def _request_id() -> str:
    return "req_011C" + uuid.uuid4().hex[:20]


def _rate_headers(remaining: int = 49) -> dict[str, str]:
    reset = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": reset, "anthropic-ratelimit-tokens-limit": "40000",
            "anthropic-ratelimit-tokens-remaining": "39000", "anthropic-ratelimit-tokens-reset": reset}


def _error(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    rid = _request_id()
    return JSONResponse({"type": "error", "error": {"type": type_, "message": message}, "request_id": rid},
                        status_code=status, headers={"request-id": rid, **_rate_headers(), **(headers or {})})


def _sse(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _model_info(model_id: str) -> dict:
    _, name, created = next(m for m in MODELS if m[0] == model_id)
    return {"type": "model", "id": model_id, "display_name": name, "created_at": created}


def _tokens(text: str) -> int:
    return len(text.split())


def make_app(state: AnthropicState) -> Starlette:
    def sent_key(request: Request) -> str | None:
        key = request.headers.get("x-api-key")  # the API prefers x-api-key when both are sent
        if key is None and request.headers.get("authorization", "").lower().startswith("bearer "):
            key = request.headers["authorization"][7:]
        return key

    def refuse(request: Request) -> JSONResponse | None:
        """What the API answers to a request without a valid key or version header."""
        key = sent_key(request)
        if not key:
            return _error(401, "authentication_error", "x-api-key header is required")
        if state.expected_key is not None and key != state.expected_key:
            return _error(401, "authentication_error", f"invalid x-api-key: {key}")
        version = request.headers.get("anthropic-version")
        if version is None:
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if version not in VERSIONS:
            return _error(400, "invalid_request_error", f"anthropic-version: unknown version {version!r}")
        return None

    async def list_models(request: Request):
        await record(state, request)
        if (refused := refuse(request)) is not None:
            return refused
        ids = [m[0] for m in MODELS]
        try:
            limit = int(request.query_params.get("limit", 20))
        except ValueError:
            return _error(400, "invalid_request_error", "limit: Input should be a valid integer")
        if not 1 <= limit <= 1000:
            return _error(400, "invalid_request_error", "limit: Input should be between 1 and 1000")
        if after := request.query_params.get("after_id"):
            ids = ids[ids.index(after) + 1:] if after in ids else []
            page = ids[:limit]
        elif before := request.query_params.get("before_id"):
            ids = ids[:ids.index(before)] if before in ids else []
            page = ids[-limit:]
        else:
            page = ids[:limit]
        return JSONResponse({"data": [_model_info(i) for i in page], "has_more": len(page) < len(ids),
                             "first_id": page[0] if page else None, "last_id": page[-1] if page else None},
                            headers={"request-id": _request_id()})

    async def get_model(request: Request):
        await record(state, request)
        if (refused := refuse(request)) is not None:
            return refused
        model_id = request.path_params["model_id"]
        model_id = ALIASES.get(model_id, model_id)
        if model_id not in [m[0] for m in MODELS]:
            return _error(404, "not_found_error", f"model: {request.path_params['model_id']}")
        return JSONResponse(_model_info(model_id), headers={"request-id": _request_id()})

    def invalid(body, version: str) -> str | None:
        """The API's 400 message for a request body it would refuse, or None."""
        if not isinstance(body, dict):
            return "There was an error parsing the body of your request"
        sampling_ok = version == "2023-06-01"
        for name in body:
            if name not in FIELDS and not (sampling_ok and name in SAMPLING):
                return f"{name}: Extra inputs are not permitted"
        for name in ("model", "messages", "max_tokens"):
            if name not in body:
                return f"{name}: Field required"
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            return "max_tokens: Input should be a valid integer greater than or equal to 1"
        if not body["messages"]:
            return "messages: at least one message is required"
        for i, m in enumerate(body["messages"]):
            if m.get("role") == "system":
                return ('messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                        'parameter, not "system" as an input message role.')
            if m.get("role") not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if (problem := anthropic_image_problem(body)) is not None:
            return problem
        thinking = body.get("thinking")
        if thinking and thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            if body["max_tokens"] <= budget:
                return "`max_tokens` must be greater than `thinking.budget_tokens`"
            if body.get("temperature", 1) != 1:
                return "`temperature` may only be set to 1 when thinking is enabled"
            if "top_k" in body:
                return "`top_k` is not supported when thinking is enabled"
        return None

    async def messages(request: Request):
        body = await record(state, request)
        if (refused := refuse(request)) is not None:
            return refused
        if (problem := invalid(body, request.headers["anthropic-version"])) is not None:
            return _error(400, "invalid_request_error", problem)
        model_id = ALIASES.get(body["model"], body["model"])
        if model_id not in [m[0] for m in MODELS]:
            return _error(404, "not_found_error", f"model: {body['model']}")
        if not body.get("stream"):
            return _error(400, "invalid_request_error", "this stand-in serves stream: true only")
        fault = state.next_fault()
        if fault == "auth":
            return _error(401, "authentication_error", f"invalid x-api-key: {sent_key(request)}")
        if fault == "429":
            return _error(429, "rate_limit_error", "This request would exceed the rate limit for your organization "
                          "of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
                          {"retry-after": state.retry_after, **_rate_headers(0)})
        if fault == "500":
            return _error(500, "api_error", "Internal server error")
        if fault == "529":
            return _error(529, "overloaded_error", "Overloaded")
        if fault == "hang_headers":
            for _ in range(600):  # until the client gives up
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.1)
            return _error(500, "api_error", "Internal server error")

        system = body.get("system") or ""
        if isinstance(system, list):
            system = " ".join(block.get("text", "") for block in system)
        input_tokens = _tokens(system) + sum(
            _tokens(m["content"] if isinstance(m["content"], str) else " ".join(str(b.get("text") or b.get("content") or "") for b in m["content"]))
            for m in body["messages"])
        thinking = body.get("thinking") or {}
        scripted = state.next_reply()
        calls = scripted.get("tool_calls") or []
        msg_id = "msg_01" + uuid.uuid4().hex[:22]

        async def stream():
            with Tracked(state):
                yield _sse("message_start", {"type": "message_start", "message": {
                    "id": msg_id, "type": "message", "role": "assistant", "content": [], "model": model_id,
                    "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"}}})
                if fault == "hang":
                    await asyncio.sleep(3600)
                yield _sse("ping", {"type": "ping"})
                if fault == "stream_error":
                    yield _sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                    return
                allowance, index, used = body["max_tokens"], 0, 0
                if thinking.get("type") == "enabled":
                    pieces = state.thinking_words()[:min(thinking["budget_tokens"], allowance)]
                    yield _sse("content_block_start", {"type": "content_block_start", "index": index,
                                                       "content_block": {"type": "thinking", "thinking": "",
                                                                         "signature": ""}})
                    for piece in pieces:
                        await pause(state)
                        yield _sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": {"type": "thinking_delta", "thinking": piece}})
                    yield _sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "signature_delta", "signature": SIGNATURE}})
                    yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                    index, used = index + 1, len(pieces)
                if calls:  # tool_use blocks: id and name first, then the input as input_json_delta pieces
                    for call in calls:
                        yield _sse("content_block_start", {"type": "content_block_start", "index": index,
                                                           "content_block": {"type": "tool_use", "name": call["name"],
                                                                             "id": "toolu_01" + uuid.uuid4().hex[:22],
                                                                             "input": {}}})
                        args = call["arguments"]
                        for part in (args[:len(args) // 2], args[len(args) // 2:]):
                            yield _sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                               "delta": {"type": "input_json_delta", "partial_json": part}})
                        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                        index += 1
                    yield _sse("message_delta", {"type": "message_delta",
                                                 "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                                 "usage": {"output_tokens": used + 10 * len(calls)}})
                    yield _sse("message_stop", {"type": "message_stop"})
                    return
                words = state.words(scripted.get("content"))
                pieces = words[:max(0, allowance - used)]
                yield _sse("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}})
                for i, piece in enumerate(pieces):
                    await pause(state)
                    if fault == "drop" and i == 2:
                        raise Dropped("connection cut mid-stream")
                    if fault == "malformed" and i == 2:
                        yield ('event: content_block_delta\ndata: {"type": "content_block_delta", "index": '
                               f'{index}, "delta": {{"type": "text_delta", "text": "tru\n\n')
                        return
                    yield _sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "text_delta", "text": piece}})
                yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                stop = "end_turn" if len(pieces) == len(words) else "max_tokens"
                yield _sse("message_delta", {"type": "message_delta",
                                             "delta": {"stop_reason": stop, "stop_sequence": None},
                                             "usage": {"output_tokens": used + len(pieces)}})
                yield _sse("message_stop", {"type": "message_stop"})

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"request-id": _request_id(), "cache-control": "no-cache",
                                          **_rate_headers()})

    return Starlette(routes=[Route("/v1/models", list_models), Route("/v1/models/{model_id:path}", get_model),
                             Route("/v1/messages", messages, methods=["POST"])])
