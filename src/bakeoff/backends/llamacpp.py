"""In-process llama.cpp (llama-cpp-python), hosted in a worker subprocess.

``LlamaCppBackend`` is the parent-side contender; ``LlamaCppEngine`` (llamacpp_engine.py, with
llamacpp_vision.py, llamacpp_speed.py, llamacpp_native.py and chat_formats.py) runs inside the worker.
The engine drives ``Llama.generate`` token by token, so output tokens are the engine's own
count (not stream chunks) and each token's arrival time is taken where it is produced.

Thinking (``thinking=on|off|BUDGET``, see bakeoff.thinking): the chat template and architecture
decide the mode. Gemma 4: ``<|think|>`` opens the system turn (through the template's
``enable_thinking`` flag when it has one); Qwen3-style templates: their ``enable_thinking`` flag
(a hard switch, where the ``/think`` ``/no_think`` soft switches are only advice to the model);
templates that write ``<think>`` with no switch (R1): off prefills an empty block; models with no
native thinking: *prompted*, a system instruction plus a reply opened with ``<think>``. The mode
is in the contender's facts (``thinking.mode``) and, when prompted, in its notes. The reply is
split as it streams: ``reasoning`` events, then ``content``; each token's event carries its kind,
so TTFT is the first token and TTFAT the first answer token; ``usage`` carries
``reasoning_tokens`` (tokens from the opener through the closer). With ``on``, thinking and answer
share the case's ``max_tokens`` (as on servers). With a BUDGET the thinking is cut at BUDGET
tokens by forcing the family's closing tag (``</think>`` or ``<channel|>``) into the sequence,
and the answer then keeps the case's ``max_tokens`` of its own (so at most BUDGET + max_tokens).

Tool use: a request with ``tools`` is rendered through the GGUF's chat template when the template
has tool syntax (it reads ``tools``: Qwen2.5's writes them into the system turn and asks for
``<tool_call>{json}</tool_call>``; Gemma 4's declares them as ``<|tool>declaration:...<tool|>`` and
asks for ``<|tool_call>call:NAME{...}<tool_call|>``, feeding results back as ``<|tool_response>``),
else in the documented Hermes format (bakeoff.tools.calls: the same instruction and tags, as text
turns); ``tool_format`` in the facts says which, and a fallback is in the notes. The reply's calls
become ``tool_call`` events (malformed ones too, with their raw text); the content keeps the
model's text as written.

Structured output: a request with ``json_schema`` is decoded under the GBNF grammar llama-cpp-python
builds from the schema (``LlamaGrammar.from_json_schema``), so the reply is JSON of that shape
unless max_tokens cuts it short. Judges use it; it is meant for contenders without thinking.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
from pydantic import Field, field_validator, model_validator

from bakeoff.backends._subprocess import SubprocessBackend
from bakeoff.backends.base import BackendOptions
from bakeoff.measure.cache import KV_CLEARED
from bakeoff.thinking import ThinkingOption


def physical_cores() -> int:
    # More llama.cpp threads than free cores is catastrophically slow; default to physical cores.
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class LlamaCppOptions(BackendOptions):
    ctx: int = Field(4096, gt=0, description="context size in tokens")
    threads: int | None = Field(None, gt=0, description="CPU threads (default: physical cores)")
    batch: int = Field(512, gt=0, description="prompt-processing batch size")
    gpu_layers: int = Field(0, ge=-1, description="layers offloaded to the GPU (-1 = all)")
    cpu_moe: bool = Field(False, description="keep every layer's MoE expert tensors in host RAM (llama.cpp's --cpu-moe)")
    n_cpu_moe: int | None = Field(None, ge=0, description="keep the MoE expert tensors of the first N layers in host RAM "
                                                          "(llama.cpp's --n-cpu-moe N)")
    mmap: bool = Field(False, description="memory-map the file (off: RSS then counts the weights)")
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, gt=0)
    chat_format: str | None = Field(None, description="'template' (the GGUF's own), 'gemma', 'gemma4' or 'chatml'")
    quant: str | None = Field(None, description="requantize the model to this type first (cached), e.g. Q8_0")
    flash_attn: bool = Field(False, description="flash attention (llama-cpp-python's default is off; llama.cpp's own is auto)")
    swa_full: bool = Field(True, description="full-size sliding-window KV cache (llama-cpp-python's default); off: "
                                             "window + ubatch cells, as llama-server and Ollama allocate")
    lora: str | None = Field(None, description="path to a LoRA adapter GGUF applied on top of the model")
    thinking: ThinkingOption = Field(
        None, description="on, off or a thinking budget in tokens: native for Gemma 4 and Qwen3/R1-style "
                          "templates, prompted for other models (the contender's facts say which)")
    mmproj: str | None = Field(
        None, description="vision projector for images in cases: a projector GGUF (mmproj), 'twin' (a random-weight "
                          "Gemma 4 vision encoder of the real size) or a Gemma 4 vision_config .json (a twin of it)")
    visual_budget: int | None = Field(
        None, gt=0, description="image tokens per image (Gemma 4: 70, 140, 280, 560 or 1120): llama.cpp's "
                                "image_min_tokens and image_max_tokens, so every image is resized to the budget")

    @field_validator("mmproj")
    @classmethod
    def _mmproj_exists(cls, value: str | None) -> str | None:
        if value is not None and value != "twin" and not Path(value).expanduser().is_file():
            raise ValueError(f"no projector file at {value} (a .gguf, a vision_config .json, or 'twin')")
        return value

    @model_validator(mode="after")
    def _budget_needs_projector(self):
        if self.visual_budget is not None and self.mmproj is None:
            raise ValueError("visual_budget needs a vision projector: add mmproj=PATH (or mmproj=twin)")
        return self

    @field_validator("lora")
    @classmethod
    def _lora_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"no LoRA adapter file at {value}")
        return value

    @field_validator("quant")
    @classmethod
    def _known_quant(cls, value: str | None) -> str | None:
        from bakeoff.models.quantize import check_quant

        return None if value is None else check_quant(value)


class LlamaCppBackend(SubprocessBackend):
    name = "llamacpp"
    Options = LlamaCppOptions
    engine = "bakeoff.backends.llamacpp_engine:LlamaCppEngine"

    @classmethod
    def check_model(cls, model: str) -> None:
        from bakeoff.models import resolve_model

        resolve_model(model, check_only=True)

    def model_file(self) -> str:
        if getattr(self, "_model_file", None) is None:
            from bakeoff.models import resolve_model

            path = resolve_model(self.model)
            if self.options.quant:
                from bakeoff.models.quantize import quantized_path

                path = quantized_path(path, self.options.quant, threads=self.options.threads)
            self._model_file = str(path)
        return self._model_file

    def engine_options(self) -> dict[str, Any]:
        opts = self.options.model_dump()
        opts["threads"] = opts["threads"] or physical_cores()
        if opts.get("mmproj"):  # a projector twin is built here (cached), before the worker loads it
            from bakeoff.twin.vision import resolve_mmproj

            opts["mmproj"], opts["mmproj_facts"] = resolve_mmproj(opts["mmproj"], self.model_file())
        return opts

    def cold_control(self) -> str | None:
        return KV_CLEARED

    def notes(self) -> list[str]:
        fmt = self.facts.get("chat_format", "")
        notes = [f"{self.model}: {fmt}"] if "fallback" in fmt else []
        thinking = self.facts.get("thinking") or {}
        if "fallback" in (self.facts.get("tool_format") or ""):
            notes.append(f"{self.model}: tool calls use {self.facts['tool_format']}")
        if thinking.get("mode") == "prompted":
            notes.append(f"{self.model}: thinking={thinking['setting']} is prompted, not native (the model has no "
                         "thinking mode): a system instruction asks for reasoning in <think>...</think> and the "
                         "reply is opened with <think>; the reasoning is stored apart and checks read the answer")
        return notes
