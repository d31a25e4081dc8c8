"""Firehose delivering for real, against a real server with boto3: DirectPut records in
S3 objects named and laid out as AWS names them (default and custom prefixes with
timestamp and random-string expressions, a custom time zone), GZIP and ZIP objects,
size- and interval-triggered flushes, a Lambda transformation (Ok, Dropped,
ProcessingFailed to the error prefix, source record backup, dynamic partitioning by the
keys it returns), an HTTP endpoint receiving Firehose's request format (and its
failures backed up to S3), and the AWS/Firehose metrics."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import threading
import time
import zipfile
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

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

STAMP = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRANSFORM = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        doc = json.loads(base64.b64decode(r["data"]))
        if doc["action"] == "crash":
            raise RuntimeError("boom")
        if doc["action"] == "drop":
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        elif doc["action"] == "fail":
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed",
                        "data": r["data"]})
        else:
            doc.update(stream=event["deliveryStreamArn"], region=event["region"],
                       millis=r["approximateArrivalTimestamp"] > 10**12)
            data = base64.b64encode((json.dumps(doc) + "\\n").encode()).decode()
            out.append({"recordId": r["recordId"], "result": "Ok", "data": data,
                        "metadata": {"partitionKeys": {"kind": doc.get("kind", "none")}}})
    return {"records": out}
"""


@pytest.fixture(scope="module")
def server():
    with start() as srv:
        yield srv


@pytest.fixture(scope="module")
def fh(server):
    return server.client("firehose")


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def test_direct_put_records_land_in_s3_named_as_aws_names_them(fh, s3, server):
    name_b, arn_b = bucket(s3)
    name = s3_stream(fh, arn_b, BufferingHints={"IntervalInSeconds": 60})
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"first|"})
    out = fh.put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": b"second|"}, {"Data": b"third"}]
    )
    assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 2
    assert all(r["RecordId"] for r in out["RequestResponses"])
    found = objects(s3, name_b, 1)
    ((key, data),) = found.items()
    now = datetime.now(UTC)
    assert re.fullmatch(rf"\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/{name}-1-{STAMP}-{UUID}", key), key
    assert key.startswith(now.strftime("%Y/%m/%d/"))
    assert data == b"first|second|third"  # concatenated, no delimiter added

    cw = server.client("cloudwatch")
    deadline = time.monotonic() + 10
    while True:
        stats = cw.get_metric_statistics(
            Namespace="AWS/Firehose",
            MetricName="IncomingRecords",
            Dimensions=[{"Name": "DeliveryStreamName", "Value": name}],
            StartTime=datetime.fromtimestamp(time.time() - 600, UTC),
            EndTime=datetime.fromtimestamp(time.time() + 60, UTC),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        if sum(d["Sum"] for d in stats) == 3:
            break
        assert time.monotonic() < deadline, stats
        time.sleep(0.3)


def test_compression_extensions_prefixes_and_time_zone(fh, s3):
    name_b, arn_b = bucket(s3)
    minute = {"IntervalInSeconds": 60}
    gz = s3_stream(fh, arn_b, Prefix="gz/", CompressionFormat="GZIP", BufferingHints=minute)
    zp = s3_stream(fh, arn_b, Prefix="zip/", CompressionFormat="ZIP", BufferingHints=minute)
    ext = s3_stream(
        fh,
        arn_b,
        BufferingHints=minute,
        Prefix="ext/",
        CompressionFormat="GZIP",
        FileExtension=".json.gz",
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [{"Type": "AppendDelimiterToRecord"}],
        },
    )
    custom = s3_stream(
        fh,
        arn_b,
        Prefix="logs/year=!{timestamp:yyyy}/h=!{timestamp:HH}/!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
        CustomTimeZone="Asia/Tokyo",
        BufferingHints=minute,
    )
    for name in (gz, zp, ext, custom):
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"a"}, {"Data": b"b"}])

    ((key, data),) = objects(s3, name_b, 1, "gz/").items()
    assert key.endswith(".gz") and gzip.decompress(data) == b"ab"
    ((key, data),) = objects(s3, name_b, 1, "zip/").items()
    assert key.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (entry,) = archive.namelist()
        assert archive.read(entry) == b"ab" and key.endswith(entry + ".zip")
    ((key, data),) = objects(s3, name_b, 1, "ext/").items()
    assert key.endswith(".json.gz") and gzip.decompress(data) == b"a\nb\n"
    ((key, data),) = objects(s3, name_b, 1, "logs/").items()
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    match = re.fullmatch(rf"logs/year=(\d{{4}})/h=(\d\d)/(\w{{11}})/{custom}-1-{STAMP}-{UUID}", key)
    assert match is not None, key
    assert match.group(1) == str(tokyo.year) and int(match.group(2)) in (
        tokyo.hour,
        (tokyo.hour - 1) % 24,
    )
    assert data == b"ab"


def test_size_and_interval_trigger_flushes(fh, s3):
    name_b, arn_b = bucket(s3)
    sized = s3_stream(
        fh, arn_b, Prefix="size/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900}
    )
    chunk = b"x" * 400_000
    started = time.monotonic()
    for _ in range(3):  # 1.2 MB: over 1 MiB, so a flush at once, not after 900 (18) s
        fh.put_record(DeliveryStreamName=sized, Record={"Data": chunk})
    ((key, data),) = objects(s3, name_b, 1, "size/", timeout=10).items()
    assert time.monotonic() - started < 10
    assert data == chunk * 2  # the buffer's first MiB; the third record waits

    timed = s3_stream(
        fh, arn_b, Prefix="time/", BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 100}
    )
    started = time.monotonic()
    fh.put_record(DeliveryStreamName=timed, Record={"Data": b"small"})
    time.sleep(1.0)
    assert keys(s3, name_b, "time/") == []  # 100 s scaled is 2 s: not yet
    ((_, data),) = objects(s3, name_b, 1, "time/").items()
    assert data == b"small" and time.monotonic() - started >= 1.9


def test_lambda_transformation_backup_and_dynamic_partitioning(fh, s3, server):
    lam = server.client("lambda")
    name_b, arn_b = bucket(s3)
    function = python_function(lam, unique("fhx"), TRANSFORM)["FunctionArn"]
    processing = {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Lambda",
                "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": function},
                    {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "30"},
                ],
            }
        ],
    }
    name = s3_stream(
        fh,
        arn_b,
        Prefix="ok/",
        BufferingHints={"IntervalInSeconds": 60},
        ProcessingConfiguration=processing,
        S3BackupMode="Enabled",
        S3BackupConfiguration={
            "RoleARN": ROLE,
            "BucketARN": arn_b,
            "Prefix": "raw/",
            "BufferingHints": {"IntervalInSeconds": 60},
        },
    )
    docs = [{"n": 1, "action": "ok"}, {"n": 2, "action": "drop"}, {"n": 3, "action": "fail"}]
    raw = [json.dumps(d).encode() for d in docs]
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in raw])

    ((_, data),) = objects(s3, name_b, 1, "ok/20").items()
    (line,) = data.decode().splitlines()
    got = json.loads(line)
    assert got["n"] == 1 and got["millis"] is True and got["region"] == "us-east-1"
    assert got["stream"].endswith(f":deliverystream/{name}")
    # no ErrorOutputPrefix: errors go to <Prefix><error-output-type>/yyyy/MM/dd/HH/
    ((key, data),) = objects(s3, name_b, 1, "ok/processing-failed/").items()
    assert re.fullmatch(
        rf"ok/processing-failed/\d{{4}}/\d\d/\d\d/\d\d/{name}-1-{STAMP}-{UUID}", key
    )
    (failure,) = [json.loads(x) for x in data.decode().splitlines()]
    assert failure["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert base64.b64decode(failure["rawData"]) == raw[2]
    assert failure["lambdaArn"] == function and failure["attemptsMade"] == 1
    assert failure["arrivalTimestamp"] <= failure["attemptEndingTimestamp"]
    ((_, data),) = objects(s3, name_b, 1, "raw/").items()
    assert data == b"".join(raw)  # every source record, untransformed

    retried = {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Lambda",
                "Parameters": [
                    *processing["Processors"][0]["Parameters"],
                    {"ParameterName": "NumberOfRetries", "ParameterValue": "1"},
                ],
            }
        ],
    }
    crashing = s3_stream(
        fh,
        arn_b,
        Prefix="crash/",
        ProcessingConfiguration=retried,
        BufferingHints={"IntervalInSeconds": 60},
    )
    fh.put_record(DeliveryStreamName=crashing, Record={"Data": b'{"action": "crash"}'})
    ((_, data),) = objects(s3, name_b, 1, "crash/processing-failed/").items()
    (failure,) = [json.loads(x) for x in data.decode().splitlines()]
    assert failure["errorCode"] == "Lambda.FunctionError" and "boom" in failure["errorMessage"]
    assert failure["attemptsMade"] == 2  # the first invocation and one retry

    parted = s3_stream(
        fh,
        arn_b,
        Prefix="by/kind=!{partitionKeyFromLambda:kind}/",
        ErrorOutputPrefix="perr/!{firehose:error-output-type}/",
        ProcessingConfiguration=processing,
        DynamicPartitioningConfiguration={"Enabled": True},
        BufferingHints={"IntervalInSeconds": 60},
    )
    desc = fh.describe_delivery_stream(DeliveryStreamName=parted)["DeliveryStreamDescription"]
    hints = desc["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"]
    assert hints["SizeInMBs"] == 64  # dynamic partitioning's minimum, the default with it
    records = [{"n": i, "action": "ok", "kind": "ab"[i % 2]} for i in range(4)]
    fh.put_record_batch(
        DeliveryStreamName=parted, Records=[{"Data": json.dumps(r).encode()} for r in records]
    )
    found = objects(s3, name_b, 2, "by/")
    by_kind = {k.split("/")[1]: v for k, v in found.items()}
    assert sorted(by_kind) == ["kind=a", "kind=b"]
    assert [json.loads(x)["n"] for x in by_kind["kind=a"].decode().splitlines()] == [0, 2]
    assert all(re.fullmatch(rf"by/kind=[ab]/{parted}-1-{STAMP}-{UUID}", k) for k in found)


class _Endpoint(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append((headers, body))
        answer = {"requestId": json.loads(body)["requestId"], "timestamp": 1}
        if self.status != 200:
            answer["errorMessage"] = "not today"
        out = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def endpoint():
    class Handler(_Endpoint):
        received: list[tuple[dict, bytes]] = []

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler, f"http://127.0.0.1:{httpd.server_address[1]}/ingest?x=1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _http_stream(fh, url: str, arn_b: str, **extra) -> str:
    name = unique("http")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": url, "Name": "local", "AccessKey": "secret-key"},
            "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1},
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": arn_b},
            **extra,
        },
    )
    return name


def test_http_endpoint_gets_firehose_requests(fh, s3, endpoint):
    handler, url = endpoint
    name_b, arn_b = bucket(s3)
    name = _http_stream(
        fh,
        url,
        arn_b,
        RequestConfiguration={
            "ContentEncoding": "GZIP",
            "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "test"}],
        },
    )
    desc = wait_status(fh, name)["Destinations"][0]["HttpEndpointDestinationDescription"]
    assert desc["EndpointConfiguration"] == {"Url": url, "Name": "local"}  # no access key
    assert desc["S3BackupMode"] == "FailedDataOnly"
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"one"}, {"Data": b"two"}])
    deadline = time.monotonic() + 10
    while not handler.received:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    headers, body = handler.received[0]
    doc = json.loads(body)
    assert [base64.b64decode(r["data"]) for r in doc["records"]] == [b"one", b"two"]
    assert headers["x-amz-firehose-request-id"] == doc["requestId"]
    assert headers["x-amz-firehose-protocol-version"] == "1.0"
    assert headers["x-amz-firehose-access-key"] == "secret-key"
    assert headers["x-amz-firehose-source-arn"].endswith(f":deliverystream/{name}")
    assert json.loads(headers["x-amz-firehose-common-attributes"]) == {
        "commonAttributes": {"env": "test"}
    }
    assert headers["content-type"] == "application/json"

    handler.status = 500  # refused: retried for DurationInSeconds, then backed up to S3
    failing = _http_stream(fh, url, arn_b, RetryOptions={"DurationInSeconds": 1})
    wait_status(fh, failing)
    fh.put_record(DeliveryStreamName=failing, Record={"Data": b"lost?"})
    ((key, data),) = objects(s3, name_b, 1, "http-endpoint-failed/").items()
    (failure,) = [json.loads(x) for x in data.decode().splitlines()]
    assert failure["errorCode"] == "HttpEndpoint.DestinationException"
    assert "not today" in failure["errorMessage"] and failure["attemptsMade"] >= 2
    assert base64.b64decode(failure["rawData"]) == b"lost?"
    ids = {json.loads(b)["requestId"] for _, b in handler.received[1:]}
    assert len(ids) == 1  # the same request id on every retry
