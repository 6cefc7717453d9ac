"""Per-tensor types chosen by llama.cpp's own quantizer, without quantizing anything.

A skeleton GGUF holds the twin's metadata and its tensors as a converter would write them
(2-D and 3-D weights F16, norms and routers F32) but no data: the file is sparse, so even a 31B
model's 62 GB skeleton takes no disk. llama_model_quantize with ``dry_run`` reads only the
metadata, decides each tensor's type exactly as a real quantization would, and logs one line
per tensor; those lines are the answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from gguf import GGMLQuantizationType as T

from bakeoff.errors import InputError

# "[  12/ 601]   blk.0.attn_q.weight - [ 1536,  2048,  1,  1], type =    f16, size = ... (q4_K)"
_LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+-\s+\[[^\]]*\], type =\s*(\S+), size =.*?(?:\((\S+)\))?\s*$")


def skeleton_type(name: str, dims: list[int]) -> int:
    """What convert_hf_to_gguf.py --outtype f16 writes: F32 for 1-D tensors and MoE routers."""
    if len(dims) < 2 or "ffn_gate_inp" in name:
        return int(T.F32)
    return int(T.F16)


def parse_dry_run(log: str) -> dict[str, str]:
    """tensor name -> ggml type name (lower case, as llama.cpp prints it: q4_K, q6_K, f32)."""
    types = {}
    for line in log.splitlines():
        m = _LINE.search(line)
        if m:
            types[m.group(1)] = m.group(3) or m.group(2)
    return types


def type_from_name(name: str) -> int:
    try:
        return int(T[name.upper()])
    except KeyError:
        raise InputError(f"llama.cpp's quantizer chose type {name!r}, which this gguf package does not know") from None


def choose_types(skeleton: Path, file_type: str, threads: int = 1) -> dict[str, int]:
    """Run the dry run in a child process (llama.cpp aborts the process on some bad inputs)."""
    proc = subprocess.run([sys.executable, "-m", "bakeoff.twin.quantizer", str(skeleton), file_type, str(threads)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        why = [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line.lower()
               or "unknown" in line.lower() or "failed" in line.lower()]
        raise InputError("llama.cpp cannot quantize this architecture (so it cannot run it either): "
                         + (why[-1].strip() if why else proc.stderr.strip()[-300:] or f"exit {proc.returncode}"))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {name: type_from_name(t) for name, t in result.items()}


def _dry_run(skeleton: str, file_type: str, threads: int) -> int:
    import ctypes

    import llama_cpp

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def callback(level, text, user_data):
        lines.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{file_type}")
    params.nthread = threads
    params.dry_run = True
    params.allow_requantize = True
    rc = llama_cpp.llama_model_quantize(skeleton.encode(), b"/dev/null", params)
    text = "".join(lines)
    if rc != 0:
        sys.stderr.write(text[-2000:])
        return 1
    print(json.dumps(parse_dry_run(text)))
    return 0


if __name__ == "__main__":
    sys.exit(_dry_run(sys.argv[1], sys.argv[2], int(sys.argv[3])))
