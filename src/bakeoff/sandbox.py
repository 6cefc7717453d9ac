"""Run untrusted Python (model-written code) in the strongest isolation this machine offers.

Tiers, strongest first (``BAKEOFF_SANDBOX=bwrap|unshare|seatbelt|container:IMAGE|rlimits``
forces one; unset or ``auto`` takes the strongest that works):

- ``bwrap``: bubblewrap with new network, PID, IPC, UTS and mount namespaces (and a user
  namespace when not root). The code sees only /usr, the Python interpreter (read-only, at
  /opt/python) and its own size-capped tmpfs; no home, no harness, no network, an empty
  environment.
- ``unshare``: the same namespaces through util-linux ``unshare``; the host's files stay
  visible, with /tmp, home directories and the harness's own directories covered by empty
  mounts (a deny list, weaker than bwrap's allow list). As root the code runs as nobody, so
  what is left visible is read-only to it; as another user it runs as that user.
- ``seatbelt`` (macOS): ``sandbox-exec`` with a generated Seatbelt profile that denies
  everything but running the interpreter, reading it and the system libraries, and reading and
  writing the code's own temporary directory; no network. Not yet verified on a Mac.
- ``container``: only when named with an image (``container:IMAGE``): Podman or Docker with no
  network, a read-only root, a size-capped tmpfs work directory, no capabilities, user nobody,
  and the memory, process and CPU limits below. The image's own ``python3`` runs the code.
- ``rlimits``: resource limits, an empty environment, its own working directory and a process
  group. No network or file system isolation: refused unless the user opts in
  (``--allow-unconfined-code``, see ``confinement``), and results say so.

Every tier applies the same resource limits (CPU seconds, address space or memory, processes,
file size, wall time) and kills everything the code started when it ends. Run as root, the code
runs as ``nobody``: the kernel does not count root's processes against RLIMIT_NPROC.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
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

TIERS = ("bwrap", "unshare", "seatbelt", "container", "rlimits")  # strongest first
NOBODY = 65534
SANDBOX_DIR = "/sandbox"  # the code's own directory inside bwrap
# ...and inside a container: a path no image has (Podman keeps an image directory's own mode on a
# tmpfs mounted over it, so user nobody could not write there).
CONTAINER_DIR = "/bakeoff-sandbox"
PYTHON_DIR = "/opt/python"  # where bwrap shows the interpreter
# Set (to "1") by --allow-unconfined-code, in this process and so in the workers it starts: only
# then does the rlimits tier run model-written code.
ALLOW_UNCONFINED_ENV = "BAKEOFF_UNCONFINED_CODE_ALLOWED"
CONTAINER_ENGINES = ("podman", "docker")  # BAKEOFF_CONTAINER_ENGINE picks one
CONTAINER_START_S = 5.0  # wall time a container may take to start, on top of the program's own


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


def _limit_setter(limits: Limits, drop_to_nobody: bool, processes_running: int, apply_limits: bool = True):
    """preexec_fn: a new session, then the limits, then (as root) the unprivileged user.

    ``processes_running``: the user's processes now, counted in the parent (RLIMIT_NPROC counts
    them too unless the code runs as nobody or as root; psutil has no place after a fork).
    ``apply_limits`` False: only the session (the container tier limits the container instead of
    its engine's client)."""

    def apply() -> None:
        os.setsid()
        if not apply_limits:
            return
        cpu = max(1, int(limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = limits.memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        except (ValueError, OSError):
            if sys.platform != "darwin":  # macOS may refuse an address-space limit; Linux must not
                raise
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


# --- macOS: sandbox-exec with a Seatbelt profile ------------------------------------------------

# Where macOS keeps what any program loads: dyld's shared cache (in a cryptex since macOS 13),
# system libraries and frameworks, time zones. Never all of /System: /System/Volumes/Data is
# the user's data volume, home directories included.
SEATBELT_SYSTEM_READS = ("/usr/lib", "/usr/share", "/System/Library", "/System/Cryptexes",
                         "/System/Volumes/Preboot/Cryptexes", "/private/var/db/dyld", "/private/var/db/timezone",
                         "/Library/Apple/usr/lib")
# Homebrew keeps the libraries its Python's extension modules link against here.
SEATBELT_LIBRARY_READS = ("/opt/homebrew/opt", "/opt/homebrew/Cellar", "/usr/local/opt", "/usr/local/Cellar")
SEATBELT_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


def _sb_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ancestors(paths: list[str]) -> list[str]:
    """Every directory above the given paths: the code may stat them (path lookup), not list them."""
    found = {str(parent) for p in paths for parent in Path(p).parents}
    return sorted(found)


def seatbelt_profile(workdir: str, executables: list[str], reads: list[str]) -> str:
    """The Seatbelt profile (SBPL) for one program: everything denied but what it needs.

    ``workdir``: the code's own directory (resolved: /var is a link to /private/var on macOS);
    ``executables``: the Python interpreter (and the app binary a framework build re-executes),
    the only programs it may execute; ``reads``: the directories it may read (the interpreter's
    prefix, the system and library directories)."""
    lines = ["(version 1)", "(deny default)",
             "; No network of any kind, by name too (deny default already covers it).", "(deny network*)",
             "; The interpreter may run, fork and signal its own children; nothing else may be executed.",
             "(allow process-exec"]
    lines += [f"    (literal {_sb_string(e)})" for e in executables]
    lines[-1] += ")"
    lines += ["(allow process-fork)", "(allow signal (target same-sandbox))", "(allow sysctl-read)",
             "; Reads: the interpreter's prefix, the system libraries, a few devices.",
             "(allow file-read* file-map-executable"]
    lines += [f"    (subpath {_sb_string(d)})" for d in reads]
    lines[-1] += ")"
    lines += ["(allow file-read* file-write-data"]
    lines += [f"    (literal {_sb_string(d)})" for d in SEATBELT_DEVICES]
    lines[-1] += ")"
    lines += ["; The directories above those may be looked up (stat), not listed.",
              "(allow file-read-metadata"]
    lines += [f"    (literal {_sb_string(d)})" for d in _ancestors([*reads, workdir, *executables])]
    lines[-1] += ")"
    lines += ["; The code's own temporary directory: the only place it may write.",
              f"(allow file-read* file-write* (subpath {_sb_string(workdir)}))"]
    return "\n".join(lines) + "\n"


def _seatbelt_executables(exe: Path, prefix: Path) -> list[str]:
    """The interpreter, and the app binary a macOS framework build's bin/python3 re-executes."""
    app = prefix / "Resources" / "Python.app" / "Contents" / "MacOS" / "Python"
    return [str(exe.resolve())] + ([str(app.resolve())] if app.is_file() else [])


def _seatbelt_reads(exe: Path, prefix: Path) -> list[str]:
    """The interpreter's prefix (as given and resolved) and the system directories that exist here."""
    mine = {str(prefix), str(prefix.resolve()), str(exe.resolve().parent)}
    return sorted(mine) + [d for d in (*SEATBELT_SYSTEM_READS, *SEATBELT_LIBRARY_READS) if Path(d).is_dir()]


# --- containers: Podman or Docker with an image the user names ----------------------------------

# Writes main.py from stdin into the work directory, then runs it as the other tiers do.
_CONTAINER_RUNNER = ("import os, runpy, sys; open('main.py', 'wb').write(sys.stdin.buffer.read()); "
                     "sys.stdin = open(os.devnull); runpy.run_path('main.py', run_name='__sandbox__')")


def container_command(engine: str, image: str, limits: Limits, name: str, open_files: int,
                      user_processes: int) -> list[str]:
    """The engine's command line for one program in the image.

    ``open_files`` and ``user_processes``: the container's nofile and nproc limits, at most this
    process's own (an engine without CAP_SYS_RESOURCE cannot raise them to its defaults, and
    user nobody's processes are counted across the host, so --pids-limit is the real cap)."""
    return [engine, "run", "--rm", "--interactive", "--pull", "never", "--name", name,
            "--network", "none", "--read-only",
            "--tmpfs", f"{CONTAINER_DIR}:rw,size={limits.disk_mb}m,mode=1777", "--workdir", CONTAINER_DIR,
            "--user", f"{NOBODY}:{NOBODY}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m",
            "--pids-limit", str(limits.processes),
            "--ulimit", f"cpu={max(1, int(limits.cpu_s))}:{max(1, int(limits.cpu_s)) + 1}",
            "--ulimit", f"fsize={limits.disk_mb * 1024 * 1024}", "--ulimit", "core=0",
            "--ulimit", f"nofile={open_files}:{open_files}", "--ulimit", f"nproc={user_processes}:{user_processes}",
            "--env", f"HOME={CONTAINER_DIR}", "--env", f"TMPDIR={CONTAINER_DIR}", "--env", "PATH=/usr/local/bin:/usr/bin:/bin",
            "--entrypoint", "python3", image, "-I", "-S", "-c", _CONTAINER_RUNNER]


def _container_engine() -> str | None:
    wanted = os.environ.get("BAKEOFF_CONTAINER_ENGINE", "").strip().lower()
    if wanted:
        return wanted if wanted in CONTAINER_ENGINES and shutil.which(wanted) else None
    return next((e for e in CONTAINER_ENGINES if shutil.which(e)), None)


def _remove_container(engine: str, name: str) -> None:
    """Kill and remove the container: killing the engine's client leaves it running."""
    # podman first stops with SIGTERM and waits 10 s unless told not to; docker's rm -f kills at once.
    now = ["--time", "0"] if Path(engine).name == "podman" else []
    subprocess.run([engine, "rm", "--force", *now, name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60, check=False)


# --- which tier ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """The tier that runs model-written code here, and why each stronger one does not."""

    tier: str
    image: str | None = None  # the container tier's image
    forced: bool = False  # named by BAKEOFF_SANDBOX
    passed_over: tuple[tuple[str, str], ...] = ()  # (stronger tier, why not), strongest first

    @property
    def unconfined(self) -> bool:
        return self.tier == "rlimits"

    @property
    def label(self) -> str:
        return f"container:{self.image}" if self.tier == "container" else self.tier

    def line(self) -> str:
        """One line for the user: the tier and why the stronger ones were not used."""
        how = " (BAKEOFF_SANDBOX)" if self.forced else ""
        text = f"model-written code runs in the {self.label} sandbox{how}"
        if self.unconfined:
            text += ": resource limits only, NO network or file isolation"
        if self.passed_over:
            text += "; not " + "; not ".join(f"{t}: {why}" for t, why in self.passed_over)
        return text

    def to_dict(self) -> dict:
        return {"tier": self.tier, "image": self.image, "forced": self.forced, "unconfined": self.unconfined,
                "not_used": dict(self.passed_over), "line": self.line()}


@lru_cache(maxsize=None)
def why_not(tier: str, image: str | None = None) -> str | None:
    """Why a tier cannot run a trivial program here, or None when it can (probed once per process)."""
    if tier == "rlimits":
        return None
    system = platform.system()
    if tier in ("bwrap", "unshare") and system != "Linux":
        return "Linux only"
    if tier == "seatbelt" and system != "Darwin":
        return "macOS only"
    if tier == "bwrap" and not shutil.which("bwrap"):
        return "bubblewrap is not installed"
    if tier == "unshare" and not shutil.which("unshare"):
        return "util-linux unshare is not installed"
    if tier in ("bwrap", "unshare") and _is_root() and not shutil.which("setpriv"):
        return "setpriv (util-linux) is not installed, and as root the code must be dropped to nobody with it"
    if tier == "seatbelt" and not shutil.which("sandbox-exec"):
        return "sandbox-exec is not on the PATH"
    if tier == "container":
        if not image:
            return "no image named (BAKEOFF_SANDBOX=container:IMAGE)"
        if not _container_engine():
            return "neither podman nor docker is on the PATH"
    exe, prefix = _interpreter()
    if tier == "unshare" and not exe.is_relative_to(prefix):
        return f"the interpreter {exe} lies outside its prefix {prefix}"
    try:
        result = _run(tier, "print('ok')", Limits(wall_s=20), image)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not start: {exc}"
    if result.ok and result.stdout.strip() == "ok":
        return None
    hint = " (user namespaces may be disabled here)" if tier in ("bwrap", "unshare") else ""
    return f"a test program failed: {clip_line(result.why())}{hint}"


def clip_line(text: str, width: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def tier_works(tier: str, image: str | None = None) -> bool:
    """Whether a tier can run a trivial program here (probed once per process)."""
    return why_not(tier, image) is None


def _forced() -> tuple[str, str | None] | None:
    """The tier (and image) BAKEOFF_SANDBOX names; None for unset or auto."""
    raw = os.environ.get("BAKEOFF_SANDBOX", "").strip()
    if not raw or raw.lower() == "auto":
        return None
    tier, _, image = raw.partition(":")
    tier = tier.lower()
    if tier not in TIERS or (tier == "container") != bool(image.strip()):
        raise InputError(f"BAKEOFF_SANDBOX={raw!r}: use one of auto, bwrap, unshare, seatbelt, container:IMAGE, rlimits")
    return tier, image.strip() or None


def choose() -> Choice:
    """The strongest tier that works here (the container tier only with an image named), or the
    one BAKEOFF_SANDBOX names; with the reasons the stronger ones were not used."""
    forced = _forced()
    if forced:
        tier, image = forced
        reason = why_not(tier, image)
        if reason:
            raise InputError(f"BAKEOFF_SANDBOX={os.environ['BAKEOFF_SANDBOX'].strip()}: "
                             f"that isolation does not work on this machine: {reason}")
        stronger = TIERS[:TIERS.index(tier)]
        return Choice(tier, image, True, tuple((t, "not tried: BAKEOFF_SANDBOX names a tier") for t in stronger))
    passed_over = []
    for tier in TIERS:
        reason = why_not(tier)
        if reason is None:
            return Choice(tier, None, False, tuple(passed_over))
        passed_over.append((tier, reason))
    raise AssertionError("the rlimits tier always works")


def choose_tier() -> str:
    return choose().tier


def sandbox_settings() -> dict[str, str]:
    """This process's sandbox settings, for workers that check code elsewhere (Ray actors)."""
    return {k: os.environ[k] for k in ("BAKEOFF_SANDBOX", "BAKEOFF_CONTAINER_ENGINE", ALLOW_UNCONFINED_ENV)
            if k in os.environ}


def unconfined_allowed() -> bool:
    return os.environ.get(ALLOW_UNCONFINED_ENV) == "1"


def confinement(allow_unconfined: bool) -> Choice:
    """The tier a run's code checks will use, checked before the run starts.

    Where the only tier is rlimits (no network or file isolation) this refuses (InputError: exit
    2) unless ``allow_unconfined``; with it, the opt-in is set for this process and its workers."""
    choice = choose()
    if choice.unconfined and not allow_unconfined:
        raise InputError(refusal(choice))
    if allow_unconfined:
        os.environ[ALLOW_UNCONFINED_ENV] = "1"
    return choice


def refusal(choice: Choice) -> str:
    """What is missing, and how to get isolation or opt in."""
    if platform.system() == "Darwin":
        ways = ("macOS's built-in sandbox-exec (the seatbelt tier) should be on the PATH at /usr/bin/sandbox-exec; "
                "or run the code in a container: install Podman or Docker and set BAKEOFF_SANDBOX=container:IMAGE "
                "(an image with python3)")
    else:
        ways = ("install bubblewrap (apt install bubblewrap, dnf install bubblewrap); or allow unprivileged "
                "user namespaces (sysctl kernel.unprivileged_userns_clone=1 on Debian, "
                "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04 and later, or run outside the "
                "container that forbids them); or install Podman or Docker and set BAKEOFF_SANDBOX=container:IMAGE "
                "(an image with python3)")
    if choice.forced:
        which = "BAKEOFF_SANDBOX=rlimits chooses the rlimits sandbox"
        missing = "unset BAKEOFF_SANDBOX to use the strongest sandbox that works here"
    else:
        which = "the only sandbox that works here is rlimits"
        missing = "missing: " + "; ".join(f"{t}: {why}" for t, why in choice.passed_over)
    return (f"this suite runs model-written code (code checks), and {which}: resource limits only, with no "
            f"network or file isolation, so the code could read your files (SSH keys included) and reach the "
            f"network. {missing[0].upper()}{missing[1:]}. To isolate it: {ways}. Or run it unconfined knowingly "
            f"with --allow-unconfined-code (recorded with the run and shown in every report of it).")


def run_python(source: str, limits: Limits | None = None) -> SandboxResult:
    """Run a Python program in the sandbox; never raises for what the program does.

    Raises InputError when the only tier is rlimits and the opt-in (--allow-unconfined-code) was
    not given: the code check then fails with that reason instead of running the code."""
    choice = choose()
    if choice.unconfined and not unconfined_allowed():
        raise InputError("model-written code not run: only resource limits (rlimits) isolate it here, "
                         "and --allow-unconfined-code was not given")
    return _run(choice.tier, source, limits or Limits(), choice.image)


def _run(tier: str, source: str, limits: Limits, image: str | None = None) -> SandboxResult:
    exe, prefix = _interpreter()
    drop = _is_root()
    pass_fds: tuple[int, ...] = ()
    stdin_data: bytes | None = None
    workdir = None
    opened: list[int] = []
    env = {"PATH": "/usr/bin:/bin"}  # the launcher's own environment: nothing of the user's either
    apply_limits = True
    after = None
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
        elif tier == "container":
            engine = _container_engine()
            name = f"bakeoff-sandbox-{secrets.token_hex(6)}"
            _, open_files = resource.getrlimit(resource.RLIMIT_NOFILE)
            _, user_processes = resource.getrlimit(resource.RLIMIT_NPROC)
            cmd = container_command(engine, image, limits, name, min(open_files, 1024), min(user_processes, 4096))
            # The engine's client is trusted and needs its own settings (DOCKER_HOST, CONTAINERS_CONF...);
            # the container gets only what the command line sets.
            env = dict(os.environ)
            stdin_data = source.encode()
            cwd = "/"
            drop = apply_limits = False  # the engine applies the limits to the container
            limits = dataclasses.replace(limits, wall_s=limits.wall_s + CONTAINER_START_S)
            after = functools.partial(_remove_container, engine, name)
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
            if tier == "seatbelt":
                real = str(Path(workdir).resolve())
                profile = seatbelt_profile(real, _seatbelt_executables(exe, prefix), _seatbelt_reads(exe, prefix))
                cmd = ["sandbox-exec", "-p", profile, str(exe.resolve()), *cmd[1:]]
            cwd = workdir
        return _supervise(tier, cmd, env, cwd, limits, drop, pass_fds, stdin_data, apply_limits, after)
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
               pass_fds: tuple[int, ...], stdin_data: bytes | None, apply_limits: bool = True,
               after=None) -> SandboxResult:
    """Run the launcher with the limits and a wall clock, keep capped output, then kill what is
    left; ``after``: a last clean-up (the container tier removes its container, which outlives a
    killed engine client; a no-op after a normal end, measured at no visible cost)."""
    # The unshare launcher runs its set-up as root of its namespaces; setpriv then drops the user.
    # Its limits still apply to everything below it.
    marker = secrets.token_hex(8)
    running = 0 if _is_root() or not apply_limits else _processes_of(os.getuid())
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "BK_MARK": marker},
                            cwd=cwd, pass_fds=pass_fds, preexec_fn=_limit_setter(limits, drop, running, apply_limits), close_fds=True)
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
    if after is not None:
        after()
    for t in readers:
        t.join(timeout=2)
    returncode = proc.returncode
    if tier == "container" and returncode is not None and 128 < returncode <= 128 + 64:
        returncode = 128 - returncode  # the engines report a signal N as exit 128 + N
    return SandboxResult(isolation=tier, returncode=None if timed_out else returncode,
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
