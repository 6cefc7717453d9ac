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


OWNERS = {"openai": "system", "llama-server": "llamacpp", "vllm": "vllm"}


def cached_tokens(state: StandInState, server: str, body: dict, tokens: list[str]) -> int:
    """What each server reports as taken from its prefix cache (with ``state.prefix_cache`` on):
    llama-server: its slot's prefix, unless the request says ``cache_prompt: false``; vLLM: whole
    16-token blocks shared with an earlier request of the same ``cache_salt``; OpenAI: prompts of
    1,024+ tokens, cached in steps of 128 from 1,024."""
    if server == "llama-server":
        n = state.cached_prefix(tokens, previous_only=True)  # the slot keeps the prompt either way
        return n if body.get("cache_prompt", True) else 0
    if server == "vllm":
        return state.cached_prefix(tokens, key=body.get("cache_salt")) // 16 * 16
    n = state.cached_prefix(tokens)
    return n // 128 * 128 if n >= 1024 else 0


def make_app(state: StandInState, models: list[str], google: bool = False, prefix: str = "/v1",
             server: str = "openai") -> Starlette:
    """``server``: openai, llama-server (models owned by "llamacpp", ``timings`` with ``cache_n``
    in the last chunk) or vllm (owned by "vllm", ``cache_salt`` partitions the prefix cache)."""
    async def list_models(request: Request):
        await record(state, request)
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "google" if google else OWNERS[server]}
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
        tokens = [w for m in body["messages"] for w in text_of(m.get("content")).split()]
        cached = cached_tokens(state, server, body, tokens)

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            obj = {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                   "created": created, "model": name, "system_fingerprint": "fp_44709d6fcb",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
            if (body.get("stream_options") or {}).get("include_usage"):
                obj["usage"] = None
            return f"data: {json.dumps(obj)}\n\n"

        async def stream():
            with Tracked(state):
                if fault == "hang":
                    await asyncio.sleep(3600)
                if state.prefill_s_per_token:  # the prompt's evaluation, as a server spends it
                    await asyncio.sleep(state.prefill_s_per_token * (len(tokens) - cached))
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
                extra = {}
                if server == "llama-server":  # its last chunk carries the timings, cache_n beside prompt_n
                    n_out = len(words) + len(thinking)
                    extra["timings"] = {
                        "cache_n": cached, "prompt_n": len(tokens) - cached, "prompt_ms": 2.0 * (len(tokens) - cached),
                        "prompt_per_token_ms": 2.0, "prompt_per_second": 500.0, "predicted_n": n_out,
                        "predicted_ms": 10.0 * n_out, "predicted_per_token_ms": 10.0, "predicted_per_second": 100.0}
                yield chunk({}, "tool_calls" if calls else "stop", **extra)
                if (body.get("stream_options") or {}).get("include_usage"):
                    prompt_tokens = len(tokens)
                    usage = {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                             "created": created, "model": name, "system_fingerprint": "fp_44709d6fcb",
                             "choices": [], "usage": {
                                 "prompt_tokens": prompt_tokens, "completion_tokens": len(words) + len(thinking),
                                 "total_tokens": prompt_tokens + len(words) + len(thinking),
                                 "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                                 "completion_tokens_details": {"reasoning_tokens": len(thinking), "audio_tokens": 0,
                                                               "accepted_prediction_tokens": 0,
                                                               "rejected_prediction_tokens": 0}}}
                    yield f"data: {json.dumps(usage)}\n\n"
                yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={**RATE_HEADERS, "x-request-id": "req_standin", "openai-processing-ms": "12"})

    return Starlette(routes=[Route(f"{prefix}/models", list_models),
                             Route(f"{prefix}/chat/completions", chat, methods=["POST"])])
