"""Thinking mode: the ``thinking=on|off|BUDGET`` contender option, and splitting a completion into
reasoning and answer in each model family's own format.

Formats (what the model writes; sources in docs/sources.md):

- Gemma 4: ``<|channel>thought\\n...<channel|>`` before the answer (switched on by ``<|think|>`` at
  the start of the system turn). ``<|channel>`` and ``<channel|>`` are special tokens (ids 100
  and 101): an engine must render them as text (llama.cpp: ``special=True``) to be split here.
- Qwen3 / DeepSeek-R1: ``<think>...</think>`` before the answer. R1 (and Qwen3's "thinking-2507"
  models) open ``<think>`` in the chat template itself, so the completion *starts inside* the
  thinking and only ``</think>`` appears: pass ``start="inside"`` (when the prompt is known to
  end with the opener) or ``start="auto"`` (when it is not known: a server's template).

Rules of the split, identical for a whole text (``split_text``) and for the same text streamed in
any pieces (``StreamSplitter``), which the tests check on random cuts:

- Only one thinking block, and only at the start of the completion (after whitespace): an opener
  later in the answer is answer text. The text before the closer is the reasoning (stripped of
  surrounding whitespace); the answer is what follows the closer, leading whitespace removed.
- A completion with no thinking block is all answer, unchanged.
- **Truncated**: the text ends inside the thinking (the token budget ran out before the closer):
  all of it is reasoning, the answer is empty, and ``truncated`` is set.
- ``start="auto"``: text before a closer that had no opener is reasoning (the template opened
  it); a completion that never shows a closer is all answer. A streaming splitter in this mode
  holds the text back until it knows, then releases each piece with the time it arrived.

Streaming: ``StreamSplitter.feed(delta, t)`` returns the ``(kind, text, t)`` pieces that can be
told apart so far: ``"reasoning"`` or ``"content"``. A marker split across deltas (``</th`` +
``ink>``) is held until it is complete, so TTFT counts the first thinking token and TTFAT the
first answer token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

Start = Literal["leading", "inside", "auto"]
Piece = tuple[str, str, Any]  # (kind: "reasoning" | "content", text, t)


@dataclass(frozen=True)
class ThinkFormat:
    name: str
    open: str
    close: str
    force_close: str  # the text written in the model's place when a thinking budget runs out


THINK_TAGS = ThinkFormat("think-tags", "<think>", "</think>", "\n</think>\n\n")
GEMMA4 = ThinkFormat("gemma4-channel", "<|channel>thought", "<channel|>", "<channel|>")
FORMATS = {f.name: f for f in (THINK_TAGS, GEMMA4)}


@dataclass
class Split:
    reasoning: str
    answer: str
    truncated: bool = False  # ended inside the thinking: the answer is empty
    had_thinking: bool = False


# --- the option --------------------------------------------------------------------------

Setting = Literal["on", "off"] | int | None

DEFAULT_BUDGETS = {"anthropic": 2048}  # thinking=on where the API wants a number


def parse_setting(value: Any) -> Setting:
    """``on`` / ``off`` / a positive token budget (``true``/``false``/``yes``/``no`` are read too)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value).strip().lower()
    if text in ("on", "true", "yes"):
        return "on"
    if text in ("off", "false", "no"):
        return "off"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"thinking takes on, off or a token budget (a positive integer); got {value!r}")


# A backend's Options field: ``thinking: ThinkingOption = Field(None, description=...)``.
ThinkingOption = Annotated[Literal["on", "off"] | int | None, BeforeValidator(parse_setting)]


def fold_into(options: Any, other: str, value: Any) -> Any:
    """In an Options model validator: ``thinking`` sets the backend's own option ``other`` to
    ``value``; giving both is an error (exit 2), since they would say two things."""
    if options.thinking is not None:
        if getattr(options, other) is not None:
            raise ValueError(f"give thinking or {other}, not both (thinking={options.thinking} sets {other}={value})")
        setattr(options, other, value)
    return options


def effort_for(setting: Setting) -> str | None:
    """OpenAI / Gemini ``reasoning_effort`` for a thinking setting. A budget picks the level whose
    budget Google documents for its OpenAI-compatible endpoint (low 1,024, medium 8,192, high
    24,576 tokens): up to 1024 -> low, up to 8192 -> medium, above -> high. ``on`` is ``medium``
    (OpenAI's default), ``off`` is ``none``."""
    if setting is None:
        return None
    if setting == "off":
        return "none"
    if setting == "on":
        return "medium"
    return "low" if setting <= 1024 else "medium" if setting <= 8192 else "high"


# --- whole-text split --------------------------------------------------------------------


def split_text(text: str, fmt: ThinkFormat = THINK_TAGS, start: Start = "leading") -> Split:
    """Reasoning and answer of a whole completion (rules in the module docstring)."""
    if start == "inside":
        body = text
    else:
        stripped = text.lstrip()
        if stripped.startswith(fmt.open):
            body = stripped[len(fmt.open):]
        elif start == "auto" and fmt.close in text:
            body = text
        else:
            return Split("", text)
    i = body.find(fmt.close)
    if i < 0:
        return Split(body.strip(), "", truncated=True, had_thinking=True)
    return Split(body[:i].strip(), body[i + len(fmt.close):].lstrip(), had_thinking=True)


# --- streaming split ---------------------------------------------------------------------


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``marker``."""
    for n in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0


@dataclass
class StreamSplitter:
    """Feeds on deltas, gives out reasoning and answer pieces as soon as they can be told apart."""

    fmt: ThinkFormat = THINK_TAGS
    start: Start = "leading"
    state: str = field(init=False)  # start | pending | think | after | answer | plain
    truncated: bool = field(default=False, init=False)
    had_thinking: bool = field(default=False, init=False)
    answer_started: bool = field(default=False, init=False)
    _buf: str = field(default="", init=False)
    _pending: list = field(default_factory=list, init=False)  # auto mode: (text, t) held back
    _pending_text: str = field(default="", init=False)
    _reasoning_started: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.state = "think" if self.start == "inside" else "start"
        self.had_thinking = self.start == "inside"

    @property
    def thinking(self) -> bool:
        """Inside the thinking now (a budget counts these tokens)."""
        return self.state == "think"

    def closing_text(self) -> str:
        """What to write in the model's place to end the thinking now (a budget ran out): the
        format's forced close, or only the rest of a closer the model had begun (``</th`` -> ``ink>``)."""
        k = _partial_suffix(self._buf, self.fmt.close) if self.state == "think" else 0
        if not k:
            return self.fmt.force_close
        return self.fmt.close[k:] + self.fmt.force_close.partition(self.fmt.close)[2]

    @property
    def quiet_kind(self) -> str:
        """The kind of a token that produced no text yet (a marker, held text): ``content`` only
        once the answer has begun, so it never moves TTFAT earlier."""
        return "content" if self.answer_started else "reasoning"

    def feed(self, delta: str, t: Any = None) -> list[Piece]:
        out: list[Piece] = []
        if self.state == "pending":
            self._feed_pending(delta, t, out)
            return out
        self._buf += delta
        self._drain(t, out, final=False)
        return out

    def close(self, t: Any = None) -> list[Piece]:
        """End of the completion: release what was held; set ``truncated`` if inside the thinking."""
        out: list[Piece] = []
        self._drain(t, out, final=True)
        if self.state == "pending":
            for text, when in self._pending:
                self._content(text, when, out)
            self._pending, self._pending_text = [], ""
        elif self.state == "think":
            self.truncated = True
            rest = self._buf.rstrip()
            if not self._reasoning_started:
                rest = rest.lstrip()
            if rest:
                self._reason(rest, t, out)
        elif self.state == "start" and self._buf:
            self._content(self._buf, t, out)
        self._buf = ""
        return out

    # --- internals ---

    def _content(self, text: str, t: Any, out: list[Piece]) -> None:
        if text:
            self.answer_started = True
            out.append(("content", text, t))

    def _reason(self, text: str, t: Any, out: list[Piece]) -> None:
        if text:
            self._reasoning_started = True
            out.append(("reasoning", text, t))

    def _feed_pending(self, delta: str, t: Any, out: list[Piece]) -> None:
        """auto mode, no opener seen: hold pieces (with their times) until a closer decides."""
        self._pending.append((delta, t))
        seen = len(self._pending_text)
        self._pending_text += delta
        joined = self._pending_text
        i = joined.find(self.fmt.close, max(0, seen - len(self.fmt.close) + 1))
        if i < 0:
            return
        # Everything before the closer was thinking the template had opened: release it with the
        # times its pieces arrived, then go on with what follows the closer.
        self.had_thinking = True
        pos, lead = 0, True
        before = joined[:i].rstrip()
        for text, when in self._pending:
            take = text[:max(0, len(before) - pos)]
            pos += len(text)
            if lead:
                take = take.lstrip()
                lead = not take
            if take:
                self._reason(take, when, out)
        self._pending, self._pending_text = [], ""
        self.state = "after"
        self._buf = joined[i + len(self.fmt.close):]
        self._drain(t, out, final=False)

    def _drain(self, t: Any, out: list[Piece], final: bool) -> None:
        fmt = self.fmt
        while self._buf:
            if self.state == "start":
                s = self._buf.lstrip()
                if s.startswith(fmt.open):
                    self._buf = s[len(fmt.open):]
                    self.state, self.had_thinking = "think", True
                    continue
                if not s or fmt.open.startswith(s):
                    return  # whitespace or a partial opener: wait (close() decides)
                if self.start == "auto":
                    self.state, text, self._buf = "pending", self._buf, ""
                    self._feed_pending(text, t, out)
                    return
                self.state = "plain"
                continue
            if self.state == "think":
                i = self._buf.find(fmt.close)
                if i >= 0:
                    text = self._buf[:i].rstrip()
                    if not self._reasoning_started:
                        text = text.lstrip()
                    self._reason(text, t, out)
                    self._buf = self._buf[i + len(fmt.close):]
                    self.state = "after"
                    continue
                keep = _partial_suffix(self._buf, fmt.close)
                safe = self._buf[:len(self._buf) - keep]
                text = safe.rstrip()  # trailing whitespace may be the last before the closer
                if not self._reasoning_started:
                    text = text.lstrip()
                    if not text:  # only whitespace so far: leading whitespace is not reasoning
                        self._buf = self._buf[len(safe):]
                        return
                self._reason(text, t, out)
                self._buf = self._buf[len(safe.rstrip()):]
                return
            if self.state == "after":
                s = self._buf.lstrip()
                if not s:
                    self._buf = ""
                    return
                self.state, self._buf = "answer", s
                continue
            # answer, plain: everything is answer
            self._content(self._buf, t, out)
            self._buf = ""
            return


def split_stream(deltas: list[str], fmt: ThinkFormat = THINK_TAGS, start: Start = "leading") -> Split:
    """Streams ``deltas`` through a StreamSplitter and joins its pieces (tests compare it with split_text)."""
    s = StreamSplitter(fmt, start)
    pieces = [p for d in deltas for p in s.feed(d)] + s.close()
    return Split("".join(text for kind, text, _ in pieces if kind == "reasoning"),
                 "".join(text for kind, text, _ in pieces if kind == "content"),
                 truncated=s.truncated, had_thinking=s.had_thinking)


# --- what an in-process engine does for a setting ------------------------------------------

PROMPTED_INSTRUCTION = (
    "Reply in two parts. First your reasoning, between <think> and </think>. Then, after </think>, "
    "the final answer exactly as the user asked for it.\n\n"
    "Example:\nUser: What is 2 + 3? Answer with the number only.\n"
    "Assistant: <think>\n2 plus 3 is 5.\n</think>\n5")


@dataclass
class ThinkingPlan:
    """How a chat template / model family is asked to think (or not), and how its reply is split.

    ``mode``: ``native gemma4``, ``native qwen3`` (the template's ``enable_thinking`` flag),
    ``native think-tags`` (a template that writes ``<think>`` but has no switch: R1-style),
    ``prompted`` (no native thinking: a system instruction plus an opened ``<think>``), or
    ``none`` (no native thinking and thinking not asked for: nothing is changed or split).
    """

    setting: Setting
    mode: str
    fmt: ThinkFormat | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    system_prefix: str | None = None  # put before the system turn's text (a system turn is added if none)
    system_joiner: str = "\n\n"  # between system_prefix and the case's own system text
    prefill: str = ""  # written after the generation prompt, as if the model had written it

    @property
    def budget(self) -> int | None:
        return self.setting if isinstance(self.setting, int) else None

    @property
    def on(self) -> bool:
        return self.setting not in (None, "off")

    def messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        if not self.system_prefix:
            return messages
        out = [dict(m) for m in messages]
        for m in out:
            if m["role"] == "system":
                m["content"] = f"{self.system_prefix}{self.system_joiner}{m['content']}"
                return out
        return [{"role": "system", "content": self.system_prefix}, *out]

    def facts(self) -> dict[str, Any]:
        """The plan as stored with the contender: setting, mode, format, budget and how it is done."""
        how = {
            "native gemma4": "Gemma 4: <|think|> at the start of the system turn; <|channel>thought...<channel|> is reasoning",
            "native qwen3": "the chat template's enable_thinking flag; <think>...</think> is reasoning",
            "native think-tags": "the template writes <think>...</think> itself (no switch; off closes it empty)",
            "prompted": "no native thinking: a system instruction asks for reasoning in <think>...</think> "
                        "and the reply is opened with <think>",
            "none": "no native thinking; thinking not asked for",
        }[self.mode]
        return {"setting": self.setting, "mode": self.mode, "format": self.fmt.name if self.fmt else None,
                "budget_tokens": self.budget, "how": how,
                "max_tokens": ("thinking capped at the budget (the closing tag is forced there); the answer keeps "
                               "the case's max_tokens" if self.budget else
                               "thinking and answer share the case's max_tokens" if self.on else None)}


def plan_for(setting: Setting, template: str | None, arch: str = "", chat_format: str | None = None) -> ThinkingPlan:
    """The thinking plan for an in-process model, from its chat template and architecture."""
    template = template or ""
    gemma4 = arch == "gemma4" or chat_format == "gemma4" or "<|channel>" in template or "<|think|>" in template
    if gemma4:
        if "enable_thinking" in template and chat_format in (None, "template"):
            kwargs = {} if setting is None else {"enable_thinking": setting != "off"}
            return ThinkingPlan(setting, "native gemma4", GEMMA4, template_kwargs=kwargs)
        # No template (bakeoff's own Gemma 4 turns): as Gemma 4's template does it, <|think|> opens
        # the system turn with nothing after it but the system text; off prefills an empty thought.
        return ThinkingPlan(setting, "native gemma4", GEMMA4, system_joiner="",
                            system_prefix="<|think|>" if setting not in (None, "off") else None,
                            prefill="<|channel>thought\n<channel|>" if setting == "off" else "")
    uses_template = chat_format in (None, "template")
    if uses_template and "enable_thinking" in template:
        kwargs = {} if setting is None else {"enable_thinking": setting != "off"}
        return ThinkingPlan(setting, "native qwen3", THINK_TAGS, template_kwargs=kwargs)
    if uses_template and "<think>" in template:
        return ThinkingPlan(setting, "native think-tags", THINK_TAGS,
                            prefill="<think>\n\n</think>\n\n" if setting == "off" else "")
    if setting in (None, "off"):
        return ThinkingPlan(setting, "none")
    return ThinkingPlan(setting, "prompted", THINK_TAGS, system_prefix=PROMPTED_INSTRUCTION, prefill="<think>\n")


def starts_inside(prompt: str, fmt: ThinkFormat) -> bool:
    """Whether the rendered prompt leaves the model inside an opened thinking block."""
    return prompt.rstrip().endswith(fmt.open)
