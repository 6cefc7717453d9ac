"""What a GGUF file says about itself, read with the `gguf` library (no model load)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bakeoff.errors import InputError


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

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("chat_template")
        return d


def _field(reader, key):
    field = reader.fields.get(key)
    if field is None or not field.data:
        return None
    return field.contents()


def read_gguf_info(path: str | Path) -> GGUFInfo:
    from gguf import GGUFReader, LlamaFileType

    try:
        reader = GGUFReader(str(path), "r")
    except Exception as exc:  # the gguf library raises ValueError, struct errors, ... on bad files
        raise InputError(f"{path}: not a readable GGUF file ({type(exc).__name__}: {exc})") from None
    arch = _field(reader, "general.architecture")
    file_type = _field(reader, "general.file_type")
    quant = None
    if file_type is not None:
        try:
            quant = LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
        except ValueError:
            quant = f"file_type {file_type}"
    template = _field(reader, "tokenizer.chat_template")
    params = 0
    for tensor in reader.tensors:
        params += int(tensor.n_elements)
    return GGUFInfo(
        architecture=arch,
        name=_field(reader, "general.name"),
        quant=quant,
        context_length=_field(reader, f"{arch}.context_length") if arch else None,
        block_count=_field(reader, f"{arch}.block_count") if arch else None,
        parameters=params,
        has_chat_template=bool(template),
        chat_template=template or None,
    )
