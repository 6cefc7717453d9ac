"""What a GGUF file says about itself, read without loading the model.

gguf-py's GGUFReader materialises every metadata array element as a numpy view, which takes
20-40 s for a 262k-token vocabulary; this scanner walks the same header (format per gguf-py's
constants) and skips arrays it does not need, in well under a second. The enum names come from
the `gguf` package.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.errors import InputError

# GGUF value types -> struct format (scalars only); 8 = string, 9 = array.
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass
class GGUFInfo:
    architecture: str | None
    name: str | None
    quant: str | None
    context_length: int | None
    block_count: int | None
    parameters: int
    has_chat_template: bool
    chat_template: str | None
    tensor_types: dict[str, int] = field(default_factory=dict)  # type name -> number of tensors

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("chat_template")
        return d


class _Cursor:
    def __init__(self, buf: mmap.mmap):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        value = struct.unpack_from("<" + fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.take("Q")
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8", "replace")

    def value(self, vtype: int, keep: bool):
        if vtype in _SCALAR:
            return self.take(_SCALAR[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype, count = self.take("I"), self.take("Q")
            if etype in _SCALAR and not keep:
                self.pos += struct.calcsize(_SCALAR[etype]) * count
                return None
            items = [self.value(etype, keep) for _ in range(count)]
            return items if keep else None
        raise ValueError(f"unknown GGUF value type {vtype}")


def scan_gguf(path: str | Path, keep_arrays: bool = False) -> tuple[dict, list[tuple[str, list[int], int]]]:
    """(metadata, tensors as (name, dims, ggml type)); arrays are skipped unless asked for."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        cur = _Cursor(buf)
        if buf[:4] != b"GGUF":
            raise ValueError("no GGUF magic number")
        cur.pos = 4
        version = cur.take("I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        n_tensors, n_kv = cur.take("Q"), cur.take("Q")
        meta = {}
        for _ in range(n_kv):
            key = cur.string()
            meta[key] = cur.value(cur.take("I"), keep_arrays)
        tensors = []
        for _ in range(n_tensors):
            name = cur.string()
            dims = [cur.take("Q") for _ in range(cur.take("I"))]
            ttype = cur.take("I")
            cur.take("Q")  # offset
            tensors.append((name, dims, ttype))
        return meta, tensors


def read_gguf_info(path: str | Path) -> GGUFInfo:
    from gguf import GGMLQuantizationType, LlamaFileType

    try:
        meta, tensors = scan_gguf(path)
    except (OSError, ValueError, struct.error, IndexError, OverflowError) as exc:
        raise InputError(f"{path}: not a readable GGUF file ({type(exc).__name__}: {exc})") from None
    arch = meta.get("general.architecture")
    file_type = meta.get("general.file_type")
    quant = None
    if file_type is not None:
        try:
            quant = LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
        except ValueError:
            quant = f"file_type {file_type}"
    params = 0
    types: dict[str, int] = {}
    for _, dims, ttype in tensors:
        n = 1
        for d in dims:
            n *= d
        params += n
        try:
            tname = GGMLQuantizationType(ttype).name
        except ValueError:
            tname = f"type {ttype}"
        types[tname] = types.get(tname, 0) + 1
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        architecture=arch,
        name=meta.get("general.name"),
        quant=quant,
        context_length=meta.get(f"{arch}.context_length") if arch else None,
        block_count=meta.get(f"{arch}.block_count") if arch else None,
        parameters=params,
        has_chat_template=bool(template),
        chat_template=template or None,
        tensor_types=types,
    )
