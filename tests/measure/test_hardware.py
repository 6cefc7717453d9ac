"""bakeoff.measure.hardware directly: the environment a run is stored with describes this machine."""

from __future__ import annotations

import json
import os
from importlib.metadata import version

import psutil

from bakeoff import __version__
from bakeoff.measure.hardware import environment


def test_environment_describes_this_machine_and_serialises():
    env = environment()
    hw = env["hardware"]
    assert hw["cores_logical"] == os.cpu_count()
    assert abs(hw["memory_gb"] - psutil.virtual_memory().total / 2**30) < 0.1
    assert hw["cpu"] and isinstance(hw["gpus"], list)
    cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "model name" in cpuinfo:  # Linux names the CPU model; elsewhere platform.processor() does
        assert f"model name\t: {hw['cpu']}" in cpuinfo
    assert env["versions"]["bakeoff"] == __version__
    assert env["versions"]["llama-cpp-python"] == version("llama-cpp-python")
    assert env["pid"] == os.getpid() and env["os"]["system"] == os.uname().sysname
    assert json.loads(json.dumps(env)) == env
