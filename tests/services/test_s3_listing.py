"""Listing with real boto3: ListObjects v1/v2 and ListObjectVersions, every parameter."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error

KEYS = [
    "a.txt",
    "b/1.txt",
    "b/2.txt",
    "b/c/3.txt",
    "b/c/4.txt",
    "d/5.txt",
    "e f/6 7.txt",
    "z.txt",
    "ü/8.txt",
]


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture(scope="module")
def filled(cloudlet_server):
    s3 = cloudlet_server.client("s3", config=NO_RETRIES)
    name = bname("list")
    s3.create_bucket(Bucket=name)
    for key in KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


def test_v2_plain_prefix_and_owner(s3, filled):
    out = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in out["Contents"]] == KEYS
    assert out["KeyCount"] == len(KEYS)
    assert out["IsTruncated"] is False
    assert out["MaxKeys"] == 1000
    first = out["Contents"][0]
    assert first["Size"] == len("a.txt") and first["ETag"].startswith('"')
    assert first["StorageClass"] == "STANDARD"
    assert "Owner" not in first
    owned = s3.list_objects_v2(Bucket=filled, FetchOwner=True)["Contents"][0]
    assert len(owned["Owner"]["ID"]) == 64
    sub = s3.list_objects_v2(Bucket=filled, Prefix="b/c/")
    assert [o["Key"] for o in sub["Contents"]] == ["b/c/3.txt", "b/c/4.txt"]
    assert sub["Prefix"] == "b/c/"
    assert "Contents" not in s3.list_objects_v2(Bucket=filled, Prefix="nothing")


def test_v2_delimiter(s3, filled):
    out = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a.txt", "z.txt"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["b/", "d/", "e f/", "ü/"]
    assert out["KeyCount"] == 6
    nested = s3.list_objects_v2(Bucket=filled, Delimiter="/", Prefix="b/")
    assert [o["Key"] for o in nested["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["b/c/"]
    # Any string can be a delimiter.
    dots = s3.list_objects_v2(Bucket=filled, Delimiter=".")
    assert "a." in [p["Prefix"] for p in dots["CommonPrefixes"]]


def test_v2_pagination_walk_with_delimiter(s3, filled):
    seen_keys, seen_prefixes, token, pages = [], [], None, 0
    while True:
        kw = {"Bucket": filled, "Delimiter": "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        pages += 1
        assert page["KeyCount"] <= 2
        seen_keys += [o["Key"] for o in page.get("Contents", [])]
        seen_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert pages == 3
    assert seen_keys == ["a.txt", "z.txt"]
    assert seen_prefixes == ["b/", "d/", "e f/", "ü/"]


def test_v2_paginator_and_start_after(s3, filled):
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=filled, PaginationConfig={"PageSize": 3}
        )
        for o in page.get("Contents", [])
    ]
    assert keys == KEYS
    after = s3.list_objects_v2(Bucket=filled, StartAfter="b/c/3.txt")
    assert [o["Key"] for o in after["Contents"]] == KEYS[4:]
    assert after["StartAfter"] == "b/c/3.txt"
    # StartAfter resumes after a common prefix as after everything under it.
    grouped = s3.list_objects_v2(Bucket=filled, StartAfter="b/", Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["d/", "e f/", "ü/"]


def test_v2_max_keys_and_bad_token(s3, filled):
    # max-keys=0: an empty page that is not truncated (no token to follow), in each listing.
    zero = s3.list_objects_v2(Bucket=filled, MaxKeys=0)
    assert zero["KeyCount"] == 0 and "Contents" not in zero
    assert zero["IsTruncated"] is False and "NextContinuationToken" not in zero
    assert s3.list_objects(Bucket=filled, MaxKeys=0, Delimiter="/")["IsTruncated"] is False
    assert s3.list_object_versions(Bucket=filled, MaxKeys=0)["IsTruncated"] is False
    capped = s3.list_objects_v2(Bucket=filled, MaxKeys=5000)
    assert capped["MaxKeys"] == 1000
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=filled, ContinuationToken="garbage!")
    assert error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bname())
    assert error(exc) == ("NoSuchBucket", 404)


def test_encoding_type_url_on_the_wire(cloudlet_server, filled):
    url = (
        f"{cloudlet_server.endpoint}/{filled}?list-type=2&encoding-type=url"
        "&prefix=e%20f%2F&delimiter=%2F"
    )
    with urllib.request.urlopen(url) as r:
        body = r.read().decode()
    assert "<Key>e+f/6+7.txt</Key>" in body
    assert "<Prefix>e+f/</Prefix>" in body
    assert "<EncodingType>url</EncodingType>" in body
    # boto3 asks for url encoding itself and decodes the answer.
    assert "ListBucketResult" in body


def test_v1_markers(s3, filled):
    out = s3.list_objects(Bucket=filled)
    assert [o["Key"] for o in out["Contents"]] == KEYS
    assert len(out["Contents"][0]["Owner"]["ID"]) == 64
    page = s3.list_objects(Bucket=filled, MaxKeys=3)
    assert page["IsTruncated"] is True
    assert "NextMarker" not in page  # only with a delimiter, as on S3
    rest = s3.list_objects(Bucket=filled, Marker=page["Contents"][-1]["Key"])
    assert [o["Key"] for o in page["Contents"] + rest["Contents"]] == KEYS
    grouped = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert grouped["NextMarker"] == "b/"
    after = s3.list_objects(Bucket=filled, Delimiter="/", Marker=grouped["NextMarker"])
    assert [p["Prefix"] for p in after["CommonPrefixes"]] == ["d/", "e f/", "ü/"]
    walked = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket=filled, PaginationConfig={"PageSize": 2}
        )
        for o in page.get("Contents", [])
    ]
    assert walked == KEYS


def test_list_object_versions_pagination(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    expected = []
    for key in ("k1", "k2", "k3"):
        ids = [s3.put_object(Bucket=name, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    marker = s3.delete_object(Bucket=name, Key="k2")["VersionId"]
    expected.insert(3, ("k2", marker))
    seen, kw = [], {}
    while True:
        page = s3.list_object_versions(Bucket=name, MaxKeys=2, **kw)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        entries.sort(key=lambda e: expected.index((e["Key"], e["VersionId"])))
        seen += [(e["Key"], e["VersionId"]) for e in entries]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected
    walked = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=name, PaginationConfig={"PageSize": 4}
    ):
        walked += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert walked == [e for e in expected if e[1] != marker]
    after_key = s3.list_object_versions(Bucket=name, KeyMarker="k2")
    assert {v["Key"] for v in after_key["Versions"]} == {"k3"}
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=name, VersionIdMarker=expected[0][1])
    assert error(exc) == ("InvalidArgument", 400)


def test_list_object_versions_prefix_and_delimiter(s3, filled):
    out = s3.list_object_versions(Bucket=filled, Delimiter="/", Prefix="b/")
    assert [v["Key"] for v in out["Versions"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["b/c/"]
    assert all(v["VersionId"] == "null" for v in out["Versions"])


def test_versions_and_delete_markers_interleave_in_key_and_age_order(s3):
    """S3 lists one key's history newest first, delete markers in their place (boto3
    splits the two lists; the document's order is what Java SDK v1 and raw readers see)."""
    name = bname()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=name, Key="k", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=name, Key="k")["VersionId"]
    new = s3.put_object(Bucket=name, Key="k", Body=b"2")["VersionId"]
    z = s3.put_object(Bucket=name, Key="z", Body=b"3")["VersionId"]
    bodies = []
    s3.meta.events.register(
        "after-call.s3.ListObjectVersions",
        lambda http_response, **_: bodies.append(http_response.content.decode()),
    )
    out = s3.list_object_versions(Bucket=name)
    order = re.findall(r"<(Version|DeleteMarker)>.*?<VersionId>([^<]+)</VersionId>", bodies[0])
    assert order == [("Version", new), ("DeleteMarker", marker), ("Version", old), ("Version", z)]
    assert [v["VersionId"] for v in out["Versions"]] == [new, old, z]
    assert [(m["VersionId"], m["IsLatest"]) for m in out["DeleteMarkers"]] == [(marker, False)]


def test_a_listing_and_a_head_give_the_same_time(s3):
    """S3 keeps whole seconds: the listing's LastModified is the HEAD's Last-Modified
    (``aws s3 sync --exact-timestamps`` compares the two)."""
    name = bname()
    s3.create_bucket(Bucket=name)
    before = datetime.now(UTC)  # a file written just before the upload
    for i in range(3):
        s3.put_object(Bucket=name, Key=f"k{i}", Body=b"x")
    for entry in s3.list_objects_v2(Bucket=name)["Contents"]:
        head = s3.head_object(Bucket=name, Key=entry["Key"])
        assert entry["LastModified"] == head["LastModified"]
        assert entry["LastModified"].microsecond == 0
        # Whole seconds rounded up: the object is never older than that file, so
        # ``aws s3 sync`` does not upload it again.
        assert entry["LastModified"] >= before


def _versioned(s3) -> str:
    name = bname("ver")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _page(s3, name: str, **kw) -> list[tuple[str, str]]:
    out = s3.list_object_versions(Bucket=name, **kw)
    return [(v["Key"], v["VersionId"]) for v in out.get("Versions", [])]


def test_versions_resume_after_a_deleted_marker_within_its_key(s3):
    """Deleting a page before asking for the next (``object_versions.delete()``): S3 goes on
    with the versions that stood after the deleted marker, not after its whole key."""
    name = _versioned(s3)
    same = [s3.put_object(Bucket=name, Key="same", Body=b"%d" % i)["VersionId"] for i in range(6)]
    z = [s3.put_object(Bucket=name, Key="z", Body=b"x")["VersionId"] for _ in range(3)]
    first = s3.list_object_versions(Bucket=name, MaxKeys=3)
    assert [v["VersionId"] for v in first["Versions"]] == same[:2:-1]
    s3.delete_objects(
        Bucket=name,
        Delete={"Objects": [{"Key": "same", "VersionId": v} for v in same[3:]]},
    )
    markers = {"KeyMarker": first["NextKeyMarker"], "VersionIdMarker": same[3]}
    assert _page(s3, name, MaxKeys=3, **markers) == [("same", v) for v in same[2::-1]]
    assert _page(s3, name, **markers) == [("same", v) for v in same[2::-1]] + [
        ("z", v) for v in reversed(z)
    ]


def test_versions_resume_after_a_deleted_marker_others_kept(s3):
    """Only the marker deleted: the next page starts at the version just older than it."""
    name = _versioned(s3)
    ids = [s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"] for _ in range(5)]
    first = s3.list_object_versions(Bucket=name, MaxKeys=2)
    assert first["NextVersionIdMarker"] == ids[3]
    s3.delete_object(Bucket=name, Key="k", VersionId=ids[3])
    page = _page(s3, name, KeyMarker="k", VersionIdMarker=ids[3])
    assert page == [("k", v) for v in ids[2::-1]]
    # Every version of the key gone: the listing goes on with the next key.
    s3.put_object(Bucket=name, Key="l", Body=b"x")
    for v in ids[:3] + ids[4:]:
        s3.delete_object(Bucket=name, Key="k", VersionId=v)
    assert [k for k, _ in _page(s3, name, KeyMarker="k", VersionIdMarker=ids[3])] == ["l"]


def test_a_version_marker_never_handed_out_resumes_after_its_key(s3):
    """A well-formed id that names no version of the key (nor ended a page): its place is
    unknown, and the listing resumes after the whole key."""
    name = _versioned(s3)
    for key in ("a", "b"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    page = _page(s3, name, KeyMarker="a", VersionIdMarker="0" * 32)
    assert [k for k, _ in page] == ["b"]


def _raw_xml(s3, bodies: list[str], operation: str) -> None:
    s3.meta.events.register(
        f"after-call.s3.{operation}",
        lambda http_response, **_: bodies.append(http_response.content.decode()),
    )


def test_listings_name_each_objects_checksum_algorithm_and_type(s3, cloudlet_server):
    name = _versioned(s3)
    s3.put_object(Bucket=name, Key="crc32c", Body=b"abc", ChecksumAlgorithm="CRC32C")
    s3.put_object(Bucket=name, Key="sha256", Body=b"abc", ChecksumAlgorithm="SHA256")
    bare = cloudlet_server.client("s3", config=Config(request_checksum_calculation="when_required"))
    bare.put_object(Bucket=name, Key="default", Body=b"abc")  # S3 adds CRC64NVME
    upload = s3.create_multipart_upload(Bucket=name, Key="mpu", ChecksumAlgorithm="SHA256")
    part = s3.upload_part(
        Bucket=name,
        Key="mpu",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"abc",
        ChecksumAlgorithm="SHA256",
    )
    s3.complete_multipart_upload(
        Bucket=name,
        Key="mpu",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}
            ]
        },
    )
    expected = {
        "crc32c": (["CRC32C"], "FULL_OBJECT"),
        "default": (["CRC64NVME"], "FULL_OBJECT"),
        "mpu": (["SHA256"], "COMPOSITE"),
        "sha256": (["SHA256"], "FULL_OBJECT"),
    }
    bodies: list[str] = []
    for operation in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        _raw_xml(s3, bodies, operation)
    listings = (
        s3.list_objects_v2(Bucket=name)["Contents"],
        s3.list_objects(Bucket=name)["Contents"],
        s3.list_object_versions(Bucket=name)["Versions"],
    )
    for entries in listings:
        got = {e["Key"]: (e["ChecksumAlgorithm"], e["ChecksumType"]) for e in entries}
        assert got == expected
    # In the models' order: after the ETag, before the Size.
    entry = (
        r"<ETag>[^<]+</ETag><ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
        r"<ChecksumType>FULL_OBJECT</ChecksumType><Size>3</Size>"
    )
    assert all(re.search(entry, body) for body in bodies) and len(bodies) == 3
