"""A Django app started by an instance's user data, served through load balancers.

The user data creates a project with ``django startproject``, allows every
host, adds one tiny view that names the instance, and runs Django's
development server on ``0.0.0.0:8000`` (so on the instance's address). An
ALB (``instance`` target) and a classic ELB both forward to it; the page
comes back through each one's DNSName. Health checks every 5 s with
thresholds of 2, so the whole test is bounded by about a minute.
"""

from __future__ import annotations

import os
import shlex
import sys

import pytest

from tests.services.ec2_helpers import console, eventually, launch, wait
from tests.services.elbv2_helpers import HEALTH, request
from tests.services.names import unique

pytest.importorskip("django", reason="Django is not installed")

PORT = 80 if os.geteuid() == 0 else 8080
# the interpreter running the tests, which has Django (``python3`` in the README)
PY = shlex.quote(sys.executable)
USER_DATA = f"""#!/bin/bash
set -e
{PY} -m django startproject mysite
cd mysite
sed -i "s/^ALLOWED_HOSTS = .*/ALLOWED_HOSTS = ['*']/" mysite/settings.py
cat >> mysite/urls.py <<'EOF'

import os  # noqa: E402
from django.http import HttpResponse  # noqa: E402

urlpatterns.append(
    path("hello/", lambda request: HttpResponse(f"django on {{os.environ['CLOUDLET_INSTANCE_ID']}}"))
)
EOF
exec {PY} manage.py runserver 0.0.0.0:8000 --noreload
"""


def test_django_served_through_alb_and_classic_elb(aws_client):
    ec2, elb, elbv2 = aws_client("ec2"), aws_client("elb"), aws_client("elbv2")
    (iid,) = launch(ec2, USER_DATA)
    alb_arn = tg_arn = clb = ""
    try:
        wait(ec2, "instance_running", [iid])
        tg_arn = elbv2.create_target_group(
            Name=unique("django"),
            Protocol="HTTP",
            Port=8000,
            VpcId="vpc-1",
            TargetType="instance",
            HealthCheckPath="/hello/",
            **HEALTH,
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": iid}])
        alb = elbv2.create_load_balancer(Name=unique("django"), Subnets=[])["LoadBalancers"][0]
        alb_arn = alb["LoadBalancerArn"]
        elbv2.create_listener(
            LoadBalancerArn=alb_arn,
            Protocol="HTTP",
            Port=PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )
        clb = unique("django")
        clb_dns = elb.create_load_balancer(
            LoadBalancerName=clb,
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": PORT, "InstancePort": 8000}],
            AvailabilityZones=["us-east-1a"],
        )["DNSName"]
        elb.configure_health_check(
            LoadBalancerName=clb,
            HealthCheck={
                "Target": "HTTP:8000/hello/",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        elb.register_instances_with_load_balancer(
            LoadBalancerName=clb, Instances=[{"InstanceId": iid}]
        )

        def alb_healthy() -> bool:
            res = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
            return [d["TargetHealth"]["State"] for d in res] == ["healthy"]

        def clb_in_service() -> bool:
            res = elb.describe_instance_health(LoadBalancerName=clb)["InstanceStates"]
            return [s["State"] for s in res] == ["InService"]

        try:
            eventually(alb_healthy, timeout=45, interval=0.5)
            eventually(clb_in_service, timeout=15, interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nconsole:\n{console(ec2, iid)}") from None
        for host in (alb["DNSName"], clb_dns):
            status, headers, body = request(host, PORT, "/hello/")
            assert status == 200, (host, status, body)
            assert body.decode() == f"django on {iid}"
            assert headers["content-type"].startswith("text/html")
            # a path the app does not route: Django's own 404, carried back as is
            assert request(host, PORT, "/nope/")[0] == 404
    finally:
        if alb_arn:
            elbv2.delete_load_balancer(LoadBalancerArn=alb_arn)
        if tg_arn:
            elbv2.delete_target_group(TargetGroupArn=tg_arn)
        if clb:
            elb.delete_load_balancer(LoadBalancerName=clb)
        ec2.terminate_instances(InstanceIds=[iid])
