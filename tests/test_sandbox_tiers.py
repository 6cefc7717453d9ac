"""Choosing the sandbox tier: the refusal where only rlimits is left (and the opt-in, recorded and
warned about in every report), the tier told once and stored with the run, and the two tiers
whose command this machine cannot run as a whole checked against a written expectation: the
macOS Seatbelt profile (no Mac here) and the container command line."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from bakeoff import sandbox
from bakeoff.errors import InputError
from conftest import bakeoff, free_port, trial_rows, wait_for

EXPECTED_PROFILE = """\
(version 1)
(deny default)
; No network of any kind, by name too (deny default already covers it).
(deny network*)
; The interpreter may run, fork and signal its own children; nothing else may be executed.
(allow process-exec
    (literal "/opt/py/bin/python3.12")
    (literal "/opt/py/Resources/Python.app/Contents/MacOS/Python"))
(allow process-fork)
(allow signal (target same-sandbox))
(allow sysctl-read)
; Reads: the interpreter's prefix, the system libraries, a few devices.
(allow file-read* file-map-executable
    (subpath "/opt/py")
    (subpath "/usr/lib")
    (subpath "/System/Library"))
(allow file-read* file-write-data
    (literal "/dev/null")
    (literal "/dev/zero")
    (literal "/dev/random")
    (literal "/dev/urandom"))
; The directories above those may be looked up (stat), not listed.
(allow file-read-metadata
    (literal "/")
    (literal "/System")
    (literal "/opt")
    (literal "/opt/py")
    (literal "/opt/py/Resources")
    (literal "/opt/py/Resources/Python.app")
    (literal "/opt/py/Resources/Python.app/Contents")
    (literal "/opt/py/Resources/Python.app/Contents/MacOS")
    (literal "/opt/py/bin")
    (literal "/private")
    (literal "/private/var")
    (literal "/private/var/folders")
    (literal "/private/var/folders/ab")
    (literal "/private/var/folders/ab/T")
    (literal "/usr"))
; The code's own temporary directory: the only place it may write.
(allow file-read* file-write* (subpath "/private/var/folders/ab/T/bakeoff-sandbox-x1"))
"""


def test_seatbelt_profile_denies_all_but_the_interpreter_the_system_and_its_own_directory():
    """Not run here (no Mac): the profile's text against what it must say."""
    profile = sandbox.seatbelt_profile(
        "/private/var/folders/ab/T/bakeoff-sandbox-x1",
        ["/opt/py/bin/python3.12", "/opt/py/Resources/Python.app/Contents/MacOS/Python"],
        ["/opt/py", "/usr/lib", "/System/Library"])
    assert profile == EXPECTED_PROFILE
    # A path with a quote or backslash cannot end the string and add rules.
    odd = sandbox.seatbelt_profile('/tmp/a"b\\c', ["/opt/py/bin/python3"], ["/opt/py"])
    assert '(subpath "/tmp/a\\"b\\\\c")' in odd


def test_seatbelt_never_reads_the_whole_system_volume():
    """/System/Volumes/Data holds the users' homes: only named parts of /System are readable."""
    assert "/System" not in sandbox.SEATBELT_SYSTEM_READS and "/System/Volumes" not in sandbox.SEATBELT_SYSTEM_READS
    assert all(not d.startswith("/System/Volumes/Data") for d in sandbox.SEATBELT_SYSTEM_READS)


def test_container_command_has_no_network_a_read_only_root_and_the_limits():
    limits = sandbox.Limits(wall_s=10, cpu_s=7, memory_mb=256, processes=16, disk_mb=32)
    cmd = sandbox.container_command("podman", "python:3.12-slim", limits, "bakeoff-sandbox-0123456789ab", 1024, 4096)
    assert cmd == [
        "podman", "run", "--rm", "--interactive", "--pull", "never", "--name", "bakeoff-sandbox-0123456789ab",
        "--network", "none", "--read-only",
        "--tmpfs", "/bakeoff-sandbox:rw,size=32m,mode=1777", "--workdir", "/bakeoff-sandbox",
        "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--memory", "256m", "--memory-swap", "256m", "--pids-limit", "16",
        "--ulimit", "cpu=7:8", "--ulimit", "fsize=33554432", "--ulimit", "core=0",
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
        "--env", "HOME=/bakeoff-sandbox", "--env", "TMPDIR=/bakeoff-sandbox", "--env", "PATH=/usr/local/bin:/usr/bin:/bin",
        "--entrypoint", "python3", "python:3.12-slim", "-I", "-S", "-c",
        "import os, runpy, sys; open('main.py', 'wb').write(sys.stdin.buffer.read()); "
        "sys.stdin = open(os.devnull); runpy.run_path('main.py', run_name='__sandbox__')"]


@pytest.mark.parametrize("value, message", [
    ("chroot", "use one of auto, bwrap, unshare, seatbelt, container:IMAGE, rlimits"),
    ("container", "container:IMAGE"),
    ("rlimits:x", "container:IMAGE"),
    ("seatbelt", "macOS only"),
])
def test_a_bad_or_impossible_forced_tier_is_an_error(monkeypatch, value, message):
    monkeypatch.setenv("BAKEOFF_SANDBOX", value)
    with pytest.raises(InputError, match=re.escape(message)):
        sandbox.choose()


@pytest.mark.skipif(not sandbox.tier_works("bwrap"), reason="bubblewrap does not work here")
def test_the_choice_names_the_tier_and_why_not_the_stronger_ones(monkeypatch):
    monkeypatch.delenv("BAKEOFF_SANDBOX", raising=False)
    assert sandbox.choose() == sandbox.Choice("bwrap")
    assert sandbox.choose().line() == "model-written code runs in the bwrap sandbox"
    monkeypatch.setenv("BAKEOFF_SANDBOX", "rlimits")
    choice = sandbox.choose()
    assert choice.unconfined and choice.forced
    assert [t for t, _ in choice.passed_over] == ["bwrap", "unshare", "seatbelt", "container"]
    assert "NO network or file isolation" in choice.line()
    with pytest.raises(InputError, match="--allow-unconfined-code"):
        sandbox.confinement(allow_unconfined=False)


def viewer_home(db) -> str:
    """The home page of `bakeoff view` on this database (the real server, on loopback)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bakeoff", "view", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"

        def page() -> str | None:
            try:
                return urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError:
                return None

        wait_for(lambda: page() is not None or proc.poll() is not None, timeout=60, what="bakeoff view to answer")
        return page() or ""
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def code_suite(path):
    path.write_text("""\
defaults: {max_tokens: 48, temperature: 0}
cases:
  - id: add
    prompt: "Write a Python function add(a, b) that returns a + b. Only the code."
    checks:
      - code: {tests: "assert add(2, 3) == 5"}
""")
    return path


def test_forced_rlimits_without_the_opt_in_stops_before_any_trial(tmp_path):
    db = tmp_path / "r.db"
    proc = bakeoff("run", code_suite(tmp_path / "s.yaml"), "-c", "qwen2.5-coder-0.5b?threads=1", "--db", db,
                   env={"BAKEOFF_SANDBOX": "rlimits"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    for words in ("model-written code", "rlimits", "no network or file isolation", "install bubblewrap",
                  "user namespaces", "BAKEOFF_SANDBOX=container:IMAGE", "--allow-unconfined-code"):
        assert words in message, message
    assert not db.exists() or not trial_rows(db)


def test_a_suite_without_code_checks_needs_no_sandbox(tmp_path, qwen05):
    suite = tmp_path / "s.yaml"
    suite.write_text("defaults: {max_tokens: 8, temperature: 0}\ncases:\n  - id: hi\n    prompt: Say hi.\n"
                     "    checks:\n      - contains: hi\n")
    db = tmp_path / "r.db"
    proc = bakeoff("run", suite, "-c", "qwen2.5-coder-0.5b?threads=1", "--db", db, env={"BAKEOFF_SANDBOX": "rlimits"})
    assert proc.returncode == 0, proc.stderr
    env = json.loads(sqlite3.connect(db).execute("SELECT environment FROM runs").fetchone()[0])
    assert "sandbox" not in env and "sandbox" not in proc.stderr


def test_the_opt_in_runs_and_every_report_warns(tmp_path, qwen05):
    db = tmp_path / "r.db"
    suite = code_suite(tmp_path / "s.yaml")
    proc = bakeoff("run", suite, "-c", "qwen2.5-coder-0.5b?threads=1", "--db", db, "--allow-unconfined-code",
                   env={"BAKEOFF_SANDBOX": "rlimits"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("model-written code runs in the rlimits sandbox") == 1  # told once
    assert "warning:" in proc.stdout and "UNCONFINED" in proc.stdout
    [row] = trial_rows(db)
    checks = sqlite3.connect(db).execute("SELECT detail FROM check_results").fetchall()
    assert checks and all("[sandbox: rlimits]" in d for (d,) in checks), checks
    conn = sqlite3.connect(db)
    run_id, env = conn.execute("SELECT id, environment FROM runs").fetchone()
    sandbox_env = json.loads(env)["sandbox"]
    assert sandbox_env["tier"] == "rlimits" and sandbox_env["unconfined"] and sandbox_env["allow_unconfined_code"]
    assert sandbox_env["forced"] and set(sandbox_env["not_used"]) == {"bwrap", "unshare", "seatbelt", "container"}

    warning = f"run {run_id}: model-written code ran UNCONFINED"
    data = json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)
    assert len(data["warnings"]) == 1 and data["warnings"][0].startswith(warning)
    assert warning in " ".join(bakeoff("report", "--db", db, check=True).stdout.split())
    assert bakeoff("report", "--db", db, "--markdown", check=True).stdout.startswith(f"> **Warning:** {warning}")
    bakeoff("report", "--db", db, "--html", tmp_path / "r.html", "--junit", tmp_path / "r.xml", check=True)
    assert warning in (tmp_path / "r.html").read_text()
    props = ET.parse(tmp_path / "r.xml").getroot().findall("./testsuite/properties/property[@name='warning']")
    assert [p.get("value")[:len(warning)] for p in props] == [warning]
    assert warning in viewer_home(db)

    if sandbox.choose_tier() == "rlimits":
        return  # no real sandbox here for the second run
    # A later run of the same database in a real sandbox adds no warning of its own; the
    # report of that run alone has none.
    proc = bakeoff("run", suite, "-c", "qwen2.5-coder-0.5b?threads=1", "--repeat", "2", "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["run"]
    second = summary["run_id"]
    assert f"model-written code runs in the {sandbox.choose_tier()} sandbox" in summary["notes"]
    env = json.loads(conn.execute("SELECT environment FROM runs WHERE id = ?", (second,)).fetchone()[0])
    assert env["sandbox"]["tier"] == sandbox.choose_tier() != "rlimits" and not env["sandbox"]["unconfined"]
    assert json.loads(bakeoff("report", "--db", db, "--run", second, "--json", check=True).stdout)["warnings"] == []
    assert len(json.loads(bakeoff("report", "--db", db, "--json", check=True).stdout)["warnings"]) == 1


def test_which_cases_run_model_code():
    from bakeoff.checks import build_check
    from bakeoff.checks.code import runs_model_code
    from bakeoff.suite.schema import Case, Turn

    code = build_check({"code": {"tests": "pass"}})
    plain = Case(id="a", messages=[{"role": "user", "content": "hi"}], checks=[build_check({"contains": "hi"})])
    assert not runs_model_code([plain])
    assert runs_model_code([plain, Case(id="b", messages=plain.messages, checks=[code])])
    assert runs_model_code([Case(id="c", messages=plain.messages, checks=[build_check({"not": {"code": {"tests": "pass"}}})])])
    assert runs_model_code([Case(id="d", messages=plain.messages, turns=[Turn(user="hi"), Turn(user="go", checks=[code])])])
