"""Objects in directory buckets through boto3: RenameObject, appends
(``WriteOffsetBytes``), DeleteObject(s)' size and time conditions, and ListObjectsV2's
directory-bucket rules, each against a real server."""

from __future__ import annotations

import base64
import hashlib
import threading
import zlib
from datetime import timedelta
from functools import partial
from urllib.parse import quote

import pytest
from awscrt import checksums as crt
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname

ZONE = "use1-az4"
DIRECTORY = {
    "Location": {"Type": "AvailabilityZone", "Name": ZONE},
    "Bucket": {"Type": "Directory", "DataRedundancy": "SingleAvailabilityZone"},
}
NO_CHECKSUMS = Config(retries={"max_attempts": 0}, request_checksum_calculation="when_required")


def create_directory(s3) -> str:
    name = f"{bname('d')}--{ZONE}--x-s3"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=DIRECTORY)
    return name


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return exc.value.response


def failure(call, **kwargs) -> str:
    """The code and status of a call that must fail: ``"NoSuchKey 404"``."""
    err = refused(call, **kwargs)
    return f"{err['Error']['Code']} {err['ResponseMetadata']['HTTPStatusCode']}"


def condition(call, **kwargs) -> str:
    """The ``Condition`` a call that must fail with 412 names."""
    err = refused(call, **kwargs)
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "PreconditionFailed",
        412,
    )
    return err["Error"]["Condition"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def crc64nvme(data: bytes) -> str:
    return b64(crt.crc64nvme(data).to_bytes(8, "big"))


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    return create_directory(s3)


def body(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def missing(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


# -- RenameObject ------------------------------------------------------------------------


def test_rename_moves_the_object_and_keeps_everything(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="logs/today.txt",
        Body=b"some log lines",
        Metadata={"origin": "app"},
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="inline",
        ChecksumAlgorithm="SHA256",
    )
    before = s3.head_object(Bucket=bucket, Key="logs/today.txt", ChecksumMode="ENABLED")
    assert s3.rename_object(Bucket=bucket, Key="logs/old.txt", RenameSource="logs/today.txt")

    after = s3.head_object(Bucket=bucket, Key="logs/old.txt", ChecksumMode="ENABLED")
    kept = "ETag LastModified ContentLength ContentType CacheControl ContentDisposition Metadata"
    for field in [*kept.split(), "ChecksumSHA256", "StorageClass", "ServerSideEncryption"]:
        assert after[field] == before[field], field
    assert after["ChecksumSHA256"] == sha256(b"some log lines")
    assert body(s3, bucket, "logs/old.txt") == b"some log lines"
    assert missing(s3, bucket, "logs/today.txt")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["logs/old.txt"]


def test_rename_replaces_the_destination_unless_if_none_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"source")
    s3.put_object(Bucket=bucket, Key="b", Body=b"target")
    rename = s3.rename_object
    assert condition(
        rename, Bucket=bucket, Key="b", RenameSource="a", DestinationIfNoneMatch="*"
    ) == ("If-None-Match")
    assert body(s3, bucket, "a") == b"source" and body(s3, bucket, "b") == b"target"

    s3.rename_object(Bucket=bucket, Key="b", RenameSource="a")
    assert body(s3, bucket, "b") == b"source"
    assert missing(s3, bucket, "a")
    # If-None-Match: * onto a free key renames.
    s3.rename_object(Bucket=bucket, Key="c", RenameSource="b", DestinationIfNoneMatch="*")
    assert body(s3, bucket, "c") == b"source"


def test_rename_destination_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"1")
    dest = s3.put_object(Bucket=bucket, Key="dst", Body=b"2")
    src_etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]

    move = partial(s3.rename_object, Bucket=bucket, Key="dst", RenameSource="src")
    failed = partial(condition, move)

    assert failed(DestinationIfMatch=src_etag) == "If-Match"
    # Both: If-Match is named (AWS's mountpoint-s3 test rename_double_error).
    assert failed(DestinationIfMatch=src_etag, DestinationIfNoneMatch="*") == "If-Match"
    stamp = s3.head_object(Bucket=bucket, Key="dst")["LastModified"]
    long_ago, later = stamp - timedelta(days=1), stamp + timedelta(days=1)
    assert failed(DestinationIfUnmodifiedSince=long_ago) == "If-Unmodified-Since"
    assert failed(DestinationIfModifiedSince=stamp) == "If-Modified-Since"
    assert body(s3, bucket, "src") == b"1" and body(s3, bucket, "dst") == b"2"

    move(
        DestinationIfMatch=dest["ETag"],
        DestinationIfModifiedSince=long_ago,
        DestinationIfUnmodifiedSince=later,
    )
    assert body(s3, bucket, "dst") == b"1"
    # If-Match and If-Modified-Since need a destination; If-Unmodified-Since does not.
    s3.put_object(Bucket=bucket, Key="src2", Body=b"3")
    for kwargs, name in (
        ({"DestinationIfMatch": dest["ETag"]}, "If-Match"),
        ({"DestinationIfModifiedSince": long_ago}, "If-Modified-Since"),
    ):
        assert (
            condition(s3.rename_object, Bucket=bucket, Key="x", RenameSource="src2", **kwargs)
            == name
        )
    s3.rename_object(
        Bucket=bucket, Key="nothing-here", RenameSource="src2", DestinationIfUnmodifiedSince=stamp
    )
    assert body(s3, bucket, "nothing-here") == b"3"


def test_rename_source_conditions(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    s3.put_object(Bucket=bucket, Key="other", Body=b"other")
    other = s3.head_object(Bucket=bucket, Key="other")
    stamp = s3.head_object(Bucket=bucket, Key="src")["LastModified"]

    move = partial(s3.rename_object, Bucket=bucket, Key="dst", RenameSource="src")
    failed = partial(condition, move)

    # A source ETag that differs is named If-Match (mountpoint-s3: rename_source_does_not_match).
    assert failed(SourceIfMatch=other["ETag"]) == "If-Match"
    assert failed(SourceIfNoneMatch="*") == "If-None-Match"
    assert failed(SourceIfNoneMatch=put["ETag"]) == "If-None-Match"
    assert failed(SourceIfUnmodifiedSince=stamp - timedelta(days=1)) == "If-Unmodified-Since"
    assert failed(SourceIfModifiedSince=stamp) == "If-Modified-Since"
    assert body(s3, bucket, "src") == b"data" and missing(s3, bucket, "dst")

    move(
        SourceIfMatch=put["ETag"],
        SourceIfNoneMatch=other["ETag"],
        SourceIfModifiedSince=stamp - timedelta(days=1),
    )
    assert body(s3, bucket, "dst") == b"data"


def test_rename_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")
    s3.put_object(Bucket=bucket, Key="file", Body=b"x")
    rename = partial(s3.rename_object, Bucket=bucket)
    assert failure(rename, Key="new", RenameSource="not-there") == "NoSuchKey 404"
    # The User Guide: RenameObject does not take keys that end in "/".
    assert failure(rename, Key="dir2/", RenameSource="dir/") == "InvalidRequest 400"
    assert failure(rename, Key="file/", RenameSource="file") == "InvalidRequest 400"
    assert failure(rename, Key="new", RenameSource="/") == "InvalidArgument 400"
    assert failure(rename, Key="k" * 1025, RenameSource="file") == "KeyTooLongError 400"
    gone = f"{bname('gone')}--{ZONE}--x-s3"
    assert failure(s3.rename_object, Bucket=gone, Key="b", RenameSource="a") == "NoSuchBucket 404"
    # A general-purpose bucket: 501, which mountpoint-s3 reads as "cannot rename here".
    general = bname("g")
    s3.create_bucket(Bucket=general)
    s3.put_object(Bucket=general, Key="a", Body=b"kept")
    assert failure(s3.rename_object, Bucket=general, Key="b", RenameSource="a") == (
        "NotImplemented 501"
    )
    assert body(s3, general, "a") == b"kept" and missing(s3, general, "b")
    assert body(s3, bucket, "file") == b"x"


def test_rename_source_is_url_decoded_with_or_without_a_slash(s3, bucket):
    key = "photos/a b+é%.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=b"jpeg")
    s3.rename_object(Bucket=bucket, Key="photos/renamed.jpg", RenameSource="/" + quote(key))
    assert body(s3, bucket, "photos/renamed.jpg") == b"jpeg"
    assert missing(s3, bucket, key)
    s3.rename_object(Bucket=bucket, Key=key, RenameSource="photos/renamed.jpg")
    assert body(s3, bucket, key) == b"jpeg"
    # Onto itself: nothing changes.
    s3.rename_object(Bucket=bucket, Key=key, RenameSource=quote(key))
    assert body(s3, bucket, key) == b"jpeg"


def test_rename_client_token(s3, bucket):
    rename = partial(s3.rename_object, Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"once")
    rename(Key="b", RenameSource="a", ClientToken="token-1")
    # The same request again: a success that does nothing (its source is gone).
    rename(Key="b", RenameSource="a", ClientToken="token-1")
    assert body(s3, bucket, "b") == b"once" and missing(s3, bucket, "a")
    # The same token with other parameters; a new token is a new request.
    mismatch = failure(rename, Key="c", RenameSource="a", ClientToken="token-1")
    assert mismatch == "IdempotencyParameterMismatch 400"
    assert failure(rename, Key="b", RenameSource="a", ClientToken="token-2") == "NoSuchKey 404"
    # A failed request is not remembered: the same token may succeed later.
    s3.put_object(Bucket=bucket, Key="a", Body=b"twice")
    rename(Key="b", RenameSource="a", ClientToken="token-2")
    assert body(s3, bucket, "b") == b"twice"
    too_long = failure(rename, Key="b", RenameSource="a", ClientToken="x" * 65)
    assert too_long == "InvalidArgument 400"


def test_rename_keeps_an_appended_objects_parts(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"first")
    s3.put_object(Bucket=bucket, Key="a", Body=b"-second", WriteOffsetBytes=5)
    s3.rename_object(Bucket=bucket, Key="b", RenameSource="a")
    part = s3.get_object(Bucket=bucket, Key="b", PartNumber=2)
    assert part["PartsCount"] == 2 and part["Body"].read() == b"-second"
    s3.put_object(Bucket=bucket, Key="b", Body=b"-third", WriteOffsetBytes=12)
    assert body(s3, bucket, "b") == b"first-second-third"


# -- appends ------------------------------------------------------------------------------


def test_append_grows_the_object(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="log", Body=b"hello")
    out = s3.put_object(Bucket=bucket, Key="log", Body=b" world", WriteOffsetBytes=5)
    assert out["Size"] == 11
    assert out["ETag"] != first["ETag"] and out["ETag"].endswith('-2"')
    assert out["ChecksumCRC32"] == crc32(b"hello world")  # boto3 sends CRC32: combined
    head = s3.head_object(Bucket=bucket, Key="log", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 11 and head["ETag"] == out["ETag"]
    assert head["ChecksumCRC32"] == crc32(b"hello world")
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["StorageClass"] == "EXPRESS_ONEZONE"
    got = s3.get_object(Bucket=bucket, Key="log", IfMatch=out["ETag"], ChecksumMode="ENABLED")
    assert got["Body"].read() == b"hello world"
    assert got["ChecksumCRC32"] == crc32(b"hello world")  # boto3 validated it as well
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert (listed["Size"], listed["ETag"]) == (11, out["ETag"])

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="log", ObjectAttributes=["ObjectParts", "ObjectSize", "Checksum"]
    )
    assert attrs["ObjectSize"] == 11
    parts = attrs["ObjectParts"]
    assert parts["TotalPartsCount"] == 2
    listed = [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in parts["Parts"]]
    assert listed == [(1, 5, crc32(b"hello")), (2, 6, crc32(b" world"))]
    assert s3.get_object(Bucket=bucket, Key="log", PartNumber=2)["Body"].read() == b" world"
    s3.put_object(Bucket=bucket, Key="log", Body=b"!", WriteOffsetBytes=11)
    assert body(s3, bucket, "log") == b"hello world!"


def test_append_offset_rules(s3, bucket):
    put = partial(s3.put_object, Bucket=bucket, Body=b"x")
    put(Key="log", Body=b"abc")
    for offset in (0, 2, 4):
        assert failure(put, Key="log", WriteOffsetBytes=offset) == "InvalidWriteOffset 400"
    assert body(s3, bucket, "log") == b"abc"
    assert failure(put, Key="new", WriteOffsetBytes=3) == "NoSuchKey 404"  # no object: 0 only
    assert put(Key="new", Body=b"made", WriteOffsetBytes=0, Metadata={"m": "1"})["Size"] == 4
    head = s3.head_object(Bucket=bucket, Key="new")
    assert head["Metadata"] == {"m": "1"} and head["StorageClass"] == "EXPRESS_ONEZONE"
    s3.put_object(Bucket=bucket, Key="empty", Body=b"", WriteOffsetBytes=0)  # empty: made
    s3.put_object(Bucket=bucket, Key="empty", Body=b"now", WriteOffsetBytes=0)
    assert body(s3, bucket, "empty") == b"now"
    gone = f"{bname('gone')}--{ZONE}--x-s3"
    assert failure(put, Bucket=gone, Key="k", WriteOffsetBytes=0) == "NoSuchBucket 404"


def test_append_refusals_leave_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="log", Body=b"abc")
    etag = s3.head_object(Bucket=bucket, Key="log")["ETag"]

    def refuse(**kwargs) -> dict:
        args = {"Bucket": bucket, "Key": "log", "Body": b"x", "WriteOffsetBytes": 3, **kwargs}
        err = refused(s3.put_object, **args)
        return {**err["Error"], "Status": err["ResponseMetadata"]["HTTPStatusCode"]}

    err = refuse(Body=b"")  # mountpoint-s3 reads this answer as "empty body"
    assert (err["Code"], err["Status"]) == ("InvalidArgument", 400)
    assert err["Message"].startswith("Request body cannot be empty")
    err = refuse(Metadata={"a": "b"})
    assert (err["Code"], err["Status"]) == ("InvalidRequest", 400)
    assert "user-defined object metadata" in err["Message"]
    err = refuse(ChecksumAlgorithm="SHA256")
    assert (err["Code"], err["Message"]) == (
        "InvalidRequest",
        "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum "
        "Type: sha256",
    )
    assert refuse(ChecksumCRC32=crc32(b"y"))["Code"] == "BadDigest"
    err = refuse(IfMatch='"nope"')
    assert (err["Code"], err["Status"]) == ("PreconditionFailed", 412)
    err = refuse(ServerSideEncryption="aws:kms")
    assert (err["Code"], err["Status"]) == ("EncryptionTypeMismatch", 400)
    head = s3.head_object(Bucket=bucket, Key="log")
    assert (head["ETag"], head["ContentLength"]) == (etag, 3)
    assert body(s3, bucket, "log") == b"abc"
    # The same with the right condition and encryption goes through.
    s3.put_object(
        Bucket=bucket,
        Key="log",
        Body=b"d",
        WriteOffsetBytes=3,
        IfMatch=etag,
        ServerSideEncryption="AES256",
    )
    assert body(s3, bucket, "log") == b"abcd"


def test_append_without_a_checksum_gets_the_objects_crc64nvme(cloudlet_server, bucket):
    plain = cloudlet_server.client("s3", config=NO_CHECKSUMS)
    plain.put_object(Bucket=bucket, Key="k", Body=b"a" * 1000)
    plain.put_object(Bucket=bucket, Key="k", Body=b"b" * 70_000, WriteOffsetBytes=1000)
    whole = b"a" * 1000 + b"b" * 70_000
    head = plain.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == crc64nvme(whole)
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert body(plain, bucket, "k") == whole


def test_append_to_a_sha256_object_makes_a_composite_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", ChecksumAlgorithm="SHA256")
    s3.put_object(
        Bucket=bucket, Key="k", Body=b"two", WriteOffsetBytes=3, ChecksumAlgorithm="SHA256"
    )
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    parts = [hashlib.sha256(b"one").digest(), hashlib.sha256(b"two").digest()]
    assert head["ChecksumSHA256"] == sha256(b"".join(parts)) + "-2"
    assert head["ChecksumType"] == "COMPOSITE"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectParts"])
    listed = [p["ChecksumSHA256"] for p in attrs["ObjectParts"]["Parts"]]
    assert listed == [sha256(b"one"), sha256(b"two")]
    assert body(s3, bucket, "k") == b"onetwo"


def test_append_to_multipart_and_large_objects(s3, bucket):
    # CRC32 parts, COMPOSITE (the default for CRC32): appends extend the composite.
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")
    upload = created["UploadId"]
    first = b"m" * (5 * 1024 * 1024)
    parts = []
    for number, data in ((1, first), (2, b"tail")):
        out = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=number, Body=data)
        parts.append(
            {"PartNumber": number, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]}
        )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    size = len(first) + 4
    big = bytes(range(256)) * 1024  # 256 KiB: a file, where "tail" was a database row
    s3.put_object(Bucket=bucket, Key="mp", Body=big, WriteOffsetBytes=size)
    s3.put_object(Bucket=bucket, Key="mp", Body=b"end", WriteOffsetBytes=size + len(big))
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={len(first) - 2}-")["Body"].read()
    assert got == b"mm" + b"tail" + big + b"end"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"])
    assert attrs["ObjectParts"]["TotalPartsCount"] == 4
    crcs = [zlib.crc32(p).to_bytes(4, "big") for p in (first, b"tail", big, b"end")]
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "COMPOSITE"
    assert head["ChecksumCRC32"] == crc32(b"".join(crcs)) + "-4"
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)["Body"].read() == big
    # A small object's bytes live in the database: an append writes them out first.
    s3.put_object(Bucket=bucket, Key="small", Body=b"s")
    s3.put_object(Bucket=bucket, Key="small", Body=big, WriteOffsetBytes=1)
    assert body(s3, bucket, "small") == b"s" + big


def test_concurrent_appends_at_one_offset_one_wins(cloudlet_server, bucket):
    clients = [cloudlet_server.client("s3", config=NO_RETRIES) for _ in range(6)]
    clients[0].put_object(Bucket=bucket, Key="race", Body=b"start|")
    results: list[object] = [None] * len(clients)

    def append(i: int) -> None:
        try:
            clients[i].put_object(
                Bucket=bucket, Key="race", Body=f"writer-{i}|".encode() * 2000, WriteOffsetBytes=6
            )
            results[i] = "ok"
        except ClientError as exc:
            results[i] = exc.response["Error"]["Code"]

    threads = [threading.Thread(target=append, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(results) if r == "ok"]
    assert len(winners) == 1, results
    assert {r for r in results if r != "ok"} <= {"InvalidWriteOffset"}, results
    data = body(clients[0], bucket, "race")
    assert data == b"start|" + f"writer-{winners[0]}|".encode() * 2000


def test_appends_and_renames_survive_a_restart(tmp_path):
    srv = CloudletServer.start(data_dir=tmp_path)
    try:
        s3 = srv.client("s3", config=NO_RETRIES)
        name = create_directory(s3)
        s3.put_object(Bucket=name, Key="a", Body=b"0" * 100_000)
        s3.put_object(Bucket=name, Key="a", Body=b"1" * 10, WriteOffsetBytes=100_000)
        s3.rename_object(Bucket=name, Key="b", RenameSource="a", ClientToken="restart")
        etag = s3.head_object(Bucket=name, Key="b")["ETag"]
    finally:
        srv.stop()
    srv = CloudletServer.start(data_dir=tmp_path)
    try:
        s3 = srv.client("s3", config=NO_RETRIES)
        assert body(s3, name, "b") == b"0" * 100_000 + b"1" * 10
        assert s3.head_object(Bucket=name, Key="b")["ETag"] == etag
        assert missing(s3, name, "a")
        s3.rename_object(Bucket=name, Key="b", RenameSource="a", ClientToken="restart")
        s3.put_object(Bucket=name, Key="b", Body=b"2", WriteOffsetBytes=100_010)
        assert body(s3, name, "b").endswith(b"12")
    finally:
        srv.stop()


# -- DeleteObject / DeleteObjects conditions ----------------------------------------------


def test_delete_object_size_and_time_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"four")
    head = s3.head_object(Bucket=bucket, Key="k")
    earlier = head["LastModified"] - timedelta(seconds=1)
    for kwargs, name in (
        ({"IfMatchSize": 5}, "x-amz-if-match-size"),
        ({"IfMatchLastModifiedTime": earlier}, "x-amz-if-match-last-modified-time"),
        ({"IfMatch": '"other"', "IfMatchSize": 4}, "If-Match"),
        ({"IfMatch": head["ETag"], "IfMatchSize": 3}, "x-amz-if-match-size"),
    ):
        assert condition(s3.delete_object, Bucket=bucket, Key="k", **kwargs) == name, kwargs
    assert body(s3, bucket, "k") == b"four"
    out = s3.delete_object(
        Bucket=bucket,
        Key="k",
        IfMatch=head["ETag"],
        IfMatchSize=4,
        IfMatchLastModifiedTime=head["LastModified"],
    )
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert missing(s3, bucket, "k")
    # No object: deleted all the same (the reference: 204 when "the object doesn't exist").
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=99)
    s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k2", IfMatchSize=1)
    assert missing(s3, bucket, "k2")


def test_delete_objects_entry_conditions(s3, bucket):
    for key in ("a", "b", "c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 3)
    head = s3.head_object(Bucket=bucket, Key="b")
    out = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "a", "Size": 3},
                {"Key": "b", "Size": 4},
                {"Key": "c", "LastModifiedTime": head["LastModified"] - timedelta(hours=1)},
                {"Key": "d", "ETag": head["ETag"]},
            ]
        },
    )
    assert [d["Key"] for d in out["Deleted"]] == ["a"]
    assert sorted((e["Key"], e["Code"]) for e in out["Errors"]) == [
        (key, "PreconditionFailed") for key in "bcd"
    ]
    assert missing(s3, bucket, "a")
    assert [body(s3, bucket, k) for k in ("b", "c", "d")] == [b"bbb", b"ccc", b"ddd"]


def test_general_purpose_delete_objects_refuses_directory_conditions(s3):
    general = bname("g")
    s3.create_bucket(Bucket=general)
    s3.put_object(Bucket=general, Key="k", Body=b"x")
    out = s3.delete_objects(Bucket=general, Delete={"Objects": [{"Key": "k", "Size": 1}]})
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("k", "NotImplemented")]
    assert body(s3, general, "k") == b"x"


# -- ListObjectsV2 ------------------------------------------------------------------------


def test_list_objects_v2_rules(s3, bucket):
    for key in ("a/1", "a/2", "b/1", "top"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for kwargs in ({"Prefix": "a"}, {"Prefix": "a", "Delimiter": "/"}, {"Prefix": "a/1"}):
        err = refused(s3.list_objects_v2, Bucket=bucket, **kwargs)
        assert err["Error"] == {
            "Code": "InvalidRequest",
            "Message": "This bucket does not support a prefix that does not end in a "
            "delimiter. Specify a prefix path ending with a delimiter and try again.",
        }, kwargs
    err = refused(s3.list_objects_v2, Bucket=bucket, Delimiter="-")
    assert (err["Error"]["Code"], err["Error"]["ArgumentName"]) == ("InvalidArgument", "delimiter")
    err = refused(s3.list_objects_v2, Bucket=bucket, StartAfter="a/1")["Error"]
    assert (err["Code"], err["ArgumentName"]) == ("InvalidArgument", "start-after")
    page = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in page["Contents"]] == ["a/1", "a/2"]
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in page["Contents"]] == ["top"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/", "b/"]
    everything = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in everything] == ["a/1", "a/2", "b/1", "top"]  # in key order


def test_list_objects_v2_fetch_owner_is_the_bucket_owner(cloudlet_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    general = bname("g")
    s3.create_bucket(Bucket=general)
    s3.put_object(Bucket=general, Key="k", Body=b"x")
    owner = s3.list_objects_v2(Bucket=general, FetchOwner=True)["Contents"][0]["Owner"]
    entry = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert entry["Owner"] == owner
    # Another account's object (an open server lets it write) lists the bucket's owner.
    other = cloudlet_server.client(
        "s3", aws_access_key_id="111111111111", aws_secret_access_key="x", config=NO_RETRIES
    )
    other.put_object(Bucket=bucket, Key="theirs", Body=b"y")
    entries = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    assert {e["Owner"]["ID"] for e in entries} == {owner["ID"]}


def test_list_objects_v2_shows_prefixes_of_uploads_in_progress(s3, bucket):
    s3.put_object(Bucket=bucket, Key="done/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="file", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="pending/deep/y")["UploadId"]
    s3.create_multipart_upload(Bucket=bucket, Key="lonely-upload")
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["done/", "pending/"]
    assert [o["Key"] for o in page["Contents"]] == ["file"]  # an upload is no object
    assert page["KeyCount"] == 3
    nested = s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix="pending/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["pending/deep/"]
    assert "Contents" not in nested
    flat = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in flat["Contents"]] == ["done/x", "file"]
    assert "CommonPrefixes" not in flat
    seen, token = [], None
    while True:  # pages of one: prefixes and keys each once, in order
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1, **kwargs)
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += [o["Key"] for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            break
    assert seen == ["done/", "file", "pending/"]
    s3.abort_multipart_upload(Bucket=bucket, Key="pending/deep/y", UploadId=upload)
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["done/"]
    # A general-purpose bucket lists no prefix of uploads alone.
    general = bname("g")
    s3.create_bucket(Bucket=general)
    s3.create_multipart_upload(Bucket=general, Key="pending/z")
    assert "CommonPrefixes" not in s3.list_objects_v2(Bucket=general, Delimiter="/")
