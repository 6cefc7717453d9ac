"""bakeoff.twin.metadata directly: a twin's tokenizer keeps the family's special tokens at the
real model's ids, its chat template is the family's, and a vocabulary file must fit the model."""

from __future__ import annotations

import json

import pytest
from gguf import GGUFWriter

from bakeoff.errors import InputError
from bakeoff.estimate.source import load_model
from bakeoff.twin.metadata import (BYTE, CONTROL, USER_DEFINED, arch_keys, chat_template, extra_tensors, family_of,
                                   rope_freqs, synthetic_tokenizer, vocab_from_file)

QWEN2 = {"model_type": "qwen2", "num_hidden_layers": 3, "hidden_size": 64, "vocab_size": 151936,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
         "tie_word_embeddings": True, "max_position_embeddings": 32768}


def arch_of(tmp_path, config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_model(str(path)).arch


def keys(pairs):
    return {name: value for name, value, _ in pairs}


def test_qwen2_tokenizer_has_its_specials_at_the_real_ids_and_byte_tokens(tmp_path):
    arch = arch_of(tmp_path, QWEN2)
    tok = keys(synthetic_tokenizer(arch))
    tokens, types = tok["tokenizer.ggml.tokens"], tok["tokenizer.ggml.token_type"]
    assert len(tokens) == 151936
    assert tokens[151644] == "<|im_start|>" and types[151644] == CONTROL
    assert tokens[151657] == "<tool_call>" and types[151657] == USER_DEFINED
    assert tok["tokenizer.ggml.eos_token_id"] == 151645
    assert types.count(BYTE) == 256 and tokens[0] == "<0x00>"
    assert "<|im_start|>" in chat_template(arch)
    assert keys(arch_keys(arch))["qwen2.block_count"] == 3
    assert extra_tensors(arch) == []


def test_a_vocabulary_smaller_than_the_special_ids_is_refused(tmp_path):
    arch = arch_of(tmp_path, {**QWEN2, "vocab_size": 32000})
    with pytest.raises(InputError, match="too small for qwen2's special token ids"):
        synthetic_tokenizer(arch)


def test_an_unknown_family_is_refused_with_what_can_be_written(tmp_path):
    config = {"model_type": "phi3", "num_hidden_layers": 2, "hidden_size": 64, "vocab_size": 32064,
              "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 128}
    arch = arch_of(tmp_path, config)  # the estimate reads it; a twin of it cannot be written
    with pytest.raises(InputError, match="bakeoff twin writes gemma4, gemma3, qwen2, llama architectures"):
        family_of(arch)


def test_gemma4_proportional_rope_turns_rotation_off_after_a_quarter():
    assert rope_freqs(8) == [1.0, 1.0] + [1e30] * 6


def test_a_vocab_file_gives_its_tokenizer_and_template(smollm2):
    tok, template = vocab_from_file(smollm2, 49152)
    assert len(keys(tok)["tokenizer.ggml.tokens"]) == 49152 and "<|im_start|>" in template
    assert "tokenizer.chat_template" not in keys(tok)  # the template is returned on its own


def test_a_vocab_file_must_match_the_models_vocabulary_and_have_tokens(tmp_path):
    small = tmp_path / "small-vocab.gguf"
    writer = GGUFWriter(str(small), "llama")
    writer.add_token_list([f"w{i}" for i in range(300)])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert len(keys(vocab_from_file(small, 300)[0])["tokenizer.ggml.tokens"]) == 300
    with pytest.raises(InputError, match="300 tokens, but the model's vocabulary has 1000"):
        vocab_from_file(small, 1000)
    bare = tmp_path / "bare.gguf"
    writer = GGUFWriter(str(bare), "llama")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(InputError, match="has no tokenizer.ggml.tokens"):
        vocab_from_file(bare, 300)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(InputError, match="not a readable GGUF"):
        vocab_from_file(tmp_path / "tokenizer.json", 300)
