"""Energy used during a trial: RAPL for the CPU, NVML for NVIDIA GPUs, else a labelled estimate.

Every figure is labelled:

- ``measured``: read from hardware energy counters. CPU: RAPL (``/sys/class/powercap``), the
  package domains plus DRAM where the machine has a DRAM domain (core/uncore are parts of the
  package and are not added again; ``psys`` and ``intel-rapl-mmio`` zones overlap the package
  and are left out). GPU: NVML's total-energy counter of each NVIDIA GPU, summed. Both are
  whole-device figures: they include every process on the device and its idle power.
- ``estimated``: no CPU counter, but a CPU power figure: ``cpu_tdp_watts`` from the cost config,
  or (by default) a documented figure per logical core × logical cores (see
  ``bakeoff.measure.cost.cpu_power``), whose origin is passed as ``tdp_source``:
  ``TDP × elapsed × CPU share``, where CPU share = this process's CPU-time delta /
  (elapsed × logical cores), clamped to [0, 1]. It ignores idle/base power, memory and turbo
  above TDP, so it is a rough order of magnitude, and it says so in ``source``. A GPU that NVML
  sees but that has no total-energy counter (before Volta) is estimated from its power readings
  at start and stop (mean × elapsed), or from its power limit where it reports no reading.
- ``unavailable``: neither; ``joules`` is ``None`` (never 0) and ``source`` says why.

On Apple Silicon (macOS, arm64) with the optional ``zeus-apple-silicon`` package (``pip install
'bakeoff[apple]'``), the SoC's energy counters are read without sudo: CPU, GPU (+ its SRAM), DRAM
and Neural Engine, ``measured``. That path is tested against stand-in readings only: it is not
yet verified on Apple hardware.

A GPU measured with no CPU counter is ``measured`` with the CPU named as missing in ``source``;
with a TDP the CPU part is estimated and the total is then ``estimated``.

Cost of ``start()``/``stop()``: a few microseconds for RAPL files, the estimate or nothing. NVML's
energy call is slow: about 4 ms of busy CPU per GPU per call, measured on an H100 (driver
580), and its counter only refreshes about every 100 ms there, so a GPU figure is coarse for
trials under a second or so. The reads are deliberately synchronous, at the edges of the trial:
a background poller would spin a CPU core during the trial it measures. Call ``start()``
before the trial's clock starts and ``stop()`` after it ends. A RAPL
counter wraps at ``max_energy_range_uj`` (about 262 kJ on many Intel parts: ~20 min at
200 W); one wrap between start and stop is corrected; call ``poll()`` at least once per wrap
period during very long trials to survive several.

This module imports neither pydantic nor the rest of bakeoff, so it runs in a bare Python with
only ``nvidia-ml-py`` (optional) and ``psutil`` (optional).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MEASURED, ESTIMATED, UNAVAILABLE = "measured", "estimated", "unavailable"

_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")
_SUB_ZONE = re.compile(r"^intel-rapl:\d+:\d+$")


@dataclass
class EnergySample:
    joules: float | None        # None when unavailable: never a silent 0
    label: str                  # "measured" | "estimated" | "unavailable"
    source: str                 # what was read, the formula, or why nothing could be
    seconds: float              # wall time between start and stop
    parts: dict[str, float | None] = field(default_factory=dict)  # {"cpu": J, "gpu": J}; absent = not metered

    @property
    def watts(self) -> float | None:
        """Average power over the sample, or None."""
        if self.joules is None or self.seconds <= 0:
            return None
        return self.joules / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"watts": self.watts}


# --------------------------------------------------------------------------------------- RAPL


@dataclass
class RaplDomain:
    zone: str                   # "intel-rapl:0" or "intel-rapl:0:2"
    name: str                   # "package-0", "dram"
    path: Path                  # .../energy_uj
    max_range_uj: int | None    # None: unknown, a negative delta is then an error

    def read_uj(self) -> int:
        with open(self.path, "rb") as f:
            return int(f.read())


def find_rapl_domains(root: str | os.PathLike = "/sys/class/powercap") -> tuple[list[RaplDomain], str | None, list[str]]:
    """The RAPL domains whose sum is the CPU energy, or ([], reason, notes).

    Counted: top-level ``intel-rapl:N`` zones named ``package-*`` (or ``dram``), plus their
    ``dram`` subzones. Skipped (noted): core/uncore subzones (inside the package), ``psys``
    (platform, includes the package) and ``intel-rapl-mmio`` (the same package through MMIO).
    Each counted counter is read once here, so a permission problem shows at detection.
    """
    base = Path(root)
    notes: list[str] = []
    if not base.is_dir():
        return [], f"no {base} (no powercap/RAPL support in this kernel or container)", notes
    try:
        entries = sorted(p for p in base.iterdir())
    except OSError as exc:
        return [], f"cannot list {base}: {exc.strerror or exc}", notes
    # sysfs lists every zone at the top (intel-rapl:0, intel-rapl:0:0, ... as links) and nests
    # subzones in their parent too: collect both ways, once per zone name.
    found: dict[str, Path] = {}
    for entry in entries:
        zone = entry.name
        if _TOP_ZONE.match(zone) or _SUB_ZONE.match(zone):
            found.setdefault(zone, entry)
            if _TOP_ZONE.match(zone):
                try:
                    for sub in entry.iterdir():
                        if _SUB_ZONE.match(sub.name):
                            found.setdefault(sub.name, sub)
                except OSError:
                    pass
        elif zone.startswith("intel-rapl-mmio"):
            notes.append(f"{zone} skipped (same package counter through MMIO)")
    candidates = sorted(found.items(), key=lambda kv: [int(x) for x in kv[0].split(":")[1:]])
    if not candidates:
        return [], f"no RAPL zone (intel-rapl:N) under {base}", notes
    domains: list[RaplDomain] = []
    problems: list[str] = []
    for zone, path in candidates:
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            name = "?"
        top = _TOP_ZONE.match(zone) is not None
        counted = (top and (name.startswith("package") or name == "dram")) or (not top and name == "dram")
        if not counted:
            if top and name == "psys":
                notes.append(f"{zone} (psys) skipped: the platform domain includes the package")
            elif not top:
                notes.append(f"{zone} ({name}) not added: part of its package")
            else:
                notes.append(f"{zone} ({name}) skipped")
            continue
        energy = path / "energy_uj"
        try:
            with open(energy, "rb") as f:
                int(f.read())
        except PermissionError:
            problems.append(f"{energy} is not readable by this user (Linux >= 5.10 makes RAPL root-only, "
                            "CVE-2020-8694; run as root or grant read access with a udev rule)")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{energy} unreadable: {getattr(exc, 'strerror', None) or exc}")
            continue
        try:
            max_range = int((path / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            max_range = None
            notes.append(f"{zone}: no max_energy_range_uj, a counter wrap cannot be corrected")
        domains.append(RaplDomain(zone, name, energy, max_range))
    if problems and not domains:
        return [], "; ".join(problems), notes
    if problems:
        # A partial CPU figure would pass for the whole: refuse it.
        return [], "some RAPL counters are unreadable: " + "; ".join(problems), notes
    if not any(d.name.startswith("package") for d in domains):
        return [], f"no RAPL package domain under {base}", notes
    return domains, None, notes


def rapl_delta_uj(start: int, end: int, max_range_uj: int | None) -> int | None:
    """Energy between two readings of one counter, correcting one wrap; None if impossible."""
    if end >= start:
        return end - start
    if not max_range_uj:
        return None
    return end + max_range_uj - start


# --------------------------------------------------------------------------------------- NVML


_PYNVML: tuple[Any, str | None] | None = None   # pynvml, initialised once per process


def _load_nvml(nvml: Any = None) -> tuple[Any, str | None]:
    """An initialised NVML module (pynvml or a stand-in with the same names), or (None, reason)."""
    global _PYNVML
    if nvml is None:
        if _PYNVML is not None:
            return _PYNVML
        try:
            import pynvml
        except ImportError:
            return None, "nvidia-ml-py (pynvml) is not installed"
        _PYNVML = _init_nvml(pynvml)
        return _PYNVML
    return _init_nvml(nvml)


def _init_nvml(nvml: Any) -> tuple[Any, str | None]:
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, a stand-in's own
        return None, f"NVML unavailable ({_nvml_msg(exc)}): no NVIDIA driver"
    return nvml, None


def _nvml_msg(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.decode() if isinstance(text, bytes) else text


def _gpu_name(nvml: Any, handle: Any) -> str:
    try:
        name = nvml.nvmlDeviceGetName(handle)
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return "?"


@dataclass
class NvmlGpu:
    index: int
    name: str
    handle: Any


def find_nvml_gpus(nvml: Any = None) -> tuple[Any, list[NvmlGpu], str | None, list[str]]:
    """GPUs whose total-energy counter can be read: (module, gpus, reason if none, notes).
    GPUs without one are named in the notes; :func:`find_nvml_power_gpus` finds those."""
    module, reason = _load_nvml(nvml)
    notes: list[str] = []
    if module is None:
        return None, [], reason, notes
    try:
        count = module.nvmlDeviceGetCount()
    except Exception as exc:
        return None, [], f"NVML device count failed: {_nvml_msg(exc)}", notes
    if count == 0:
        return None, [], "NVML found no GPU", notes
    gpus: list[NvmlGpu] = []
    for i in range(count):
        try:
            handle = module.nvmlDeviceGetHandleByIndex(i)
            module.nvmlDeviceGetTotalEnergyConsumption(handle)
        except Exception as exc:
            notes.append(f"GPU{i}: no total-energy counter ({_nvml_msg(exc)}; needs Volta or newer)")
            continue
        gpus.append(NvmlGpu(i, _gpu_name(module, handle), handle))
    if not gpus:
        return None, [], "no GPU with an NVML total-energy counter: " + "; ".join(notes), notes
    return module, gpus, None, notes


def find_nvml_power_gpus(nvml: Any, skip: set[int]) -> list[NvmlGpu]:
    """GPUs (other than ``skip``) with no energy counter whose power draw or power limit NVML reports."""
    module, _ = _load_nvml(nvml)
    if module is None:
        return []
    try:
        count = module.nvmlDeviceGetCount()
    except Exception:
        return []
    out = []
    for i in range(count):
        if i in skip:
            continue
        try:
            handle = module.nvmlDeviceGetHandleByIndex(i)
        except Exception:
            continue
        if _gpu_power_w(module, handle)[0] is not None:
            out.append(NvmlGpu(i, _gpu_name(module, handle), handle))
    return out


def _gpu_power_w(module: Any, handle: Any) -> tuple[float | None, str]:
    """(watts, what it is): the GPU's current draw, else its power limit, else (None, "")."""
    for call, what in (("nvmlDeviceGetPowerUsage", "power reading"), ("nvmlDeviceGetPowerManagementLimit", "power limit")):
        try:
            return getattr(module, call)(handle) / 1e3, what
        except Exception:
            continue
    return None, ""


# ------------------------------------------------------------------------------- Apple Silicon

# The SoC parts zeus-apple-silicon reports (AppleEnergyMetrics, mJ over a window; None where the
# chip has no such counter), and the part of bakeoff's figure each goes to.
APPLE_PARTS = (("cpu_total_mj", "cpu"), ("gpu_mj", "gpu"), ("gpu_sram_mj", "gpu"), ("dram_mj", "dram"), ("ane_mj", "ane"))


def find_apple_monitor(module: Any = None) -> tuple[Any, str | None]:
    """An ``AppleEnergyMonitor`` (zeus-apple-silicon, or a stand-in module with its names), or (None, reason)."""
    if module is None:
        import platform

        if platform.system() != "Darwin" or platform.machine() != "arm64":
            return None, "not Apple Silicon"
        try:
            import zeus_apple_silicon as module
        except ImportError:
            return None, "zeus-apple-silicon is not installed (pip install 'bakeoff[apple]')"
    try:
        return module.AppleEnergyMonitor(), None
    except Exception as exc:  # noqa: BLE001 - the library's own errors (IOReport unavailable)
        return None, f"Apple energy counters unavailable: {exc}"


def gpu_memory_used_by_pid(pid: int, nvml: Any = None) -> int | None:
    """GPU memory (bytes) used by process ``pid`` on all NVIDIA GPUs, via NVML.

    None when NVML is absent, when the process is not listed on any GPU (not using one, or in a
    container whose PID namespace NVML does not see: it reports host PIDs), or when the driver
    does not report per-process memory. Never a made-up 0.
    """
    module, _ = _load_nvml(nvml)
    if module is None:
        return None
    total = 0
    found = False
    try:
        count = module.nvmlDeviceGetCount()
    except Exception:
        return None
    for i in range(count):
        try:
            handle = module.nvmlDeviceGetHandleByIndex(i)
            procs = module.nvmlDeviceGetComputeRunningProcesses(handle)
        except Exception:
            continue
        for proc in procs or []:
            if getattr(proc, "pid", None) != pid:
                continue
            used = getattr(proc, "usedGpuMemory", None)
            if used is None:
                return None  # listed but the driver withholds its memory (NVML_VALUE_NOT_AVAILABLE)
            found = True
            total += int(used)
    return total if found else None


def meter_basis(desc: dict | None) -> str:
    """One line from a meter's :meth:`EnergyMeter.describe`: which parts are measured, which
    estimated (and from what), which not counted."""
    if not desc:
        return "the energy meter was not recorded"
    cpu, gpu = desc.get("cpu") or {}, desc.get("gpu") or {}
    parts = []
    if str(cpu.get("method")).startswith("Apple"):
        return ("CPU, GPU, DRAM and Neural Engine measured (Apple SoC energy counters, zeus-apple-silicon; "
                "not yet verified on Apple hardware)")
    if cpu.get("method") == "RAPL":
        parts.append("CPU measured (RAPL)")
    elif cpu.get("method") == "estimate":
        tdp = cpu.get("tdp_watts")
        parts.append(f"CPU estimated: {tdp:g} W × this process's share of the cores"
                     + (f" ({cpu['tdp_source']})" if cpu.get("tdp_source") else ""))
    else:
        parts.append("CPU not counted")
    if gpu.get("method"):
        parts.append("GPU measured (NVML energy counter)")
    est = desc.get("gpu_estimated")
    if est:
        parts.append("GPU estimated from NVML power readings: " + ", ".join(f"GPU{g['index']}" for g in est["gpus"]))
    if not gpu.get("method") and not est:
        parts.append("no GPU counted")
    return "; ".join(parts)


# -------------------------------------------------------------------------------------- meter


class EnergyMeter:
    """Reads energy counters around a trial. Build with :meth:`detect`; then start()/stop().

    Not thread-safe; one meter per worker. ``start()`` again restarts the interval.
    """

    def __init__(self, rapl: list[RaplDomain] | None = None, nvml: Any = None, gpus: list[NvmlGpu] | None = None,
                 tdp_watts: float | None = None, cpu_reason: str | None = None, gpu_reason: str | None = None,
                 notes: list[str] | None = None, pid: int | None = None, logical_cores: int | None = None,
                 powercap_root: str = "/sys/class/powercap", tdp_source: str | None = None,
                 power_gpus: list[NvmlGpu] | None = None, apple: Any = None):
        self.rapl = rapl or []
        self.nvml = nvml
        self.gpus = gpus or []
        self.power_gpus = power_gpus or []      # no energy counter: estimated from power readings
        self.apple = apple                      # an AppleEnergyMonitor: the whole SoC, measured
        self._apple_window = 0
        self.tdp_watts = tdp_watts
        self.tdp_source = tdp_source
        self.cpu_reason = cpu_reason
        self.gpu_reason = gpu_reason
        self.notes = notes or []
        self.pid = pid
        self.logical_cores = logical_cores or os.cpu_count() or 1
        self.powercap_root = powercap_root
        self._proc = None
        if pid is not None and pid != os.getpid():
            import psutil

            self._proc = psutil.Process(pid)
        self._wall = time.perf_counter          # replaceable in tests
        self._cpu_clock = self._process_cpu_time
        self._t0: float | None = None
        self._cpu0: float | None = None
        self._rapl_last: list[int] = []
        self._rapl_acc: list[int] = []
        self._gpu0: list[int] = []
        self._power0: list[tuple[float | None, str]] = []
        self._error: str | None = None

    @classmethod
    def detect(cls, tdp_watts: float | None = None, powercap_root: str = "/sys/class/powercap", nvml=None,
               pid: int | None = None, tdp_source: str | None = None, apple: Any = None) -> EnergyMeter:
        """Find what this machine can meter. ``nvml``: a module with pynvml's names (default:
        import pynvml). ``pid``: whose CPU time the TDP estimate uses (default: this process).
        ``tdp_source``: where ``tdp_watts`` comes from, said in every estimated figure.
        ``apple``: a module with zeus-apple-silicon's names (default: import it on Apple Silicon)."""
        rapl, cpu_reason, notes = find_rapl_domains(powercap_root)
        monitor = None
        if not rapl:
            monitor, apple_reason = find_apple_monitor(apple)
            if monitor is None and apple_reason != "not Apple Silicon":
                cpu_reason = f"{cpu_reason}; {apple_reason}"
        module, gpus, gpu_reason, gpu_notes = find_nvml_gpus(nvml)
        power_gpus = find_nvml_power_gpus(nvml, {g.index for g in gpus})
        if power_gpus and module is None:
            module, _ = _load_nvml(nvml)
        if tdp_watts is not None and not tdp_watts > 0:
            raise ValueError(f"tdp_watts must be > 0, got {tdp_watts!r}")
        return cls(rapl, module, gpus, tdp_watts, cpu_reason, gpu_reason, notes + gpu_notes, pid,
                   powercap_root=powercap_root, tdp_source=tdp_source, power_gpus=power_gpus, apple=monitor)

    # ---- what is metered

    @property
    def label(self) -> str:
        """The label stop() will give (barring a counter error)."""
        cpu = MEASURED if (self.rapl or self.apple) else ESTIMATED if self.tdp_watts else None
        kinds = {cpu, MEASURED if self.gpus else None, ESTIMATED if self.power_gpus else None} - {None}
        if not kinds:
            return UNAVAILABLE
        return ESTIMATED if ESTIMATED in kinds else MEASURED

    def _cpu_source(self) -> str:
        return "RAPL " + ", ".join(f"{d.zone} ({d.name})" for d in self.rapl)

    def _gpu_source(self) -> str:
        return "NVML total energy " + ", ".join(f"GPU{g.index} {g.name}" for g in self.gpus)

    def unavailable_reason(self) -> str:
        cpu = self.cpu_reason or "no RAPL counter"
        gpu = self.gpu_reason or "no NVIDIA GPU"
        return (f"CPU: {cpu}; GPU: {gpu}; no CPU power figure for an estimate (cpu_tdp_watts or "
                f"cpu_watts_per_core in the cost config)")

    def describe(self) -> dict:
        """What this meter measures, for the run's environment."""
        return {
            "label": self.label,
            "cpu": ({"method": "Apple SoC energy counters (zeus-apple-silicon)",
                     "parts": "CPU, GPU and its SRAM, DRAM, Neural Engine", "verified_on_hardware": False}
                    if self.apple else
                    {"method": "RAPL", "domains": [{"zone": d.zone, "name": d.name, "max_energy_range_uj": d.max_range_uj}
                                                     for d in self.rapl], "powercap_root": self.powercap_root}
                    if self.rapl else
                    {"method": "estimate", "tdp_watts": self.tdp_watts, "tdp_source": self.tdp_source,
                     "logical_cores": self.logical_cores,
                     "formula": "TDP × elapsed × process CPU time / (elapsed × logical cores)", "why_not_measured": self.cpu_reason}
                    if self.tdp_watts else {"method": None, "why_not_measured": self.cpu_reason}),
            "gpu": ({"method": "NVML nvmlDeviceGetTotalEnergyConsumption", "gpus": [{"index": g.index, "name": g.name} for g in self.gpus],
                     "scope": "whole device: all processes and idle power"}
                    if self.gpus else {"method": None, "why_not_measured": self.gpu_reason}),
            "gpu_estimated": ({"method": "mean of NVML power readings at start and stop × elapsed (the power "
                                         "limit where there is no reading)",
                               "gpus": [{"index": g.index, "name": g.name} for g in self.power_gpus]}
                              if self.power_gpus else None),
            "notes": list(self.notes),
        }

    # ---- the interval

    def _process_cpu_time(self) -> float:
        if self._proc is not None:
            t = self._proc.cpu_times()
            return t.user + t.system
        return time.process_time()

    def start(self) -> None:
        self._error = None
        self._t0 = self._wall()
        if self.apple is not None:
            self._apple_window += 1
            try:
                self.apple.begin_window(f"bakeoff-{self._apple_window}")
            except Exception as exc:  # noqa: BLE001
                self._error = f"Apple energy counters failed at start: {exc}"
        if self.rapl:
            try:
                self._rapl_last = [d.read_uj() for d in self.rapl]
            except (OSError, ValueError) as exc:
                self._error = f"RAPL read failed at start: {exc}"
            self._rapl_acc = [0] * len(self.rapl)
        elif self.tdp_watts:
            self._cpu0 = self._cpu_clock()
        if self.gpus:
            try:
                self._gpu0 = [int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle)) for g in self.gpus]
            except Exception as exc:
                self._error = f"NVML read failed at start: {_nvml_msg(exc)}"
        if self.power_gpus:
            self._power0 = [_gpu_power_w(self.nvml, g.handle) for g in self.power_gpus]

    def poll(self) -> None:
        """Fold RAPL counters into the running total (survives several wraps in a long trial)."""
        if not self.rapl or self._t0 is None or self._error:
            return
        try:
            now = [d.read_uj() for d in self.rapl]
        except (OSError, ValueError) as exc:
            self._error = f"RAPL read failed: {exc}"
            return
        for i, d in enumerate(self.rapl):
            delta = rapl_delta_uj(self._rapl_last[i], now[i], d.max_range_uj)
            if delta is None:
                self._error = f"RAPL {d.zone} went backwards and its wrap range is unknown"
                return
            self._rapl_acc[i] += delta
        self._rapl_last = now

    def stop(self) -> EnergySample:
        if self._t0 is None:
            raise RuntimeError("EnergyMeter.stop() before start()")
        self.poll()
        apple = None
        if self.apple is not None and not self._error:
            try:
                apple = self.apple.end_window(f"bakeoff-{self._apple_window}")
            except Exception as exc:  # noqa: BLE001
                self._error = f"Apple energy counters failed at stop: {exc}"
        cpu_t1 = self._cpu_clock() if (not self.rapl and not self.apple and self.tdp_watts) else None
        gpu1: list[int] = []
        if self.gpus and not self._error:
            try:
                gpu1 = [int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle)) for g in self.gpus]
            except Exception as exc:
                self._error = f"NVML read failed at stop: {_nvml_msg(exc)}"
        seconds = self._wall() - self._t0
        self._t0 = None
        if self._error:
            return EnergySample(None, UNAVAILABLE, self._error, seconds)
        parts: dict[str, float | None] = {}
        sources: list[str] = []
        estimated = False
        if self.rapl:
            parts["cpu"] = sum(self._rapl_acc) / 1e6
            sources.append(self._cpu_source())
        elif apple is not None:
            read = []
            for attr, part in APPLE_PARTS:
                mj = getattr(apple, attr, None)
                if mj is not None:
                    parts[part] = parts.get(part, 0.0) + mj / 1e3
                    read.append(attr.removesuffix("_mj"))
            if "cpu" not in parts:
                return EnergySample(None, UNAVAILABLE, "the Apple energy counters gave no CPU figure", seconds)
            sources.append(f"Apple SoC energy counters (zeus-apple-silicon): {', '.join(read)}; not yet verified "
                           "on Apple hardware")
        elif self.tdp_watts:
            cpu_s = max(0.0, cpu_t1 - self._cpu0)
            share = min(1.0, cpu_s / (seconds * self.logical_cores)) if seconds > 0 else 0.0
            parts["cpu"] = self.tdp_watts * seconds * share
            estimated = True
            tdp_from = f" ({self.tdp_source})" if self.tdp_source else ""
            sources.append(f"CPU estimated: TDP {self.tdp_watts:g} W{tdp_from} × {seconds:.3f} s × CPU share {share:.3f} "
                           f"(process CPU time {cpu_s:.3f} s / ({seconds:.3f} s × {self.logical_cores} logical cores))")
        if self.gpus:
            deltas = [b - a for a, b in zip(self._gpu0, gpu1)]
            if any(d < 0 for d in deltas):
                return EnergySample(None, UNAVAILABLE, "NVML energy counter went backwards (driver reloaded?)", seconds)
            parts["gpu"] = sum(deltas) / 1e3
            sources.append(self._gpu_source())
        if self.power_gpus:
            power1 = [_gpu_power_w(self.nvml, g.handle) for g in self.power_gpus]
            joules, said = 0.0, []
            for g, (w0, what0), (w1, what1) in zip(self.power_gpus, self._power0, power1):
                ws = [w for w in (w0, w1) if w is not None]
                if not ws:
                    return EnergySample(None, UNAVAILABLE, f"GPU{g.index}: NVML gave no power figure", seconds)
                mean = sum(ws) / len(ws)
                joules += mean * seconds
                said.append(f"GPU{g.index} {g.name} {mean:.1f} W ({what1 or what0})")
            parts["gpu"] = parts.get("gpu", 0.0) + joules
            estimated = True
            sources.append(f"GPU estimated (no energy counter): {', '.join(said)} × {seconds:.3f} s")
        if ("gpu" in parts) and "cpu" not in parts:
            sources.append(f"CPU not measured: {self.cpu_reason}")
        if not parts:
            return EnergySample(None, UNAVAILABLE, self.unavailable_reason(), seconds)
        joules = sum(v for v in parts.values() if v is not None)
        return EnergySample(joules, ESTIMATED if estimated else MEASURED, "; ".join(sources), seconds, parts)
