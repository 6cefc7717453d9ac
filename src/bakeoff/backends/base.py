"""What every backend provides.

A backend turns a contender spec into a session that streams events for one request. Events
are plain dicts so they can cross a process boundary as JSON:

- ``{"type": "content", "text": str, "t": float}``     a piece of the answer
- ``{"type": "reasoning", "text": str, "t": float}``   a piece of the thinking
- ``{"type": "usage", "prompt_tokens": int, "output_tokens": int, "source": str}``
- ``{"type": "engine", ...}``                          engine-reported timings (ms, counts)
- ``{"type": "memory", "peak_mb": float, ...}``        the worker's peak above its baseline
- ``{"type": "finish", "reason": "stop" | "length", "t": float}``
- ``{"type": "tool_call", "id", "name", "arguments_raw", "arguments", "error", "t"}``  one call the
  model made (bakeoff.tools.calls), malformed ones included with their raw text

``t`` is ``time.perf_counter()`` when the event was produced (CLOCK_MONOTONIC, shared by the
worker processes of one machine), so timings are taken where the tokens appear, never when a
consumer happened to read them.

The contract is asynchronous, the same for every backend: ``aload()`` once, ``astream(request)``
per attempt, ``aclose()`` at the end. ``agenerate(request)`` is what callers use: one attempt
here; server backends (bakeoff.backends._server) wrap it with retries. An in-process engine runs
in a worker subprocess (bakeoff.backends._subprocess) driven through the same three methods.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class BackendOptions(BaseModel):
    """Options common to all backends; subclasses add their own. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    max_tokens: int | None = None
    cold_turns: bool = Field(False, description="conversations: also ask each later turn's prompt cold (one "
                                                "token, no cached prefix) after the conversation, so the report "
                                                "shows cold beside warm TTFT per turn")
    # Ray placement (--executor ray): what one actor of this contender needs. The local executor
    # ignores them, and they are not part of the contender's identity (spec.PLACEMENT_OPTIONS).
    num_cpus: float | None = Field(None, ge=0)
    num_gpus: float | None = Field(None, ge=0)
    memory_mb: int | None = Field(None, ge=1)


@dataclass
class GenerationRequest:
    messages: list[dict[str, Any]]
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    seed: int = 0
    stop: list[str] = field(default_factory=list)
    # Structured output: the reply must be JSON matching this schema (llama.cpp: a GBNF grammar
    # built from it; OpenAI-compatible servers: response_format json_schema). Judges use it.
    json_schema: dict[str, Any] | None = None
    # Engine-specific body fields for OpenAI-compatible servers (e.g. the load test's ignore_eos).
    extra_body: dict[str, Any] | None = None
    # llama.cpp only: a GBNF grammar the reply must match (text, special tokens such as Gemma 4's
    # <|channel> included), e.g. to force a twin's random weights through a thought channel.
    grammar: str | None = None
    # Tool use: the declared tools {name, description, parameters}; messages may then hold
    # assistant tool_calls and role "tool" results (bakeoff.tools.calls has the neutral form).
    tools: list[dict[str, Any]] | None = None
    # Prefix caches (bakeoff.measure.cache): a conversation's later turn may reuse the prefix its
    # own earlier turns left in the cache (warm); every other request is asked cold. cache_salt
    # keys a conversation's requests together on servers that partition their cache by a salt
    # (vLLM); None: a fresh one per request.
    warm: bool = False
    cache_salt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("json_schema", "extra_body", "grammar", "tools", "cache_salt"):
            if out.get(key) is None:
                out.pop(key, None)  # stored requests stay as they were without them
        if not out.get("warm"):
            out.pop("warm", None)
        return out


class BackendError(Exception):
    """A failure of the contender (crash, timeout, load error): recorded as an error trial."""


class Backend(ABC):
    """One contender, loaded once, asked many requests, then closed."""

    name: ClassVar[str]
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    runs_in: ClassVar[str] = "in-process"  # | "server" (one the user runs) | "cloud" (priced per token)

    def __init__(self, model: str, options: BackendOptions, trial_timeout_s: float = 300.0):
        self.model = model
        self.options = options
        self.trial_timeout_s = trial_timeout_s
        self.tdp_watts: float | None = None  # lets a worker estimate energy where no meter exists
        self.tdp_source: str | None = None   # where tdp_watts comes from (said in every estimate)
        self.load_info: dict[str, Any] = {}  # load time and memory, where the backend measures them

    @classmethod
    def check_model(cls, model: str) -> None:
        """Raise InputError if the model name can never work (unknown alias, missing file)."""

    @classmethod
    def check_ready(cls, model: str, options: BackendOptions) -> None:
        """Raise InputError if the contender cannot start as configured (e.g. no API key)."""

    def model_file(self) -> str | None:
        """The local model file, when there is one (its sha256 is stored with the run)."""
        return None

    @abstractmethod
    async def aload(self) -> dict[str, Any]:
        """Load the model (or check the server has it); return facts for the run's environment.
        Raise BackendError when it cannot be loaded."""

    @abstractmethod
    def astream(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        """One attempt: the events of one request, each stamped with the time it happened.
        Raise BackendError on failure."""

    @abstractmethod
    async def aclose(self) -> None:
        """Unload the model and free its memory (or release the connections)."""

    async def agenerate(self, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
        """The events of one request: one attempt (server backends add retries)."""
        async with contextlib.aclosing(self.astream(request)) as events:
            async for event in events:
                yield event

    @property
    def concurrency(self) -> int:
        """Trials in flight at once: one for an in-process engine (it answers one at a time)."""
        return 1

    def notes(self) -> list[str]:
        """Things the user must be told once about this contender (e.g. a fallback template)."""
        return []

    def cold_control(self) -> str | None:
        """How a request is kept from reusing a cached prompt prefix (bakeoff.measure.cache), or
        None where the engine cannot be told per request."""
        return None
