"""An engine for the worker protocol's tests (bakeoff.run.worker, bakeoff.backends._subprocess):
it answers with the words of the last message, and the words ``raise``, ``die`` and ``hang``
make it fail the ways a native engine does. It prints to stdout as native libraries do, which
must not reach the protocol stream."""

from __future__ import annotations

import os
import sys
import time


class EchoEngine:
    rpc_methods = ("add",)

    def __init__(self, model_path: str, options: dict):
        self.model_path, self.options = model_path, options

    def load(self) -> dict:
        print("loader chatter on stdout")
        if self.options.get("fail_load"):
            raise RuntimeError("no such weights")
        return {"engine": "echo", "model_path": self.model_path}

    def generate(self, req: dict, emit) -> None:
        text = req["messages"][-1]["content"]
        print("decoder chatter on stdout")
        if text == "raise":
            raise ValueError("bad request")
        if text == "die":
            sys.stderr.write("ggml: fatal error in the native code\n")
            sys.stderr.flush()
            os._exit(3)
        if text == "hang":
            time.sleep(120)
        emit({"type": "prompt", "text": text, "tokens": len(text.split()), "t": time.perf_counter()})
        for word in text.split():
            emit({"type": "content", "text": word + " ", "t": time.perf_counter()})
        emit({"type": "finish", "reason": "stop", "t": time.perf_counter()})

    def add(self, a: int, b: int) -> int:
        return a + b

    def not_remote(self) -> None:
        """A method the worker must refuse: it is not listed in rpc_methods."""

    def close(self) -> None:
        print("closing")
