"""Energy meters on recorded counter sequences, and for real on this machine (no RAPL, no GPU).

The RAPL tests build a powercap tree in tmp_path with the kernel's real layout (every zone
linked at the top, subzones also nested in their package; ``name``, ``energy_uj``,
``max_energy_range_uj``) and rewrite ``energy_uj`` between start() and stop().

The NVML tests use ``FakeNVML``: an object with pynvml's function names returning a recorded
sequence. It stands in for the NVIDIA driver, which is not on this machine. Its values are
from a real H100 80GB HBM3 (driver 580.159.04) read through nvidia-ml-py: the total-energy
counter in mJ, refreshed every ~100 ms (~7.5-8 J per step at ~78 W idle).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakeoff.measure import energy
from bakeoff.measure.energy import (
    EnergyMeter,
    EnergySample,
    find_rapl_domains,
    gpu_memory_used_by_pid,
    rapl_delta_uj,
)

MAX_RANGE = 262143328850  # µJ: a real Intel package's max_energy_range_uj


def _zone(root: Path, zone: str, name: str, energy_uj: int | None, max_range: int | None = MAX_RANGE) -> Path:
    parent = root / zone.rsplit(":", 1)[0] if zone.count(":") == 2 else root
    d = parent / zone
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    if energy_uj is not None:
        (d / "energy_uj").write_text(f"{energy_uj}\n")
    if max_range is not None:
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
    if zone.count(":") == 2:
        (root / zone).symlink_to(d)  # sysfs also links subzones at the top
    return d


def _set(d: Path, energy_uj: int) -> None:
    (d / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def powercap(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "powercap"
    root.mkdir()
    (root / "intel-rapl").mkdir()  # the control type directory ("enabled"), not a zone
    (root / "intel-rapl" / "enabled").write_text("1\n")
    zones = {
        "pkg0": _zone(root, "intel-rapl:0", "package-0", 1_000_000),
        "core0": _zone(root, "intel-rapl:0:0", "core", 500_000),
        "uncore0": _zone(root, "intel-rapl:0:1", "uncore", 100_000),
        "dram0": _zone(root, "intel-rapl:0:2", "dram", 2_000_000),
        "pkg1": _zone(root, "intel-rapl:1", "package-1", 5_000_000),
        "psys": _zone(root, "intel-rapl:2", "psys", 9_000_000),
        "mmio": _zone(root, "intel-rapl-mmio:0", "package-0", 1_000_000),
        "root": root,
    }
    return zones


class FakeNVML:
    """Stands in for pynvml + the NVIDIA driver (not on this machine): same function names,
    values replayed from a recorded sequence per GPU (mJ since driver load). Each read takes
    the next value: detect() reads once (to check the counter exists), then start(), stop()."""

    class NVMLError(Exception):
        pass

    class Proc:
        def __init__(self, pid: int, used: int | None):
            self.pid, self.usedGpuMemory = pid, used

    def __init__(self, sequences: list[list[int]], names: list[str] | None = None, init_error: str | None = None,
                 procs: list[list[tuple[int, int | None]]] | None = None, unsupported: set[int] = frozenset()):
        self.sequences = [list(s) for s in sequences]
        self.names = names or ["NVIDIA H100 80GB HBM3"] * len(sequences)
        self.init_error = init_error
        self.procs = procs or [[] for _ in sequences]
        self.unsupported = unsupported
        self.reads = 0

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.sequences)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return self.names[h].encode()  # older pynvml returns bytes

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if h in self.unsupported:
            raise self.NVMLError("Not Supported")
        self.reads += 1
        seq = self.sequences[h]
        return seq.pop(0) if len(seq) > 1 else seq[0]

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [self.Proc(pid, used) for pid, used in self.procs[h]]


# Recorded on the H100 (see module docstring): successive refreshes of the total-energy counter.
H100_IDLE = [13309485, 13317007, 13324546, 13332091, 13339910]


def _no_gpu() -> FakeNVML:
    return FakeNVML([], init_error="NVML Shared Library Not Found")


# ------------------------------------------------------------------------------------- RAPL


def test_rapl_multi_domain_counts_packages_and_dram_once(powercap):
    domains, reason, notes = find_rapl_domains(powercap["root"])
    assert reason is None
    assert [(d.zone, d.name) for d in domains] == [("intel-rapl:0", "package-0"), ("intel-rapl:0:2", "dram"),
                                                   ("intel-rapl:1", "package-1")]
    text = " ".join(notes)
    assert "intel-rapl:0:0 (core) not added" in text and "psys" in text and "intel-rapl-mmio:0 skipped" in text

    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    meter.start()
    _set(powercap["pkg0"], 1_000_000 + 3_000_000)      # +3 J
    _set(powercap["dram0"], 2_000_000 + 500_000)       # +0.5 J
    _set(powercap["pkg1"], 5_000_000 + 1_500_000)      # +1.5 J
    _set(powercap["core0"], 500_000 + 2_900_000)       # inside pkg0: must not be added
    _set(powercap["psys"], 9_000_000 + 10_000_000)     # overlaps: must not be added
    s = meter.stop()
    assert s.label == "measured"
    assert s.joules == pytest.approx(5.0)
    assert s.parts == {"cpu": pytest.approx(5.0)}
    assert "RAPL intel-rapl:0 (package-0), intel-rapl:0:2 (dram), intel-rapl:1 (package-1)" == s.source
    d = meter.describe()
    assert d["cpu"]["method"] == "RAPL" and len(d["cpu"]["domains"]) == 3 and d["gpu"]["method"] is None


def test_rapl_wrap_is_corrected(powercap):
    start = MAX_RANGE - 1_000_000          # 1 J before the top
    for key in ("pkg0", "dram0", "pkg1"):
        _set(powercap[key], start)
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    meter.start()
    _set(powercap["pkg0"], 4_000_000)      # wrapped: 1 J to the top + 4 J after = 5 J
    _set(powercap["dram0"], start + 250_000)
    _set(powercap["pkg1"], start + 750_000)
    s = meter.stop()
    assert s.joules == pytest.approx(5.0 + 0.25 + 0.75)
    assert rapl_delta_uj(MAX_RANGE - 10, 5, MAX_RANGE) == 15
    assert rapl_delta_uj(100, 50, None) is None


def test_rapl_poll_survives_two_wraps(powercap):
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    _set(powercap["pkg0"], 0)
    meter.start()
    total = 0
    for value in (MAX_RANGE - 5_000_000, 2_000_000, MAX_RANGE - 1_000_000, 3_000_000):  # two wraps
        _set(powercap["pkg0"], value)
        meter.poll()
    total = (MAX_RANGE - 5_000_000) + (5_000_000 + 2_000_000) + (MAX_RANGE - 1_000_000 - 2_000_000) + (1_000_000 + 3_000_000)
    s = meter.stop()
    assert s.joules == pytest.approx(total / 1e6)


def test_rapl_wrap_without_range_is_unavailable_not_zero(powercap):
    (powercap["pkg0"] / "max_energy_range_uj").unlink()
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    meter.start()
    _set(powercap["pkg0"], 10)
    s = meter.stop()
    assert s.label == "unavailable" and s.joules is None
    assert "went backwards" in s.source


def test_rapl_absent(tmp_path):
    meter = EnergyMeter.detect(powercap_root=str(tmp_path / "nope"), nvml=_no_gpu())
    meter.start()
    s = meter.stop()
    assert (s.joules, s.label) == (None, "unavailable")
    assert "no " in s.source and "powercap" in s.source and "NVML" in s.source


def test_rapl_unreadable_counter_falls_through(tmp_path):
    # Tests run as root, where chmod 000 does not stop a read: an energy_uj that is a directory
    # is unreadable for everyone.
    root = tmp_path / "powercap"
    root.mkdir()
    d = _zone(root, "intel-rapl:0", "package-0", None)
    (d / "energy_uj").mkdir()
    meter = EnergyMeter.detect(powercap_root=str(root), nvml=_no_gpu())
    assert meter.rapl == [] and "unreadable" in meter.cpu_reason
    meter.start()
    s = meter.stop()
    assert s.joules is None and s.label == "unavailable" and "unreadable" in s.source


def test_rapl_permission_denied_falls_through(powercap, monkeypatch):
    # What a non-root user meets on Linux >= 5.10 (energy_uj is 0400 root). As root, chmod cannot
    # produce it, so the module's open() raises it for energy_uj files.
    real_open = open

    def denying_open(path, *args, **kwargs):
        if str(path).endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(energy, "open", denying_open, raising=False)
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    assert meter.rapl == []
    assert "not readable by this user" in meter.cpu_reason and "CVE-2020-8694" in meter.cpu_reason
    meter.start()
    s = meter.stop()
    assert s.joules is None and s.label == "unavailable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_rapl_chmod_000_falls_through(powercap):
    (powercap["pkg0"] / "energy_uj").chmod(0)
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    assert meter.rapl == [] and "not readable" in meter.cpu_reason


# ------------------------------------------------------------------------------------- NVML


def test_nvml_recorded_sequence():
    nvml = FakeNVML([H100_IDLE])
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=nvml)
    meter.start()
    s = meter.stop()
    assert s.label == "measured"
    assert s.joules == pytest.approx((13324546 - 13317007) / 1e3)   # 7.539 J over one ~100 ms refresh
    assert s.parts == {"gpu": pytest.approx(7.539)}
    assert "NVML total energy GPU0 NVIDIA H100 80GB HBM3" in s.source
    assert "CPU not measured" in s.source
    assert meter.describe()["gpu"]["gpus"] == [{"index": 0, "name": "NVIDIA H100 80GB HBM3"}]


def test_nvml_sums_gpus_and_skips_one_without_counter():
    nvml = FakeNVML([[0, 1000, 3000], [0, 50_000, 50_500], [7, 9]], unsupported={2})
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=nvml)
    assert [g.index for g in meter.gpus] == [0, 1]
    assert any("GPU2: no total-energy counter" in n for n in meter.notes)
    meter.start()
    assert meter.stop().joules == pytest.approx(2.0 + 0.5)


def test_nvml_counter_reset_is_unavailable():
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=FakeNVML([[0, 5000, 100]]))
    meter.start()
    s = meter.stop()
    assert s.joules is None and s.label == "unavailable" and "backwards" in s.source


def test_nvml_absent_gives_reason():
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=FakeNVML([], init_error="Driver Not Loaded"))
    assert meter.gpus == [] and "Driver Not Loaded" in meter.gpu_reason


def test_rapl_and_nvml_combined(powercap):
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=FakeNVML([H100_IDLE[:3]]))
    meter.start()
    _set(powercap["pkg0"], 1_000_000 + 2_000_000)
    s = meter.stop()
    assert s.label == "measured"
    assert s.parts == {"cpu": pytest.approx(2.0), "gpu": pytest.approx(7.539)}
    assert s.joules == pytest.approx(9.539)
    assert s.source.startswith("RAPL intel-rapl:0 (package-0)") and "; NVML total energy GPU0" in s.source


def test_gpu_memory_used_by_pid():
    nvml = FakeNVML([[0], [0]], procs=[[(111, 2 * 2**30), (222, 5)], [(111, 2**20)]])
    assert gpu_memory_used_by_pid(111, nvml=nvml) == 2 * 2**30 + 2**20
    assert gpu_memory_used_by_pid(333, nvml=nvml) is None             # not on a GPU: not a made-up 0
    assert gpu_memory_used_by_pid(7, nvml=FakeNVML([[0]], procs=[[(7, None)]])) is None  # driver withholds it
    assert gpu_memory_used_by_pid(111, nvml=_no_gpu()) is None


# -------------------------------------------------------------------------------- estimated


def test_estimated_formula(tmp_path):
    meter = EnergyMeter.detect(tdp_watts=65, powercap_root=str(tmp_path), nvml=_no_gpu())
    meter.logical_cores = 4
    walls = iter([100.0, 102.0])            # 2 s elapsed
    cpus = iter([10.0, 13.0])               # 3 s of CPU: share 3 / (2 × 4) = 0.375
    meter._wall = lambda: next(walls)
    meter._cpu_clock = lambda: next(cpus)
    meter.start()
    s = meter.stop()
    assert s.label == "estimated"
    assert s.joules == pytest.approx(65 * 2.0 * 0.375)   # 48.75 J
    assert s.seconds == pytest.approx(2.0)
    assert "TDP 65 W × 2.000 s × CPU share 0.375" in s.source
    assert "3.000 s / (2.000 s × 4 logical cores)" in s.source


def test_estimated_share_is_clamped(tmp_path):
    meter = EnergyMeter.detect(tdp_watts=100, powercap_root=str(tmp_path), nvml=_no_gpu())
    meter.logical_cores = 1
    walls, cpus = iter([0.0, 1.0]), iter([0.0, 5.0])   # more CPU than cores × time (children, rounding)
    meter._wall, meter._cpu_clock = (lambda: next(walls)), (lambda: next(cpus))
    meter.start()
    assert meter.stop().joules == pytest.approx(100.0)


def test_gpu_measured_plus_cpu_estimated_is_estimated():
    meter = EnergyMeter.detect(tdp_watts=50, powercap_root="/nonexistent", nvml=FakeNVML([[0, 0, 10_000]]))
    meter.logical_cores = 2
    walls, cpus = iter([0.0, 1.0]), iter([0.0, 1.0])
    meter._wall, meter._cpu_clock = (lambda: next(walls)), (lambda: next(cpus))
    meter.start()
    s = meter.stop()
    assert s.label == "estimated"
    assert s.parts == {"cpu": pytest.approx(25.0), "gpu": pytest.approx(10.0)}


def test_bad_tdp():
    with pytest.raises(ValueError):
        EnergyMeter.detect(tdp_watts=0, nvml=_no_gpu())


def test_stop_before_start():
    with pytest.raises(RuntimeError):
        EnergyMeter.detect(nvml=_no_gpu()).stop()


# ------------------------------------------------------------------------- this very machine


_HAS_METER = EnergyMeter.detect().label == "measured"  # readable RAPL or an NVIDIA GPU


@pytest.mark.skipif(_HAS_METER, reason="this machine has a real energy meter (RAPL or NVML)")
def test_this_machine_is_unavailable_never_zero():
    """No RAPL here and no GPU: unavailable with a reason; with a TDP, an estimate; never 0."""
    meter = EnergyMeter.detect()
    meter.start()
    s = meter.stop()
    assert isinstance(s, EnergySample)
    assert s.label == "unavailable" and s.joules is None and s.watts is None
    assert "CPU:" in s.source and "GPU:" in s.source and "cpu_tdp_watts" in s.source
    assert meter.describe()["label"] == "unavailable"

    meter = EnergyMeter.detect(tdp_watts=35)
    meter.start()
    sum(i * i for i in range(200_000))
    s = meter.stop()
    assert s.label == "estimated" and s.joules is not None and s.joules > 0
    assert s.to_dict()["watts"] <= 35 + 1e-9


def test_start_stop_are_cheap_without_nvml(powercap):
    import time

    for meter in (EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu()),
                  EnergyMeter.detect(tdp_watts=65, nvml=_no_gpu()), EnergyMeter.detect(nvml=_no_gpu())):
        t = time.perf_counter()
        for _ in range(200):
            meter.start()
            meter.stop()
        assert (time.perf_counter() - t) / 200 < 1e-3


# -------------------------------------------------------- estimates say where their power comes from


class PowerNVML(FakeNVML):
    """A GPU without a total-energy counter (before Volta) that reports its draw, or only its limit."""

    def __init__(self, draws_mw: list[int] | None, limit_mw: int = 250_000):
        super().__init__([[0]], names=["Tesla P100-PCIE-16GB"], unsupported={0})
        self.draws, self.limit = draws_mw, limit_mw

    def nvmlDeviceGetPowerUsage(self, h):
        if self.draws is None:
            raise self.NVMLError("Not Supported")
        return self.draws.pop(0)

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return self.limit


def _clocked(meter: EnergyMeter, seconds: float, cpu_seconds: float = 0.0) -> EnergySample:
    walls, cpus = iter([0.0, seconds]), iter([0.0, cpu_seconds])
    meter._wall, meter._cpu_clock = (lambda: next(walls)), (lambda: next(cpus))
    meter.start()
    return meter.stop()


def test_estimate_names_its_tdp_source(tmp_path):
    meter = EnergyMeter.detect(tdp_watts=8, tdp_source="assumed: 4 W per logical core × 2", powercap_root=str(tmp_path),
                               nvml=_no_gpu())
    meter.logical_cores = 2
    s = _clocked(meter, 2.0, 2.0)                 # one of two cores busy for 2 s: 8 W × 2 s × 0.5
    assert s.label == "estimated" and s.joules == pytest.approx(8.0)
    assert "TDP 8 W (assumed: 4 W per logical core × 2) × 2.000 s × CPU share 0.500" in s.source
    desc = meter.describe()
    assert desc["cpu"]["tdp_source"].startswith("assumed")
    assert energy.meter_basis(desc) == ("CPU estimated: 8 W × this process's share of the cores "
                                        "(assumed: 4 W per logical core × 2); no GPU counted")


def test_gpu_without_counter_is_estimated_from_its_power_readings():
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=PowerNVML([30_000, 90_000, 130_000]))
    assert meter.gpus == [] and [g.name for g in meter.power_gpus] == ["Tesla P100-PCIE-16GB"]
    assert meter.label == "estimated"
    s = _clocked(meter, 2.0)                      # detect read 30 W; start 90 W, stop 130 W: mean 110 W × 2 s
    assert s.label == "estimated" and s.parts == {"gpu": pytest.approx(220.0)}
    assert "GPU estimated (no energy counter): GPU0 Tesla P100-PCIE-16GB 110.0 W (power reading) × 2.000 s" in s.source
    assert "CPU not measured" in s.source
    assert "GPU estimated from NVML power readings: GPU0" in energy.meter_basis(meter.describe())


def test_gpu_without_power_reading_uses_its_power_limit():
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=PowerNVML(None, limit_mw=250_000))
    s = _clocked(meter, 1.0)
    assert s.joules == pytest.approx(250.0) and "250.0 W (power limit)" in s.source


def test_meter_basis_of_measured_and_missing():
    assert energy.meter_basis(None) == "the energy meter was not recorded"
    assert energy.meter_basis({"cpu": {"method": "RAPL"}, "gpu": {"method": "NVML"}}) == \
        "CPU measured (RAPL); GPU measured (NVML energy counter)"
    assert energy.meter_basis({"cpu": {"method": None}, "gpu": {"method": None}}) == "CPU not counted; no GPU counted"


# ------------------------------------------------------------------------------- Apple Silicon


class FakeZeusAppleSilicon:
    """Stands in for the `zeus_apple_silicon` module (macOS only; not on this machine): same
    names, each window returning the next AppleEnergyMetrics from a list. The readings are
    stand-ins in the library's shape (mJ per window, None where a chip has no such counter),
    not recorded on Apple hardware."""

    class AppleEnergyMetrics:
        def __init__(self, **mj):
            for attr in ("cpu_total_mj", "efficiency_cores_mj", "performance_cores_mj", "dram_mj", "gpu_mj",
                         "gpu_sram_mj", "ane_mj"):
                setattr(self, attr, mj.get(attr))

    def __init__(self, windows: list[dict], fail: str | None = None):
        self.windows, self.fail, self.keys = list(windows), fail, []
        fake = self

        class AppleEnergyMonitor:
            def __init__(self):
                if fake.fail:
                    raise RuntimeError(fake.fail)

            def begin_window(self, key):
                fake.keys.append(("begin", key))

            def end_window(self, key):
                fake.keys.append(("end", key))
                return FakeZeusAppleSilicon.AppleEnergyMetrics(**fake.windows.pop(0))

        self.AppleEnergyMonitor = AppleEnergyMonitor


# One second of decoding on an M-series laptop, in the library's units (mJ).
APPLE_WINDOW = {"cpu_total_mj": 4200, "efficiency_cores_mj": [50, 40], "performance_cores_mj": [2000, 1900],
                "dram_mj": 600, "gpu_mj": 9000, "gpu_sram_mj": 100, "ane_mj": None}


def test_apple_silicon_counters_are_measured():
    zas = FakeZeusAppleSilicon([APPLE_WINDOW, {**APPLE_WINDOW, "cpu_total_mj": 1000}])
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=_no_gpu(), apple=zas)
    assert meter.label == "measured"
    meter.start()
    s = meter.stop()
    assert s.label == "measured"
    assert s.parts == {"cpu": pytest.approx(4.2), "gpu": pytest.approx(9.1), "dram": pytest.approx(0.6)}
    assert s.joules == pytest.approx(13.9)
    assert "Apple SoC energy counters (zeus-apple-silicon): cpu_total, gpu, gpu_sram, dram" in s.source
    assert "not yet verified on Apple hardware" in s.source
    meter.start()
    assert meter.stop().parts["cpu"] == pytest.approx(1.0)
    assert zas.keys == [("begin", "bakeoff-1"), ("end", "bakeoff-1"), ("begin", "bakeoff-2"), ("end", "bakeoff-2")]
    desc = meter.describe()
    assert desc["cpu"]["verified_on_hardware"] is False
    assert energy.meter_basis(desc).startswith("CPU, GPU, DRAM and Neural Engine measured (Apple SoC")


def test_apple_silicon_without_a_cpu_figure_is_unavailable():
    meter = EnergyMeter.detect(powercap_root="/nonexistent", nvml=_no_gpu(),
                               apple=FakeZeusAppleSilicon([{"gpu_mj": 10}]))
    meter.start()
    s = meter.stop()
    assert s.joules is None and s.label == "unavailable" and "no CPU figure" in s.source


def test_apple_silicon_refused_falls_back_to_the_estimate(tmp_path):
    meter = EnergyMeter.detect(tdp_watts=20, powercap_root=str(tmp_path), nvml=_no_gpu(),
                               apple=FakeZeusAppleSilicon([], fail="IOReport channel not found"))
    assert meter.apple is None and meter.label == "estimated"
    assert "IOReport channel not found" in meter.cpu_reason


def test_off_apple_silicon_the_library_is_not_used(powercap):
    """Off Apple Silicon the library is not even imported: RAPL (or the estimate) is used."""
    meter = EnergyMeter.detect(powercap_root=str(powercap["root"]), nvml=_no_gpu())
    assert meter.apple is None and meter.rapl
    assert energy.find_apple_monitor() == (None, "not Apple Silicon")
