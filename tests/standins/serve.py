"""Serves the OpenAI stand-in from its own process until SIGTERM, for a test whose client runs in
another network namespace (the Ray tests): ``python tests/standins/serve.py DIR CHUNK_DELAY_S``
writes DIR/url once listening and DIR/seen.json (requests, max streams in flight) at the end."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for conftest and standins

from standins.base import StandInServer, StandInState  # noqa: E402
from standins.openai_api import make_app  # noqa: E402


def main() -> None:
    out, delay = Path(sys.argv[1]), float(sys.argv[2])
    state = StandInState(chunk_delay_s=delay)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with StandInServer(make_app(state, ["gpt-standin"]), state) as server:
        (out / "url").write_text(server.url)
        stop.wait()
    generations = [r for r in state.requests if r.path.endswith("/chat/completions")]
    (out / "seen.json").write_text(json.dumps({"generations": len(generations), "max_in_flight": state.max_in_flight}))


if __name__ == "__main__":
    main()
