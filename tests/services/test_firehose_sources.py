"""Firehose beyond DirectPut, with boto3 against real servers: a stream that reads a
Kinesis data stream from its creation on (across a reshard, through a Lambda
transformation that sees ``kinesisRecordMetadata``), delivery retried until a missing
bucket exists, acknowledged records surviving a ``kill -9``, and strict mode: Firehose's
own operations authorized as ``firehose:*`` actions and delivery made only as far as
the stream's role may ``s3:PutObject``."""

from __future__ import annotations

import base64
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.firehose_helpers import (
    ROLE,
    bucket,
    keys,
    objects,
    s3_stream,
    start,
    wait_status,
)
from tests.services.lambda_helpers import python_function
from tests.services.names import unique

METADATA = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        doc = {"data": base64.b64decode(r["data"]).decode(),
               "meta": r["kinesisRecordMetadata"], "source": event["sourceKinesisStreamArn"]}
        data = base64.b64encode((json.dumps(doc) + "\\n").encode()).decode()
        out.append({"recordId": r["recordId"], "result": "Ok", "data": data})
    return {"records": out}
"""


@pytest.fixture(scope="module")
def server():
    with start() as srv:
        yield srv


def test_a_kinesis_source_is_read_from_creation_across_a_reshard(server):
    fh, s3, kin = server.client("firehose"), server.client("s3"), server.client("kinesis")
    lam = server.client("lambda")
    name_b, arn_b = bucket(s3)
    stream = unique("src")
    kin.create_stream(StreamName=stream, ShardCount=1)
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    source = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    kin.put_record(StreamARN=source, Data=b"before", PartitionKey="k")
    time.sleep(0.05)
    function = python_function(lam, unique("meta"), METADATA)["FunctionArn"]
    name = unique("fromk")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": source, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": arn_b,
            "BufferingHints": {"IntervalInSeconds": 60},
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [
                            {"ParameterName": "LambdaArn", "ParameterValue": function},
                            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "20"},
                        ],
                    }
                ],
            },
        },
    )
    wait_status(fh, name)
    for i in range(3):
        kin.put_record(StreamARN=source, Data=f"r{i}".encode(), PartitionKey="k")
    first = objects(s3, name_b, 1)
    kin.update_shard_count(StreamARN=source, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    deadline = time.monotonic() + 15
    while (
        kin.describe_stream_summary(StreamARN=source)["StreamDescriptionSummary"]["StreamStatus"]
        != "ACTIVE"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for i in range(3, 6):
        kin.put_record(StreamARN=source, Data=f"r{i}".encode(), PartitionKey="k")
    deadline = time.monotonic() + 20
    lines: list[dict] = []
    while len(lines) < 6:
        assert time.monotonic() < deadline, lines
        found = objects(s3, name_b, 1)
        lines = [json.loads(x) for body in found.values() for x in body.decode().splitlines()]
        time.sleep(0.2)
    got = sorted(lines, key=lambda d: d["data"])
    assert [d["data"] for d in got] == [f"r{i}" for i in range(6)]  # not "before"
    assert all(d["source"] == source for d in got)
    meta = got[0]["meta"]
    assert meta["partitionKey"] == "k" and meta["shardId"] == "shardId-000000000000"
    assert meta["sequenceNumber"] and meta["approximateArrivalTimestamp"] > 10**12
    assert len({d["meta"]["shardId"] for d in got}) >= 2  # the reshard's children too
    assert first


def test_delivery_waits_for_a_missing_bucket_and_logs_why(server):
    fh, s3, logs = server.client("firehose"), server.client("s3"), server.client("logs")
    group = f"/aws/kinesisfirehose/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="DestinationDelivery")
    missing = unique("later")
    name = s3_stream(
        fh,
        f"arn:aws:s3:::{missing}",
        BufferingHints={"IntervalInSeconds": 60},
        CloudWatchLoggingOptions={
            "Enabled": True,
            "LogGroupName": group,
            "LogStreamName": "DestinationDelivery",
        },
    )
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"patience"})
    time.sleep(2.0)  # due after 1.2 s; S3.NoSuchBucket, retried with back-off
    events = logs.get_log_events(logGroupName=group, logStreamName="DestinationDelivery")
    logged = [json.loads(e["message"]) for e in events["events"]]
    assert logged and logged[0]["errorCode"] == "S3.NoSuchBucket"
    assert logged[0]["destination"] == f"arn:aws:s3:::{missing}"
    assert logged[0]["deliveryStreamARN"].endswith(f"/{name}")
    s3.create_bucket(Bucket=missing)
    ((_, data),) = objects(s3, missing, 1, timeout=20).items()
    assert data == b"patience"


def test_acknowledged_records_survive_kill_9(tmp_path):
    data_dir = tmp_path / "data"
    srv = start(data_dir=data_dir)
    try:
        fh, s3 = srv.client("firehose"), srv.client("s3")
        name_b, arn_b = bucket(s3)
        name = s3_stream(fh, arn_b, BufferingHints={"IntervalInSeconds": 150})  # 3 s here
        fh.put_record_batch(
            DeliveryStreamName=name, Records=[{"Data": f"{i};".encode()} for i in range(50)]
        )
        assert keys(s3, name_b) == []
    finally:
        srv.kill()
    srv = start(data_dir=data_dir)
    try:
        fh, s3 = srv.client("firehose"), srv.client("s3")
        assert wait_status(fh, name)["VersionId"] == "1"
        ((_, data),) = objects(s3, name_b, 1, timeout=20).items()
        assert data == b"".join(f"{i};".encode() for i in range(50))
    finally:
        srv.stop()


def test_strict_mode_authorizes_calls_and_the_role(tmp_path):
    srv = start(auth="strict", data_dir=tmp_path / "strict")
    try:
        iam, fh, s3 = srv.client("iam"), srv.client("firehose"), srv.client("s3")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "firehose.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="fh-writer", AssumeRolePolicyDocument=json.dumps(trust))
        role_arn = role["Role"]["Arn"]
        name_b, arn_b = bucket(s3)

        def allow(action: str) -> None:
            doc = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": f"{arn_b}/*"}],
            }
            iam.put_role_policy(
                RoleName="fh-writer", PolicyName="s3", PolicyDocument=json.dumps(doc)
            )

        allow("s3:GetObject")
        name = unique("strict")
        fh.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": role_arn,
                "BucketARN": arn_b,
                "BufferingHints": {"IntervalInSeconds": 60},
            },
        )
        wait_status(fh, name)
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"guarded"})
        time.sleep(2.0)
        assert keys(s3, name_b) == []  # S3.AccessDenied: kept and retried
        allow("s3:PutObject")
        ((_, data),) = objects(s3, name_b, 1, timeout=20).items()
        assert data == b"guarded"

        user = unique("reader")
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "firehose:DescribeDeliveryStream",
                    "Resource": f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}",
                }
            ],
        }
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        reader = srv.client(
            "firehose",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        deadline = time.monotonic() + 10
        while True:  # a new key may take a moment to be known
            try:
                reader.describe_delivery_stream(DeliveryStreamName=name)
                break
            except ClientError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with pytest.raises(ClientError) as exc:
            reader.put_record(DeliveryStreamName=name, Record={"Data": base64.b64encode(b"x")})
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        srv.stop()
