"""The network shims that give each EC2 instance its own view of the network.

Why: instances share this machine's network stack, yet their programs expect
EC2's, where ``0.0.0.0:8080`` and ``localhost`` belong to the instance, and
the other instances of its VPC answer at their private addresses and names.
Two layers steer wildcard and localhost binds onto the instance's own
loopback address, localhost connections onto its own services, and
connections to the VPC's private addresses onto the loopback addresses of
the instances holding them (the VPC's address map, ``vpcmap.c``, written by
``cloudlet/services/ec2/vpc_addresses.py``):

- ``bindshim.c`` (with ``vpcmap.c``), an ``LD_PRELOAD`` library wrapping
  libc's ``bind()``, ``connect()``, ``sendto()``/``sendmsg()`` and name
  lookups: any dynamically linked program (Python, Perl, Node, Ruby, Java,
  nginx, curl...). It is compiled on first use, once per source version, into
  the user's cache directory: a pip (editable) install has no build step we
  control, and a compiler may be missing, in which case instances simply run
  without it.
- ``python/sitecustomize.py``, put first on the instance's ``PYTHONPATH``: the
  same rules at Python's ``socket`` level, for machines without a compiler
  (and harmlessly on top of the library where there is one).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "bindshim.c"
SOURCES = (SOURCE, HERE / "vpcmap.c", HERE / "vpcmap.h", HERE / "vpcparse.c", HERE / "vpcparse.h")
"""Everything the library is built from (and its cache name hashed over)."""
PYTHON_DIR = HERE / "python"
"""The directory to put first on an instance's ``PYTHONPATH``."""

_lock = threading.Lock()
_built: dict[Path, Path | None] = {}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cloudlet"


def find_compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


def _compile(compiler: str, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / (target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another server may be compiling the same file
        if target.exists():
            return True
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".build-", suffix=".so")
        os.close(fd)
        try:
            cmd = [compiler, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o", tmp]
            cmd += [str(path) for path in SOURCES if path.suffix == ".c"] + ["-ldl"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                log.warning("compiling the bind shim failed: %s", out.stderr.strip()[-2000:])
                return False
            # A library the loader rejects would print an error in every instance.
            check = subprocess.run(
                ["true"],
                env={**os.environ, "LD_PRELOAD": tmp},
                capture_output=True,
                text=True,
                timeout=30,
            )
            if check.returncode != 0 or check.stderr.strip():
                log.warning("the bind shim does not load: %s", check.stderr.strip())
                return False
            os.replace(tmp, target)
            return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def preload_library(cache: Path | None = None, compiler: str | None = None) -> Path | None:
    """Path of the compiled ``LD_PRELOAD`` shim, compiling it on first use; None where
    it cannot be had (not Linux, no compiler, compilation failed) or is turned off
    (``CLOUDLET_NO_PRELOAD_SHIM=1``, to run with the Python shim only). Cached per process."""
    if not sys.platform.startswith("linux") or os.environ.get("CLOUDLET_NO_PRELOAD_SHIM"):
        return None
    cache = cache or cache_dir()
    with _lock:
        if cache in _built:
            return _built[cache]
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in SOURCES)).hexdigest()[:16]
        target = cache / f"bindshim-{digest}.so"
        result: Path | None = None
        if target.exists():
            result = target
        else:
            cc = compiler or find_compiler()
            if cc is None:
                log.info("no C compiler: instances get the Python-level network shim only")
            else:
                try:
                    result = target if _compile(cc, target) else None
                except (OSError, subprocess.SubprocessError) as exc:
                    log.warning("could not build the bind shim: %s", exc)
        _built[cache] = result
        return result
