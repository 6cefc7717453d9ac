"""Per-trial figures from a backend's event stream (definitions: docs/architecture.md §4)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrialFigures:
    ttft_ms: float | None = None  # send -> first token of any kind
    ttfat_ms: float | None = None  # send -> first answer (content) token
    e2e_ms: float | None = None  # send -> last token
    decode_tps: float | None = None  # client: (output tokens - 1) / (t_last - t_first)
    tpot_ms: float | None = None  # (E2E - TTFT) / (output tokens - 1)
    itl_ms_median: float | None = None  # median gap between streamed chunks
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_source: str | None = None  # "engine" | "tokenizer" | ...
    engine_prompt_n: int | None = None
    engine_prompt_ms: float | None = None
    engine_eval_n: int | None = None
    engine_eval_ms: float | None = None
    engine_prefill_tps: float | None = None
    engine_decode_tps: float | None = None
    engine_source: str | None = None
    engine_load_ms: float | None = None  # model load the engine reports apart from TTFT (Ollama)
    peak_mem_mb: float | None = None
    memory_method: str | None = None
    gpu_mem_mb: float | None = None  # NVML: GPU memory the worker process holds (None: no GPU seen)
    finish_reason: str | None = None
    # Images (bakeoff.suite.images): the image tokens among prompt_tokens (engine-reported; None where
    # the engine does not say), the projector's encode and the embeddings' decode (the trial row's
    # image_count comes from the case)
    image_tokens: int | None = None
    image_encode_ms: float | None = None
    image_decode_ms: float | None = None
    energy_j: float | None = None
    energy_label: str | None = None  # measured | estimated | unavailable
    energy_source: str | None = None


@dataclass
class StreamMeasure:
    """Feed it every event of one request; read output and figures at the end."""

    t_send: float = field(default_factory=time.perf_counter)
    prompt: str | None = None
    output: str = ""
    reasoning: str = ""
    figures: TrialFigures = field(default_factory=TrialFigures)
    retries: list[dict[str, Any]] = field(default_factory=list)  # attempts that failed, in order
    reasoning_tokens: int | None = None  # from the usage event, where the engine counts them
    thinking_truncated: bool | None = None  # from the finish event: ended inside the thinking
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # bakeoff.tools.calls form
    cache: dict[str, Any] | None = None  # the backend's ``cache`` event (bakeoff.measure.cache)
    _token_times: list[float] = field(default_factory=list)
    _t_first_content: float | None = None

    def feed(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        t = event.get("t", time.perf_counter())
        f = self.figures
        if kind == "retry":
            # The failed attempt's partial output and timings are dropped: the trial's figures
            # come from the attempt that succeeded; the failure is kept in the retry log.
            self.retries.append({k: event[k] for k in ("attempt", "reason", "wait_s")})
            self.output, self.reasoning, self._token_times, self._t_first_content = "", "", [], None
            self.tool_calls, self.cache = [], None
            self.figures = TrialFigures()
        elif kind in ("prompt", "sent"):
            self.t_send = t  # taken by the engine when the request reached it
            self.prompt = event.get("text", self.prompt)
        elif kind in ("content", "reasoning"):
            self._token_times.append(t)
            if kind == "content":
                self.output += event["text"]
                if self._t_first_content is None:
                    self._t_first_content = t
            else:
                self.reasoning += event["text"]
        elif kind == "tool_call":
            self.tool_calls.append({k: event[k] for k in ("id", "name", "arguments_raw", "arguments", "error", "note")
                                    if k in event})
        elif kind == "usage":
            f.prompt_tokens = event.get("prompt_tokens")
            f.output_tokens = event.get("output_tokens")
            f.tokens_source = event.get("source")
            self.reasoning_tokens = event.get("reasoning_tokens")
            f.image_tokens = event.get("image_tokens")
        elif kind == "engine":
            f.engine_source = event.get("source")
            f.engine_prompt_n, f.engine_prompt_ms = event.get("prompt_n"), event.get("prompt_ms")
            f.engine_eval_n, f.engine_eval_ms = event.get("eval_n"), event.get("eval_ms")
            f.engine_load_ms = event.get("load_ms")
            f.image_encode_ms, f.image_decode_ms = event.get("image_encode_ms"), event.get("image_decode_ms")
            if f.engine_prompt_n and f.engine_prompt_ms:
                f.engine_prefill_tps = f.engine_prompt_n / f.engine_prompt_ms * 1000
            if f.engine_eval_n and f.engine_eval_ms:
                f.engine_decode_tps = f.engine_eval_n / f.engine_eval_ms * 1000
        elif kind == "cache":
            self.cache = {k: v for k, v in event.items() if k != "type"}
        elif kind == "memory":
            f.peak_mem_mb = event.get("peak_mb")
            f.memory_method = event.get("method")
            f.gpu_mem_mb = event.get("gpu_mb")
        elif kind == "energy":
            f.energy_j, f.energy_label, f.energy_source = event["joules"], event["label"], event["source"]
        elif kind == "finish":
            f.finish_reason = event.get("reason")
            self.thinking_truncated = event.get("thinking_truncated")

    def finish(self) -> TrialFigures:
        f = self.figures
        times = self._token_times
        if times:
            f.ttft_ms = (times[0] - self.t_send) * 1000
            f.e2e_ms = (times[-1] - self.t_send) * 1000
            if len(times) > 1:
                f.itl_ms_median = statistics.median(b - a for a, b in zip(times, times[1:])) * 1000
        if self._t_first_content is not None:
            f.ttfat_ms = (self._t_first_content - self.t_send) * 1000
        n = f.output_tokens
        if n and n > 1 and len(times) > 1 and times[-1] > times[0]:
            f.decode_tps = (n - 1) / (times[-1] - times[0])
            f.tpot_ms = (f.e2e_ms - f.ttft_ms) / (n - 1)
        return f
