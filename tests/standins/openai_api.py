"""OpenAI's Chat Completions API (and Gemini's OpenAI-compatible endpoint, which copies it).

Shapes follow OpenAI's API reference (tool calls: the first chunk of a call carries its index, id,
type and name with empty arguments, later chunks more of the arguments text, the choice ends with
finish_reason "tool_calls"): `chat.completion.chunk` objects as SSE `data:` lines, the
`usage` chunk with empty `choices` when `stream_options.include_usage` is set, `data: [DONE]`,
errors as `{"error": {"message", "type", "param", "code"}}`, and the `x-ratelimit-*` headers.
Gemini's endpoint lists its models as `models/NAME` and sends Google-style error objects.
One liberty, on purpose: the 401 echoes the whole key it was sent (OpenAI masks all but a few
characters) to prove that bakeoff redacts whatever a server echoes.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from standins.base import Dropped, StandInState, Tracked, openai_image_problem, pause, record, text_of

RATE_HEADERS = {
    "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-tokens": "199000", "x-ratelimit-reset-tokens": "300ms",
}


def _error(status: int, message: str, type_: str, code: str | None, google: bool, headers=None) -> JSONResponse:
    if google:
        status_names = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
        body = {"error": {"code": status, "message": message, "status": status_names.get(status, "UNKNOWN")}}
    else:
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers={**RATE_HEADERS, **(headers or {})})


def make_app(state: StandInState, models: list[str], google: bool = False, prefix: str = "/v1") -> Starlette:
    async def list_models(request: Request):
        await record(state, request)
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "google" if google else "system"}
            for m in models]})

    async def chat(request: Request):
        body = await record(state, request)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        fault = state.next_fault()
        if fault == "auth" or (state.expected_key and key != state.expected_key):
            return _error(401, f"Incorrect API key provided: {key}. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.",
                          "invalid_request_error", "invalid_api_key", google)
        if fault == "429":
            return _error(429, "Rate limit reached for requests per min (RPM): Limit 500, Used 500, "
                               "Requested 1. Please try again in 1s.", "requests", "rate_limit_exceeded",
                          google, {"retry-after": state.retry_after, "x-ratelimit-remaining-requests": "0"})
        if fault == "500":
            return _error(500, "The server had an error while processing your request. Sorry about that!",
                          "server_error", None, google)
        if (problem := openai_image_problem(body)) is not None:
            return _error(400, f"Invalid content: {problem}", "invalid_request_error", "invalid_image", google)
        name = body["model"]
        created = int(time.time())
        scripted = state.next_reply()
        calls = scripted.get("tool_calls") or []
        words = [] if calls else state.words(scripted.get("content"))
        thinking = [w if i == 0 else " " + w for i, w in enumerate(state.reasoning.split(" "))] if state.reasoning else []

        def chunk(delta: dict, finish: str | None = None) -> str:
            obj = {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                   "created": created, "model": name, "system_fingerprint": "fp_44709d6fcb",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if (body.get("stream_options") or {}).get("include_usage"):
                obj["usage"] = None
            return f"data: {json.dumps(obj)}\n\n"

        async def stream():
            with Tracked(state):
                if fault == "hang":
                    await asyncio.sleep(3600)
                yield chunk({"role": "assistant", "content": "", "refusal": None})
                for word in thinking:  # vLLM's and llama-server's reasoning parsers send these
                    await pause(state)
                    yield chunk({"reasoning_content": word})
                for i, word in enumerate(words):
                    await pause(state)
                    if fault == "drop" and i == 2:
                        raise Dropped("connection cut mid-stream")
                    if fault == "malformed" and i == 2:
                        yield 'data: {"id": "chatcmpl-B9M", "choices": [{"delta": {"content": "tru\n\n'
                    yield chunk({"content": word})
                for i, call in enumerate(calls):
                    yield chunk({"tool_calls": [{"index": i, "id": f"call_{i}{len(state.requests)}", "type": "function",
                                                 "function": {"name": call["name"], "arguments": ""}}]})
                    args = call["arguments"]
                    for part in (args[:len(args) // 2], args[len(args) // 2:]):
                        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                yield chunk({}, "tool_calls" if calls else "stop")
                if (body.get("stream_options") or {}).get("include_usage"):
                    prompt_tokens = sum(len(text_of(m.get("content")).split()) for m in body["messages"])
                    usage = {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                             "created": created, "model": name, "system_fingerprint": "fp_44709d6fcb",
                             "choices": [], "usage": {
                                 "prompt_tokens": prompt_tokens, "completion_tokens": len(words) + len(thinking),
                                 "total_tokens": prompt_tokens + len(words) + len(thinking),
                                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                                 "completion_tokens_details": {"reasoning_tokens": len(thinking), "audio_tokens": 0,
                                                               "accepted_prediction_tokens": 0,
                                                               "rejected_prediction_tokens": 0}}}
                    yield f"data: {json.dumps(usage)}\n\n"
                yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={**RATE_HEADERS, "x-request-id": "req_standin", "openai-processing-ms": "12"})

    return Starlette(routes=[Route(f"{prefix}/models", list_models),
                             Route(f"{prefix}/chat/completions", chat, methods=["POST"])])
