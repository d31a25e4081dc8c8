"""Event source mappings from Kinesis streams: a real Python function receives AWS's
Kinesis event shape, in order per shard, in batches no larger than BatchSize, and only
the records a FilterCriteria pattern matches."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.services.lambda_helpers import python_function, wait_for
from tests.services.names import unique

RECORDER = """
import base64, json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"record": record, "size": len(event["Records"])}) + "\\n")
    return {}
"""


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def lam(aws_client):
    return aws_client("lambda")


@pytest.fixture
def kin(aws_client):
    return aws_client("kinesis")


def _setup(lam, kin, tmp_path: Path, shards: int) -> tuple[str, str, Path]:
    name = unique("kfn")
    out = tmp_path / f"{name}.jsonl"
    python_function(lam, name, RECORDER, Timeout=5, Environment={"Variables": {"OUT": str(out)}})
    stream = unique("kes")
    kin.create_stream(StreamName=stream, ShardCount=shards)
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    arn = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    return name, arn, out


def test_function_receives_kinesis_records_in_batches(lam, kin, tmp_path):
    name, arn, out = _setup(lam, kin, tmp_path, shards=2)
    sent = {}
    for i in range(7):
        key = f"user-{i % 3}"
        res = kin.put_record(StreamARN=arn, Data=f"event {i}".encode(), PartitionKey=key)
        sent[res["SequenceNumber"]] = (key, res["ShardId"], f"event {i}")
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    assert mapping["BatchSize"] == 2 and mapping["StartingPosition"] == "TRIM_HORIZON"
    lines = wait_for(lambda: len(_lines(out)) >= 7 and _lines(out), timeout=30)
    assert len(lines) == 7 and all(line["size"] <= 2 for line in lines)
    record = lines[0]["record"]
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::")
    kinesis = record["kinesis"]
    assert kinesis["kinesisSchemaVersion"] == "1.0"
    key, shard, data = sent[kinesis["sequenceNumber"]]
    assert kinesis["partitionKey"] == key
    assert base64.b64decode(kinesis["data"]).decode() == data
    assert record["eventID"] == f"{shard}:{kinesis['sequenceNumber']}"
    assert isinstance(kinesis["approximateArrivalTimestamp"], float)
    by_key: dict[str, list[str]] = {}
    for line in lines:
        k = line["record"]["kinesis"]
        by_key.setdefault(k["partitionKey"], []).append(base64.b64decode(k["data"]).decode())
    for key, datas in by_key.items():
        assert datas == [d for _, (k, _, d) in sorted(sent.items()) if k == key]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_filter_criteria_on_kinesis_data(lam, kin, tmp_path):
    name, arn, out = _setup(lam, kin, tmp_path, shards=1)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]},
    )
    for i, kind in enumerate(["keep", "drop", "keep", "drop"]):
        body = json.dumps({"kind": kind, "n": i}).encode()
        kin.put_record(StreamARN=arn, Data=body, PartitionKey="p")
    kin.put_record(StreamARN=arn, Data=b"not json", PartitionKey="p")
    kin.put_record(
        StreamARN=arn, Data=json.dumps({"kind": "keep", "n": 9}).encode(), PartitionKey="p"
    )
    lines = wait_for(lambda: len(_lines(out)) >= 3 and _lines(out), timeout=30)
    seen = [json.loads(base64.b64decode(line["record"]["kinesis"]["data"])) for line in lines]
    assert [d["n"] for d in seen] == [0, 2, 9]


def test_kinesis_mapping_refusals(lam, kin, tmp_path):
    from botocore.exceptions import ClientError

    name, arn, _ = _setup(lam, kin, tmp_path, shards=1)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(
            EventSourceArn=f"{arn}/consumer/c:1", FunctionName=name, StartingPosition="LATEST"
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_shard_positions_survive_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer
    from tests.services.lambda_helpers import LAMBDA_ENV

    def serve() -> CloudletServer:
        return CloudletServer.start(data_dir=tmp_path / "data", env=LAMBDA_ENV)

    server = serve()
    try:
        lam, kin = server.client("lambda"), server.client("kinesis")
        name, arn, out = _setup(lam, kin, tmp_path, shards=2)
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=1
        )
        for i in range(4):
            kin.put_record(StreamARN=arn, Data=b"%d" % i, PartitionKey=f"k{i}")
        wait_for(lambda: len(_lines(out)) >= 4, timeout=30)
    finally:
        server.stop()
    server = serve()
    try:
        kin = server.client("kinesis")
        kin.put_record(StreamARN=arn, Data=b"4", PartitionKey="k4")
        lines = wait_for(lambda: len(_lines(out)) >= 5 and _lines(out), timeout=30)
        datas = sorted(base64.b64decode(line["record"]["kinesis"]["data"]) for line in lines)
        assert datas == [b"0", b"1", b"2", b"3", b"4"]  # nothing delivered twice
    finally:
        server.stop()
