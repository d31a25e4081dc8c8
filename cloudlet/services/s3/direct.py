"""Streamed blob files, written around the page cache where the filesystem allows.

Why: a durable upload is fsynced before S3 answers, so its bytes go to the
disk at once either way; writing them through the page cache only adds a
kernel copy of every byte and evicts what the machine had cached. Measured with
``perf`` during a 1 GiB ``upload_file``: that copy was the largest single cost
of the server (a third of its CPU). With ``O_DIRECT`` the device takes the bytes
from our buffer itself. MinIO writes its object files the same way.

``O_DIRECT`` wants the buffer's address, the file offset and each length aligned
to the device's logical block: bytes gather in page-aligned ``mmap`` buffers
(pooled, so their pages are faulted in once) and go out a whole buffer at a
time; the last, unaligned bytes are written after switching the descriptor
back to buffered I/O (``fcntl``), and the closing ``fsync`` covers both.
Where a filesystem refuses ``O_DIRECT`` (tmpfs, some FUSE mounts; macOS has no
such flag) ``supported`` says so once and files are written the ordinary way;
a write that still fails with ``EINVAL`` turns that file back to buffered I/O.

A ``FileSink`` is used from one worker thread at a time (``BlobStore.write``
awaits each step before the next); the buffer pool is shared, under a lock.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

ALIGN = 4096
"""Offsets and lengths of direct writes are multiples of this (any logical block size up
to a page)."""
BUFFER = 1024 * 1024
"""The unit of a direct write, and the most a direct read returns (a multiple of ``ALIGN``)."""
READ_MIN = 1024 * 1024
"""Reads of ranges at least this long go around the page cache (``pread``); shorter
ones, which a client may well repeat (a Parquet footer), use it."""
_POOL_MAX = 16
_DIRECT = getattr(os, "O_DIRECT", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_IOV_MAX = 1024

_pool: list[mmap.mmap] = []
_pool_lock = threading.Lock()


class Hasher(Protocol):
    """Anything with ``update(bytes)``: ``hashlib`` objects, the checksum helpers."""

    def update(self, data: bytes, /) -> None: ...


def supported(directory: Path) -> bool:
    """Whether files in ``directory`` can be written with ``O_DIRECT`` (a probe file)."""
    if not _DIRECT:
        return False
    probe = directory / f".direct-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _DIRECT, 0o600)
    except OSError:
        return False
    buf = _take()
    try:
        with memoryview(buf) as view:
            return os.write(fd, view[:ALIGN]) == ALIGN
    except OSError:
        return False
    finally:
        _give(buf)
        os.close(fd)
        try:
            os.unlink(probe)
        except OSError:
            pass


def _take() -> mmap.mmap:
    with _pool_lock:
        if _pool:
            return _pool.pop()
    # One block more than BUFFER: a direct read of BUFFER bytes from any offset fits.
    return mmap.mmap(-1, BUFFER + ALIGN)


def _give(buf: mmap.mmap) -> None:
    with _pool_lock:
        if len(_pool) < _POOL_MAX:
            _pool.append(buf)
            return
    buf.close()


class FileSink:
    """A new file written from pieces of bytes, directly when ``direct`` (see above).

    The constructor creates the file (``O_EXCL``), so call it in a worker thread.
    """

    __slots__ = ("fd", "_buf", "_fill")

    def __init__(self, path: Path, direct: bool) -> None:
        self.fd = os.open(path, _CREATE | (_DIRECT if direct else 0), 0o644)
        self._buf: mmap.mmap | None = _take() if direct else None
        self._fill = 0

    def write(self, pieces: Sequence[bytes], hashers: Sequence[Hasher]) -> None:
        """Hash and write ``pieces`` in order (bytes short of a whole buffer wait)."""
        for piece in pieces:
            for h in hashers:
                h.update(piece)
        buf = self._buf
        if buf is None:
            _write_pieces(self.fd, pieces)
            return
        fill = self._fill
        for piece in pieces:
            at, n = 0, len(piece)
            view = memoryview(piece)
            while at < n:
                take = min(n - at, BUFFER - fill)
                buf[fill : fill + take] = view[at : at + take]
                fill += take
                at += take
                if fill == BUFFER:
                    self._flush(BUFFER)
                    fill = 0
        self._fill = fill

    def finish(self, pieces: Sequence[bytes], hashers: Sequence[Hasher], durable: bool) -> None:
        """Write the last pieces and what waits in the buffer, fsync if ``durable``, close."""
        try:
            self.write(pieces, hashers)
            fill = self._fill
            if self._buf is not None and fill:
                aligned = fill - fill % ALIGN
                if aligned:
                    self._flush(aligned)
                if aligned < fill:
                    self._buffered()
                    with memoryview(self._buf) as view:
                        _write_all(self.fd, view[aligned:fill])
                self._fill = 0
            if durable:
                os.fsync(self.fd)
        finally:
            self.close()

    def close(self) -> None:
        """Close the file and hand the buffer back (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._buf is not None:
            _give(self._buf)
            self._buf = None

    def _flush(self, length: int) -> None:
        """Write the buffer's first ``length`` bytes (aligned) at the file's offset."""
        assert self._buf is not None
        with memoryview(self._buf) as view:
            try:
                _write_all(self.fd, view[:length])
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._buffered()  # refused after all: this file goes the ordinary way
                _write_all(self.fd, view[:length])

    def _buffered(self) -> None:
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~_DIRECT)


def open_for_reading(path: Path) -> int:
    """A descriptor for ``pread`` (``O_DIRECT``; plain where the file system refuses)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | _DIRECT)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return os.open(path, flags)


def pread(fd: int, n: int, pos: int) -> bytes:
    """Up to ``min(n, BUFFER)`` bytes at ``pos`` (fewer at the end of the file), read with
    aligned offsets and lengths through a pooled buffer; plain ``pread`` where the
    descriptor is not direct after all."""
    start = pos - pos % ALIGN
    skip = pos - start
    want = min(n, BUFFER)
    length = -(-(skip + want) // ALIGN) * ALIGN
    buf = _take()
    try:
        with memoryview(buf) as view:
            try:
                got = os.preadv(fd, [view[:length]], start)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                return os.pread(fd, want, pos)
            return bytes(view[skip : min(got, skip + want)]) if got > skip else b""
    finally:
        _give(buf)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _write_pieces(fd: int, pieces: Sequence[bytes]) -> None:
    """``writev`` the pieces (no joined copy), however many and however partial."""
    for first in range(0, len(pieces), _IOV_MAX):
        batch = list(pieces[first : first + _IOV_MAX])
        while batch:
            n = os.writev(fd, batch)
            while batch and n >= len(batch[0]):
                n -= len(batch[0])
                batch.pop(0)
            if batch and n:
                batch[0] = memoryview(batch[0])[n:]
