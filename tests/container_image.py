"""A container image with this machine's own Python, made from local files only (no registry is
reachable here, nor may one be asked): the interpreter, its standard library (no site-packages),
and the shared libraries they link against, as a root file system imported with `podman import`
or `docker import`. It is what the container tier's tests run the escape programs in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from bakeoff import sandbox

IMAGE = "localhost/bakeoff-sandbox-test:python"
_SKIP = re.compile(r"(^|/)(site-packages|test|tests|idlelib|tkinter|turtledemo|ensurepip|__pycache__)(/|$)|_tkinter")


def _libraries(binaries: list[Path]) -> set[str]:
    """The shared libraries (and the loader) these binaries link against, as ldd finds them."""
    found: set[str] = set()
    for chunk in range(0, len(binaries), 50):
        out = subprocess.run(["ldd", *map(str, binaries[chunk:chunk + 50])], capture_output=True, text=True).stdout
        found |= set(re.findall(r"(/\S+\.so[.\w]*)", out))
    return found


def python_rootfs(tar_path: Path) -> Path:
    """A tar of a root file system whose /usr/local/bin/python3 is this machine's base Python."""
    exe, prefix = sandbox._interpreter()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = prefix / "lib" / version
    files = [p for p in stdlib.rglob("*") if p.is_file() and not _SKIP.search(str(p.relative_to(stdlib)))]
    with tarfile.open(tar_path, "w") as tar:
        tar.add(exe.resolve(), arcname="usr/local/bin/python3")
        for f in files:
            tar.add(f, arcname=f"usr/local/lib/{version}/{f.relative_to(stdlib)}")
        for lib in sorted(_libraries([exe.resolve(), *(f for f in files if f.suffix == ".so")])):
            tar.add(os.path.realpath(lib), arcname=lib.lstrip("/"))
        for name in ("tmp", "etc"):  # empty directories every program expects
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
    return tar_path


def engine_conf(tmp: Path) -> dict[str, str]:
    """Settings for the engine's client. Podman's default runtime (crun) refuses a host with hybrid
    cgroups (v1 controllers beside a v2 mount), as this one has; runc runs there."""
    if Path("/sys/fs/cgroup/unified").is_dir() and shutil.which("runc") and shutil.which("podman"):
        conf = tmp / "containers.conf"
        conf.write_text('[engine]\nruntime = "runc"\n')
        return {"CONTAINERS_CONF": str(conf)}
    return {}


def make_image(tmp: Path) -> tuple[str | None, str, dict[str, str]]:
    """(the image, or None; why not; the settings its engine needs)."""
    engine = sandbox._container_engine()
    if engine is None:
        return None, "neither podman nor docker is installed", {}
    env = engine_conf(tmp)
    tar = python_rootfs(tmp / "rootfs.tar")
    made = subprocess.run([engine, "import", str(tar), IMAGE], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)
    if made.returncode != 0:
        return None, f"{engine} import failed: {made.stderr.strip()[-300:]}", env
    return IMAGE, "", env
