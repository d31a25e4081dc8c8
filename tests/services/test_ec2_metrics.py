"""``AWS/EC2`` CPUUtilization sampled from instances' real processes: CPU burned
inside an instance shows in CloudWatch within 20 s (per instance and aggregated),
an idle one stays low, and a Period-10 alarm on the sampled metric stops the
instance and returns to OK. A dedicated server samples every second."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import eventually, wait
from tests.services.names import unique

BURN = "#!/bin/bash\nexec python3 -c 'while True: pass'\n"


@pytest.fixture(scope="module")
def server() -> Iterator[CloudletServer]:
    srv = CloudletServer.start(env={"CLOUDLET_EC2_METRICS_INTERVAL": "1"})
    try:
        yield srv
    finally:
        srv.stop()


def _image() -> str:
    return "ami-" + uuid.uuid4().hex[:8]


def _run(ec2, image: str, user_data: str) -> str:
    res = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro", UserData=user_data
    )
    return res["Instances"][0]["InstanceId"]


def _peak(cw, dims: list[dict], period: int = 1) -> float:
    now = datetime.now(UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=dims,
        StartTime=now - timedelta(minutes=2),
        EndTime=now + timedelta(seconds=1),
        Period=period,
        Statistics=["Maximum", "Average"],
    )["Datapoints"]
    return max((p["Maximum"] for p in points), default=-1.0)


def test_cpu_burned_in_an_instance_shows_in_cloudwatch(server):
    ec2, cw = server.client("ec2"), server.client("cloudwatch")
    image = _image()
    busy = _run(ec2, image, BURN)
    idle = _run(ec2, _image(), "#!/bin/bash\nsleep 600\n")
    started = time.monotonic()
    try:
        eventually(lambda: _peak(cw, [{"Name": "InstanceId", "Value": busy}]) > 50, 20, 0.5)
        assert time.monotonic() - started < 20
        assert _peak(cw, [{"Name": "InstanceId", "Value": busy}], period=10) > 50
        # aggregated per image (unique to this instance) and present per instance type
        eventually(lambda: _peak(cw, [{"Name": "ImageId", "Value": image}]) > 50, 5, 0.5)
        assert _peak(cw, [{"Name": "InstanceType", "Value": "t2.micro"}]) > 0
        idle_dims = [{"Name": "InstanceId", "Value": idle}]
        eventually(lambda: _peak(cw, idle_dims) >= 0, 10)
        assert _peak(cw, idle_dims) < 20
        listed = cw.list_metrics(
            Namespace="AWS/EC2", Dimensions=[{"Name": "InstanceId", "Value": busy}]
        )["Metrics"]
        assert [m["MetricName"] for m in listed] == ["CPUUtilization"]
    finally:
        ec2.terminate_instances(InstanceIds=[busy, idle])
        wait(ec2, "instance_terminated", [busy, idle])


def test_alarm_on_sampled_cpu_stops_the_instance_then_returns_to_ok(server):
    ec2, cw = server.client("ec2"), server.client("cloudwatch")
    iid = _run(ec2, _image(), BURN)
    name = unique("cpu-alarm")
    try:
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "InstanceId", "Value": iid}],
            Statistic="Average",
            Period=10,
            EvaluationPeriods=1,
            Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",  # a stopped instance publishes nothing
            AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"],
        )

        def alarm_state() -> str:
            return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]

        eventually(lambda: alarm_state() == "ALARM", 30, 0.2)
        eventually(
            lambda: (
                ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
                    "State"
                ]["Name"]
                == "stopped"
            ),
            15,
            0.2,
        )
        history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
        assert history["AlarmHistoryItems"][0]["HistorySummary"] == (
            "Successfully executed action arn:aws:automate:us-east-1:ec2:stop"
        )
        eventually(lambda: alarm_state() == "OK", 30, 0.2)
    finally:
        cw.delete_alarms(AlarmNames=[name])
        ec2.terminate_instances(InstanceIds=[iid])
        wait(ec2, "instance_terminated", [iid])
