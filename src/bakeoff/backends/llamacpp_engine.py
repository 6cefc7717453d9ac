"""The llamacpp engine, inside the worker subprocess (bakeoff.run.worker): loads the GGUF, renders
the prompt (the GGUF's chat template, else a fallback turn format), and generates token by
token, each token's event stamped where it is produced. See bakeoff.backends.llamacpp for
thinking, tool use and structured output."""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff.backends.chat_formats import FALLBACKS, template_message
from bakeoff.backends.llamacpp_native import LogCapture, TensorOverrides, engine_memory, expert_patterns
from bakeoff.backends.llamacpp_speed import SpeedMixin
from bakeoff.backends.llamacpp_vision import VisionMixin
from bakeoff.measure.cache import KV_CLEARED, WARM
from bakeoff.models.packaged import file_sha256
from bakeoff.thinking import StreamSplitter, plan_for, starts_inside


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


class LlamaCppEngine(VisionMixin, SpeedMixin):
    def __init__(self, model_path: str, options: dict[str, Any]):
        self.model_path = model_path
        self.options = options

    def load(self) -> dict[str, Any]:
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        o = self.options
        self._log = LogCapture()
        patterns = expert_patterns(o.get("cpu_moe", False), o.get("n_cpu_moe"))
        self._overrides = TensorOverrides(patterns).install() if patterns else None
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
        elif wanted in FALLBACKS:
            self._fallback = FALLBACKS[wanted]
            self.chat_format = f"{wanted} turn format (chosen by the chat_format option)"
        else:
            if wanted == "template":
                raise ValueError("chat_format=template: this GGUF has no chat template")
            name = "gemma4" if arch == "gemma4" else "gemma" if arch.startswith("gemma") else "chatml"
            self._fallback = FALLBACKS[name]
            self.chat_format = f"{name} turn format (fallback: the GGUF has no chat template)"
        fallback = None if self._formatter else next(k for k, f in FALLBACKS.items() if f is self._fallback)
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
            "lora_sha256": file_sha256(Path(o["lora"]).expanduser()) if o.get("lora") else None,
            "chat_format": self.chat_format,
            "thinking": self.plan.facts(),
            "weights_mb": llama_cpp.llama_model_size(self.llm._model.model) / 2**20,
            "n_params": llama_cpp.llama_model_n_params(self.llm._model.model),
            "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
            "engine_memory": engine_memory(self._log.take()),
        }

    def _render(self, messages: list[dict[str, Any]], tools: list[dict] | None = None) -> tuple[str, bool]:
        """Prompt text (with the thinking plan's system text, template flag and prefill), and
        whether the tokenizer should add BOS itself."""
        from bakeoff.tools.calls import hermes_messages, openai_tools

        plan = self.plan
        extra: dict[str, Any] = {}
        uses_tools = tools or any(m.get("tool_calls") or m["role"] == "tool" for m in messages)
        if uses_tools and self._template_tools:
            messages = [template_message(m) for m in messages]
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

    def close(self) -> None:
        if getattr(self, "_mtmd", None) is not None:
            import llama_cpp.mtmd_cpp as M

            M.mtmd_free(self._mtmd)
            self._mtmd = None
        self.llm.close()
        del self.llm
