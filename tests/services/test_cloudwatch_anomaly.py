"""CloudWatch anomaly detection through boto3 against a real server: detectors
(Put/Describe/Delete in every form, filters, paging, StateValue, AWS's errors,
durability and the quota), the ANOMALY_DETECTION_BAND of GetMetricData over three
days of a daily sine with a spike at the end, and a band alarm that goes to ALARM
on the spike and notifies an SNS topic whose SQS queue receives it.

History is put with past timestamps (5-minute periods), so every test runs in
seconds."""

from __future__ import annotations

import json
import math
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique

PERIOD = 300
DAYS = 3
SPIKE = 400.0


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _history(cw, ns: str, dims: list[dict] | None = None) -> tuple[float, dict[float, float]]:
    """Three days of ``100 + 50 sin(time of day)`` plus noise in [-3, 3], one value per
    5-minute period, then SPIKE in the last closed period; (the spike's period, values)."""
    spike = math.floor(time.time() / PERIOD) * PERIOD - PERIOD
    rng = random.Random(7)
    values = {}
    for k in range(DAYS * 288, 0, -1):
        t = spike - k * PERIOD
        values[t] = 100 + 50 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.uniform(-3, 3)
    values[spike] = SPIKE
    data = [
        {"MetricName": "Load", "Dimensions": dims or [], "Timestamp": _at(t), "Value": v}
        for t, v in values.items()
    ]
    cw.put_metric_data(Namespace=ns, MetricData=data)
    return spike, values


def _stat(ns: str, stat: str = "Average", dims: list[dict] | None = None) -> dict:
    metric = {"Namespace": ns, "MetricName": "Load", "Dimensions": dims or []}
    return {"Metric": metric, "Period": PERIOD, "Stat": stat}


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_band_contains_the_pattern_and_leaves_out_the_spike(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("Anomaly")
    spike, values = _history(cw, ns)
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector={"Namespace": ns, "MetricName": "Load", "Stat": "Average"}
    )
    got = cw.get_metric_data(
        StartTime=_at(min(values)),
        EndTime=_at(spike + PERIOD),
        ScanBy="TimestampAscending",
        MetricDataQueries=[
            {"Id": "m1", "MetricStat": _stat(ns)},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "expected"},
            {"Id": "low", "Expression": "LAST(ANOMALY_DETECTION_BAND(m1, 2))"},
        ],
    )["MetricDataResults"]
    assert [(r["Id"], r["Label"]) for r in got] == [
        ("m1", "Load"),
        ("ad1", "expected"),  # the band: two series, the upper bound first...
        ("ad1", "expected"),  # ...then the lower, as the metric math reference has it
        ("low", "low"),
    ]
    metric, upper, lower, low = (dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in got)
    assert low == lower
    assert len(metric) == len(values)
    for ts, value in metric.items():
        assert lower[ts] < upper[ts]
        if ts.timestamp() == spike:
            assert value == SPIKE and value > upper[ts]
        else:
            assert lower[ts] <= value <= upper[ts], ts
    # the band follows the daily pattern instead of spanning all of it
    widths = [upper[t] - lower[t] for t in metric]
    assert max(widths) < 20 and max(upper.values()) - min(upper.values()) > 80
    # a wider band (4 standard deviations) around the same expected values
    wide = cw.get_metric_data(
        StartTime=_at(spike - 3600),
        EndTime=_at(spike + PERIOD),
        MetricDataQueries=[
            {"Id": "m1", "MetricStat": _stat(ns), "ReturnData": False},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 4)"},
        ],
    )["MetricDataResults"]
    up4, lo4 = (dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in wide)
    for ts in up4:
        assert up4[ts] - lo4[ts] == pytest.approx(2 * (upper[ts] - lower[ts]))
    # no detector for that statistic: GetMetricData does not make one up
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(
            StartTime=_at(spike - 3600),
            EndTime=_at(spike),
            MetricDataQueries=[
                {"Id": "m1", "MetricStat": _stat(ns, "Maximum")},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1)"},
            ],
        )
    assert _code(exc) == "ValidationError"
    assert "PutAnomalyDetector" in exc.value.response["Error"]["Message"]


def test_band_alarm_fires_on_the_spike_and_notifies(aws_client):
    cw, sns, sqs = aws_client("cloudwatch"), aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=unique("band-topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("band-q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    ns, name = unique("AnomalyAlarm"), unique("band")
    _history(cw, ns)
    metrics = [
        {"Id": "m1", "MetricStat": _stat(ns), "ReturnData": True},
        {
            "Id": "ad1",
            "Expression": "ANOMALY_DETECTION_BAND(m1, 2)",
            "Label": "Load (expected)",
            "ReturnData": True,
        },
    ]
    cw.put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
        EvaluationPeriods=2,  # the spike is in one of the last two closed periods
        DatapointsToAlarm=1,
        ThresholdMetricId="ad1",
        Metrics=metrics,
        AlarmActions=[topic],
    )
    # the alarm created the model it needs (no PutAnomalyDetector was called)
    [detector] = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert detector["SingleMetricAnomalyDetector"]["Stat"] == "Average"
    deadline = time.monotonic() + 10
    alarm: dict = {}
    while time.monotonic() < deadline:
        [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if alarm["StateValue"] == "ALARM":
            break
        time.sleep(0.3)
    assert alarm["StateValue"] == "ALARM", alarm
    assert alarm["ThresholdMetricId"] == "ad1" and "Threshold" not in alarm
    reason = alarm["StateReason"]
    assert reason.startswith("Thresholds Crossed: 1 out of the last 2 datapoints [400.0 (")
    assert "] was less than the lower thresholds [" in reason
    assert "] or greater than the upper thresholds [" in reason
    assert reason.endswith("(minimum 1 datapoint for OK -> ALARM transition).")
    data = json.loads(alarm["StateReasonData"])
    assert SPIKE in data["recentDatapoints"] and data["period"] == PERIOD
    i = data["recentDatapoints"].index(SPIKE)
    assert data["recentLowerThresholds"][i] < data["recentUpperThresholds"][i] < SPIKE
    got: list = []
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    [message] = got
    body = json.loads(json.loads(message["Body"])["Message"])
    assert (body["AlarmName"], body["NewStateValue"]) == (name, "ALARM")
    assert body["NewStateReason"] == reason
    trigger = body["Trigger"]
    assert trigger["ThresholdMetricId"] == "ad1" and "Threshold" not in trigger
    assert trigger["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert [m["Id"] for m in trigger["Metrics"]] == ["m1", "ad1"]
    # a model deleted under its alarm comes back with the alarm
    cw.delete_anomaly_detector(
        SingleMetricAnomalyDetector={"Namespace": ns, "MetricName": "Load", "Stat": "Average"}
    )
    cw.put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanUpperThreshold",
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        ThresholdMetricId="ad1",
        Metrics=metrics,
    )
    assert len(cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]) == 1


def test_one_sided_operators_and_missing_band(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("AnomalySide")
    _history(cw, ns)
    fresh = unique("AnomalyFresh")  # no history: the model is still training
    cw.put_metric_data(Namespace=fresh, MetricData=[{"MetricName": "Load", "Value": 1.0}])

    def alarm(name: str, namespace: str, op: str) -> None:
        cw.put_metric_alarm(
            AlarmName=name,
            ComparisonOperator=op,
            EvaluationPeriods=2,
            DatapointsToAlarm=1,
            ThresholdMetricId="ad1",
            Metrics=[
                {"Id": "m1", "MetricStat": _stat(namespace), "ReturnData": False},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1)"},
            ],
        )

    upper, lower, pending = unique("upper"), unique("lower"), unique("pending")
    alarm(upper, ns, "GreaterThanUpperThreshold")
    alarm(lower, ns, "LessThanLowerThreshold")
    alarm(pending, fresh, "GreaterThanUpperThreshold")
    deadline = time.monotonic() + 10
    states: dict = {}
    while time.monotonic() < deadline:
        found = cw.describe_alarms(AlarmNames=[upper, lower, pending])["MetricAlarms"]
        states = {a["AlarmName"]: a for a in found}
        if all(a["StateValue"] != "INSUFFICIENT_DATA" for a in (states[upper], states[lower])):
            break
        time.sleep(0.3)
    assert states[upper]["StateValue"] == "ALARM"
    assert "] was greater than the upper thresholds [" in states[upper]["StateReason"]
    data = json.loads(states[upper]["StateReasonData"])
    assert "recentLowerThresholds" not in data
    assert data["evaluatedDatapoints"][0]["value"] == SPIKE  # newest first
    assert states[lower]["StateValue"] == "OK"
    assert " not less than the lower thresholds [" in states[lower]["StateReason"]
    assert "(minimum 2 datapoints for ALARM -> OK transition)" in states[lower]["StateReason"]
    # no band yet: every period counts as missing
    assert states[pending]["StateValue"] == "INSUFFICIENT_DATA"
    [det] = cw.describe_anomaly_detectors(Namespace=fresh)["AnomalyDetectors"]
    assert det["StateValue"] == "PENDING_TRAINING"


def test_detectors_describe_filter_page_and_delete(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("AnomalyApi")
    host = [{"Name": "Host", "Value": "h1"}]
    cw.put_anomaly_detector(Namespace=ns, MetricName="Load", Stat="Average", Dimensions=host)
    excluded = {"StartTime": _at(1_700_000_000), "EndTime": _at(1_700_003_600)}
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector={
            "Namespace": ns,
            "MetricName": "Load",
            "Dimensions": host,
            "Stat": "p90",
        },
        Configuration={"ExcludedTimeRanges": [excluded], "MetricTimezone": "Europe/Berlin"},
        MetricCharacteristics={"PeriodicSpikes": True},
    )
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector={"Namespace": ns, "MetricName": "Errors", "Stat": "Sum"}
    )
    maths = [
        {"Id": "m1", "MetricStat": _stat(ns, "Sum"), "ReturnData": False},
        {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True},
    ]
    cw.put_anomaly_detector(MetricMathAnomalyDetector={"MetricDataQueries": maths})
    found = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert sorted((d["MetricName"], d["Stat"]) for d in found) == [
        ("Errors", "Sum"),
        ("Load", "Average"),
        ("Load", "p90"),
    ]
    p90 = next(d for d in found if d["Stat"] == "p90")
    assert p90["SingleMetricAnomalyDetector"] == {
        "AccountId": "000000000000",
        "Namespace": ns,
        "MetricName": "Load",
        "Dimensions": host,
        "Stat": "p90",
    }
    assert p90["Configuration"] == {
        "ExcludedTimeRanges": [excluded],
        "MetricTimezone": "Europe/Berlin",
    }
    assert p90["MetricCharacteristics"] == {"PeriodicSpikes": True}
    assert p90["StateValue"] == "PENDING_TRAINING"
    legacy = next(d for d in found if d["Stat"] == "Average")
    assert legacy["Dimensions"] == host and legacy["Configuration"] == {"ExcludedTimeRanges": []}
    # filters: metric name, dimensions (a subset matches), types
    by_name = cw.describe_anomaly_detectors(Namespace=ns, MetricName="Errors")
    assert [d["Stat"] for d in by_name["AnomalyDetectors"]] == ["Sum"]
    by_dims = cw.describe_anomaly_detectors(Namespace=ns, Dimensions=host)["AnomalyDetectors"]
    assert sorted(d["Stat"] for d in by_dims) == ["Average", "p90"]
    math_only = cw.describe_anomaly_detectors(AnomalyDetectorTypes=["METRIC_MATH"])
    [mine] = [
        d
        for d in math_only["AnomalyDetectors"]
        if d["MetricMathAnomalyDetector"]["MetricDataQueries"] == maths
    ]
    assert "Namespace" not in mine and "SingleMetricAnomalyDetector" not in mine
    # paging
    first = cw.describe_anomaly_detectors(Namespace=ns, MaxResults=2)
    rest = cw.describe_anomaly_detectors(Namespace=ns, MaxResults=2, NextToken=first["NextToken"])
    assert len(first["AnomalyDetectors"]) == 2 and len(rest["AnomalyDetectors"]) == 1
    assert "NextToken" not in rest
    # a second put for the same metric and statistic replaces its configuration
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector={
            "Namespace": ns,
            "MetricName": "Load",
            "Dimensions": host,
            "Stat": "p90",
        }
    )
    again = cw.describe_anomaly_detectors(Namespace=ns, MetricName="Load")["AnomalyDetectors"]
    assert len(again) == 2
    assert next(d for d in again if d["Stat"] == "p90")["Configuration"] == {
        "ExcludedTimeRanges": []
    }
    # delete, in both forms
    cw.delete_anomaly_detector(Namespace=ns, MetricName="Load", Stat="Average", Dimensions=host)
    cw.delete_anomaly_detector(MetricMathAnomalyDetector={"MetricDataQueries": maths})
    left = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert sorted(d["Stat"] for d in left) == ["Sum", "p90"]
    with pytest.raises(ClientError) as exc:
        cw.delete_anomaly_detector(Namespace=ns, MetricName="Load", Stat="Average")
    assert _code(exc) == "ResourceNotFoundException"


def test_state_value_follows_the_data(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("AnomalyState")
    spec = {"Namespace": ns, "MetricName": "Load", "Stat": "Average"}
    cw.put_anomaly_detector(SingleMetricAnomalyDetector=spec)
    [det] = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert det["StateValue"] == "PENDING_TRAINING"
    start = math.floor(time.time() / PERIOD) * PERIOD - 10 * PERIOD
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Load", "Timestamp": _at(start + k * PERIOD), "Value": 10.0 + k % 2}
            for k in range(8)
        ],
    )
    [det] = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert det["StateValue"] == "TRAINED"
    # excluding every period it had leaves a trained model without data
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector=spec,
        Configuration={
            "ExcludedTimeRanges": [{"StartTime": _at(start - 60), "EndTime": _at(time.time())}]
        },
    )
    [det] = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert det["StateValue"] == "TRAINED_INSUFFICIENT_DATA"


def test_aws_errors(aws_client):
    cw = aws_client("cloudwatch")
    ns = unique("AnomalyErr")
    single = {"Namespace": ns, "MetricName": "Load", "Stat": "Average"}
    cases = [
        ({"SingleMetricAnomalyDetector": single, "Namespace": ns}, "InvalidParameterCombination"),
        (
            {
                "SingleMetricAnomalyDetector": single,
                "MetricMathAnomalyDetector": {"MetricDataQueries": []},
            },
            "InvalidParameterCombination",
        ),
        ({"Namespace": ns, "MetricName": "Load"}, "MissingParameter"),
        ({**single, "Stat": "Median"}, "InvalidParameterValue"),
        (
            {"SingleMetricAnomalyDetector": single, "Configuration": {"MetricTimezone": "Mars/X"}},
            "InvalidParameterValue",
        ),
        (
            {
                "SingleMetricAnomalyDetector": single,
                "Configuration": {
                    "ExcludedTimeRanges": [
                        {"StartTime": _at(1_700_000_000), "EndTime": _at(1_600_000_000)}
                    ]
                },
            },
            "InvalidParameterValue",
        ),
        (
            {
                "MetricMathAnomalyDetector": {
                    "MetricDataQueries": [
                        {"Id": "m1", "MetricStat": _stat(ns), "ReturnData": False},
                        {"Id": "e1", "Expression": "SUM(METRICS())"},
                    ]
                }
            },
            "InvalidParameterValue",
        ),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as exc:
            cw.put_anomaly_detector(**params)
        assert _code(exc) == code, params
    with pytest.raises(ClientError) as exc:
        cw.describe_anomaly_detectors(AnomalyDetectorTypes=["BOTH"])
    assert _code(exc) == "InvalidParameterValue"
    band = [
        {"Id": "m1", "MetricStat": _stat(ns)},
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"},
    ]
    base = {"AlarmName": unique("bad"), "EvaluationPeriods": 1, "Metrics": band}
    with pytest.raises(ClientError) as exc:
        cw.put_metric_alarm(**base, ComparisonOperator="GreaterThanUpperThreshold")
    assert _code(exc) == "ValidationError"
    assert exc.value.response["Error"]["Message"] == (
        "ComparisonOperators for ranges require ThresholdMetricId to be set"
    )
    for extra in (
        {"ComparisonOperator": "GreaterThanUpperThreshold", "Threshold": 1.0},
        {"ComparisonOperator": "GreaterThanThreshold"},
        {"ComparisonOperator": "GreaterThanUpperThreshold", "ThresholdMetricId": "m1"},
        {
            "ComparisonOperator": "GreaterThanUpperThreshold",
            "AlarmActions": ["arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x"],
        },
    ):
        with pytest.raises(ClientError) as exc:
            cw.put_metric_alarm(**{"ThresholdMetricId": "ad1", **base, **extra})
        assert _code(exc) == "ValidationError", extra
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(
            StartTime=datetime.now(UTC) - timedelta(hours=1),
            EndTime=datetime.now(UTC),
            MetricDataQueries=[
                {"Id": "m1", "MetricStat": _stat(ns)},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1 + 1)"},
            ],
        )
    assert "Unsupported operand type(s) for ANOMALY_DETECTION_BAND" in str(exc.value)


def test_detectors_and_band_alarms_survive_a_restart_and_the_quota_holds(tmp_path):
    from cloudlet.testing import CloudletServer

    env = {"CLOUDLET_CLOUDWATCH_ANOMALY_DETECTOR_LIMIT": "2"}
    excluded = {"StartTime": _at(1_700_000_000), "EndTime": _at(1_700_003_600)}
    with CloudletServer.start(data_dir=tmp_path, env=env) as server:
        cw = server.client("cloudwatch")
        cw.put_anomaly_detector(
            SingleMetricAnomalyDetector={"Namespace": "Kept", "MetricName": "A", "Stat": "Sum"},
            Configuration={"ExcludedTimeRanges": [excluded], "MetricTimezone": "UTC"},
        )
        cw.put_metric_alarm(
            AlarmName="kept-band",
            ComparisonOperator="GreaterThanUpperThreshold",
            EvaluationPeriods=1,
            ThresholdMetricId="ad1",
            Metrics=[
                {"Id": "m1", "MetricStat": _stat("Kept")},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 3)"},
            ],
        )
        with pytest.raises(ClientError) as exc:  # the alarm's detector was the second
            cw.put_anomaly_detector(Namespace="Kept", MetricName="B", Stat="Sum")
        assert _code(exc) == "LimitExceededException"
    with CloudletServer.start(data_dir=tmp_path, env=env) as server:
        cw = server.client("cloudwatch")
        found = cw.describe_anomaly_detectors(Namespace="Kept")["AnomalyDetectors"]
        assert sorted((d["MetricName"], d["Stat"]) for d in found) == [
            ("A", "Sum"),
            ("Load", "Average"),
        ]
        kept = next(d for d in found if d["MetricName"] == "A")
        assert kept["Configuration"] == {"ExcludedTimeRanges": [excluded], "MetricTimezone": "UTC"}
        [alarm] = cw.describe_alarms(AlarmNames=["kept-band"])["MetricAlarms"]
        assert alarm["ThresholdMetricId"] == "ad1"
        cw.delete_anomaly_detector(Namespace="Kept", MetricName="A", Stat="Sum")
        cw.put_anomaly_detector(Namespace="Kept", MetricName="B", Stat="Sum")


# --- the model itself (no server): what is slow to show through PutMetricData ------


def _series(days: float, period: int, fn, end: float = 1_717_200_000) -> dict[float, float]:
    start = end - days * 86400
    return {start + k * period: fn(start + k * period) for k in range(int(days * 86400 / period))}


def test_model_excluded_ranges_periodic_spikes_and_weeks():
    from cloudlet.services.cloudwatch.anomaly_model import DAY, WEEK, train

    rng = random.Random(3)
    calm = _series(3, 300, lambda t: 50 + rng.uniform(-1, 1))
    noisy_from, noisy_to = min(calm), min(calm) + 2 * DAY  # more than robust training shrugs off
    noisy = {t: v + (rng.uniform(-40, 40) if t < noisy_to else 0) for t, v in calm.items()}
    wide = train(noisy, 300)
    narrow = train(noisy, 300, excluded=[(noisy_from, noisy_to)])
    assert narrow.sigma < wide.sigma / 3  # the noisy days left out of training

    # a spike every day at 03:00 UTC: expected only with PeriodicSpikes
    spiky = _series(4, 300, lambda t: 500.0 if t % DAY == 3 * 3600 else 50 + rng.uniform(-1, 1))
    at = max(t for t in spiky if t % DAY == 3 * 3600)
    assert train(spiky, 300).band(at, 2)[1] < 100
    assert train(spiky, 300, periodic_spikes=True).band(at, 2)[1] > 450

    # weekends at a quarter of the weekdays' level: learnt once two weeks are seen
    def weekly(t: float) -> float:
        weekend = ((t + 3 * DAY) % WEEK) >= 5 * DAY
        return (25.0 if weekend else 100.0) + rng.uniform(-1, 1)

    two_weeks = _series(14, 300, weekly)
    model = train(two_weeks, 300)
    assert model.season == WEEK
    for t in list(two_weeks)[::7]:
        lower, upper = model.band(t, 3)
        assert lower <= two_weeks[t] <= upper
    assert train(_series(3, 300, weekly), 300).season == DAY


def test_model_timezone_and_trend():
    from zoneinfo import ZoneInfo

    from cloudlet.services.cloudwatch.anomaly_model import MIN_POINTS, train

    berlin = ZoneInfo("Europe/Berlin")

    def local_noon_peak(t: float) -> float:  # follows Berlin's wall clock
        local = datetime.fromtimestamp(t, berlin)
        return 100 + 50 * math.cos(2 * math.pi * (local.hour * 60 + local.minute - 720) / 1440)

    # 2024-03-27 to 2024-04-04: summer time starts on 2024-03-31
    around_dst = _series(8, 300, local_noon_peak, end=1_712_188_800)
    assert train(around_dst, 300, tz=berlin).sigma < train(around_dst, 300).sigma / 2

    growing = _series(5, 300, lambda t: 1e-4 * t + 10 * math.sin(2 * math.pi * t / 86400))
    model = train(growing, 300)
    last = max(growing)
    assert model.slope == pytest.approx(1e-4, rel=0.05)
    lower, upper = model.band(last + 300, 2)
    assert lower < 1e-4 * (last + 300) + 10 * math.sin(2 * math.pi * (last + 300) / 86400) < upper
    assert train(dict(list(growing.items())[: MIN_POINTS - 1]), 300) is None
