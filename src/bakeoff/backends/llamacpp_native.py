"""Parts of llama.cpp that llama-cpp-python does not expose (runs inside the worker): its log
(which carries the engine's own memory figures) and tensor buffer overrides (``cpu_moe``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

_BUFFER_LINE = re.compile(r"(\S+)\s+(model|KV|compute|output) buffer size\s*=\s*([\d.]+) MiB")


def engine_memory(log: str) -> dict[str, Any]:
    """Sizes llama.cpp reports when it allocates (MiB, summed over devices): weights, KV, compute."""
    sizes: dict[str, float] = {}
    devices: set[str] = set()
    by_device: dict[str, dict[str, float]] = {}
    for device, kind, mib in _BUFFER_LINE.findall(log):
        devices.add(device.split("_")[0])
        key = {"model": "weights_mib", "KV": "kv_mib", "compute": "compute_mib", "output": "output_mib"}[kind]
        sizes[key] = sizes.get(key, 0.0) + float(mib)
        # CPU, CPU_Mapped, CPU_REPACK and CUDA_Host buffers are host memory; CUDA0, Metal... a device's
        host = device.startswith("CPU") or device.endswith("_Host")
        dev = by_device.setdefault("host" if host else device, {})
        dev[key] = dev.get(key, 0.0) + float(mib)
    if not sizes:
        return {}
    return {**sizes, "devices": sorted(devices), "by_device": by_device, "swa_full": "full-size SWA cache" in log,
            "source": "engine-reported (llama.cpp allocation log)"}


# Every log callback handed to llama.cpp or mtmd (LogCapture): C keeps only a pointer, for the
# rest of the process, so none may be freed (a later model in the same process logs through it).
_CALLBACKS: list = []


class LogCapture:
    """Collects llama.cpp's log lines (they carry the engine's own memory figures)."""

    def __init__(self) -> None:
        import ctypes

        import llama_cpp

        self.lines: list[str] = []

        @llama_cpp.llama_log_callback
        def callback(level, text, user_data):
            line = text.decode("utf-8", "replace")
            self.lines.append(line)
            if level in (3, 4):  # ggml: 3 WARN, 4 ERROR still reach stderr (and error messages)
                sys.stderr.write(line)

        self._callback = callback
        _CALLBACKS.append(callback)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def take(self) -> str:
        text, self.lines = "".join(self.lines), []
        return text


# llama.cpp's --cpu-moe / --n-cpu-moe (common/common.h, LLM_FFN_EXPS_REGEX), plus the fused gate_up
# tensor of newer conversions
EXPS_REGEX = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"


def expert_patterns(cpu_moe: bool, n_cpu_moe: int | None) -> list[str]:
    """Tensor-name patterns whose tensors go to the CPU buffer, as llama.cpp's options write them."""
    if cpu_moe:
        return [EXPS_REGEX]
    return [rf"blk\.{i}{EXPS_REGEX}" for i in range(n_cpu_moe or 0)]


class TensorOverrides:
    """llama_model_params.tensor_buft_overrides for llama-cpp-python, whose ``Llama`` does not expose
    it: a NULL-terminated array of {pattern, buffer type} with ggml's CPU buffer type (from the
    ggml-cpu library llama_cpp ships, which its binding does not wrap), set on the default model
    params for the one ``Llama`` constructed next (``install``: the patched function restores the
    original on its first call; ``uninstall`` after the load makes sure)."""

    def __init__(self, patterns: list[str]):
        import ctypes
        import glob

        import llama_cpp

        class Override(ctypes.Structure):
            _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]

        libdir = Path(llama_cpp.__file__).parent / "lib"
        libs = sorted(glob.glob(str(libdir / "*ggml-cpu*")))
        if not libs:
            raise ValueError(f"cpu_moe: no ggml-cpu library in {libdir} (llama-cpp-python build without one)")
        cpu = ctypes.CDLL(libs[0])
        cpu.ggml_backend_cpu_buffer_type.restype = ctypes.c_void_p
        buft = cpu.ggml_backend_cpu_buffer_type()
        self._patterns = [p.encode() for p in patterns]  # kept alive: C holds pointers into them
        self.array = (Override * (len(patterns) + 1))()
        for i, pat in enumerate(self._patterns):
            self.array[i].pattern = pat
            self.array[i].buft = buft
        self.address = ctypes.addressof(self.array)

    def install(self) -> TensorOverrides:
        from llama_cpp import llama_cpp as low

        self._low, self._default = low, low.llama_model_default_params

        def params():
            self.uninstall()
            p = self._default()
            p.tensor_buft_overrides = self.address
            return p

        low.llama_model_default_params = params
        return self

    def uninstall(self) -> None:
        self._low.llama_model_default_params = self._default
