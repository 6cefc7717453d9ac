"""bakeoff.backends._server on its own: the Retry-After forms servers send, which HTTP statuses
are retried, the backoff's bounds, and the retry loop around one attempt (its ``retry`` events,
giving up, and the key kept out of every message)."""

from __future__ import annotations

import email.utils
import time

import pytest

from backend_calls import events
from bakeoff.backends._server import (
    Retryable, ServerBackend, ServerOptions, backoff_seconds, retry_after_seconds, status_failure,
)
from bakeoff.backends.base import BackendError, GenerationRequest

KEY = "sk-test-0123456789abcdef0123"


def test_retry_after_reads_milliseconds_seconds_and_an_http_date():
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # the finer one wins
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0  # never a negative wait
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= retry_after_seconds({"retry-after": in_ten}) <= 10.0
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert retry_after_seconds({"retry-after": past}) == 0.0


def test_retry_after_is_none_when_absent_or_unreadable():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon, maybe"}) is None
    assert retry_after_seconds({"retry-after-ms": "lots"}) is None


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529, 599])
def test_rate_limits_and_server_errors_are_retried(status):
    failure = status_failure(status, "busy", {"retry-after": "2"})
    assert isinstance(failure, Retryable)
    assert failure.reason == f"HTTP {status}: busy" and failure.retry_after == 2.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_fail_at_once(status):
    failure = status_failure(status, "bad request " * 100)
    assert isinstance(failure, BackendError) and not isinstance(failure, Retryable)
    assert str(failure).startswith(f"HTTP {status}: bad request") and len(str(failure)) <= 400


def test_backoff_grows_with_the_attempt_and_stays_under_the_cap():
    for attempt in range(8):
        waits = [backoff_seconds(attempt, base=0.5, cap=20.0) for _ in range(200)]
        assert all(0 <= w <= min(20.0, 0.5 * 2 ** attempt) for w in waits)
    assert max(backoff_seconds(10) for _ in range(200)) > 1.0  # full jitter up to the cap, not stuck at base


class ScriptedServer(ServerBackend):
    """One attempt per entry of ``script``: an exception to raise, or the text to stream."""

    name = "scripted"
    key_env = ("SCRIPTED_TEST_KEY",)

    def __init__(self, script, **options):
        super().__init__("m", ServerOptions(**options))
        self.script = list(script)
        self.attempts = 0

    async def aload(self):
        return {}

    async def astream(self, request):
        self.attempts += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        yield {"type": "text", "text": step}


@pytest.fixture(autouse=True)
def key(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRIPTED_TEST_KEY", KEY)
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "cfg"))


REQUEST = GenerationRequest(messages=[{"role": "user", "content": "hi"}])


def test_a_retried_attempt_is_an_event_with_the_servers_wait_and_no_key():
    backend = ScriptedServer([Retryable(f"HTTP 429: slow down, key {KEY}", retry_after=0.01), "answer"])
    log = events(backend, REQUEST)
    assert [e["type"] for e in log] == ["retry", "text"]
    assert log[0]["attempt"] == 1 and log[0]["wait_s"] == 0.01
    assert KEY not in log[0]["reason"] and "[REDACTED]" in log[0]["reason"]
    assert log[1]["text"] == "answer" and backend.attempts == 2


def test_retries_run_out_into_a_backend_error_naming_the_attempts():
    backend = ScriptedServer([Retryable("HTTP 503: down", retry_after=0)] * 3, retries=2)
    with pytest.raises(BackendError, match=r"gave up after 3 attempt\(s\): HTTP 503: down"):
        events(backend, REQUEST)
    assert backend.attempts == 3


def test_a_backend_error_is_not_retried_and_is_redacted():
    backend = ScriptedServer([BackendError(f"HTTP 401: bad key {KEY}"), "never"])
    with pytest.raises(BackendError) as caught:
        events(backend, REQUEST)
    assert KEY not in str(caught.value) and backend.attempts == 1


def test_key_source_and_facts_never_hold_the_key():
    backend = ScriptedServer([])
    assert backend.api_key == KEY
    assert backend.key_fact() == {"api_key": "env:SCRIPTED_TEST_KEY"}


def test_base_url_takes_a_bare_host_port_and_drops_the_trailing_slash(monkeypatch):
    from bakeoff.errors import InputError

    ScriptedServer.base_url_env = "SCRIPTED_TEST_HOST"
    try:
        monkeypatch.setenv("SCRIPTED_TEST_HOST", "127.0.0.1:9999")
        assert ScriptedServer([]).base_url == "http://127.0.0.1:9999"
        assert ScriptedServer([], base_url="https://proxy.example/v1/").base_url == "https://proxy.example/v1"
        monkeypatch.delenv("SCRIPTED_TEST_HOST")
        with pytest.raises(InputError, match="no server address"):
            ScriptedServer([]).base_url
        assert ScriptedServer([]).cache_scope() == "scripted:m"  # no address: the contender itself
    finally:
        ScriptedServer.base_url_env = None
