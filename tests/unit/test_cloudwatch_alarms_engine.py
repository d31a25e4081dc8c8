"""The alarm engine with a controlled clock and a fake internal client: M out of
N, every TreatMissingData mode, reasons as CloudWatch words them, composite
rules, SetAlarmState holding until the next boundary, and actions (EC2, SNS,
AutoScaling, and failures recorded as history, never raised)."""

from __future__ import annotations

import asyncio
import json

import pytest

from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.cloudwatch import alarm_config
from cloudlet.services.cloudwatch.alarms import AlarmEngine
from cloudlet.services.cloudwatch.evaluation import decide
from cloudlet.services.cloudwatch.metrics import Metrics
from cloudlet.services.cloudwatch.store import Store
from cloudlet.state.db import open_database

T0 = 1_795_000_000.0  # a multiple of 10 and 60
A, R = "000000000000", "us-east-1"


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


class Harness:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.clock = FakeClock(T0)
        self.calls: list[tuple] = []
        self.fail = fail or set()
        store = Store(open_database(None, "cloudwatch"))
        self.metrics = Metrics(store, self.clock)

        async def call(service, operation, params, *, account, region):
            self.calls.append((service, operation, params, account, region))
            if service in self.fail:
                raise NotImplementedOperation(service, operation)
            return {}

        self.engine = AlarmEngine(store, self.metrics, self.clock, call)

    def put(self, value: float, at: float, name: str = "Cpu", dims=None) -> None:
        datum = {"MetricName": name, "Value": value, "Timestamp": at}
        if dims:
            datum["Dimensions"] = dims
        self.metrics.put(A, R, "Test", [datum])

    def alarm(self, **kw) -> None:
        params = {
            "AlarmName": "a1",
            "MetricName": "Cpu",
            "Namespace": "Test",
            "Statistic": "Maximum",
            "Period": 10,
            "EvaluationPeriods": 1,
            "Threshold": 80.0,
            "ComparisonOperator": "GreaterThanThreshold",
            **kw,
        }
        self.engine.put(A, R, alarm_config.metric_alarm(params), "MetricAlarm")

    def at(self, t: float) -> dict:
        self.clock.t = t
        asyncio.run(self.engine.tick())
        return self.engine.get(A, R, "a1")

    def history(self, kind: str) -> list[tuple]:
        rows = self.engine.store.history(A, R, None, 0, T0 + 10**6)
        return [r for r in rows if r[3] == kind]


def test_threshold_crossing_and_back_with_aws_reason_text():
    h = Harness()
    h.alarm()
    h.put(95.0, T0 + 3)
    a = h.at(T0 + 10.5)  # the period [T0, T0+10) just closed
    assert a["StateValue"] == "ALARM"
    stamp = "18/11/26 11:06:40"
    assert a["StateReason"] == (
        f"Threshold Crossed: 1 datapoint [95.0 ({stamp})] was greater than the threshold (80.0)."
    )
    data = json.loads(a["StateReasonData"])
    assert data["recentDatapoints"] == [95.0] and data["threshold"] == 80.0
    assert data["statistic"] == "Maximum" and data["period"] == 10
    assert data["evaluatedDatapoints"][0]["sampleCount"] == 1.0
    h.put(10.0, T0 + 12)
    a = h.at(T0 + 20.2)
    assert a["StateValue"] == "OK"
    assert "was not greater than the threshold (80.0)" in a["StateReason"]
    updates = [r[4] for r in h.history("StateUpdate")]
    assert updates[:2] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]


def test_evaluated_once_per_period_boundary():
    h = Harness()
    h.alarm()
    h.put(95.0, T0 + 3)
    assert h.at(T0 + 9.9)["StateValue"] != "ALARM"  # period not closed yet
    assert h.at(T0 + 10.0)["StateValue"] == "ALARM"


def test_m_out_of_n():
    h = Harness()
    h.alarm(EvaluationPeriods=3, DatapointsToAlarm=2)
    h.put(90.0, T0 + 1)
    h.put(10.0, T0 + 11)
    assert h.at(T0 + 20.5)["StateValue"] == "OK"  # 1 of the 2 counted breaches
    h.put(90.0, T0 + 21)
    a = h.at(T0 + 30.5)
    assert a["StateValue"] == "ALARM"
    assert a["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints [")
    assert a["StateReason"].endswith(
        "were greater than the threshold (80.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )


@pytest.mark.parametrize(
    "treat,expected",
    [
        ("missing", "INSUFFICIENT_DATA"),
        ("breaching", "ALARM"),
        ("notBreaching", "OK"),
        ("ignore", "OK"),  # keeps the state it had
    ],
)
def test_all_missing_by_treat_missing_data(treat, expected):
    h = Harness()
    h.alarm(TreatMissingData=treat, EvaluationPeriods=2)
    h.put(10.0, T0 + 1)
    h.put(10.0, T0 + 11)
    assert h.at(T0 + 20.5)["StateValue"] == "OK"
    a = h.at(T0 + 40.5)  # the two periods [20, 40) hold no data
    assert a["StateValue"] == expected
    if treat == "missing":
        assert a["StateReason"] == "Insufficient Data: 2 datapoints were unknown."
    if treat == "breaching":
        assert a["StateReason"] == (
            "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
            "datapoints were treated as [Breaching]."
        )


def test_partly_missing_counts_by_treat_missing_data():
    rows = [(0.0, 90.0, 1.0), (10.0, None, 0.0), (20.0, 10.0, 1.0)]
    base = {
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 80.0,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Period": 10,
        "Statistic": "Average",
    }
    assert decide({**base, "TreatMissingData": "breaching"}, rows, 30.0, "OK").state == "ALARM"
    assert decide({**base, "TreatMissingData": "notBreaching"}, rows, 30.0, "OK").state == "OK"
    assert decide({**base, "TreatMissingData": "missing"}, rows, 30.0, "OK").state == "OK"
    lone = [(0.0, None, 0.0), (10.0, None, 0.0), (20.0, 95.0, 1.0)]
    assert decide({**base, "TreatMissingData": "missing"}, lone, 30.0, "OK").state == "ALARM"


def test_set_alarm_state_holds_until_next_boundary():
    h = Harness()
    h.alarm()
    h.put(10.0, T0 + 1)
    assert h.at(T0 + 10.5)["StateValue"] == "OK"
    h.clock.t = T0 + 12
    asyncio.run(h.engine.set_state(A, R, "a1", "ALARM", "testing", None))
    assert h.at(T0 + 13)["StateValue"] == "ALARM"
    assert h.at(T0 + 19.9)["StateReason"] == "testing"
    assert h.at(T0 + 20.5)["StateValue"] == "INSUFFICIENT_DATA"  # no data in [10, 20)


def test_ec2_action_and_failed_action_history():
    h = Harness(fail={"sns"})
    dims = [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}]
    h.alarm(
        Dimensions=dims,
        AlarmActions=[
            "arn:aws:automate:us-east-1:ec2:stop",
            "arn:aws:sns:us-east-1:000000000000:ops",
        ],
        OKActions=[
            "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x:autoScalingGroupName/g:policyName/up"
        ],
    )
    h.put(99.0, T0 + 2, dims=dims)
    assert h.at(T0 + 10.2)["StateValue"] == "ALARM"
    assert h.calls[0] == (
        "ec2",
        "StopInstances",
        {"InstanceIds": ["i-0123456789abcdef0"]},
        A,
        R,
    )
    service, op, params, _, _ = h.calls[1]
    assert (service, op) == ("sns", "Publish")
    assert json.loads(params["Message"])["NewStateValue"] == "ALARM"
    actions = {r[4]: json.loads(r[5]) for r in h.history("Action")}
    ok = actions["Successfully executed action arn:aws:automate:us-east-1:ec2:stop"]
    assert ok["actionState"] == "Succeeded"
    failed = [v for k, v in actions.items() if k.startswith("Failed to execute action")]
    assert failed[0]["actionState"] == "Failed" and "not implemented" in failed[0]["error"]
    h.put(1.0, T0 + 12, dims=dims)
    assert h.at(T0 + 20.2)["StateValue"] == "OK"
    assert h.calls[-1][:2] == ("autoscaling", "ExecutePolicy")


def test_disabled_actions_do_not_run():
    h = Harness()
    h.alarm(AlarmActions=["arn:aws:sns:us-east-1:000000000000:ops"], ActionsEnabled=False)
    h.put(99.0, T0 + 2)
    assert h.at(T0 + 10.2)["StateValue"] == "ALARM"
    assert h.calls == []


def test_composite_alarm_follows_its_rule():
    h = Harness()
    h.alarm()
    h.alarm(AlarmName="a2", MetricName="Mem")
    rule = 'ALARM("a1") AND NOT ALARM(a2) OR FALSE'
    exists = lambda n: h.engine.get(A, R, n.split(":alarm:")[-1]) is not None  # noqa: E731
    cfg = alarm_config.composite_alarm({"AlarmName": "c", "AlarmRule": rule}, exists)
    h.engine.put(A, R, cfg, "CompositeAlarm")
    h.put(99.0, T0 + 2)
    h.put(99.0, T0 + 2, name="Mem")
    h.at(T0 + 10.2)
    assert h.engine.get(A, R, "c")["StateValue"] == "OK"
    h.put(1.0, T0 + 12, name="Mem")
    h.put(99.0, T0 + 12)
    h.at(T0 + 20.2)
    c = h.engine.get(A, R, "c")
    assert c["StateValue"] == "ALARM"
    assert "alarm:a2 transitioned to OK" in c["StateReason"]


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"Period": 15}, "Period"),
        ({"DatapointsToAlarm": 3}, "DatapointsToAlarm"),
        ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "require ThresholdMetricId"),
        ({"TreatMissingData": "sometimes"}, "TreatMissingData"),
        ({"Statistic": None}, "Statistic"),
        ({"ExtendedStatistic": "p90"}, "Statistic"),
    ],
)
def test_alarm_validation(kw, needle):
    h = Harness()
    with pytest.raises(Exception) as exc:
        h.alarm(**kw)
    assert exc.value.code == "ValidationException" and needle in exc.value.message


def test_composite_set_state_holds_until_a_child_changes():
    h = Harness()
    h.alarm()
    exists = lambda n: h.engine.get(A, R, n) is not None  # noqa: E731
    cfg = alarm_config.composite_alarm({"AlarmName": "c", "AlarmRule": "ALARM(a1)"}, exists)
    h.engine.put(A, R, cfg, "CompositeAlarm")
    h.at(T0 + 0.5)
    assert h.engine.get(A, R, "c")["StateValue"] == "OK"
    asyncio.run(h.engine.set_state(A, R, "c", "ALARM", "drill", None))
    h.at(T0 + 1.5)
    assert h.engine.get(A, R, "c")["StateValue"] == "ALARM"
    h.put(99.0, T0 + 2)
    h.at(T0 + 10.5)  # a1 goes to ALARM: the rule still holds
    h.put(1.0, T0 + 12)
    h.at(T0 + 20.5)  # a1 goes to OK: the composite follows
    assert h.engine.get(A, R, "c")["StateValue"] == "OK"
