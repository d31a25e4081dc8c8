"""CloudWatch Logs export tasks with boto3 and the AWS CLI: a log group's events over a
time range land in one of our S3 buckets as AWS lays exports out
(``<prefix>/<taskId>/<stream>/000000.gz``, ``<prefix>/aws-logs-write-test``), one active
task per account, cancellation, and AWS's refusals."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

BASE = (int(time.time()) - 3600) * 1000  # ms: an hour ago (older events are refused)


def stamp(offset_ms: int) -> str:
    when = dt.datetime.fromtimestamp((BASE + offset_ms) / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _name(kind: str) -> str:
    return f"exp-{kind}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def clients(cloudlet_server):
    return cloudlet_server.client("logs"), cloudlet_server.client("s3")


def _finished(logs, task_id: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        (task,) = logs.describe_export_tasks(taskId=task_id)["exportTasks"]
        if task["status"]["code"] not in ("PENDING", "RUNNING", "PENDING_CANCEL"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def _group_with_events(logs) -> str:
    group = "/exp/" + _name("group")
    logs.create_log_group(logGroupName=group)
    for stream, offsets in (("app/web-1", (0, 1000, 5000)), ("worker", (2000, 90_000))):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": BASE + o, "message": f"{stream} at {o}"} for o in offsets],
        )
    logs.create_log_stream(logGroupName=group, logStreamName="idle")
    return group


def test_an_export_writes_each_streams_events_in_range(clients, aws):
    logs, s3 = clients
    group = _group_with_events(logs)
    bucket = _name("bucket")
    s3.create_bucket(Bucket=bucket)
    task_id = logs.create_export_task(
        taskName="nightly",
        logGroupName=group,
        fromTime=BASE,
        to=BASE + 60_000,
        destination=bucket,
        destinationPrefix="archive",
    )["taskId"]
    task = _finished(logs, task_id)
    assert task["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
    assert task["taskName"] == "nightly" and task["logGroupName"] == group
    assert (task["from"], task["to"]) == (BASE, BASE + 60_000)
    assert task["destination"] == bucket and task["destinationPrefix"] == "archive"
    assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {
        f"archive/{task_id}/app-web-1/000000.gz",
        f"archive/{task_id}/worker/000000.gz",
        "archive/aws-logs-write-test",
    }
    web = s3.get_object(Bucket=bucket, Key=f"archive/{task_id}/app-web-1/000000.gz")["Body"].read()
    assert gzip.decompress(web).decode().splitlines() == [
        f"{stamp(0)} app/web-1 at 0",
        f"{stamp(1000)} app/web-1 at 1000",
        f"{stamp(5000)} app/web-1 at 5000",
    ]
    worker = s3.get_object(Bucket=bucket, Key=f"archive/{task_id}/worker/000000.gz")["Body"]
    worker = gzip.decompress(worker.read())
    assert worker.decode() == f"{stamp(2000)} worker at 2000\n"  # 90,000 is past `to`
    body = s3.get_object(Bucket=bucket, Key="archive/aws-logs-write-test")["Body"].read()
    assert body == b"Permission Check Successful"

    # The AWS CLI, with the default prefix and a stream prefix.
    out = aws(
        "logs",
        "create-export-task",
        "--log-group-name",
        group,
        "--from",
        str(BASE),
        "--to",
        str(BASE + 100_000),
        "--destination",
        bucket,
        "--log-stream-name-prefix",
        "work",
    )
    second = json.loads(out.stdout)["taskId"]
    assert _finished(logs, second)["destinationPrefix"] == "exportedlogs"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exportedlogs/")["Contents"]}
    assert keys == {f"exportedlogs/{second}/worker/000000.gz", "exportedlogs/aws-logs-write-test"}
    listed = logs.describe_export_tasks(statusCode="COMPLETED")["exportTasks"]
    assert [t["taskId"] for t in listed][:2] == [second, task_id]  # newest first


def test_refusals_and_cancellation(clients):
    logs, s3 = clients
    group = _group_with_events(logs)
    bucket = _name("bucket")
    s3.create_bucket(Bucket=bucket)

    def refused(**kw) -> tuple[str, str]:
        request = {
            "logGroupName": group,
            "fromTime": BASE,
            "to": BASE + 1,
            "destination": bucket,
            **kw,
        }
        with pytest.raises(ClientError) as exc:
            logs.create_export_task(**request)
        return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]

    assert refused(logGroupName="/exp/none") == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    assert refused(destination=_name("missing")) == (
        "InvalidParameterException",
        "The specified bucket does not exist.",
    )
    assert refused(fromTime=BASE + 10, to=BASE)[0] == "InvalidParameterException"
    other = _name("west")
    s3.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    code, message = refused(destination=other)
    assert code == "InvalidParameterException" and "same region" in message

    with pytest.raises(ClientError) as exc:
        logs.cancel_export_task(taskId="no-such-task")
    assert exc.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "The specified export task does not exist.",
    }
    done = logs.create_export_task(
        logGroupName=group, fromTime=BASE, to=BASE + 1, destination=bucket
    )["taskId"]
    _finished(logs, done)
    with pytest.raises(ClientError) as exc:
        logs.cancel_export_task(taskId=done)
    assert exc.value.response["Error"] == {
        "Code": "InvalidOperationException",
        "Message": "The specified export task has already finished.",
    }


def test_an_export_survives_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer

    with CloudletServer.start(data_dir=tmp_path) as server:
        logs, s3 = server.client("logs"), server.client("s3")
        group = _group_with_events(logs)
        s3.create_bucket(Bucket="kept")
        task_id = logs.create_export_task(
            logGroupName=group, fromTime=BASE, to=BASE + 10_000, destination="kept"
        )["taskId"]
        _finished(logs, task_id)
    with CloudletServer.start(data_dir=tmp_path) as server:
        (task,) = server.client("logs").describe_export_tasks(taskId=task_id)["exportTasks"]
        assert task["status"]["code"] == "COMPLETED"
