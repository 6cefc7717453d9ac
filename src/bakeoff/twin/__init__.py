"""Architecture twins: GGUFs with a real model's architecture and quantization but random
weights, for measuring its speed and memory on this machine without downloading it."""

from bakeoff.twin.build import Twin, build_twin, twins_dir

__all__ = ["Twin", "build_twin", "twins_dir"]
