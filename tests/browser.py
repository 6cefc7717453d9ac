"""Headless Debian Chromium for the report and viewer tests, driven by Playwright.

Playwright's own browser download (`playwright install`) is never used: it fetches from a
CDN. We start the system's /usr/bin/chromium (apt-get install chromium; `make test` does it)
with the flags that stop it from calling Google's hosts, and a fresh profile directory.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without these Chromium reaches out to Google (component updates, sync, field trials, QUIC
# probes, first-run pages); nothing may leave this machine.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-default-browser-check",
]


def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        raise AssertionError(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) "
                             "or `apt-get install -y chromium chromium-driver`")
    return CHROMIUM


@contextlib.contextmanager
def browser_context(viewport: tuple[int, int] = (1280, 900)):
    """A Playwright BrowserContext on headless system Chromium with a fresh --user-data-dir."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bakeoff-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True,
                viewport={"width": viewport[0], "height": viewport[1]})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def wait_js(page, expression: str, timeout: float = 30.0, interval: float = 0.05):
    """Poll a JavaScript expression until it is truthy; returns its value.

    Not Playwright's wait_for_function: its polling evaluates the predicate with eval() inside
    the page, which the report's and the viewer's Content-Security-Policy rightly forbid.
    page.evaluate goes through the DevTools protocol and is not subject to the page's CSP.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {expression}")
        time.sleep(interval)
