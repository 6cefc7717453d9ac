"""Google's Gemini API through its OpenAI-compatible endpoint. Spec: ``gemini:MODEL`` (e.g.
``gemini:gemini-2.5-flash?reasoning_effort=low``). Key: ``GEMINI_API_KEY`` (or
``GOOGLE_API_KEY``) or ``bakeoff keys set gemini``.

Google documents the Chat Completions shape at
https://ai.google.dev/gemini-api/docs/openai, streaming usage included; ``reasoning_effort``
maps to the model's thinking budget there. ``seed`` is not sent (not among the parameters that
endpoint documents).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bakeoff.backends._server import ServerOptions
from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.openai_api import OpenAIBackend


class GeminiOptions(ServerOptions):
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = Field(
        None, description="thinking budget of Gemini 2.5+ models, as the OpenAI-compatible endpoint maps it")


class GeminiBackend(OpenAIBackend):
    name = "gemini"
    Options = GeminiOptions
    engine_label = "Gemini API (OpenAI-compatible endpoint)"
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta/openai"
    max_tokens_field = "max_tokens"

    def request_args(self, request: GenerationRequest) -> dict[str, Any]:
        args = super().request_args(request)
        args.pop("seed", None)
        return args
