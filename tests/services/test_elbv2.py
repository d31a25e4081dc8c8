"""Application load balancers that carry real traffic, driven by boto3.

Each load balancer listens on its own loopback address (its DNSName) and the
listener's port; targets are small HTTP servers this test starts on
127.0.0.1 (``ip`` targets) or EC2 instances serving from user data
(``instance`` targets). Health checks run every 5 s with thresholds of 2
(AWS's minimums), so each wait is bounded by about 15 s.
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.services.ec2_helpers import eventually, launch, wait
from tests.services.elbv2_helpers import HEALTH, Backend, request, served_by, states
from tests.services.names import unique

PORT = 80 if os.geteuid() == 0 else 8080


@pytest.fixture
def elbv2(aws_client):
    return aws_client("elbv2")


@pytest.fixture
def backends():
    made: list[Backend] = []

    def make(name: str) -> Backend:
        made.append(Backend(name))
        return made[-1]

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def balancer(elbv2):
    made: list[str] = []

    def make(default_actions: list | None = None, tg_arn: str | None = None):
        lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=[], Type="application")
        lb = lb["LoadBalancers"][0]
        made.append(lb["LoadBalancerArn"])
        actions = default_actions or [{"Type": "forward", "TargetGroupArn": tg_arn}]
        listener = elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=PORT,
            DefaultActions=actions,
        )["Listeners"][0]
        return lb, listener

    yield make
    for lb_arn in made:
        elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)


def _group(elbv2, target_type: str = "ip", **extra) -> str:
    return elbv2.create_target_group(
        Name=unique("tg"),
        Protocol="HTTP",
        Port=80,
        VpcId="vpc-1",
        TargetType=target_type,
        HealthCheckPath="/health",
        **HEALTH,
        **extra,
    )["TargetGroups"][0]["TargetGroupArn"]


def _register(elbv2, tg: str, *servers: Backend) -> None:
    elbv2.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in servers]
    )


def _all_healthy(elbv2, tg: str, count: int) -> bool:
    found = states(elbv2, tg)
    return len(found) == count and set(found.values()) == {"healthy"}


def test_round_robin_health_and_forwarded_headers(elbv2, backends, balancer):
    a, b = backends("a"), backends("b")
    tg = _group(elbv2)
    assert set(states(elbv2, tg).values()) == set()
    _register(elbv2, tg, a, b)
    assert set(states(elbv2, tg).values()) == {"unused"}
    lb, _ = balancer(tg_arn=tg)
    host = lb["DNSName"]
    assert lb["State"]["Code"] == "active"
    eventually(lambda: _all_healthy(elbv2, tg, 2), timeout=15)
    seen = [served_by(host, PORT) for _ in range(6)]
    assert seen.count("a") == 3 and seen.count("b") == 3
    status, _, body = request(host, PORT, "/x?y=1", headers={"X-Forwarded-For": "10.0.0.9"})
    echoed = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert echoed["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert echoed["x-forwarded-proto"] == "http"
    assert echoed["x-forwarded-port"] == str(PORT)
    assert json.loads(body)["path"] == "/x?y=1"
    # bodies stream through both ways
    status, _, echoed_body = request(host, PORT, "/", method="POST", body=b"x" * 200_000)
    assert status == 200 and echoed_body == b"x" * 200_000
    desc = elbv2.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]
    assert desc["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    assert desc["HealthCheckIntervalSeconds"] == 5


def test_unhealthy_target_gets_no_traffic(elbv2, backends, balancer):
    a, b = backends("a"), backends("b")
    tg = _group(elbv2)
    _register(elbv2, tg, a, b)
    lb, _ = balancer(tg_arn=tg)
    eventually(lambda: _all_healthy(elbv2, tg, 2), timeout=15)
    b.stop()
    eventually(lambda: states(elbv2, tg)[f"127.0.0.1:{b.port}"] == "unhealthy", timeout=15)
    health = elbv2.describe_target_health(
        TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port}]
    )["TargetHealthDescriptions"][0]["TargetHealth"]
    assert health["Reason"] == "Target.FailedHealthChecks"
    assert {served_by(lb["DNSName"], PORT) for _ in range(5)} == {"a"}


def test_errors_503_502_504(elbv2, backends, balancer):
    empty, down, slow = _group(elbv2), _group(elbv2), _group(elbv2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    elbv2.register_targets(TargetGroupArn=down, Targets=[{"Id": "127.0.0.1", "Port": closed_port}])
    _register(elbv2, slow, backends("slow"))
    lb, listener = balancer(tg_arn=empty)
    host = lb["DNSName"]
    status, headers, body = request(host, PORT)
    assert status == 503 and b"503 Service Temporarily Unavailable" in body
    assert headers["server"] == "awselb/2.0"
    for priority, (path, tg) in enumerate((("/down", down), ("/slow*", slow)), 1):
        elbv2.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [path]}],
            Actions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
    assert request(host, PORT, "/down")[0] == 502
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "1"}],
    )
    assert request(host, PORT, "/slow")[0] == 504
    attrs = elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "1"} in attrs["Attributes"]


def test_rules_fixed_response_and_redirect(elbv2, backends, balancer):
    api, web = backends("api"), backends("web")
    tg_api, tg_web = _group(elbv2), _group(elbv2)
    _register(elbv2, tg_api, api)
    _register(elbv2, tg_web, web)
    fixed = {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "nothing here"}
    lb, listener = balancer([{"Type": "fixed-response", "FixedResponseConfig": fixed}])
    arn, host = listener["ListenerArn"], lb["DNSName"]
    rules = [
        (
            10,
            [{"Field": "path-pattern", "Values": ["/api/*"]}],
            [{"Type": "forward", "TargetGroupArn": tg_api}],
        ),
        (
            20,
            [{"Field": "host-header", "HostHeaderConfig": {"Values": ["www.example.*"]}}],
            [{"Type": "forward", "TargetGroupArn": tg_web}],
        ),
        (
            30,
            [
                {
                    "Field": "http-header",
                    "HttpHeaderConfig": {"HttpHeaderName": "X-Team", "Values": ["blue"]},
                }
            ],
            [{"Type": "forward", "TargetGroupArn": tg_web}],
        ),
        (
            40,
            [
                {
                    "Field": "query-string",
                    "QueryStringConfig": {"Values": [{"Key": "old", "Value": "1"}]},
                }
            ],
            [{"Type": "redirect", "RedirectConfig": {"Path": "/new", "StatusCode": "HTTP_301"}}],
        ),
        (
            50,
            [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["DELETE"]}}],
            [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "405"}}],
        ),
    ]
    for priority, conditions, actions in rules:
        elbv2.create_rule(
            ListenerArn=arn, Priority=priority, Conditions=conditions, Actions=actions
        )
    with pytest.raises(elbv2.exceptions.PriorityInUseException):
        elbv2.create_rule(ListenerArn=arn, Priority=10, Conditions=rules[0][1], Actions=rules[0][2])
    assert served_by(host, PORT, "/api/users") == "api"
    assert served_by(host, PORT, "/", headers={"Host": "www.example.com"}) == "web"
    assert served_by(host, PORT, "/", headers={"X-Team": "blue"}) == "web"
    status, headers, body = request(host, PORT, "/other")
    assert (status, body, headers["content-type"]) == (404, b"nothing here", "text/plain")
    status, headers, _ = request(host, PORT, "/p?old=1", headers={"Host": "h.test"})
    assert status == 301 and headers["location"] == f"http://h.test:{PORT}/new?old=1".replace(
        ":80/", "/"
    )
    assert request(host, PORT, "/x", method="DELETE")[0] == 405
    described = elbv2.describe_rules(ListenerArn=arn)["Rules"]
    assert [r["Priority"] for r in described] == ["10", "20", "30", "40", "50", "default"]
    elbv2.delete_rule(RuleArn=described[0]["RuleArn"])
    assert request(host, PORT, "/api/users")[0] == 404


def test_weighted_forward(elbv2, backends, balancer):
    a, b = backends("a"), backends("b")
    tg_a, tg_b = _group(elbv2), _group(elbv2)
    _register(elbv2, tg_a, a)
    _register(elbv2, tg_b, b)
    lb, _ = balancer(
        [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tg_a, "Weight": 3},
                        {"TargetGroupArn": tg_b, "Weight": 1},
                    ]
                },
            }
        ]
    )
    seen = [served_by(lb["DNSName"], PORT) for _ in range(8)]
    assert seen.count("a") == 6 and seen.count("b") == 2


def test_deregistration_delay_drains(elbv2, backends, balancer):
    a, b = backends("a"), backends("b")
    tg = _group(elbv2)
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
    )
    _register(elbv2, tg, a, b)
    lb, _ = balancer(tg_arn=tg)
    eventually(lambda: _all_healthy(elbv2, tg, 2), timeout=15)
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port}])
    assert states(elbv2, tg)[f"127.0.0.1:{b.port}"] == "draining"
    assert {served_by(lb["DNSName"], PORT) for _ in range(4)} == {"a"}
    eventually(lambda: f"127.0.0.1:{b.port}" not in states(elbv2, tg), timeout=5)
    attrs = elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "2"} in attrs


def test_instance_targets_and_port_closed_after_delete(elbv2, aws_client, balancer):
    ec2 = aws_client("ec2")
    user_data = (
        '#!/bin/bash\nmkdir -p www && echo "hi from $CLOUDLET_INSTANCE_ID" > www/index.html\n'
        "echo ok > www/health\ncd www && exec python3 -m http.server 8080\n"
    )
    (iid,) = launch(ec2, user_data)
    try:
        wait(ec2, "instance_running", [iid])
        tg = _group(
            elbv2,
            "instance",
        )
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 8080}])
        lb, _ = balancer(tg_arn=tg)
        host = lb["DNSName"]
        eventually(lambda: _all_healthy(elbv2, tg, 1), timeout=20)
        status, _, body = request(host, PORT, "/index.html")
        assert status == 200 and body.decode().strip() == f"hi from {iid}"
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
        with pytest.raises(ConnectionRefusedError), socket.create_connection((host, PORT), 2):
            pass
        elbv2.delete_target_group(TargetGroupArn=tg)
        with pytest.raises(elbv2.exceptions.TargetGroupNotFoundException):
            elbv2.describe_target_groups(TargetGroupArns=[tg])
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


def test_listeners_come_back_after_restart(tmp_path, backends):
    from cloudlet.testing import CloudletServer

    a = backends("a")
    with CloudletServer.start(data_dir=tmp_path) as server:
        elbv2 = server.client("elbv2")
        tg = _group(elbv2)
        _register(elbv2, tg, a)
        lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=[])["LoadBalancers"][0]
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
        assert served_by(lb["DNSName"], PORT) == "a"
    with pytest.raises(OSError), socket.create_connection((lb["DNSName"], PORT), 2):
        pass
    with CloudletServer.start(data_dir=tmp_path) as server:
        elbv2 = server.client("elbv2")
        again = elbv2.describe_load_balancers(Names=[lb["LoadBalancerName"]])["LoadBalancers"][0]
        assert served_by(again["DNSName"], PORT) == "a"
        assert states(elbv2, tg) == {f"127.0.0.1:{a.port}": "initial"}
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
