"""Run untrusted Python (model-written code) in the strongest isolation this machine offers.

Tiers, strongest first (``BAKEOFF_SANDBOX=bwrap|unshare|rlimits`` forces one):

- ``bwrap``: bubblewrap with new network, PID, IPC, UTS and mount namespaces (and a user
  namespace when not root). The code sees only /usr, the Python interpreter (read-only, at
  /opt/python) and its own size-capped tmpfs; no home, no harness, no network, an empty
  environment.
- ``unshare``: the same namespaces through util-linux ``unshare``; the host's files stay
  visible, with /tmp, home directories and the harness's own directories covered by empty
  mounts (a deny list, weaker than bwrap's allow list). As root the code runs as nobody, so
  what is left visible is read-only to it; as another user it runs as that user.
- ``rlimits``: resource limits, an empty environment, its own working directory and a process
  group. No network or file system isolation: a last resort, and results say so.

Every tier applies the same resource limits (CPU seconds, address space, processes, file size,
wall time) and kills everything the code started when it ends. Run as root, the code runs as
``nobody``: the kernel does not count root's processes against RLIMIT_NPROC.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil

from bakeoff.errors import InputError

TIERS = ("bwrap", "unshare", "rlimits")
NOBODY = 65534
SANDBOX_DIR = "/sandbox"  # the code's own directory inside bwrap
PYTHON_DIR = "/opt/python"  # where bwrap shows the interpreter


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 512  # address space
    processes: int = 32
    disk_mb: int = 64  # the code's own directory (tmpfs) and the largest file it may write
    output_bytes: int = 64 * 1024  # of stdout and of stderr kept


@dataclass
class SandboxResult:
    isolation: str
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    leftovers_killed: int = 0  # processes still alive at the end (killed)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def why(self) -> str:
        """One line: how the program ended."""
        if self.timed_out:
            return f"timed out after {self.wall_s:.1f} s wall (killed)"
        if self.returncode == 0:
            return "exit 0"
        if self.returncode is not None and self.returncode < 0:
            name = signal.Signals(-self.returncode).name if -self.returncode in signal.valid_signals() else "?"
            extra = " (CPU time limit)" if -self.returncode == signal.SIGXCPU else ""
            return f"killed by {name}{extra}"
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else f"exit {self.returncode}"


def _is_root() -> bool:
    return os.geteuid() == 0


def _interpreter() -> tuple[Path, Path]:
    """The base interpreter (never the venv's: the harness must not be importable) and its prefix."""
    exe = Path(getattr(sys, "_base_executable", None) or sys.executable)
    return exe, Path(sys.base_prefix)


def _limit_setter(limits: Limits, drop_to_nobody: bool, processes_running: int):
    """preexec_fn: a new session, then the limits, then (as root) the unprivileged user.

    ``processes_running``: the user's processes now, counted in the parent (RLIMIT_NPROC counts
    them too unless the code runs as nobody or as root; psutil has no place after a fork)."""

    def apply() -> None:
        os.setsid()
        cpu = max(1, int(limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        disk = limits.disk_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop_to_nobody:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        nproc = limits.processes + processes_running
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


def _processes_of(uid: int) -> int:
    count = 0
    for p in psutil.process_iter(["uids"]):
        try:
            if p.info["uids"] and p.info["uids"].real == uid:
                count += 1
        except psutil.Error:
            pass
    return count


def _bwrap_command(limits: Limits, program_fd: int, exe: Path, prefix: Path) -> list[str]:
    inside_exe = f"{PYTHON_DIR}/{exe.relative_to(prefix)}" if exe.is_relative_to(prefix) else str(exe)
    cmd = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
           "--setenv", "HOME", SANDBOX_DIR, "--setenv", "TMPDIR", SANDBOX_DIR,
           # A relocated interpreter must load its own libpython, not one its RUNPATH cannot find.
           "--setenv", "LD_LIBRARY_PATH", f"{PYTHON_DIR}/lib"]
    # As root, bwrap needs no user namespace; the program then runs as nobody through setpriv,
    # so RLIMIT_NPROC holds (root's processes are exempt from it).
    cmd += [] if _is_root() else ["--unshare-user", "--disable-userns"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            cmd += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            cmd += ["--ro-bind", str(target), f"/{link}"]
    cmd += ["--perms", "0755", "--dir", str(Path(PYTHON_DIR).parent), "--ro-bind", str(prefix), PYTHON_DIR, "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.disk_mb * 1024 * 1024), "--perms", "0777", "--tmpfs", SANDBOX_DIR,
            "--file", str(program_fd), f"{SANDBOX_DIR}/main.py", "--chdir", SANDBOX_DIR]
    if _is_root():
        cmd += ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--"]
    return cmd + [inside_exe, "-I", "-S", "-c", _RUNNER, "main.py"]


# Runs main.py under a name other than __main__, so an answer's `if __name__ == "__main__":`
# block (often input() or a demo) does not run; tracebacks still name main.py and its lines.
_RUNNER = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__sandbox__')"

# The unshare tier's set-up, as root of the new mount namespace: a fresh size-capped /tmp that
# holds the code's directory and a read-only view of the interpreter, empty mounts over the
# places that must stay unseen, then the program as an unprivileged user (when started as root).
_UNSHARE_BOOT = r"""
set -eu
mount -t tmpfs -o "size=$BK_DISK,mode=1777" tmpfs /tmp
mkdir /tmp/.python /tmp/sandbox
mount --bind "$BK_PREFIX" /tmp/.python
mount -o remount,bind,ro /tmp/.python
cat > /tmp/sandbox/main.py
chmod 0777 /tmp/sandbox
for d in $BK_HIDE; do
  if [ -d "$d" ]; then mount -t tmpfs -o size=4k,mode=0555 tmpfs "$d"; fi
done
cd /tmp/sandbox
exec $BK_AS env -i PATH=/usr/bin:/bin HOME=/tmp/sandbox TMPDIR=/tmp/sandbox LD_LIBRARY_PATH=/tmp/.python/lib \
  "/tmp/.python/$BK_EXE" -I -S -c "$BK_RUNNER" main.py < /dev/null
"""


def _hidden_dirs() -> list[str]:
    """Places the unshare tier covers: homes, temp dirs and wherever the harness lives."""
    here = Path(__file__).resolve().parent.parent  # bakeoff's source or site-packages
    dirs = {"/root", "/home", "/var/tmp", "/dev/shm", "/run/user", "/work", str(Path.home()), str(Path.cwd()),
            sys.prefix, str(here)}
    return sorted(d for d in dirs if d and d != "/" and " " not in d and not d.startswith("/tmp"))


def _unshare_command(exe: Path, prefix: Path, limits: Limits) -> tuple[list[str], dict[str, str]]:
    cmd = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount", "--ipc", "--uts",
           "--propagation", "private"]
    if not _is_root():
        cmd += ["--user", "--map-root-user"]
    cmd += ["sh", "-c", _UNSHARE_BOOT]
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "BK_DISK": f"{limits.disk_mb}m", "BK_PREFIX": str(prefix),
           "BK_EXE": str(exe.relative_to(prefix)), "BK_RUNNER": _RUNNER, "BK_HIDE": " ".join(_hidden_dirs()),
           "BK_AS": f"setpriv --reuid {NOBODY} --regid {NOBODY} --clear-groups" if _is_root() else ""}
    return cmd, env


@lru_cache(maxsize=None)
def tier_works(tier: str) -> bool:
    """Whether a tier can run a trivial program here (probed once per process)."""
    if tier == "rlimits":
        return True
    if tier == "bwrap" and not shutil.which("bwrap"):
        return False
    if tier in ("bwrap", "unshare") and _is_root() and not shutil.which("setpriv"):
        return False
    if tier == "unshare" and not shutil.which("unshare"):
        return False
    exe, prefix = _interpreter()
    if tier == "unshare" and not exe.is_relative_to(prefix):
        return False
    try:
        result = _run(tier, "print('ok')", Limits(wall_s=20))
    except OSError:
        return False
    return result.ok and result.stdout.strip() == "ok"


def choose_tier() -> str:
    """The strongest tier that works here, or the one BAKEOFF_SANDBOX names."""
    forced = os.environ.get("BAKEOFF_SANDBOX", "").strip().lower()
    if forced and forced != "auto":
        if forced not in TIERS:
            raise InputError(f"BAKEOFF_SANDBOX={forced!r}: use one of auto, {', '.join(TIERS)}")
        if not tier_works(forced):
            raise InputError(f"BAKEOFF_SANDBOX={forced}: that isolation does not work on this machine")
        return forced
    return next(t for t in TIERS if tier_works(t))


def run_python(source: str, limits: Limits | None = None) -> SandboxResult:
    """Run a Python program in the sandbox; never raises for what the program does."""
    return _run(choose_tier(), source, limits or Limits())


def _run(tier: str, source: str, limits: Limits) -> SandboxResult:
    exe, prefix = _interpreter()
    drop = _is_root()
    pass_fds: tuple[int, ...] = ()
    stdin_data: bytes | None = None
    workdir = None
    opened: list[int] = []
    env = {"PATH": "/usr/bin:/bin"}  # the launcher's own environment: nothing of the user's either
    try:
        if tier == "bwrap":
            read_fd, write_fd = os.pipe()
            opened.append(read_fd)
            threading.Thread(target=_write_all, args=(write_fd, source.encode()), daemon=True).start()
            pass_fds = (read_fd,)
            cmd = _bwrap_command(limits, read_fd, exe, prefix)
            cwd = "/"
            drop = False  # bwrap sets itself up as root; setpriv drops the user inside
        elif tier == "unshare":
            cmd, env = _unshare_command(exe, prefix, limits)
            stdin_data = source.encode()
            cwd = "/"
            # mount and setpriv need root in the namespace; the limits apply to the program.
            drop = False
        else:
            workdir = tempfile.mkdtemp(prefix="bakeoff-sandbox-")
            Path(workdir, "main.py").write_text(source)
            if drop and not _reachable_by_others(exe):
                drop = False  # the interpreter lives where nobody cannot read it (e.g. /root/.pyenv)
            if drop:
                os.chown(workdir, NOBODY, NOBODY)
                os.chown(Path(workdir, "main.py"), NOBODY, NOBODY)
            env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir}
            cmd = [str(exe), "-I", "-S", "-c", _RUNNER, "main.py"]
            cwd = workdir
        return _supervise(tier, cmd, env, cwd, limits, drop, pass_fds, stdin_data)
    finally:
        for fd in opened:
            os.close(fd)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except OSError:
        pass


def _reachable_by_others(path: Path) -> bool:
    """Every directory above ``path`` lets others through and the file lets them read it."""
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            return False
    return bool(path.resolve().stat().st_mode & 0o004)


def _supervise(tier: str, cmd: list[str], env: dict[str, str], cwd: str, limits: Limits, drop: bool,
               pass_fds: tuple[int, ...], stdin_data: bytes | None) -> SandboxResult:
    # The unshare launcher runs its set-up as root of its namespaces; setpriv then drops the user.
    # Its limits still apply to everything below it.
    marker = secrets.token_hex(8)
    running = 0 if _is_root() else _processes_of(os.getuid())
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "BK_MARK": marker},
                            cwd=cwd, pass_fds=pass_fds, preexec_fn=_limit_setter(limits, drop, running), close_fds=True)
    out: dict[str, bytes] = {}
    readers = [threading.Thread(target=_read_capped, args=(proc.stdout, limits.output_bytes, out, "stdout"), daemon=True),
               threading.Thread(target=_read_capped, args=(proc.stderr, limits.output_bytes, out, "stderr"), daemon=True)]
    for t in readers:
        t.start()
    if stdin_data is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin_data), daemon=True).start()
    timed_out = False
    try:
        proc.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    wall = time.monotonic() - started
    leftovers = _kill_everything(proc, marker)
    for t in readers:
        t.join(timeout=2)
    return SandboxResult(isolation=tier, returncode=None if timed_out else proc.returncode,
                         stdout=out.get("stdout", b"").decode(errors="replace"),
                         stderr=out.get("stderr", b"").decode(errors="replace"),
                         timed_out=timed_out, wall_s=wall, leftovers_killed=leftovers)


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass


def _read_capped(pipe, cap: int, out: dict[str, bytes], key: str) -> None:
    kept = bytearray()
    while chunk := pipe.read1(65536):
        if len(kept) < cap:
            kept += chunk[: cap - len(kept)]
    out[key] = bytes(kept)


def _kill_everything(proc: subprocess.Popen, marker: str) -> int:
    """Kill the launcher's session and any process that carries this run's marker.

    The session catches what stayed in it; the marker (an environment variable set on the
    launcher and inherited below it) catches what left it with setsid or a double fork. In the
    namespace tiers the kernel also kills the whole PID namespace when its first process dies."""
    killed = 0
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    for _ in range(3):
        found = _marked(marker)
        if not found:
            break
        for p in found:
            try:
                p.kill()
                killed += 1
            except psutil.Error:
                pass
        psutil.wait_procs(found, timeout=1)
    return killed


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("BK_MARK") == marker:
                found.append(p)
        except psutil.Error:
            pass
    return found
