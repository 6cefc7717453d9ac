"""The environment a run is stored with (docs/architecture.md §5, rule 2)."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[dict]:
    """NVIDIA GPUs through NVML, when nvidia-ml-py and a driver are present; else none."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        return []
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            gpus.append({"name": name.decode() if isinstance(name, bytes) else name,
                         "memory_mb": pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**20})
        return gpus
    finally:
        pynvml.nvmlShutdown()


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def environment() -> dict:
    from bakeoff import __version__

    return {
        "hardware": {
            "cpu": _cpu_model(),
            "cores_physical": psutil.cpu_count(logical=False),
            "cores_logical": psutil.cpu_count(logical=True),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "gpus": _gpus(),
        },
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "python": sys.version.split()[0],
        "versions": {"bakeoff": __version__, **{d: _version(d) for d in ("llama-cpp-python", "gguf", "pydantic")}},
        "host": platform.node(),
        "pid": os.getpid(),
    }
