"""S3 bucket metrics configurations: stored, listed, and publishing request metrics.

The server publishes every half second (``CLOUDLET_S3_METRICS_INTERVAL``) so the
figures reach CloudWatch (namespace ``AWS/S3``, dimensions ``BucketName`` and
``FilterId``) while the test waits.
"""

from __future__ import annotations

import datetime
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, error


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(
        env={
            "CLOUDLET_S3_METRICS_INTERVAL": "0.5",
            "CLOUDLET_S3_STORAGE_METRICS_INTERVAL": "0.5",
        }
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3):
    name = bname("metrics")
    s3.create_bucket(Bucket=name)
    return name


def sums(server, bucket: str, filter_id: str, *names: str) -> dict[str, tuple[float, float]]:
    """(Sum, SampleCount) of each metric over the last few minutes, once published."""
    cw = server.client("cloudwatch")
    now = datetime.datetime.now(datetime.UTC)
    dims = [{"Name": "BucketName", "Value": bucket}, {"Name": "FilterId", "Value": filter_id}]
    out = {}
    for name in names:
        points = cw.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=name,
            Dimensions=dims,
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now + datetime.timedelta(minutes=1),
            Period=300,
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]
        out[name] = (
            sum(p["Sum"] for p in points),
            sum(p["SampleCount"] for p in points),
        )
    return out


def test_configurations_are_stored_listed_and_deleted(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_metrics_configuration(Bucket=bucket, Id="none")
    assert error(exc) == ("NoSuchConfiguration", 404)
    assert exc.value.response["Error"]["Message"] == "The specified configuration does not exist."
    tagged = {
        "Id": "tagged",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "team", "Value": "blue"}]}},
    }
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id="tagged", MetricsConfiguration=tagged)
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id="all", MetricsConfiguration={"Id": "all"})
    got = s3.get_bucket_metrics_configuration(Bucket=bucket, Id="tagged")
    assert got["MetricsConfiguration"] == tagged
    listed = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert listed["IsTruncated"] is False
    assert [c["Id"] for c in listed["MetricsConfigurationList"]] == ["all", "tagged"]
    s3.delete_bucket_metrics_configuration(Bucket=bucket, Id="all")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket_metrics_configuration(Bucket=bucket, Id="all")
    assert error(exc) == ("NoSuchConfiguration", 404)
    listed = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert [c["Id"] for c in listed["MetricsConfigurationList"]] == ["tagged"]


def test_listing_pages_by_one_hundred(s3, bucket):
    ids = [f"c{i:03d}" for i in range(105)]
    for config_id in ids:
        s3.put_bucket_metrics_configuration(
            Bucket=bucket, Id=config_id, MetricsConfiguration={"Id": config_id}
        )
    first = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert first["IsTruncated"] is True
    assert len(first["MetricsConfigurationList"]) == 100
    second = s3.list_bucket_metrics_configurations(
        Bucket=bucket, ContinuationToken=first["NextContinuationToken"]
    )
    assert second["IsTruncated"] is False
    assert second["ContinuationToken"] == first["NextContinuationToken"]
    got = [c["Id"] for c in first["MetricsConfigurationList"] + second["MetricsConfigurationList"]]
    assert got == ids


@pytest.mark.parametrize(
    "config",
    [
        {"Id": "other"},  # not the Id of the request
        {"Id": "x", "Filter": {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}},  # two kinds
        {"Id": "x", "Filter": {"And": {"Prefix": "a"}}},  # an And of one predicate
    ],
)
def test_bad_configurations_are_refused(s3, bucket, config):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_metrics_configuration(Bucket=bucket, Id="x", MetricsConfiguration=config)
    assert error(exc)[1] == 400
    assert "MetricsConfigurationList" not in s3.list_bucket_metrics_configurations(Bucket=bucket)


def test_requests_are_counted_per_filter_and_published(server, s3, bucket):
    s3.put_bucket_metrics_configuration(
        Bucket=bucket, Id="EntireBucket", MetricsConfiguration={"Id": "EntireBucket"}
    )
    s3.put_bucket_metrics_configuration(
        Bucket=bucket,
        Id="docs",
        MetricsConfiguration={"Id": "docs", "Filter": {"Prefix": "docs/"}},
    )
    s3.put_bucket_metrics_configuration(
        Bucket=bucket,
        Id="blue",
        MetricsConfiguration={"Id": "blue", "Filter": {"Tag": {"Key": "team", "Value": "blue"}}},
    )
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"docs/{i}", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="other", Body=b"y" * 10, Tagging="team=blue")
    assert s3.get_object(Bucket=bucket, Key="docs/1")["Body"].read() == b"x" * 100
    s3.get_object(Bucket=bucket, Key="other")["Body"].read()
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="docs/missing")
    s3.head_object(Bucket=bucket, Key="docs/0")
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="docs/2")
    time.sleep(1.5)

    docs = sums(
        server,
        bucket,
        "docs",
        "AllRequests",
        "PutRequests",
        "GetRequests",
        "HeadRequests",
        "DeleteRequests",
        "ListRequests",
        "4xxErrors",
        "BytesUploaded",
        "BytesDownloaded",
    )
    assert docs["AllRequests"] == (7, 7)  # 3 puts, 2 gets, a head, a delete
    assert docs["PutRequests"][0] == 3
    assert docs["GetRequests"][0] == 2
    assert docs["HeadRequests"][0] == 1
    assert docs["DeleteRequests"][0] == 1
    assert docs["ListRequests"] == (0, 0)  # a listing names no key: no filter selects it
    assert docs["4xxErrors"] == (1, 7)  # 0 or 1 a request: the Average is the error rate
    assert docs["BytesUploaded"] == (300, 3)
    # The missing key's 404 has an XML body too.
    assert docs["BytesDownloaded"][0] > 100
    blue = sums(server, bucket, "blue", "AllRequests", "BytesUploaded")
    assert blue["AllRequests"][0] == 2  # the tagged put and the get of its object
    assert blue["BytesUploaded"][0] == 10
    everything = sums(server, bucket, "EntireBucket", "AllRequests", "ListRequests")
    assert everything["AllRequests"][0] >= 12
    assert everything["ListRequests"][0] == 1
    latency = sums(server, bucket, "EntireBucket", "FirstByteLatency", "TotalRequestLatency")
    assert latency["TotalRequestLatency"][0] >= latency["FirstByteLatency"][0] > 0


def test_s3_select_requests_and_their_bytes_are_counted(server, s3, bucket):
    s3.put_bucket_metrics_configuration(
        Bucket=bucket, Id="EntireBucket", MetricsConfiguration={"Id": "EntireBucket"}
    )
    body = b"a,1\nb,2\nc,3\n"
    s3.put_object(Bucket=bucket, Key="rows.csv", Body=body)
    response = s3.select_object_content(
        Bucket=bucket,
        Key="rows.csv",
        Expression="SELECT s._1 FROM S3Object s WHERE s._2 > 1",
        ExpressionType="SQL",
        InputSerialization={"CSV": {}},
        OutputSerialization={"CSV": {}},
    )
    assert [e for e in response["Payload"] if "Records" in e] == [
        {"Records": {"Payload": b"b\nc\n"}}
    ]
    time.sleep(1.5)
    got = sums(
        server,
        bucket,
        "EntireBucket",
        "SelectRequests",
        "SelectBytesScanned",
        "SelectBytesReturned",
        "PostRequests",
    )
    assert got["SelectRequests"] == (1, 1)
    assert got["SelectBytesScanned"] == (len(body), 1)
    assert got["SelectBytesReturned"] == (4, 1)
    assert got["PostRequests"] == (0, 0)


def test_a_bucket_without_configurations_publishes_no_request_metrics(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    time.sleep(1.0)
    cw = server.client("cloudwatch")
    metrics = cw.list_metrics(
        Namespace="AWS/S3", Dimensions=[{"Name": "BucketName", "Value": bucket}]
    )["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"BucketSizeBytes", "NumberOfObjects"}


def test_daily_storage_metrics_count_every_version_and_part(server, s3, bucket):
    """BucketSizeBytes per storage class and NumberOfObjects, current and noncurrent
    versions, delete markers and incomplete uploads' parts included (S3's daily storage
    metrics), stamped with the day's midnight."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 10)
    s3.put_object(Bucket=bucket, Key="a", Body=b"y" * 20)  # a noncurrent version stays
    s3.put_object(Bucket=bucket, Key="cold", Body=b"z" * 5, StorageClass="GLACIER")
    s3.delete_object(Bucket=bucket, Key="gone")  # a delete marker: an object of no bytes
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 3)
    time.sleep(1.5)
    cw = server.client("cloudwatch")
    now = datetime.datetime.now(datetime.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def latest(name: str, storage_type: str) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=name,
            Dimensions=[
                {"Name": "BucketName", "Value": bucket},
                {"Name": "StorageType", "Value": storage_type},
            ],
            StartTime=midnight - datetime.timedelta(days=1),
            EndTime=now + datetime.timedelta(days=1),
            Period=86400,
            Statistics=["Maximum"],
        )["Datapoints"]
        [point] = points
        assert point["Timestamp"] == midnight
        return point["Maximum"]

    assert latest("BucketSizeBytes", "StandardStorage") == 10 + 20 + 3
    assert latest("BucketSizeBytes", "GlacierStorage") == 5
    assert latest("NumberOfObjects", "AllStorageTypes") == 3 + 1 + 1
