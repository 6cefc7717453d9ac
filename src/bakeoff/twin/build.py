"""Build a twin: a GGUF with a real model's architecture, tensor shapes and per-tensor
quantization types, random weights, a tokenizer and the family's chat template.

Steps: the model reference (catalog id, config.json or GGUF) becomes an ``Arch`` and a tensor
list (bakeoff.estimate.source); a sparse F16 skeleton of it goes through llama.cpp's quantizer
in dry-run mode, which names each tensor's type; the twin is then written directly in those
types. Twins are cached under $BAKEOFF_HOME/twins by a hash of everything that shapes the file,
written to a temporary name first and renamed when complete, so an interrupted or failed build
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFValueType, GGUFWriter

from bakeoff import __version__
from bakeoff.errors import InputError
from bakeoff.estimate.quant import DEFAULT_FILE_TYPE, parse_file_type
from bakeoff.estimate.source import ModelSource, load_model
from bakeoff.estimate.weights import tensor_bytes, type_name
from bakeoff.paths import bakeoff_home
from bakeoff.twin import metadata
from bakeoff.twin.blocks import BlockWriter, supported
from bakeoff.twin.quantizer import choose_types, skeleton_type

ALIGN = 32  # GGUF's default data alignment
DISK_MARGIN = 256 * 2**20  # left free beyond the twin itself
# llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers (general.file_type)
_FTYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10,
              "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16,
              "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32}


@dataclass
class Twin:
    path: Path
    model: str  # what the user named
    name: str
    quant: str
    file_bytes: int
    params: int  # elements in the tensors, vision/audio encoders not included (none are written)
    tensors: int
    by_type: dict[str, int]  # ggml type -> tensor count
    types_source: str
    tokenizer: str
    chat_template: str
    architecture_source: str
    cached: bool = False
    build_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def twins_dir() -> Path:
    return bakeoff_home() / "twins"


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-._" else "-" for c in Path(text).name.removesuffix(".json"))
    return keep.strip("-.")[:60] or "model"


def _padded(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class _Plan:
    """Everything that goes into the file, decided before a byte is written."""

    def __init__(self, src: ModelSource, quant: str, vocab: Path | None):
        self.src = src
        self.quant = quant
        arch = src.arch
        if src.kind == "gguf":
            self.kv, self.template = self._kv_from_gguf(src.path)
            self.tokenizer = f"copied from {src.path.name}"
            self.template_source = "copied from the GGUF" if self.template else "none (the GGUF has none)"
            shapes = [(name, dims) for name, dims, _ in src.tensors]
        else:
            self.kv = [("general.architecture", arch.family, GGUFValueType.STRING)] + metadata.arch_keys(arch)
            if vocab:
                tok, template = metadata.vocab_from_file(vocab, arch.n_vocab)
                self.tokenizer = f"from {vocab}"
            else:
                tok, template = metadata.synthetic_tokenizer(arch), None
                self.tokenizer = ("synthetic: the family's special tokens at their real ids, byte tokens, "
                                  "filler pieces")
            self.kv += tok
            self.template = template or metadata.chat_template(arch)
            self.template_source = ("from the vocabulary file" if template
                                    else f"{arch.family} (bakeoff/twin/templates/{metadata.family_of(arch).template})")
            shapes = [(name, dims) for name, dims, _ in src.tensors] + metadata.extra_tensors(arch)
        self.shapes = shapes
        self.name = f"twin of {arch.name or src.ref} ({quant}, random weights)"
        self.kv += [("general.name", self.name, GGUFValueType.STRING),
                    ("general.file_type", _FTYPE_IDS[quant], GGUFValueType.UINT32),
                    ("general.quantization_version", 2, GGUFValueType.UINT32),
                    ("bakeoff.twin", True, GGUFValueType.BOOL),
                    ("bakeoff.twin.source", src.source, GGUFValueType.STRING),
                    ("bakeoff.twin.version", __version__, GGUFValueType.STRING)]
        if self.template:
            self.kv.append(("tokenizer.chat_template", self.template, GGUFValueType.STRING))

    @staticmethod
    def _kv_from_gguf(path: Path) -> tuple[list, str | None]:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        kv, template = [], None
        for name, fld in reader.fields.items():
            if name.startswith("GGUF.") or name in ("general.name", "general.file_type",
                                                    "general.quantization_version") or name.startswith("bakeoff."):
                continue
            if name == "tokenizer.chat_template":
                template = fld.contents()
                continue
            kv.append((name, fld.contents(), fld.types[0]))
        return kv, template

    def key(self) -> str:
        """Hash of what shapes the file: metadata, tensor shapes, the quant, bakeoff's version."""
        h = hashlib.sha256()
        h.update(json.dumps([self.quant, __version__, self.shapes], sort_keys=True).encode())
        for name, value, vtype in self.kv:
            if name == "tokenizer.ggml.tokens" or name == "tokenizer.ggml.merges":
                value = hashlib.sha256("\n".join(map(str, value)).encode()).hexdigest()
            elif isinstance(value, list):
                value = hashlib.sha256(json.dumps(value).encode()).hexdigest()
            h.update(json.dumps([name, value, int(vtype)], default=str).encode())
        return h.hexdigest()[:16]


def _writer(path: Path, plan: _Plan, types: dict[str, int]) -> GGUFWriter:
    arch = plan.src.arch.family
    w = GGUFWriter(str(path), arch, use_temp_file=False)
    w.kv_data[0].pop("general.architecture", None)  # written again from the plan, in its place
    for name, value, vtype in plan.kv:
        if vtype == GGUFValueType.ARRAY:
            if value:  # gguf-py infers the element type from the first element
                w.add_array(name, value)
        else:
            w.add_key_value(name, value, vtype)
    for name, dims in plan.shapes:
        ttype = types[name]
        w.add_tensor_info(name, tuple(reversed(dims)), np.dtype(np.float32), tensor_bytes(dims, ttype), raw_dtype=ttype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    return w


def _data_start(fp) -> int:
    return _padded(fp.tell())


def _write_skeleton(path: Path, plan: _Plan) -> None:
    types = {name: skeleton_type(name, dims) for name, dims in plan.shapes}
    w = _writer(path, plan, types)
    fp = w.fout[0]
    end = _data_start(fp) + sum(_padded(tensor_bytes(dims, types[name])) for name, dims in plan.shapes)
    fp.truncate(end)  # sparse: the quantizer's dry run reads no tensor data
    w.close()


def _file_size(plan: _Plan, types: dict[str, int]) -> int:
    # header + metadata are at most a few tens of MB (the vocabulary); a bound is enough here
    return sum(_padded(tensor_bytes(dims, types[name])) for name, dims in plan.shapes)


_TMP_PREFIX = ".bakeoff-twin-"


def _sweep_abandoned(directory: Path) -> None:
    """Remove the work folders of builds whose process is gone (killed before it could clean up)."""
    import psutil

    for d in directory.glob(f"{_TMP_PREFIX}*"):
        pid = d.name[len(_TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def check_disk(directory: Path, need: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < need + DISK_MARGIN:
        raise InputError(f"not enough disk for the twin: it needs {need / 2**30:.2f} GiB "
                         f"(+{DISK_MARGIN / 2**20:.0f} MiB margin) in {directory}, and {free / 2**30:.2f} GiB is free")


def build_twin(model: str, quant: str | None = None, out: str | Path | None = None, vocab: str | Path | None = None,
               progress: Callable[[str, int, int], None] | None = None, threads: int | None = None) -> Twin:
    """Build (or find in the cache) the twin of ``model`` at ``quant`` (default Q4_K_M).

    ``progress(stage, done, total)`` is called while writing (bytes)."""
    q = parse_file_type(quant or DEFAULT_FILE_TYPE)
    if q not in _FTYPE_IDS:
        raise InputError(f"bakeoff twin cannot write {q} files")
    vocab_path = Path(vocab).expanduser() if vocab else None
    if vocab_path and not vocab_path.is_file():
        raise InputError(f"--vocab {vocab}: no such file")
    src = load_model(model)
    if src.kind == "gguf" and vocab_path:
        raise InputError("--vocab applies to catalog ids and config.json models; a GGUF's own tokenizer is copied")
    if src.kind != "gguf":
        metadata.family_of(src.arch)  # a clear error before any work for families it cannot write
    plan = _Plan(src, q, vocab_path)
    key = plan.key()
    cache = twins_dir()
    target = Path(out).expanduser() if out else cache / f"{_slug(model)}-{q}-{key}.gguf"
    info_path = target.with_name(target.name + ".bakeoff.json")  # beside the twin; never a user's own .json
    if target.is_file() and info_path.is_file():
        try:
            info = json.loads(info_path.read_text())
            if info.get("key") == key:
                twin = Twin(**{k: v for k, v in info["twin"].items() if k != "path"}, path=target)
                twin.cached = True
                return twin
        except (OSError, ValueError, TypeError, KeyError):
            pass  # an unreadable record: build again

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_abandoned(target.parent)
    with tempfile.TemporaryDirectory(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=target.parent) as tmp:
        if src.kind == "gguf":
            skeleton = src.path  # the dry run reads only its metadata
        else:
            skeleton = Path(tmp) / "skeleton.gguf"
            _write_skeleton(skeleton, plan)
        chosen = choose_types(skeleton, q, threads or 1)
        missing = [name for name, _ in plan.shapes if name not in chosen]
        if missing:
            raise InputError(f"llama.cpp's quantizer reported no type for {len(missing)} tensors "
                             f"(first: {missing[0]}); the skeleton is not what it expected")
        odd = sorted({type_name(t) for t in chosen.values() if not supported(t)})
        if odd:
            raise InputError(f"{q} uses tensor types bakeoff twin cannot write yet: {', '.join(odd)}")
        total = _file_size(plan, chosen)
        check_disk(target.parent, total)
        part = Path(tmp) / "twin.gguf.part"
        w = _writer(part, plan, chosen)
        fp = w.fout[0]
        fp.write(b"\0" * (_data_start(fp) - fp.tell()))
        blocks = BlockWriter(seed=0)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("writing", done, total)

        rope = {name for name, _ in metadata.extra_tensors(src.arch)} if src.kind != "gguf" else set()
        for name, dims in plan.shapes:
            ttype = chosen[name]
            nbytes = tensor_bytes(dims, ttype)
            if name in rope:
                fp.write(BlockWriter.values(metadata.rope_freqs(dims[0])))
            elif src.kind == "gguf" and name == "rope_freqs.weight":
                fp.write(_copy_tensor(src.path, name))
            else:
                blocks.write(fp, ttype, nbytes, advance)
            fp.write(b"\0" * (_padded(nbytes) - nbytes))
        w.close()
        os.replace(part, target)
    elapsed = time.perf_counter() - started
    counts: dict[str, int] = {}
    params = 0
    for name, dims in plan.shapes:
        counts[type_name(chosen[name])] = counts.get(type_name(chosen[name]), 0) + 1
        params += int(np.prod(dims))
    twin = Twin(path=target, model=model, name=plan.name, quant=q, file_bytes=target.stat().st_size, params=params,
                tensors=len(plan.shapes), by_type=dict(sorted(counts.items())),
                types_source="llama.cpp's quantizer (llama_model_quantize, dry run) on an F16 skeleton"
                if src.kind != "gguf" else "llama.cpp's quantizer (llama_model_quantize, dry run) on "
                                           f"{src.path.name}",
                tokenizer=plan.tokenizer, chat_template=plan.template_source, architecture_source=src.source,
                build_seconds=round(elapsed, 2), notes=list(src.notes))
    tmp_info = info_path.with_name(f".{info_path.name}.part")
    tmp_info.write_text(json.dumps({"key": key, "twin": twin.to_dict()}, indent=2))
    os.replace(tmp_info, info_path)
    return twin


def _copy_tensor(path: Path, name: str) -> bytes:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    for t in reader.tensors:
        if t.name == name:
            return bytes(t.data.tobytes())
    raise InputError(f"{path}: no tensor {name}")
