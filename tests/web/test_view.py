"""`bakeoff view` in real headless Chromium: blind A/B rating by keyboard, stored with the right
winner; hostile answers shown as text; loopback only; writes only by same-origin POST."""

import json
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from browser import browser_context
from conftest import bakeoff, free_port, wait_for
from report_db import HOSTILE_CASE, HOSTILE_OUTPUTS, HOSTILE_SPECS, SPECS, add_hostile_trials, assert_inert, copy_db, real_db

pytestmark = pytest.mark.slow  # a real bake-off (smollm2-135m) is built for these tests


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def viewer(tmp_path_factory, tmp_path, smollm2):
    db = copy_db(real_db(tmp_path_factory), tmp_path / "v.db")
    add_hostile_trials(db)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bakeoff", "view", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=60, what="bakeoff view to listen")
        assert proc.poll() is None, proc.communicate()
        yield {"url": f"http://127.0.0.1:{port}", "db": db, "proc": proc, "port": port}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ratings(db) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM ratings ORDER BY id")]
    finally:
        conn.close()


def _trial(db, trial_id) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone())
    finally:
        conn.close()


def test_blind_rating_by_keyboard_is_stored_with_the_right_winner(viewer):
    url, db = viewer["url"], viewer["db"]
    query = urllib.parse.urlencode({"x": SPECS[0], "y": SPECS[1]})
    with browser_context() as context:
        page = context.new_page()
        page.goto(f"{url}/rate?{query}")
        shown_a, shown_b = page.inner_text("#output-a"), page.inner_text("#output-b")
        # Blind: the answers' area names no contender, and no trial id is in the page.
        answers = page.inner_text(".two")
        assert SPECS[0] not in answers and SPECS[1] not in answers and "temperature" not in answers
        blind_page = page.content()
        page.keyboard.press("a")
        page.wait_for_url("**/rated/*")
        (r,) = _ratings(db)
        trial_a, trial_b = _trial(db, r["trial_a"]), _trial(db, r["trial_b"])
        assert r["trial_a"] not in blind_page and r["trial_b"] not in blind_page
        assert trial_a["output"].strip() == shown_a.strip() and trial_b["output"].strip() == shown_b.strip()
        assert (r["verdict"], r["spec_a"], r["spec_b"]) == ("a", trial_a["spec"], trial_b["spec"])
        assert r["winner_spec"] == trial_a["spec"] and {r["spec_a"], r["spec_b"]} == set(SPECS)
        assert r["swapped"] == int(r["spec_a"] > r["spec_b"]) and r["created_at"]
        # Un-blinded after the verdict.
        assert page.inner_text("#spec-a") == r["spec_a"] and page.inner_text("#winner") == r["spec_a"]

        # Next pair with n, then "both bad" with x: no winner.
        page.keyboard.press("n")
        page.wait_for_url("**/rate?*")
        page.wait_for_selector("#output-a")
        page.keyboard.press("x")
        page.wait_for_url("**/rated/*")
        second = _ratings(db)[1]
        assert (second["verdict"], second["winner_spec"]) == ("both_bad", None)
        assert {second["spec_a"], second["spec_b"]} == set(SPECS)

        # Win rates beside the checks: in the viewer and in the JSON report.
        page.goto(f"{url}/")
        rows = {line.split("\t")[0]: line for line in page.inner_text("table.board tbody").splitlines()}
        assert "\t50% (1/2)\t" in rows[r["winner_spec"]]          # won 1 of its 2 ratings
        assert "\t0% (0/2)\t" in rows[next(s for s in SPECS if s != r["winner_spec"])]
    report = json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)
    human = {c["spec"]: c["human"] for c in report["contenders"]}
    assert human[r["winner_spec"]]["wins"] == 1 and human[r["winner_spec"]]["rated"] == 2
    loser = next(s for s in SPECS if s != r["winner_spec"])
    assert human[loser]["wins"] == 0 and human[loser]["both_bad"] == 1
    assert report["ratings"]["ratings"] == 2


def test_hostile_answers_stay_text_in_every_viewer_page(viewer):
    url, db = viewer["url"], viewer["db"]
    query = urllib.parse.urlencode({"x": HOSTILE_SPECS[0], "y": HOSTILE_SPECS[1]})
    with browser_context() as context:
        page = context.new_page()
        page.goto(f"{url}/rate?{query}")
        assert_inert(page, "blind A/B · bakeoff view")
        shown_a = page.inner_text("#output-a")
        assert "<script>window.__pwned = 1" in shown_a and '<a href="javascript:window.__pwned = 3">' in shown_a
        a_spec = next(s for s, text in HOSTILE_OUTPUTS.items() if shown_a.startswith(text.split(" ")[0]))
        page.keyboard.press("b")
        page.wait_for_url("**/rated/*")
        assert_inert(page, "rated · bakeoff view")
        (r,) = _ratings(db)
        b_spec = next(s for s in HOSTILE_SPECS if s != a_spec)
        assert (r["spec_a"], r["winner_spec"]) == (a_spec, b_spec)
        assert page.inner_text("#winner") == b_spec       # the hostile name, as text

        for path, title in [("/", "bakeoff view"), ("/trials?case=xss", "trials · bakeoff view"),
                            ("/trial/hostile-0-0", f"{HOSTILE_CASE} · bakeoff view"),   # the case id, as text
                            ("/trial/hostile-1-error", "xss-error · bakeoff view"),
                            (f"/compare?{query}", "compare · bakeoff view"), ("/ratings", "ratings · bakeoff view")]:
            page.goto(url + path)
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert_inert(page, title)
            assert "<script>window.__pwned" in page.inner_text("body"), path


def test_viewer_listens_on_loopback_and_refuses_cross_site_writes(viewer):
    url, db, port = viewer["url"], viewer["db"], viewer["port"]
    listening = [c.laddr for c in psutil.Process(viewer["proc"].pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening) and {a.port for a in listening} == {port}

    page = urllib.request.urlopen(f"{url}/rate").read().decode()
    token = page.split('name="token" value="')[1].split('"')[0]

    def post(headers: dict, token: str = token):
        req = urllib.request.Request(f"{url}/rate", data=urllib.parse.urlencode({"token": token, "verdict": "a"}).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, resp.url
        except urllib.error.HTTPError as exc:
            return exc.code, None

    assert post({"Origin": "http://evil.example"})[0] == 403
    assert post({"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert post({"Host": "evil.example"})[0] == 400          # DNS rebinding: foreign Host header
    assert _ratings(db) == []
    status, landed = post({}, token="not-a-token")             # unknown token: a new pair, nothing stored
    assert status == 200 and "/rate" in landed and _ratings(db) == []
    try:
        urllib.request.urlopen(urllib.request.Request(f"{url}/rate?verdict=a&token={token}", method="GET"))
    except urllib.error.HTTPError:
        pass
    assert _ratings(db) == []                                   # GET never writes
    status, landed = post({"Origin": url})
    assert status == 200 and "/rated/" in landed and len(_ratings(db)) == 1
    assert post({"Origin": url})[1].endswith("/rate")          # the same token does not count twice
    assert len(_ratings(db)) == 1


def test_view_bad_input_is_exit_2(tmp_path):
    missing = bakeoff("view", "--db", tmp_path / "none.db", "--port", str(free_port()), timeout=60)
    assert missing.returncode == 2 and "no results database" in missing.stderr
