"""Load balancer metrics in CloudWatch, counted from the traffic really carried.

A private server publishes every second (``CLOUDLET_ELB_METRICS_INTERVAL``);
the tests send known traffic and read the figures back with
GetMetricStatistics, the way a dashboard or an alarm would.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import eventually, launch, wait
from tests.services.elbv2_helpers import HEALTH, Backend, request
from tests.services.names import unique

USER_DATA = "#!/bin/bash\nmkdir -p www && echo hi > www/index.html\ncd www\n"
USER_DATA += "exec python3 -m http.server 8080\n"


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(env={"CLOUDLET_ELB_METRICS_INTERVAL": "1"})
    yield srv
    srv.stop()


def _stat(cw, namespace: str, name: str, dims: dict[str, str], stat: str = "Sum") -> float:
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=600,
        Statistics=[stat],
    )["Datapoints"]
    return (
        sum(p[stat] for p in points)
        if stat in ("Sum", "SampleCount")
        else (max((p[stat] for p in points), default=0.0))
    )


def test_alb_request_counts_codes_latency_and_hosts(server):
    elbv2, cw = server.client("elbv2"), server.client("cloudwatch")
    backend = Backend("one")
    try:
        tg = elbv2.create_target_group(
            Name=unique("m"),
            Protocol="HTTP",
            Port=backend.port,
            VpcId="vpc-1",
            TargetType="ip",
            HealthCheckPath="/health",
            **HEALTH,
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": backend.port}]
        )
        lb = elbv2.create_load_balancer(Name=unique("m"), Subnets=[])["LoadBalancers"][0]
        listener = elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=8090,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )["Listeners"][0]
        elbv2.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/nope"]}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )
        for _ in range(5):
            assert request(lb["DNSName"], 8090, "/x")[0] == 200
        assert request(lb["DNSName"], 8090, "/nope")[0] == 404

        lb_dim = {"LoadBalancer": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}
        both = {**lb_dim, "TargetGroup": tg.split(":")[-1]}
        ns = "AWS/ApplicationELB"
        eventually(lambda: _stat(cw, ns, "RequestCount", lb_dim) == 6, timeout=10)
        assert _stat(cw, ns, "RequestCount", both) == 5
        assert _stat(cw, ns, "HTTPCode_Target_2XX_Count", lb_dim) == 5
        assert _stat(cw, ns, "HTTPCode_ELB_4XX_Count", lb_dim) == 1
        assert _stat(cw, ns, "TargetResponseTime", lb_dim, "SampleCount") == 5
        assert 0 < _stat(cw, ns, "TargetResponseTime", lb_dim, "Maximum") < 5
        eventually(lambda: _stat(cw, ns, "HealthyHostCount", both, "Maximum") == 1, timeout=20)

        # A group whose only target refuses connections: the balancer fails open to
        # it, answers 502 itself, and the target is counted unhealthy.
        dead = elbv2.create_target_group(
            Name=unique("d"), Protocol="HTTP", Port=9, VpcId="vpc-1", TargetType="ip", **HEALTH
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=dead, Targets=[{"Id": "127.0.0.1", "Port": 9}])
        elbv2.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=2,
            Conditions=[{"Field": "path-pattern", "Values": ["/dead"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": dead}],
        )
        assert request(lb["DNSName"], 8090, "/dead")[0] == 502
        eventually(lambda: _stat(cw, ns, "HTTPCode_ELB_502_Count", lb_dim) == 1, timeout=10)
        assert _stat(cw, ns, "HTTPCode_ELB_5XX_Count", lb_dim) == 1
        dead_dims = {**lb_dim, "TargetGroup": dead.split(":")[-1]}
        eventually(
            lambda: _stat(cw, ns, "UnHealthyHostCount", dead_dims, "Maximum") == 1, timeout=25
        )
    finally:
        backend.stop()


def test_classic_request_count_latency_and_hosts(server):
    elb, ec2, cw = server.client("elb"), server.client("ec2"), server.client("cloudwatch")
    ids = launch(ec2, USER_DATA)
    wait(ec2, "instance_running", ids)
    name = unique("clbm")
    try:
        dns = elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 8091, "InstancePort": 8080}],
            AvailabilityZones=["us-east-1a"],
        )["DNSName"]
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTP:8080/index.html",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": ids[0]}]
        )
        eventually(lambda: request(dns, 8091, "/index.html")[0] == 200, timeout=20)
        for _ in range(3):
            assert request(dns, 8091, "/index.html")[0] == 200
        dims = {"LoadBalancerName": name}
        eventually(lambda: _stat(cw, "AWS/ELB", "HTTPCode_Backend_2XX", dims) == 4, timeout=10)
        assert _stat(cw, "AWS/ELB", "RequestCount", dims) >= 4
        assert _stat(cw, "AWS/ELB", "Latency", dims, "SampleCount") >= 4
        assert _stat(cw, "AWS/ELB", "HealthyHostCount", dims, "Maximum") == 1
    finally:
        elb.delete_load_balancer(LoadBalancerName=name)
        ec2.terminate_instances(InstanceIds=ids)
