"""``twin:MODEL``: an architecture twin (bakeoff.twin) run in-process by llama.cpp.

The twin has the model's real architecture and quantization and random weights, so its speed
and memory are the real model's on this machine and its answers are noise. Everything else is
the llamacpp backend: ``twin:gemma4-26b-a4b?quant=Q4_K_M&ctx=32768`` works with ``bakeoff
speed``, ``bakeoff run`` (speed and memory columns; quality is reported as not applicable) and
the depth sweep. The twin is built on first use and cached.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from bakeoff.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

QUALITY_NOT_APPLICABLE = "not applicable: an architecture twin has random weights (it measures speed and memory only)"


class TwinOptions(LlamaCppOptions):
    quant: str = Field("Q4_K_M", description="the twin's quantization (llama.cpp file type), e.g. Q4_K_M, Q8_0")
    vocab: str | None = Field(None, description="a GGUF whose tokenizer the twin takes (default: synthetic)")

    @field_validator("quant")
    @classmethod
    def _known_quant(cls, value: str) -> str:
        from bakeoff.estimate.quant import parse_file_type
        from bakeoff.errors import InputError

        try:
            return parse_file_type(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None


class TwinBackend(LlamaCppBackend):
    name = "twin"
    Options = TwinOptions

    @classmethod
    def check_model(cls, model: str) -> None:
        from bakeoff.estimate.source import load_model
        from bakeoff.twin.metadata import family_of

        src = load_model(model)  # an unknown id or a missing file is an InputError now, not at load time
        if src.kind != "gguf":
            family_of(src.arch)

    def model_file(self) -> str:
        if getattr(self, "_model_file", None) is None:
            from bakeoff.twin import build_twin

            self.twin = build_twin(self.model, self.options.quant, vocab=self.options.vocab,
                                   threads=self.options.threads)
            self._model_file = str(self.twin.path)
        return self._model_file

    def engine_options(self) -> dict[str, Any]:
        opts = super().engine_options()
        opts["quant"] = None  # the twin is already at its quantization: nothing to requantize
        opts.pop("vocab", None)
        return opts

    async def aload(self) -> dict[str, Any]:
        facts = await super().aload()
        facts["twin"] = {"model": self.model, "quant": self.twin.quant, "file_bytes": self.twin.file_bytes,
                         "params": self.twin.params, "types_source": self.twin.types_source,
                         "architecture_source": self.twin.architecture_source, "quality": QUALITY_NOT_APPLICABLE}
        return facts

    def notes(self) -> list[str]:
        return [f"twin:{self.model}: random weights; its speed and memory are the model's, its answers are not "
                "(quality is not scored)"] + super().notes()
