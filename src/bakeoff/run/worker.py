"""The worker subprocess that hosts one in-process engine (llama.cpp, ...).

Keeping the model out of the main process means its memory is measured against a clean
baseline, a crash or abort in native code becomes an error trial instead of killing the run,
and a hang can be ended by killing the process.

Protocol: JSON lines. Requests arrive on stdin: ``{"op": "load", "engine": "pkg.mod:Class",
"model_path": ..., "options": {...}}``, ``{"op": "generate", "request": {...}}``,
``{"op": "call", "method": name, "args": {...}}`` (an engine method listed in its
``rpc_methods``, e.g. the speed protocol), ``{"op": "close"}``. Replies go to the original
stdout, which is moved to a private file
descriptor first, because native libraries print to fd 1 and would corrupt the stream.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback


def _protocol_stream():
    proto_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed to stdout now lands in stderr
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", buffering=1)


class BatchingEmitter:
    """Sends token events in batches (at most every 0.1 s) and everything else at once.

    Each event keeps the timestamp taken when its token appeared, so batching changes no
    figure; it only spares the parent a wake-up per token, which on a small machine would
    take CPU from the engine's threads and slow the very decoding being measured.
    """

    def __init__(self, send, interval_s: float = 0.1):
        self.send = send
        self.interval_s = interval_s
        self.buffer: list[dict] = []
        self.last = time.perf_counter()

    def __call__(self, event: dict) -> None:
        self.buffer.append(event)
        if event["type"] not in ("content", "reasoning") or time.perf_counter() - self.last >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.send({"type": "batch", "events": self.buffer})
            self.buffer = []
        self.last = time.perf_counter()


def main() -> int:
    from bakeoff.measure.energy import EnergyMeter, gpu_memory_used_by_pid
    from bakeoff.measure.memory import PeakRSS, current_rss

    out = _protocol_stream()

    def send(event: dict) -> None:
        out.write(json.dumps(event) + "\n")

    peak = PeakRSS()
    engine = meter = None
    baseline = current_rss()
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        try:
            if op == "load":
                module, _, cls = msg["engine"].partition(":")
                engine_cls = getattr(importlib.import_module(module), cls)
                baseline = current_rss()  # after imports, before the model
                peak.reset()
                t0 = time.perf_counter()
                engine = engine_cls(msg["model_path"], msg["options"])
                facts = engine.load()
                load_ms = (time.perf_counter() - t0) * 1000
                meter = EnergyMeter.detect(tdp_watts=msg.get("tdp_watts"), tdp_source=msg.get("tdp_source"),
                                           pid=os.getpid())
                facts["energy_meter"] = meter.describe()
                send({"type": "loaded", "facts": facts, "load_ms": load_ms,
                      "baseline_mb": baseline / 2**20,
                      "load_peak_mb": (peak.peak() - baseline) / 2**20,
                      "loaded_rss_mb": (current_rss() - baseline) / 2**20,
                      "memory_method": peak.method, "pid": os.getpid()})
            elif op == "generate":
                peak.reset()
                emitter = BatchingEmitter(send)
                meter.start()  # outside the trial's clock: an NVML read costs milliseconds
                try:
                    engine.generate(msg["request"], emitter)
                finally:
                    emitter.flush()
                send({"type": "energy", **meter.stop().to_dict()})
                gpu = gpu_memory_used_by_pid(os.getpid()) if meter.gpus else None
                send({"type": "memory", "peak_mb": (peak.peak() - baseline) / 2**20,
                      "method": peak.method, "gpu_mb": gpu / 2**20 if gpu is not None else None})
                send({"type": "done"})
            elif op == "call":
                if msg["method"] not in getattr(engine, "rpc_methods", ()):
                    raise ValueError(f"the engine has no method {msg['method']!r}")
                peak.reset()
                meter.start()
                value = getattr(engine, msg["method"])(**msg["args"])
                send({"type": "result", "value": value, "energy": meter.stop().to_dict(),
                      "peak_mb": (peak.peak() - baseline) / 2**20, "memory_method": peak.method})
            elif op == "close":
                if engine is not None:
                    engine.close()
                send({"type": "closed"})
                return 0
        except Exception as exc:  # reported to the parent, which records an error trial
            send({"type": "error", "message": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()})
            if op == "load":
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
