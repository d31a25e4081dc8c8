"""Network load balancer UDP and TCP_UDP listeners carrying real datagrams.

Targets are small echo servers in this process on 127.0.0.1, registered as
``ip`` targets: each answers a datagram with its name, the address and port
it saw the datagram come from, and the payload, and also listens on TCP on
the same port (for the TCP health checks a UDP group gets, and the TCP half
of a TCP_UDP listener). A private server runs with one-second metrics and
one-second UDP flow idle timeouts, on a data directory it restarts from.
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
    """A UDP and TCP echo server on one 127.0.0.1 port, answering ``name|ip|port|data``."""

    def __init__(self, name: str) -> None:
        self.name = name
        for _ in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket()
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()

    def _reply(self, data: bytes, peer: tuple[str, int]) -> bytes:
        return f"{self.name}|{peer[0]}|{peer[1]}|".encode() + data

    def _udp_loop(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                data, peer = self.udp.recvfrom(65535)
                self.udp.sendto(self._reply(data, peer), peer)

    def _tcp_loop(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, peer = self.tcp.accept()
                threading.Thread(target=self._tcp_conn, args=(conn, peer), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65535):
                conn.sendall(self._reply(data, peer))

    def stop(self) -> None:
        self.udp.close()
        self.tcp.close()


def ask(sock: socket.socket, addr: tuple[str, int], data: bytes) -> tuple[str, str, int, bytes]:
    """Send one datagram and wait for the answer (retrying: UDP may lose one)."""
    deadline = time.monotonic() + 10
    sock.settimeout(0.5)
    while True:
        sock.sendto(data, addr)
        try:
            reply, _ = sock.recvfrom(65535)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
            continue
        name, ip, port, payload = reply.split(b"|", 3)
        return name.decode(), ip.decode(), int(port), payload


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("elb-udp")
    env = {"CLOUDLET_ELB_METRICS_INTERVAL": "1", "CLOUDLET_ELB_UDP_IDLE_SECONDS": "1"}
    box = {"srv": CloudletServer.start(data_dir=data, env=env), "data": data, "env": env}
    yield box
    box["srv"].stop()


@pytest.fixture(scope="module")
def echoes():
    targets = [Echo("a"), Echo("b")]
    yield targets
    for t in targets:
        t.stop()


def _group(elbv2, protocol: str, echoes: list[Echo], **kw) -> str:
    tg = elbv2.create_target_group(
        Name=unique("udp"),
        Protocol=protocol,
        Port=echoes[0].port,
        VpcId="vpc-1",
        TargetType="ip",
        **{**HEALTH, **kw},
    )["TargetGroups"][0]
    assert tg["HealthCheckProtocol"] == "TCP" and tg["HealthCheckPort"] == "traffic-port"
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"],
        Targets=[{"Id": "127.0.0.1", "Port": e.port} for e in echoes],
    )
    return tg["TargetGroupArn"]


def _nlb(elbv2) -> dict:
    return elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")[
        "LoadBalancers"
    ][0]


def _forward(tg: str) -> list[dict]:
    return [{"Type": "forward", "TargetGroupArn": tg}]


def test_udp_listener_relays_flows_split_between_targets(server, echoes):
    elbv2 = server["srv"].client("elbv2")
    tg = _group(elbv2, "UDP", echoes)
    lb = _nlb(elbv2)
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="UDP",
        Port=5353,
        DefaultActions=_forward(tg),
    )["Listeners"][0]
    assert listener["Protocol"] == "UDP" and listener["Port"] == 5353
    addr = (lb["DNSName"], 5353)
    served = set()
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
    try:
        for i, sock in enumerate(socks):
            name, ip, port, payload = ask(sock, addr, b"ping %d" % i)
            assert payload == b"ping %d" % i
            assert ip == lb["DNSName"]  # targets see the load balancer's address
            again = ask(sock, addr, b"again")
            assert again[:3] == (name, ip, port)  # one flow, one target, one socket
            served.add(name)
    finally:
        for sock in socks:
            sock.close()
    assert served == {"a", "b"}
    server["udp"] = (lb, tg)


def test_deregistered_target_gets_no_new_flows_and_idle_flows_expire(server, echoes):
    elbv2 = server["srv"].client("elbv2")
    tg = _group(elbv2, "UDP", echoes)
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}],
    )
    lb = _nlb(elbv2)
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="UDP",
        Port=5354,
        DefaultActions=_forward(tg),
    )
    addr = (lb["DNSName"], 5354)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        name, _, port, _ = ask(sock, addr, b"one")
        time.sleep(1.8)  # the flow's idle timeout (1 s here) passes with nothing sent
        name2, _, port2, _ = ask(sock, addr, b"two")
        assert name2 == name and port2 != port  # a new flow: a new socket to the target
        gone = next(e for e in echoes if e.name == name)
        elbv2.deregister_targets(
            TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": gone.port}]
        )
        for i in range(8):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                assert ask(other, addr, b"x%d" % i)[0] != name
        assert ask(sock, addr, b"three")[0] != name  # its flow moved on


def _wait_states(elbv2, tg: str, wanted: dict[int, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = {
            d["Target"]["Port"]: d["TargetHealth"]["State"]
            for d in elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        }
        if all(found.get(port) == state for port, state in wanted.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"target states {found}, wanted {wanted}")


def test_unhealthy_target_gets_no_new_flows(server):
    elbv2 = server["srv"].client("elbv2")
    own = [Echo("c"), Echo("d")]
    try:
        tg = _group(elbv2, "UDP", own)
        lb = _nlb(elbv2)
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="UDP",
            Port=5356,
            DefaultActions=_forward(tg),
        )
        _wait_states(elbv2, tg, {e.port: "healthy" for e in own})
        addr = (lb["DNSName"], 5356)
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(12)]
        on_c = [s for s in sockets if ask(s, addr, b"hi")[0] == "c"]
        assert on_c
        own[0].tcp.close()  # its TCP health checks now fail; UDP still answers
        _wait_states(elbv2, tg, {own[0].port: "unhealthy", own[1].port: "healthy"})
        for sock in on_c:
            assert ask(sock, addr, b"moved")[0] == "d"
        for i in range(8):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                assert ask(other, addr, b"new %d" % i)[0] == "d"
        for sock in sockets:
            sock.close()
    finally:
        for e in own:
            e.stop()


def test_tcp_udp_listener_carries_both_on_one_port(server, echoes):
    elbv2 = server["srv"].client("elbv2")
    tg = _group(elbv2, "TCP_UDP", echoes[:1])
    lb = _nlb(elbv2)
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TCP_UDP",
        Port=5355,
        DefaultActions=_forward(tg),
    )["Listeners"][0]
    assert listener["Protocol"] == "TCP_UDP"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert ask(sock, (lb["DNSName"], 5355), b"dgram")[3] == b"dgram"
    with socket.create_connection((lb["DNSName"], 5355), timeout=10) as conn:
        conn.sendall(b"stream")
        assert conn.recv(1024).endswith(b"|stream")


def _refused(call, **kwargs) -> tuple[str, int]:
    """The error code and HTTP status of a call that must fail."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    res = err.value.response
    return res["Error"]["Code"], res["ResponseMetadata"]["HTTPStatusCode"]


INCOMPATIBLE = ("IncompatibleProtocols", 400)
INVALID = ("ValidationError", 400)


def test_protocol_rules(server, echoes):
    elbv2 = server["srv"].client("elbv2")
    udp, tcp, both = (_group(elbv2, p, echoes[:1]) for p in ("UDP", "TCP", "TCP_UDP"))
    nlb = _nlb(elbv2)
    lb = nlb["LoadBalancerArn"]
    create = elbv2.create_listener
    # UDP listeners forward to UDP or TCP_UDP groups, TCP_UDP listeners to TCP_UDP ones.
    refused = _refused(
        create, LoadBalancerArn=lb, Protocol="UDP", Port=6000, DefaultActions=_forward(tcp)
    )
    assert refused == INCOMPATIBLE
    refused = _refused(
        create, LoadBalancerArn=lb, Protocol="TCP_UDP", Port=6000, DefaultActions=_forward(udp)
    )
    assert refused == INCOMPATIBLE
    alb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=[])["LoadBalancers"][0]
    refused = _refused(
        create,
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="UDP",
        Port=6000,
        DefaultActions=_forward(udp),
    )
    assert refused == INVALID
    refused = _refused(
        elbv2.create_target_group,
        Name=unique("udp"),
        Protocol="UDP",
        Port=53,
        VpcId="vpc-1",
        HealthCheckProtocol="UDP",
    )
    assert refused == INVALID
    listener = create(LoadBalancerArn=lb, Protocol="UDP", Port=6001, DefaultActions=_forward(both))
    arn = listener["Listeners"][0]["ListenerArn"]
    refused = _refused(
        elbv2.modify_listener, ListenerArn=arn, Protocol="TCP_UDP", DefaultActions=_forward(udp)
    )
    assert refused == INCOMPATIBLE
    changed = elbv2.modify_listener(ListenerArn=arn, Protocol="TCP_UDP")["Listeners"][0]
    assert changed["Protocol"] == "TCP_UDP"
    with socket.create_connection((nlb["DNSName"], 6001), timeout=10) as conn:
        conn.sendall(b"now tcp too")
        assert conn.recv(1024).endswith(b"|now tcp too")
    assert create(LoadBalancerArn=lb, Protocol="TCP", Port=6002, DefaultActions=_forward(both))


def test_udp_flow_metrics_in_cloudwatch(server):
    lb, _ = server["udp"]
    cw = server["srv"].client("cloudwatch")
    lb_dim = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    deadline = time.monotonic() + 15
    while nlb_sum(cw, "NewFlowCount_UDP", lb_dim) < 16 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert nlb_sum(cw, "NewFlowCount_UDP", lb_dim) == 16
    assert nlb_sum(cw, "NewFlowCount", lb_dim) == 16
    assert nlb_sum(cw, "ProcessedBytes_UDP", lb_dim) > 0
    assert nlb_sum(cw, "ActiveFlowCount_UDP", lb_dim) > 0
    assert nlb_sum(cw, "NewFlowCount_TCP", lb_dim) == 0


def test_udp_listener_comes_back_after_restart(server):
    lb, _ = server["udp"]
    server["srv"].stop()
    server["srv"] = CloudletServer.start(data_dir=server["data"], env=server["env"])
    elbv2 = server["srv"].client("elbv2")
    lb = elbv2.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert ask(sock, (lb["DNSName"], 5353), b"back")[3] == b"back"
