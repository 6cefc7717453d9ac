"""Hardware profiles: memory, bandwidth, and how much of the memory a model may use.

Built-in profiles live in data/hardware.yaml (spec-sheet figures with sources). Users add or
override profiles in ``$XDG_CONFIG_HOME/bakeoff/hardware.yaml`` (default ~/.config/...) or a
file given with --hardware-file. "this-machine" is detected: total memory from psutil, and
bandwidth measured by summing a 256 MiB numpy array (best of 3 passes, one thread and one
thread per physical core) — labelled measured, not a spec figure.

Usable memory (the rule ``fits`` uses), unless a profile sets ``usable`` (a fraction):
- gpu: VRAM − 0.5 GiB (CUDA context, cuBLAS workspace, a display);
- unified (Apple silicon): the GPU working-set limit macOS sets by default, about 2/3 of RAM
  up to 36 GiB and 3/4 above (what llama.cpp's Metal backend sees as free memory;
  a rule of thumb, `sudo sysctl iogpu.wired_limit_mb` changes it);
- cpu: 85% of RAM (the OS, a desktop and other programs keep the rest).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from bakeoff.errors import InputError

GIB = 2**30
KINDS = ("gpu", "unified", "cpu")
PCIE_LANE_GBS = {3: 8 * 128 / 130 / 8, 4: 16 * 128 / 130 / 8, 5: 32 * 128 / 130 / 8}


@dataclass
class Profile:
    id: str
    name: str
    kind: str
    memory_bytes: int
    bandwidth_gbs: float | None
    source: str
    bandwidth_label: str = "spec"  # spec | measured | given | unavailable
    memory_label: str = "spec"  # spec | detected | given
    usable_fraction: float | None = None
    # a discrete GPU's host: system RAM, its bandwidth and the PCIe link (for offloaded weights)
    ram_bytes: int | None = None
    ram_bandwidth_gbs: float | None = None
    pcie_gen: int | None = None
    pcie_lanes: int | None = None

    @property
    def pcie_gbs(self) -> float | None:
        """PCIe bandwidth per direction in GB/s: lanes × the per-lane rate after line coding
        (gen 3: 8 GT/s, gen 4: 16, gen 5: 32, all 128b/130b: 0.985, 1.969, 3.938 GB/s per lane)."""
        if not self.pcie_gen or not self.pcie_lanes:
            return None
        return PCIE_LANE_GBS.get(self.pcie_gen, 0) * self.pcie_lanes or None

    @property
    def ram_usable_bytes(self) -> int | None:
        return None if self.ram_bytes is None else usable_bytes("cpu", self.ram_bytes)

    @property
    def usable_bytes(self) -> int:
        return usable_bytes(self.kind, self.memory_bytes, self.usable_fraction)

    @property
    def usable_rule(self) -> str:
        if self.usable_fraction is not None:
            return f"{self.usable_fraction:.0%} of memory (profile setting)"
        return {"gpu": "VRAM − 0.5 GiB (CUDA context, workspace, display)",
                "unified": "macOS GPU working-set limit: 2/3 of RAM up to 36 GiB, 3/4 above",
                "cpu": "85% of RAM (the OS and other programs keep the rest)"}[self.kind]

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind, "memory_bytes": self.memory_bytes,
                "memory_label": self.memory_label, "usable_bytes": self.usable_bytes,
                "usable_rule": self.usable_rule, "bandwidth_gbs": self.bandwidth_gbs,
                "bandwidth_label": self.bandwidth_label, "source": self.source,
                "ram_bytes": self.ram_bytes, "ram_bandwidth_gbs": self.ram_bandwidth_gbs,
                "pcie_gen": self.pcie_gen, "pcie_lanes": self.pcie_lanes, "pcie_gbs": self.pcie_gbs}


def usable_bytes(kind: str, memory: int, fraction: float | None = None) -> int:
    if fraction is not None:
        return int(memory * fraction)
    if kind == "gpu":
        return max(0, memory - GIB // 2)
    if kind == "unified":
        return int(memory * (2 / 3 if memory <= 36 * GIB else 3 / 4))
    return int(memory * 0.85)


def _profile(pid: str, d: dict, where: str) -> Profile:
    if not isinstance(d, dict):
        raise InputError(f"{where}: hardware profile {pid!r} must be a mapping")
    kind = d.get("kind", "cpu")
    if kind not in KINDS:
        raise InputError(f"{where}: hardware profile {pid!r}: kind must be one of {', '.join(KINDS)}")
    try:
        memory = float(d["memory_gib"]) * GIB
        bandwidth = float(d["bandwidth_gbs"]) if d.get("bandwidth_gbs") is not None else None
        usable = float(d["usable"]) if d.get("usable") is not None else None
        host = {k: (float(d[k]) if d.get(k) is not None else None)
                for k in ("ram_gib", "ram_bandwidth_gbs", "pcie_gen", "pcie_lanes")}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: hardware profile {pid!r} needs numeric memory_gib and bandwidth_gbs ({exc})") from None
    if memory <= 0 or (bandwidth is not None and bandwidth <= 0) or (usable is not None and not 0 < usable <= 1):
        raise InputError(f"{where}: hardware profile {pid!r}: memory and bandwidth must be positive, usable in (0, 1]")
    if any(v is not None and v <= 0 for v in host.values()) or (host["pcie_gen"] and host["pcie_gen"] not in PCIE_LANE_GBS):
        raise InputError(f"{where}: hardware profile {pid!r}: ram_gib, ram_bandwidth_gbs and pcie_lanes must be "
                         f"positive, pcie_gen one of {', '.join(map(str, PCIE_LANE_GBS))}")
    return Profile(id=pid, name=str(d.get("name", pid)), kind=kind, memory_bytes=int(memory),
                   bandwidth_gbs=bandwidth, source=str(d.get("source", where))
                   + (f"; host: {d['host_source']}" if d.get("host_source") else ""),
                   bandwidth_label="spec" if bandwidth else "unavailable", usable_fraction=usable,
                   ram_bytes=int(host["ram_gib"] * GIB) if host["ram_gib"] else None,
                   ram_bandwidth_gbs=host["ram_bandwidth_gbs"],
                   pcie_gen=int(host["pcie_gen"]) if host["pcie_gen"] else None,
                   pcie_lanes=int(host["pcie_lanes"]) if host["pcie_lanes"] else None)


def _read_profiles(text: str, where: str) -> dict[str, Profile]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of profile id -> profile")
    return {str(pid): _profile(str(pid), d, where) for pid, d in data.items()}


def user_hardware_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bakeoff" / "hardware.yaml"


def load_profiles(extra_file: str | Path | None = None) -> dict[str, Profile]:
    """Built-in profiles, then the user's file, then ``extra_file`` (later ones win)."""
    text = resources.files("bakeoff.estimate").joinpath("data/hardware.yaml").read_text()
    profiles = _read_profiles(text, "bakeoff/estimate/data/hardware.yaml")
    files = [user_hardware_file()] + ([Path(extra_file)] if extra_file else [])
    for f in files:
        if f.is_file():
            profiles.update(_read_profiles(f.read_text(), str(f)))
        elif extra_file and f == Path(extra_file):
            raise InputError(f"hardware file {f} does not exist")
    return profiles


@lru_cache(maxsize=1)
def measure_bandwidth(mib: int = 256, passes: int = 3) -> tuple[float, str]:
    """Best read bandwidth in GB/s summing ``mib`` MiB of float64, and how it was measured."""
    import numpy as np
    import psutil

    data = np.ones(mib * 2**20 // 8)
    data.sum()  # touch every page once
    best1 = 0.0
    for _ in range(passes):
        t0 = time.perf_counter()
        data.sum()
        best1 = max(best1, data.nbytes / (time.perf_counter() - t0))
    threads = max(1, psutil.cpu_count(logical=False) or 1)
    bestn = 0.0
    if threads > 1:
        chunks = np.array_split(data, threads)
        for _ in range(passes):
            workers = [threading.Thread(target=c.sum) for c in chunks]
            t0 = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            bestn = max(bestn, data.nbytes / (time.perf_counter() - t0))
    best = max(best1, bestn)
    how = (f"measured: numpy sum over {mib} MiB, best of {passes}; 1 thread {best1 / 1e9:.1f} GB/s"
           + (f", {threads} threads {bestn / 1e9:.1f} GB/s" if threads > 1 else ""))
    return best / 1e9, how


def this_machine(measure: bool = True) -> Profile:
    import psutil

    from bakeoff.measure.hardware import environment

    hw = environment()["hardware"]
    total = psutil.virtual_memory().total
    bandwidth, how = measure_bandwidth() if measure else (None, "not measured")
    return Profile(id="this-machine", name=f"this machine ({hw['cpu']}, {hw['cores_physical']} cores)",
                   kind="cpu", memory_bytes=total, bandwidth_gbs=bandwidth,
                   source=f"memory: psutil total; bandwidth {how}",
                   bandwidth_label="measured" if bandwidth else "unavailable", memory_label="detected")


def given_profile(memory_gb: float, bandwidth_gbs: float, kind: str = "gpu") -> Profile:
    if memory_gb <= 0 or bandwidth_gbs <= 0:
        raise InputError("--memory-gb and --bandwidth-gbs must be positive")
    return Profile(id="given", name=f"given: {memory_gb:g} GiB, {bandwidth_gbs:g} GB/s", kind=kind,
                   memory_bytes=int(memory_gb * GIB), bandwidth_gbs=bandwidth_gbs,
                   source="--memory-gb / --bandwidth-gbs", bandwidth_label="given", memory_label="given")


def select_profiles(names: list[str] | None, memory_gb: float | None = None, bandwidth_gbs: float | None = None,
                    hardware_file: str | Path | None = None, kind: str = "gpu") -> list[Profile]:
    """The profiles to show: the named ones (default: all, plus this machine), or a given one."""
    if (memory_gb is None) != (bandwidth_gbs is None):
        raise InputError("--memory-gb and --bandwidth-gbs go together")
    profiles = load_profiles(hardware_file)
    out: list[Profile] = []
    for name in names or []:
        if name in ("this-machine", "this", "local"):
            out.append(this_machine())
        elif name in profiles:
            out.append(profiles[name])
        else:
            raise InputError(f"unknown hardware profile {name!r}; known: {', '.join(['this-machine', *profiles])}")
    if memory_gb is not None:
        if kind not in KINDS:
            raise InputError(f"--kind must be one of {', '.join(KINDS)}")
        out.append(given_profile(memory_gb, bandwidth_gbs, kind))
    if not out:
        out = [*profiles.values(), this_machine()]
    return out
