"""Object bytes on disk: streamed in with flat memory, published atomically, read by range.

Why a blob store separate from the metadata: S3 objects are up to 5 GiB and
must stream, so their bytes live in plain files; SQLite holds only metadata
rows that *reference* a blob by id. The two are kept crash-consistent by
ordering, not by a shared transaction:

- **write**: bytes stream into ``<root>/<xx>/.tmp-<id>`` (same directory as the
  final name), hashed on the way (MD5 always, plus any extra hashers); then
  ``fsync`` the file, ``rename`` it to ``<root>/<xx>/<id>`` and ``fsync`` the
  directory. Only then does the caller commit a metadata row naming the blob,
  and only then is the client answered. A crash before the rename leaves a temp
  file; a crash between rename and commit leaves an unreferenced blob. Neither
  is ever visible to a client, and ``sweep`` removes both at start-up.
- **delete**: the caller commits the metadata change first, then deletes the
  blob file. A crash in between leaves an orphan (swept), never a row pointing
  at a missing file.
- **read**: the file is opened when the reader is created, so a concurrent
  overwrite or delete of the object (which unlinks the file) does not cut a
  download short: the open descriptor keeps the bytes alive until it closes.

Blobs are immutable once published, which is what makes ``link`` (a hard link
under a new id: CopyObject without copying bytes) safe.

**Small blobs live in SQLite** (``small.py``): a body of at most
``small.MAX_SIZE`` bytes becomes a row of the service's database, written in
the transaction that commits the metadata naming it, instead of a file with
two ``fsync`` calls. Multipart parts are always files (a completed upload
links them, see ``composed.py``).

Layout: ``<root>/<first two hex digits of id>/<id>``; 256 shard directories
keep each directory small for millions of objects.

Durable mode: ``<data_dir>/s3/blobs``. Ephemeral mode (``--ephemeral``): a
private temporary directory (``cloudlet-s3-*`` under the system temp dir),
removed by ``close()`` at shutdown; nothing is fsynced there because nothing
is meant to survive.

The event loop never waits on the disk for large work: buffered writes, reads
of more than one chunk, and every ``fsync`` run in worker threads; writes are
double-buffered so receiving the next megabyte overlaps writing the last.
Memory per transfer is bounded by ``WRITE_BUFFER * 2`` (upload) and
``chunk_size`` (download), whatever the object's size.

In durable mode, streamed files are written, and long ranges read, around the
page cache where the file system allows (``direct.py``): they are fsynced
anyway, and the copy into the cache was the largest cost of a big upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import direct, errors, small
from cloudlet.services.s3.direct import Hasher
from cloudlet.services.s3.small import SmallBlobs

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
"""Default size of the pieces a reader yields (a direct read's whole buffer: measured,
256 KiB pieces cost a 1 GiB download twice the server CPU)."""
WRITE_BUFFER = 1024 * 1024
"""Bytes gathered before a write (and hash update) is handed to a worker thread."""
_INLINE_READ = 64 * 1024
"""Ranges up to this size are read on the event loop: a thread hop costs more."""
_TMP_PREFIX = ".tmp-"
_SHARDS = [f"{i:02x}" for i in range(256)]


@dataclass(frozen=True, slots=True)
class Blob:
    """A published blob: its id, length and MD5 digest (16 raw bytes)."""

    id: str
    size: int
    md5: bytes

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()

    @property
    def etag(self) -> str:
        """S3's ETag of a single-part object: the quoted hex MD5."""
        return f'"{self.md5.hex()}"'


@dataclass(frozen=True, slots=True)
class SweepReport:
    temp_files: int
    orphans: int
    kept: int


class BlobStore:
    """Immutable byte blobs in files (small ones in database rows), addressed by id.

    See the module docstring.

    Used from the event-loop thread; the methods that touch the disk heavily
    are coroutines and do that work in worker threads.
    """

    def __init__(self, root: Path | None, db: sqlite3.Connection | None = None) -> None:
        """``root`` is the blob directory; None means ephemeral (a private temp dir).

        ``db``: the service's database, where small blobs are kept; None keeps
        every blob in a file.
        """
        self.small = SmallBlobs(db) if db is not None else None
        self.ephemeral = root is None
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="cloudlet-s3-"))
        self.root = root
        self._root_text = str(root)
        self.durable = not self.ephemeral
        fresh = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        for shard in _SHARDS:
            (root / shard).mkdir(exist_ok=True)
        # Streamed files skip the page cache (direct.py) where the disk allows and
        # each is fsynced anyway; an ephemeral store never syncs, so the cache is cheaper.
        self.direct = self.durable and direct.supported(root)
        if fresh and self.durable:
            _fsync_dir(root)
            _fsync_dir(root.parent)

    @classmethod
    def for_data_dir(cls, data_dir: Path | None, db: sqlite3.Connection | None = None) -> BlobStore:
        """The store of a server: ``<data_dir>/s3/blobs``, or ephemeral when None."""
        return cls(None if data_dir is None else data_dir / "s3" / "blobs", db)

    def close(self) -> None:
        """Shutdown: an ephemeral store removes its directory; a durable one keeps it.

        Small blobs still waiting for a transaction are written first (call
        this before the database closes).
        """
        if self.small is not None:
            self.small.close()
        if self.ephemeral:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- naming -------------------------------------------------------------------

    def path(self, blob_id: str) -> Path:
        """The file holding ``blob_id`` (it may not exist)."""
        return Path(f"{self._root_text}/{blob_id[:2]}/{blob_id}")

    @staticmethod
    def new_id() -> str:
        return fast_uuid().replace("-", "")

    # -- writing ------------------------------------------------------------------

    async def write(
        self,
        source: AsyncIterable[bytes] | bytes,
        *,
        hashers: Sequence[Hasher] = (),
        max_size: int | None = None,
        expected_size: int | None = None,
        inline: bool = True,
    ) -> Blob:
        """Stream ``source`` into a new published blob and return it.

        MD5 is always computed (``Blob.md5``); each of ``hashers`` is fed the
        same bytes in order (``update``), so a caller can compute checksums in
        the same pass and read them afterwards. When this returns, the bytes
        are durable (a file fsynced, renamed into place, directory fsynced; a
        small blob's row committed).

        ``max_size``: more bytes than this raise ``EntityTooLarge`` as soon as
        they arrive (nothing is kept). ``expected_size`` (the request's
        Content-Length): a source that ends short or runs long raises
        ``IncompleteBody`` (a client that disconnected mid-upload).

        ``inline``: a body of at most ``small.MAX_SIZE`` bytes becomes a
        database row (``small.py``); False keeps it a file (multipart parts,
        which completion links).

        Any exception (from the source, e.g. a signature check at the end of
        an aws-chunked stream, or from here) removes the temp file and
        propagates: a failed write leaves nothing behind.
        """
        blob_id = ""  # a file's id and name are made once the body is known not small
        final: Path | None = None
        tmp: Path | None = None  # set once a file is started
        md5 = hashlib.md5(usedforsecurity=False)
        all_hashers: tuple[Hasher, ...] = (md5, *hashers)
        # The file is created with the first full buffer; a body smaller than
        # one buffer (most objects) goes to disk in one worker-thread trip.
        # Pieces are kept as they came (no joined copy) until they are written.
        sink: direct.FileSink | None = None
        size = 0
        pending: asyncio.Future[None] | None = None
        try:
            if isinstance(source, bytes | bytearray | memoryview):
                size = len(source)
                _check_size(size, max_size, expected_size)
                rest = bytes(source)
            else:
                pieces: list[bytes] = []
                buffered = 0
                async for piece in source:
                    if not piece:
                        continue
                    size += len(piece)
                    _check_size(size, max_size, expected_size, final_check=False)
                    pieces.append(piece if isinstance(piece, bytes) else bytes(piece))
                    buffered += len(piece)
                    if buffered >= WRITE_BUFFER:
                        if pending is not None:
                            await pending
                        elif sink is None:
                            blob_id = self.new_id()
                            final = self.path(blob_id)
                            tmp = final.with_name(_TMP_PREFIX + blob_id)
                            sink = await asyncio.to_thread(direct.FileSink, tmp, self.direct)
                        pending = asyncio.ensure_future(
                            asyncio.to_thread(sink.write, pieces, all_hashers)
                        )
                        pieces, buffered = [], 0
                if pending is not None:
                    await pending
                    pending = None
                _check_size(size, max_size, expected_size)
                if sink is not None:
                    assert tmp is not None and final is not None
                    # Whatever happens next, the file is closed by ``finish``.
                    owned, sink = sink, None
                    await asyncio.to_thread(
                        _finish, owned, pieces, all_hashers, tmp, final, self.durable
                    )
                    return Blob(blob_id, size, md5.digest())
                rest = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if inline and self.small is not None and len(rest) <= small.MAX_SIZE:
                for h in all_hashers:
                    h.update(rest)
                blob_id = self.small.add(rest)
            else:
                blob_id = self.new_id()
                final = self.path(blob_id)
                tmp = final.with_name(_TMP_PREFIX + blob_id)
                if self.durable or len(rest) > _INLINE_READ:
                    await asyncio.to_thread(
                        _write_whole, tmp, final, rest, all_hashers, self.durable
                    )
                else:
                    _write_whole(tmp, final, rest, all_hashers, False)
        except BaseException:
            if pending is not None:
                try:
                    await pending
                except BaseException:  # noqa: BLE001 - the first error is the one to report
                    pass
            if sink is not None:
                sink.close()
            if tmp is not None:
                _unlink_quietly(tmp)
            raise
        return Blob(blob_id, size, md5.digest())

    async def concat(
        self,
        parts: Iterable[tuple[str, int, int | None]],
        *,
        hashers: Sequence[Hasher] = (),
    ) -> Blob:
        """A new blob made of byte ranges of existing blobs, in order.

        ``parts`` holds ``(blob_id, start, end_exclusive_or_None)``. This is
        how multipart completion assembles parts and how UploadPartCopy takes
        a range; the new blob is written (and hashed) like any other.
        """

        async def chained() -> AsyncIterator[bytes]:
            for blob_id, start, end in parts:
                reader = self.reader(blob_id, start, end)
                try:
                    async for piece in reader:
                        yield piece
                finally:
                    reader.close()

        return await self.write(chained(), hashers=hashers)

    async def link(self, blob_id: str) -> str:
        """A new id naming the same bytes (a hard link; a copy where links fail).

        CopyObject uses it: blobs never change once written, so two objects
        may share an inode, and deleting one leaves the other intact.
        """
        if self.small is not None and small.is_small(blob_id):
            return self.small.add(self.small.get(blob_id))
        new_id = self.new_id()
        src, dst = self.path(blob_id), self.path(new_id)
        try:
            os.link(src, dst)
        except FileNotFoundError:
            raise
        except OSError:
            reader = self.reader(blob_id)
            blob = await self.write(reader)
            return blob.id
        if self.durable:
            await asyncio.to_thread(_fsync_dir, dst.parent)
        return new_id

    # -- reading ------------------------------------------------------------------

    def reader(
        self,
        blob_id: str,
        start: int = 0,
        end: int | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> BlobReader | InlineReader:
        """An async iterator over bytes ``[start, end)`` of a blob (``end`` None: to EOF).

        The file is opened now (``FileNotFoundError`` if the blob is gone,
        ``BlobDamaged`` if it is shorter than ``end``), so the bytes stay
        readable even if the blob is deleted before the reader finishes.
        Pieces are at most ``chunk_size`` bytes. The reader closes
        its file when exhausted; call ``close()`` (or ``aclose()``) when
        abandoning it early (a dropped reader is closed when collected).
        A small blob's bytes are read whole now, which gives the same guarantee.
        """
        if self.small is not None and small.is_small(blob_id):
            return InlineReader(self.small.get(blob_id), start, end, chunk_size)
        return BlobReader(self.path(blob_id), start, end, chunk_size, self.direct)

    def inline(self, blob_id: str, start: int = 0, end: int | None = None) -> bytes | None:
        """Bytes ``[start, end)`` of a small blob, which are in memory anyway (a
        response sends them as one body instead of iterating a reader); None for
        a blob on disk."""
        if self.small is None or not small.is_small(blob_id):
            return None
        data = self.small.get(blob_id)
        return data if start == 0 and (end is None or end >= len(data)) else data[start:end]

    async def read_all(self, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
        """The whole range in memory: for small blobs only (tests, XML documents)."""
        reader = self.reader(blob_id, start, end)
        return b"".join([piece async for piece in reader])

    def size(self, blob_id: str) -> int:
        if self.small is not None and small.is_small(blob_id):
            return len(self.small.get(blob_id))
        return self.path(blob_id).stat().st_size

    def exists(self, blob_id: str) -> bool:
        if self.small is not None and small.is_small(blob_id):
            return self.small.exists(blob_id)
        return self.path(blob_id).exists()

    # -- deleting -----------------------------------------------------------------

    def delete(self, blob_id: str) -> None:
        """Remove a blob (missing is fine). Call after the metadata no longer names it.

        Not fsynced: a delete lost to an OS crash leaves an orphan the next
        start-up sweeps.
        """
        if self.small is not None and small.is_small(blob_id):
            self.small.delete(blob_id)
            return
        _unlink_quietly(self.path(blob_id))

    def delete_many(self, blob_ids: Iterable[str]) -> None:
        for blob_id in blob_ids:
            if blob_id:
                self.delete(blob_id)

    def sweep(self, is_referenced: Callable[[str], bool]) -> SweepReport:
        """Start-up: remove temp files and blobs no metadata references.

        ``is_referenced(blob_id)`` must answer for *every* table that holds
        blob ids (object versions, multipart parts, ...). Run it before the
        first request, never while writes are in flight: a blob published but
        not yet committed would look like an orphan.
        """
        report = sweep_tree(self.root, is_referenced, _unlink_quietly)
        if self.small is not None:
            removed, kept = self.small.sweep(is_referenced)
            report = SweepReport(report.temp_files, report.orphans + removed, report.kept + kept)
        if report.temp_files or report.orphans:
            log.info(
                "s3 blob sweep: removed %d temp files and %d orphans",
                report.temp_files,
                report.orphans,
            )
        return report


def sweep_tree(
    root: Path, is_referenced: Callable[[str], bool], remove: Callable[[Path], object]
) -> SweepReport:
    """Walk ``root``'s shard directories: ``remove`` temp entries and unreferenced
    ones, keep the rest. Shared by plain and composed blobs."""
    temps = orphans = kept = 0
    for shard in _SHARDS:
        directory = root / shard
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)
            continue
        for name in names:
            if name.startswith(_TMP_PREFIX):
                temps += 1
            elif is_referenced(name):
                kept += 1
                continue
            else:
                orphans += 1
            remove(directory / name)
    return SweepReport(temps, orphans, kept)


class BlobDamaged(OSError):
    """A blob file is shorter than the range asked of it (its data directory was damaged)."""


class BlobReader:
    """Async iterator over a byte range of one blob file (see ``BlobStore.reader``)."""

    __slots__ = ("_fd", "_pos", "_end", "_chunk", "_direct", "length")

    def __init__(
        self, path: Path, start: int, end: int | None, chunk_size: int, direct_io: bool = False
    ) -> None:
        """``direct_io``: the store writes around the page cache (``direct.py``), so a
        long range is read that way too (pieces of at most ``direct.BUFFER``)."""
        self._direct = self._fd = -1  # for close() should the open fail
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        size = os.fstat(self._fd).st_size
        if end is None:
            end = size
        elif size < end:
            # A damaged data directory (a file cut short): fail now, before the
            # response's headers promise bytes that are not there.
            self.close()
            raise BlobDamaged(f"{path} holds {size} bytes, {end} expected")
        self._pos = start
        self._end = max(start, end)
        self._chunk = max(1, chunk_size)
        self.length = self._end - start
        """Bytes this reader will yield."""
        if direct_io and self.length >= direct.READ_MIN:
            # A second descriptor: the first keeps the bytes alive should the blob be
            # deleted while it is read, and answers if the direct one fails.
            self._direct = direct.open_for_reading(path)

    def __aiter__(self) -> BlobReader:
        return self

    async def __anext__(self) -> bytes:
        remaining = self._end - self._pos
        if remaining <= 0 or self._fd < 0:
            self.close()
            raise StopAsyncIteration
        n = min(self._chunk, remaining)
        if self._direct >= 0:
            data = await asyncio.to_thread(direct.pread, self._direct, n, self._pos)
        elif n <= _INLINE_READ:
            data = os.pread(self._fd, n, self._pos)
        else:
            data = await asyncio.to_thread(os.pread, self._fd, n, self._pos)
        if not data:
            # The file is shorter than its metadata said: end rather than spin.
            self.close()
            raise StopAsyncIteration
        self._pos += len(data)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._direct >= 0:
            os.close(self._direct)
            self._direct = -1

    async def aclose(self) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class InlineReader:
    """A ``BlobReader`` over a small blob's bytes, already in memory."""

    __slots__ = ("_data", "_chunk", "length")

    def __init__(self, data: bytes, start: int, end: int | None, chunk_size: int) -> None:
        stop = len(data) if end is None else min(end, len(data))
        self._data = data[start:stop] if (start or stop != len(data)) else data
        self._chunk = max(1, chunk_size)
        self.length = len(self._data)

    def __aiter__(self) -> InlineReader:
        return self

    async def __anext__(self) -> bytes:
        data = self._data
        if not data:
            raise StopAsyncIteration
        piece, self._data = data[: self._chunk], data[self._chunk :]
        return piece

    def close(self) -> None:
        self._data = b""

    async def aclose(self) -> None:
        self.close()


# -- helpers -------------------------------------------------------------------------


def _check_size(
    size: int, max_size: int | None, expected: int | None, *, final_check: bool = True
) -> None:
    if max_size is not None and size > max_size:
        raise errors.entity_too_large(size, max_size)
    if expected is not None and (size > expected or (final_check and size != expected)):
        raise errors.incomplete_body(size, expected)


def _write_whole(
    tmp: Path, final: Path, data: bytes, hashers: Sequence[Hasher], durable: bool
) -> None:
    """A whole (small) blob: create, write, publish (through the page cache: one write)."""
    _finish(direct.FileSink(tmp, False), [data], hashers, tmp, final, durable)


def _finish(
    sink: direct.FileSink,
    pieces: list[bytes],
    hashers: Sequence[Hasher],
    tmp: Path,
    final: Path,
    durable: bool,
) -> None:
    """Write the last bytes, then publish: fsync, rename, fsync the directory."""
    sink.finish(pieces, hashers, durable)
    os.rename(tmp, final)
    if durable:
        _fsync_dir(final.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
