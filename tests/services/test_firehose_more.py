"""Firehose's Snappy and Hadoop-Snappy objects, dynamic partitioning by jq queries (with
de-aggregation, delimiters, a Lambda function's keys and AWS's failures), CloudWatch
Logs decompression and message extraction fed by a real subscription filter, Splunk
destinations delivering to a local HTTP Event Collector (acknowledgements, refusals,
backups, Lambda), week and zone letters in timestamp prefixes, and all of it across a
restart: boto3 against a real server."""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import cramjam
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.firehose_helpers import ROLE, bucket, objects, s3_stream, start, wait_status
from tests.services.lambda_helpers import python_function
from tests.services.names import unique

MINUTE = {"IntervalInSeconds": 60}
TRANSFORM = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        doc = json.loads(base64.b64decode(r["data"]))
        doc["cid"] = doc["customer"].upper()
        data = base64.b64encode((json.dumps(doc) + "\\n").encode()).decode()
        out.append({"recordId": r["recordId"], "result": "Ok", "data": data,
                    "metadata": {"partitionKeys": {"kind": doc.get("kind", "none")}}})
    return {"records": out}
"""


def processor(kind: str, **params: str) -> dict:
    return {
        "Type": kind,
        "Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in params.items()],
    }


def processing(*processors: dict) -> dict:
    return {"Enabled": True, "Processors": list(processors)}


def jq(query: str) -> dict:
    return processor(
        "MetadataExtraction", MetadataExtractionQuery=query, JsonParsingEngine="JQ-1.6"
    )


def error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def unhadoop(data: bytes) -> bytes:
    """Hadoop's block format read back: per block its length, then length-prefixed chunks."""
    out, at = b"", 0
    while at < len(data):
        (size,) = struct.unpack_from(">I", data, at)
        at += 4
        block = b""
        while len(block) < size:
            (chunk,) = struct.unpack_from(">I", data, at)
            block += bytes(cramjam.snappy.decompress_raw(data[at + 4 : at + 4 + chunk]))
            at += 4 + chunk
        out += block
    return out


def lines(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.decode().splitlines()]


# -- a local HTTP Event Collector ------------------------------------------------------


class _Hec(BaseHTTPRequestHandler):
    """HEC by token: ``good`` acknowledges on the second poll, ``mute`` never does,
    ``busy`` answers 503 while ``busy`` is set, anything else is an invalid token."""

    received: list[tuple[str, dict, bytes]] = []
    tried: list[str] = []
    polls: dict[int, int] = {}
    busy = True
    next_ack = 0

    def _answer(self, status: int, doc: dict) -> None:
        out = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        token = headers.get("authorization", "").removeprefix("Splunk ")
        cls = type(self)
        if not headers.get("x-splunk-request-channel"):
            return self._answer(400, {"text": "Data channel is missing", "code": 10})
        if self.path.endswith("/ack"):
            acks = json.loads(body)["acks"]
            for ack in acks:
                cls.polls[ack] = cls.polls.get(ack, 0) + 1
            done = {str(a): token == "good" and cls.polls[a] > 1 for a in acks}
            return self._answer(200, {"acks": done})
        cls.tried.append(token)
        if token == "busy" and cls.busy:
            return self._answer(503, {"text": "Server is busy", "code": 9})
        if token not in ("good", "mute", "busy"):
            return self._answer(403, {"text": "Invalid token", "code": 4})
        cls.received.append((self.path, headers, body))
        cls.next_ack += 1
        return self._answer(200, {"text": "Success", "code": 0, "ackId": cls.next_ack})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hec():
    class Handler(_Hec):
        received: list[tuple[str, dict, bytes]] = []
        tried: list[str] = []
        polls: dict[int, int] = {}

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def splunk_stream(fh: Any, url: str, arn_b: str, token: str, **extra: Any) -> str:
    name = unique("splunk")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        SplunkDestinationConfiguration={
            "HECEndpoint": url,
            "HECEndpointType": "Raw",
            "HECToken": token,
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": arn_b, "Prefix": f"{name}/"},
            **extra,
        },
    )
    wait_status(fh, name)
    return name


def received(handler: Any, token: str, count: int, timeout: float = 15) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        got = [r for r in handler.received if r[1]["authorization"] == f"Splunk {token}"]
        if len(got) >= count:
            return got
        assert time.monotonic() < deadline, f"{len(got)} of {count} HEC requests"
        time.sleep(0.05)


# -- the tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with start() as srv:
        yield srv


@pytest.fixture(scope="module")
def clients(server):
    out = {n: server.client(n) for n in ("firehose", "s3", "logs", "lambda", "cloudwatch")}
    out["raw"] = server.client("firehose", config=Config(parameter_validation=False))
    return out


@pytest.fixture(scope="module")
def function(clients):
    name = unique("fhjq")
    return python_function(clients["lambda"], name, TRANSFORM)["FunctionArn"]


def test_snappy_and_hadoop_snappy_objects(clients):
    fh, s3 = clients["firehose"], clients["s3"]
    name_b, arn_b = bucket(s3)
    framed = s3_stream(fh, arn_b, Prefix="s/", CompressionFormat="Snappy", BufferingHints=MINUTE)
    hadoop = s3_stream(
        fh, arn_b, Prefix="h/", CompressionFormat="HADOOP_SNAPPY", BufferingHints=MINUTE
    )
    records = [bytes([65 + i]) * 200_000 + b"\n" for i in range(3)]  # two Hadoop blocks
    for name in (framed, hadoop):
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    ((key, data),) = objects(s3, name_b, 1, "s/").items()
    assert key.endswith(".snappy") and data.startswith(b"\xff\x06\x00\x00sNaPpY")
    assert bytes(cramjam.snappy.decompress(data)) == b"".join(records)
    ((key, data),) = objects(s3, name_b, 1, "h/").items()
    assert key.endswith(".hsnappy") and len(data) < 100_000
    assert unhadoop(data) == b"".join(records)


def test_jq_partitions_deaggregated_records_and_fails_what_it_cannot(clients):
    fh, s3 = clients["firehose"], clients["s3"]
    name_b, arn_b = bucket(s3)
    name = s3_stream(
        fh,
        arn_b,
        Prefix="c=!{partitionKeyFromQuery:customer}/y=!{partitionKeyFromQuery:year}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        CompressionFormat="Snappy",
        BufferingHints=MINUTE,
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration=processing(
            jq('{customer: .customer, year: .ts | strftime("%Y")}'),
            processor("RecordDeAggregation", SubRecordType="JSON"),
            processor("AppendDelimiterToRecord"),
        ),
    )
    aggregated = b'{"customer": "a", "ts": 1565382027, "n": 1}{"customer": "b", "ts": 0, "n": 2}'
    fh.put_record_batch(
        DeliveryStreamName=name,
        Records=[
            {"Data": aggregated},
            {"Data": b'{"customer": "a", "ts": 1565382028, "n": 3}'},
            {"Data": b'{"ts": 1, "n": 4}'},  # no customer key
        ],
    )
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"not json"})
    found = objects(s3, name_b, 2, "c=")
    by_prefix = {k.rsplit("/", 1)[0]: cramjam.snappy.decompress(v) for k, v in found.items()}
    assert sorted(by_prefix) == ["c=a/y=2019", "c=b/y=1970"]
    assert [d["n"] for d in lines(bytes(by_prefix["c=a/y=2019"]))] == [1, 3]
    assert all(k.endswith(".snappy") for k in found)
    deadline = time.monotonic() + 10
    while True:  # the two failures are in one object or two
        failures = [
            doc
            for data in objects(s3, name_b, 1, "err/processing-failed/").values()
            for doc in lines(bytes(cramjam.snappy.decompress(data)))
        ]
        if len(failures) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {base64.b64decode(f["rawData"]): f["errorCode"] for f in failures} == {
        b'{"ts": 1, "n": 4}': "DynamicPartitioning.MetadataExtractionFailed",
        b"not json": "DeAggregation.Failed",  # JSON de-aggregation reads it first
    }


def test_jq_reads_what_the_lambda_function_returned(clients, function):
    fh, s3 = clients["firehose"], clients["s3"]
    name_b, arn_b = bucket(s3)
    name = s3_stream(
        fh,
        arn_b,
        Prefix="k=!{partitionKeyFromLambda:kind}/c=!{partitionKeyFromQuery:cid}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        BufferingHints=MINUTE,
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration=processing(
            processor("Lambda", LambdaArn=function, BufferIntervalInSeconds="1"),
            jq("{cid: .cid}"),
        ),
    )
    docs = [{"customer": "x", "kind": "k1"}, {"customer": "y"}, {"customer": "x", "kind": "k1"}]
    fh.put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": json.dumps(d).encode()} for d in docs]
    )
    found = objects(s3, name_b, 2, "k=", timeout=30)
    assert sorted(k.rsplit("/", 1)[0] for k in found) == ["k=k1/c=X", "k=none/c=Y"]


def test_partitioning_and_processor_rules(clients, hec):
    fh, s3 = clients["firehose"], clients["s3"]
    _, arn_b = bucket(s3)
    base = {"RoleARN": ROLE, "BucketARN": arn_b, "BufferingHints": MINUTE}
    parted = {
        **base,
        "Prefix": "!{partitionKeyFromQuery:a}/",
        "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
        "DynamicPartitioningConfiguration": {"Enabled": True},
    }
    bad = [
        {**base, "ProcessingConfiguration": processing(jq("{a: .a}"))},  # no partitioning
        {**parted, "ProcessingConfiguration": processing(jq("{a: "))},  # not jq
        {
            **parted,
            "ProcessingConfiguration": processing(
                processor("MetadataExtraction", MetadataExtractionQuery="{a:.a}")
            ),
        },  # no JsonParsingEngine
        {**parted, "ProcessingConfiguration": processing(processor("AppendDelimiterToRecord"))},
        {**parted, "Prefix": "x/", "ProcessingConfiguration": processing(jq("{a: .a}"))},
        {
            **parted,
            "ErrorOutputPrefix": "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:a}/",
            "ProcessingConfiguration": processing(jq("{a: .a}")),
        },
        {**base, "ProcessingConfiguration": processing(processor("CloudWatchLogProcessing"))},
        {
            **base,
            "ProcessingConfiguration": processing(
                processor("Decompression"),
                processor("CloudWatchLogProcessing", DataMessageExtraction="yes"),
            ),
        },
        {**base, "Prefix": "!{timestamp:cc}/", "ErrorOutputPrefix": "e/"},
        {**base, "Prefix": "!{timestamp:V}/", "ErrorOutputPrefix": "e/"},
        {**base, "Prefix": "!{timestamp:yyyy#}/", "ErrorOutputPrefix": "e/"},
    ]
    for config in bad:
        with pytest.raises(ClientError) as exc:
            fh.create_delivery_stream(
                DeliveryStreamName=unique("bad"), ExtendedS3DestinationConfiguration=config
            )
        assert error(exc) == ("InvalidArgumentException", 400), config
    with pytest.raises(ClientError) as exc:  # full zone names need locale data
        fh.create_delivery_stream(
            DeliveryStreamName=unique("bad"),
            ExtendedS3DestinationConfiguration={
                **base,
                "Prefix": "!{timestamp:zzzz}/",
                "ErrorOutputPrefix": "e/",
            },
        )
    assert error(exc) == ("NotImplemented", 501)
    splunk = {
        "HECEndpoint": hec[1],
        "HECEndpointType": "Raw",
        "HECToken": "good",
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": arn_b},
    }
    for config, expected in (
        ({**splunk, "HECEndpoint": "http://splunk.example.com:8088"}, "InvalidArgumentException"),
        ({**splunk, "HECToken": ""}, "InvalidArgumentException"),
        (
            {**splunk, "ProcessingConfiguration": processing(jq("{a:.a}"))},
            "InvalidArgumentException",
        ),
        ({**splunk, "HECAcknowledgmentTimeoutInSeconds": 100}, "ValidationException"),
        ({**splunk, "SecretsManagerConfiguration": {"Enabled": True}}, "NotImplemented"),
    ):
        with pytest.raises(ClientError) as exc:
            clients["raw"].create_delivery_stream(
                DeliveryStreamName=unique("bad"), SplunkDestinationConfiguration=config
            )
        assert error(exc)[0] == expected, config
    name = s3_stream(
        fh,
        arn_b,
        **{k: v for k, v in parted.items() if k not in base},
        ProcessingConfiguration=processing(jq("{a: .a}")),
        BufferingHints=MINUTE,
    )
    desc = wait_status(fh, name)
    with pytest.raises(ClientError) as exc:
        fh.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=desc["VersionId"],
            DestinationId=desc["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"ProcessingConfiguration": processing(jq(".a |"))},
        )
    assert error(exc) == ("InvalidArgumentException", 400)


def subscribe(clients: dict, group: str, *names: str) -> None:
    """A log group (made if need be) subscribed to delivery streams ``names``."""
    fh, logs = clients["firehose"], clients["logs"]
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="app")
    for n, name in enumerate(names):
        desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        logs.put_subscription_filter(
            logGroupName=group,
            filterName=f"f{n}",
            filterPattern="",
            destinationArn=desc["DeliveryStreamARN"],
            roleArn=ROLE,
        )


def log(clients: dict, group: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    clients["logs"].put_log_events(logGroupName=group, logStreamName="app", logEvents=events)


UNZIP = processor("Decompression", CompressionFormat="GZIP")
EXTRACT = processor("CloudWatchLogProcessing", DataMessageExtraction="true")


def test_cloudwatch_logs_decompressed_and_messages_extracted(clients):
    fh, s3 = clients["firehose"], clients["s3"]
    name_b, arn_b = bucket(s3)
    cwl = {"BufferingHints": MINUTE}
    messages = s3_stream(
        fh, arn_b, Prefix="m/", ProcessingConfiguration=processing(UNZIP, EXTRACT), **cwl
    )
    envelopes = s3_stream(fh, arn_b, Prefix="e/", ProcessingConfiguration=processing(UNZIP), **cwl)
    with pytest.raises(ClientError) as exc:  # only CloudWatch Logs may write to them
        fh.put_record(DeliveryStreamName=messages, Record={"Data": b"x"})
    assert error(exc) == ("InvalidSourceException", 400)
    group = unique("/fh/logs")
    subscribe(clients, group, messages, envelopes)
    log(clients, group, "first", "second")
    ((_, data),) = objects(s3, name_b, 1, "m/").items()
    assert data == b"first\nsecond\n"  # the control message dropped, one message a line
    ((_, data),) = objects(s3, name_b, 1, "e/").items()
    decoder, text, at, docs = json.JSONDecoder(), data.decode(), 0, []
    while at < len(text):
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    assert [d["messageType"] for d in docs] == ["CONTROL_MESSAGE", "DATA_MESSAGE"]
    assert [e["message"] for e in docs[1]["logEvents"]] == ["first", "second"]


def test_splunk_raw_and_event_endpoints_with_acknowledgements(clients, hec, function):
    fh, s3 = clients["firehose"], clients["s3"]
    handler, url = hec
    name_b, arn_b = bucket(s3)
    quick = {"BufferingHints": {"IntervalInSeconds": 0}}
    raw = splunk_stream(fh, url, arn_b, "good", S3BackupMode="AllEvents", **quick)
    desc = fh.describe_delivery_stream(DeliveryStreamName=raw)["DeliveryStreamDescription"]
    shown = desc["Destinations"][0]["SplunkDestinationDescription"]
    assert shown["HECAcknowledgmentTimeoutInSeconds"] == 180
    assert shown["RetryOptions"] == {"DurationInSeconds": 3600}
    assert shown["S3BackupMode"] == "AllEvents" and shown["HECToken"] == "good"
    assert shown["S3DestinationDescription"]["BucketARN"] == arn_b
    fh.put_record_batch(DeliveryStreamName=raw, Records=[{"Data": b"one "}, {"Data": b"two"}])
    ((path, headers, body),) = received(handler, "good", 1)
    assert path == "/services/collector/raw" and body == b"one two"
    channel = headers["x-splunk-request-channel"]
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", channel)
    ((_, data),) = objects(s3, name_b, 1, f"{raw}/").items()
    assert data == b"one two"  # AllEvents: every record backed up
    update = {"DeliveryStreamName": raw, "DestinationId": desc["Destinations"][0]["DestinationId"]}
    with pytest.raises(ClientError) as exc:
        fh.update_destination(
            **update,
            CurrentDeliveryStreamVersionId="1",
            SplunkDestinationUpdate={"S3BackupMode": "FailedEventsOnly"},
        )
    assert error(exc) == ("InvalidArgumentException", 400)
    fh.update_destination(
        **update,
        CurrentDeliveryStreamVersionId="1",
        SplunkDestinationUpdate={"HECAcknowledgmentTimeoutInSeconds": 300},
    )
    desc = fh.describe_delivery_stream(DeliveryStreamName=raw)["DeliveryStreamDescription"]
    shown = desc["Destinations"][0]["SplunkDestinationDescription"]
    assert desc["VersionId"] == "2" and shown["HECAcknowledgmentTimeoutInSeconds"] == 300
    assert shown["HECEndpoint"] == url and shown["S3BackupMode"] == "AllEvents"

    events = splunk_stream(
        fh,
        url,
        arn_b,
        "good",
        HECEndpointType="Event",
        ProcessingConfiguration=processing(
            processor("Lambda", LambdaArn=function, BufferIntervalInSeconds="1")
        ),
        **quick,
    )
    docs = [{"event": {"customer": "q", "n": 1}}, {"event": {"customer": "r", "n": 2}}]
    fh.put_record_batch(
        DeliveryStreamName=events,
        Records=[{"Data": json.dumps({**d, "customer": "z"}).encode()} for d in docs],
    )
    got = received(handler, "good", 2, timeout=30)
    path, headers, body = got[-1]
    assert path == "/services/collector/event" and headers["content-type"] == "application/json"
    assert [json.loads(x)["event"]["n"] for x in body.decode().splitlines()] == [1, 2]
    assert all(json.loads(x)["cid"] == "Z" for x in body.decode().splitlines())

    group = unique("/fh/splunk")  # CloudWatch Logs through to Splunk, messages extracted
    from_logs = splunk_stream(
        fh, url, arn_b, "good", ProcessingConfiguration=processing(UNZIP, EXTRACT), **quick
    )
    subscribe(clients, group, from_logs)
    log(clients, group, "alpha", "beta")
    assert received(handler, "good", 3)[-1][2] == b"alpha\nbeta\n"

    cw = clients["cloudwatch"]
    deadline = time.monotonic() + 10
    while True:
        stats = cw.get_metric_statistics(
            Namespace="AWS/Firehose",
            MetricName="DeliveryToSplunk.Records",
            Dimensions=[{"Name": "DeliveryStreamName", "Value": raw}],
            StartTime=datetime.fromtimestamp(time.time() - 600, UTC),
            EndTime=datetime.fromtimestamp(time.time() + 60, UTC),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        if sum(d["Sum"] for d in stats) == 2:
            break
        assert time.monotonic() < deadline, stats
        time.sleep(0.3)


def test_splunk_refusals_and_ack_timeouts_are_backed_up(clients, hec):
    fh, s3 = clients["firehose"], clients["s3"]
    _, url = hec
    name_b, arn_b = bucket(s3)
    quick = {"BufferingHints": {"IntervalInSeconds": 0}}
    refused = splunk_stream(fh, url, arn_b, "wrong", RetryOptions={"DurationInSeconds": 1}, **quick)
    mute = splunk_stream(fh, url, arn_b, "mute", RetryOptions={"DurationInSeconds": 0}, **quick)
    gone = splunk_stream(
        fh, "http://127.0.0.1:9", arn_b, "good", RetryOptions={"DurationInSeconds": 0}, **quick
    )
    for name in (refused, mute, gone):
        fh.put_record(DeliveryStreamName=name, Record={"Data": f"for {name}".encode()})
    for name, code in (
        (refused, "Splunk.InvalidToken"),
        (gone, "Splunk.InvalidEndpoint"),
        (mute, "Splunk.AckTimeout"),  # 180 s scaled to 3.6 s
    ):
        ((key, data),) = objects(s3, name_b, 1, f"{name}/splunk-failed/").items()
        (failure,) = lines(data)
        assert failure["errorCode"] == code, failure
        assert base64.b64decode(failure["rawData"]) == f"for {name}".encode()
        assert failure["EventId"].endswith(".0") and failure["attemptsMade"] >= 1
        assert re.fullmatch(rf"{name}/splunk-failed/\d{{4}}/\d\d/\d\d/\d\d/{name}-1-.*", key)


def us_week(day: date) -> tuple[int, int]:
    """The US week-based year and week (weeks from Sunday; week 1 holds January 1st)."""

    def first(year: int) -> date:
        jan1 = date(year, 1, 1)
        return jan1 - timedelta(days=jan1.isoweekday() % 7)

    year = day.year + 1 if day >= first(day.year + 1) else day.year
    return year, (day - first(year)).days // 7 + 1


def test_week_and_zone_letters_in_timestamp_prefixes(clients):
    fh, s3 = clients["firehose"], clients["s3"]
    name_b, arn_b = bucket(s3)
    name = s3_stream(
        fh,
        arn_b,
        Prefix="!{timestamp:YYYY-'w'ww-e}/!{timestamp:VV}/!{timestamp:z|XXX|xx|O|ZZZZ}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        CustomTimeZone="Asia/Kolkata",
        BufferingHints=MINUTE,
    )
    before = datetime.now(ZoneInfo("Asia/Kolkata"))
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"when?"})
    ((key, _),) = objects(s3, name_b, 1).items()
    after = datetime.now(ZoneInfo("Asia/Kolkata"))
    expected = set()
    for moment in (before, after):
        year, week = us_week(moment.date())
        day = moment.isoweekday() % 7 + 1
        expected.add(f"{year}-w{week:02d}-{day}/Asia/Kolkata/IST|+05:30|+0530|GMT+5:30|GMT+05:30/")
    assert key[: key.rindex("/") + 1] in expected, key


def test_partitioned_and_splunk_streams_survive_a_restart(tmp_path, hec):
    handler, url = hec
    data_dir = tmp_path / "data"
    srv = start(data_dir=data_dir)
    try:
        fh, s3 = srv.client("firehose"), srv.client("s3")
        name_b, arn_b = bucket(s3)
        parted = s3_stream(
            fh,
            arn_b,
            Prefix="p=!{partitionKeyFromQuery:p}/",
            ErrorOutputPrefix="err/!{firehose:error-output-type}/",
            BufferingHints={"IntervalInSeconds": 300},  # 6 s here
            DynamicPartitioningConfiguration={"Enabled": True},
            ProcessingConfiguration=processing(jq("{p: .p}")),
        )
        fh.put_record_batch(
            DeliveryStreamName=parted, Records=[{"Data": b'{"p": "x"}'}, {"Data": b'{"p": "y"}'}]
        )
        busy = splunk_stream(fh, url, arn_b, "busy", BufferingHints={"IntervalInSeconds": 0})
        fh.put_record(DeliveryStreamName=busy, Record={"Data": b"kept"})
        deadline = time.monotonic() + 10
        while "busy" not in handler.tried:  # refused (503) and kept for a retry
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        srv.kill()
    handler.busy = False
    srv = start(data_dir=data_dir)
    try:
        fh, s3 = srv.client("firehose"), srv.client("s3")
        desc = wait_status(fh, busy)["Destinations"][0]["SplunkDestinationDescription"]
        assert desc["HECEndpoint"] == url and desc["HECToken"] == "busy"
        (request,) = received(handler, "busy", 1)
        assert request[2] == b"kept"
        found = objects(s3, name_b, 2, "p=", timeout=20)
        assert sorted(k.split("/")[0] for k in found) == ["p=x", "p=y"]
    finally:
        srv.stop()
