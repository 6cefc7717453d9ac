"""In-process llama.cpp (llama-cpp-python), hosted in a worker subprocess.

``LlamaCppBackend`` is the parent-side contender; ``LlamaCppEngine`` runs inside the worker.
The engine drives ``Llama.generate`` token by token, so output tokens are the engine's own
count (not stream chunks) and each token's arrival time is taken where it is produced.
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
from pydantic import Field, field_validator

from bakeoff.backends._subprocess import SubprocessBackend
from bakeoff.backends.base import BackendOptions


def physical_cores() -> int:
    # More llama.cpp threads than free cores is catastrophically slow; default to physical cores.
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class LlamaCppOptions(BackendOptions):
    ctx: int = Field(4096, gt=0, description="context size in tokens")
    threads: int | None = Field(None, gt=0, description="CPU threads (default: physical cores)")
    batch: int = Field(512, gt=0, description="prompt-processing batch size")
    gpu_layers: int = Field(0, ge=-1, description="layers offloaded to the GPU (-1 = all)")
    mmap: bool = Field(False, description="memory-map the file (off: RSS then counts the weights)")
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, gt=0)
    chat_format: str | None = Field(None, description="'template' (the GGUF's own), 'gemma', 'gemma4' or 'chatml'")
    quant: str | None = Field(None, description="requantize the model to this type first (cached), e.g. Q8_0")
    flash_attn: bool = Field(False, description="flash attention (llama-cpp-python's default is off; llama.cpp's own is auto)")
    lora: str | None = Field(None, description="path to a LoRA adapter GGUF applied on top of the model")

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
        return opts

    def notes(self) -> list[str]:
        fmt = self.facts.get("chat_format", "")
        return [f"{self.model}: {fmt}"] if "fallback" in fmt else []


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
    for device, kind, mib in _BUFFER_LINE.findall(log):
        key = {"model": "weights_mib", "KV": "kv_mib", "compute": "compute_mib", "output": "output_mib"}[kind]
        sizes[key] = sizes.get(key, 0.0) + float(mib)
        devices.add(device.split("_")[0])
    if not sizes:
        return {}
    return {**sizes, "devices": sorted(devices), "swa_full": "full-size SWA cache" in log,
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


_FALLBACKS: dict[str, Callable[[list[dict[str, str]]], str]] = {
    "gemma": _gemma_prompt, "gemma4": _gemma4_prompt, "chatml": _chatml_prompt,
}


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
        self.llm = Llama(
            model_path=self.model_path, n_ctx=o["ctx"], n_threads=o["threads"],
            n_threads_batch=o["threads"], n_batch=o["batch"], n_gpu_layers=o["gpu_layers"],
            use_mmap=o["mmap"], flash_attn=o["flash_attn"], seed=o.get("seed") or 0, verbose=False,
            lora_path=str(Path(o["lora"]).expanduser()) if o.get("lora") else None,
        )
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
        return {
            "engine": "llama.cpp (llama-cpp-python)",
            "engine_version": llama_cpp.__version__,
            "architecture": arch,
            "model_name": meta.get("general.name"),
            "n_ctx": min(self.llm.n_ctx(), len(self.llm.input_ids)),
            "threads": o["threads"],
            "gpu_layers": o["gpu_layers"],
            "mmap": o["mmap"],
            "lora": o.get("lora"),
            "lora_sha256": _sha256(o["lora"]) if o.get("lora") else None,
            "chat_format": self.chat_format,
            "weights_mb": llama_cpp.llama_model_size(self.llm._model.model) / 2**20,
            "n_params": llama_cpp.llama_model_n_params(self.llm._model.model),
            "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
            "engine_memory": engine_memory(self._log.take()),
        }

    def _render(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """Prompt text, and whether the tokenizer should add BOS itself."""
        if self._formatter is not None:
            result = self._formatter(messages=messages)
            return result.prompt, not result.added_special
        return self._fallback(messages), False

    def generate(self, req: dict[str, Any], emit: Callable[[dict], None]) -> None:
        import llama_cpp as C

        llm = self.llm
        t_send = time.perf_counter()
        prompt, add_bos = self._render(req["messages"])
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        # llama.cpp may round the context up; llama-cpp-python's buffers hold what was asked.
        n_ctx = min(llm.n_ctx(), len(llm.input_ids))
        if len(tokens) >= n_ctx:
            raise ValueError(f"the prompt has {len(tokens)} tokens; the context holds {n_ctx} (raise ?ctx=)")
        max_tokens = min(req["max_tokens"], n_ctx - len(tokens))
        emit({"type": "prompt", "text": prompt, "tokens": len(tokens), "t": t_send})

        o = self.options
        sampling = {"temp": req["temperature"]}
        for key, opt in (("top_k", "top_k"), ("top_p", "top_p")):
            if req.get(key) is not None:
                sampling[opt] = req[key]
        if o.get("min_p") is not None:
            sampling["min_p"] = o["min_p"]
        if o.get("repeat_penalty") is not None:
            sampling["repeat_penalty"] = o["repeat_penalty"]

        llm.reset()  # no KV prefix reuse between trials: a timed trial is never served from cache
        llm.set_seed(req.get("seed") or 0)
        C.llama_perf_context_reset(llm._ctx.ctx)
        vocab = llm._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stops = [s for s in req.get("stop") or [] if s]
        hold = max((len(s) for s in stops), default=1) - 1
        text, emitted, n_out, finish = "", 0, 0, "length"
        for token in llm.generate(tokens, reset=True, **sampling):
            now = time.perf_counter()
            if C.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            n_out += 1
            text += decoder.decode(llm.detokenize([token]))
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
                if cut > emitted:
                    emit({"type": "content", "text": text[emitted:], "t": now})
                emitted = len(text)
                break
            # One event per token, even when its text is held back or empty (a partial UTF-8
            # sequence, a special token), so token timings never depend on how text splits.
            upto = max(len(text) - hold, emitted)
            emit({"type": "content", "text": text[emitted:upto], "t": now})
            emitted = upto
            if n_out >= max_tokens:
                break
        text += decoder.decode(b"", final=True)
        if len(text) > emitted:
            emit({"type": "content", "text": text[emitted:], "t": time.perf_counter()})
        perf = C.llama_perf_context(llm._ctx.ctx)
        emit({"type": "usage", "prompt_tokens": len(tokens), "output_tokens": n_out, "source": "engine"})
        emit({"type": "engine", "source": "llama.cpp perf counters",
              "prompt_n": perf.n_p_eval, "prompt_ms": perf.t_p_eval_ms,
              "eval_n": perf.n_eval, "eval_ms": perf.t_eval_ms})
        emit({"type": "finish", "reason": finish, "t": time.perf_counter()})

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
        self.llm.close()
        del self.llm
