"""Composed blobs (a multipart object's part files read as one blob), without HTTP."""

from __future__ import annotations

import asyncio
import os

import pytest

from cloudlet.services.s3.composed import ComposedBlobStore, is_composed


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=["durable", "ephemeral"])
def store(request, tmp_path):
    blobs = ComposedBlobStore(tmp_path / "blobs" if request.param == "durable" else None)
    yield blobs
    blobs.close()


async def _compose(store, pieces):
    ids = [(await store.write(p)).id for p in pieces]
    blob_id, size = await store.compose(ids)
    return ids, blob_id, size


def test_compose_reads_like_one_blob(store):
    pieces = [os.urandom(1000), os.urandom(70_000), b"", os.urandom(5)]
    whole = b"".join(pieces)

    async def go():
        ids, blob_id, size = await _compose(store, pieces)
        assert is_composed(blob_id) and size == len(whole) == store.size(blob_id)
        # The sources can go: the composed blob holds its own links.
        store.delete_many(ids)
        assert await store.read_all(blob_id) == whole
        for start, end in [(0, 1), (999, 1001), (500, 71_000), (70_999, None), (len(whole), None)]:
            assert await store.read_all(blob_id, start, end) == whole[start:end]
        reader = store.reader(blob_id, 10, 80_000, chunk_size=4096)
        assert reader.length == len(whole) - 10
        assert all(len(p) <= 4096 for p in [p async for p in reader])
        copy = await store.link(blob_id)
        store.delete(blob_id)
        assert not store.exists(blob_id)
        assert await store.read_all(copy) == whole
        nested_id, _ = await store.compose([copy, (await store.write(b"!")).id])
        assert await store.read_all(nested_id) == whole + b"!"

    run(go())


def test_delete_waits_for_open_readers(store):
    pieces = [os.urandom(300_000), os.urandom(300_000)]

    async def go():
        _, blob_id, _ = await _compose(store, pieces)
        reader = store.reader(blob_id, chunk_size=65_536)
        first = await reader.__anext__()
        store.delete(blob_id)
        assert store.exists(blob_id)  # deferred while the reader is open
        rest = b"".join([p async for p in reader])
        assert first + rest == b"".join(pieces)
        assert not store.exists(blob_id)
        # An abandoned reader releases the blob too.
        _, other, _ = await _compose(store, pieces)
        dropped = store.reader(other)
        store.delete(other)
        dropped.close()
        assert not store.exists(other)

    run(go())


def test_sweep_keeps_referenced_and_removes_debris(tmp_path):
    store = ComposedBlobStore(tmp_path / "blobs")

    async def go():
        return await _compose(store, [b"abc", b"def"]), await _compose(store, [b"x"])

    (ids, keep, _), (other_ids, orphan, _) = run(go())
    debris = store.path(keep).with_name(".tmp-debris-mp")
    debris.mkdir()
    (debris / "00000").write_bytes(b"partial")
    referenced = {keep, *ids}
    report = store.sweep(referenced.__contains__)
    assert report.orphans == 1 + len(other_ids) and report.temp_files == 1
    assert store.exists(keep) and not store.exists(orphan) and not debris.exists()
    assert run(store.read_all(keep)) == b"abcdef"
