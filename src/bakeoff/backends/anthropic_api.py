"""Anthropic's Messages API. Spec: ``anthropic:MODEL`` (e.g. ``anthropic:claude-sonnet-4-5``,
``anthropic:claude-sonnet-4-5?thinking_budget=2048``). Key: ``ANTHROPIC_API_KEY`` or
``bakeoff keys set anthropic``; ``ANTHROPIC_BASE_URL`` or ``base_url=`` points it elsewhere.

The request: the case's system message(s) go into the top-level ``system`` parameter (the
Messages API has no system role); user and assistant turns stay in ``messages``.

The stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming) is read as the SDK's
raw events, so each piece is timed when it arrives: ``text_delta`` is answer, ``thinking_delta``
is reasoning (``signature_delta`` is not text). Token counts are the server's, labelled
``server usage``: prompt tokens are ``message_start``'s ``input_tokens`` plus its cache creation
and cache read tokens (Anthropic's own definition of the total input); output tokens are the
last ``message_delta``'s ``output_tokens``, which include thinking. A stream that ends without
``message_stop`` was cut off and is retried. Stop reasons ``end_turn`` and ``stop_sequence``
are recorded as ``stop``, ``max_tokens`` as ``length``, the others as Anthropic names them.

Tools: ``tools`` as ``{name, description, input_schema}``; a ``tool_use`` content block (its id and
name in ``content_block_start``, its input as ``input_json_delta`` pieces) becomes a ``tool_call``
event, the input text as streamed (a malformed one is recorded, not raised). Tool-use history goes
out as assistant ``tool_use`` blocks and user ``tool_result`` blocks (consecutive results in one
user message, as the API wants).

Sampling: the SDK (2.x) sends ``anthropic-version: 2026-10-21``, which rejects ``temperature``,
``top_p`` and ``top_k`` with HTTP 400 (even at their default values), and the API has no seed.
So none of them is sent: the case's temperature is not applied, repeats are draws at the
model's own setting, and the user is told so once. ``api_version=2023-06-01`` sends the older
version, which still accepts them: the case's temperature and the spec's ``top_p``/``top_k``
are sent then (never with thinking, which takes none of them).

``thinking_budget=N`` (N >= 1024) sends ``thinking: {type: enabled, budget_tokens: N}``.
Anthropic counts thinking within ``max_tokens`` and wants ``max_tokens`` above the budget, so
the request asks for ``max_tokens = N + the case's max_tokens``: the answer keeps its own
allowance after the thinking. The newest models (Opus 4.7 and later, Sonnet 5) take adaptive
thinking only and answer ``budget_tokens`` with HTTP 400: those trials are errors that say so.
``thinking=BUDGET`` is ``thinking_budget=BUDGET``, ``thinking=on`` a budget of 2048 tokens,
``thinking=off`` none; giving both ``thinking`` and ``thinking_budget`` is an input error.

Errors: 429 waits for ``retry-after``; 529 (overloaded), 5xx, a dropped or stalled stream and an
``overloaded_error``/``api_error`` event inside the stream are retried; a 4xx is an error trial
with the server's message (the key redacted); a data line that is not JSON is
"malformed stream chunk". The Models API checks the model name when the contender loads (an
alias such as ``claude-sonnet-4-5`` is resolved by ``GET /v1/models/{id}``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field, model_validator

from bakeoff.backends._server import Retryable, ServerBackend, ServerOptions, status_failure
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.errors import InputError
from bakeoff.util.images import image_base64, no_visual_budget
from bakeoff.thinking import DEFAULT_BUDGETS, ThinkingOption, fold_into
from bakeoff.tools.calls import make_call

LEGACY_VERSION = "2023-06-01"  # the last API version that takes temperature, top_p and top_k
SAMPLING = ("temperature", "top_p", "top_k")
RETRY_EVENT_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicOptions(ServerOptions):
    thinking_budget: int | None = Field(
        None, ge=1024, description="extended thinking: tokens the model may think before answering "
                                   "(sent as budget_tokens; max_tokens becomes budget + the case's max_tokens)")
    api_version: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}-\d{2}$",
        description=f"anthropic-version header (default: the SDK's); {LEGACY_VERSION} still accepts "
                    "temperature, top_p and top_k, which are sent only with it")
    thinking: ThinkingOption = Field(
        None, description=f"off, on (a budget of {DEFAULT_BUDGETS['anthropic']} tokens) or a budget (>= 1024): "
                          "sets thinking_budget")

    visual_budget: no_visual_budget("Anthropic's Messages API", "it sizes images itself (about width x height / 750 "
                                    "tokens, long edge at most 1568 px): resize the image files instead") = Field(
        None, description="refused: the Messages API has no per-image token budget")

    @model_validator(mode="after")
    def _thinking(self):
        budget = {"on": DEFAULT_BUDGETS["anthropic"], "off": None}.get(self.thinking, self.thinking)
        if isinstance(budget, int) and budget < 1024:
            raise ValueError(f"Anthropic's thinking budget must be at least 1024 tokens; got thinking={budget}")
        return fold_into(self, "thinking_budget", budget)


def _sdk():
    try:
        import anthropic
    except ImportError:
        raise InputError("this backend needs the anthropic package: pip install 'bakeoff[anthropic]'") from None
    return anthropic


def _transport_errors() -> tuple[type[BaseException], type[BaseException]]:
    """The HTTP library's (timeout, transport) errors: the SDK does not wrap those raised mid-stream."""
    try:
        import httpx2 as httpx  # the anthropic SDK's HTTP client since 2.x
    except ImportError:  # pragma: no cover - older SDKs used httpx
        import httpx
    return httpx.TimeoutException, httpx.TransportError


class AnthropicBackend(ServerBackend):
    name = "anthropic"
    Options = AnthropicOptions
    runs_in = "cloud"
    key_env = ("ANTHROPIC_API_KEY",)
    key_required = True
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"
    options: AnthropicOptions

    @classmethod
    def check_ready(cls, model: str, options: AnthropicOptions) -> None:
        super().check_ready(model, options)
        chosen = [k for k in SAMPLING if getattr(options, k) is not None]
        if chosen and options.thinking_budget:
            raise InputError(f"anthropic:{model}: extended thinking takes no {'/'.join(chosen)}; "
                             "drop them or drop thinking_budget")
        if chosen and options.api_version != LEGACY_VERSION:
            raise InputError(f"anthropic:{model}: {'/'.join(chosen)} cannot be sent: the Messages API rejects "
                             f"temperature, top_p and top_k since version 2026-10-21; drop them, or add "
                             f"api_version={LEGACY_VERSION} (models that still accept them)")
        _sdk()  # a missing SDK is a user error before the run starts (exit 2 with the pip hint)

    @property
    def sends_sampling(self) -> bool:
        return self.options.api_version == LEGACY_VERSION and not self.options.thinking_budget

    def request_args(self, request: GenerationRequest) -> dict[str, Any]:
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        messages = anthropic_messages([m for m in request.messages if m["role"] != "system"])
        args: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": request.max_tokens,
                                "stream": True}
        if request.tools:
            args["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                              "input_schema": t.get("parameters") or {"type": "object", "properties": {}}}
                             for t in request.tools]
        if system:
            args["system"] = "\n\n".join(system)
        if request.stop:
            args["stop_sequences"] = list(request.stop)
        if self.options.thinking_budget:
            budget = self.options.thinking_budget
            args["thinking"] = {"type": "enabled", "budget_tokens": budget}
            args["max_tokens"] = budget + request.max_tokens
        elif self.sends_sampling:  # not parameters of the SDK any more: sent as extra body fields
            extra = {"temperature": request.temperature, "top_p": request.top_p, "top_k": request.top_k}
            args["extra_body"] = {k: v for k, v in extra.items() if v is not None}
        return args

    async def aload(self) -> dict[str, Any]:
        anthropic = _sdk()
        base_url = self.base_url
        headers = {"anthropic-version": self.options.api_version} if self.options.api_version else None
        self.client = anthropic.AsyncAnthropic(
            api_key=self.api_key, base_url=base_url, max_retries=0, default_headers=headers,  # retries are ours
            timeout=anthropic.Timeout(self.trial_timeout_s, connect=self.options.connect_timeout))
        quick = self.client.with_options(timeout=anthropic.Timeout(
            max(self.options.connect_timeout, 30.0), connect=self.options.connect_timeout))
        try:
            listed = [m async for m in quick.models.list(limit=1000)]
            info = next((m for m in listed if m.id == self.model), None)
            if info is None:  # an alias (claude-sonnet-4-5) is not listed but resolves to a model id
                try:
                    info = await quick.models.retrieve(self.model)
                except anthropic.NotFoundError:
                    names = [m.id for m in listed]
                    raise BackendError(f"the Anthropic API at {base_url} does not offer {self.model!r}; it lists "
                                       f"{len(names)} models, e.g. {', '.join(names[:8])}") from None
        except anthropic.APIStatusError as exc:
            hint = " (base_url is the host, without /v1)" if exc.status_code == 404 and base_url.endswith("/v1") else ""
            raise BackendError(self.redact(f"the Anthropic API at {base_url} refused the Models API: "
                                           f"HTTP {exc.status_code}: {_error_detail(exc)}{hint}")[:400]) from None
        except anthropic.APIError as exc:  # no connection, no answer in time
            cause = exc.__cause__ or exc
            raise BackendError(self.redact(f"the Anthropic API at {base_url} did not answer /v1/models: "
                                           f"{type(cause).__name__}: {cause}")[:400]) from None
        sampling = ["temperature"] + [k for k in ("top_p", "top_k") if getattr(self.options, k) is not None]
        return {"engine": "Anthropic API", "base_url": base_url, "model_name": self.model, "model_id": info.id,
                "display_name": getattr(info, "display_name", None),
                "anthropic_version": self.options.api_version or _sdk_api_version(),
                "anthropic_sdk_version": anthropic.__version__, **self.key_fact(),
                "thinking_budget": self.options.thinking_budget,
                "sampling_sent": sampling if self.sends_sampling else [],
                "token_counts": "server usage (prompt: input + cache tokens; output includes thinking)"}

    def cold_control(self) -> str | None:
        # Anthropic caches only the blocks a request marks with cache_control; bakeoff marks none.
        return "no cache_control blocks marked (Anthropic caches only marked blocks)"

    def notes(self) -> list[str]:
        if self.sends_sampling:
            return [f"anthropic:{self.model}: Anthropic takes no seed; repeats are independent draws"]
        if self.options.thinking_budget:
            why = "no temperature is sent (extended thinking takes none)"
        else:
            why = (f"temperature, top_p and top_k are not sent (the Messages API rejects them since version "
                   f"2026-10-21; api_version={LEGACY_VERSION} sends them)")
        return [(f"anthropic:{self.model}: {why} and Anthropic takes no seed: answers are drawn at the model's "
                 "default temperature, not the case's")]

    async def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        anthropic = _sdk()
        stalled, transport = _transport_errors()
        t_send = time.perf_counter()
        yield {"type": "sent", "t": t_send}
        prompt_tokens = output_tokens = finish = cache_read = None
        stopped = False
        uses: dict[int, dict[str, Any]] = {}  # tool_use blocks by index: id, name, input JSON so far
        try:
            stream = await self.client.messages.create(**self.request_args(request))
            async with stream:
                async for event in stream:
                    now = time.perf_counter()
                    kind = getattr(event, "type", None)
                    if kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            yield {"type": "content", "text": delta.text, "t": now}
                        elif delta.type == "thinking_delta" and delta.thinking:
                            yield {"type": "reasoning", "text": delta.thinking, "t": now}
                        elif delta.type == "input_json_delta" and event.index in uses:
                            uses[event.index]["input"] += delta.partial_json or ""
                        # signature_delta (the thinking block's signature), input_json_delta, citations: not text
                    elif kind == "content_block_start" and event.content_block.type == "tool_use":
                        block = event.content_block
                        uses[event.index] = {"id": block.id, "name": block.name, "input": ""}
                    elif kind == "message_start":
                        usage = event.message.usage
                        prompt_tokens = _input_total(usage, None)
                        cache_read = getattr(usage, "cache_read_input_tokens", None)
                        output_tokens = getattr(usage, "output_tokens", None)
                    elif kind == "message_delta":
                        finish = event.delta.stop_reason or finish
                        if event.usage is not None:
                            output_tokens = event.usage.output_tokens
                            prompt_tokens = _input_total(event.usage, prompt_tokens)
                    elif kind == "message_stop":
                        stopped = True
        except anthropic.APIStatusError as exc:
            if exc.status_code < 400:  # an `error` event inside a stream that began with 200 OK
                err_type, detail = _error_parts(exc)
                if err_type in RETRY_EVENT_ERRORS:
                    raise Retryable(f"error event in the stream: {detail}") from None
                raise BackendError(f"error event in the stream: {detail}") from None
            raise status_failure(exc.status_code, _error_detail(exc), exc.response.headers) from None
        except anthropic.APITimeoutError:
            raise Retryable(f"no answer from the server within {self.trial_timeout_s:g} s") from None
        except anthropic.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise Retryable(f"connection failed: {type(cause).__name__}: {cause}"[:300]) from None
        except stalled:
            raise Retryable(f"the stream stalled: nothing received for {self.trial_timeout_s:g} s") from None
        except transport as exc:
            raise Retryable(f"connection dropped mid-stream: {type(exc).__name__}: {exc}"[:300]) from None
        except anthropic.AnthropicError as exc:
            raise BackendError(f"Anthropic SDK error: {type(exc).__name__}: {exc}"[:400]) from None
        except (ValueError, AttributeError, TypeError) as exc:  # a data line that is not JSON, or not an event
            raise BackendError(f"malformed stream chunk from the server: {type(exc).__name__}: {exc}"[:400]) from None
        if not stopped:
            raise Retryable("the stream ended before message_stop: the answer was cut off")
        for index in sorted(uses):
            use = uses[index]
            yield {"type": "tool_call", **make_call(use["id"], use["name"], use["input"]), "t": time.perf_counter()}
        yield {"type": "cache", "control": self.cold_control(), "cached_tokens": cache_read,
               "source": "server usage.cache_read_input_tokens" if cache_read is not None else None}
        if output_tokens is not None:
            yield {"type": "usage", "prompt_tokens": prompt_tokens, "output_tokens": output_tokens,
                   "source": "server usage"}
        yield {"type": "finish", "reason": FINISH.get(finish, finish), "t": time.perf_counter()}

    async def aclose(self) -> None:
        if getattr(self, "client", None) is not None:
            await self.client.close()


def anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral tool-use messages (bakeoff.tools.calls) as Messages API turns: assistant tool_use
    blocks; tool results as tool_result blocks of one user message."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            blocks += [{"type": "tool_use", "id": c["id"], "name": c["name"] or "", "input": c.get("arguments") or {}}
                       for c in m["tool_calls"]]
            out.append({"role": "assistant", "content": blocks})
        elif m["role"] == "tool":
            block = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif m.get("images"):
            # Messages API image blocks (base64 source), then the text block.
            blocks = [{"type": "image", "source": {"type": "base64", "media_type": i["mime"], "data": image_base64(i)}}
                      for i in m["images"]]
            out.append({"role": m["role"], "content": blocks + [{"type": "text", "text": m["content"]}]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def _input_total(usage, previous: int | None) -> int | None:
    """input_tokens + cache_creation_input_tokens + cache_read_input_tokens (Anthropic's total input)."""
    base = getattr(usage, "input_tokens", None)
    if base is None:
        return previous
    return base + (getattr(usage, "cache_creation_input_tokens", None) or 0) \
        + (getattr(usage, "cache_read_input_tokens", None) or 0)


def _error_parts(exc) -> tuple[str | None, str]:
    """(error type, "type: message") from Anthropic's {"type": "error", "error": {"type", "message"}}."""
    body = getattr(exc, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and (err.get("type") or err.get("message")):
        return err.get("type"), f"{err.get('type') or 'error'}: {err.get('message') or ''}".strip()
    if isinstance(body, str) and body.strip():
        return None, body.strip()[:300]
    return None, type(exc).__name__


def _error_detail(exc) -> str:
    return _error_parts(exc)[1]


def _sdk_api_version() -> str | None:
    try:
        from anthropic._constants import ANTHROPIC_API_VERSION
    except ImportError:  # pragma: no cover - a private module; the fact is then unknown
        return None
    return ANTHROPIC_API_VERSION
