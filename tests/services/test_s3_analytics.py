"""S3 analytics (Storage Class Analysis): configurations stored and checked, and the
CSV exports they write.

The server closes an analytics day every second (``CLOUDLET_S3_ANALYTICS_INTERVAL``), so
the requests a test makes may fall into one export or two: the tests add the request
counts up over every row of an age group, and read what is stored from its latest row,
polling the destination with a deadline.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname

HEADER = (
    "Date,ConfigId,Filter,StorageClass,ObjectAge,ObjectCount,DataUploaded_MB,Storage_MB,"
    "DataRetrieved_MB,GetRequestCount,CumulativeAccessRatio,ObjectAgeForSIATransition,"
    "RecommendedObjectAgeForSIATransition"
)
MB = 1024 * 1024
BIG, SMALL, OTHER = 200 * 1024, 1024, 300 * 1024


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(env={"CLOUDLET_S3_ANALYTICS_INTERVAL": "1"})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def buckets(s3):
    source, target = bname("an-src"), bname("an-dst")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    return source, target


def config(
    config_id: str,
    target: str | None = None,
    *,
    flt: dict[str, Any] | None = None,
    fmt: str = "CSV",
    version: str = "V_1",
) -> dict[str, Any]:
    analysis: dict[str, Any] = {}
    if target is not None:
        where = {"Format": fmt, "Bucket": f"arn:aws:s3:::{target}", "Prefix": "exports"}
        analysis["DataExport"] = {
            "OutputSchemaVersion": version,
            "Destination": {"S3BucketDestination": where},
        }
    out: dict[str, Any] = {"Id": config_id, "StorageClassAnalysis": analysis}
    if flt is not None:
        out["Filter"] = flt
    return out


def put(s3, bucket: str, document: dict[str, Any], config_id: str | None = None):
    return s3.put_bucket_analytics_configuration(
        Bucket=bucket, Id=config_id or document["Id"], AnalyticsConfiguration=document
    )


def error(call, *args, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# -- the configuration ---------------------------------------------------------------------


def test_put_get_list_delete(s3, buckets):
    source, target = buckets
    exported = config("exported", target, flt={"Prefix": "docs/"})
    tagged = config(
        "tagged",
        flt={"And": {"Prefix": "logs/", "Tags": [{"Key": "team", "Value": "red"}]}},
    )
    put(s3, source, exported)
    put(s3, source, tagged)
    got = s3.get_bucket_analytics_configuration(Bucket=source, Id="exported")
    assert got["AnalyticsConfiguration"] == exported
    got = s3.get_bucket_analytics_configuration(Bucket=source, Id="tagged")
    assert got["AnalyticsConfiguration"] == tagged
    listed = s3.list_bucket_analytics_configurations(Bucket=source)
    assert listed["IsTruncated"] is False
    assert [c["Id"] for c in listed["AnalyticsConfigurationList"]] == ["exported", "tagged"]
    plain = config("plain")
    put(s3, source, plain)
    got = s3.get_bucket_analytics_configuration(Bucket=source, Id="plain")
    assert got["AnalyticsConfiguration"] == {"Id": "plain", "StorageClassAnalysis": {}}

    answer = s3.delete_bucket_analytics_configuration(Bucket=source, Id="exported")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    code = error(s3.get_bucket_analytics_configuration, Bucket=source, Id="exported")
    assert code == ("NoSuchConfiguration", 404)
    code = error(s3.delete_bucket_analytics_configuration, Bucket=source, Id="exported")
    assert code == ("NoSuchConfiguration", 404)
    listed = s3.list_bucket_analytics_configurations(Bucket=source)
    assert [c["Id"] for c in listed["AnalyticsConfigurationList"]] == ["plain", "tagged"]


def test_list_pages_of_100(s3, buckets):
    source, _ = buckets
    for i in range(101):
        put(s3, source, config(f"c{i:03d}"))
    first = s3.list_bucket_analytics_configurations(Bucket=source)
    assert first["IsTruncated"] is True
    assert len(first["AnalyticsConfigurationList"]) == 100
    second = s3.list_bucket_analytics_configurations(
        Bucket=source, ContinuationToken=first["NextContinuationToken"]
    )
    assert second["IsTruncated"] is False
    assert [c["Id"] for c in second["AnalyticsConfigurationList"]] == ["c100"]


@pytest.mark.parametrize(
    ("document", "config_id", "expected"),
    [
        (config("a"), "b", "MalformedXML"),  # the Id is not the query's
        (config("a", "x", fmt="ORC"), None, "MalformedXML"),
        (config("a", "x", version="V_2"), None, "MalformedXML"),
        (config("a", flt={"Prefix": "p", "Tag": {"Key": "k", "Value": "v"}}), None, "MalformedXML"),
        (config("a", flt={"And": {"Prefix": "p"}}), None, "MalformedXML"),
        (config("bad id!"), None, "InvalidArgument"),
    ],
)
def test_put_refused(s3, buckets, document, config_id, expected):
    source, _ = buckets
    assert error(put, s3, source, document, config_id) == (expected, 400)
    listed = s3.list_bucket_analytics_configurations(Bucket=source)
    assert "AnalyticsConfigurationList" not in listed


def test_destination_must_be_a_bucket_arn(s3, buckets):
    source, _ = buckets
    document = config("a", "x")
    where = document["StorageClassAnalysis"]["DataExport"]["Destination"]["S3BucketDestination"]
    where["Bucket"] = "not-an-arn"
    assert error(put, s3, source, document) == ("InvalidS3DestinationBucket", 400)


def test_missing_bucket(s3):
    code = error(put, s3, bname("an-none"), config("a"))
    assert code == ("NoSuchBucket", 404)
    code = error(s3.get_bucket_analytics_configuration, Bucket=bname("an-none"), Id="a")
    assert code == ("NoSuchBucket", 404)


# -- the exports ---------------------------------------------------------------------------


def read_export(s3, target: str, key: str) -> list[dict[str, str]] | None:
    try:
        body = s3.get_object(Bucket=target, Key=key)["Body"].read().decode()
    except ClientError:
        return None
    assert body.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(body)))


def totals(rows: list[dict[str, str]], age: str) -> dict[str, Any]:
    """What the rows of one age group of STANDARD say: request figures added up over
    every export, what is stored from the latest."""
    mine = [r for r in rows if r["ObjectAge"] == age and r["StorageClass"] == "STANDARD"]
    last = mine[-1]
    return {
        "gets": sum(int(r["GetRequestCount"]) for r in mine),
        "retrieved": round(sum(float(r["DataRetrieved_MB"]) for r in mine), 5),
        "uploaded": round(sum(float(r["DataUploaded_MB"]) for r in mine), 5),
        "objects": int(last["ObjectCount"]),
        "stored": round(float(last["Storage_MB"]), 5),
    }


def mb(count: int) -> float:
    return round(count / MB, 5)


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_exports_count_storage_and_reads(s3, buckets):
    source, target = buckets
    put(s3, source, config("docs", target, flt={"Prefix": "docs/"}))
    put(s3, source, config("all", target))
    put(s3, source, config("quiet"))  # observes, exports nothing
    s3.put_object(Bucket=source, Key="docs/big", Body=b"b" * BIG)
    s3.put_object(Bucket=source, Key="docs/small", Body=b"s" * SMALL)
    s3.put_object(Bucket=source, Key="other/c", Body=b"c" * OTHER)
    for key in ("docs/big", "docs/big", "docs/small", "other/c"):
        s3.get_object(Bucket=source, Key=key)["Body"].read()
    s3.get_object(Bucket=source, Key="docs/big", Range="bytes=0-1023")["Body"].read()

    docs_key, all_key = f"exports/{source}/docs.csv", f"exports/{source}/all.csv"
    want_docs = {
        "ALL": {
            "gets": 4,
            "retrieved": mb(2 * BIG + SMALL + 1024),
            "uploaded": mb(BIG + SMALL),
            "objects": 2,
            "stored": mb(BIG + SMALL),
        },
        "000-014": {
            "gets": 3,
            "retrieved": mb(2 * BIG + 1024),
            "uploaded": mb(BIG),
            "objects": 1,
            "stored": mb(BIG),
        },
        "015-029": {"gets": 0, "retrieved": 0, "uploaded": 0, "objects": 0, "stored": 0},
    }

    def docs_done() -> list[dict[str, str]] | None:
        rows = read_export(s3, target, docs_key)
        if rows and all(totals(rows, age) == want for age, want in want_docs.items()):
            return rows
        return None

    rows = wait_for(docs_done)
    last = read_export(s3, target, docs_key)
    assert rows, last and {age: totals(last, age) for age in want_docs}
    # Age groups in S3's order, ALL last; each group's rows by date.
    ages = [r["ObjectAge"] for r in rows]
    assert ages[0] == "000-014" and ages[-1] == "ALL"
    assert sorted(set(ages)) == sorted(
        ["000-014", "015-029", "030-044", "045-059", "060-074", "075-089", "090-119"]
        + ["120-149", "150-179", "180-364", "365-729", "730+", "ALL"]
    )
    assert all(r["ConfigId"] == "docs" for r in rows)
    assert all(r["ObjectAgeForSIATransition"] == "" for r in rows)
    ratio = [r for r in rows if r["ObjectAge"] == "ALL"][-1]["CumulativeAccessRatio"]
    assert ratio != ""

    def all_done() -> list[dict[str, str]] | None:
        rows = read_export(s3, target, all_key)
        if not rows:
            return None
        got = totals(rows, "ALL")
        return rows if got["gets"] == 5 and got["objects"] == 3 else None

    rows = wait_for(all_done)
    assert rows
    got = totals(rows, "ALL")
    assert got["stored"] == mb(BIG + SMALL + OTHER)
    assert got["uploaded"] == mb(BIG + SMALL + OTHER)
    assert got["retrieved"] == mb(2 * BIG + SMALL + OTHER + 1024)
    assert totals(rows, "000-014")["objects"] == 2

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=target).get("Contents", [])}
    assert keys == {docs_key, all_key}  # the configuration without DataExport wrote nothing
    head = s3.head_object(Bucket=target, Key=docs_key)
    assert head["ContentType"] == "text/csv"

    # Deleting a configuration stops its exports; the others go on.
    s3.delete_bucket_analytics_configuration(Bucket=source, Id="docs")
    time.sleep(1.5)  # an export already under way may still land
    before = s3.head_object(Bucket=target, Key=docs_key)["ETag"]
    grown = len(read_export(s3, target, all_key) or [])
    assert wait_for(lambda: len(read_export(s3, target, all_key) or []) > grown)
    time.sleep(1.2)
    assert s3.head_object(Bucket=target, Key=docs_key)["ETag"] == before


def test_tag_filter_counts_tagged_objects_only(s3, buckets):
    source, target = buckets
    flt = {"Tag": {"Key": "team", "Value": "red"}}
    put(s3, source, config("red", target, flt=flt))
    s3.put_object(Bucket=source, Key="r", Body=b"r" * BIG, Tagging="team=red")
    s3.put_object(Bucket=source, Key="b", Body=b"b" * BIG, Tagging="team=blue")
    s3.get_object(Bucket=source, Key="r")["Body"].read()
    s3.get_object(Bucket=source, Key="b")["Body"].read()

    def done() -> list[dict[str, str]] | None:
        rows = read_export(s3, target, f"exports/{source}/red.csv")
        if not rows:
            return None
        got = totals(rows, "ALL")
        return rows if got["objects"] == 1 and got["gets"] == 1 else None

    rows = wait_for(done)
    assert rows
    assert totals(rows, "ALL")["stored"] == mb(BIG)
    assert totals(rows, "ALL")["uploaded"] == mb(BIG)
