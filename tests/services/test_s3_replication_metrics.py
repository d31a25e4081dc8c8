"""S3 replication metrics and Replication Time Control with real boto3: the settings
PutBucketReplication takes, the figures CloudWatch receives, and the ``s3:Replication``
events a queue gets.

One server holds every job back ``DELAY`` seconds, past a ``THRESHOLD`` of one second,
and publishes replication metrics several times a second, so a test sees a backlog, its
draining, a missed threshold and a late completion within seconds. Everything
asynchronous is polled with a deadline.
"""

from __future__ import annotations

import datetime
import json
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.services.s3.replication import DELAY_ENV
from cloudlet.services.s3.replication_metrics import INTERVAL_ENV, THRESHOLD_ENV
from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, wait_until

ROLE = "arn:aws:iam::000000000000:role/replication"
DELAY = 2.5
TIMEOUT = 15.0
METRICS = {"Status": "Enabled"}
TIMED = {
    "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
    "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
}


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(
        env={DELAY_ENV: str(DELAY), THRESHOLD_ENV: "1", INTERVAL_ENV: "0.25"}
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def s3(server):
    return server.client("s3", config=NO_RETRIES)


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def _versioned(s3, prefix: str) -> str:
    name = bname(prefix)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _rule(dest: str, rule_id: str = "watched", **destination) -> dict:
    return {
        "ID": rule_id,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{dest}", **destination},
    }


def _configure(s3, source: str, rule: dict) -> None:
    s3.put_bucket_replication(
        Bucket=source, ReplicationConfiguration={"Role": ROLE, "Rules": [rule]}
    )


def _wait(check, what: str):
    return wait_until(check, what, TIMEOUT, every=0.1)


def _refused(s3, source: str, rule: dict) -> tuple[str, str, str | None]:
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, rule)
    err = exc.value.response["Error"]
    return err["Code"], err["Message"], err.get("ArgumentName")


def test_settings_are_checked_as_s3_checks_them(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    threshold_alone = _rule(dest, Metrics={**METRICS, "EventThreshold": {"Minutes": 15}})
    assert _refused(s3, source, threshold_alone) == (
        "InvalidArgument",
        "Metrics cannot contain an event threshold when ReplicationTime is not specified "
        "or Disabled",
        None,
    )
    timed_alone = _rule(dest, ReplicationTime=TIMED["ReplicationTime"])
    assert _refused(s3, source, timed_alone) == (
        "InvalidRequest",
        "Replication destination must contain both ReplicationTime and Metrics or neither.",
        None,
    )
    ten = _rule(
        dest, **{**TIMED, "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 10}}}
    )
    assert _refused(s3, source, ten) == (
        "InvalidArgument",
        "Invalid time minute value",
        "ReplicationTime",
    )
    no_threshold = _rule(dest, **{**TIMED, "Metrics": METRICS})
    assert _refused(s3, source, no_threshold) == (
        "InvalidArgument",
        "ReplicationMetrics must contain an event threshold",
        "ReplicationMetrics",
    )
    thirty = _rule(dest, **{**TIMED, "Metrics": {**METRICS, "EventThreshold": {"Minutes": 30}}})
    assert _refused(s3, source, thirty)[1:] == (
        "Invalid event threshold minute value",
        "ReplicationMetrics",
    )
    assert _refused(s3, source, _rule(dest, Metrics={"Status": "Maybe"}))[0] == "MalformedXML"
    with pytest.raises(ClientError) as exc:  # nothing stored
        s3.get_bucket_replication(Bucket=source)
    assert exc.value.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"

    # What S3 takes is stored and answered as given.
    for destination in ({"Metrics": METRICS}, TIMED):
        _configure(s3, source, _rule(dest, **destination))
        [rule] = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"]
        assert {k: rule["Destination"][k] for k in destination} == destination


def _series(server, source: str, dest: str, name: str, stat: str) -> list[float]:
    """The metric's one-second datapoints of the last minute, oldest first."""
    now = datetime.datetime.now(datetime.UTC)
    points = server.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/S3",
        MetricName=name,
        Dimensions=[
            {"Name": "SourceBucket", "Value": source},
            {"Name": "DestinationBucket", "Value": dest},
            {"Name": "RuleId", "Value": "watched"},
        ],
        StartTime=now - datetime.timedelta(minutes=1),
        EndTime=now + datetime.timedelta(seconds=5),
        Period=1,
        Statistics=[stat],
    )["Datapoints"]
    return [p[stat] for p in sorted(points, key=lambda p: p["Timestamp"])]


def test_metrics_reach_cloudwatch(server, s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(s3, source, _rule(dest, Metrics=METRICS))
    body = b"x" * 1234
    version = s3.put_object(Bucket=source, Key="k", Body=body)["VersionId"]

    # Held back by the delay: one operation and its bytes wait.
    _wait(
        lambda: 1 in _series(server, source, dest, "OperationsPendingReplication", "Maximum"),
        "a pending operation",
    )
    assert len(body) in _series(server, source, dest, "BytesPendingReplication", "Maximum")
    assert _series(server, source, dest, "OperationsFailedReplication", "Sum")[-1] == 0

    # Replicated: the backlog drains to nothing and the latency is the wait it had.
    _wait(
        lambda: (
            s3.head_object(Bucket=source, Key="k", VersionId=version)["ReplicationStatus"]
            == "COMPLETED"
        ),
        "the replica",
    )
    _wait(
        lambda: _series(server, source, dest, "OperationsPendingReplication", "Maximum")[-1] == 0,
        "an empty backlog",
    )
    assert _series(server, source, dest, "BytesPendingReplication", "Maximum")[-1] == 0
    latency = max(_series(server, source, dest, "ReplicationLatency", "Maximum"))
    assert DELAY - 0.1 <= latency < DELAY + 5  # the event loop may wake a hair early

    # A destination deleted while a version waits: the version FAILED, and is counted.
    s3.delete_object(Bucket=dest, Key="k", VersionId=version)
    version = s3.put_object(Bucket=source, Key="gone", Body=b"y")["VersionId"]
    s3.delete_bucket(Bucket=dest)
    _wait(
        lambda: (
            s3.head_object(Bucket=source, Key="gone", VersionId=version)["ReplicationStatus"]
            == "FAILED"
        ),
        "the failure",
    )
    _wait(
        lambda: 1 in _series(server, source, dest, "OperationsFailedReplication", "Sum"),
        "a failed operation",
    )
    cw = server.client("cloudwatch")
    listed = cw.list_metrics(
        Namespace="AWS/S3", Dimensions=[{"Name": "SourceBucket", "Value": source}]
    )
    assert {m["MetricName"] for m in listed["Metrics"]} == {
        "ReplicationLatency",
        "BytesPendingReplication",
        "OperationsPendingReplication",
        "OperationsFailedReplication",
    }


def _events_queue(s3, sqs, bucket: str) -> str:
    url = sqs.create_queue(QueueName=bname("repl-events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    config = {"Id": "replication", "QueueArn": arn["QueueArn"], "Events": ["s3:Replication:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [config]}
    )
    return url


def _records(sqs, url: str, want: int, timeout: float = TIMEOUT) -> list[dict]:
    """Up to ``want`` event records (the test event skipped), in arrival order."""
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            body = json.loads(message["Body"])
            out += body.get("Records", [])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def test_threshold_events_and_failure_reach_the_queue(s3, sqs):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(s3, source, _rule(dest, **TIMED))
    url = _events_queue(s3, sqs, source)
    out = s3.put_object(Bucket=source, Key="late key", Body=b"late")
    missed, late = _records(sqs, url, 2)
    assert [missed["eventName"], late["eventName"]] == [
        "Replication:OperationMissedThreshold",
        "Replication:OperationReplicatedAfterThreshold",
    ]
    assert missed["eventVersion"] == "2.2" and missed["eventSource"] == "aws:s3"
    assert missed["userIdentity"] == {"principalId": "s3.amazonaws.com"}
    assert missed["requestParameters"] == {"sourceIPAddress": "s3.amazonaws.com"}
    assert missed["s3"]["configurationId"] == "replication"
    assert missed["s3"]["bucket"]["name"] == source
    obj = missed["s3"]["object"]
    assert (obj["key"], obj["size"], obj["versionId"]) == ("late+key", 4, out["VersionId"])
    assert obj["eTag"] == out["ETag"].strip('"')
    data = missed["replicationEventData"]
    assert data["replicationRuleId"] == "watched"
    assert data["destinationBucket"] == f"arn:aws:s3:::{dest}"
    assert data["s3Operation"] == "OBJECT_PUT"
    assert data["threshold"] == "15"
    assert data["requestTime"].endswith("Z") and "failureReason" not in data
    assert late["replicationEventData"]["replicationRuleId"] == "watched"
    assert "replicationTime" in late["replicationEventData"]

    # The destination bucket goes while a version waits: S3's DstBucketNotFound.
    s3.delete_object(Bucket=dest, Key="late key", VersionId=out["VersionId"])
    version = s3.put_object(Bucket=source, Key="doomed", Body=b"d")["VersionId"]
    s3.delete_bucket(Bucket=dest)
    records = _records(sqs, url, 2)
    failed = [r for r in records if r["eventName"] == "Replication:OperationFailedReplication"]
    assert len(failed) == 1, records
    assert failed[0]["s3"]["object"]["versionId"] == version
    assert failed[0]["replicationEventData"]["failureReason"] == "DstBucketNotFound"


def test_untracking_a_waiting_version_is_announced(s3, sqs):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(s3, source, _rule(dest, Metrics=METRICS))
    url = _events_queue(s3, sqs, source)
    s3.put_object(Bucket=source, Key="waiting", Body=b"w")
    _configure(s3, source, _rule(dest))  # metrics off while the version waits
    [record] = _records(sqs, url, 1)
    assert record["eventName"] == "Replication:OperationNotTracked"
    assert record["s3"]["object"]["key"] == "waiting"
    assert record["replicationEventData"]["replicationRuleId"] == "watched"
    # No longer tracked: its completion (after the delay) sends nothing more.
    assert _records(sqs, url, 1, timeout=DELAY + 1.5) == []
