"""CloudWatch metric streams delivering through Firehose into S3, against a real server
with boto3: the JSON format's objects exactly (include filters with metric names,
additional percentiles, statistic sets), exclude filters, late arrivals streamed as
updates and the two-day limit, both OpenTelemetry formats decoded from the records'
protobuf, a missing Firehose stream retried until it exists, Stop/Start, and a restart
that neither repeats nor skips a minute. Datapoints are put with the previous minute's
timestamps, so the minute they belong to is complete at once."""

from __future__ import annotations

import json
import struct
import time
from typing import Any

import pytest

from cloudlet.testing import CloudletServer
from tests.services.firehose_helpers import ROLE
from tests.services.metric_stream_helpers import (
    ACCOUNT,
    ENV,
    hose_arn,
    lines,
    new_hose,
    objects,
    previous_minute,
)
from tests.services.names import unique


@pytest.fixture(scope="module")
def server():
    with CloudletServer.start(env=ENV) as srv:
        yield srv


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def fh(server):
    return server.client("firehose")


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def test_json_objects_of_an_include_filtered_stream(cw, fh, s3):
    name_b, hose = new_hose(fh, s3)
    ns, name = unique("App"), unique("json")
    arn = cw.put_metric_stream(
        Name=name,
        FirehoseArn=hose,
        RoleArn=ROLE,
        OutputFormat="json",
        IncludeFilters=[{"Namespace": ns, "MetricNames": ["Latency", "Sets"]}],
        StatisticsConfigurations=[
            {
                "IncludeMetrics": [{"Namespace": ns, "MetricName": "Latency"}],
                "AdditionalStatistics": ["p50", "p90", "p99.9"],
            }
        ],
    )["Arn"]
    assert arn == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{name}"
    ts, minute = previous_minute()

    def datum(metric: str, host: str | None = None, **fields: Any) -> dict:
        dims = [{"Name": "Host", "Value": host}] if host else []
        return {"MetricName": metric, "Timestamp": ts, "Dimensions": dims, **fields}

    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            datum("Latency", "a", Values=[float(v) for v in range(1, 11)], Unit="Milliseconds"),
            datum("Latency", "b", Value=7.0, Unit="Milliseconds"),
            datum(
                "Sets", StatisticValues={"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}
            ),
            datum("Ignored", Value=1.0),
        ],
    )
    cw.put_metric_data(Namespace=unique("Elsewhere"), MetricData=[datum("Latency", Value=1.0)])
    docs = lines(s3, name_b, lambda d: len(d) >= 3)

    def expected(metric: str, dims: dict, value: dict, unit: str) -> dict:
        return {
            "metric_stream_name": name,
            "account_id": ACCOUNT,
            "region": "us-east-1",
            "namespace": ns,
            "metric_name": metric,
            "dimensions": dims,
            "timestamp": minute,
            "value": value,
            "unit": unit,
        }

    a = {"count": 10.0, "sum": 55.0, "max": 10.0, "min": 1.0, "p50": 5.0, "p90": 9.0}
    b = {"count": 1.0, "sum": 7.0, "max": 7.0, "min": 7.0, "p50": 7.0, "p90": 7.0}
    assert sorted(docs, key=json.dumps) == sorted(
        [
            expected("Latency", {"Host": "a"}, {**a, "p99.9": 10.0}, "Milliseconds"),
            expected("Latency", {"Host": "b"}, {**b, "p99.9": 7.0}, "Milliseconds"),
            expected("Sets", {}, {"count": 4.0, "sum": 10.0, "max": 4.0, "min": 1.0}, "None"),
        ],
        key=json.dumps,
    )
    assert list(docs[0]) == list(expected("", {}, {}, ""))
    assert [list(d["value"])[:4] for d in docs] == [["count", "sum", "max", "min"]] * 3
    sent = cw.get_metric_statistics(
        Namespace="AWS/CloudWatch/MetricStreams",
        MetricName="MetricUpdate",
        Dimensions=[{"Name": "MetricStreamName", "Value": name}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in sent) == 3.0


def test_exclude_filters_late_updates_and_the_two_day_limit(cw, fh, s3):
    name_b, hose = new_hose(fh, s3)
    shown, hidden = unique("Shown"), unique("Hidden")
    cw.put_metric_stream(
        Name=unique("exclude"),
        FirehoseArn=hose,
        RoleArn=ROLE,
        OutputFormat="json",
        ExcludeFilters=[{"Namespace": hidden}, {"Namespace": shown, "MetricNames": ["Secret"]}],
    )
    ts, minute = previous_minute()

    def put(ns: str, metric: str, value: float = 1.0, at: float = ts) -> None:
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": metric, "Value": value, "Timestamp": at}]
        )

    for ns, metric in ((shown, "Public"), (shown, "Secret"), (hidden, "Public")):
        put(ns, metric)
    put(shown, "Ancient", at=time.time() - 3 * 86400)  # more than two days old: not sent
    lines(s3, name_b, lambda d: any(x["namespace"] == shown for x in d))
    put(shown, "Public", 5.0)  # a late arrival for a minute already sent: an update
    docs = lines(s3, name_b, lambda d: len([x for x in d if x["namespace"] == shown]) >= 2)
    time.sleep(1.5)  # another tick and flush: the excluded ones stay out
    docs = lines(s3, name_b, lambda d: True)
    mine = [
        (d["namespace"], d["metric_name"], d["timestamp"], d["value"]["sum"])
        for d in docs
        if d["namespace"] in (shown, hidden)
    ]
    assert mine == [(shown, "Public", minute, 1.0), (shown, "Public", minute, 5.0)]


# --- OpenTelemetry: a minimal protobuf reader, independent of the server's encoder --------


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[i]
        n |= (byte & 0x7F) << shift
        shift, i = shift + 7, i + 1
        if not byte & 0x80:
            return n, i


def _fields(buf: bytes) -> dict[int, list]:
    """Field number -> values: ints for varints, bytes for fixed64 and length-delimited."""
    out: dict[int, list] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        else:
            raise AssertionError(f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _double(fields: dict, number: int) -> float:
    return struct.unpack("<d", fields[number][0])[0] if number in fields else 0.0


def _fixed(fields: dict, number: int) -> int:
    return struct.unpack("<Q", fields[number][0])[0] if number in fields else 0


def _kv(raw: bytes) -> tuple[str, Any]:
    """A KeyValue: (key, string value or {key: value} of a kvlist)."""
    f = _fields(raw)
    value = _fields(f[2][0])
    if 1 in value:
        return f[1][0].decode(), value[1][0].decode()
    return f[1][0].decode(), dict(_kv(v) for v in _fields(value[6][0]).get(1, []))


def _requests(record: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(record):
        size, i = _varint(record, i)
        out.append(record[i : i + size])
        i += size
    return out


def test_opentelemetry_formats(cw, fh, s3):
    ns, ts, minute = unique("Otel"), *previous_minute()
    streams = {}
    for fmt in ("opentelemetry0.7", "opentelemetry1.0"):
        name_b, hose = new_hose(fh, s3)
        name = unique("otel")
        cw.put_metric_stream(
            Name=name,
            FirehoseArn=hose,
            RoleArn=ROLE,
            OutputFormat=fmt,
            IncludeFilters=[{"Namespace": ns}],
            StatisticsConfigurations=[
                {
                    "IncludeMetrics": [{"Namespace": ns, "MetricName": "Size"}],
                    "AdditionalStatistics": ["p99", "p50"],
                }
            ],
        )
        streams[fmt] = (name, name_b)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Size",
                "Timestamp": ts,
                "Unit": "Bytes/Second",
                "Dimensions": [{"Name": "Queue", "Value": "q1"}],
                "Values": [2.0, 4.0, 6.0, 8.0],
            }
        ],
    )
    for fmt, (name, name_b) in streams.items():
        deadline = time.monotonic() + 15
        while not (found := objects(s3, name_b)):
            assert time.monotonic() < deadline, fmt
            time.sleep(0.2)
        [request] = _requests(b"".join(found))
        [resource_metrics] = _fields(request)[1]
        rm = _fields(resource_metrics)
        attributes = dict(_kv(a) for a in _fields(rm[1][0])[1])
        assert attributes == {
            "cloud.provider": "aws",
            "cloud.account.id": ACCOUNT,
            "cloud.region": "us-east-1",
            "aws.exporter.arn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{name}",
        }
        [metric] = _fields(rm[2][0])[2]
        m = _fields(metric)
        assert m[1] == [f"amazonaws.com/{ns}/Size".encode()]
        assert m[3] == [b"By/s"]
        [point] = _fields(m[11][0])[1]
        p = _fields(point)
        assert _fixed(p, 2) == minute * 1_000_000
        assert _fixed(p, 3) == (minute + 60_000) * 1_000_000
        assert (_fixed(p, 4), _double(p, 5)) == (4, 20.0)
        quantiles = [(_double(q, 1), _double(q, 2)) for q in map(_fields, p[6])]
        assert quantiles == [(0.0, 2.0), (0.5, 4.0), (0.99, 8.0), (1.0, 8.0)]
        if fmt == "opentelemetry0.7":
            labels = [tuple(v.decode() for v in (f[1][0], f[2][0])) for f in map(_fields, p[1])]
            assert labels == [("Namespace", ns), ("MetricName", "Size"), ("Queue", "q1")]
        else:
            assert dict(_kv(a) for a in p[7]) == {
                "Namespace": ns,
                "MetricName": "Size",
                "Dimensions": {"Queue": "q1"},
            }


def test_a_missing_firehose_is_retried_and_stop_start(cw, fh, s3):
    ns, name, later = unique("Retry"), unique("retry"), unique("later")
    cw.put_metric_stream(
        Name=name,
        FirehoseArn=hose_arn(later),
        RoleArn=ROLE,
        OutputFormat="json",
        IncludeFilters=[{"Namespace": ns}],
    )
    ts, _ = previous_minute()
    cw.put_metric_data(
        Namespace=ns, MetricData=[{"MetricName": "Early", "Value": 1.0, "Timestamp": ts}]
    )
    errors = {
        "Namespace": "AWS/CloudWatch/MetricStreams",
        "MetricName": "PublishErrorRate",
        "Dimensions": [{"Name": "MetricStreamName", "Value": name}],
    }
    deadline = time.monotonic() + 10
    while not cw.list_metrics(**errors)["Metrics"]:
        assert time.monotonic() < deadline, "no PublishErrorRate"
        time.sleep(0.2)
    assert cw.get_metric_stream(Name=name)["State"] == "running"
    name_b, _ = new_hose(fh, s3, name=later)
    docs = lines(s3, name_b, lambda d: [x["metric_name"] for x in d] == ["Early"])
    assert docs[0]["namespace"] == ns

    before = cw.get_metric_stream(Name=name)
    cw.stop_metric_streams(Names=[name])
    stopped = cw.get_metric_stream(Name=name)
    assert stopped["State"] == "stopped"
    assert stopped["LastUpdateDate"] > before["LastUpdateDate"]
    assert stopped["CreationDate"] == before["CreationDate"]
    ts, _ = previous_minute()
    cw.put_metric_data(
        Namespace=ns, MetricData=[{"MetricName": "WhileStopped", "Value": 1.0, "Timestamp": ts}]
    )
    time.sleep(2.5)
    assert [d["metric_name"] for d in lines(s3, name_b, lambda d: True)] == ["Early"]
    cw.start_metric_streams(Names=[name])
    assert cw.get_metric_stream(Name=name)["State"] == "running"
    ts, _ = previous_minute()
    cw.put_metric_data(
        Namespace=ns, MetricData=[{"MetricName": "AfterStart", "Value": 1.0, "Timestamp": ts}]
    )
    lines(s3, name_b, lambda d: "AfterStart" in [x["metric_name"] for x in d])


def test_a_restart_neither_repeats_nor_skips_a_minute(tmp_path):
    quiet = {**ENV, "CLOUDLET_CLOUDWATCH_METRIC_STREAM_DELAY_SECONDS": "3600"}
    if time.time() % 60 > 57:  # put and create in one minute
        time.sleep(60.5 - time.time() % 60)
    ns, name = unique("Durable"), unique("durable")
    with CloudletServer.start(data_dir=tmp_path, env=quiet) as srv:
        cw, fh, s3 = srv.client("cloudwatch"), srv.client("firehose"), srv.client("s3")
        name_b, hose = new_hose(fh, s3)
        ts, minute = previous_minute()
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": "Kept", "Value": 3.0, "Timestamp": ts}]
        )
        cw.put_metric_stream(
            Name=name,
            FirehoseArn=hose,
            RoleArn=ROLE,
            OutputFormat="json",
            IncludeFilters=[{"Namespace": ns}],
            Tags=[{"Key": "k", "Value": "v"}],
        )
        time.sleep(1.5)
        assert objects(s3, name_b) == []  # the minute is not due for an hour
    with CloudletServer.start(data_dir=tmp_path, env=ENV) as srv:
        cw, s3 = srv.client("cloudwatch"), srv.client("s3")
        got = cw.get_metric_stream(Name=name)
        assert (got["State"], got["IncludeFilters"]) == ("running", [{"Namespace": ns}])
        arn = got["Arn"]
        assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        [doc] = lines(s3, name_b, lambda d: len(d) >= 1)
        assert (doc["metric_name"], doc["timestamp"], doc["value"]["sum"]) == ("Kept", minute, 3.0)
    with CloudletServer.start(data_dir=tmp_path, env=ENV) as srv:
        cw, s3 = srv.client("cloudwatch"), srv.client("s3")
        ts, _ = previous_minute()
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": "Later", "Value": 1.0, "Timestamp": ts}]
        )
        docs = lines(s3, name_b, lambda d: "Later" in [x["metric_name"] for x in d])
        assert sorted(d["metric_name"] for d in docs) == ["Kept", "Later"]
