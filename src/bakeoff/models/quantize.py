"""Quantization variants of a GGUF, made with llama.cpp's own quantizer (through
llama-cpp-python), cached by source hash and type so each is made once."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.models.packaged import file_sha256, models_dir

# Types a user can ask for; llama.cpp names them LLAMA_FTYPE_MOSTLY_<NAME>.
# Ordered from most to least precise: the first present in a sweep is its reference.
QUANT_TYPES = ("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S",
               "Q4_1", "Q4_0", "IQ4_XS", "IQ4_NL", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K", "Q2_K_S")


def check_quant(name: str) -> str:
    upper = name.upper()
    if upper not in QUANT_TYPES:
        raise ValueError(f"unknown quantization {name!r}; choose from {', '.join(QUANT_TYPES)}")
    return upper


def precision_rank(name: str) -> int:
    """0 for the most precise type; unknown names sort last."""
    return QUANT_TYPES.index(name) if name in QUANT_TYPES else len(QUANT_TYPES)


def quantized_path(source: Path, quant: str, threads: int | None = None) -> Path:
    """The variant of ``source`` at ``quant``, made now if it is not in the cache yet.

    Requantizing an already quantized file loses what the source already lost: a Q8_0 made from
    a Q4_K_M file is not the original model at 8 bits. bakeoff allows it (the packaged models
    exist only quantized) and records the source's hash beside the variant.
    """
    quant = check_quant(quant)
    sha = file_sha256(source)
    target = models_dir() / "quant" / f"{source.stem}.{sha[:16]}.{quant}.gguf"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        # In a child process: llama.cpp's quantizer prints a line per tensor on fd 2.
        proc = subprocess.run([sys.executable, "-m", "bakeoff.models.quantize", str(source), tmp, quant,
                               str(threads or os.cpu_count() or 1)], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
            raise InputError(f"llama.cpp could not quantize {source.name} to {quant}: {tail}")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _quantize(source: str, target: str, quant: str, threads: int) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}")
    params.allow_requantize = True
    params.nthread = threads
    return llama_cpp.llama_model_quantize(source.encode(), target.encode(), params)


if __name__ == "__main__":
    sys.exit(_quantize(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
