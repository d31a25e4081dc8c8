"""CloudWatch metrics through real clients: PutMetricData in every form AWS takes,
statistics and exact percentiles, GetMetricData with metric math and pagination,
ListMetrics filters, AWS's validation errors, dashboards, and the three wire
protocols (json from boto3, cbor and query through botocore's codecs, boto 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.services.cloudwatch_helpers import call
from tests.services.names import unique


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _window(now: datetime, minutes: int = 10) -> dict:
    return {"StartTime": now - timedelta(minutes=minutes), "EndTime": now + timedelta(minutes=2)}


def test_statistics_from_values_counts_and_statistic_sets(aws_client):
    cw = aws_client("cloudwatch")
    ns, now = unique("Stats"), _now()
    dims = [{"Name": "Host", "Value": "h1"}]
    at = now - timedelta(minutes=3)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Lat",
                "Dimensions": dims,
                "Timestamp": at,
                "Unit": "Milliseconds",
                "Values": [float(v) for v in range(1, 101)],
            },
            {
                "MetricName": "Lat",
                "Dimensions": dims,
                "Timestamp": at,
                "Unit": "Milliseconds",
                "Values": [500.0],
                "Counts": [0.0],
            },
            {"MetricName": "Lat", "Dimensions": [], "Timestamp": at, "Value": 1000.0},
            {
                "MetricName": "Set",
                "Timestamp": at,
                "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4},
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Lat",
        Dimensions=dims,
        Period=60,
        **_window(now),
        Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
    )
    assert got["Label"] == "Lat"
    [point] = got["Datapoints"]
    assert point["Timestamp"] == at.replace(second=0)
    assert (point["SampleCount"], point["Sum"], point["Average"]) == (100.0, 5050.0, 50.5)
    assert (point["Minimum"], point["Maximum"], point["Unit"]) == (1.0, 100.0, "Milliseconds")
    ext = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Lat",
        Dimensions=dims,
        Period=60,
        **_window(now),
        ExtendedStatistics=["p90", "p99.5", "p50"],
    )["Datapoints"][0]["ExtendedStatistics"]
    assert ext == {"p90": 90.0, "p99.5": 100.0, "p50": 50.0}
    # Unit filter: nothing was put in Seconds
    assert not cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Lat",
        Dimensions=dims,
        Period=60,
        **_window(now),
        Statistics=["Sum"],
        Unit="Seconds",
    )["Datapoints"]
    # exact dimension match: the dimensionless metric is another metric
    [bare] = cw.get_metric_statistics(
        Namespace=ns, MetricName="Lat", Period=300, **_window(now), Statistics=["Maximum"]
    )["Datapoints"]
    assert bare["Maximum"] == 1000.0 and bare["Unit"] == "None"
    [s] = cw.get_metric_statistics(
        Namespace=ns, MetricName="Set", Period=60, **_window(now), Statistics=["Average"]
    )["Datapoints"]
    assert s["Average"] == 2.5


def test_high_resolution_periods(aws_client):
    cw = aws_client("cloudwatch")
    ns, now = unique("HiRes"), _now()
    base = now - timedelta(seconds=30)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "M",
                "Value": float(i),
                "StorageResolution": 1,
                "Timestamp": base + timedelta(seconds=i),
            }
            for i in range(10)
        ],
    )
    points = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="M",
        Period=5,
        StartTime=base,
        EndTime=base + timedelta(seconds=10),
        Statistics=["Sum"],
    )["Datapoints"]
    assert sorted(p["Sum"] for p in points) == [10.0, 35.0]


@pytest.mark.parametrize(
    "datum,code,needle",
    [
        ({"Value": 1.0, "Values": [1.0]}, "InvalidParameterCombination", "mutually exclusive"),
        ({"Values": [1.0, 2.0], "Counts": [1.0]}, "InvalidParameterValue", "same size"),
        ({"Value": 1.0, "StorageResolution": 5}, "InvalidParameterValue", "StorageResolution"),
        ({}, "MissingParameter", "MetricData.member.1.Value"),
        (
            {"Value": 1.0, "Timestamp": datetime(2001, 1, 1, tzinfo=UTC)},
            "InvalidParameterValue",
            "two weeks",
        ),
    ],
)
def test_put_metric_data_validation(aws_client, datum, code, needle):
    cw = aws_client("cloudwatch")
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="Valid", MetricData=[{"MetricName": "m", **datum}])
    assert exc.value.response["Error"]["Code"] == code
    assert needle in exc.value.response["Error"]["Message"]


def test_reserved_namespace_and_statistics_rules(aws_client):
    cw = aws_client("cloudwatch")
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    now = _now()
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace="n",
            MetricName="m",
            Period=60,
            **_window(now),
            Statistics=["Sum"],
            ExtendedStatistics=["p90"],
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace="n",
            MetricName="m",
            Period=1,
            StartTime=now - timedelta(days=1),
            EndTime=now,
            Statistics=["Sum"],
        )
    assert "exceeds the limit of 1,440" in exc.value.response["Error"]["Message"]


def _stat(qid: str, ns: str, name: str, stat: str = "Sum", **kw) -> dict:
    return {
        "Id": qid,
        "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": stat},
        **kw,
    }


def test_get_metric_data_math_order_and_pages(aws_client):
    cw = aws_client("cloudwatch")
    ns, now = unique("Math"), _now()
    top = now.replace(second=0) - timedelta(minutes=1)
    stamps = [top - timedelta(minutes=k) for k in range(5)]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            d
            for k, t in enumerate(stamps)
            for d in (
                {"MetricName": "Req", "Timestamp": t, "Value": 10.0 * (k + 1)},
                {"MetricName": "Err", "Timestamp": t, "Value": float(k + 1)},
            )
        ],
    )
    window = {"StartTime": stamps[-1], "EndTime": top + timedelta(minutes=1)}
    res = cw.get_metric_data(
        **window,
        MetricDataQueries=[
            _stat("req", ns, "Req", ReturnData=False),
            _stat("err", ns, "Err", ReturnData=False),
            {"Id": "rate", "Expression": "100 * err / req", "Label": "Error rate"},
            {"Id": "total", "Expression": "SUM(METRICS())"},
            {"Id": "avg", "Expression": "AVG(req)"},
        ],
    )["MetricDataResults"]
    by_id = {r["Id"]: r for r in res}
    assert set(by_id) == {"rate", "total", "avg"}
    assert by_id["rate"]["Label"] == "Error rate"
    assert by_id["rate"]["Values"] == [10.0] * 5 and by_id["rate"]["StatusCode"] == "Complete"
    assert by_id["total"]["Timestamps"] == stamps  # newest first by default
    assert by_id["total"]["Values"] == [11.0 * (k + 1) for k in range(5)]
    assert by_id["avg"]["Values"] == [30.0] * 5
    asc = cw.get_metric_data(
        **window, ScanBy="TimestampAscending", MetricDataQueries=[_stat("req", ns, "Req")]
    )["MetricDataResults"][0]
    assert asc["Timestamps"] == stamps[::-1] and asc["Label"] == "Req"
    # pagination by MaxDatapoints
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(
            **window, MaxDatapoints=2, **kw, MetricDataQueries=[_stat("req", ns, "Req")]
        )
        pages += 1
        for r in page["MetricDataResults"]:
            seen += r["Values"]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == [10.0 * (k + 1) for k in range(5)]
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(**window, MetricDataQueries=[{"Id": "bad", "Expression": "nope + 1"}])
    assert exc.value.response["Error"]["Code"] == "ValidationError"


def test_list_metrics_filters_and_pages(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("List")
    data = [
        {
            "MetricName": "CPU",
            "Dimensions": [{"Name": "InstanceId", "Value": f"i-{k}"}],
            "Value": 1.0,
        }
        for k in range(3)
    ]
    data.append(
        {"MetricName": "CPU", "Dimensions": [{"Name": "ImageId", "Value": "ami-1"}], "Value": 1.0}
    )
    data.append({"MetricName": "Disk", "Value": 1.0})
    data += [{"MetricName": f"Many{k:03d}", "Value": 1.0} for k in range(500)]
    cw.put_metric_data(Namespace=ns, MetricData=data)
    got = cw.list_metrics(Namespace=ns, MetricName="CPU")["Metrics"]
    assert len(got) == 4
    by_name = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "InstanceId"}])["Metrics"]
    assert sorted(m["Dimensions"][0]["Value"] for m in by_name) == ["i-0", "i-1", "i-2"]
    exact = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "InstanceId", "Value": "i-1"}])
    assert [m["Dimensions"] for m in exact["Metrics"]] == [[{"Name": "InstanceId", "Value": "i-1"}]]
    assert len(cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 500
    paginator = cw.get_paginator("list_metrics")
    total = sum(len(p["Metrics"]) for p in paginator.paginate(Namespace=ns))
    assert total == 505


def test_dashboards(aws_client):
    cw = aws_client("cloudwatch")
    name = unique("dash")
    body = json.dumps(
        {
            "widgets": [
                {
                    "type": "text",
                    "x": 0,
                    "y": 0,
                    "width": 6,
                    "height": 3,
                    "properties": {"markdown": "hi"},
                }
            ]
        }
    )
    assert (
        cw.put_dashboard(DashboardName=name, DashboardBody=body)["DashboardValidationMessages"]
        == []
    )
    got = cw.get_dashboard(DashboardName=name)
    assert got["DashboardBody"] == body and got["DashboardArn"].endswith(f":dashboard/{name}")
    [entry] = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert entry["Size"] == len(body)
    with pytest.raises(ClientError) as exc:
        cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps({"widgets": [{"type": "x"}]}))
    err = exc.value.response
    assert err["Error"]["Code"] == "InvalidParameterInput"
    assert err["dashboardValidationMessages"] == [
        {"DataPath": "/widgets/0/type", "Message": "Should be equal to one of the allowed values"}
    ]
    with pytest.raises(ClientError) as exc:
        cw.put_dashboard(DashboardName=name, DashboardBody="not json")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterInput"
    with pytest.raises(ClientError) as exc:
        cw.delete_dashboards(DashboardNames=[name, unique("missing")])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_dashboards(DashboardNames=[name])
    with pytest.raises(ClientError) as exc:
        cw.get_dashboard(DashboardName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query", "json"])
def test_each_wire_protocol(cloudlet_server, protocol):
    ep, ns, now = cloudlet_server.endpoint, unique("Wire"), _now()
    put = call(
        ep,
        protocol,
        "PutMetricData",
        {
            "Namespace": ns,
            "MetricData": [
                {
                    "MetricName": "M",
                    "Value": 2.5,
                    "Unit": "Count",
                    "Timestamp": now,
                    "Dimensions": [{"Name": "D", "Value": "v"}],
                }
            ],
        },
    )
    assert put["_status"] == 200, put
    got = call(
        ep,
        protocol,
        "GetMetricStatistics",
        {
            "Namespace": ns,
            "MetricName": "M",
            "Dimensions": [{"Name": "D", "Value": "v"}],
            "Period": 60,
            **_window(now),
            "Statistics": ["Sum"],
        },
    )
    assert [p["Sum"] for p in got["Datapoints"]] == [2.5]
    listed = call(ep, protocol, "ListMetrics", {"Namespace": ns})
    assert listed["Metrics"][0]["Dimensions"] == [{"Name": "D", "Value": "v"}]
    bad = call(
        ep,
        protocol,
        "PutMetricData",
        {"Namespace": ns, "MetricData": [{"MetricName": "M", "Value": 1.0, "Values": [1.0]}]},
    )
    assert bad["_status"] == 400 and bad["Error"]["Code"] == "InvalidParameterCombination"
    unbuilt = call(ep, protocol, "ListManagedInsightRules", {"ResourceARN": "arn:aws:x"})
    assert unbuilt["_status"] == 501 and unbuilt["Error"]["Code"] == "NotImplemented"


def test_boto2_cloudwatch(cloudlet_server):
    pytest.importorskip("boto", reason="boto 2 is not installed")
    from boto.ec2.cloudwatch import CloudWatchConnection
    from boto.regioninfo import RegionInfo

    conn = CloudWatchConnection(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        is_secure=False,
        port=cloudlet_server.port,
        region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"),
    )
    conn.auth_region_name, conn.auth_service_name = "us-east-1", "monitoring"
    ns = unique("Boto2")
    assert conn.put_metric_data(
        ns, "Hits", value=[3.0, 5.0], dimensions={"Host": "h1"}, unit="Count"
    )
    assert [m.name for m in conn.list_metrics(namespace=ns)] == ["Hits"]
    now = datetime.utcnow()  # noqa: DTZ003 - boto 2 sends naive UTC
    [point] = conn.get_metric_statistics(
        60,
        now - timedelta(minutes=5),
        now + timedelta(minutes=1),
        "Hits",
        ns,
        ["Sum", "Average"],
        dimensions={"Host": "h1"},
    )
    assert (point["Sum"], point["Average"], point["Unit"]) == (8.0, 4.0, "Count")


def test_metrics_alarms_and_dashboards_survive_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer

    now = _now()
    with CloudletServer.start(data_dir=tmp_path) as server:
        cw = server.client("cloudwatch")
        cw.put_metric_data(Namespace="Durable", MetricData=[{"MetricName": "M", "Value": 7.0}])
        cw.put_metric_alarm(
            AlarmName="kept",
            Namespace="Durable",
            MetricName="M",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cw.put_dashboard(DashboardName="kept", DashboardBody='{"widgets": []}')
    with CloudletServer.start(data_dir=tmp_path) as server:
        cw = server.client("cloudwatch")
        [p] = cw.get_metric_statistics(
            Namespace="Durable", MetricName="M", Period=60, **_window(now), Statistics=["Sum"]
        )["Datapoints"]
        assert p["Sum"] == 7.0
        assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["kept"]
        assert cw.get_dashboard(DashboardName="kept")["DashboardBody"] == '{"widgets": []}'


def test_gzipped_put_metric_data(aws_client):
    """botocore gzips PutMetricData bodies past 10 KB (the model's requestcompression
    trait); the gateway inflates them for any operation with that trait."""
    cw = aws_client("cloudwatch")
    ns, now = unique("Gzip"), _now()
    sent = []

    def record(request, **_kw):
        sent.append(request.headers.get("Content-Encoding"))

    cw.meta.events.register("before-send.cloudwatch.PutMetricData", record)
    values = [float(v) for v in range(1, 151)]  # 150 values a datum at most
    at = now - timedelta(minutes=1)
    data = [{"MetricName": "Big", "Timestamp": at, "Values": values} for _ in range(20)]
    cw.put_metric_data(Namespace=ns, MetricData=data)
    assert [e.decode() if isinstance(e, bytes) else e for e in sent] == ["gzip"]
    stats = cw.get_metric_statistics(
        Namespace=ns, MetricName="Big", Period=60, Statistics=["SampleCount", "Sum"], **_window(now)
    )["Datapoints"]
    assert sum(d["SampleCount"] for d in stats) == 20 * 150
    assert sum(d["Sum"] for d in stats) == 20 * sum(values)


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_gzipped_body_in_each_protocol(cloudlet_server, protocol):
    """A gzipped query-protocol body names its Action inside the gzip: the gateway
    reads it from the inflated form (botocore before CloudWatch's JSON protocol, and
    aiobotocore, send PutMetricData so)."""
    ns, now = unique("GzipWire"), _now()
    datum = {"MetricName": "M", "Value": 4.0, "Timestamp": now}
    put = call(
        cloudlet_server.endpoint,
        protocol,
        "PutMetricData",
        {"Namespace": ns, "MetricData": [datum]},
        gzip=True,
    )
    assert put["_status"] == 200, put
    got = call(
        cloudlet_server.endpoint,
        protocol,
        "GetMetricStatistics",
        {"Namespace": ns, "MetricName": "M", "Period": 60, **_window(now), "Statistics": ["Sum"]},
    )
    assert [p["Sum"] for p in got["Datapoints"]] == [4.0]
