"""The in-process image path, run for real: llama.cpp's mtmd loads a Gemma 4 vision projector
twin (bakeoff/twin/vision.py: architecture ``clip``, projector type ``gemma4v``, random weights)
beside a tiny Gemma 4 text twin, encodes images made here with Pillow, and a visual budget sweep
gives image-token counts that follow the budgets.

The projector is tiny (64 wide, 2 layers) with the real layout; its pooling kernel is 1 instead
of Gemma 4's 3 so that a 1120-token image stays cheap to encode here (the token count follows the
budget either way: llama.cpp resizes the image to budget x patch area). The real dimensions are
measured in bench/vision.py.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from gguf import GGUFReader
from PIL import Image

from conftest import bakeoff, report_json

TEXT_TWIN = {"model_type": "gemma4", "text_config": {
    "model_type": "gemma4_text", "num_hidden_layers": 4, "hidden_size": 128, "vocab_size": 1024,
    "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 64, "global_head_dim": 128,
    "sliding_window": 128, "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention",
                                           "full_attention"],
    "intermediate_size": 256, "hidden_size_per_layer_input": 16, "tie_word_embeddings": True,
    "max_position_embeddings": 131072}}
VISION = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
          "head_dim": 32, "patch_size": 16, "pooling_kernel_size": 1, "position_embedding_size": 256}
SUITE = """
cases:
  - id: photo
    prompt: What is in this picture?
    images: [photo.png]
    max_tokens: 2
  - id: broken
    prompt: And this one?
    images: [broken.jpg]
    max_tokens: 2
  - id: words
    prompt: Say something.
    max_tokens: 2
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vision")
    (d / "g4.json").write_text(json.dumps(TEXT_TWIN))
    (d / "vision.json").write_text(json.dumps(VISION))
    Image.new("RGB", (1024, 768), (40, 120, 200)).save(d / "photo.png")
    Image.new("RGB", (300, 200), (9, 9, 9)).save(d / "whole.jpg")
    (d / "broken.jpg").write_bytes((d / "whole.jpg").read_bytes()[:600])
    (d / "s.yaml").write_text(SUITE)
    return d


def _env(d):
    return {"BAKEOFF_HOME": str(d / "home")}


def test_budget_sweep_on_a_projector_twin(workdir):
    d = workdir
    spec = f"twin:{d / 'g4.json'}?mmproj={d / 'vision.json'}&threads=1&ctx=2048"
    db = d / "v.db"
    proc = bakeoff("run", d / "s.yaml", "-c", spec, "--sweep", "visual_budget=70,280,1120", "--db", db,
                   cwd=d, env=_env(d), timeout=300)
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = list(conn.execute("SELECT * FROM trials"))
    photo = {json.loads(r["sweep"])["visual_budget"]: r for r in rows if r["case_id"] == "photo"}
    assert {b: r["status"] for b, r in photo.items()} == {70: "ok", 280: "ok", 1120: "ok"}, \
        [r["error"] for r in photo.values()]
    tokens = {int(b): r["image_tokens"] for b, r in photo.items()}
    # Image tokens follow the budgets (llama.cpp resizes to whole patches, so a few under or over).
    assert tokens[70] < tokens[280] < tokens[1120], tokens
    for budget, n in tokens.items():
        assert 0.85 * budget <= n <= 1.05 * budget, tokens
    # The text around the image is the same at every budget; the image tokens are counted apart.
    assert len({r["prompt_tokens"] - r["image_tokens"] for r in photo.values()}) == 1
    for r in photo.values():
        assert r["image_count"] == 1 and r["engine_prompt_n"] == r["prompt_tokens"]
        assert r["image_encode_ms"] > 0 and r["ttft_ms"] > r["image_encode_ms"]
        # llama.cpp's prompt counters cover text and image embeddings, not the projector's encode
        assert r["engine_prompt_ms"] + r["image_encode_ms"] <= r["ttft_ms"] * 1.02
    # A bad image fails its own case at every budget; the text case runs with no image figures.
    for r in rows:
        if r["case_id"] == "broken":
            assert r["status"] == "error" and "broken.jpg: cannot be decoded" in r["error"]
        if r["case_id"] == "words":
            assert r["status"] == "ok" and r["image_tokens"] is None and r["image_count"] is None

    facts = json.loads(conn.execute("SELECT facts FROM contenders LIMIT 1").fetchone()[0])["vision"]
    assert facts["mmproj_twin"] and facts["vision_dims"]["hidden_size"] == 64
    reader = GGUFReader(facts["mmproj"])  # the projector llama.cpp loaded: a clip GGUF of type gemma4v
    assert reader.fields["general.architecture"].contents() == "clip"
    assert reader.fields["clip.projector_type"].contents() == "gemma4v"
    assert reader.fields["clip.vision.projection_dim"].contents() == 128  # the text twin's width

    (group,) = report_json(db)["visual_budgets"]
    budgets = group["budgets"]
    assert [b["visual_budget"] for b in budgets] == [70, 280, 1120]
    assert [b["image_tokens_per_image"] for b in budgets] == [tokens[70], tokens[280], tokens[1120]]
    assert all(b["quality"] == "not applicable (random weights)" and b["on_frontier"] is None for b in budgets)
    assert budgets[0]["prefill_ms_median"] < budgets[2]["prefill_ms_median"]
    assert "no frontier" in group["frontier"]
    text = bakeoff("report", "--db", db, env=_env(d), check=True).stdout
    assert "visual budget:" in text and "not applicable (twin)" in text
    bakeoff("report", "--db", db, "--html", d / "r.html", env=_env(d), check=True)
    page = (d / "r.html").read_text()
    assert 'id="fig-budget-0" data-kind="budget"' in page and "Visual budgets</h2>" in page


def test_images_without_a_projector_fail_the_case_and_budget_needs_one(workdir):
    d = workdir
    db = d / "n.db"
    proc = bakeoff("run", d / "s.yaml", "-c", f"twin:{d / 'g4.json'}?threads=1", "--db", db, cwd=d, env=_env(d),
                   timeout=300)
    assert proc.returncode == 0, proc.stderr
    status = {case: (st, err) for case, st, err in sqlite3.connect(db).execute(
        "SELECT case_id, status, error FROM trials")}
    assert status["words"][0] == "ok"
    assert status["photo"][0] == "error" and "has no vision projector: add mmproj=PATH" in status["photo"][1]
    proc = bakeoff("run", d / "s.yaml", "-c", f"twin:{d / 'g4.json'}?visual_budget=280", "--db", db, cwd=d,
                   env=_env(d))
    assert proc.returncode == 2 and "visual_budget needs a vision projector" in proc.stderr
