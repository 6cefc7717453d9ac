"""bakeoff.measure.memory directly: the peak resident memory of this process between reset()
and peak(), by the kernel's high-water mark and by sampling, and GPU memory where NVML exists."""

from __future__ import annotations

import time

import pytest

from bakeoff.measure.memory import GpuMemoryPeak, PeakRSS, current_rss

MIB = 2**20


@pytest.mark.parametrize("method", ["VmHWM", "sampled"])
def test_a_spike_freed_before_peak_is_still_counted(method):
    rss = PeakRSS()
    if method == "sampled":
        rss.method = "sampled"  # the fallback used where the kernel's mark cannot be reset
    rss.reset()
    before = current_rss()
    spike = bytearray(300 * MIB)
    spike[::4096] = b"x" * len(spike[::4096])  # touch every page
    time.sleep(0.05)
    del spike
    assert rss.peak() >= before + 250 * MIB
    rss.reset()
    assert rss.peak() < before + 250 * MIB  # the next measurement starts afresh


def test_gpu_peak_is_measured_or_says_why_not():
    with GpuMemoryPeak(interval_s=0.01) as gpu:
        time.sleep(0.05)
    if gpu.available:
        assert gpu.peak >= gpu.baseline and gpu.peak_above_baseline >= 0
    else:
        assert gpu.reason and gpu.peak_above_baseline is None
