"""Blob files written and read around the page cache (``direct.py``), and the fallbacks.

The pieces a client's body arrives in have any sizes: the aligned buffer must carry
bytes across them and across its own boundary, and the unaligned tail must reach the
file. Both ways (direct and ordinary) must write the same bytes and hashes.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from cloudlet.services.s3 import direct
from cloudlet.services.s3.blobs import BlobStore
from cloudlet.services.s3.direct import ALIGN, BUFFER, FileSink

SHAPES = {
    "one byte": [1],
    "aligned": [ALIGN * 3],
    "exactly a buffer": [BUFFER],
    "pieces across buffers": [65536] * 40 + [17],
    "odd pieces": [1, ALIGN - 1, BUFFER - 3, 5, ALIGN + 1, BUFFER + 7, 100_003],
}


def pieces_of(sizes: list[int]) -> list[bytes]:
    return [os.urandom(n) for n in sizes]


@pytest.fixture(scope="module")
def can_direct(tmp_path_factory) -> bool:
    return direct.supported(tmp_path_factory.mktemp("probe"))


@pytest.mark.parametrize("use_direct", [True, False], ids=["direct", "buffered"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_sink_writes_every_byte_in_order(tmp_path: Path, shape, use_direct, can_direct):
    if use_direct and not can_direct:
        pytest.skip("this file system refuses O_DIRECT")
    pieces = pieces_of(SHAPES[shape])
    data = b"".join(pieces)
    md5 = hashlib.md5()
    path = tmp_path / "blob"
    sink = FileSink(path, use_direct)
    # Handed over in two steps, as BlobStore.write does: most, then the rest at the end.
    sink.write(pieces[:-1], [md5])
    sink.finish(pieces[-1:], [md5], durable=True)
    assert sink.fd == -1
    assert path.read_bytes() == data
    assert md5.digest() == hashlib.md5(data).digest()


def test_pread_returns_exact_ranges_from_any_offset(tmp_path: Path, can_direct):
    data = os.urandom(3 * BUFFER + 1234)
    path = tmp_path / "blob"
    sink = FileSink(path, can_direct)
    sink.finish([data], [], durable=False)
    fd = direct.open_for_reading(path)
    try:
        for pos, n in [(0, 10), (1, ALIGN), (ALIGN - 1, 2), (5, BUFFER), (BUFFER + 3, BUFFER)]:
            assert direct.pread(fd, n, pos) == data[pos : pos + n]
        end = len(data)
        assert direct.pread(fd, BUFFER, end - 7) == data[-7:]  # short at the end of the file
        assert direct.pread(fd, 10, end) == b""
        assert direct.pread(fd, 2 * BUFFER, 0) == data[:BUFFER]  # at most one buffer
    finally:
        os.close(fd)


def refuse_direct(monkeypatch, call: str) -> None:
    """``os.<call>`` fails with EINVAL for a direct descriptor or flag, as on a file
    system that refuses O_DIRECT (some FUSE mounts; tmpfs before Linux 6.6)."""
    real = getattr(os, call)

    def refusing(*args, **kwargs):
        if call == "open" and args[1] & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        if call == "write" and fcntl.fcntl(args[0], fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, refusing)


needs_o_direct = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT here")


@needs_o_direct
def test_a_file_system_refusing_o_direct_at_open_is_written_the_ordinary_way(
    tmp_path: Path, monkeypatch
):
    refuse_direct(monkeypatch, "open")
    assert direct.supported(tmp_path) is False
    assert list(tmp_path.iterdir()) == []  # the probe is gone
    data = os.urandom(BUFFER + 10)
    (tmp_path / "blob").write_bytes(data)
    fd = direct.open_for_reading(tmp_path / "blob")
    try:
        assert direct.pread(fd, 100, 7) == data[7:107]
    finally:
        os.close(fd)


@needs_o_direct
def test_a_direct_write_refused_later_turns_the_file_to_buffered_io(
    tmp_path: Path, monkeypatch, can_direct
):
    if not can_direct:
        pytest.skip("this file system refuses O_DIRECT")
    pieces = pieces_of([BUFFER + 5000])
    refuse_direct(monkeypatch, "write")
    sink = FileSink(tmp_path / "blob", True)
    sink.finish(pieces, [], durable=True)
    assert (tmp_path / "blob").read_bytes() == pieces[0]


def test_store_streams_and_reads_ranges_the_direct_way(tmp_path: Path, can_direct):
    store = BlobStore(tmp_path / "blobs")
    assert store.direct is can_direct
    data = os.urandom(2 * BUFFER + 4097)

    async def body():
        for i in range(0, len(data), 70_001):
            yield data[i : i + 70_001]

    async def scenario() -> None:
        blob = await store.write(body())
        assert blob.md5 == hashlib.md5(data).digest()
        for start, end in [(0, None), (3, BUFFER + 5), (BUFFER - 1, len(data) - 2), (10, 20)]:
            got = await store.read_all(blob.id, start, end)
            assert got == data[start:end], (start, end)

    asyncio.run(scenario())


def test_ephemeral_stores_keep_the_page_cache(tmp_path: Path):
    store = BlobStore(None)
    try:
        assert store.direct is False
    finally:
        store.close()
