"""The textbook scenario, end to end, with boto 2 calls as the slides write them.

An AutoScaling group (min 1, max 2) of web servers behind a classic load
balancer, scaled by two CloudWatch alarms on the group's average
CPUUtilization: ``> 70`` runs a ChangeInCapacity +1 policy, ``< 40`` a -1
policy. Each instance's user data serves its instance id with
``python3 -m http.server 8080`` and runs a (niced) burner that spins the CPU
while a file the test controls exists. With the load on, the group grows to
two instances, both go InService behind the balancer and traffic reaches
both; with the load off, it shrinks back to one, and the removed instance
leaves the balancer. A dedicated server samples instance CPU every second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE
from tests.services.elbv2_helpers import request
from tests.services.names import unique

LB_PORT = 80 if os.geteuid() == 0 else 8080
ZONES = ["us-east-1a", "us-east-1b"]
POLL = 0.5

BURNER = """\
import os, time
while True:
    if os.path.exists({flag!r}):
        end = time.monotonic() + 0.2
        while time.monotonic() < end:
            pass
    else:
        time.sleep(0.2)
"""

USER_DATA = """\
#!/bin/bash
mkdir -p www && echo "$CLOUDLET_INSTANCE_ID" > www/index.html
cat > burn.py <<'EOF'
{burner}EOF
nice -n 19 python3 burn.py &
cd www && exec python3 -m http.server 8080
"""


@pytest.fixture(scope="module")
def server() -> Iterator[CloudletServer]:
    srv = CloudletServer.start(env={"CLOUDLET_EC2_METRICS_INTERVAL": "1"})
    try:
        yield srv
    finally:
        srv.stop()


def until(what: str, fn: Callable[[], Any], timeout: float) -> Any:
    """Poll ``fn`` every 0.5 s until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(POLL)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def connect(cls: type, server: CloudletServer, service: str) -> Any:
    """A boto 2 connection to ``server`` (plain HTTP; SigV4 scoped to ``service``)."""
    from boto.regioninfo import RegionInfo

    conn = cls(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        is_secure=False,
        port=server.port,
        region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"),
    )
    conn.auth_region_name, conn.auth_service_name = "us-east-1", service
    return conn


def test_textbook_autoscaling_behind_a_load_balancer(server, tmp_path: Path):
    pytest.importorskip("boto", reason="boto 2 is not installed")
    from boto.ec2.autoscale import (
        AutoScaleConnection,
        AutoScalingGroup,
        LaunchConfiguration,
        ScalingPolicy,
    )
    from boto.ec2.cloudwatch import CloudWatchConnection, MetricAlarm
    from boto.ec2.connection import EC2Connection
    from boto.ec2.elb import ELBConnection, HealthCheck

    started = time.monotonic()
    ec2 = connect(EC2Connection, server, "ec2")
    elb = connect(ELBConnection, server, "elasticloadbalancing")
    autoscale = connect(AutoScaleConnection, server, "autoscaling")
    cloudwatch = connect(CloudWatchConnection, server, "monitoring")

    flag = tmp_path / "burn"
    flag.touch()  # the load is on from the first boot
    name = unique("textbook")
    marks: dict[str, float] = {}

    lb = elb.create_load_balancer(name, ZONES, listeners=[(LB_PORT, 8080, "http")])
    alarms: list[str] = []
    group_made = False
    try:
        lb.configure_health_check(
            HealthCheck(
                target="HTTP:8080/index.html",
                interval=5,
                timeout=2,
                healthy_threshold=2,
                unhealthy_threshold=2,
            )
        )
        lc = LaunchConfiguration(
            name=name,
            image_id=IMAGE,
            instance_type="t2.micro",
            user_data=USER_DATA.format(burner=BURNER.format(flag=str(flag))),
        )
        autoscale.create_launch_configuration(lc)
        autoscale.create_auto_scaling_group(
            AutoScalingGroup(
                group_name=name,
                launch_config=lc,
                availability_zones=ZONES,
                load_balancers=[name],
                min_size=1,
                max_size=2,
                connection=autoscale,
            )
        )
        group_made = True
        arns = {}
        for policy, change in (("scale-up", 1), ("scale-down", -1)):
            autoscale.create_scaling_policy(
                ScalingPolicy(
                    name=policy,
                    adjustment_type="ChangeInCapacity",
                    as_name=name,
                    scaling_adjustment=change,
                    cooldown=5,
                )
            )
            (found,) = autoscale.get_all_policies(as_group=name, policy_names=[policy])
            arns[policy] = found.policy_arn
        for alarm, comparison, threshold, policy in (
            (f"{name}-cpu-high", ">", 70, "scale-up"),
            (f"{name}-cpu-low", "<", 40, "scale-down"),
        ):
            cloudwatch.create_alarm(
                MetricAlarm(
                    name=alarm,
                    namespace="AWS/EC2",
                    metric="CPUUtilization",
                    statistic="Average",
                    comparison=comparison,
                    threshold=threshold,
                    period=10,
                    evaluation_periods=1,
                    alarm_actions=[arns[policy]],
                    dimensions={"AutoScalingGroupName": name},
                )
            )
            alarms.append(alarm)

        def members() -> list[str] | None:
            """The group's instance ids when all are InService (else None)."""
            (grp,) = autoscale.get_all_groups(names=[name])
            if all(i.lifecycle_state == "InService" for i in grp.instances):
                return sorted(i.instance_id for i in grp.instances)
            return None

        def health() -> dict[str, str]:
            return {s.instance_id: s.state for s in elb.describe_instance_health(name)}

        # load on: the high alarm fires, the group grows to its max of two
        pair = until("group grows to 2", lambda: (m := members()) and len(m) == 2 and m, 60)
        marks["grown to 2"] = time.monotonic() - started
        for iid in pair:
            (res,) = ec2.get_all_reservations(instance_ids=[iid])
            assert res.instances[0].state == "running"
        # both are registered with the balancer and pass its health checks
        until("both InService", lambda: health() == dict.fromkeys(pair, "InService"), 30)
        marks["both InService"] = time.monotonic() - started
        bodies = set()
        for _ in range(8):
            status, _, body = request(lb.dns_name, LB_PORT, "/index.html")
            assert status == 200, (status, body)
            bodies.add(body.decode().strip())
        assert bodies == set(pair)
        (high,) = cloudwatch.describe_alarms(alarm_names=[f"{name}-cpu-high"])
        assert high.state_value == "ALARM"

        # load off: the low alarm fires, the group shrinks back to its min of one
        flag.unlink()
        (kept,) = until("group shrinks to 1", lambda: (m := members()) and len(m) == 1 and m, 60)
        marks["shrunk to 1"] = time.monotonic() - started
        assert kept in pair
        (removed,) = set(pair) - {kept}
        until("removed one deregistered", lambda: set(health()) == {kept}, 15)
        (desc,) = elb.get_all_load_balancers(load_balancer_names=[name])
        assert [i.id for i in desc.instances] == [kept]
        until(
            "removed one terminated",
            lambda: (
                ec2.get_all_reservations(instance_ids=[removed])[0].instances[0].state
                == "terminated"
            ),
            20,
        )
        until("kept one InService", lambda: health() == {kept: "InService"}, 15)
        status, _, body = request(lb.dns_name, LB_PORT, "/index.html")
        assert (status, body.decode().strip()) == (200, kept)
        (grp,) = autoscale.get_all_groups(names=[name])
        assert grp.desired_capacity == 1
        causes = [a.cause for a in autoscale.get_all_activities(name)]
        assert any("policy scale-up" in c for c in causes), causes
        assert any("policy scale-down" in c for c in causes), causes
        marks["done"] = time.monotonic() - started
        print("textbook timings (s):", {k: round(v, 1) for k, v in marks.items()})
    finally:
        flag.unlink(missing_ok=True)
        if alarms:
            cloudwatch.delete_alarms(alarms)
        if group_made:
            autoscale.delete_auto_scaling_group(name, force_delete=True)
        autoscale.delete_launch_configuration(name)
        elb.delete_load_balancer(name)
