"""bakeoff.web.app directly: the viewer's Starlette app called in process (ASGI, no socket), on a
database of hostile answers: pages escape them, the Host and Origin checks hold, and a blind
rating is stored through its one-time token."""

from __future__ import annotations

import asyncio
import html
import re
import sqlite3
from urllib.parse import urlencode

import pytest

from bakeoff.errors import InputError
from bakeoff.web.app import create_app
from report_db import HOSTILE_SPECS, PAYLOAD, add_hostile_trials


@pytest.fixture
def app(tmp_path):
    db = tmp_path / "v.db"
    add_hostile_trials(db)
    return create_app(db), db


def call(app, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, dict, str]:
    """One HTTP request through the ASGI interface, as uvicorn would make it."""
    path, _, query = path.partition("?")
    head = {"host": "127.0.0.1:8765", **{k.replace("_", "-"): v for k, v in headers.items()}}
    if body:
        head["content-type"] = "application/x-www-form-urlencoded"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": [(k.encode(), v.encode()) for k, v in head.items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8765)}
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    out: dict = {"body": b""}

    async def receive():
        return sent.pop(0) if sent else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"], out["body"].decode()


def test_pages_show_hostile_answers_as_text_with_a_nonce_csp(app):
    viewer, _ = app
    status, headers, page = call(viewer, "GET", "/compare?" + urlencode({"x": HOSTILE_SPECS[0], "y": HOSTILE_SPECS[1]}))
    assert status == 200
    assert PAYLOAD not in page and "&lt;script&gt;window.__pwned = 1; document.title =" in page
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["content-security-policy"]).group(1)
    assert all(n == nonce for n in re.findall(r'<script nonce="([^"]+)"', page))
    assert call(viewer, "GET", "/trial/hostile-0-1")[0] == 200
    assert call(viewer, "GET", "/trial/no-such-trial")[0] == 404


def test_trials_are_filtered_by_verdict(app):
    viewer, _ = app
    _, _, page = call(viewer, "GET", "/trials?verdict=error")
    assert "xss-error" in page and "hostile-0-1" not in page


def test_another_host_name_is_refused(app):
    viewer, _ = app
    assert call(viewer, "GET", "/", host="rebind.example.com")[0] == 400
    assert call(viewer, "GET", "/", host="localhost:8765")[0] == 200


def test_a_blind_rating_is_stored_once_and_revealed(app):
    viewer, db = app
    _, _, form = call(viewer, "GET", "/rate")
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    assert "ANSWER-FROM-EVIL-A" in form and "ANSWER-FROM-EVIL-B" in form  # the two answers, side by side
    cross = call(viewer, "POST", "/rate", urlencode({"token": token, "verdict": "a"}).encode(),
                 origin="http://evil.example.com")
    assert cross[0] == 403
    status, headers, _ = call(viewer, "POST", "/rate", urlencode({"token": token, "verdict": "a"}).encode(),
                              origin="http://127.0.0.1:8765")
    assert status == 303 and headers["location"].startswith("/rated/")
    with sqlite3.connect(db) as conn:
        (winner, verdict), = conn.execute("SELECT winner_spec, verdict FROM ratings").fetchall()
    assert verdict == "a" and winner in HOSTILE_SPECS
    _, _, reveal = call(viewer, "GET", headers["location"])
    assert "Rated: A is better" in reveal and html.escape(winner).replace("&quot;", "&#34;") in reveal
    again = call(viewer, "POST", "/rate", urlencode({"token": token, "verdict": "b"}).encode())
    assert again[0] == 303 and again[1]["location"] == "/rate"  # the token was used up
    assert call(viewer, "POST", "/rate", urlencode({"token": token, "verdict": "maybe"}).encode())[0] == 400


def test_a_missing_database_is_refused_before_serving(tmp_path):
    with pytest.raises(InputError):
        create_app(tmp_path / "absent.db")
