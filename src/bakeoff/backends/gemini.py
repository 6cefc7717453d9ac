"""Google's Gemini API through its OpenAI-compatible endpoint. Spec: ``gemini:MODEL`` (e.g.
``gemini:gemini-2.5-flash?reasoning_effort=low``). Key: ``GEMINI_API_KEY`` (or
``GOOGLE_API_KEY``) or ``bakeoff keys set gemini``.

Google documents the Chat Completions shape at
https://ai.google.dev/gemini-api/docs/openai, streaming usage included; ``reasoning_effort``
maps to the model's thinking budget there. ``seed`` is not sent (not among the parameters that
endpoint documents). ``thinking=off|on|BUDGET`` maps to ``reasoning_effort`` as for ``openai:``
(off -> none, which Google documents as thinking off; on -> medium; a budget -> low up to 1024
tokens, medium up to 8192, high above, the budgets Google gives for those levels).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bakeoff.backends._server import ServerOptions
from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.openai_api import OpenAIBackend
from bakeoff.thinking import ThinkingOption, effort_for, fold_into


class GeminiOptions(ServerOptions):
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = Field(
        None, description="thinking budget of Gemini 2.5+ models, as the OpenAI-compatible endpoint maps it")
    thinking: ThinkingOption = Field(
        None, description="off, on or a budget, sent as reasoning_effort: none, medium, or low/medium/high by budget")

    @model_validator(mode="after")
    def _thinking(self):
        return fold_into(self, "reasoning_effort", effort_for(self.thinking))


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
