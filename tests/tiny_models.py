"""A tiny model layout for tests that build and load a twin in about a second: Gemma 3's layer
pattern (sliding and global layers) at 128 wide with a 1024-token vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

GEMMA3 = {"model_type": "gemma3_text", "num_hidden_layers": 6, "hidden_size": 128, "vocab_size": 1024,
          "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64, "sliding_window": 64,
          "intermediate_size": 256, "max_position_embeddings": 32768}


def tiny_gemma3(tmp_path: Path, monkeypatch) -> Path:
    """Its config.json in tmp_path, with BAKEOFF_HOME there too (twins are cached under it)."""
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))
    path = tmp_path / "tiny-gemma3.json"
    path.write_text(json.dumps(GEMMA3))
    return path
