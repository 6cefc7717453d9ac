"""In-process llama.cpp (llama-cpp-python), hosted in a worker subprocess.

``LlamaCppBackend`` is the parent-side contender; ``LlamaCppEngine`` runs inside the worker.
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

import codecs
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil
from pydantic import Field, field_validator, model_validator

from bakeoff.backends._subprocess import SubprocessBackend
from bakeoff.backends.base import BackendOptions
from bakeoff.measure.cache import KV_CLEARED, WARM
from bakeoff.thinking import StreamSplitter, ThinkingOption, plan_for, starts_inside


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


def _sha256(path: str) -> str:
    from bakeoff.models.packaged import file_sha256

    return file_sha256(Path(path).expanduser())


class LlamaCppBackend(SubprocessBackend):
    name = "llamacpp"
    Options = LlamaCppOptions
    engine = "bakeoff.backends.llamacpp:LlamaCppEngine"

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


# --- runs inside the worker process -------------------------------------------------------


def _gemma_prompt(messages: list[dict[str, str]]) -> str:
    """Gemma 2/3 turn format; Gemma has no system role, so the system text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out = ["<bos>"]
    first_user = True
    for m in messages:
        if m["role"] == "system":
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"]
        if role == "user" and first_user and system:
            content = f"{system}\n\n{content}"
        first_user = first_user and role != "user"
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def _gemma4_prompt(messages: list[dict[str, str]]) -> str:
    out = ["<bos>"]
    for m in messages:
        role = "model" if m["role"] == "assistant" else m["role"]
        out.append(f"<|turn>{role}\n{m['content']}<turn|>\n")
    out.append("<|turn>model\n")
    return "".join(out)


def _chatml_prompt(messages: list[dict[str, str]]) -> str:
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


_BUFFER_LINE = re.compile(r"(\S+)\s+(model|KV|compute|output) buffer size\s*=\s*([\d.]+) MiB")


def engine_memory(log: str) -> dict[str, Any]:
    """Sizes llama.cpp reports when it allocates (MiB, summed over devices): weights, KV, compute."""
    sizes: dict[str, float] = {}
    devices: set[str] = set()
    by_device: dict[str, dict[str, float]] = {}
    for device, kind, mib in _BUFFER_LINE.findall(log):
        devices.add(device.split("_")[0])
        key = {"model": "weights_mib", "KV": "kv_mib", "compute": "compute_mib", "output": "output_mib"}[kind]
        sizes[key] = sizes.get(key, 0.0) + float(mib)
        # CPU, CPU_Mapped, CPU_REPACK and CUDA_Host buffers are host memory; CUDA0, Metal... a device's
        host = device.startswith("CPU") or device.endswith("_Host")
        dev = by_device.setdefault("host" if host else device, {})
        dev[key] = dev.get(key, 0.0) + float(mib)
    if not sizes:
        return {}
    return {**sizes, "devices": sorted(devices), "by_device": by_device, "swa_full": "full-size SWA cache" in log,
            "source": "engine-reported (llama.cpp allocation log)"}


class _LogCapture:
    """Collects llama.cpp's log lines (they carry the engine's own memory figures)."""

    def __init__(self) -> None:
        import ctypes

        import llama_cpp

        self.lines: list[str] = []

        @llama_cpp.llama_log_callback
        def callback(level, text, user_data):
            line = text.decode("utf-8", "replace")
            self.lines.append(line)
            if level in (3, 4):  # ggml: 3 WARN, 4 ERROR still reach stderr (and error messages)
                sys.stderr.write(line)

        self._callback = callback  # keep a reference: C holds only a pointer
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def take(self) -> str:
        text, self.lines = "".join(self.lines), []
        return text


class _StopCutter:
    """Cuts the answer at the first stop string; holds back a possible partial stop."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.text, self.emitted, self.stopped = "", 0, False

    def push(self, piece: str) -> str:
        self.text += piece
        cut = min((i for i in (self.text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.text, self.stopped = self.text[:cut], True
            out = self.text[self.emitted:]
            self.emitted = len(self.text)
            return out
        upto = max(len(self.text) - self.hold, self.emitted)
        out, self.emitted = self.text[self.emitted:upto], upto
        return out

    def flush(self) -> str:
        out, self.emitted = self.text[self.emitted:], len(self.text)
        return out


class _ContentTap:
    """Passes events on and keeps the content text (to parse tool calls from once it is whole)."""

    def __init__(self, emit: Callable[[dict], None]):
        self.emit, self.text = emit, ""

    def __call__(self, event: dict) -> None:
        if event["type"] == "content":
            self.text += event["text"]
        self.emit(event)


def _template_message(m: dict[str, Any]) -> dict[str, Any]:
    """A neutral tool-use message (bakeoff.tools.calls) as chat templates read it: tool_calls in
    the Chat Completions shape with the arguments as a mapping (templates apply ``tojson``)."""
    if m["role"] == "assistant" and m.get("tool_calls"):
        calls = [{"id": c["id"], "type": "function",
                  "function": {"name": c["name"] or "", "arguments": c.get("arguments") if c.get("arguments") is not None
                               else c.get("arguments_raw", "")}} for c in m["tool_calls"]]
        return {"role": "assistant", "content": m.get("content") or "", "tool_calls": calls}
    if m["role"] == "tool":
        return {"role": "tool", "tool_call_id": m.get("tool_call_id"), "name": m.get("name"), "content": m["content"]}
    return m


_FALLBACKS: dict[str, Callable[[list[dict[str, str]]], str]] = {
    "gemma": _gemma_prompt, "gemma4": _gemma4_prompt, "chatml": _chatml_prompt,
}


def _reusable_prefix(llm, tokens: list[int]) -> int:
    """The prompt tokens llama-cpp-python's ``generate`` will take from the KV cache: the longest
    prefix shared with what the cache holds, less one when it is the whole prompt (that token is
    decoded again for fresh logits). The cache's tail is dropped here as ``generate`` drops it;
    where it cannot be (a recurrent model), the cache is cleared and nothing is reused."""
    held = llm._input_ids[: llm.n_tokens].tolist()
    n = 0
    for a, b in zip(held, tokens):
        if a != b:
            break
        n += 1
    n = min(n, len(tokens) - 1)
    if n > 0 and llm._ctx.kv_cache_seq_rm(-1, n, -1):
        return n
    llm.reset()
    return 0


# llama.cpp's --cpu-moe / --n-cpu-moe (common/common.h, LLM_FFN_EXPS_REGEX), plus the fused gate_up
# tensor of newer conversions
EXPS_REGEX = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"


def expert_patterns(cpu_moe: bool, n_cpu_moe: int | None) -> list[str]:
    """Tensor-name patterns whose tensors go to the CPU buffer, as llama.cpp's options write them."""
    if cpu_moe:
        return [EXPS_REGEX]
    return [rf"blk\.{i}{EXPS_REGEX}" for i in range(n_cpu_moe or 0)]


class _TensorOverrides:
    """llama_model_params.tensor_buft_overrides for llama-cpp-python, whose ``Llama`` does not expose
    it: a NULL-terminated array of {pattern, buffer type} with ggml's CPU buffer type (from the
    ggml-cpu library llama_cpp ships, which its binding does not wrap), set on the default model
    params for the one ``Llama`` constructed next (``install``: the patched function restores the
    original on its first call; ``uninstall`` after the load makes sure)."""

    def __init__(self, patterns: list[str]):
        import ctypes
        import glob

        import llama_cpp

        class Override(ctypes.Structure):
            _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]

        libdir = Path(llama_cpp.__file__).parent / "lib"
        libs = sorted(glob.glob(str(libdir / "*ggml-cpu*")))
        if not libs:
            raise ValueError(f"cpu_moe: no ggml-cpu library in {libdir} (llama-cpp-python build without one)")
        cpu = ctypes.CDLL(libs[0])
        cpu.ggml_backend_cpu_buffer_type.restype = ctypes.c_void_p
        buft = cpu.ggml_backend_cpu_buffer_type()
        self._patterns = [p.encode() for p in patterns]  # kept alive: C holds pointers into them
        self.array = (Override * (len(patterns) + 1))()
        for i, pat in enumerate(self._patterns):
            self.array[i].pattern = pat
            self.array[i].buft = buft
        self.address = ctypes.addressof(self.array)

    def install(self) -> _TensorOverrides:
        from llama_cpp import llama_cpp as low

        self._low, self._default = low, low.llama_model_default_params

        def params():
            self.uninstall()
            p = self._default()
            p.tensor_buft_overrides = self.address
            return p

        low.llama_model_default_params = params
        return self

    def uninstall(self) -> None:
        self._low.llama_model_default_params = self._default


class LlamaCppEngine:
    def __init__(self, model_path: str, options: dict[str, Any]):
        self.model_path = model_path
        self.options = options

    def load(self) -> dict[str, Any]:
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        o = self.options
        self._log = _LogCapture()
        patterns = expert_patterns(o.get("cpu_moe", False), o.get("n_cpu_moe"))
        self._overrides = _TensorOverrides(patterns).install() if patterns else None
        self.llm = Llama(
            model_path=self.model_path, n_ctx=o["ctx"], n_threads=o["threads"],
            n_threads_batch=o["threads"], n_batch=o["batch"], n_gpu_layers=o["gpu_layers"],
            use_mmap=o["mmap"], flash_attn=o["flash_attn"], swa_full=o.get("swa_full", True),
            seed=o.get("seed") or 0, verbose=False,
            lora_path=str(Path(o["lora"]).expanduser()) if o.get("lora") else None,
        )
        if self._overrides:
            self._overrides.uninstall()
        load_log = "".join(self._log.lines)
        overridden = re.findall(r"tensor (\S+) \(.*?\) buffer type overridden to (\S+)", load_log)
        if o.get("lora") and not self.llm._lora_adapter:
            # llama-cpp-python 0.3.36 tests the adapter with `is None`, but a failed load returns
            # a NULL ctypes pointer (falsy, not None): it would set a NULL adapter and crash the
            # first decode.
            self.llm._lora_adapter = None  # so close() does not free it
            self.llm.close()
            marker = "failed to apply lora adapter: "
            why = [line.split(marker, 1)[1].strip() for line in self._log.lines if marker in line]
            raise ValueError(f"could not load the LoRA adapter {o['lora']}: "
                             f"{why[-1] if why else 'llama.cpp rejected the file'}")
        meta = self.llm.metadata
        arch = meta.get("general.architecture", "")
        template = meta.get("tokenizer.chat_template")
        wanted = o.get("chat_format")
        self._formatter = None
        if template and wanted in (None, "template"):
            model = self.llm._model
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
            )
            self.chat_format = "the GGUF's chat template"
        elif wanted in _FALLBACKS:
            self._fallback = _FALLBACKS[wanted]
            self.chat_format = f"{wanted} turn format (chosen by the chat_format option)"
        else:
            if wanted == "template":
                raise ValueError("chat_format=template: this GGUF has no chat template")
            name = "gemma4" if arch == "gemma4" else "gemma" if arch.startswith("gemma") else "chatml"
            self._fallback = _FALLBACKS[name]
            self.chat_format = f"{name} turn format (fallback: the GGUF has no chat template)"
        fallback = None if self._formatter else next(k for k, f in _FALLBACKS.items() if f is self._fallback)
        self.plan = plan_for(o.get("thinking"), template if self._formatter else None, arch, fallback)
        self._marker_ids: set[int] = set()
        self._force_ids: list[int] = []
        # Tool-call tags are special tokens (Qwen2.5's <tool_call>, Gemma 4's <|tool_call> and its
        # <|"|> string mark): render them, or the calls vanish from the text.
        for marker in ("<tool_call>", "</tool_call>", "<|tool_call>", "<tool_call|>", '<|"|>'):
            ids = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(ids) == 1 and self.llm.detokenize(ids, special=True) != self.llm.detokenize(ids, special=False):
                self._marker_ids.add(ids[0])
        if self.plan.fmt is not None:
            fmt = self.plan.fmt
            for marker in (fmt.open, fmt.close):  # special tokens (Gemma 4's <|channel>) must render as text
                for tok in self.llm.tokenize(marker.encode(), add_bos=False, special=True):
                    if self.llm.detokenize([tok], special=True) != self.llm.detokenize([tok], special=False):
                        self._marker_ids.add(tok)
            self._force_ids = self.llm.tokenize(fmt.force_close.encode(), add_bos=False, special=True)
        # whether tools go through the GGUF's own template (else the Hermes fallback, as text turns),
        # and which call syntax the template asks for
        self._template_tools = self._formatter is not None and "tools" in template
        if self._template_tools and "<|tool_call>" in template:
            self.tool_format = ("Gemma 4's native tool-call syntax through the GGUF's chat template "
                                "(<|tool_call>call:NAME{...}<tool_call|>)")
        elif self._template_tools:
            self.tool_format = "the GGUF's chat template (it has tool syntax); calls parsed as <tool_call> JSON"
        else:
            self.tool_format = ("Hermes <tool_call> JSON format (fallback: the chat template has no tool syntax; "
                                "tools are described in the system turn)")
        self._mtmd = self._load_projector(o) if o.get("mmproj") else None
        return {
            "engine": "llama.cpp (llama-cpp-python)",
            "vision": self._vision_facts(o) if self._mtmd is not None else None,
            "tool_format": self.tool_format,
            "engine_version": llama_cpp.__version__,
            "architecture": arch,
            "model_name": meta.get("general.name"),
            "n_ctx": min(self.llm.n_ctx(), len(self.llm.input_ids)),
            "threads": o["threads"],
            "gpu_layers": o["gpu_layers"],
            "tensor_overrides": {"patterns": patterns, "tensors": len(overridden),
                                 "buffers": sorted({b for _, b in overridden})} if patterns else None,
            "mmap": o["mmap"],
            "lora": o.get("lora"),
            "lora_sha256": _sha256(o["lora"]) if o.get("lora") else None,
            "chat_format": self.chat_format,
            "thinking": self.plan.describe(),
            "weights_mb": llama_cpp.llama_model_size(self.llm._model.model) / 2**20,
            "n_params": llama_cpp.llama_model_n_params(self.llm._model.model),
            "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
            "engine_memory": engine_memory(self._log.take()),
        }

    def _load_projector(self, o: dict[str, Any]):
        """llama.cpp's multimodal context (mtmd) for the projector, with the visual budget as its
        image token limits (both: mtmd then resizes every image to the budget, as Gemma 4's own
        processor does)."""
        import llama_cpp
        import llama_cpp.mtmd_cpp as M

        M.mtmd_log_set(self._log._callback, None)  # into the captured log, not the worker's stderr
        params = M.mtmd_context_params_default()
        params.use_gpu = o["gpu_layers"] != 0
        params.print_timings = False
        params.n_threads = o["threads"]
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if o["flash_attn"]
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        if o.get("visual_budget"):
            params.image_min_tokens = params.image_max_tokens = o["visual_budget"]
        ctx = M.mtmd_init_from_file(o["mmproj"].encode(), self.llm.model, params)
        if not ctx:
            why = [line.strip() for line in self._log.lines if "error" in line.lower() or "failed" in line.lower()]
            raise ValueError(f"llama.cpp could not load the projector {o['mmproj']}"
                             + (f": {why[-1]}" if why else ""))
        if not M.mtmd_support_vision(ctx):
            M.mtmd_free(ctx)
            raise ValueError(f"{o['mmproj']} is not a vision projector")
        self._log.take()
        return ctx

    def _vision_facts(self, o: dict[str, Any]) -> dict[str, Any]:
        facts = dict(o.get("mmproj_facts") or {"mmproj": o["mmproj"]})
        facts["visual_budget"] = o.get("visual_budget")
        facts["budget_setting"] = ("llama.cpp image_min_tokens = image_max_tokens = visual_budget"
                                   if o.get("visual_budget") else "the projector's default image token limits")
        facts["mmproj_sha256"] = _sha256(o["mmproj"])
        return facts

    def _prefill_images(self, prompt: str, add_bos: bool, images: list[dict[str, Any]]) -> tuple[list[int], dict]:
        """Tokenize the prompt with its images (mtmd splits it at the media markers) and evaluate
        it into the KV cache: text chunks as tokens, image chunks encoded by the projector and
        decoded as embeddings. Returns the prompt's token list (image positions included) for
        the generation loop, which finds it all cached, and the image figures."""
        import ctypes

        import llama_cpp as C
        import llama_cpp.mtmd_cpp as M

        llm, ctx = self.llm, self._mtmd
        bitmaps = []
        chunks = M.mtmd_input_chunks_init()
        figures = {"image_tokens": 0, "image_encode_ms": 0.0, "image_decode_ms": 0.0}
        try:
            for image in images:
                data = Path(image["path"]).read_bytes()
                bitmap = M.mtmd_helper_bitmap_init_from_buf(
                    ctx, (ctypes.c_uint8 * len(data)).from_buffer(bytearray(data)), len(data), False)
                if not bitmap:
                    raise ValueError(f"llama.cpp could not decode the image {image.get('as_written', image['path'])}")
                bitmaps.append(bitmap)
            text = M.mtmd_input_text()
            raw = prompt.encode("utf-8")
            text.text, text.text_len, text.add_special, text.parse_special = raw, len(raw), add_bos, True
            array = (M.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            if M.mtmd_tokenize(ctx, chunks, ctypes.byref(text), array, len(bitmaps)) != 0:
                raise ValueError("llama.cpp could not tokenize the prompt with its images (markers and images differ?)")
            n_chunks = M.mtmd_input_chunks_size(chunks)
            total = sum(M.mtmd_input_chunk_get_n_tokens(M.mtmd_input_chunks_get(chunks, i)) for i in range(n_chunks))
            n_ctx = min(llm.n_ctx(), len(llm.input_ids))
            if total >= n_ctx:
                raise ValueError(f"the prompt has {total} tokens with its images; the context holds {n_ctx} "
                                 "(raise ?ctx= or lower visual_budget=)")
            for i in range(n_chunks):
                chunk = M.mtmd_input_chunks_get(chunks, i)
                if M.mtmd_input_chunk_get_type(chunk) == M.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    n = ctypes.c_size_t()
                    ptr = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                    if n.value:
                        llm.eval([ptr[j] for j in range(n.value)])
                        # llama.cpp books a decode's time in its counters only at a synchronize;
                        # without one the projector's encode below would count as prompt time.
                        C.llama_synchronize(llm._ctx.ctx)
                    continue
                t0 = time.perf_counter()
                if M.mtmd_encode_chunk(ctx, chunk) != 0:
                    raise ValueError("the projector failed to encode an image")
                t1 = time.perf_counter()
                new_n_past = C.llama_pos(0)
                if M.mtmd_helper_decode_image_chunk(ctx, llm._ctx.ctx, chunk, M.mtmd_get_output_embd(ctx),
                                                    llm.n_tokens, 0, llm.n_batch, ctypes.byref(new_n_past),
                                                    M.mtmd_helper_post_decode_callback(), None) != 0:
                    raise ValueError("llama.cpp failed to decode an image's embeddings")
                C.llama_synchronize(llm._ctx.ctx)
                t2 = time.perf_counter()
                figures["image_tokens"] += M.mtmd_input_chunk_get_n_tokens(chunk)
                figures["image_encode_ms"] += (t1 - t0) * 1000
                figures["image_decode_ms"] += (t2 - t1) * 1000
                llm.n_tokens = new_n_past.value
            return llm.input_ids[: llm.n_tokens].tolist(), figures
        finally:
            M.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                M.mtmd_bitmap_free(bitmap)

    def _render(self, messages: list[dict[str, Any]], tools: list[dict] | None = None) -> tuple[str, bool]:
        """Prompt text (with the thinking plan's system text, template flag and prefill), and
        whether the tokenizer should add BOS itself."""
        from bakeoff.tools.calls import hermes_messages, openai_tools

        plan = self.plan
        extra: dict[str, Any] = {}
        uses_tools = tools or any(m.get("tool_calls") or m["role"] == "tool" for m in messages)
        if uses_tools and self._template_tools:
            messages = [_template_message(m) for m in messages]
            if tools:
                extra["tools"] = openai_tools(tools)
        elif uses_tools:
            messages = hermes_messages(messages, tools or [])
        messages = plan.messages(messages)
        if self._formatter is not None:
            result = self._formatter(messages=messages, **plan.template_kwargs, **extra)
            return result.prompt + plan.prefill, not result.added_special
        return self._fallback(messages) + plan.prefill, False

    def generate(self, req: dict[str, Any], emit: Callable[[dict], None]) -> None:
        import llama_cpp as C

        llm = self.llm
        t_send = time.perf_counter()
        images = [i for m in req["messages"] for i in m.get("images") or ()]
        messages = req["messages"]
        if images:
            if self._mtmd is None:
                raise ValueError("the case has images but this contender has no vision projector: add mmproj=PATH "
                                 "(or mmproj=twin for a random-weight Gemma 4 vision encoder)")
            import llama_cpp.mtmd_cpp as M

            marker = M.mtmd_default_marker().decode()
            # Each image's marker before its message's text (Gemma 4's own order: image, then question).
            messages = [{**{k: v for k, v in m.items() if k != "images"},
                         "content": marker * len(m["images"]) + m["content"]} if m.get("images") else m
                        for m in messages]
        prompt, add_bos = self._render(messages, req.get("tools"))
        if req.get("tools"):  # gather the answer's text to read its tool calls at the end
            emit = _ContentTap(emit)
        # No KV prefix reuse between trials: a timed trial is never served from cache. A
        # conversation's later turn (warm) keeps what its own earlier turns left in the cache: the
        # worker runs one trial at a time, and the conversation's first turn cleared it.
        warm = bool(req.get("warm")) and not images
        if not warm:
            llm.reset()
        C.llama_perf_context_reset(llm._ctx.ctx)
        vision = None
        if images:
            tokens, vision = self._prefill_images(prompt, add_bos, images)
        else:
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        cached = _reusable_prefix(llm, tokens) if warm else 0
        # llama.cpp may round the context up; llama-cpp-python's buffers hold what was asked.
        n_ctx = min(llm.n_ctx(), len(llm.input_ids))
        if len(tokens) >= n_ctx:
            raise ValueError(f"the prompt has {len(tokens)} tokens; the context holds {n_ctx} (raise ?ctx=)")
        plan = self.plan
        budget = plan.budget if plan.fmt is not None else None
        room = n_ctx - len(tokens) - (len(self._force_ids) if budget else 0)
        answer_cap = req["max_tokens"]  # with a budget, the answer's own allowance
        max_tokens = min(req["max_tokens"] + (budget or 0), room)
        emit({"type": "prompt", "text": prompt, "tokens": len(tokens), "t": t_send})
        emit({"type": "cache", "control": WARM if warm else KV_CLEARED, "cached_tokens": cached,
              "source": "llama.cpp prefix match (in-process)" if warm else "KV cache cleared before the request"})

        o = self.options
        sampling = {"temp": req["temperature"]}
        for key, opt in (("top_k", "top_k"), ("top_p", "top_p")):
            if req.get(key) is not None:
                sampling[opt] = req[key]
        if o.get("min_p") is not None:
            sampling["min_p"] = o["min_p"]
        if o.get("repeat_penalty") is not None:
            sampling["repeat_penalty"] = o["repeat_penalty"]
        if req.get("json_schema") is not None:
            sampling["grammar"] = self._grammar(req["json_schema"])
        elif req.get("grammar"):
            from llama_cpp import LlamaGrammar

            sampling["grammar"] = LlamaGrammar.from_string(req["grammar"], verbose=False)

        llm.set_seed(req.get("seed") or 0)
        vocab = llm._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        cutter = _StopCutter(req.get("stop") or [])
        splitter = None
        if plan.fmt is not None:
            splitter = StreamSplitter(plan.fmt, "inside" if starts_inside(prompt, plan.fmt) else "leading")

        def deliver(text: str, now: float, pieces: list | None = None) -> None:
            """One event per token, even when its text is held back or empty (a partial UTF-8
            sequence, a special token, a marker), so token timings never depend on how text splits."""
            if pieces is None:
                pieces = splitter.feed(text, now) if splitter else [("content", text, now)]
            sent = False
            for kind, piece, t in pieces:
                if kind == "content":
                    piece = cutter.push(piece)
                emit({"type": kind, "text": piece, "t": t})
                sent = True
                if cutter.stopped:
                    return
            if not sent:
                emit({"type": splitter.quiet_kind, "text": "", "t": now})

        n_out = n_think = 0
        finish, forced = "length", False
        out_tokens: list[int] = []
        gen = llm.generate(tokens, reset=True, **sampling)
        while True:
            try:
                token = next(gen)
            except StopIteration:
                break
            now = time.perf_counter()
            if C.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            n_out += 1
            out_tokens.append(token)
            was_thinking = splitter is not None and splitter.thinking
            deliver(decoder.decode(llm.detokenize([token], special=token in self._marker_ids)), now)
            if cutter.stopped:
                finish = "stop"
                break
            if was_thinking or (splitter is not None and splitter.thinking):
                n_think += 1
            if n_out >= max_tokens or (budget and n_out - n_think >= answer_cap):
                break
            if budget and n_think >= budget and splitter.thinking and not forced:
                # The budget ran out inside the thinking: write the closing tag in the model's
                # place and go on from there (the KV cache keeps the prefix; only the tag is decoded).
                forced = True
                gen.close()
                pieces = splitter.feed(decoder.decode(b"", final=True), now)
                closing = splitter.closing_text()
                pieces += splitter.feed(closing, now)
                if pieces:
                    deliver("", now, pieces)
                out_tokens += llm.tokenize(closing.encode(), add_bos=False, special=True)
                gen = llm.generate(tokens + out_tokens, reset=True, **sampling)
        now = time.perf_counter()
        tail = decoder.decode(b"", final=True)
        if tail and not cutter.stopped:
            deliver(tail, now)
        if splitter is not None and not cutter.stopped:
            pieces = splitter.close(now)
            if pieces:
                deliver("", now, pieces)
        rest = cutter.flush()
        if rest:
            emit({"type": "content", "text": rest, "t": time.perf_counter()})
        if isinstance(emit, _ContentTap):
            from bakeoff.tools.calls import parse_calls

            for call in parse_calls(emit.text)[1]:
                emit({"type": "tool_call", **call, "t": time.perf_counter()})
        perf = C.llama_perf_context(llm._ctx.ctx)
        usage = {"type": "usage", "prompt_tokens": len(tokens), "output_tokens": n_out, "source": "engine"}
        if vision is not None:
            usage["image_tokens"] = vision["image_tokens"]
        finished = {"type": "finish", "reason": finish}
        if splitter is not None:
            usage["reasoning_tokens"] = n_think if splitter.had_thinking else 0
            finished.update(thinking_truncated=splitter.truncated, thinking_budget_hit=forced)
        emit(usage)
        engine = {"type": "engine", "source": "llama.cpp perf counters",
                  "prompt_n": perf.n_p_eval, "prompt_ms": perf.t_p_eval_ms,
                  "eval_n": perf.n_eval, "eval_ms": perf.t_eval_ms}
        if vision is not None:  # the projector's encode is outside llama.cpp's counters: timed here
            engine.update(image_encode_ms=vision["image_encode_ms"], image_decode_ms=vision["image_decode_ms"])
        emit(engine)
        emit({**finished, "t": time.perf_counter()})

    def _grammar(self, schema: dict[str, Any]):
        """The GBNF grammar for a JSON schema (llama-cpp-python's converter), built once per schema.
        Property order is the schema's, so a judge's reasons come before its score."""
        import json

        from llama_cpp import LlamaGrammar

        key = json.dumps(schema)
        cache = self.__dict__.setdefault("_grammars", {})
        if key not in cache:
            try:
                cache[key] = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:  # noqa: BLE001 - an unsupported schema keyword fails the request, not the worker
                raise ValueError(f"cannot turn the JSON schema into a grammar: {type(exc).__name__}: {exc}") from None
        return cache[key]

    rpc_methods = ("speed",)

    def speed(self, kind: str, n: int, depth: int, reps: int, seed: int = 0) -> dict[str, Any]:
        """llama-bench's method, on llama.cpp's C API as llama-bench drives it: random tokens;
        ``depth`` tokens put in the KV cache untimed; then ``pp``: one prompt of n tokens (in
        batches of n_batch), or ``tg``: n single-token decodes; each decode followed by
        llama_synchronize (a GPU returns early; it is also where llama.cpp books its perf
        counters). One warm-up repetition, then ``reps`` timed ones, each from an empty cache."""
        import llama_cpp as C

        llm = self.llm
        ctx = llm._ctx.ctx
        n_batch = llm.n_batch
        n_vocab = llm.n_vocab()
        rng = random.Random(seed)

        def decode(tokens: list[int]) -> None:
            for i in range(0, len(tokens), n_batch):
                chunk = tokens[i:i + n_batch]
                arr = (C.llama_token * len(chunk))(*chunk)
                if C.llama_decode(ctx, C.llama_batch_get_one(arr, len(chunk))) != 0:
                    raise RuntimeError("llama_decode failed (context full?)")
                C.llama_synchronize(ctx)

        samples_ns: list[int] = []
        engine_tps: list[float | None] = []
        for rep in range(reps + 1):
            C.llama_memory_clear(C.llama_get_memory(ctx), True)
            if depth:
                decode([rng.randrange(n_vocab) for _ in range(depth)])
            C.llama_perf_context_reset(ctx)
            if kind == "pp":
                tokens = [rng.randrange(n_vocab) for _ in range(n)]
                t0 = time.perf_counter_ns()
                decode(tokens)
            else:
                token = rng.randrange(n_vocab)
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    decode([token])
                    token = rng.randrange(n_vocab)
            elapsed = time.perf_counter_ns() - t0
            perf = C.llama_perf_context(ctx)
            if rep == 0:
                continue  # warm-up
            samples_ns.append(elapsed)
            count, ms = (perf.n_p_eval, perf.t_p_eval_ms) if kind == "pp" and n > 1 else (perf.n_eval, perf.t_eval_ms)
            engine_tps.append(count / ms * 1000 if ms else None)
        C.llama_memory_clear(C.llama_get_memory(ctx), True)
        llm.reset()  # llama-cpp-python's own view of the cache: empty too
        return {"samples_ns": samples_ns, "engine_samples_tps": engine_tps}

    def close(self) -> None:
        if getattr(self, "_mtmd", None) is not None:
            import llama_cpp.mtmd_cpp as M

            M.mtmd_free(self._mtmd)
            self._mtmd = None
        self.llm.close()
        del self.llm
