"""bakeoff.web.serve directly: the viewer listens on the loopback interface only, and says
plainly when its port is taken or its database is missing (before binding anything)."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest

from bakeoff.errors import InputError
from bakeoff.web.serve import HOST, serve
from conftest import free_port, wait_for
from report_db import add_hostile_trials

SERVE = "import sys; from bakeoff.web.serve import serve; serve(sys.argv[1], int(sys.argv[2]), on_ready=print)"


def test_a_taken_port_and_a_missing_database_are_input_errors(tmp_path):
    db = tmp_path / "v.db"
    add_hostile_trials(db)
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port} .*pick another port with --port"):
            serve(db, port)
    with pytest.raises(InputError):
        serve(tmp_path / "absent.db", free_port())


def test_the_viewer_serves_on_loopback_only(tmp_path):
    db = tmp_path / "v.db"
    add_hostile_trials(db)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-u", "-c", SERVE, str(db), str(port)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/"  # on_ready, before serving

        def listening():
            try:
                return [c for c in psutil.Process(proc.pid).net_connections("tcp") if c.status == "LISTEN"]
            except psutil.Error:
                return []

        sockets = wait_for(listening, timeout=30, what="the viewer to listen")
        assert {c.laddr.ip for c in sockets} == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and "hostile0run" in page.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
