"""Network load balancer TCP idle timeouts: the ``tcp.idle_timeout.seconds`` listener
attribute, enforced by the relay with a TCP RST to both sides, and counted as
``TCP_ELB_Reset_Count`` in CloudWatch.

A private server runs with ``CLOUDLET_ELB_TCP_IDLE_SCALE=0.01`` (the attribute's
60-second minimum lasts 0.6 s, the 350-second default 3.5 s) and one-second metrics, on
a data directory it restarts from. The target is a TCP echo server in this process that
notes how each of its connections ended.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.elbv2_helpers import HEALTH, nlb_sum
from tests.services.names import unique


class Echo:
    """A TCP echo server on 127.0.0.1; ``endings`` lists how each connection that
    carried data ended (``"reset"`` or ``"closed"``)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.endings: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        carried = False  # health checks connect and close without data: not noted
        with conn:
            try:
                while data := conn.recv(65535):
                    carried = True
                    conn.sendall(data)
            except ConnectionResetError:
                if carried:
                    self.endings.append("reset")
                return
            except OSError:
                pass
            if carried:
                self.endings.append("closed")

    def stop(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("elb-tcp-idle")
    env = {"CLOUDLET_ELB_METRICS_INTERVAL": "1", "CLOUDLET_ELB_TCP_IDLE_SCALE": "0.01"}
    box = {"srv": CloudletServer.start(data_dir=data, env=env), "data": data, "env": env}
    yield box
    box["srv"].stop()


@pytest.fixture(scope="module")
def echo():
    target = Echo()
    yield target
    target.stop()


def _nlb_listener(elbv2, echo: Echo, protocol: str, port: int) -> tuple[dict, str]:
    group_protocol = "TCP_UDP" if protocol in ("UDP", "TCP_UDP") else "TCP"
    tg = elbv2.create_target_group(
        Name=unique("idle"),
        Protocol=group_protocol,
        Port=echo.port,
        VpcId="vpc-1",
        TargetType="ip",
        **HEALTH,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": echo.port}])
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")[
        "LoadBalancers"
    ][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol=protocol,
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]
    return lb, listener["ListenerArn"]


def _refused(call, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    res = err.value.response
    return res["Error"]["Code"], res["ResponseMetadata"]["HTTPStatusCode"]


def _idle(value: str) -> list[dict]:
    return [{"Key": "tcp.idle_timeout.seconds", "Value": value}]


def test_attribute_defaults_limits_and_protocols(server, echo):
    elbv2 = server["srv"].client("elbv2")
    _, arn = _nlb_listener(elbv2, echo, "TCP", 7101)
    shown = elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"]
    assert shown == _idle("350")
    changed = elbv2.modify_listener_attributes(ListenerArn=arn, Attributes=_idle("6000"))
    assert changed["Attributes"] == _idle("6000")
    for bad in ("59", "6001", "ten", "1.5"):
        refused = _refused(elbv2.modify_listener_attributes, ListenerArn=arn, Attributes=_idle(bad))
        assert refused == ("ValidationError", 400)
    refused = _refused(
        elbv2.modify_listener_attributes,
        ListenerArn=arn,
        Attributes=[{"Key": "tcp.nonsense", "Value": "1"}],
    )
    assert refused == ("ValidationError", 400)
    assert elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"] == _idle("6000")

    _, udp = _nlb_listener(elbv2, echo, "UDP", 7102)
    assert elbv2.describe_listener_attributes(ListenerArn=udp)["Attributes"] == []
    refused = _refused(elbv2.modify_listener_attributes, ListenerArn=udp, Attributes=_idle("60"))
    assert refused == ("InvalidConfigurationRequest", 400)
    _, both = _nlb_listener(elbv2, echo, "TCP_UDP", 7103)
    assert elbv2.modify_listener_attributes(ListenerArn=both, Attributes=_idle("120"))[
        "Attributes"
    ] == _idle("120")

    alb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=[])["LoadBalancers"][0]
    http = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=7104,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )["Listeners"][0]["ListenerArn"]
    refused = _refused(elbv2.modify_listener_attributes, ListenerArn=http, Attributes=_idle("60"))
    assert refused == ("InvalidConfigurationRequest", 400)
    refused = _refused(
        elbv2.modify_listener_attributes,
        ListenerArn=http,
        Attributes=[{"Key": "routing.http.response.server.enabled", "Value": "false"}],
    )
    assert refused == ("NotImplemented", 501)
    missing = arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    refused = _refused(elbv2.describe_listener_attributes, ListenerArn=missing)
    assert refused == ("ListenerNotFound", 400)


def _connect(host: str, port: int) -> socket.socket:
    """A connection through the listener that has echoed once (retrying while the
    target is not yet picked)."""
    deadline = time.monotonic() + 15
    while True:
        conn = socket.create_connection((host, port), timeout=5)
        try:
            conn.sendall(b"hello")
            if conn.recv(64) == b"hello":
                return conn
        except OSError:
            pass
        conn.close()
        if time.monotonic() > deadline:
            raise AssertionError("the listener never relayed")
        time.sleep(0.2)


def _wait_endings(echo: Echo, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(echo.endings) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_idle_flow_is_reset_both_ways_and_counted(server, echo):
    elbv2 = server["srv"].client("elbv2")
    lb, arn = _nlb_listener(elbv2, echo, "TCP", 7110)
    elbv2.modify_listener_attributes(ListenerArn=arn, Attributes=_idle("60"))  # 0.6 s here
    host = lb["DNSName"]

    busy = _connect(host, 7110)
    with busy:  # a flow with data every 0.2 s outlives the timeout many times over
        for i in range(10):
            time.sleep(0.2)
            busy.sendall(b"tick %d" % i)
            assert busy.recv(64) == b"tick %d" % i

    _wait_endings(echo, 1)  # the busy flow's, closed by the client
    endings = len(echo.endings)
    idle = _connect(host, 7110)
    with idle:
        idle.settimeout(10)
        started = time.monotonic()
        with pytest.raises(ConnectionResetError):
            idle.recv(64)  # nothing sent: the load balancer resets the flow
        assert 0.4 < time.monotonic() - started < 5
    _wait_endings(echo, endings + 1)
    assert echo.endings[endings:] == ["reset"]  # the target got a RST too

    cw = server["srv"].client("cloudwatch")
    lb_dim = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    deadline = time.monotonic() + 15
    while nlb_sum(cw, "TCP_ELB_Reset_Count", lb_dim) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert nlb_sum(cw, "TCP_ELB_Reset_Count", lb_dim) == 2  # one RST to each side
    assert nlb_sum(cw, "NewFlowCount_TCP", lb_dim) >= 2
    server["idle"] = (lb, arn)


def test_attribute_and_timeout_survive_a_restart(server):
    lb, arn = server["idle"]
    server["srv"].stop()
    server["srv"] = CloudletServer.start(data_dir=server["data"], env=server["env"])
    elbv2 = server["srv"].client("elbv2")
    assert elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"] == _idle("60")
    host = elbv2.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][
        0
    ]["DNSName"]
    with _connect(host, 7110) as conn:
        conn.settimeout(10)
        with pytest.raises(ConnectionResetError):
            conn.recv(64)
