"""Images in cases: checked when the suite loads, sent by each backend in its vendor's documented
format, and bad image files failing their own case only.

The images are made here with Pillow. OpenAI, Anthropic and Ollama cannot run here, so their
requests go to the protocol stand-ins in tests/standins, which check the image parts against
each vendor's documented request format (Chat Completions ``image_url`` data URLs, Messages API
base64 ``image`` blocks, Ollama's ``images`` list), decode them, and answer 400 otherwise.
"""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
from PIL import Image

from conftest import bakeoff
from standins import anthropic_api, ollama_api
from standins.base import StandInServer, StandInState
from standins.openai_api import make_app as openai_app

OPENAI_KEY = "sk-proj-standin-images-0a1b2c3d4e5f"
ANTHROPIC_KEY = "sk-ant-api03-standin-images-0a1b2c3d4e5f"


def make_images(d):
    """A PNG, a JPEG and a WebP, plus the three bad files the issue names."""
    Image.new("RGB", (64, 48), (200, 30, 30)).save(d / "red.png")
    Image.new("RGB", (40, 40), (30, 200, 30)).save(d / "green.jpg", quality=90)
    Image.new("RGB", (32, 32), (30, 30, 200)).save(d / "blue.webp")
    Image.new("RGB", (256, 256), (1, 2, 3)).save(d / "whole.png")
    data = (d / "whole.png").read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    # 20,000 x 20,000 pixels, a few kilobytes on disk: refused from its header, never decoded
    Image.new("1", (20_000, 20_000)).save(d / "huge.png")
    (d / "notes.png").write_text("these are notes, not a picture\n")


SUITE = """
cases:
  - id: one-png
    prompt: What colour is this?
    images: [red.png]
  - id: two-in-messages
    messages:
      - {role: system, content: Be brief.}
      - {role: user, content: Compare the two., images: [green.jpg, blue.webp]}
  - id: text-only
    prompt: Say hi.
  - id: truncated
    prompt: What is this?
    images: [truncated.png]
  - id: huge
    prompt: What is this?
    images: [huge.png]
  - id: not-an-image
    prompt: What is this?
    images: [notes.png]
"""


def _openai_compat():
    state = StandInState()
    return (StandInServer(openai_app(state, ["gemma4"]), state), "/chat/completions",
            lambda url: f"openai-compat:{url}/v1#gemma4?visual_budget=560", {})


def _openai():
    state = StandInState(expected_key=OPENAI_KEY)
    return (StandInServer(openai_app(state, ["gpt-4o-mini"]), state), "/chat/completions",
            lambda url: f"openai:gpt-4o-mini?base_url={url}/v1&detail=low", {"OPENAI_API_KEY": OPENAI_KEY})


def _anthropic():
    state = anthropic_api.AnthropicState(expected_key=ANTHROPIC_KEY)
    return (StandInServer(anthropic_api.make_app(state), state), "/v1/messages",
            lambda url: f"anthropic:claude-sonnet-4-5?base_url={url}",
            {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": ""})


def _ollama():
    state = ollama_api.StandInState()
    return StandInServer(ollama_api.make_app(state), state), "/api/chat", lambda url: f"ollama:gemma4:e4b?base_url={url}", {}


def _sent_images(vendor: str, message: dict) -> list[tuple[str | None, bytes]]:
    """(media type, bytes) of each image in one sent message, read the vendor's way."""
    if vendor == "ollama":
        return [(None, base64.b64decode(b)) for b in message.get("images", [])]
    if vendor == "anthropic":
        return [(b["source"]["media_type"], base64.b64decode(b["source"]["data"]))
                for b in message["content"] if isinstance(message["content"], list) and b["type"] == "image"]
    out = []
    for part in message["content"] if isinstance(message["content"], list) else []:
        if part["type"] == "image_url":
            head, _, data = part["image_url"]["url"].partition(";base64,")
            out.append((head.removeprefix("data:"), base64.b64decode(data)))
    return out


@pytest.mark.parametrize("vendor", ["openai-compat", "openai", "anthropic", "ollama"])
def test_each_backend_sends_images_its_way_and_bad_images_fail_their_case_only(tmp_path, vendor):
    make_images(tmp_path)
    (tmp_path / "s.yaml").write_text(SUITE)
    server, path, spec, env = {"openai-compat": _openai_compat, "openai": _openai, "anthropic": _anthropic,
                               "ollama": _ollama}[vendor]()
    db = tmp_path / "i.db"
    with server:
        proc = bakeoff("run", tmp_path / "s.yaml", "-c", spec(server.url), "--db", db, cwd=tmp_path,
                       env={"BAKEOFF_CONFIG": str(tmp_path / "cfg"), **env})
        sent = [r.body for r in server.posted(path) if r.body.get("messages")]
    assert proc.returncode == 0, proc.stderr  # error trials do not fail the run
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    trials = {r["case_id"]: r for r in conn.execute("SELECT * FROM trials")}
    good = ("one-png", "two-in-messages", "text-only")
    assert {c: trials[c]["status"] for c in good} == dict.fromkeys(good, "ok"), [trials[c]["error"] for c in good]
    assert "truncated.png: cannot be decoded" in trials["truncated"]["error"]
    assert "huge.png: too many pixels, refused before decoding" in trials["huge"]["error"]
    assert "400000000 pixels" in trials["huge"]["error"]
    assert "notes.png: not an image file" in trials["not-an-image"]["error"]
    assert len(sent) == 3  # the bad cases never reached the server
    by_text = {json.dumps(b["messages"][-1])[:4000]: b for b in sent}
    one, two, text = (next(b for k, b in by_text.items() if word in k) for word in ("colour", "Compare", "Say hi"))

    # The bytes that arrived are the files', with their media types.
    assert [img for _, img in _sent_images(vendor, one["messages"][-1])] == [(tmp_path / "red.png").read_bytes()]
    got = _sent_images(vendor, two["messages"][-1])
    assert [img for _, img in got] == [(tmp_path / "green.jpg").read_bytes(), (tmp_path / "blue.webp").read_bytes()]
    if vendor != "ollama":
        assert [mime for mime, _ in got] == ["image/jpeg", "image/webp"]
    assert _sent_images(vendor, text["messages"][-1]) == [] and "images" not in text["messages"][-1]

    last = one["messages"][-1]
    if vendor == "ollama":
        assert last["content"] == "What colour is this?" and len(last["images"]) == 1
    elif vendor == "anthropic":
        assert [b["type"] for b in last["content"]] == ["image", "text"] and two["system"] == "Be brief."
    else:
        assert [p["type"] for p in last["content"]] == ["image_url", "text"]
        detail = {p["image_url"].get("detail") for p in last["content"] if p["type"] == "image_url"}
        assert detail == ({"low"} if vendor == "openai" else {None})
    if vendor == "openai-compat":  # vLLM's per-request processor settings: Gemma 4's budget
        assert one["mm_processor_kwargs"] == {"max_soft_tokens": 560}
    else:
        assert "mm_processor_kwargs" not in one
    # Stored: the image's identity and size, never its bytes.
    request = json.loads(trials["one-png"]["request"])
    (ref,) = request["messages"][-1]["images"]
    assert (ref["as_written"], ref["width"], ref["height"], ref["mime"]) == ("red.png", 64, 48, "image/png")
    assert "base64" not in trials["one-png"]["request"]


def test_a_missing_image_file_is_a_suite_error_with_its_line(tmp_path):
    (tmp_path / "s.yaml").write_text("cases:\n  - prompt: What is this?\n    images:\n      - nowhere.png\n")
    proc = bakeoff("run", tmp_path / "s.yaml", "-c", "openai-compat:http://127.0.0.1:9/v1#m", "--db", tmp_path / "x.db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "s.yaml:4: image file 'nowhere.png' not found" in proc.stderr


def test_an_image_changes_the_case_identity_and_a_text_case_keeps_its_own(tmp_path):
    from bakeoff.suite.loader import parse_suite

    make_images(tmp_path)
    plain = parse_suite("cases:\n  - prompt: hi\n", base_dir=tmp_path).cases[0]
    with_red = parse_suite("cases:\n  - prompt: hi\n    images: [red.png]\n", base_dir=tmp_path).cases[0]
    with_green = parse_suite("cases:\n  - prompt: hi\n    images: [green.jpg]\n", base_dir=tmp_path).cases[0]
    assert plain.identity()["messages"] == [{"role": "user", "content": "hi"}]
    assert len({json.dumps(c.identity()) for c in (plain, with_red, with_green)}) == 3


@pytest.mark.parametrize("spec, message", [
    ("anthropic:claude-sonnet-4-5?visual_budget=280", "Anthropic's Messages API takes no per-image token budget"),
    ("ollama:gemma4:e4b?visual_budget=280", "Ollama's API takes no per-image token budget"),
    ("openai:gpt-4o?visual_budget=280", "use detail=low|high|auto"),
])
def test_a_budget_an_api_cannot_take_is_refused_not_faked(tmp_path, spec, message):
    (tmp_path / "s.yaml").write_text("cases:\n  - prompt: hi\n")
    proc = bakeoff("run", tmp_path / "s.yaml", "-c", spec, "--db", tmp_path / "x.db",
                   env={"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k", "BAKEOFF_CONFIG": str(tmp_path / "cfg")})
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_with_measured_quality_the_budget_report_draws_the_frontier(tmp_path):
    """What the report makes of real weights (none install here): trials written as a run of a
    vision model would leave them; a budget that costs more TTFT for no more quality is dominated."""
    from bakeoff.report.vision import budget_rows
    from bakeoff.spec import ContenderSpec
    from bakeoff.store import Database

    db = Database(tmp_path / "q.db")
    db.start_run("r1", "2026-11-23T12:00:00", "s.yaml", [], "0", {})
    figures = {70: (0.5, 900.0, 70), 280: (0.9, 1500.0, 280), 1120: (0.9, 4200.0, 1120)}  # pass rate, TTFT, tokens
    for budget, (rate, ttft, tokens) in figures.items():
        spec = ContenderSpec("llamacpp", "gemma-4-e4b.gguf", {"mmproj": "mm.gguf", "visual_budget": budget})
        db.record_contender("r1", spec, None, None, {"vision": {"mmproj": "mm.gguf"}}, {}, [], None)
        for i in range(10):
            db.record_trial({"id": f"{budget}-{i}", "run_id": "r1", "spec": spec.canonical, "case_id": f"c{i}",
                             "repeat": 0, "sweep": {"visual_budget": budget}, "case_json": {}, "status": "ok",
                             "started_at": "2026-11-23T12:00:00", "finished_at": "2026-11-23T12:00:01", "passed": int(i < rate * 10), "ttft_ms": ttft,
                             "prompt_tokens": tokens + 20, "image_tokens": tokens, "image_count": 1,
                             "engine_prompt_ms": ttft - 300, "image_encode_ms": 200.0, "peak_mem_mb": tokens / 2},
                            [])
    (group,) = budget_rows(db)
    rows = {r["visual_budget"]: r for r in group["budgets"]}
    assert [rows[b]["pass_rate"] for b in (70, 280, 1120)] == [0.5, 0.9, 0.9]
    assert {b: rows[b]["on_frontier"] for b in rows} == {70: True, 280: True, 1120: False}
    assert rows[280]["quality"] == "measured" and rows[280]["prefill_ms_median"] == 1400.0
    assert group["frontier"] == "Pareto frontier: pass rate against median TTFT"
