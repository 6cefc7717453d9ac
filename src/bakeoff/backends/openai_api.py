"""OpenAI's own API. Spec: ``openai:MODEL`` (e.g. ``openai:gpt-4o-mini``,
``openai:o4-mini?reasoning_effort=low``). Key: ``OPENAI_API_KEY`` or ``bakeoff keys set openai``;
``OPENAI_BASE_URL`` or ``base_url=`` points it elsewhere (a proxy, Azure's v1 endpoint).

The Chat Completions protocol is the openai-compat backend's; OpenAI differs in wanting
``max_completion_tokens`` and in taking ``reasoning_effort`` on its reasoning models (which
accept only the default temperature, so none is sent with it).

``thinking=off|on|BUDGET`` sets ``reasoning_effort`` (bakeoff.thinking.effort_for): off -> none
(GPT-5.1 and later; older reasoning models answer HTTP 400, an error trial that says so), on ->
medium (OpenAI's default), BUDGET -> the level whose budget Google documents for the same
parameter (up to 1024 tokens low, up to 8192 medium, above that high): OpenAI takes no token
budget. Giving both ``thinking`` and ``reasoning_effort`` is an input error (exit 2).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bakeoff.backends._server import ServerOptions
from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.openai_compat import OpenAICompatBackend
from bakeoff.util.images import no_visual_budget
from bakeoff.thinking import ThinkingOption, effort_for, fold_into


class OpenAIOptions(ServerOptions):
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = Field(
        None, description="for reasoning models: how hard the model thinks")
    thinking: ThinkingOption = Field(
        None, description="off, on or a budget, sent as reasoning_effort: none, medium, or low/medium/high by budget")
    detail: Literal["low", "high", "auto"] | None = Field(
        None, description="image resolution, sent as image_url.detail (OpenAI's own knob for image tokens)")
    visual_budget: no_visual_budget("the OpenAI API", "use detail=low|high|auto") = Field(
        None, description="refused: the OpenAI API has no per-image token count; use detail")

    @model_validator(mode="after")
    def _thinking(self):
        return fold_into(self, "reasoning_effort", effort_for(self.thinking))


class OpenAIBackend(OpenAICompatBackend):
    name = "openai"
    Options = OpenAIOptions
    engine_label = "OpenAI API"
    runs_in = "cloud"
    key_env = ("OPENAI_API_KEY",)
    key_required = True
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    max_tokens_field = "max_completion_tokens"
    schema_lengths = False  # OpenAI's strict structured outputs refuse maxLength/minLength
    check_served = True
    template_thinking = False  # thinking is reasoning_effort here

    @classmethod
    def check_model(cls, model: str) -> None:
        pass  # any name: the API's /models list is checked when the contender loads

    def target(self) -> tuple[str, str]:
        return self.base_url, self.model

    def request_args(self, request: GenerationRequest) -> dict[str, Any]:
        args = super().request_args(request)
        if self.options.reasoning_effort:
            args["reasoning_effort"] = self.options.reasoning_effort
            args.pop("temperature")
        return args
