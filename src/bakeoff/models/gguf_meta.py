"""What a GGUF file says about itself, read without loading the model (see gguf_header)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.models.gguf_header import file_type_name, read_header

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


def scan_gguf(path: str | Path) -> tuple[dict, list[tuple[str, list[int], int]]]:
    """(metadata, tensors as (name, dims, ggml type)); long arrays are skipped."""
    header = read_header(path)
    return header.metadata, header.tensors


def read_gguf_info(path: str | Path) -> GGUFInfo:
    from gguf import GGMLQuantizationType

    meta, tensors = scan_gguf(path)
    arch = meta.get("general.architecture")
    quant = file_type_name(meta.get("general.file_type"))
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
