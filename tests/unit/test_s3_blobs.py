"""The blob store without HTTP: streamed writes, hashing, failure cleanup, ranges, sweep."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import zlib
from pathlib import Path

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3.blobs import WRITE_BUFFER, BlobDamaged, BlobStore
from cloudlet.services.s3.small import MAX_SIZE as INLINE_MAX
from cloudlet.services.s3.small import is_small as is_inline


def run(coro):
    return asyncio.run(coro)


async def chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i : i + size]


class Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)


def files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs")


def test_write_streams_hashes_and_publishes(store):
    data = os.urandom(3 * WRITE_BUFFER + 12345)
    crc = Crc32()
    blob = run(store.write(chunks(data), hashers=[crc]))
    assert blob.size == len(data)
    assert blob.md5 == hashlib.md5(data).digest()
    assert blob.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert crc.value == zlib.crc32(data)
    assert store.path(blob.id).read_bytes() == data
    assert [p.name for p in files(store.root)] == [blob.id]


def test_write_bytes_and_empty(store):
    assert run(store.read_all(run(store.write(b"small")).id)) == b"small"
    empty = run(store.write(b""))
    assert empty.size == 0 and empty.md5 == hashlib.md5(b"").digest()


def test_reader_ranges_and_chunking(store):
    data = bytes(range(256)) * 5000
    blob = run(store.write(data))

    async def pieces(start, end, chunk):
        return [p async for p in store.reader(blob.id, start, end, chunk_size=chunk)]

    got = run(pieces(0, None, 100_000))
    assert b"".join(got) == data
    assert max(len(p) for p in got) == 100_000
    assert b"".join(run(pieces(1000, 1010, 4))) == data[1000:1010]
    assert run(pieces(10, 10, 4)) == []


def test_reader_outlives_delete(store):
    blob = run(store.write(b"still readable"))
    reader = store.reader(blob.id)
    store.delete(blob.id)
    assert not store.exists(blob.id)

    async def read():
        return b"".join([p async for p in reader])

    assert run(read()) == b"still readable"


def test_a_file_cut_short_fails_its_reader_at_once(store):
    data = os.urandom(200 * 1024)
    blob = run(store.write(chunks(data)))
    os.truncate(store.path(blob.id), 1000)
    with pytest.raises(BlobDamaged):
        store.reader(blob.id, 0, blob.size)
    with pytest.raises(BlobDamaged):
        store.reader(blob.id, 500, 1001)

    async def read(reader) -> bytes:
        return b"".join([piece async for piece in reader])

    assert run(read(store.reader(blob.id, 0, 1000))) == data[:1000]
    assert run(read(store.reader(blob.id))) == data[:1000]  # no end: to the file's end


def test_failed_source_leaves_nothing(store):
    async def broken():
        yield b"x" * (WRITE_BUFFER + 1)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        run(store.write(broken()))
    assert files(store.root) == []


def test_size_limits(store):
    with pytest.raises(ServiceError) as exc:
        run(store.write(chunks(b"x" * 5000), max_size=4096))
    assert exc.value.code == "EntityTooLarge"
    with pytest.raises(ServiceError) as exc:
        run(store.write(chunks(b"x" * 10), expected_size=11))
    assert exc.value.code == "IncompleteBody"
    with pytest.raises(ServiceError) as exc:
        run(store.write(chunks(b"x" * 12), expected_size=11))
    assert exc.value.code == "IncompleteBody"
    assert files(store.root) == []


def test_link_and_concat(store):
    a = run(store.write(b"hello "))
    b = run(store.write(b"world"))
    linked = run(store.link(a.id))
    assert linked != a.id
    store.delete(a.id)
    assert run(store.read_all(linked)) == b"hello "
    joined = run(store.concat([(linked, 0, None), (b.id, 0, 3)]))
    assert run(store.read_all(joined.id)) == b"hello wor"
    assert joined.md5 == hashlib.md5(b"hello wor").digest()


def test_sweep_removes_temp_files_and_orphans(store):
    keep = run(store.write(b"kept"))
    orphan = run(store.write(b"orphan"))
    tmp = store.root / "ab" / ".tmp-interrupted"
    tmp.write_bytes(b"partial")
    report = store.sweep({keep.id}.__contains__)
    assert (report.temp_files, report.orphans, report.kept) == (1, 1, 1)
    assert [p.name for p in files(store.root)] == [keep.id]
    assert not store.exists(orphan.id)


def test_ephemeral_store_is_removed_on_close():
    store = BlobStore(None)
    run(store.write(b"temporary"))
    assert store.root.is_dir() and store.root.name.startswith("cloudlet-s3-")
    store.close()
    assert not store.root.exists()


# -- small blobs in the database --------------------------------------------------------


@pytest.fixture
def small(tmp_path):
    db = sqlite3.connect(":memory:", isolation_level=None)
    yield BlobStore(tmp_path / "blobs", db)
    db.close()


def test_small_bodies_become_rows_not_files(small):
    data = os.urandom(INLINE_MAX)
    crc = Crc32()
    blob = run(small.write(chunks(data, 1000), hashers=[crc]))
    assert is_inline(blob.id) and files(small.root) == []
    assert blob.md5 == hashlib.md5(data).digest() and crc.value == zlib.crc32(data)
    assert run(small.read_all(blob.id)) == data
    assert run(small.read_all(blob.id, 10, 20)) == data[10:20]
    pieces = run(_collect(small.reader(blob.id, 0, 70000, chunk_size=30000)))
    assert [len(p) for p in pieces] == [30000, 30000, INLINE_MAX - 60000]
    assert small.size(blob.id) == INLINE_MAX and small.exists(blob.id)


def test_larger_bodies_and_parts_stay_files(small):
    big = run(small.write(os.urandom(INLINE_MAX + 1)))
    part = run(small.write(b"a part", inline=False))
    assert not is_inline(big.id) and not is_inline(part.id)
    assert sorted(p.name for p in files(small.root)) == sorted([big.id, part.id])
    assert run(small.read_all(part.id)) == b"a part"


def test_small_blob_link_delete_and_open_reader(small):
    blob = run(small.write(b"shared bytes"))
    copy = run(small.link(blob.id))
    assert is_inline(copy) and copy != blob.id
    reader = small.reader(blob.id)
    small.delete(blob.id)
    assert run(_collect(reader)) == [b"shared bytes"]  # read before the delete: still whole
    assert not small.exists(blob.id)
    with pytest.raises(FileNotFoundError):
        small.reader(blob.id)
    with pytest.raises(FileNotFoundError):
        run(small.link(blob.id))
    assert run(small.read_all(copy)) == b"shared bytes"


def test_sweep_removes_unreferenced_rows(small):
    kept = run(small.write(b"kept")).id
    orphan = run(small.write(b"orphan")).id
    report = small.sweep({kept}.__contains__)
    assert report.orphans == 1 and report.kept == 1
    assert small.exists(kept) and not small.exists(orphan)


async def _collect(reader) -> list[bytes]:
    return [piece async for piece in reader]
