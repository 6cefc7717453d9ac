"""Ollama through its native API (``/api/chat``). Spec: ``ollama:MODEL`` with Ollama's own model
name, tag included: ``ollama:gemma4:e4b``, ``ollama:qwen3:8b?think=true&num_ctx=32768``.

The server is ``base_url=`` if given, else ``OLLAMA_HOST`` (read as Ollama reads it: ``host``,
``host:port`` or a URL; ``0.0.0.0`` means this machine), else ``http://127.0.0.1:11434``. No key.

What is sent:

- load: ``GET /api/version``; ``POST /api/show`` (a model that is not there fails the contender
  with the ``ollama pull`` hint); then ``POST /api/chat`` with no messages, which makes Ollama load
  the model, so no trial's TTFT includes the load; then ``GET /api/ps`` for the loaded size.
- each trial: ``POST /api/chat`` with ``stream: true``, the case's messages and
  ``options: {temperature, top_p, top_k, seed, num_predict, num_ctx, num_thread}``; ``think`` only
  when the option is given, ``keep_alive`` only when given (else the server's default). The load
  request carries the same ``num_ctx``/``num_thread``, because Ollama reloads a model whose runner
  options differ, and that reload would land in the first trial.
- close: ``POST /api/chat`` with no messages and ``keep_alive: 0``, which unloads the model, so the
  next contender's memory is not polluted by this one.

How figures map (docs/architecture.md §4, §5): TTFT, TTFAT, E2E, ITL and client decode tok/s are client-observed:
taken in this process when each NDJSON line arrives. ``message.thinking`` is reasoning,
``message.content`` the answer. From the final ``done: true`` object, engine-reported: token counts
(``prompt_eval_count``, ``eval_count``, labelled ``engine (ollama)``), prefill
(``prompt_eval_count`` / ``prompt_eval_duration``) and decode (``eval_count`` / ``eval_duration``)
from Ollama's nanosecond durations, and ``load_duration`` stored apart as the trial's
``engine_load_ms``: milliseconds when the model was resident; large when Ollama had to reload it
(keep_alive ran out, or runner options changed), which then also sits inside that trial's TTFT,
so the column says why a TTFT is an outlier. The contender's load record
has the load request's wall time (client-observed; Ollama's load reply carries no durations) and
``/api/ps``'s ``size`` and ``size_vram`` as engine-reported memory. The server's own process
memory is not measured here: it is not our process.

Thinking: ``thinking=on|off`` is an alias of ``think=true|false`` (giving both is an input error).
Ollama has no thinking budget, so ``thinking=BUDGET`` is refused (exit 2); ``think=low|medium|high``
stays for the models that take a level (gpt-oss).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import httpx2
from pydantic import Field, field_validator, model_validator

from bakeoff.backends._server import Retryable, ServerBackend, ServerOptions, status_failure
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.errors import InputError
from bakeoff.util.images import image_base64, no_visual_budget
from bakeoff.thinking import ThinkingOption, fold_into
from bakeoff.tools.calls import make_call, openai_tools

DEFAULT_URL = "http://127.0.0.1:11434"
MB = 2**20


class OllamaOptions(ServerOptions):
    think: bool | Literal["low", "medium", "high"] | None = Field(
        None, description="thinking: true/false, or low/medium/high for models that take a level (gpt-oss); "
                          "unset: the model's default")
    keep_alive: str | None = Field(
        None, description="how long Ollama keeps the model loaded after a trial (5m, 1h, -1 = forever); "
                          "unset: the server's default")
    num_ctx: int | None = Field(None, gt=0, description="context size in tokens (Ollama's num_ctx)")
    num_thread: int | None = Field(None, gt=0, description="CPU threads for the runner (Ollama's num_thread)")
    load_timeout: float = Field(600.0, gt=0, description="seconds to wait for Ollama to load the model")
    thinking: ThinkingOption = Field(None, description="on or off: an alias of think=true|false")
    visual_budget: no_visual_budget("Ollama's API", "its runner decides the image tokens (for Gemma 4, the "
                                    "model's default budget)") = Field(
        None, description="refused: Ollama's /api/chat has no per-image token budget")

    @model_validator(mode="after")
    def _thinking(self):
        if isinstance(self.thinking, int):
            raise ValueError(f"Ollama has no thinking budget (thinking={self.thinking}): use thinking=on|off, "
                             "or think=low|medium|high for models that take a level")
        return fold_into(self, "think", None if self.thinking is None else self.thinking == "on")

    @field_validator("think", mode="before")
    @classmethod
    def _think(cls, value: Any) -> Any:
        """One clear message for a bad value (a union's own errors name its members, not the option)."""
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "on", "yes", "1"):
            return True
        if text in ("false", "off", "no", "0"):
            return False
        if text in ("low", "medium", "high"):
            return text
        raise ValueError(f"think takes true, false, low, medium or high; got {value!r}")


def ollama_url(raw: str) -> str:
    """An address as Ollama's own client reads OLLAMA_HOST: scheme http and port 11434 unless given."""
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    default_port = "11434"
    if not sep:
        scheme, rest = "http", text
    elif scheme == "http":
        default_port = "80"
    elif scheme == "https":
        default_port = "443"
    else:
        raise InputError(f"ollama: cannot read the server address {raw!r}; write http://HOST:PORT")
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):  # [::1]:11434
        host, _, port = hostport[1:].partition("]")
        port = port.removeprefix(":")
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    else:
        host, port = hostport, ""
    port = port or default_port
    if not port.isdigit() or int(port) > 65535:
        raise InputError(f"ollama: bad port in the server address {raw!r}")
    if host in ("", "0.0.0.0", "::"):  # a bind-all address: the server is on this machine
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" + (f"/{path}".rstrip("/") if path else "")


def _ns_to_ms(value: Any) -> float | None:
    return value / 1e6 if isinstance(value, (int, float)) else None


def _same_model(entry: dict[str, Any], name: str) -> bool:
    """Ollama lists ``gemma3:latest`` for ``gemma3``."""
    wanted = {name, name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"}
    return bool(wanted & {entry.get("name"), entry.get("model")})


class OllamaBackend(ServerBackend):
    name = "ollama"
    Options = OllamaOptions
    key_required: ClassVar[bool] = False
    base_url_env: ClassVar[str | None] = "OLLAMA_HOST"
    default_base_url: ClassVar[str | None] = DEFAULT_URL
    options: OllamaOptions

    @classmethod
    def check_model(cls, model: str) -> None:
        if not model.strip() or any(c.isspace() for c in model):
            raise InputError(f"ollama wants a model name such as gemma4:e4b; got {model!r}")

    @classmethod
    def server_url(cls, options: OllamaOptions) -> str:
        import os

        return ollama_url(options.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_URL)

    @classmethod
    def check_ready(cls, model: str, options: OllamaOptions) -> None:
        cls.server_url(options)  # an address that cannot be read is the user's error (exit 2), before the run

    @property
    def base_url(self) -> str:
        return self.server_url(self.options)

    def key_fact(self) -> dict[str, Any]:
        return {}  # Ollama takes no key

    # --- what is sent ------------------------------------------------------------------

    def runner_options(self) -> dict[str, Any]:
        """The options Ollama loads the model with: the load and every trial send the same ones."""
        o = self.options
        return {k: v for k, v in (("num_ctx", o.num_ctx), ("num_thread", o.num_thread)) if v is not None}

    def keep_alive(self) -> str | int | None:
        value = self.options.keep_alive
        if value is None:
            return None
        for number in (int, float):  # a bare number is seconds (-1: forever); Ollama wants it as a number
            try:
                return number(value)
            except ValueError:
                pass
        return value

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        options: dict[str, Any] = {"temperature": request.temperature, "seed": request.seed,
                                   "num_predict": request.max_tokens, **self.runner_options()}
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.top_k is not None:
            options["top_k"] = request.top_k
        if request.stop:
            options["stop"] = request.stop
        body: dict[str, Any] = {"model": self.model, "messages": ollama_messages(request.messages), "stream": True,
                                "options": options}
        if request.tools:
            body["tools"] = openai_tools(request.tools)
        if self.options.think is not None:
            body["think"] = self.options.think
        if self.keep_alive() is not None:
            body["keep_alive"] = self.keep_alive()
        return body

    # --- load, close -----------------------------------------------------------------

    async def _call(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> Any:
        """One small request while loading: any failure is a BackendError (``status`` set for HTTP errors)."""
        wait = timeout or self.options.connect_timeout
        try:
            response = await self.client.request(method, path, json=body, timeout=wait)
        except httpx2.TimeoutException:
            raise BackendError(f"ollama at {self.base_url} did not answer {path} within {wait:g} s") from None
        except httpx2.TransportError as exc:
            raise BackendError(f"cannot reach ollama at {self.base_url} ({type(exc).__name__}: {exc}); "
                               f"is `ollama serve` running? (set base_url= or OLLAMA_HOST)"[:400]) from None
        if response.status_code >= 400:
            error = BackendError(f"ollama {path}: HTTP {response.status_code}: {_error_text(response.content)}"[:400])
            error.status = response.status_code  # type: ignore[attr-defined]
            raise error
        try:
            return response.json()
        except ValueError:
            raise BackendError(f"ollama's {path} answer is not JSON: {response.text[:200]!r}") from None

    async def aload(self) -> dict[str, Any]:
        base_url = self.base_url
        self.client = httpx2.AsyncClient(
            base_url=base_url, timeout=httpx2.Timeout(self.trial_timeout_s, connect=self.options.connect_timeout),
            limits=httpx2.Limits(max_connections=self.concurrency + 2))
        try:
            version = (await self._call("GET", "/api/version")).get("version")
            try:
                show = await self._call("POST", "/api/show", {"model": self.model})
            except BackendError as exc:
                if getattr(exc, "status", None) == 404:
                    raise BackendError(f"ollama has no model {self.model}; run `ollama pull {self.model}`") from None
                raise
            capabilities = show.get("capabilities")
            if self.options.think not in (None, False) and isinstance(capabilities, list) \
                    and "thinking" not in capabilities:
                raise BackendError(f"ollama model {self.model} does not support thinking (capabilities: "
                                   f"{', '.join(capabilities) or 'none'}); drop think= (or thinking=) from the spec")
            was_loaded = (await self._running()).get("memory_source", "").startswith("engine-reported")
            load_body: dict[str, Any] = {"model": self.model, "messages": [], "stream": False}
            if self.runner_options():
                load_body["options"] = self.runner_options()
            if self.keep_alive() is not None:
                load_body["keep_alive"] = self.keep_alive()
            t0 = time.perf_counter()
            loaded = await self._call("POST", "/api/chat", load_body, timeout=self.options.load_timeout)
            load_ms = (time.perf_counter() - t0) * 1000
            if isinstance(loaded, dict) and loaded.get("error"):
                raise BackendError(f"ollama could not load {self.model}: {loaded['error']}")
            self.load_info = {"load_ms": round(load_ms, 3),
                              "load_ms_source": "client-observed (wall time of the empty /api/chat load request)",
                              "was_loaded": was_loaded}
            if isinstance(loaded, dict) and _ns_to_ms(loaded.get("load_duration")) is not None:
                self.load_info["engine_load_ms"] = _ns_to_ms(loaded["load_duration"])
            self.load_info.update(await self._running())
        except BaseException:
            await self.client.aclose()
            self.client = None
            raise
        details = show.get("details") or {}
        return {"engine": "ollama", "base_url": base_url, "ollama_version": version, "model_name": self.model,
                "model_details": {k: details.get(k) for k in ("format", "family", "parameter_size",
                                                                "quantization_level") if details.get(k)},
                "capabilities": capabilities, "think": self.options.think,
                "keep_alive": self.options.keep_alive or "server default",
                "runner_options": self.runner_options(), "token_counts": "engine (ollama eval counts)",
                "httpx2_version": httpx2.__version__}

    async def _running(self) -> dict[str, Any]:
        """What /api/ps says the loaded model holds: engine-reported, in MiB."""
        try:
            ps = await self._call("GET", "/api/ps")
        except BackendError as exc:
            return {"memory_source": f"unavailable (/api/ps failed: {exc})"[:300]}
        for entry in (ps or {}).get("models") or []:
            if _same_model(entry, self.model):
                info: dict[str, Any] = {"memory_source": "engine-reported (ollama /api/ps size, size_vram)"}
                if isinstance(entry.get("size"), (int, float)):
                    info["engine_mem_mb"] = round(entry["size"] / MB, 1)
                if isinstance(entry.get("size_vram"), (int, float)):
                    info["engine_vram_mb"] = round(entry["size_vram"] / MB, 1)
                if entry.get("context_length"):
                    info["engine_context_length"] = entry["context_length"]
                return info
        return {"memory_source": "unavailable (the model is not in /api/ps after loading)"}

    async def aclose(self) -> None:
        client = getattr(self, "client", None)
        if client is None:
            return
        try:  # unload, so the next contender's memory figures are its own; a failure here is no error
            await client.post("/api/chat", json={"model": self.model, "messages": [], "keep_alive": 0,
                                                 "stream": False},
                              timeout=self.options.connect_timeout)
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.client = None
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001
                pass

    # --- one attempt -------------------------------------------------------------------

    async def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        body = self.request_body(request)
        t_send = time.perf_counter()
        yield {"type": "sent", "t": t_send}
        final: dict[str, Any] | None = None
        calls: list[dict[str, Any]] = []
        try:
            async with self.client.stream("POST", "/api/chat", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise status_failure(response.status_code, _error_text(response.content), response.headers)
                async for line in response.aiter_lines():
                    now = time.perf_counter()
                    if not line.strip():
                        continue
                    try:
                        chunk = json.loads(line)
                    except ValueError:
                        raise BackendError(f"malformed stream chunk from ollama (not JSON): {line[:200]!r}") from None
                    if not isinstance(chunk, dict):
                        raise BackendError(f"malformed stream chunk from ollama (not an object): {line[:200]!r}")
                    if chunk.get("error"):
                        raise BackendError(f"ollama error in the stream: {chunk['error']}"[:400])
                    message = chunk.get("message") or {}
                    if message.get("thinking"):
                        yield {"type": "reasoning", "text": message["thinking"], "t": now}
                    if message.get("content"):
                        yield {"type": "content", "text": message["content"], "t": now}
                    for call in message.get("tool_calls") or []:  # Ollama parsed them from the model's text
                        fn = call.get("function") or {}
                        args = fn.get("arguments")
                        calls.append(make_call(call.get("id") or f"call_{len(calls) + 1}", fn.get("name"),
                                               args if isinstance(args, (dict, str)) else json.dumps(args)))
                    if chunk.get("done"):
                        final = chunk
                        break
        except httpx2.TimeoutException:
            raise Retryable(f"no answer from ollama within {self.trial_timeout_s:g} s") from None
        except httpx2.TransportError as exc:  # refused, reset, or the stream cut short
            raise Retryable(f"connection failed or dropped: {type(exc).__name__}: {exc}"[:300]) from None
        if final is None:
            raise Retryable("the stream ended before ollama's final (done: true) object")
        for call in calls:
            yield {"type": "tool_call", **call, "t": time.perf_counter()}
        # Ollama reuses a loaded model's cached prefix and takes no switch; prompt_eval_count counts
        # only the tokens it evaluated, so fewer than for the same prompt before is a cache hit
        # (bakeoff.measure.cache compares).
        yield {"type": "cache", "control": None, "cached_tokens": None, "source": "ollama prompt_eval_count",
               "evaluated_tokens": final.get("prompt_eval_count")}
        yield {"type": "usage", "prompt_tokens": final.get("prompt_eval_count"),
               "output_tokens": final.get("eval_count"), "source": "engine (ollama)"}
        yield {"type": "engine", "source": "ollama durations",
               "prompt_n": final.get("prompt_eval_count"), "prompt_ms": _ns_to_ms(final.get("prompt_eval_duration")),
               "eval_n": final.get("eval_count"), "eval_ms": _ns_to_ms(final.get("eval_duration")),
               "load_ms": _ns_to_ms(final.get("load_duration")),
               "total_ms": _ns_to_ms(final.get("total_duration"))}
        yield {"type": "finish", "reason": final.get("done_reason"), "t": time.perf_counter()}


def ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral tool-use messages (bakeoff.tools.calls) as Ollama's /api/chat takes them: arguments
    as an object, tool results as role "tool" with the tool's name."""
    out = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            out.append({"role": "assistant", "content": m.get("content") or "", "tool_calls": [
                {"function": {"name": c["name"] or "", "arguments": c["arguments"] if c.get("arguments") is not None
                              else c["arguments_raw"]}} for c in m["tool_calls"]]})
        elif m["role"] == "tool":
            out.append({"role": "tool", "content": m["content"], "tool_name": m.get("name") or ""})
        elif m.get("images"):
            out.append({"role": m["role"], "content": m["content"], "images": [image_base64(i) for i in m["images"]]})
        else:
            out.append(m)
    return out


def _error_text(content: bytes) -> str:
    """Ollama's error body is {"error": "..."}; anything else is shown as it came, cut short."""
    try:
        data = json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace").strip()[:300]
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return json.dumps(data)[:300]
