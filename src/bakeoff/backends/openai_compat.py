"""Any OpenAI-compatible chat server: vLLM, llama-server, llama-cpp-python's server, LM Studio,
SGLang, Ollama's /v1. Spec: ``openai-compat:BASE_URL#MODEL`` (e.g.
``openai-compat:http://127.0.0.1:8080/v1#qwen``).

Streams with ``stream_options.include_usage`` so the server's own token counts arrive in the last
chunk, and keeps llama-server's ``timings`` object as engine-reported figures. A server that
sends no usage (llama-cpp-python's server ignores include_usage) leaves the token counts unknown
unless ``tokenizer=`` names a GGUF (or packaged alias) whose vocabulary counts the output; the
figure is then labelled ``tokenizer``. Timings are taken in this process, on receipt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from bakeoff.backends.base import Backend, BackendError, BackendOptions, GenerationRequest
from bakeoff.errors import InputError


class OpenAICompatOptions(BackendOptions):
    api_key_env: str | None = Field(None, description="environment variable holding the API key, if the server wants one")
    tokenizer: str | None = Field(None, description="GGUF path or packaged alias to count tokens when the server sends no usage")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to wait for the server to answer")


def split_target(model: str) -> tuple[str, str]:
    base_url, sep, name = model.partition("#")
    if not sep or not name or not base_url.startswith(("http://", "https://")):
        raise InputError(f"openai-compat wants BASE_URL#MODEL, e.g. http://127.0.0.1:8080/v1#my-model; got {model!r}")
    return base_url.rstrip("/"), name


class OpenAICompatBackend(Backend):
    name = "openai-compat"
    Options = OpenAICompatOptions

    @classmethod
    def check_model(cls, model: str) -> None:
        split_target(model)

    def load(self) -> dict[str, Any]:
        import os

        try:
            import openai
        except ImportError:
            raise InputError("the openai-compat backend needs the openai package: pip install 'bakeoff[openai]'") from None
        base_url, self.model_name = split_target(self.model)
        key = os.environ.get(self.options.api_key_env, "") if self.options.api_key_env else ""
        self.client = openai.OpenAI(base_url=base_url, api_key=key or "not-needed",
                                    timeout=self.trial_timeout_s, max_retries=0)
        try:
            served = [m.id for m in self.client.with_options(timeout=self.options.connect_timeout).models.list()]
        except openai.APIError as exc:  # never echo the key: the SDK's messages do not carry it
            raise BackendError(f"server at {base_url} did not answer /models: {type(exc).__name__}") from None
        self._tokenizer = None
        if self.options.tokenizer:
            from llama_cpp import Llama

            from bakeoff.models import resolve_model

            self._tokenizer = Llama(model_path=str(resolve_model(self.options.tokenizer)), vocab_only=True,
                                    verbose=False)
        return {"engine": "OpenAI-compatible server", "base_url": base_url, "model_name": self.model_name,
                "served_models": served, "openai_sdk_version": openai.__version__,
                "token_counts": "server usage when sent; else " + ("tokenizer" if self._tokenizer else "unknown")}

    def generate(self, request: GenerationRequest) -> Iterator[dict[str, Any]]:
        import openai

        args: dict[str, Any] = {"model": self.model_name, "messages": request.messages, "stream": True,
                                "stream_options": {"include_usage": True}, "max_tokens": request.max_tokens,
                                "temperature": request.temperature, "seed": request.seed}
        if request.top_p is not None:
            args["top_p"] = request.top_p
        t_send = time.perf_counter()
        yield {"type": "sent", "t": t_send}
        usage = timings = None
        finish = None
        text = []
        try:
            for chunk in self.client.chat.completions.create(**args):
                now = time.perf_counter()
                for choice in chunk.choices or []:
                    delta = choice.delta
                    reasoning = getattr(delta, "reasoning_content", None) or (delta.model_extra or {}).get("reasoning_content")
                    if reasoning:
                        yield {"type": "reasoning", "text": reasoning, "t": now}
                    if delta.content:
                        text.append(delta.content)
                        yield {"type": "content", "text": delta.content, "t": now}
                    finish = choice.finish_reason or finish
                usage = chunk.usage or usage
                timings = (chunk.model_extra or {}).get("timings") or timings
        except openai.APIError as exc:
            raise BackendError(f"server error: {type(exc).__name__}: {getattr(exc, 'message', '')}"[:500]) from None
        if usage is not None:
            yield {"type": "usage", "prompt_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
                   "source": "server usage"}
        elif self._tokenizer is not None:
            out = self._tokenizer.tokenize("".join(text).encode(), add_bos=False, special=False)
            yield {"type": "usage", "prompt_tokens": None, "output_tokens": len(out), "source": "tokenizer"}
        if timings:
            yield {"type": "engine", "source": "server timings", "prompt_n": timings.get("prompt_n"),
                   "prompt_ms": timings.get("prompt_ms"), "eval_n": timings.get("predicted_n"),
                   "eval_ms": timings.get("predicted_ms")}
        yield {"type": "finish", "reason": finish, "t": time.perf_counter()}

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        self._tokenizer = None
