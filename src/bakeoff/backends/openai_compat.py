"""Any OpenAI-compatible chat server: vLLM, llama-server, llama-cpp-python's server, LM Studio,
SGLang, Ollama's /v1. Spec: ``openai-compat:BASE_URL#MODEL`` (e.g.
``openai-compat:http://127.0.0.1:8080/v1#qwen``).

Streams with ``stream_options.include_usage`` so the server's own token counts arrive in the last
chunk, and keeps llama-server's ``timings`` object as engine-reported figures. A server that
sends no usage (llama-cpp-python's server ignores include_usage) leaves the token counts unknown
unless ``tokenizer=`` names a GGUF (or packaged alias) whose vocabulary counts the output; the
figure is then labelled ``tokenizer``. Timings are taken in this process, on receipt.

Thinking: ``reasoning_content`` (or ``reasoning``) deltas are reasoning. ``thinking=on|off`` sends
``chat_template_kwargs: {enable_thinking: true|false}`` (vLLM, SGLang and llama-server pass it to
the chat template; Qwen3 and Gemma 4 templates read it); there is no standard token budget, so
``thinking=BUDGET`` is refused. A server that sends the thinking inline in the content is split
as it streams (bakeoff.thinking): a ``<think>`` block at the start of the reply always; with
``thinking`` set, also a bare ``</think>`` (the template opened the block, R1-style), for which
the reply is held until the closer or the end decides, each piece keeping its arrival time.

Structured output: a request with a JSON schema is sent as ``response_format: {"type":
"json_schema", ...}`` (strict).

Tools: ``tools`` as Chat Completions function tools; streamed ``delta.tool_calls`` pieces are put
together by their ``index`` into ``tool_call`` events (arguments as the server wrote them, so a
malformed one is recorded, not raised). A server that returns no ``tool_calls`` but writes
``<tool_call>`` blocks in the content (llama-cpp-python's server with a Qwen2.5 template passes the
tools to the template and returns the model's text) has them read from the content, each call
noted so. Tool-use history goes out as assistant ``tool_calls`` (arguments as JSON text) and
``role: tool`` messages with their ``tool_call_id``.

Prefix caches (bakeoff.measure.cache): the server is recognised from its ``/models`` list
(``owned_by``: "llamacpp" is llama-server, "vllm" is vLLM). llama-server is sent ``cache_prompt:
false`` (true on a conversation's warm turns) and its ``timings.cache_n`` is stored as the cached
prompt tokens; vLLM is sent a ``cache_salt`` fresh per trial (one per conversation), and
``usage.prompt_tokens_details.cached_tokens`` is stored where it sends it (OpenAI's own API sends
it too). Other servers (llama-cpp-python's, LM Studio, ...) take no switch: the run says so once,
and ``cache=bust`` starts each prompt with a unique marker.

``openai:`` and ``gemini:`` are this backend with a fixed endpoint and key (their own files).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx2
from pydantic import Field, field_validator

from bakeoff.backends._server import Retryable, ServerBackend, ServerOptions, status_failure
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.errors import InputError
from bakeoff.util.images import data_url
from bakeoff.thinking import THINK_TAGS, StreamSplitter, ThinkingOption
from bakeoff.tools.calls import make_call, openai_tools, parse_calls


class OpenAICompatOptions(ServerOptions):
    tokenizer: str | None = Field(None, description="GGUF path or packaged alias to count tokens when the server sends no usage")
    thinking: ThinkingOption = Field(
        None, description="on or off: sent as chat_template_kwargs.enable_thinking (vLLM, SGLang, llama-server)")
    visual_budget: int | None = Field(
        None, gt=0, description="image tokens per image: sent as mm_processor_kwargs.max_soft_tokens (vLLM with "
                                "Gemma 4: 70, 140, 280, 560 or 1120); other servers may ignore it")

    @field_validator("thinking")
    @classmethod
    def _no_budget(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError("an OpenAI-compatible server takes no token budget for thinking "
                             "(chat_template_kwargs has only enable_thinking); use thinking=on or off")
        return value


# /models "owned_by" -> the server, and the per-request switch that keeps a prompt cold there.
SERVER_OWNERS = {"llamacpp": "llama-server", "vllm": "vllm"}
COLD_CONTROLS = {"llama-server": "cache_prompt=false", "vllm": "cache_salt fresh per trial"}


def split_target(model: str) -> tuple[str, str]:
    base_url, sep, name = model.partition("#")
    if not sep or not name or not base_url.startswith(("http://", "https://")):
        raise InputError(f"openai-compat wants BASE_URL#MODEL, e.g. http://127.0.0.1:8080/v1#my-model; got {model!r}")
    return base_url.rstrip("/"), name


def _sdk():
    try:
        import openai
    except ImportError:
        raise InputError("this backend needs the openai package: pip install 'bakeoff[openai]'") from None
    return openai


class OpenAICompatBackend(ServerBackend):
    name = "openai-compat"
    Options = OpenAICompatOptions
    engine_label: ClassVar[str] = "OpenAI-compatible server"
    max_tokens_field: ClassVar[str] = "max_tokens"  # OpenAI's own API wants max_completion_tokens
    check_served: ClassVar[bool] = False  # local servers often serve any name; cloud APIs list theirs
    template_thinking: ClassVar[bool] = True  # thinking -> chat_template_kwargs (cloud APIs: reasoning_effort)
    schema_lengths: ClassVar[bool] = True  # send a JSON schema's minLength/maxLength in response_format

    @classmethod
    def check_model(cls, model: str) -> None:
        split_target(model)

    def target(self) -> tuple[str, str]:
        """(base URL, model name as the server knows it)."""
        base_url, name = split_target(self.model)
        return (self.options.base_url or base_url).rstrip("/"), name

    def request_args(self, request: GenerationRequest) -> dict[str, Any]:
        args: dict[str, Any] = {"model": self.model_name, "stream": True,
                                "messages": wire_messages(request.messages, getattr(self.options, "detail", None)),
                                "stream_options": {"include_usage": True},
                                self.max_tokens_field: request.max_tokens,
                                "temperature": request.temperature, "seed": request.seed}
        if request.top_p is not None:
            args["top_p"] = request.top_p
        thinking = getattr(self.options, "thinking", None)
        if self.template_thinking and thinking is not None:
            args["extra_body"] = {"chat_template_kwargs": {"enable_thinking": thinking == "on"}}
        if request.json_schema is not None:
            args["response_format"] = self.response_format(request.json_schema)
        if request.tools:
            args["tools"] = openai_tools(request.tools)
        budget = getattr(self.options, "visual_budget", None)
        if budget is not None:
            # vLLM hands mm_processor_kwargs to the model's Hugging Face processor; Gemma 4's image
            # processor takes its per-image budget as max_soft_tokens (docs/vision.md).
            args["extra_body"] = {**(args.get("extra_body") or {}), "mm_processor_kwargs": {"max_soft_tokens": budget}}
        cache = self.cache_body(request)
        if cache:
            args["extra_body"] = {**(args.get("extra_body") or {}), **cache}
        if request.extra_body:
            args["extra_body"] = {**(args.get("extra_body") or {}), **request.extra_body}
        return args

    def cache_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The server's per-request prefix-cache switch: llama-server's ``cache_prompt`` (false
        unless the request is a conversation's warm turn); vLLM's ``cache_salt`` (fresh per
        request, or the conversation's own, so its turns share blocks with nobody else)."""
        kind = getattr(self, "server_kind", None)
        if kind == "llama-server":
            return {"cache_prompt": bool(request.warm)}
        if kind == "vllm":
            return {"cache_salt": request.cache_salt or uuid.uuid4().hex}
        return {}

    def cold_control(self) -> str | None:
        return COLD_CONTROLS.get(getattr(self, "server_kind", None))

    def cache_scope(self) -> str:
        return self.target()[0]

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Structured output as the Chat Completions API takes it (llama-server and vLLM turn the
        schema into a grammar). ``schema_lengths = False`` drops minLength/maxLength for APIs whose
        strict mode refuses them."""
        if not self.schema_lengths:
            schema = _without_lengths(schema)
        return {"type": "json_schema", "json_schema": {"name": "reply", "strict": True, "schema": schema}}

    async def aload(self) -> dict[str, Any]:
        openai = _sdk()
        base_url, self.model_name = self.target()
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=self.api_key or "not-needed", max_retries=0,  # retries are ours
            timeout=openai.Timeout(self.trial_timeout_s, connect=self.options.connect_timeout))
        try:
            listed_models = [m async for m in self.client.with_options(timeout=self.options.connect_timeout).models.list()]
        except openai.APIError as exc:  # never echo the key: the SDK's messages do not carry it
            status = getattr(exc, "status_code", None)
            raise BackendError(f"server at {base_url} did not answer /models: {type(exc).__name__}"
                               + (f" (HTTP {status})" if status else "")) from None
        served = [m.id for m in listed_models]
        # Who serves: llama-server lists its models as owned by "llamacpp", vLLM by "vllm".
        owners = {getattr(m, "owned_by", None) for m in listed_models}
        self.server_kind = next((kind for owner, kind in SERVER_OWNERS.items() if owner in owners), None)
        listed = {name.removeprefix("models/") for name in served}  # Gemini lists "models/NAME"
        if self.check_served and served and self.model_name.removeprefix("models/") not in listed:
            raise BackendError(f"{base_url} does not offer {self.model_name!r}; it lists {len(served)} models, "
                               f"e.g. {', '.join(sorted(served)[:8])}")
        self._tokenizer = None
        if getattr(self.options, "tokenizer", None):  # openai-compat only
            from llama_cpp import Llama

            from bakeoff.models import resolve_model

            self._tokenizer = Llama(model_path=str(resolve_model(self.options.tokenizer)), vocab_only=True,
                                    verbose=False)
        return {"engine": self.engine_label, "base_url": base_url, "model_name": self.model_name,
                "served_models": served[:50], "openai_sdk_version": openai.__version__, **self.key_fact(),
                "server_kind": self.server_kind or "unknown",
                "prefix_cache_control": self.cold_control() or "none (the server takes no per-request switch)",
                "token_counts": "server usage when sent; else " + ("tokenizer" if self._tokenizer else "unknown")}

    async def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        openai = _sdk()
        t_send = time.perf_counter()
        yield {"type": "sent", "t": t_send}
        parser = ChunkParser(self, request)
        try:
            # The raw SSE lines, parsed with json.loads: the SDK's pydantic object per chunk costs
            # ~6x the CPU, which caps a load test against a fast server (bench/README.md, load.py).
            async with self.client.chat.completions.with_streaming_response.create(
                    **self.request_args(request)) as response:
                async for line in response.iter_lines():
                    for event in parser.feed(line, time.perf_counter()):
                        yield event
                    if parser.done:
                        break
        except openai.APIStatusError as exc:
            raise status_failure(exc.status_code, _error_detail(exc), exc.response.headers) from None
        except (openai.APITimeoutError, httpx2.TimeoutException):
            raise Retryable(f"no answer from the server within {self.trial_timeout_s:g} s") from None
        except (openai.APIConnectionError, httpx2.TransportError) as exc:
            cause = exc.__cause__ or exc
            raise Retryable(f"connection failed or dropped: {type(cause).__name__}: {cause}"[:300]) from None
        except openai.APIError as exc:
            raise BackendError(f"server error: {_error_detail(exc)}") from None
        for event in parser.finish(time.perf_counter()):
            yield event

    # --- the load test's lean path (bakeoff.run.load): the same body over a bare HTTP client,
    # the lines timed on receipt and parsed after the level, with the same parser ---------------

    def wire_request(self, request: GenerationRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        """(URL, headers, JSON body) of the request exactly as ``astream`` sends it."""
        args = dict(self.request_args(request))
        body = {**{k: v for k, v in args.items() if k != "extra_body"}, **(args.get("extra_body") or {})}
        headers = {"Authorization": f"Bearer {self.api_key or 'not-needed'}", "Accept": "text/event-stream"}
        return f"{self.target()[0]}/chat/completions", headers, body

    def replay(self, request: GenerationRequest, timed_lines: list[tuple[float, str]], t_end: float):
        """The events ``astream`` would have yielded for these SSE lines, each at its receipt time."""
        parser = ChunkParser(self, request)
        for t, line in timed_lines:
            yield from parser.feed(line, t)
            if parser.done:
                break
        yield from parser.finish(t_end)

    def cache_event(self, usage: dict | None, timings: dict | None) -> dict[str, Any]:
        """What the server says it took from its prefix cache: llama-server's ``timings.cache_n``
        (beside ``prompt_n``, the tokens it evaluated), else the OpenAI usage field
        ``prompt_tokens_details.cached_tokens`` (OpenAI, vLLM with --enable-prompt-tokens-details)."""
        event: dict[str, Any] = {"type": "cache", "control": self.cold_control(), "cached_tokens": None, "source": None}
        if timings and timings.get("cache_n") is not None:
            event.update(cached_tokens=timings["cache_n"], source="server timings.cache_n")
            if timings.get("prompt_n") is not None:
                event["prompt_tokens"] = timings["prompt_n"] + timings["cache_n"]
        elif usage and (usage.get("prompt_tokens_details") or {}).get("cached_tokens") is not None:
            event.update(cached_tokens=usage["prompt_tokens_details"]["cached_tokens"],
                         source="server usage.prompt_tokens_details.cached_tokens")
        return event

    async def aclose(self) -> None:
        if getattr(self, "client", None) is not None:
            await self.client.close()
        self._tokenizer = None



class ChunkParser:
    """One streamed Chat Completions answer, a line at a time: ``feed`` gives the events of a
    line (timed ``now``), ``finish`` the closing ones (tool calls, cache, usage, engine timings).
    Raises BackendError for a malformed chunk, an error in the stream or a cut-off answer."""

    def __init__(self, backend: OpenAICompatBackend, request: GenerationRequest):
        self.backend, self.request = backend, request
        self.usage = self.timings = self.finish_reason = None
        self.text: list[str] = []
        self.pieces: dict[int, dict[str, Any]] = {}  # streamed tool calls by index: id, name, arguments so far
        self.splitter = StreamSplitter(THINK_TAGS, "auto" if getattr(backend.options, "thinking", None) else "leading")
        self.done = False

    def feed(self, line: str, now: float) -> list[dict[str, Any]]:
        if not line.startswith("data:"):
            return []  # blank separators, "event:" lines, ": keep-alive" comments
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                raise ValueError(f"expected a JSON object, got {data[:80]!r}")
            if chunk.get("error"):
                raise BackendError(f"server error in the stream: {_error_text(chunk['error'])}")
            events = []
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    self.text.append(reasoning)
                    events.append({"type": "reasoning", "text": reasoning, "t": now})
                if delta.get("content"):
                    self.text.append(delta["content"])
                    events += [{"type": kind, "text": piece, "t": t}
                               for kind, piece, t in self.splitter.feed(delta["content"], now)]
                for piece in delta.get("tool_calls") or []:
                    _add_tool_piece(self.pieces, piece)
                self.finish_reason = choice.get("finish_reason") or self.finish_reason
            self.usage = chunk.get("usage") or self.usage
            self.timings = chunk.get("timings") or self.timings
            return events
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not shaped as a chunk
            raise BackendError(f"malformed stream chunk from the server: {type(exc).__name__}: {exc}"[:400]) from None

    def finish(self, now: float) -> list[dict[str, Any]]:
        if self.finish_reason is None:
            # Every complete Chat Completions stream ends its choice with a finish_reason.
            raise BackendError("the server ended the stream without a finish reason: the answer was cut off "
                               "(llama-cpp-python's server cuts a stream when another request arrives unless "
                               "started with --interrupt_requests False)")
        backend, usage, timings = self.backend, self.usage, self.timings
        events = [{"type": kind, "text": piece, "t": t} for kind, piece, t in self.splitter.close(now)]
        events += [{"type": "tool_call", **call, "t": now}
                   for call in _tool_calls(self.pieces, "".join(self.text), bool(self.request.tools))]
        events.append(backend.cache_event(usage, timings))
        if usage is not None:
            event = {"type": "usage", "prompt_tokens": usage.get("prompt_tokens"),
                     "output_tokens": usage.get("completion_tokens"), "source": "server usage"}
            details = usage.get("completion_tokens_details") or {}
            if details.get("reasoning_tokens") is not None:
                event["reasoning_tokens"] = details["reasoning_tokens"]
            events.append(event)
        elif backend._tokenizer is not None:
            out = backend._tokenizer.tokenize("".join(self.text).encode(), add_bos=False, special=False)
            events.append({"type": "usage", "prompt_tokens": None, "output_tokens": len(out), "source": "tokenizer"})
        if timings:
            events.append({"type": "engine", "source": "server timings", "prompt_n": timings.get("prompt_n"),
                           "prompt_ms": timings.get("prompt_ms"), "eval_n": timings.get("predicted_n"),
                           "eval_ms": timings.get("predicted_ms")})
        done = {"type": "finish", "reason": self.finish_reason, "t": now}
        if self.splitter.had_thinking:
            done["thinking_truncated"] = self.splitter.truncated
        events.append(done)
        return events


def wire_messages(messages: list[dict[str, Any]], detail: str | None = None) -> list[dict[str, Any]]:
    """Neutral messages (tool use: bakeoff.tools.calls; images: bakeoff.util.images) in the Chat
    Completions shape. ``detail`` is OpenAI's image resolution setting (low, high, auto)."""
    out = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            out.append({"role": "assistant", "content": m.get("content") or None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"] or "", "arguments": c["arguments_raw"]}}
                for c in m["tool_calls"]]})
        elif m["role"] == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        elif m.get("images"):
            # Chat Completions content parts: the images as base64 data URLs, then the text.
            parts: list[dict[str, Any]] = []
            for image in m["images"]:
                url: dict[str, Any] = {"url": data_url(image)}
                if detail:
                    url["detail"] = detail
                parts.append({"type": "image_url", "image_url": url})
            parts.append({"type": "text", "text": m["content"]})
            out.append({"role": m["role"], "content": parts})
        else:
            out.append({k: v for k, v in m.items() if k != "images"})
    return out


def _add_tool_piece(pieces: dict[int, dict[str, Any]], piece: dict[str, Any]) -> None:
    """One streamed ``tool_calls`` element: the first of an index brings id and name, later ones
    more of the arguments text."""
    index = piece.get("index", len(pieces))
    call = pieces.setdefault(index, {"id": None, "name": "", "arguments": ""})
    call["id"] = piece.get("id") or call["id"]
    fn = piece.get("function") or {}
    call["name"] += fn.get("name") or ""
    call["arguments"] += fn.get("arguments") or ""


def _tool_calls(pieces: dict[int, dict[str, Any]], content: str, offered: bool) -> list[dict[str, Any]]:
    if pieces:
        return [make_call(p["id"] or f"call_{i + 1}", p["name"], p["arguments"])
                for i, p in enumerate(pieces[k] for k in sorted(pieces))]
    if not offered:
        return []
    calls = parse_calls(content)[1]
    for call in calls:
        call["note"] = ("read from the content: the server returned no tool_calls"
                        + (f"; {call['note']}" if call.get("note") else ""))
    return calls


def _error_text(err: Any) -> str:
    """An error object as OpenAI shapes it ({"message", "type", "code"}), or whatever came."""
    if isinstance(err, dict) and err.get("message"):
        return f"{err.get('type') or err.get('code') or err.get('status') or 'error'}: {err['message']}"
    return str(err)[:300]


def _error_detail(exc) -> str:
    """The server's own error message from an SDK exception."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return _error_text(body.get("error", body))
    return getattr(exc, "message", "") or type(exc).__name__


def _without_lengths(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_lengths(v) for k, v in schema.items() if k not in ("minLength", "maxLength")}
    if isinstance(schema, list):
        return [_without_lengths(v) for v in schema]
    return schema
