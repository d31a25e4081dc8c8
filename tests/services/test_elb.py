"""Classic load balancers in front of real EC2 instances, driven by boto3.

Two instances serve different bodies with ``python3 -m http.server`` from
their user data; the load balancer listens on its own loopback address (its
DNSName) and probes them as ConfigureHealthCheck says (5 s interval,
thresholds of 2, AWS's minimums), so each wait is bounded by about 15 s.
"""

from __future__ import annotations

import os
import socket

import pytest

from tests.services.ec2_helpers import eventually, launch, wait
from tests.services.elbv2_helpers import request
from tests.services.names import unique

PORT = 80 if os.geteuid() == 0 else 8080
USER_DATA = (
    '#!/bin/bash\nmkdir -p www && echo "hi from $CLOUDLET_INSTANCE_ID" > www/index.html\n'
    "echo ok > www/health\ncd www && exec python3 -m http.server 8080\n"
)


def _states(elb, name: str) -> dict[str, str]:
    res = elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
    return {s["InstanceId"]: s["State"] for s in res}


def _body(host: str, port: int) -> str:
    status, _, body = request(host, port, "/index.html")
    assert status == 200, (status, body)
    return body.decode().strip()


@pytest.fixture
def instances(aws_client):
    ec2 = aws_client("ec2")
    ids = launch(ec2, USER_DATA, count=2)
    wait(ec2, "instance_running", ids)
    yield ids
    ec2.terminate_instances(InstanceIds=ids)


def test_classic_balancer_carries_traffic_and_follows_health(aws_client, instances):
    elb, ec2 = aws_client("elb"), aws_client("ec2")
    name = unique("clb")
    dns = elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": PORT, "InstancePort": 8080},
            {"Protocol": "TCP", "LoadBalancerPort": 8081, "InstancePort": 8080},
        ],
        AvailabilityZones=["us-east-1a"],
    )["DNSName"]
    try:
        hc = elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTP:8080/health",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )["HealthCheck"]
        assert hc["Target"] == "HTTP:8080/health"
        registered = elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": i} for i in instances]
        )["Instances"]
        assert {i["InstanceId"] for i in registered} == set(instances)
        # a classic load balancer does not fail open: nothing InService yet -> 503
        assert set(_states(elb, name).values()) == {"OutOfService"}
        assert request(dns, PORT)[0] == 503
        eventually(lambda: set(_states(elb, name).values()) == {"InService"}, timeout=20)
        bodies = {_body(dns, PORT) for _ in range(4)}
        assert bodies == {f"hi from {i}" for i in instances}
        assert {_body(dns, 8081) for _ in range(4)} == bodies  # the TCP listener
        # killing one backend takes it out of service, and traffic goes to the other
        ec2.stop_instances(InstanceIds=[instances[1]])
        eventually(lambda: _states(elb, name)[instances[1]] == "OutOfService", timeout=20)
        assert {_body(dns, PORT) for _ in range(4)} == {f"hi from {instances[0]}"}
        left = elb.deregister_instances_from_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": instances[1]}]
        )["Instances"]
        assert left == [{"InstanceId": instances[0]}]
        zones = elb.enable_availability_zones_for_load_balancer(
            LoadBalancerName=name, AvailabilityZones=["us-east-1b"]
        )["AvailabilityZones"]
        assert zones == ["us-east-1a", "us-east-1b"]
        zones = elb.disable_availability_zones_for_load_balancer(
            LoadBalancerName=name, AvailabilityZones=["us-east-1a"]
        )["AvailabilityZones"]
        assert zones == ["us-east-1b"]
        desc = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        assert desc[0]["DNSName"] == dns and desc[0]["Instances"] == left
    finally:
        elb.delete_load_balancer(LoadBalancerName=name)
    with pytest.raises(ConnectionRefusedError), socket.create_connection((dns, PORT), 2):
        pass
    with pytest.raises(elb.exceptions.AccessPointNotFoundException):
        elb.describe_load_balancers(LoadBalancerNames=[name])


def test_classic_errors(aws_client):
    elb = aws_client("elb")
    name = unique("clb")
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 8080, "InstancePort": 80}]
    elb.create_load_balancer(
        LoadBalancerName=name, Listeners=listeners, AvailabilityZones=["us-east-1a"]
    )
    try:
        with pytest.raises(elb.exceptions.DuplicateAccessPointNameException):
            elb.create_load_balancer(
                LoadBalancerName=name, Listeners=listeners, AvailabilityZones=["us-east-1a"]
            )
        with pytest.raises(elb.exceptions.InvalidEndPointException):
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": "i-0123456789abcdef0"}]
            )
        hc = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        assert hc[0]["HealthCheck"]["Target"] == "TCP:80"
        attrs = elb.modify_load_balancer_attributes(
            LoadBalancerName=name,
            LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": 5}},
        )["LoadBalancerAttributes"]
        assert attrs["ConnectionDraining"] == {"Enabled": True, "Timeout": 5}
    finally:
        elb.delete_load_balancer(LoadBalancerName=name)
