"""Listing with real boto3: ListObjects v1/v2 and ListObjectVersions, every parameter."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime

import pytest
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
