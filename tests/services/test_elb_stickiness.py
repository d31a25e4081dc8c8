"""Sticky sessions on real traffic, and ``AWS/NetworkELB`` metrics, driven by boto3.

Clients with a cookie jar must stay on one target (or target group) while
clients without cookies are spread; targets are small HTTP servers on
127.0.0.1 (EC2 instances for classic load balancers) that can set an
application session cookie (``/login`` sets ``SESSIONID``). A private server
publishes metrics every second. Health checks run every 5 s with thresholds of
2, so each wait is bounded by about 15 s.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import socket
import struct
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import eventually, launch, wait
from tests.services.elbv2_helpers import HEALTH, Backend, request, served_by, states
from tests.services.names import unique

PORT = 8080
SERVER_CODE = """
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NAME = sys.argv[1]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = NAME.encode()
        self.send_response(200)
        if self.path == "/login":
            self.send_header("Set-Cookie", f"SESSIONID=s-{NAME}; Max-Age=600; HttpOnly; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(env={"CLOUDLET_ELB_METRICS_INTERVAL": "1"})
    yield srv
    srv.stop()


@pytest.fixture
def elbv2(server):
    return server.client("elbv2")


@pytest.fixture
def made(elbv2):
    """Backends and load balancers a test makes, closed and deleted after it."""
    things: dict[str, list[Any]] = {"backends": [], "lbs": []}
    yield things
    for lb_arn in things["lbs"]:
        elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)
    for backend in things["backends"]:
        backend.stop()


class CookieBackend:
    """A named HTTP server on 127.0.0.1 whose ``/login`` sets the ``SESSIONID`` cookie."""

    def __init__(self, name: str) -> None:
        outer = self
        self.name = name

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = json.dumps({"name": outer.name}).encode()
                self.send_response(200)
                if self.path == "/login":
                    self.send_header("Set-Cookie", f"SESSIONID=s-{outer.name}; Path=/")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """A client with a cookie jar, as a browser keeps one."""

    def __init__(self, host: str, port: int) -> None:
        self.base = f"http://{host}:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def get(self, path: str = "/") -> tuple[str, list[str]]:
        """(the body's name, or the body, and the Set-Cookie headers of the response)."""
        with self.opener.open(self.base + path, timeout=10) as resp:
            body = resp.read().decode()
            cookies = resp.headers.get_all("Set-Cookie") or []
        try:
            return json.loads(body)["name"], cookies
        except ValueError:
            return body.strip(), cookies

    def names(self) -> set[str]:
        return {c.name for c in self.jar}

    def forget(self, name: str) -> None:
        for cookie in list(self.jar):
            if cookie.name == name:
                self.jar.clear(cookie.domain, cookie.path, cookie.name)


def _group(elbv2, protocol: str = "HTTP", **attrs: str) -> str:
    tg = elbv2.create_target_group(
        Name=unique("st"),
        Protocol=protocol,
        Port=80,
        VpcId="vpc-1",
        TargetType="ip",
        **({"HealthCheckPath": "/health"} if protocol == "HTTP" else {}),
        **HEALTH,
    )["TargetGroups"][0]["TargetGroupArn"]
    if attrs:
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg, Attributes=[{"Key": k, "Value": v} for k, v in attrs.items()]
        )
    return tg


def _register(elbv2, tg: str, *backends: Any) -> None:
    elbv2.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in backends]
    )


def _balancer(elbv2, made, actions: list, kind: str = "application") -> dict:
    lb = elbv2.create_load_balancer(Name=unique("st"), Subnets=[], Type=kind)["LoadBalancers"][0]
    made["lbs"].append(lb["LoadBalancerArn"])
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP" if kind == "application" else "TCP",
        Port=PORT,
        DefaultActions=actions,
    )
    return lb


def _healthy(elbv2, tg: str, count: int) -> None:
    eventually(lambda: list(states(elbv2, tg).values()) == ["healthy"] * count, timeout=20)


def _cookie(set_cookies: list[str], name: str) -> str:
    return next(c for c in set_cookies if c.startswith(f"{name}="))


def test_lb_cookie_keeps_a_client_and_expires(elbv2, made):
    a, b = Backend("a"), Backend("b")
    made["backends"] += [a, b]
    tg = _group(
        elbv2,
        **{"stickiness.enabled": "true", "stickiness.lb_cookie.duration_seconds": "3"},
    )
    _register(elbv2, tg, a, b)
    lb = _balancer(elbv2, made, [{"Type": "forward", "TargetGroupArn": tg}])
    host = lb["DNSName"]
    _healthy(elbv2, tg, 2)
    assert {served_by(host, PORT) for _ in range(6)} == {"a", "b"}  # no cookie: spread

    browser = Browser(host, PORT)
    first, set_cookies = browser.get()
    alb, cors = _cookie(set_cookies, "AWSALB"), _cookie(set_cookies, "AWSALBCORS")
    assert "Expires=" in alb and "Path=/" in alb and "SameSite" not in alb
    assert cors.endswith("SameSite=None; Secure")
    value = alb.split(";")[0].split("=", 1)[1]
    assert value == cors.split(";")[0].split("=", 1)[1]
    assert "127.0.0.1" not in value and str(a.port) not in value  # opaque
    for _ in range(8):
        name, renewed = browser.get()
        assert name == first and _cookie(renewed, "AWSALB")  # renewed on every response

    replay = {"Cookie": f"AWSALB={value}"}
    assert {served_by(host, PORT, headers=replay) for _ in range(4)} == {first}
    forged = {"Cookie": f"AWSALB={value[:-4]}AAAA"}
    assert {served_by(host, PORT, headers=forged) for _ in range(4)} == {"a", "b"}
    time.sleep(3.5)  # the duration inside the value has passed
    assert {served_by(host, PORT, headers=replay) for _ in range(6)} == {"a", "b"}


def test_sticky_target_replaced_when_deregistered_or_unhealthy(elbv2, made):
    backends = [Backend(n) for n in ("a", "b", "c")]
    made["backends"] += backends
    tg = _group(
        elbv2,
        **{"stickiness.enabled": "true", "deregistration_delay.timeout_seconds": "0"},
    )
    _register(elbv2, tg, *backends)
    lb = _balancer(elbv2, made, [{"Type": "forward", "TargetGroupArn": tg}])
    _healthy(elbv2, tg, 3)
    browser = Browser(lb["DNSName"], PORT)
    by_name = {b.name: b for b in backends}
    first = browser.get()[0]
    elbv2.deregister_targets(
        TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": by_name[first].port}]
    )
    second = browser.get()[0]
    assert second != first
    assert {browser.get()[0] for _ in range(5)} == {second}  # the new cookie sticks
    by_name[second].stop()
    made["backends"].remove(by_name[second])
    eventually(
        lambda: states(elbv2, tg)[f"127.0.0.1:{by_name[second].port}"] == "unhealthy", timeout=20
    )
    third = browser.get()[0]
    assert third not in (first, second)
    assert {browser.get()[0] for _ in range(4)} == {third}


def test_app_cookie_stickiness(elbv2, made):
    a, b = CookieBackend("a"), CookieBackend("b")
    made["backends"] += [a, b]
    with pytest.raises(ClientError) as err:
        _group(elbv2, **{"stickiness.app_cookie.cookie_name": "AWSALBmine"})
    assert err.value.response["Error"]["Code"] == "ValidationError"
    tg = _group(
        elbv2,
        **{
            "stickiness.enabled": "true",
            "stickiness.type": "app_cookie",
            "stickiness.app_cookie.cookie_name": "SESSIONID",
            "stickiness.app_cookie.duration_seconds": "60",
        },
    )
    attrs = elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    assert {"Key": "stickiness.app_cookie.cookie_name", "Value": "SESSIONID"} in attrs
    _register(elbv2, tg, a, b)
    lb = _balancer(elbv2, made, [{"Type": "forward", "TargetGroupArn": tg}])
    _healthy(elbv2, tg, 2)
    browser = Browser(lb["DNSName"], PORT)
    seen = set()
    for _ in range(4):  # no application cookie yet: not sticky, no AWSALBAPP
        name, set_cookies = browser.get()
        seen.add(name)
        assert set_cookies == []
    assert seen == {"a", "b"}
    owner, set_cookies = browser.get("/login")
    assert _cookie(set_cookies, "SESSIONID") and _cookie(set_cookies, "AWSALBAPP-0")
    assert {browser.get()[0] for _ in range(6)} == {owner}
    browser.forget("SESSIONID")  # the application's session ended: no longer sticky
    assert "AWSALBAPP-0" in browser.names()
    assert {browser.get()[0] for _ in range(6)} == {"a", "b"}


def test_weighted_forward_keeps_a_client_on_one_group(elbv2, made):
    a, b = Backend("a"), Backend("b")
    made["backends"] += [a, b]
    tg_a, tg_b = _group(elbv2), _group(elbv2)
    _register(elbv2, tg_a, a)
    _register(elbv2, tg_b, b)
    groups = [{"TargetGroupArn": tg_a, "Weight": 1}, {"TargetGroupArn": tg_b, "Weight": 1}]
    with pytest.raises(ClientError):
        _balancer(
            elbv2,
            made,
            [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": groups,
                        "TargetGroupStickinessConfig": {"Enabled": True},
                    },
                }
            ],
        )
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": groups,
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
        },
    }
    lb = _balancer(elbv2, made, [forward])
    host = lb["DNSName"]
    assert {served_by(host, PORT) for _ in range(4)} == {"a", "b"}
    browser = Browser(host, PORT)
    first, set_cookies = browser.get()
    assert _cookie(set_cookies, "AWSALBTG") and "SameSite=None; Secure" in _cookie(
        set_cookies, "AWSALBTGCORS"
    )
    assert {browser.get()[0] for _ in range(6)} == {first}
    listener = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    config = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"]
    assert config == {"Enabled": True, "DurationSeconds": 60}


def test_classic_cookie_policies(server):
    elb, ec2 = server.client("elb"), server.client("ec2")
    ids = [
        launch(
            ec2,
            f"#!/bin/bash\ncat > srv.py <<'PY'\n{SERVER_CODE}PY\nexec python3 srv.py {n} 8080\n",
        )[0]
        for n in ("one", "two")
    ]
    name = unique("clbst")
    try:
        wait(ec2, "instance_running", ids)
        dns = elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": PORT, "InstancePort": 8080}],
            AvailabilityZones=["us-east-1a"],
        )["DNSName"]
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTP:8080/",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": i} for i in ids]
        )
        elb.create_lb_cookie_stickiness_policy(
            LoadBalancerName=name, PolicyName="by-lb", CookieExpirationPeriod=60
        )
        elb.create_app_cookie_stickiness_policy(
            LoadBalancerName=name, PolicyName="by-app", CookieName="SESSIONID"
        )
        with pytest.raises(ClientError) as err:
            elb.create_app_cookie_stickiness_policy(
                LoadBalancerName=name, PolicyName="by-app", CookieName="X"
            )
        assert err.value.response["Error"]["Code"] == "DuplicatePolicyName"
        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=PORT, PolicyNames=["by-lb"]
        )
        eventually(
            lambda: (
                {
                    s["State"]
                    for s in elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
                }
                == {"InService"}
            ),
            timeout=25,
        )
        desc = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        assert desc["ListenerDescriptions"][0]["PolicyNames"] == ["by-lb"]
        assert desc["Policies"]["LBCookieStickinessPolicies"] == [
            {"PolicyName": "by-lb", "CookieExpirationPeriod": 60}
        ]
        assert desc["Policies"]["AppCookieStickinessPolicies"] == [
            {"PolicyName": "by-app", "CookieName": "SESSIONID"}
        ]
        types = {
            p["PolicyName"]: p["PolicyTypeName"]
            for p in elb.describe_load_balancer_policies(LoadBalancerName=name)[
                "PolicyDescriptions"
            ]
        }
        assert types == {
            "by-lb": "LBCookieStickinessPolicyType",
            "by-app": "AppCookieStickinessPolicyType",
        }
        assert {request(dns, PORT)[2].decode() for _ in range(4)} == {"one", "two"}

        browser = Browser(dns, PORT)
        first, set_cookies = browser.get()
        assert _cookie(set_cookies, "AWSELB").endswith(";PATH=/;MAX-AGE=60")
        assert "SECURE" in _cookie(set_cookies, "AWSELBCORS")
        for _ in range(5):
            name_, renewed = browser.get()
            assert name_ == first and renewed == []  # never renewed

        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=PORT, PolicyNames=["by-app"]
        )
        with pytest.raises(ClientError) as err:
            elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="by-app")
        assert err.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
        app = Browser(dns, PORT)
        assert app.get()[1] == []  # no application cookie: no AWSELB
        owner, set_cookies = app.get("/login")
        awselb = _cookie(set_cookies, "AWSELB")
        assert "Max-Age=600" in awselb and "HTTPONLY" in awselb
        assert {app.get()[0] for _ in range(5)} == {owner}

        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=PORT, PolicyNames=[]
        )
        elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="by-app")
        assert {app.get()[0] for _ in range(4)} == {"one", "two"}
    finally:
        elb.delete_load_balancer(LoadBalancerName=name)
        ec2.terminate_instances(InstanceIds=ids)


def _stat(cw, name: str, dims: dict[str, str], stat: str = "Sum") -> float:
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/NetworkELB",
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=600,
        Statistics=[stat],
    )["Datapoints"]
    return (
        sum(p[stat] for p in points) if stat == "Sum" else max((p[stat] for p in points), default=0)
    )


def test_nlb_source_ip_stickiness_and_network_metrics(server, elbv2, made):
    cw = server.client("cloudwatch")
    a, b = Backend("a"), Backend("b")
    made["backends"] += [a, b]
    tg = _group(elbv2, "TCP")
    attrs = dict(
        (x["Key"], x["Value"])
        for x in elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    )
    assert attrs["stickiness.type"] == "source_ip" and attrs["stickiness.enabled"] == "false"
    with pytest.raises(ClientError):
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg, Attributes=[{"Key": "stickiness.type", "Value": "lb_cookie"}]
        )
    _register(elbv2, tg, a, b)
    lb = _balancer(elbv2, made, [{"Type": "forward", "TargetGroupArn": tg}], kind="network")
    host = lb["DNSName"]
    _healthy(elbv2, tg, 2)
    assert {served_by(host, PORT) for _ in range(4)} == {"a", "b"}
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "stickiness.enabled", "Value": "true"}]
    )
    # every local client is 127.0.0.1: one source IP, so all of them stick together
    assert len({served_by(host, PORT) for _ in range(6)}) == 1

    held = socket.create_connection((host, PORT), 5)  # an open flow while metrics are taken
    rst = socket.create_connection((host, PORT), 5)
    time.sleep(0.3)
    rst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rst.close()  # a reset from the client
    try:
        lb_dim = {"LoadBalancer": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}
        eventually(lambda: _stat(cw, "NewFlowCount", lb_dim) >= 12, timeout=10)
        eventually(lambda: _stat(cw, "ActiveFlowCount", lb_dim, "Maximum") >= 1, timeout=10)
        assert _stat(cw, "ProcessedBytes", lb_dim) > 10 * 100
        eventually(lambda: _stat(cw, "TCP_Client_Reset_Count", lb_dim) >= 1, timeout=10)
        both = {**lb_dim, "TargetGroup": tg.split(":")[-1]}
        eventually(lambda: _stat(cw, "HealthyHostCount", both, "Maximum") == 2, timeout=10)
        zones = lb["AvailabilityZones"]
        if zones:
            zone = {"AvailabilityZone": zones[0]["ZoneName"], **lb_dim}
            assert _stat(cw, "NewFlowCount", zone) >= 12
            assert _stat(cw, "HealthyHostCount", {**zone, **both}, "Maximum") == 2
        names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/NetworkELB")["Metrics"]}
        assert {"ActiveFlowCount", "NewFlowCount", "ProcessedBytes"} <= names
        assert "RequestCount" not in names
    finally:
        held.close()
