"""The code check's sandbox against escape attempts: each is model-written code run through the
real `code` check, which must fail it and say why; the harness side is checked too (no file
appeared, no process survived, the secret never showed, the harness still stands).

Every escape program runs under every tier that works here (``tier`` fixture): bwrap, unshare,
the container tier (in an image made from this machine's own Python, when Podman or Docker can
run one), and rlimits (opted in; what it cannot hold is skipped, as it says)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from unittest import mock

import psutil
import pytest

from bakeoff import sandbox
from bakeoff.checks import build_check
from bakeoff.checks.code import answer_code
from container_image import make_image

SECRET = "s3cr3t-bakeoff-test-token"
NAMESPACES = ("bwrap", "unshare", "container")  # tiers with their own network, PID and mount namespaces
# The tiers a test applies to, named at collection: rlimits isolates no network, files or (as root)
# processes, so the escapes it cannot hold are not asked of it; only bwrap and the container hide
# the host's /etc/resolv.conf, so no name query can leave.
confined = pytest.mark.parametrize("tier", NAMESPACES, indirect=True)
resolver_hidden = pytest.mark.parametrize("tier", ("bwrap", "container"), indirect=True)


@pytest.fixture(scope="session")
def container_image(tmp_path_factory):
    """(BAKEOFF_SANDBOX value, engine settings), or a skip saying why the tier cannot run here."""
    image, why, env = make_image(tmp_path_factory.mktemp("image"))
    if image is None:
        pytest.skip(f"container tier: {why}")
    try:
        with mock.patch.dict(os.environ, env):
            reason = sandbox.why_not("container", image)
        if reason:
            pytest.skip(f"container tier: {reason}")
        yield f"container:{image}", env
    finally:
        subprocess.run([sandbox._container_engine(), "rmi", "--force", image], capture_output=True,
                       env={**os.environ, **env}, timeout=120)


@pytest.fixture(params=["bwrap", "unshare", "container", "rlimits"])
def tier(request, monkeypatch) -> str:
    """Forces one tier for the test (BAKEOFF_SANDBOX), or skips when it does not work here."""
    name = request.param
    if name == "container":
        value, env = request.getfixturevalue("container_image")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
    else:
        value = name
        if not sandbox.tier_works(name):
            pytest.skip(f"{name}: {sandbox.why_not(name)}")
    monkeypatch.setenv("BAKEOFF_SANDBOX", value)
    if name == "rlimits":
        monkeypatch.setenv(sandbox.ALLOW_UNCONFINED_ENV, "1")  # the opt-in --allow-unconfined-code sets
    return name


def run_code(answer: str, tests: str = "pass", timeout_s: float = 5.0) -> tuple[float, str]:
    spec = build_check({"code": {"tests": tests, "timeout_s": timeout_s}})
    return spec.run(f"Here is my solution:\n```python\n{answer}\n```\n", None)


def sandboxed_processes() -> list[psutil.Process]:
    """Sandboxed processes (the runner's text is in their command line) that this test process
    started or that an escape left orphaned; not those of another bakeoff run on the machine."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "__sandbox__" in " ".join(p.info["cmdline"] or []) and (
                    p.ppid() == 1 or os.getpid() in {q.pid for q in p.parents()}):
                found.append(p)
        except psutil.Error:
            pass
    return found


def leftover_containers() -> list[str]:
    """Sandbox containers still there (the engine's client can die and leave one running)."""
    engine = sandbox._container_engine()
    if engine is None:
        return []
    out = subprocess.run([engine, "ps", "--all", "--quiet", "--filter", "name=bakeoff-sandbox-"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.split()


def assert_failed(result: tuple[float, str], tier: str, *reasons: str) -> str:
    score, detail = result
    assert score == 0.0, detail
    assert f"[sandbox: {tier}]" in detail
    assert any(r in detail for r in reasons), detail
    return detail


def test_tier_here_is_the_strongest_and_a_correct_answer_passes(monkeypatch):
    monkeypatch.delenv("BAKEOFF_SANDBOX", raising=False)
    tier = sandbox.choose_tier()
    if shutil.which("bwrap"):
        assert tier == "bwrap"  # make test installs bubblewrap; CI must not silently fall back
    if tier == "rlimits":
        monkeypatch.setenv(sandbox.ALLOW_UNCONFINED_ENV, "1")
    score, detail = run_code("def add(a, b):\n    return a + b", "assert add(2, 3) == 5")
    assert score == 1.0 and detail.startswith("tests passed") and f"[sandbox: {tier}]" in detail
    assert_failed(run_code("def add(a, b):\n    return a - b", "assert add(2, 3) == 5"), tier, "AssertionError")


def test_a_correct_answer_passes_in_every_tier(tier):
    score, detail = run_code("def add(a, b):\n    return a + b", "assert add(2, 3) == 5")
    assert score == 1.0 and f"[sandbox: {tier}]" in detail, detail
    assert_failed(run_code("def add(a, b):\n    return a - b", "assert add(2, 3) == 5"), tier, "AssertionError")


@confined
def test_opening_a_socket_fails(tier):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        port = server.getsockname()[1]
        assert_failed(run_code(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"), tier,
                      "Network is unreachable", "Connection refused", "OSError")
        with pytest.raises(socket.timeout):
            server.accept()  # nothing reached the harness's listener


@resolver_hidden
def test_resolving_a_host_fails(tier):
    assert_failed(run_code("import socket\nsocket.getaddrinfo('example.com', 80)"), tier, "gaierror", "Temporary failure")


@confined
def test_writing_outside_the_sandbox_fails(tmp_path, tier):
    targets = [tmp_path / "escaped.txt", os.path.join(os.getcwd(), "escaped-cwd.txt"), "/root/escaped.txt"]
    code = "for path in %r:\n    open(path, 'w').write('x')" % [str(t) for t in targets]
    assert_failed(run_code(code), tier, "FileNotFoundError", "PermissionError", "OSError", "Read-only")
    assert not any(os.path.exists(t) for t in targets)


def test_reading_ssh_keys_and_the_users_environment_fails(tmp_path, monkeypatch, tier):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BAKEOFF_TEST_SECRET", SECRET)
    code = ("import os, glob\nfound = []\n"
            "for path in [os.path.expanduser('~/.ssh/id_ed25519'), %r, '/root/.ssh/id_rsa', '/proc/1/environ',\n"
            "             '/proc/self/environ'] + glob.glob('/proc/*/environ'):\n"
            "    try:\n        found.append(open(path, 'rb').read().decode(errors='replace'))\n"
            "    except OSError:\n        pass\n"
            "found.append(repr(dict(os.environ)))\nprint(found)\n"
            "assert any(%r in text for text in found), 'nothing found'") % (str(home / ".ssh" / "id_ed25519"), SECRET)
    if tier == "rlimits":
        code = code.replace("/root/.ssh/id_rsa", "/nonexistent")  # no file system isolation there
        code = code.replace(str(home / ".ssh" / "id_ed25519"), "/nonexistent")
    detail = assert_failed(run_code(code), tier, "nothing found")
    assert SECRET not in detail


@confined
def test_a_fork_bomb_fails_and_leaves_nothing(tier):
    started = time.monotonic()
    detail = assert_failed(run_code("import os\nwhile True:\n    os.fork()", timeout_s=5), tier,
                           "BlockingIOError", "Resource temporarily unavailable", "timed out", "killed")
    assert time.monotonic() - started < 20, detail
    time.sleep(0.5)
    assert sandboxed_processes() == [] and leftover_containers() == []


def test_a_memory_hog_fails(tier):
    assert_failed(run_code("hog = bytearray(4 * 1024 ** 3)\nmore = [bytearray(10 ** 8) for _ in range(100)]"), tier,
                  "MemoryError", "killed")


def test_an_infinite_loop_is_stopped(tier):
    started = time.monotonic()
    assert_failed(run_code("while True:\n    pass", timeout_s=2), tier, "timed out", "killed by SIGXCPU", "killed by SIGKILL")
    assert time.monotonic() - started < 8


def test_a_child_that_outlives_its_parent_is_killed(tier):
    code = ("import os, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
            "time.sleep(0.5)\n")
    score, detail = run_code(code, "raise SystemExit(3)")  # the program ends; its grandchild must not go on
    assert score == 0.0 and f"[sandbox: {tier}]" in detail
    time.sleep(0.5)
    assert sandboxed_processes() == [], "a sandboxed process outlived the check"
    assert leftover_containers() == [], "a sandbox container outlived the check"


@confined
def test_killing_the_parent_and_the_harness_fails(tier):
    me = os.getpid()
    code = (f"import os, signal\nerrors = []\n"
            f"for pid in (os.getppid(), {me}, 1):\n"
            f"    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as exc:\n        errors.append(type(exc).__name__)\n"
            f"try:\n    os.killpg({me}, signal.SIGKILL)\nexcept OSError as exc:\n    errors.append(type(exc).__name__)\n"
            f"assert not errors, errors")
    assert_failed(run_code(code), tier, "ProcessLookupError", "PermissionError")
    assert psutil.Process(me).is_running()


@confined
def test_filling_the_disk_fails(tier):
    code = "chunk = b'x' * 2 ** 20\nwith open('fill.bin', 'wb') as f:\n    while True:\n        f.write(chunk)\n        f.flush()"
    assert_failed(run_code(code), tier, "No space left on device", "File too large", "OSError", "SIGXFSZ")


@confined
def test_changing_the_harness_working_directory_fails(tier):
    before = os.getcwd()
    me = os.getpid()
    code = (f"import os\nos.chdir('/')\nopen('/proc/{me}/cwd/escaped-via-proc.txt', 'w').write('x')")
    assert_failed(run_code(code), tier, "FileNotFoundError", "PermissionError", "OSError")
    assert os.getcwd() == before and not os.path.exists(os.path.join(before, "escaped-via-proc.txt"))


@confined
def test_importing_the_harness_fails(tier):
    src = os.path.dirname(os.path.dirname(sandbox.__file__))
    code = f"import sys\nsys.path.insert(0, {src!r})\nimport bakeoff\nprint(bakeoff.__file__)"
    assert_failed(run_code(code), tier, "ModuleNotFoundError")


def test_answer_code_takes_the_longest_fenced_block():
    text = "use it like:\n```python\nf(1)\n```\nand the code:\n```python\ndef f(x):\n    return x\n```"
    assert answer_code(text) == "def f(x):\n    return x\n"
    assert answer_code("def g():\n    pass") == "def g():\n    pass"


@pytest.mark.skipif(not sandbox.tier_works("unshare"), reason="unshare namespaces do not work here")
def test_forced_fallback_tiers_say_which_ran(monkeypatch):
    monkeypatch.setenv("BAKEOFF_SANDBOX", "rlimits")
    monkeypatch.delenv(sandbox.ALLOW_UNCONFINED_ENV, raising=False)
    score, detail = run_code("open('ran.txt', 'w')")  # without the opt-in, the code is not run at all
    assert score == 0.0 and "model-written code not run" in detail and "--allow-unconfined-code" in detail, detail
    monkeypatch.setenv(sandbox.ALLOW_UNCONFINED_ENV, "1")
    for tier in ("unshare", "rlimits"):
        monkeypatch.setenv("BAKEOFF_SANDBOX", tier)
        score, detail = run_code("import os", "assert 'BAKEOFF_SANDBOX' not in os.environ")
        assert score == 1.0 and f"[sandbox: {tier}]" in detail, detail
        score, detail = run_code("while True:\n    pass", timeout_s=1)
        assert score == 0.0 and f"[sandbox: {tier}]" in detail, detail
    monkeypatch.setenv("BAKEOFF_SANDBOX", "unshare")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        score, detail = run_code(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
        assert score == 0.0 and "[sandbox: unshare]" in detail
    monkeypatch.setenv("BAKEOFF_SANDBOX", "chroot")
    score, detail = run_code("pass")
    assert score == 0.0 and "BAKEOFF_SANDBOX" in detail  # a bad setting is reported, never ignored
