"""bakeoff.twin.quantizer directly: the types llama.cpp's quantizer logs in a dry run, read back,
and the F16 skeleton types a converter writes."""

from __future__ import annotations

import pytest
from gguf import GGMLQuantizationType as T

from bakeoff.errors import InputError
from bakeoff.twin.quantizer import parse_dry_run, skeleton_type, type_from_name

# lines as llama_model_quantize logs them in a dry run (with and without a conversion)
LOG = """\
llama_model_quantize_impl: model size  =   256.00 MB
[   1/  30]                   token_embd.weight - [  256,  1024,     1,     1], type =    f16, size =    0.500 MB, (q6_K)
[   2/  30]              blk.0.attn_norm.weight - [  256,     1,     1,     1], type =    f32, size =    0.001 MB
[   3/  30]                blk.0.attn_q.weight - [  256,   256,     1,     1], type =    f16, size =    0.125 MB, (q4_K)
[  12/  30]            blk.0.ffn_down.weight - [  512,   256,     1,     1], type =    f16, size =    0.250 MB, (q6_K)
llama_model_quantize_impl: quant size  =    60.00 MB
"""


def test_dry_run_lines_give_each_tensor_its_chosen_type():
    assert parse_dry_run(LOG) == {"token_embd.weight": "q6_K", "blk.0.attn_norm.weight": "f32",
                                  "blk.0.attn_q.weight": "q4_K", "blk.0.ffn_down.weight": "q6_K"}
    assert parse_dry_run("nothing of interest\n") == {}


def test_type_names_as_llama_cpp_prints_them():
    assert type_from_name("q4_K") == int(T.Q4_K) and type_from_name("f32") == int(T.F32)
    with pytest.raises(InputError, match="quantizer chose type 'q9_z'"):
        type_from_name("q9_z")


def test_skeleton_types_follow_the_converter():
    assert skeleton_type("blk.0.attn_norm.weight", [256]) == int(T.F32)
    assert skeleton_type("blk.0.ffn_gate_inp.weight", [256, 8]) == int(T.F32)  # MoE router
    assert skeleton_type("blk.0.ffn_gate_exps.weight", [256, 128, 8]) == int(T.F16)
