"""The loopback block a server's instances take their addresses from.

Every instance gets its own address in 127.0.0.0/8 (Linux routes the whole
block to ``lo``). Two cloudlet servers on one machine (pytest-xdist workers,
two projects) must not hand out the same addresses, or their instances'
servers on a common port (8080) would collide. So each server claims a
``127.<b>.0.0/16`` block machine-wide, with an exclusive ``flock`` on a lock
file per block held for the server's lifetime, and remembers its block in
its own state so a restart keeps the instances' addresses when it can.
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
from pathlib import Path
from typing import IO

BLOCKS = range(1, 255)
"""Second octets a server may claim (127.0.x.x holds 127.0.0.1 itself)."""


def _lock_dir() -> Path:
    """Machine-wide, whatever this process's ``TMPDIR`` says: servers given private
    temp dirs (``cloudlet.testing`` gives each child one) must still see each other."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base:
        base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()  # noqa: S108
    path = Path(base) / f"cloudlet-addresses-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class AddressBlock:
    """A claimed ``127.<block>.0.0/16``; ``release`` (or process exit) frees it."""

    def __init__(self, block: int, handle: IO[str]) -> None:
        self.block = block
        self._handle = handle

    @classmethod
    def claim(cls, preferred: int | None = None) -> AddressBlock:
        """The preferred block when no other server holds it, else a free one at random."""
        directory = _lock_dir()
        order = random.sample(list(BLOCKS), len(BLOCKS))
        if preferred in BLOCKS:
            order.insert(0, preferred)
        for block in order:
            handle = open(directory / f"127.{block}.lock", "w")  # noqa: SIM115 - held open
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            return cls(block, handle)
        raise RuntimeError("every loopback block is taken by another cloudlet server")

    def contains(self, ip: str) -> bool:
        return ip.startswith(f"127.{self.block}.")

    def addresses(self):  # noqa: ANN201 - a generator of str
        """``127.<block>.1.1`` upward, skipping .0 and .255."""
        for c in range(1, 256):
            for d in range(1, 255):
                yield f"127.{self.block}.{c}.{d}"

    def release(self) -> None:
        self._handle.close()
