"""Peak resident memory of the current process.

On Linux the kernel keeps the high-water mark (VmHWM) exactly and lets a process reset it by
writing 5 to /proc/self/clear_refs, so a per-trial peak needs no sampling. Elsewhere a thread
samples RSS every 10 ms with psutil (a short spike between samples can be missed).
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def current_rss() -> int:
    return psutil.Process().memory_info().rss


def _vm_hwm() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class PeakRSS:
    """reset() before the work, peak() after it: the largest RSS in between, in bytes."""

    def __init__(self) -> None:
        self.method = "VmHWM" if self._can_reset_hwm() else "sampled"
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _can_reset_hwm() -> bool:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            return False
        return _vm_hwm() is not None

    def reset(self) -> None:
        if self.method == "VmHWM":
            _CLEAR_REFS.write_text("5")
            return
        self._stop_thread()
        self._peak = current_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(0.01):
            self._peak = max(self._peak, proc.memory_info().rss)

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def peak(self) -> int:
        if self.method == "VmHWM":
            return max(_vm_hwm() or 0, current_rss())
        self._stop_thread()
        return max(self._peak, current_rss())


class GpuMemoryPeak:
    """Peak GPU memory in use above its value at start, summed over the NVIDIA GPUs NVML sees,
    sampled every 50 ms (device-wide: the figure is a process's own only on an otherwise idle GPU).
    ``available`` is False, with ``reason``, where NVML cannot be read."""

    def __init__(self, interval_s: float = 0.05) -> None:
        from bakeoff.measure.energy import _load_nvml

        self.nvml, self.reason = _load_nvml()
        self.handles = []
        if self.nvml is not None:
            try:
                self.handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in range(self.nvml.nvmlDeviceGetCount())]
            except Exception as exc:  # noqa: BLE001 - any NVMLError
                self.reason = f"NVML: {exc}"
            if not self.handles:
                self.reason = self.reason or "NVML found no GPU"
        self.available = bool(self.handles)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline = self.peak = 0

    def used(self) -> int:
        return sum(self.nvml.nvmlDeviceGetMemoryInfo(h).used for h in self.handles)

    def __enter__(self) -> GpuMemoryPeak:
        if self.available:
            self.baseline = self.peak = self.used()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, self.used())

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    @property
    def peak_above_baseline(self) -> int | None:
        return self.peak - self.baseline if self.available else None
