"""Read a GGUF header: metadata, array lengths, tensor shapes and types.

gguf-py's GGUFReader materialises every array element as a numpy view, which takes 20-40 s for
a 262k-token vocabulary. This walker (format per gguf-py's constants) keeps arrays of up to
``keep_up_to`` elements (the per-layer arrays of Gemma 4: KV heads, FFN widths, sliding-window
pattern), records the length of all (the vocabulary's size in memory), and skips the rest, in
well under a second.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from bakeoff.errors import InputError

_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass
class GGUFHeader:
    path: Path
    metadata: dict  # key -> scalar, string or (short) list; long arrays are absent here
    array_lengths: dict[str, int]  # every array key -> its element count
    array_bytes: dict[str, int]  # every array key -> bytes it takes in the file
    tensors: list[tuple[str, list[int], int]]  # (name, dims, ggml type)
    file_size: int


def read_header(path: str | Path, keep_up_to: int = 4096) -> GGUFHeader:
    path = Path(path)
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _walk(path, buf, keep_up_to)
    except InputError:
        raise
    except (OSError, ValueError, struct.error, IndexError, OverflowError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable GGUF file ({type(exc).__name__}: {exc})") from None


def _walk(path: Path, buf: mmap.mmap, keep_up_to: int) -> GGUFHeader:
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("Q")
        raw = buf[pos:pos + n]
        if len(raw) != n:
            raise ValueError("truncated string")
        pos += n
        return raw.decode("utf-8", "replace")

    def skip_strings(count: int) -> None:
        nonlocal pos
        for _ in range(count):
            pos += 8 + struct.unpack_from("<Q", buf, pos)[0]

    if buf[:4] != b"GGUF":
        raise ValueError("no GGUF magic number")
    pos = 4
    version = take("I")
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    n_tensors, n_kv = take("Q"), take("Q")
    if n_tensors > 10_000_000 or n_kv > 10_000_000:
        raise ValueError("implausible tensor or key count")
    meta: dict = {}
    lengths: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for _ in range(n_kv):
        key = string()
        vtype = take("I")
        if vtype in _SCALAR:
            meta[key] = take(_SCALAR[vtype])
        elif vtype == _STRING:
            meta[key] = string()
        elif vtype == _ARRAY:
            etype, count = take("I"), take("Q")
            start = pos
            lengths[key] = count
            if etype in _SCALAR:
                width = struct.calcsize(_SCALAR[etype])
                if count <= keep_up_to:
                    meta[key] = list(struct.unpack_from(f"<{count}{_SCALAR[etype]}", buf, pos))
                pos += width * count
            elif etype == _STRING:
                if count <= keep_up_to:
                    meta[key] = [string() for _ in range(count)]
                else:
                    skip_strings(count)
            else:
                raise ValueError(f"unsupported array element type {etype} in {key}")
            sizes[key] = pos - start
        else:
            raise ValueError(f"unknown GGUF value type {vtype} for {key}")
    tensors = []
    for _ in range(n_tensors):
        name = string()
        n_dims = take("I")
        if n_dims > 8:
            raise ValueError(f"tensor {name} has {n_dims} dimensions")
        dims = [take("Q") for _ in range(n_dims)]
        ttype = take("I")
        take("Q")  # offset
        tensors.append((name, dims, ttype))
    return GGUFHeader(path=path, metadata=meta, array_lengths=lengths, array_bytes=sizes,
                      tensors=tensors, file_size=len(buf))


def file_type_name(file_type) -> str | None:
    """general.file_type as llama.cpp names it (Q4_K_M, Q8_0, ...)."""
    if file_type is None:
        return None
    from gguf import LlamaFileType

    try:
        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"file_type {file_type}"
