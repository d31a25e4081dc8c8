"""Security groups decide what instances of a VPC may send each other, as on AWS.

With boto3 against a real server, instances being real processes: one serves
HTTP (and logs UDP datagrams) in its user data, others probe it from theirs
and print what they got to their console. Members of the VPC's default group
reach each other; a new group lets nothing in until a rule (by CIDR, or naming
a group the source is in) allows it, and revoking the rule drops the traffic
again, all without restarting the instances; a source whose groups allow no
egress reaches no one. Dropped TCP connections fail with ``ETIMEDOUT`` at once
(AWS's answer is a timeout, after the wait); dropped datagrams vanish. After a
server restart the rules still hold. The last test drives the shims directly
with a map file holding ``guard``/``allow`` lines.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.runtime import shim
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually, free_port, wait
from tests.services.test_ec2_vpc_reach import (
    _account,
    _finish,
    _lines,
    _probe_user_data,
    _saw,
    _server_user_data,
)

UDP_LOGGER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    print("udp: " + s.recv(100).decode(), flush=True)
"""
UDP_SENDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(400):
    s.sendto(b"dgram", (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.1)
"""


def _web_user_data(port: int, udp_port: int) -> str:
    return (
        f"#!/bin/bash\ncat > udp.py <<'EOF'\n{UDP_LOGGER}\nEOF\n"
        f"python3 udp.py {udp_port} &\n" + _server_user_data(port).split("\n", 1)[1]
    )


def _app_user_data(seconds: float, udp_target: str, **targets: str) -> str:
    host, port = udp_target.rsplit(":", 1)
    probe = _probe_user_data(seconds, **targets).split("\n", 1)[1]
    return (
        f"#!/bin/bash\ncat > udp.py <<'EOF'\n{UDP_SENDER}\nEOF\n"
        f"python3 udp.py {host} {port} &\n{probe}"
    )


def _run(ec2: Any, subnet: str, groups: list[str], user_data: str) -> dict:
    res = ec2.run_instances(
        ImageId=IMAGE,
        MinCount=1,
        MaxCount=1,
        InstanceType="t2.micro",
        SubnetId=subnet,
        SecurityGroupIds=groups,
        UserData=user_data,
    )
    return res["Instances"][0]


def _network(ec2: Any, cidr: str) -> tuple[str, str, str]:
    """A VPC with one subnet (the whole block): its id, the subnet's, its default group's."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    found = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    return vpc_id, subnet, found[0]["GroupId"]


def _group(ec2: Any, vpc_id: str, name: str) -> str:
    return ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]


def _tcp(port: int, **source: Any) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source}]


def test_groups_decide_what_gets_through(cloudlet_server, aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    port, udp_port = free_port(), free_port()
    vpc_id, subnet, default = _network(ec2, "10.40.0.0/16")
    web_sg, app_sg = _group(ec2, vpc_id, "web"), _group(ec2, vpc_id, "app")
    launched: list[str] = []
    try:
        peer = _run(ec2, subnet, [default], _server_user_data(port))
        web = _run(ec2, subnet, [web_sg], _web_user_data(port, udp_port))
        launched += [peer["InstanceId"], web["InstanceId"]]
        web_addr, peer_addr = web["PrivateIpAddress"], peer["PrivateIpAddress"]
        targets = {"web": f"{web_addr}:{port}", "peer": f"{peer_addr}:{port}"}
        app = _run(
            ec2, subnet, [default, app_sg], _app_user_data(50, f"{web_addr}:{udp_port}", **targets)
        )
        app_id, web_id = app["InstanceId"], web["InstanceId"]
        launched.append(app_id)
        wait(ec2, "instance_running", launched)
        # Members of the default group reach each other; the new group lets nothing in.
        served = f"ok served by {peer['InstanceId']}"
        eventually(lambda: _saw(ec2, app_id, f"peer: {served}"), timeout=20)
        eventually(lambda: _saw(ec2, app_id, "web: timeout-now"))
        # A rule by CIDR, for TCP on the port: through, at once; UDP still dropped.
        ec2.authorize_security_group_ingress(
            GroupId=web_sg, IpPermissions=_tcp(port, IpRanges=[{"CidrIp": "10.40.0.0/16"}])
        )
        eventually(lambda: _saw(ec2, app_id, f"web: ok served by {web_id}"))
        assert "udp: dgram" not in console(ec2, web_id)
        # Revoked: dropped again.
        before = _lines(ec2, app_id)
        ec2.revoke_security_group_ingress(
            GroupId=web_sg, IpPermissions=_tcp(port, IpRanges=[{"CidrIp": "10.40.0.0/16"}])
        )
        eventually(lambda: _saw(ec2, app_id, "web: timeout-now", before))
        # A rule naming the source's group, every protocol: TCP and UDP get through.
        ec2.authorize_security_group_ingress(
            GroupId=web_sg,
            IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": app_sg}]}],
        )
        eventually(lambda: _saw(ec2, app_id, f"web: ok served by {web_id}", before))
        eventually(lambda: "udp: dgram" in console(ec2, web_id))
        # The source's egress: its only group allows nothing out any more, so neither the
        # web server (whose ingress allows it) nor the default group's member answers.
        ec2.revoke_security_group_egress(
            GroupId=app_sg,
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        before = _lines(ec2, app_id)
        ec2.modify_instance_attribute(InstanceId=app_id, Groups=[app_sg])
        eventually(lambda: _saw(ec2, app_id, "web: timeout-now", before))
        eventually(lambda: _saw(ec2, app_id, "peer: timeout-now", before))
        # Egress to the web group's members on the port: the web server again, only.
        ec2.authorize_security_group_egress(
            GroupId=app_sg, IpPermissions=_tcp(port, UserIdGroupPairs=[{"GroupId": web_sg}])
        )
        eventually(lambda: _saw(ec2, app_id, f"web: ok served by {web_id}", before))
        assert not _saw(ec2, app_id, f"peer: {served}", before)
    finally:
        if launched:
            _finish(ec2, cloudlet_server.endpoint, launched)


def test_enforcement_survives_a_restart(tmp_path):
    account = _account()
    port = free_port()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        vpc_id, subnet, default = _network(ec2, "10.41.0.0/16")
        web_sg, app_sg = _group(ec2, vpc_id, "web"), _group(ec2, vpc_id, "app")
        ec2.authorize_security_group_ingress(
            GroupId=web_sg, IpPermissions=_tcp(port, UserIdGroupPairs=[{"GroupId": app_sg}])
        )
        web = _run(ec2, subnet, [web_sg], _server_user_data(port))
        wait(ec2, "instance_running", [web["InstanceId"]])
    finally:
        server.stop()

    server = CloudletServer.start(data_dir=tmp_path / "data")
    launched = [web["InstanceId"]]
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        # The web instance came back without its user data's server: an allowed source
        # is refused by it, a source the group does not let in times out at once.
        target = f"{web['PrivateIpAddress']}:{port}"
        allowed = _run(ec2, subnet, [app_sg], _probe_user_data(20, web=target))
        other = _run(ec2, subnet, [default], _probe_user_data(20, web=target))
        launched += [allowed["InstanceId"], other["InstanceId"]]
        eventually(lambda: _saw(ec2, allowed["InstanceId"], "web: refused"), timeout=20)
        eventually(lambda: _saw(ec2, other["InstanceId"], "web: timeout-now"))
        _finish(ec2, server.endpoint, launched)
    finally:
        server.stop()


def test_malformed_blocks_and_unknown_groups_are_refused(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    _, _, default = _network(ec2, "10.42.0.0/16")
    for block in ("10.0.0.0/33", "nonsense"):
        with pytest.raises(ClientError) as caught:
            ec2.authorize_security_group_ingress(
                GroupId=default, IpPermissions=_tcp(80, IpRanges=[{"CidrIp": block}])
            )
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidParameterValue"
        assert error["Message"] == f"CIDR block {block} is malformed"
    # A rule naming a group of the account that does not exist.
    with pytest.raises(ClientError) as caught:
        ec2.authorize_security_group_ingress(
            GroupId=default,
            IpPermissions=_tcp(80, UserIdGroupPairs=[{"GroupId": "sg-0123456789abcdef0"}]),
        )
    assert caught.value.response["Error"]["Code"] == "InvalidGroup.NotFound"


# -- the shims themselves -------------------------------------------------------------

SHIM_SCRIPT = r"""
import json, socket, sys
tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])
out = {}

def attempt(key, fn):
    try:
        out[key] = fn()
    except OSError as exc:
        out[key] = exc.errno

def fetch(host, port=tcp_port):
    with socket.create_connection((host, port), timeout=2) as s:
        return s.recv(100).decode()

attempt("allowed", lambda: fetch("10.20.0.4"))
attempt("other-port", lambda: fetch("10.20.0.4", tcp_port + 1 if tcp_port < 65535 else 1))
attempt("unguarded", lambda: fetch("10.20.0.5"))
attempt("nothing-allowed", lambda: fetch("10.20.0.6"))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out["dropped"] = u.sendto(b"dropped", ("10.20.0.6", udp_port))
out["dropped-msg"] = u.sendmsg([b"drop", b"ped"], [], 0, ("10.20.0.4", udp_port + 1))
u.sendto(b"allowed", ("10.20.0.4", udp_port))
u.sendmsg([b"open"], [], 0, ("10.20.0.5", udp_port))
print(json.dumps(out))
"""


def _modes() -> list[Any]:
    preload = shim.preload_library()
    skip = pytest.mark.skipif(preload is None, reason="no C compiler: no LD_PRELOAD shim")
    return [pytest.param("preload", marks=skip), "python"]


@pytest.mark.parametrize("mode", _modes())
def test_the_shims_apply_guard_and_allow_lines(mode: str, tmp_path: Path) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp.settimeout(10)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
    path = tmp_path / "vpc-map"
    path.write_text(
        "dns 1\ncidr 10.20.0.0/16\n"
        "map 10.20.0.4 127.0.0.1\nmap 10.20.0.5 127.0.0.1\nmap 10.20.0.6 127.0.0.1\n"
        f"guard 10.20.0.4\nallow 10.20.0.4 tcp {tcp_port} {tcp_port}\n"
        f"allow 10.20.0.4 udp {udp_port} {udp_port}\n"
        "allow 10.20.0.4 tcp 70000 70001\nallow 10.20.0.4 icmp 0 0\n"  # malformed: ignored
        "guard 10.20.0.6\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDLET_", "LD_PRELOAD"))}
    env.update(CLOUDLET_BIND_ADDR="127.0.0.1", CLOUDLET_VPC_ADDRESSES=str(path))
    if mode == "preload":
        env["LD_PRELOAD"] = str(shim.preload_library())
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(shim.PYTHON_DIR)
    served = []
    try:
        args = [sys.executable, "-c", SHIM_SCRIPT, str(tcp_port), str(udp_port)]
        child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2):  # the allowed and the unguarded connection
            conn, _ = tcp.accept()
            with conn:
                conn.sendall(b"hello")
                served.append(1)
        stdout, stderr = child.communicate(timeout=30)
        assert child.returncode == 0, stderr
        got = json.loads(stdout)
        datagrams = {udp.recv(100), udp.recv(100)}
        udp.settimeout(0.3)
        with pytest.raises(TimeoutError):
            udp.recv(100)
    finally:
        tcp.close()
        udp.close()
    assert got == {
        "allowed": "hello",
        "other-port": errno.ETIMEDOUT,  # at once: the group allows one port only
        "unguarded": "hello",
        "nothing-allowed": errno.ETIMEDOUT,
        "dropped": 7,  # reported sent, never delivered
        "dropped-msg": 7,
    }
    assert datagrams == {b"allowed", b"open"}
