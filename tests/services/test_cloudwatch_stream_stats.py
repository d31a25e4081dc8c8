"""CloudWatch metric streams' additional statistics beyond percentiles: trimmed and
winsorized means, trimmed counts and sums, percentile ranks and IQM, delivered through a
real Firehose stream into S3 in the JSON format (the only format AWS streams them in),
checked against the values worked out by hand; PutMetricStream's refusals of malformed
ones and of any of them in the OpenTelemetry formats; and a stream that still sends
them after a restart. Datapoints carry the previous minute's timestamps, so the minute
they belong to is complete at once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.firehose_helpers import ROLE
from tests.services.metric_stream_helpers import ENV, error_of, lines, new_hose, previous_minute
from tests.services.names import unique

STATS = [
    "tm99",
    "TM(10%:90%)",
    "wm90",
    "WM(10%:90%)",
    "tc90",
    "ts90",
    "TC(2:8)",
    "TS(2:8)",
    "PR(:3)",
    "PR(2:8)",
    "IQM",
    "p90",
]
ONE_TO_TEN = {
    "tm99": pytest.approx(54 / 9.9),  # 1..9, and 10 for the 0.9 of its rank kept
    "TM(10%:90%)": 5.5,
    "wm90": 5.4,  # 10 counted as 9
    "WM(10%:90%)": 5.5,  # 1 counted as 2, 10 as 9
    "tc90": 9.0,
    "ts90": 45.0,
    "TC(2:8)": 6.0,  # more than 2, at most 8
    "TS(2:8)": 33.0,
    "PR(:3)": 30.0,
    "PR(2:8)": 60.0,
    "IQM": 5.5,  # 3 and 8 each count for half
    "p90": 9.0,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("stream-stats")
    box = {"srv": CloudletServer.start(data_dir=data, env=ENV), "data": data}
    yield box
    box["srv"].stop()


def _stream(cw, hose: str, ns: str, stats: list[str], output: str = "json", **kw) -> str:
    name = unique("stats")
    cw.put_metric_stream(
        Name=name,
        FirehoseArn=hose,
        RoleArn=ROLE,
        OutputFormat=output,
        IncludeFilters=[{"Namespace": ns}],
        StatisticsConfigurations=[
            {
                "IncludeMetrics": [{"Namespace": ns, "MetricName": "Latency"}],
                "AdditionalStatistics": stats,
            }
        ],
        **kw,
    )
    return name


def test_json_stream_sends_trimmed_winsorized_rank_and_iqm(server):
    srv = server["srv"]
    cw, fh, s3 = srv.client("cloudwatch"), srv.client("firehose"), srv.client("s3")
    bucket, hose = new_hose(fh, s3)
    ns = unique("App")
    name = _stream(cw, hose, ns, STATS)
    assert (
        cw.get_metric_stream(Name=name)["StatisticsConfigurations"][0]["AdditionalStatistics"]
        == STATS
    )
    ts, minute = previous_minute()

    def datum(host: str, **fields) -> dict:
        dims = [{"Name": "Host", "Value": host}]
        return {"MetricName": "Latency", "Timestamp": ts, "Dimensions": dims, **fields}

    sets = {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            datum("a", Values=[float(v) for v in range(10, 0, -1)], Unit="Milliseconds"),
            datum("b", Values=[10.0, 20.0], Counts=[3.0, 1.0], Unit="Milliseconds"),
            datum("c", StatisticValues=sets, Unit="Milliseconds"),
        ],
    )
    docs = lines(s3, bucket, lambda d: len(d) >= 3)
    by_host = {d["dimensions"]["Host"]: d for d in docs}
    assert {d["timestamp"] for d in docs} == {minute}
    a = by_host["a"]["value"]
    assert list(a) == ["count", "sum", "max", "min", *STATS]  # in the order configured
    assert a == {"count": 10.0, "sum": 55.0, "max": 10.0, "min": 1.0, **ONE_TO_TEN}
    b = by_host["b"]["value"]  # 10 three times, 20 once
    assert b["IQM"] == 10.0 and b["TM(10%:90%)"] == pytest.approx((2.6 * 10 + 0.6 * 20) / 3.2)
    assert b["tc90"] == pytest.approx(3.6) and b["ts90"] == pytest.approx(30 + 0.6 * 20)
    assert b["WM(10%:90%)"] == pytest.approx(12.5)  # the edges are 10 and 20 themselves
    assert b["PR(2:8)"] == 0.0 and b["TC(2:8)"] == 0.0 and b["TS(2:8)"] == 0.0
    # statistic sets carry no distribution: only the four statistics always sent
    assert by_host["c"]["value"] == {"count": 4.0, "sum": 10.0, "max": 4.0, "min": 1.0}
    server["json"] = (bucket, ns)


def test_put_metric_stream_refuses_bad_statistics(server):
    srv = server["srv"]
    cw = srv.client("cloudwatch")
    hose = "arn:aws:firehose:us-east-1:000000000000:deliverystream/unused"
    for bad in ("TM(90%:10%)", "PR(:30%)", "TM(:)", "tm0", "TM(a:b)", "WM(5:5)", "TM(10%:101%)"):
        with pytest.raises(ClientError) as exc:
            _stream(cw, hose, "N", [bad])
        assert error_of(exc) == ("InvalidParameterValue", 400), bad
    for output in ("opentelemetry0.7", "opentelemetry1.0"):
        for stat in ("IQM", "tm99", "PR(:300)"):
            with pytest.raises(ClientError) as exc:
                _stream(cw, hose, "N", [stat], output=output)
            assert error_of(exc) == ("InvalidParameterValue", 400), (output, stat)


def test_statistics_still_sent_after_a_restart(server):
    bucket, ns = server["json"]
    server["srv"].stop()
    server["srv"] = srv = CloudletServer.start(data_dir=server["data"], env=ENV)
    cw, s3 = srv.client("cloudwatch"), srv.client("s3")
    ts, minute = previous_minute()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Latency",
                "Timestamp": ts,
                "Dimensions": [{"Name": "Host", "Value": "after"}],
                "Values": [float(v) for v in range(1, 11)],
                "Unit": "Milliseconds",
            }
        ],
    )

    def arrived(docs: list[dict]) -> bool:
        return any(d["dimensions"].get("Host") == "after" for d in docs)

    docs = lines(s3, bucket, arrived, timeout=30)
    after = next(d for d in docs if d["dimensions"].get("Host") == "after")
    assert after["value"] == {"count": 10.0, "sum": 55.0, "max": 10.0, "min": 1.0, **ONE_TO_TEN}
