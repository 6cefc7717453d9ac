"""OpenAI's own API. Spec: ``openai:MODEL`` (e.g. ``openai:gpt-4o-mini``,
``openai:o4-mini?reasoning_effort=low``). Key: ``OPENAI_API_KEY`` or ``bakeoff keys set openai``;
``OPENAI_BASE_URL`` or ``base_url=`` points it elsewhere (a proxy, Azure's v1 endpoint).

The Chat Completions protocol is the openai-compat backend's; OpenAI differs in wanting
``max_completion_tokens`` and in taking ``reasoning_effort`` on its reasoning models (which
accept only the default temperature, so none is sent with it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bakeoff.backends._server import ServerOptions
from bakeoff.backends.base import GenerationRequest
from bakeoff.backends.openai_compat import OpenAICompatBackend


class OpenAIOptions(ServerOptions):
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = Field(
        None, description="for reasoning models: how hard the model thinks")


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
    check_served = True

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
