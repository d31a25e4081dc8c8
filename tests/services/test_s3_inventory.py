"""S3 Inventory: configurations stored and checked, and the reports they publish.

The server publishes every half second (``CLOUDLET_S3_INVENTORY_INTERVAL``), so a Daily
configuration reports every half second and a Weekly one every three and a half; the
tests poll the destination bucket with a deadline.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(env={"CLOUDLET_S3_INVENTORY_INTERVAL": "0.5"})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def buckets(s3):
    source, target = bname("inv-src"), bname("inv-dst")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    return source, target


def config(
    config_id: str,
    target: str,
    *,
    versions: str = "Current",
    fields: list[str] | None = None,
    prefix: str | None = None,
    enabled: bool = True,
    frequency: str = "Daily",
    fmt: str = "CSV",
    dest_prefix: str | None = "reports",
) -> dict[str, Any]:
    destination: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{target}", "Format": fmt}
    if dest_prefix is not None:
        destination["Prefix"] = dest_prefix
    out: dict[str, Any] = {
        "Id": config_id,
        "IsEnabled": enabled,
        "Destination": {"S3BucketDestination": destination},
        "IncludedObjectVersions": versions,
        "Schedule": {"Frequency": frequency},
    }
    if fields is not None:
        out["OptionalFields"] = fields
    if prefix is not None:
        out["Filter"] = {"Prefix": prefix}
    return out


def put(s3, bucket: str, document: dict[str, Any], config_id: str | None = None):
    return s3.put_bucket_inventory_configuration(
        Bucket=bucket, Id=config_id or document["Id"], InventoryConfiguration=document
    )


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def error(call) -> dict[str, Any]:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def manifests(s3, target: str, base: str) -> list[str]:
    return sorted(k for k in keys(s3, target, base + "/") if k.endswith("/manifest.json"))


def read_report(s3, target: str, base: str) -> tuple[dict[str, Any], bytes]:
    """The latest manifest (and its checksum), read until the two agree (a report may be
    overwriting them while we read)."""

    def consistent():
        found = manifests(s3, target, base)
        if not found:
            return None
        key = found[-1]
        body = s3.get_object(Bucket=target, Key=key)["Body"].read()
        checksum_key = key.removesuffix("manifest.json") + "manifest.checksum"
        try:
            checksum = s3.get_object(Bucket=target, Key=checksum_key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        if hashlib.md5(body).hexdigest().encode() != checksum:
            return None
        return json.loads(body), checksum

    return wait_for(consistent)


def csv_rows(s3, target: str, manifest: dict[str, Any]) -> list[list[str]]:
    rows = []
    for entry in manifest["files"]:
        data = s3.get_object(Bucket=target, Key=entry["key"])["Body"].read()
        assert len(data) == entry["size"]
        assert hashlib.md5(data).hexdigest() == entry["MD5checksum"]
        text = gzip.decompress(data).decode()
        assert all(line.startswith('"') for line in text.splitlines())  # every field quoted
        rows += list(csv.reader(io.StringIO(text)))
    return rows


# -- the operations ------------------------------------------------------------------------


def test_crud_and_listing(s3, buckets):
    source, target = buckets
    assert "InventoryConfigurationList" not in s3.list_bucket_inventory_configurations(
        Bucket=source
    )
    err = error(lambda: s3.get_bucket_inventory_configuration(Bucket=source, Id="a"))
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NoSuchConfiguration",
        404,
    )
    document = config("a", target, fields=["Size", "ETag"], prefix="logs/", enabled=False)
    assert put(s3, source, document)["ResponseMetadata"]["HTTPStatusCode"] == 204
    got = s3.get_bucket_inventory_configuration(Bucket=source, Id="a")
    assert got["InventoryConfiguration"] == document
    for i in range(105):
        put(s3, source, config(f"c{i:03d}", target, enabled=False))
    first = s3.list_bucket_inventory_configurations(Bucket=source)
    assert first["IsTruncated"] is True and len(first["InventoryConfigurationList"]) == 100
    assert first["InventoryConfigurationList"][0] == document
    second = s3.list_bucket_inventory_configurations(
        Bucket=source, ContinuationToken=first["NextContinuationToken"]
    )
    assert second["IsTruncated"] is False
    assert [c["Id"] for c in second["InventoryConfigurationList"]] == [
        f"c{i:03d}" for i in range(99, 105)
    ]
    deleted = s3.delete_bucket_inventory_configuration(Bucket=source, Id="a")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    err = error(lambda: s3.delete_bucket_inventory_configuration(Bucket=source, Id="a"))
    assert err["Error"]["Code"] == "NoSuchConfiguration"
    err = error(lambda: s3.get_bucket_inventory_configuration(Bucket=bname("none"), Id="a"))
    assert err["Error"]["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        (lambda c: c.update(IncludedObjectVersions="Previous"), "MalformedXML", 400),
        (lambda c: c["Schedule"].update(Frequency="Hourly"), "MalformedXML", 400),
        (
            lambda c: c["Destination"]["S3BucketDestination"].update(Format="JSON"),
            "MalformedXML",
            400,
        ),
        (lambda c: c.update(OptionalFields=["Size", "Colour"]), "MalformedXML", 400),
        (lambda c: c.update(Id="other"), "IdMismatch", 400),
        (
            lambda c: c["Destination"]["S3BucketDestination"].update(Bucket="plain-name"),
            "InvalidS3DestinationBucket",
            400,
        ),
    ],
)
def test_put_refusals(s3, buckets, change, code, status):
    source, target = buckets
    document = config("check", target)
    change(document)
    err = error(lambda: put(s3, source, document, "check"))
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    if code == "IdMismatch":
        assert (
            err["Error"]["Message"] == "Document ID does not match the specified configuration ID."
        )
    assert "InventoryConfigurationList" not in s3.list_bucket_inventory_configurations(
        Bucket=source
    )


def test_invalid_id(s3, buckets):
    source, target = buckets
    err = error(lambda: put(s3, source, config("bad id!", target)))
    assert err["Error"]["Code"] == "InvalidArgument"


def test_too_many_configurations(s3, buckets):
    source, target = buckets
    for i in range(1000):
        put(s3, source, config(f"n{i}", target, enabled=False))
    err = error(lambda: put(s3, source, config("one-more", target, enabled=False)))
    assert err["Error"]["Code"] == "TooManyConfigurations"
    put(s3, source, config("n0", target, enabled=False))  # replacing one is fine


# -- the reports -----------------------------------------------------------------------------


def test_current_versions_report(s3, buckets):
    source, target = buckets
    s3.put_object(Bucket=source, Key="logs/a b.txt", Body=b"hello")
    s3.put_object(Bucket=source, Key="logs/x/ü+.txt", Body=b"world!", StorageClass="STANDARD_IA")
    s3.put_object(Bucket=source, Key="other.txt", Body=b"skipped")
    fields = ["Size", "LastModifiedDate", "ETag", "StorageClass", "EncryptionStatus"]
    put(s3, source, config("daily", target, fields=fields, prefix="logs/"))
    base = f"reports/{source}/daily"
    manifest, _ = read_report(s3, target, base)
    assert manifest["sourceBucket"] == source
    assert manifest["destinationBucket"] == f"arn:aws:s3:::{target}"
    assert manifest["version"] == "2016-11-30"
    assert manifest["fileFormat"] == "CSV"
    assert manifest["fileSchema"] == (
        "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, EncryptionStatus"
    )
    assert manifest["creationTimestamp"].isdigit()
    assert all(f["key"].startswith(f"{base}/data/") for f in manifest["files"])
    assert all(f["key"].endswith(".csv.gz") for f in manifest["files"])
    rows = csv_rows(s3, target, manifest)
    heads = {k: s3.head_object(Bucket=source, Key=k) for k in ("logs/a b.txt", "logs/x/ü+.txt")}
    assert [r[:2] for r in rows] == [
        [source, "logs%2Fa+b.txt"],
        [source, "logs%2Fx%2F%C3%BC%2B.txt"],
    ]
    for got, (key, head) in zip(rows, heads.items(), strict=True):
        assert got[2] == str(head["ContentLength"])
        assert got[3] == head["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert got[4] == head["ETag"].strip('"')
        assert got[5] == head.get("StorageClass", "STANDARD"), key
        assert got[6] == "SSE-S3"
    # The report is a real object of the destination, owned by its account.
    listed = s3.list_objects_v2(Bucket=target, Prefix=base + "/hive/", FetchOwner=True)
    symlink = listed["Contents"][0]
    assert symlink["Key"].endswith("/symlink.txt")
    text = s3.get_object(Bucket=target, Key=symlink["Key"])["Body"].read().decode()
    assert set(text.split()) >= {f"s3://{target}/{f['key']}" for f in manifest["files"]}


def test_all_versions_report(s3, buckets):
    source, target = buckets
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=source, Key="p/k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=source, Key="p/k", Body=b"two")["VersionId"]
    marker = s3.delete_object(Bucket=source, Key="p/k")["VersionId"]
    s3.put_object(Bucket=source, Key="q/skip", Body=b"x")
    fields = ["Size", "IsMultipartUploaded", "ObjectOwner", "IntelligentTieringAccessTier"]
    put(s3, source, config("all", target, versions="All", fields=fields, prefix="p/"))
    manifest, _ = read_report(s3, target, f"reports/{source}/all")
    assert manifest["fileSchema"] == (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, IsMultipartUploaded, "
        "IntelligentTieringAccessTier, ObjectOwner"
    )
    rows = csv_rows(s3, target, manifest)
    owner = s3.list_object_versions(Bucket=source, Prefix="p/")["Versions"][0]["Owner"]["ID"]
    assert rows == [
        [source, "p%2Fk", marker, "true", "true", "", "", "", owner],
        [source, "p%2Fk", v2, "false", "false", "3", "false", "", owner],
        [source, "p%2Fk", v1, "false", "false", "3", "false", "", owner],
    ]


def test_disabled_configuration_writes_nothing(s3, buckets):
    source, target = buckets
    s3.put_object(Bucket=source, Key="k", Body=b"x")
    put(s3, source, config("off", target, enabled=False))
    put(s3, source, config("on", target))
    read_report(s3, target, f"reports/{source}/on")
    time.sleep(1.2)  # more than two ticks
    assert keys(s3, target, f"reports/{source}/off") == []


def test_weekly_waits_seven_intervals(s3, buckets):
    source, target = buckets
    put(s3, source, config("weekly", target, frequency="Weekly", dest_prefix=None))
    put(s3, source, config("daily", target, dest_prefix=None))

    def data_files(config_id: str) -> list[str]:
        return keys(s3, target, f"{source}/{config_id}/data/")

    wait_for(lambda: data_files("weekly"))  # the first report: the first tick after Put
    wait_for(lambda: len(data_files("daily")) >= 4)  # two seconds of half-second days
    assert len(data_files("weekly")) == 1
    wait_for(lambda: len(data_files("weekly")) >= 2, timeout=8)


def test_parquet_report(s3, buckets):
    source, target = buckets
    document = config("pq", target, fmt="Parquet", fields=["Size", "LastModifiedDate"])
    try:
        import pyarrow.parquet as pq
    except ImportError:
        err = error(lambda: put(s3, source, document))
        assert err["Error"]["Code"] == "NotImplemented"
        assert "Parquet" in err["Error"]["Message"]
        return
    s3.put_object(Bucket=source, Key="a", Body=b"12345")
    put(s3, source, document)
    manifest, _ = read_report(s3, target, f"reports/{source}/pq")
    assert manifest["fileFormat"] == "Parquet"
    assert manifest["fileSchema"].startswith("message s3.inventory {")
    (entry,) = manifest["files"]
    assert entry["key"].endswith(".parquet")
    data = s3.get_object(Bucket=target, Key=entry["key"])["Body"].read()
    table = pq.read_table(io.BytesIO(data)).to_pylist()
    assert [(r["bucket"], r["key"], r["size"]) for r in table] == [(source, "a", 5)]
    assert table[0]["last_modified_date"] is not None


def test_orc_report(s3, buckets):
    source, target = buckets
    fields = ["Size", "LastModifiedDate", "IsMultipartUploaded"]
    document = config("orc", target, fmt="ORC", fields=fields)
    try:
        import pyarrow.orc as orc
    except ImportError:
        err = error(lambda: put(s3, source, document))
        assert err["Error"]["Code"] == "NotImplemented"
        assert "pyarrow" in err["Error"]["Message"]
        return
    s3.put_object(Bucket=source, Key="a", Body=b"12345")
    put(s3, source, document)
    manifest, _ = read_report(s3, target, f"reports/{source}/orc")
    assert manifest["fileFormat"] == "ORC"
    assert manifest["fileSchema"] == (
        "struct<bucket:string,key:string,size:bigint,last_modified_date:timestamp,"
        "is_multipart_uploaded:boolean>"
    )
    (entry,) = manifest["files"]
    assert entry["key"].endswith(".orc")
    data = s3.get_object(Bucket=target, Key=entry["key"])["Body"].read()
    rows = orc.ORCFile(io.BytesIO(data)).read().to_pylist()
    assert [(r["bucket"], r["key"], r["size"], r["is_multipart_uploaded"]) for r in rows] == [
        (source, "a", 5, False)
    ]
    head = s3.head_object(Bucket=source, Key="a")["LastModified"]
    assert abs(rows[0]["last_modified_date"].timestamp() - head.timestamp()) < 1  # UTC


def test_reports_read_the_bucket_in_pages(s3, buckets):
    """More than a page (1,000 rows) of keys and of versions, one key's versions
    straddling the page end: every row once, in order."""
    source, target = buckets
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    writes = [f"k{i:04d}" for i in range(1001)] + ["k0998", "k0998"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=source, Key=k, Body=b"x"), writes[:1001]))
    for key in writes[1001:]:
        s3.put_object(Bucket=source, Key=key, Body=b"yy")
    put(s3, source, config("cur", target))
    put(s3, source, config("all", target, versions="All", fields=["Size"]))
    current = csv_rows(s3, target, read_report(s3, target, f"reports/{source}/cur")[0])
    assert [r[1] for r in current] == writes[:1001]
    every = csv_rows(s3, target, read_report(s3, target, f"reports/{source}/all")[0])
    assert [r[1] for r in every] == sorted(writes)
    assert [r[5] for r in every if r[1] == "k0998"] == ["2", "2", "1"]
    assert [r[3] for r in every if r[1] == "k0998"] == ["true", "false", "false"]
