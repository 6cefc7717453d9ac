"""Serving the viewer: uvicorn on the loopback interface only, never on a public address."""

from __future__ import annotations

import socket
from pathlib import Path

from bakeoff.errors import InputError

HOST = "127.0.0.1"


def serve(db_path: str | Path, port: int = 8765, on_ready=None) -> None:
    import uvicorn

    from bakeoff.web.app import create_app

    app = create_app(db_path)  # raises InputError for a missing database before binding
    with socket.socket() as probe:  # a clear message instead of uvicorn's traceback
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {HOST}:{port} ({exc.strerror}); pick another port with --port") from None
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if on_ready:
        on_ready(f"http://{HOST}:{port}/")
    server.run()
