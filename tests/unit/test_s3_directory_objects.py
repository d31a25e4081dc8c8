"""Directory-bucket object rules without HTTP: rename and append crash safety (a failure
inside the commit leaves the object as it was), the append part limit, checksum
arithmetic of appends, and the rename/delete conditions."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import zlib
from types import SimpleNamespace

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import checksums
from cloudlet.services.s3.append import appended
from cloudlet.services.s3.composed import ComposedBlobStore
from cloudlet.services.s3.conditions import check_delete_match, check_rename_destination
from cloudlet.services.s3.directory_objects import DirectoryObjectHandlers
from cloudlet.services.s3.rename import source_key
from cloudlet.services.s3.store import Bucket, ObjectVersion, S3Store
from cloudlet.services.s3.uploads import MAX_PARTS
from cloudlet.state.db import open_database

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
ACCOUNT = "000000000000"
NAME = "b--use1-az4--x-s3"


class Handlers(DirectoryObjectHandlers):
    def __init__(self, store: S3Store, blobs: ComposedBlobStore) -> None:
        self.store = store
        self.blobs = blobs


@pytest.fixture
def handlers(tmp_path):
    store = S3Store(open_database(tmp_path, "s3"))
    store.insert_bucket(Bucket(NAME, ACCOUNT, "us-east-1", NOW, config={"directory": {}}))
    blobs = ComposedBlobStore(tmp_path / "blobs", store.conn)
    store.add_transaction_hooks(blobs.small)
    yield Handlers(store, blobs)
    blobs.close()
    store.close()


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def put(h: Handlers, key: str, data: bytes, **fields) -> ObjectVersion:
    blob = await h.blobs.write(data)
    version = ObjectVersion(
        bucket=NAME,
        key=key,
        version_id="null",
        last_modified=NOW,
        owner=ACCOUNT,
        size=len(data),
        etag=blob.etag,
        blob_id=blob.id,
        storage_class="EXPRESS_ONEZONE",
        checksums={"CRC32": crc32(data)},
        checksum_type="FULL_OBJECT",
        **fields,
    )
    return h.store.put_version(version)[0]


def ctx() -> SimpleNamespace:
    return SimpleNamespace(account_id=ACCOUNT, request=SimpleNamespace(headers={}))


def test_a_rename_that_fails_inside_its_transaction_changes_nothing(handlers, monkeypatch):
    async def go():
        await put(handlers, "src", b"source")
        await put(handlers, "dst", b"replaced?")

    asyncio.run(go())

    def crash(*args, **kwargs):
        raise RuntimeError("crash between the two row writes")

    monkeypatch.setattr(handlers.store, "delete_version", crash)
    params = {"Bucket": NAME, "Key": "dst", "RenameSource": "src", "ClientToken": "t"}
    with pytest.raises(RuntimeError):
        handlers.rename_object(ctx(), params)
    monkeypatch.undo()
    store = handlers.store
    assert store.latest(NAME, "src").size == len(b"source")
    assert store.latest(NAME, "dst").size == len(b"replaced?")
    assert store.conn.execute("SELECT count(*) FROM rename_tokens").fetchone()[0] == 0
    handlers.rename_object(ctx(), params)  # the token was not kept: the retry renames
    assert store.latest(NAME, "src") is None and store.latest(NAME, "dst").size == 6


def test_an_append_that_fails_at_its_commit_leaves_the_object_and_no_debris(handlers, monkeypatch):
    async def go():
        before = await put(handlers, "k", b"hello")

        def crash(version):
            raise RuntimeError("crash at the commit")

        monkeypatch.setattr(handlers.store, "put_version", crash)
        params = {"Bucket": NAME, "Key": "k", "Body": b" world", "WriteOffsetBytes": 5}
        with pytest.raises(RuntimeError):
            await handlers.put_object(ctx(), params)
        monkeypatch.undo()
        after = handlers.store.latest(NAME, "k")
        assert (after.size, after.etag, after.blob_id) == (5, before.etag, before.blob_id)
        assert await handlers.blobs.read_all(after.blob_id) == b"hello"
        report = handlers.blobs.sweep(handlers.store.referenced_blob_ids().__contains__)
        assert (report.temp_files, report.orphans) == (0, 0)  # composed and part removed

        out = await handlers.put_object(ctx(), params)
        assert out["Size"] == 11
        await asyncio.sleep(0)  # the replaced blob is dropped after the response
        version = handlers.store.latest(NAME, "k")
        assert await handlers.blobs.read_all(version.blob_id) == b"hello world"
        report = handlers.blobs.sweep(handlers.store.referenced_blob_ids().__contains__)
        assert (report.temp_files, report.orphans) == (0, 0)

    asyncio.run(go())


def test_an_object_of_ten_thousand_parts_takes_no_more(handlers):
    async def go():
        await put(
            handlers,
            "k",
            b"x" * 10,
            parts={"count": MAX_PARTS, "sizes": [1] * MAX_PARTS},
        )
        params = {"Bucket": NAME, "Key": "k", "Body": b"y", "WriteOffsetBytes": 10}
        with pytest.raises(ServiceError) as exc:
            await handlers.put_object(ctx(), params)
        assert (exc.value.code, exc.value.status) == ("TooManyParts", 400)

    asyncio.run(go())


def _version(data: bytes, algorithm: str, kind: str = "FULL_OBJECT") -> ObjectVersion:
    return ObjectVersion(
        bucket=NAME,
        key="k",
        version_id="null",
        last_modified=NOW,
        owner=ACCOUNT,
        size=len(data),
        checksums={algorithm: checksums.compute(algorithm, data)},
        checksum_type=kind,
    )


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_a_crc_appended_is_the_whole_objects_crc(algorithm):
    first = _version(b"abc" * 100, algorithm)
    fields = appended(first, checksums.compute(algorithm, b"defg"), 4)
    assert fields["checksums"] == {algorithm: checksums.compute(algorithm, b"abc" * 100 + b"defg")}
    assert fields["checksum_type"] == "FULL_OBJECT"
    assert fields["parts"]["count"] == 2 and fields["parts"]["sizes"] == [300, 4]


def test_a_sha_appended_becomes_composite():
    first = _version(b"one", "SHA256")
    fields = appended(first, checksums.compute("SHA256", b"two"), 3)
    digest = hashlib.sha256(
        hashlib.sha256(b"one").digest() + hashlib.sha256(b"two").digest()
    ).digest()
    assert fields["checksums"] == {"SHA256": base64.b64encode(digest).decode() + "-2"}
    assert fields["checksum_type"] == "COMPOSITE"
    assert fields["parts"]["checksums"] == [
        checksums.compute("SHA256", b"one"),
        checksums.compute("SHA256", b"two"),
    ]


def test_rename_destination_conditions():
    stamp = NOW
    check_rename_destination(None)
    check_rename_destination(None, if_none_match="*", if_unmodified_since=stamp)
    for current, kwargs, condition in (
        (None, {"if_match": '"e"'}, "If-Match"),
        (('"e"', stamp), {"if_match": '"f"', "if_none_match": "*"}, "If-Match"),
        (('"e"', stamp), {"if_none_match": "*"}, "If-None-Match"),
        (('"e"', stamp), {"if_none_match": '"e"'}, "If-None-Match"),
        (None, {"if_modified_since": stamp}, "If-Modified-Since"),
        (('"e"', stamp), {"if_modified_since": stamp}, "If-Modified-Since"),
        (
            ('"e"', stamp),
            {"if_unmodified_since": stamp - datetime.timedelta(seconds=1)},
            "If-Unmodified-Since",
        ),
    ):
        with pytest.raises(ServiceError) as exc:
            check_rename_destination(current, **kwargs)
        assert exc.value.status == 412 and exc.value.fields["Condition"] == condition, kwargs
    check_rename_destination(('"e"', stamp), if_match="e", if_none_match='"f"')


def test_delete_match_conditions():
    check_delete_match(NOW, 4, if_match_size=4, if_match_last_modified_time=NOW)
    with pytest.raises(ServiceError) as exc:
        check_delete_match(NOW, 4, if_match_size=5)
    assert exc.value.fields["Condition"] == "x-amz-if-match-size"
    with pytest.raises(ServiceError) as exc:
        check_delete_match(NOW, 4, if_match_last_modified_time=NOW + datetime.timedelta(seconds=1))
    assert exc.value.fields["Condition"] == "x-amz-if-match-last-modified-time"


def test_rename_source_key():
    assert source_key("dir/a.txt") == "dir/a.txt"
    assert source_key("/dir/a.txt") == "dir/a.txt"
    assert source_key("/dir/a%20b%C3%A9.txt") == "dir/a bé.txt"
    assert source_key("100%.txt") == "100%.txt"  # sent unencoded
    for bad in (None, "", "/", "%FF"):
        with pytest.raises(ServiceError) as exc:
            source_key(bad)
        assert exc.value.code == "InvalidArgument"
