"""EC2 and CloudWatch benchmark: the issue's three targets, measured in one run.

    python -m bench.ec2

Starts one ephemeral cloudlet server as a child process and prints:

- RunInstances to ``running`` per instance: the time from the RunInstances call
  to the DescribeInstances answer that first shows the instance ``running``
  (polled back to back), for 1 instance at a time (median of rounds) and for 10
  launched by one call (each instance's own time; median and max), vs 300 ms;
- cloudlet's own RSS growth per instance with 50 instances running at once (the
  server process only, not the instances' processes), vs 2 MiB, and the
  server's CPU while they idle (the supervision and CPU-sampling loops);
- alarm transition latency: high values put (1-second resolution) on a metric
  with a Period=10 alarm; the time from the end of the period whose data
  decides the alarm to its StateTransitionedTimestamp, and to the first
  DescribeAlarms (polled every 0.1 s) showing ALARM, vs 2 s.

Every instance is terminated and reaped (DescribeInstances shows it
``terminated``) before the server is stopped.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from datetime import UTC, datetime

import psutil
from botocore.config import Config

from cloudlet.testing import CloudletServer

IMAGE = "ami-0123456789abcdef0"
MiB = 1024 * 1024


def _states(ec2, ids: list[str]) -> dict[str, str]:
    out = {}
    for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=ids):
        for res in page["Reservations"]:
            for inst in res["Instances"]:
                out[inst["InstanceId"]] = inst["State"]["Name"]
    return out


def launch_to_running(ec2, count: int) -> tuple[list[str], list[float]]:
    """Launch ``count`` instances in one call; seconds from the call to each one
    first showing ``running``."""
    t0 = time.perf_counter()
    res = ec2.run_instances(ImageId=IMAGE, MinCount=count, MaxCount=count, InstanceType="t2.micro")
    ids = [i["InstanceId"] for i in res["Instances"]]
    seen: dict[str, float] = {}
    deadline = t0 + 60
    while len(seen) < count and time.perf_counter() < deadline:
        states = _states(ec2, ids)
        now = time.perf_counter()
        for iid, state in states.items():
            if state == "running" and iid not in seen:
                seen[iid] = now - t0
    if len(seen) < count:
        raise RuntimeError("instances did not reach running in 60 s")
    return ids, [seen[i] for i in ids]


def terminate_all(ec2, ids: list[str]) -> None:
    for start in range(0, len(ids), 100):
        ec2.terminate_instances(InstanceIds=ids[start : start + 100])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = _states(ec2, ids)
        if all(s == "terminated" for s in states.values()):
            return
        time.sleep(0.2)
    raise RuntimeError("instances not terminated in 60 s")


def alarm_latency(cw) -> tuple[float, float]:
    """One Period=10 alarm driven to ALARM by put data: seconds from the deciding
    period's end to the recorded transition, and to the first poll showing it."""
    ns, name = f"Bench/{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=ns,
        MetricName="Load",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    first_put: float | None = None
    next_put = 0.0
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            now = time.time()
            if now >= next_put:
                cw.put_metric_data(
                    Namespace=ns,
                    MetricData=[
                        {
                            "MetricName": "Load",
                            "Value": 90.0,
                            "StorageResolution": 1,
                            "Timestamp": datetime.now(UTC),
                        }
                    ],
                )
                if first_put is None:
                    first_put = now
                next_put = now + 0.5
            alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            if alarm["StateValue"] == "ALARM":
                seen = time.time()
                assert first_put is not None
                period_end = (math.floor(first_put / 10) + 1) * 10
                moved = alarm["StateTransitionedTimestamp"].timestamp()
                return moved - period_end, seen - period_end
            time.sleep(0.1)
        raise RuntimeError("alarm did not fire in 30 s")
    finally:
        cw.delete_alarms(AlarmNames=[name])


def main() -> None:
    server = CloudletServer.start()
    ids: list[str] = []
    try:
        cfg = Config(retries={"max_attempts": 0})
        ec2 = server.client("ec2", config=cfg)
        cw = server.client("cloudwatch", config=cfg)
        me = psutil.Process(server.proc.pid)  # type: ignore[union-attr]

        # warm up: code paths, default VPC and security group, the instance root
        warm, _ = launch_to_running(ec2, 1)
        terminate_all(ec2, warm)

        singles = []
        for _ in range(10):
            one, times = launch_to_running(ec2, 1)
            ids += one
            singles += times
        ten, ten_times = launch_to_running(ec2, 10)
        ids += ten
        terminate_all(ec2, ids)
        print(
            "RunInstances -> running, 1 at a time: "
            f"median {statistics.median(singles) * 1000:.0f} ms, "
            f"max {max(singles) * 1000:.0f} ms (target <= 300 ms)"
        )
        print(
            "RunInstances -> running, 10 in one call: "
            f"median {statistics.median(ten_times) * 1000:.0f} ms, "
            f"max {max(ten_times) * 1000:.0f} ms per instance, "
            f"{max(ten_times) / 10 * 1000:.0f} ms per instance amortised (target <= 300 ms)"
        )

        time.sleep(1.0)
        before = me.memory_info().rss
        fifty, _ = launch_to_running(ec2, 50)
        ids += fifty
        me.cpu_percent()
        time.sleep(6.0)  # a monitor and a metrics cycle or more with all 50 running
        idle_cpu = me.cpu_percent()
        after = me.memory_info().rss
        running = sum(1 for s in _states(ec2, fifty).values() if s == "running")
        growth = (after - before) / 50
        print(
            f"50 instances running ({running} running): cloudlet RSS "
            f"{before / MiB:.1f} -> {after / MiB:.1f} MiB, "
            f"{growth / MiB:.3f} MiB per instance (target <= 2 MiB); "
            f"server CPU while they idle (supervision + CPU sampling): {idle_cpu:.1f}%"
        )
        terminate_all(ec2, fifty)

        moved, seen = zip(*(alarm_latency(cw) for _ in range(3)), strict=True)
        print(
            "alarm transition after the deciding period closes: "
            f"recorded {statistics.median(moved):.2f} s (max {max(moved):.2f}), "
            f"seen by a 0.1 s poll {statistics.median(seen):.2f} s (max {max(seen):.2f}) "
            "(target <= 2 s)"
        )
    finally:
        try:
            if ids:
                terminate_all(server.client("ec2"), ids)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
