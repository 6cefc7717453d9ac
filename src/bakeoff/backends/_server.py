"""What the backends that talk to a server over HTTP share: the API key, retries with exponential
backoff and jitter, request timeouts and per-contender concurrency.

Every backend is asynchronous (bakeoff.backends.base); a server backend differs in running up to
``concurrency`` of a contender's trials at once on one event loop (in-process engines: one). A subclass implements one attempt,
``astream``, and raises ``Retryable`` for what another attempt may fix (429, 5xx, a dropped
connection, no answer in time); ``agenerate`` wraps it with the retries and emits a ``retry``
event for each, so the trial records them and its timings come from the attempt that succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from bakeoff.backends.base import Backend, BackendError, BackendOptions, GenerationRequest
from bakeoff.errors import InputError
from bakeoff.keys import find_key, redact

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}  # 529: Anthropic "overloaded"
MAX_WAIT_S = 60.0  # a Retry-After longer than this is capped, not obeyed for minutes


class ServerOptions(BackendOptions):
    base_url: str | None = Field(None, description="endpoint override: a proxy, a region, a local server")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    concurrency: int = Field(1, ge=1, le=256, description="trials in flight at once against this server")
    retries: int = Field(3, ge=0, le=20, description="attempts after the first on 429, 5xx, dropped connections, timeouts")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to wait for the server to accept a connection")
    cache: Literal["cold", "bust"] = Field(
        "cold", description="prefix cache: cold (ask the server per request not to reuse a cached prefix where it "
                            "takes such a switch; else record and label what it reused) or bust (also start each "
                            "trial's prompt with a unique marker of a few tokens, stored with the trial, for "
                            "servers that cannot be told)")


class Retryable(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's own wait: ``retry-after-ms`` (OpenAI), else ``retry-after`` in seconds or as an HTTP date."""
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 20.0) -> float:
    """Exponential backoff with full jitter (AWS architecture blog): uniform(0, min(cap, base * 2^attempt))."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def status_failure(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Exception:
    """The exception for an HTTP error status: Retryable for 429/5xx, BackendError otherwise."""
    reason = f"HTTP {status}: {detail}".strip()[:400]
    if status in RETRY_STATUS or status >= 500:
        return Retryable(reason, retry_after_seconds(headers))
    return BackendError(reason)


class ServerBackend(Backend):
    """A contender behind an HTTP API. Subclasses set the key's environment variables and base URL."""

    Options: ClassVar[type[ServerOptions]] = ServerOptions
    runs_in = "server"
    key_env: ClassVar[tuple[str, ...]] = ()  # environment variables that may hold the key, in order
    key_required: ClassVar[bool] = False
    base_url_env: ClassVar[str | None] = None  # e.g. OLLAMA_HOST
    default_base_url: ClassVar[str | None] = None
    options: ServerOptions

    def __init__(self, model: str, options: ServerOptions, trial_timeout_s: float = 300.0):
        super().__init__(model, options, trial_timeout_s)
        self.api_key, self.key_source = self.find_key(options)

    # --- shared parts ----------------------------------------------------------------

    @classmethod
    def find_key(cls, options: ServerOptions) -> tuple[str | None, str | None]:
        names = (options.api_key_env,) if options.api_key_env else cls.key_env
        return find_key(names, cls.name)

    @classmethod
    def check_ready(cls, model: str, options: ServerOptions) -> None:
        """Before a run starts: a cloud contender without a key is a user error (exit 2)."""
        if cls.key_required and cls.find_key(options)[0] is None:
            names = (options.api_key_env,) if options.api_key_env else cls.key_env
            raise InputError(f"{cls.name}:{model} needs an API key: set {' or '.join(names)}, "
                             f"or run `bakeoff keys set {cls.name}`")

    @property
    def base_url(self) -> str:
        import os

        url = self.options.base_url or (os.environ.get(self.base_url_env) if self.base_url_env else None) \
            or self.default_base_url
        if not url:
            raise InputError(f"{self.name}: no server address; pass base_url=...")
        if "://" not in url:  # OLLAMA_HOST is often host:port
            url = "http://" + url
        return url.rstrip("/")

    def redact(self, text: str) -> str:
        return redact(text, [self.api_key] if self.api_key else [])

    @property
    def concurrency(self) -> int:
        return self.options.concurrency

    def notes(self) -> list[str]:
        if self.cold_control() is not None or self.options.cache == "bust":
            return []
        return [f"{self.name}:{self.model}: the server takes no per-request switch to keep a prompt out of its prefix "
                "cache; each trial is labelled with what the server reports it reused ('cache: not reported' where it "
                "says nothing), and a trial whose prompt repeats a prefix sent earlier in the run is left out of the "
                "cold TTFT and prefill medians. Add cache=bust to the spec to start every prompt with a unique marker "
                "(a few tokens, stored with the trial) so that no trial reuses another's prefix"]

    def cache_scope(self) -> str:
        """What shares one prefix cache: the server's address."""
        try:
            return self.base_url
        except InputError:
            return f"{self.name}:{self.model}"

    def key_fact(self) -> dict[str, Any]:
        """Where the key came from, never the key."""
        return {"api_key": self.key_source or "none"}

    # --- what a subclass implements ------------------------------------------------------

    @abstractmethod
    async def aload(self) -> dict[str, Any]:
        """Check the server answers and the model is there; return facts for the run's environment."""

    @abstractmethod
    def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        """One attempt: the events of one request. Raise Retryable or BackendError on failure."""

    async def aclose(self) -> None:
        """Release connections (and, for a local server, the model)."""

    # --- retries around one attempt --------------------------------------------------------

    async def agenerate(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        """Stream one request with retries; each retry is an event, so the trial records it."""
        for attempt in range(self.options.retries + 1):
            try:
                deadline = time.perf_counter() + self.trial_timeout_s
                # aclosing: a failed or abandoned attempt closes its HTTP response now, not at GC.
                async with contextlib.aclosing(self.astream(request)) as events:
                    async for event in events:
                        yield event
                        if time.perf_counter() > deadline:
                            raise Retryable(f"the request took longer than {self.trial_timeout_s:g} s")
                return
            except Retryable as exc:
                reason = self.redact(exc.reason)
                if attempt == self.options.retries:
                    raise BackendError(f"gave up after {attempt + 1} attempt(s): {reason}") from None
                wait = min(MAX_WAIT_S, exc.retry_after if exc.retry_after is not None else backoff_seconds(attempt))
                yield {"type": "retry", "attempt": attempt + 1, "reason": reason,
                       "wait_s": round(wait, 3), "t": time.perf_counter()}
                await asyncio.sleep(wait)
            except BackendError as exc:
                raise BackendError(self.redact(str(exc))) from None
