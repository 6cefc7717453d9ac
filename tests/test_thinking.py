"""Thinking mode: the parsers on each family's real format (whole text and streamed in random
pieces), the thinking=on|off|BUDGET option as each backend maps it (checked in the request bodies
the protocol stand-ins record), the in-process plan per chat template, and an end-to-end
thinking sweep on a real packaged model through the real CLI.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from conftest import bakeoff, report_json, trial_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.errors import InputError
from bakeoff.spec import parse_spec
from bakeoff.thinking import (
    GEMMA4,
    PROMPTED_INSTRUCTION,
    THINK_TAGS,
    StreamSplitter,
    effort_for,
    parse_setting,
    plan_for,
    split_stream,
    split_text,
    starts_inside,
)

# --- transcripts in each family's real format -----------------------------------------------

# Gemma 4 (thinking on: <|think|> in the system turn). <|channel> / <channel|> are special tokens
# 100 / 101, rendered as text.
GEMMA4_ON = ("<|channel>thought\nThe user asks for the capital of France. France's capital is Paris. "
             "Answer in one word.<channel|>Paris")
GEMMA4_TRUNCATED = "<|channel>thought\nThe user asks for the capital of France. Let me recall the"
# Qwen3 with enable_thinking=true: the model opens <think> itself.
QWEN3_ON = ("<think>\nOkay, the user is asking what 7 + 5 is. Let me add: 7 plus 5 makes 12. "
            "They want the number only.\n</think>\n\n12")
QWEN3_TRUNCATED = "<think>\nOkay, the user wants a haiku about caching. Let me count syllables: ca-ching"
# DeepSeek-R1 (and Qwen3 thinking-2507): the template already opened <think>, so the completion
# starts inside the thinking and only the closer appears.
R1_OPENED = ("Okay, so I need to find 7 + 5. Starting from 7, adding 5 gives 12.\n</think>\n\n"
             "**Answer:** 12")
R1_TRUNCATED = "Okay, so I need to reverse a string in Python. Slicing with a step of -1 should"


def test_gemma4_channel_is_split():
    s = split_text(GEMMA4_ON, GEMMA4)
    assert s.reasoning.startswith("The user asks") and s.reasoning.endswith("one word.")
    assert s.answer == "Paris" and not s.truncated and s.had_thinking


def test_qwen3_think_tags_are_split():
    s = split_text(QWEN3_ON)
    assert s.reasoning.startswith("Okay, the user") and "<think>" not in s.reasoning
    assert s.answer == "12" and not s.truncated


def test_r1_opened_think_starts_inside():
    s = split_text(R1_OPENED, THINK_TAGS, start="inside")
    assert s.reasoning == "Okay, so I need to find 7 + 5. Starting from 7, adding 5 gives 12."
    assert s.answer == "**Answer:** 12"
    # Read without knowing the template (a server's): the closer with no opener decides.
    assert split_text(R1_OPENED, THINK_TAGS, start="auto") == s
    # Read as if no thinking were opened: all of it is answer (the closer stays in the text).
    assert split_text(R1_OPENED).answer == R1_OPENED


@pytest.mark.parametrize("text, fmt, start", [
    (GEMMA4_TRUNCATED, GEMMA4, "leading"),
    (QWEN3_TRUNCATED, THINK_TAGS, "leading"),
    (R1_TRUNCATED, THINK_TAGS, "inside"),
])
def test_truncated_inside_the_thinking_is_all_reasoning_and_flagged(text, fmt, start):
    s = split_text(text, fmt, start)
    assert s.truncated and s.answer == "" and s.reasoning
    assert s.reasoning in text and not s.reasoning.startswith(("<", "\n"))
    streamed = split_stream(list(text), fmt, start)  # one character a delta
    assert streamed == s


def test_no_thinking_and_late_openers_are_answer_unchanged():
    for text in ("Paris.", "  \nParis.", "Use the <think> tag like this: <think>x</think>", "", "<thi"):
        assert split_text(text) == split_stream([text]) == type(split_text(text))("", text)
        if "</think>" not in text:  # auto: a closer with no opener would end a template-opened block
            assert split_text(text, start="auto") == split_stream(list(text), start="auto") == split_text(text)
    # Qwen3 with thinking off writes an empty block in the prompt; when the model writes it itself:
    s = split_text("<think>\n\n</think>\n\n4")
    assert (s.reasoning, s.answer, s.had_thinking, s.truncated) == ("", "4", True, False)
    # An answer that itself talks about tags after the thinking keeps them.
    s = split_text("<think>tags</think>Write <think> then </think>.")
    assert s.answer == "Write <think> then </think>."


# --- streamed in random pieces == whole text ---------------------------------------------

PIECES = st.sampled_from(["<", "</", "<think", "</think", ">", "think", "<|channel>", "<channel|>", "<|channel>thought",
                          "channel", "|", "thought", " ", "\n", "  \n", "a", "b c", "12", "é", "<|", "|>"])


@st.composite
def transcripts(draw):
    fmt = draw(st.sampled_from([THINK_TAGS, GEMMA4]))
    start = draw(st.sampled_from(["leading", "inside", "auto"]))
    lead = draw(st.sampled_from(["", " ", "\n"]))
    opener = draw(st.booleans()) and start != "inside"
    reasoning = "".join(draw(st.lists(PIECES, max_size=12)))
    closed = draw(st.booleans())
    answer = "".join(draw(st.lists(PIECES, max_size=8)))
    text = lead + (fmt.open if opener else "") + reasoning + (fmt.close + answer if closed else "")
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    return fmt, start, text, deltas


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts())
def test_streamed_split_equals_whole_text_split(case):
    fmt, start, text, deltas = case
    assert "".join(deltas) == text
    assert split_stream(deltas, fmt, start) == split_text(text, fmt, start)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(QWEN3_ON)), max_size=10), st.sampled_from([(QWEN3_ON, THINK_TAGS, "leading"),
       (GEMMA4_ON, GEMMA4, "leading"), (R1_OPENED, THINK_TAGS, "inside"), (R1_OPENED, THINK_TAGS, "auto")]))
def test_answer_pieces_carry_the_time_their_text_arrived(cuts, sample):
    """TTFAT: the first answer piece is stamped with the delta that brought the first answer
    character; every reasoning piece comes before it; pieces keep their deltas' order."""
    text, fmt, start = sample
    cuts = sorted(c for c in cuts if c <= len(text))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    splitter = StreamSplitter(fmt, start)
    pieces = [p for i, d in enumerate(deltas) for p in splitter.feed(d, i)] + splitter.close(len(deltas))
    answer = split_text(text, fmt, start).answer
    first_answer_char = text.rindex(answer)
    arrived = next(i for i, _ in enumerate(deltas) if sum(map(len, deltas[:i + 1])) > first_answer_char)
    kinds = [k for k, _, _ in pieces]
    assert kinds.index("content") == len(kinds) - kinds[::-1].index("reasoning")  # reasoning, then answer
    assert next(t for k, _, t in pieces if k == "content") == arrived
    assert [t for _, _, t in pieces] == sorted(t for _, _, t in pieces)


def test_auto_mode_holds_then_releases_with_original_times():
    s = StreamSplitter(THINK_TAGS, "auto")
    assert s.feed("Adding 7 ", 1) == [] and s.feed("and 5.\n</th", 2) == []
    assert s.feed("ink>\n\n12", 3) == [("reasoning", "Adding 7 ", 1), ("reasoning", "and 5.", 2), ("content", "12", 3)]
    plain = StreamSplitter(THINK_TAGS, "auto")
    assert plain.feed("The answer", 1) == [] and plain.feed(" is 12.", 2) == []
    assert plain.close(3) == [("content", "The answer", 1), ("content", " is 12.", 2)] and not plain.had_thinking


def test_a_budget_completes_a_closer_the_model_had_begun():
    s = StreamSplitter(THINK_TAGS, "inside")
    assert s.feed("Paris.\n</th") == [("reasoning", "Paris.", None)]
    assert s.closing_text() == "ink>\n\n"
    assert s.feed(s.closing_text()) == [] and not s.thinking and s.feed("Paris") == [("content", "Paris", None)]
    fresh = StreamSplitter(GEMMA4, "inside")
    fresh.feed("The user asks")
    assert fresh.closing_text() == "<channel|>"


# --- the option ---------------------------------------------------------------------------


def test_setting_values():
    assert [parse_setting(v) for v in ("on", "OFF", "true", "no", "512", 64, None)] == ["on", "off", "on", "off", 512, 64, None]
    for bad in ("maybe", "0", "-5", "1.5", ""):
        with pytest.raises(ValueError, match="thinking takes on, off or a token budget"):
            parse_setting(bad)
    assert [effort_for(v) for v in ("off", "on", 1024, 1025, 8192, 20000, None)] == \
        ["none", "medium", "low", "medium", "medium", "high", None]


@pytest.mark.parametrize("spec, message", [
    ("qwen2.5-coder-0.5b?thinking=maybe", "thinking takes on, off or a token budget"),
    ("openai:o4-mini?thinking=on&reasoning_effort=low", "not both"),
    ("gemini:gemini-2.5-flash?thinking=off&reasoning_effort=low", "not both"),
    ("ollama:qwen3:0.6b?thinking=512", "Ollama has no thinking budget"),
    ("ollama:qwen3:0.6b?thinking=on&think=false", "not both"),
    ("anthropic:claude-sonnet-4-5?thinking=512", "at least 1024"),
    ("anthropic:claude-sonnet-4-5?thinking=on&thinking_budget=4096", "not both"),
    ("openai-compat:http://127.0.0.1:9/v1#m?thinking=512", "no token budget"),
])
def test_bad_or_conflicting_thinking_is_input_error(spec, message):
    with pytest.raises(InputError, match=message):
        parse_spec(spec)


def test_spec_keeps_the_setting_as_given():
    assert parse_spec("qwen2.5-coder-0.5b?thinking=on").canonical == "llamacpp:qwen2.5-coder-0.5b?thinking=on"
    assert parse_spec("qwen2.5-coder-0.5b?thinking=256").options == {"thinking": 256}
    assert parse_spec("anthropic:claude-sonnet-4-5?thinking=on").canonical == "anthropic:claude-sonnet-4-5?thinking=on"


def test_sweep_expands_thinking_variants():
    from bakeoff.run.plan import expand_sweeps

    variants = expand_sweeps([parse_spec("qwen2.5-coder-0.5b?threads=1")], ["thinking=on,off,none,128"])
    assert [(v.canonical, point) for v, point in variants] == [
        ("llamacpp:qwen2.5-coder-0.5b?thinking=on&threads=1", {"thinking": "on"}),
        ("llamacpp:qwen2.5-coder-0.5b?thinking=off&threads=1", {"thinking": "off"}),
        ("llamacpp:qwen2.5-coder-0.5b?threads=1", {"thinking": "none"}),
        ("llamacpp:qwen2.5-coder-0.5b?thinking=128&threads=1", {"thinking": 128}),
    ]
    with pytest.raises(InputError, match="thinking takes"):
        expand_sweeps([parse_spec("smollm2-135m")], ["thinking=on,sometimes"])


# --- the in-process plan per chat template ---------------------------------------------------

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
# Qwen3's template, reduced to the parts that decide thinking (its generation prompt, verbatim).
QWEN3 = CHATML.replace("{{ '<|im_start|>assistant\\n' }}",
                       "{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}"
                       "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}")
# DeepSeek-R1's: the generation prompt opens the thinking.
R1 = ("{% for message in messages %}{% if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}"
      "{% elif message['role'] == 'assistant' %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}"
      "{% endif %}{% endfor %}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}")
# Gemma 4's (llama.cpp's models/ggml-vocab-gemma-4.gguf), reduced: <|think|> opens the system turn
# when enable_thinking is set; otherwise the generation prompt prefills an empty thought channel.
GEMMA4_TEMPLATE = ("{{ bos_token }}{%- if (enable_thinking is defined and enable_thinking) or messages[0]['role'] == 'system' -%}"
                   "{{- '<|turn>system\\n' -}}{%- if enable_thinking is defined and enable_thinking -%}{{- '<|think|>' -}}"
                   "{%- endif -%}{%- if messages[0]['role'] == 'system' -%}{{- messages[0]['content'] -}}{%- endif -%}"
                   "{{- '<turn|>\\n' -}}{%- endif -%}{%- for m in messages if m['role'] != 'system' -%}"
                   "{{- '<|turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' + m['content'] + '<turn|>\\n' -}}"
                   "{%- endfor -%}{%- if add_generation_prompt -%}{{- '<|turn>model\\n' -}}{%- if not enable_thinking | default(false) -%}"
                   "{{- '<|channel>thought\\n<channel|>' -}}{%- endif -%}{%- endif -%}")
MESSAGES = [{"role": "user", "content": "What is 7 + 5?"}]


def _render(template: str, setting, arch: str = "", chat_format=None) -> tuple[str, object]:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    plan = plan_for(setting, template, arch, chat_format)
    formatter = Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<bos>")
    return formatter(messages=plan.messages(MESSAGES), **plan.template_kwargs).prompt + plan.prefill, plan


def test_qwen3_template_gets_enable_thinking():
    on, plan = _render(QWEN3, "on")
    assert plan.mode == "native qwen3" and plan.template_kwargs == {"enable_thinking": True}
    assert on.endswith("<|im_start|>assistant\n") and not starts_inside(on, THINK_TAGS)
    off, plan = _render(QWEN3, "off")
    assert off.endswith("<think>\n\n</think>\n\n") and not starts_inside(off, THINK_TAGS)
    _, plan = _render(QWEN3, None)
    assert plan.template_kwargs == {} and plan.fmt is THINK_TAGS  # the model's default, still split


def test_r1_template_opens_the_thinking():
    on, plan = _render(R1, "on")
    assert plan.mode == "native think-tags" and starts_inside(on, THINK_TAGS)
    off, _ = _render(R1, "off")
    assert off.endswith("<think>\n\n</think>\n\n") and not starts_inside(off, THINK_TAGS)


def test_gemma4_gets_think_token_in_the_system_turn():
    on, plan = _render(GEMMA4_TEMPLATE, "on", arch="gemma4")
    assert plan.mode == "native gemma4" and plan.fmt is GEMMA4
    assert on.startswith("<bos><|turn>system\n<|think|><turn|>\n<|turn>user\n") and on.endswith("<|turn>model\n")
    off, _ = _render(GEMMA4_TEMPLATE, "off", arch="gemma4")
    assert "<|think|>" not in off and off.endswith("<|turn>model\n<|channel>thought\n<channel|>")
    assert not starts_inside(on, GEMMA4) and not starts_inside(off, GEMMA4)
    # No template in the GGUF (bakeoff's own Gemma 4 turn format): <|think|> opens the system turn.
    from bakeoff.backends.chat_formats import gemma4_prompt as _gemma4_prompt

    plan = plan_for("on", None, "gemma4")
    prompt = _gemma4_prompt(plan.messages([{"role": "system", "content": "Be brief."}, *MESSAGES]))
    assert prompt.startswith("<bos><|turn>system\n<|think|>Be brief.<turn|>\n")
    assert _gemma4_prompt(plan.messages(MESSAGES)).startswith("<bos><|turn>system\n<|think|><turn|>\n<|turn>user\n")
    assert plan_for("off", None, "gemma4").prefill == "<|channel>thought\n<channel|>"


def test_models_without_native_thinking_are_prompted_when_asked():
    on, plan = _render(CHATML, "on")
    assert plan.mode == "prompted" and on.endswith("<|im_start|>assistant\n<think>\n")
    assert PROMPTED_INSTRUCTION in on and starts_inside(on, THINK_TAGS)
    with_system = plan.messages([{"role": "system", "content": "Be brief."}, *MESSAGES])
    assert with_system[0]["content"] == PROMPTED_INSTRUCTION + "\n\nBe brief." and len(with_system) == 2
    for setting in ("off", None):
        prompt, plan = _render(CHATML, setting)
        assert plan.mode == "none" and plan.fmt is None and "<think>" not in prompt
    assert plan_for(64, CHATML).facts()["budget_tokens"] == 64


# --- server backends: what the request carries ---------------------------------------------


def _bodies(server, suffix):
    return [r.body for r in server.posted(suffix) if r.body and r.body.get("messages")]


def _generate(spec: str, env: dict | None = None, monkeypatch=None):
    """Load the contender, run one request, return the events (in this process, on its own loop)."""
    from bakeoff.backends import make_backend
    from bakeoff.backends.base import GenerationRequest

    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    backend = make_backend(parse_spec(spec), 30)

    async def go():
        await backend.aload()
        try:
            return [e async for e in backend.agenerate(GenerationRequest(
                messages=[{"role": "user", "content": "What is 7 + 5?"}], max_tokens=40))]
        finally:
            await backend.aclose()

    return asyncio.run(go())


def _joined(events, kind):
    return "".join(e["text"] for e in events if e["type"] == kind)


@pytest.fixture
def compat_server():
    from standins.base import StandInServer, StandInState
    from standins.openai_api import make_app

    state = StandInState()
    with StandInServer(make_app(state, ["qwen3", "gpt-5-mini", "o4-mini", "gemini-2.5-flash"]), state) as server:
        yield server


def test_openai_compat_maps_thinking_to_chat_template_kwargs(compat_server):
    base = f"openai-compat:{compat_server.url}/v1#qwen3"
    _generate(f"{base}?thinking=on")
    _generate(f"{base}?thinking=off")
    _generate(base)
    on, off, unset = _bodies(compat_server, "/chat/completions")
    assert on["chat_template_kwargs"] == {"enable_thinking": True}
    assert off["chat_template_kwargs"] == {"enable_thinking": False}
    assert "chat_template_kwargs" not in unset and "reasoning_effort" not in on


@pytest.mark.parametrize("inline, start", [
    ("<think>\nAdding 7 and 5 gives 12.\n</think>\n\nThe answer is 12.", None),  # Qwen3 without a reasoning parser
    ("Adding 7 and 5 gives 12.\n</think>\n\nThe answer is 12.", "thinking=on"),  # R1: the template opened <think>
])
def test_openai_compat_splits_inline_think_tags(compat_server, inline, start):
    compat_server.state.reply = inline
    spec = f"openai-compat:{compat_server.url}/v1#qwen3" + (f"?{start}" if start else "")
    events = _generate(spec)
    assert _joined(events, "reasoning") == "Adding 7 and 5 gives 12."
    assert _joined(events, "content") == "The answer is 12."
    times = [e["t"] for e in events if e["type"] in ("reasoning", "content")]
    assert times == sorted(times)
    first_reasoning = next(e["t"] for e in events if e["type"] == "reasoning")
    first_answer = next(e["t"] for e in events if e["type"] == "content")
    assert first_reasoning < first_answer  # TTFT before TTFAT, each from its own chunk


def test_openai_compat_reasoning_content_deltas_and_reasoning_tokens(compat_server):
    compat_server.state.reply = "The answer is 12."
    compat_server.state.reasoning = "Adding 7 and 5 gives 12."
    events = _generate(f"openai-compat:{compat_server.url}/v1#qwen3?thinking=on")
    assert _joined(events, "reasoning") == "Adding 7 and 5 gives 12." and _joined(events, "content") == "The answer is 12."
    (usage,) = [e for e in events if e["type"] == "usage"]
    assert usage["reasoning_tokens"] == len("Adding 7 and 5 gives 12.".split(" "))


@pytest.mark.parametrize("backend, setting, effort", [
    ("openai", "on", "medium"), ("openai", "off", "none"), ("openai", "2048", "medium"), ("openai", "512", "low"),
    ("openai", "30000", "high"), ("gemini", "off", "none"), ("gemini", "on", "medium"), ("gemini", "1024", "low"),
])
def test_openai_and_gemini_map_thinking_to_reasoning_effort(compat_server, monkeypatch, backend, setting, effort):
    key = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}[backend]
    model = {"openai": "gpt-5-mini", "gemini": "gemini-2.5-flash"}[backend]
    _generate(f"{backend}:{model}?base_url={compat_server.url}/v1&thinking={setting}", {key: "k"}, monkeypatch)
    (body,) = _bodies(compat_server, "/chat/completions")
    assert body["reasoning_effort"] == effort and "temperature" not in body and "chat_template_kwargs" not in body


def test_openai_reasoning_effort_alone_still_works(compat_server, monkeypatch):
    _generate(f"openai:o4-mini?base_url={compat_server.url}/v1&reasoning_effort=high", {"OPENAI_API_KEY": "k"}, monkeypatch)
    (body,) = _bodies(compat_server, "/chat/completions")
    assert body["reasoning_effort"] == "high"


def test_ollama_maps_thinking_to_think():
    from standins.base import StandInServer, StandInState
    from standins.ollama_api import THINKING, make_app

    state = StandInState(reply="The answer is 12.")
    with StandInServer(make_app(state), state) as server:
        events = _generate(f"ollama:qwen3:0.6b?base_url={server.url}&thinking=on")
        _generate(f"ollama:qwen3:0.6b?base_url={server.url}&thinking=off")
        on, off = [b for b in _bodies(server, "/api/chat")]
    assert on["think"] is True and off["think"] is False
    assert _joined(events, "reasoning") == THINKING and _joined(events, "content") == "The answer is 12."


def test_anthropic_maps_thinking_to_budget_tokens(monkeypatch):
    from standins.anthropic_api import AnthropicState, make_app
    from standins.base import StandInServer

    state = AnthropicState(expected_key="k")
    with StandInServer(make_app(state), state) as server:
        for setting in ("on", "4096", "off"):
            events = _generate(f"anthropic:claude-haiku-4-5?base_url={server.url}&thinking={setting}",
                               {"ANTHROPIC_API_KEY": "k"}, monkeypatch)
            if setting == "on":
                assert _joined(events, "reasoning") and _joined(events, "content")
        on, budget, off = _bodies(server, "/v1/messages")
    assert on["thinking"] == {"type": "enabled", "budget_tokens": 2048} and on["max_tokens"] == 2048 + 40
    assert budget["thinking"] == {"type": "enabled", "budget_tokens": 4096} and budget["max_tokens"] == 4096 + 40
    assert "thinking" not in off and off["max_tokens"] == 40


# --- end to end: a thinking sweep on a real model, through the real CLI ----------------------

SWEEP_SUITE = """\
defaults:
  max_tokens: 96
  temperature: 0
cases:
  - id: add
    prompt: 'What is 7 + 5? Answer with the number only.'
    checks:
      - regex: '\\b12\\b'
      - not: {contains: plus}     # the reasoning says "7 plus 5"; the answer must not
  - id: capital
    prompt: 'What is the capital of France? One word.'
    checks:
      - contains: Paris
"""


def test_thinking_sweep_end_to_end(tmp_path, qwen05):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SWEEP_SUITE)
    db = tmp_path / "t.db"
    proc = bakeoff("run", suite, "-c", "qwen2.5-coder-0.5b?threads=1", "--sweep", "thinking=on,off,4", "--db", db)
    assert proc.returncode == 0, proc.stderr
    rows = {(str(json.loads(r["sweep"])["thinking"]), r["case_id"]): r for r in trial_rows(db)}
    assert sorted(rows) == [("4", "add"), ("4", "capital"), ("off", "add"), ("off", "capital"),
                            ("on", "add"), ("on", "capital")]
    assert all(r["status"] == "ok" for r in rows.values()), [r["error"] for r in rows.values()]
    for case in ("add", "capital"):
        on, off = rows[("on", case)], rows[("off", case)]
        # Thinking is stored apart; the prompt carried the instruction and the opened <think>.
        assert on["reasoning"] and "<think>" not in on["reasoning"] and "</think>" not in (on["output"] or "")
        assert PROMPTED_INSTRUCTION in on["prompt"] and on["prompt"].endswith("<think>\n")
        assert off["reasoning"] is None and PROMPTED_INSTRUCTION not in off["prompt"]
        assert on["ttft_ms"] > 0 and off["ttfat_ms"] == pytest.approx(off["ttft_ms"])
        if on["output"]:
            assert on["ttfat_ms"] >= on["ttft_ms"]
    add = rows[("on", "add")]
    # Checks read the answer only: "plus" is in the reasoning, not in the answer, and the case passes.
    assert "plus" in add["reasoning"] and add["output"].strip() == "12" and add["passed"] == 1
    assert add["ttfat_ms"] > add["ttft_ms"]
    checks = sqlite3.connect(db).execute("SELECT kind, passed FROM check_results WHERE trial_id = ?",
                                         (add["id"],)).fetchall()
    assert checks == [("regex", 1), ("not contains", 1)]
    # A budget of 4 tokens: the thinking is cut there (the closing tag forced), then the answer comes.
    # At temperature 0 the cut thinking is the start of the unbounded one.
    cut, full = rows[("4", "add")], rows[("on", "add")]
    assert full["reasoning"].startswith(cut["reasoning"]) and len(cut["reasoning"]) < len(full["reasoning"])
    assert cut["output"] and cut["ttfat_ms"] > cut["ttft_ms"]
    # The contender says which thinking mode it ran in, and the user was told.
    conn = sqlite3.connect(db)
    facts = {spec: (json.loads(f), json.loads(n)) for spec, f, n in conn.execute("SELECT spec, facts, notes FROM contenders")}
    on_facts, on_notes = facts["llamacpp:qwen2.5-coder-0.5b?thinking=on&threads=1"]
    off_facts, _ = facts["llamacpp:qwen2.5-coder-0.5b?thinking=off&threads=1"]
    assert on_facts["thinking"]["mode"] == "prompted" and off_facts["thinking"]["mode"] == "none"
    assert any("prompted" in n for n in on_notes) and "prompted" in proc.stderr + proc.stdout
    # The report has the per-variant rows of the sweep.
    data = report_json(db)
    (group,) = data["variants"]
    assert group["base"] == "llamacpp:qwen2.5-coder-0.5b?threads=1"
    assert sorted(str(v["sweep"]["thinking"]) for v in group["variants"]) == ["4", "off", "on"]
    # What thinking buys and costs, from the same database.
    from bakeoff.report.thinking_delta import thinking_deltas
    from bakeoff.store import Database

    (delta,) = thinking_deltas(Database(db))
    assert delta["reference"]["sweep"] == {"thinking": "off"}
    budget, v = delta["variants"]
    assert budget["sweep"] == {"thinking": 4} and budget["extra_output_tokens_mean"] > 0
    assert v["sweep"] == {"thinking": "on"} and v["paired_cases"] == 2
    assert v["extra_output_tokens_mean"] > 0 and v["with_reasoning_share"] == 1 and v["thinking_mode"] == "prompted"
    assert v["pass_rate_delta"] == pytest.approx(v["pass_rate"] - delta["reference"]["pass_rate"])
