"""VPC peering connections, with boto3 against a real server and real instances.

The lifecycle (request, overlap refused, accept, reject, delete, expiry, who
may do what, in one account, across accounts and regions), options, routes
through a peering (``blackhole`` once it goes), what deleting a VPC does to
its peerings, and what an instance reaches: a server in one VPC, a probe in
the other printing what it gets (GetConsoleOutput), unreachable before the
peering, dropped with only one direction routed, reachable with both, by
name only when the peer allows DNS resolution, unreachable again once the
peering is deleted. The last test drives the shims with a map file that has
what peering and DHCP options add (``nodns``, ``domain``, peered blocks).
Each test works in an account of its own (a 12-digit access key names it).
"""

from __future__ import annotations

import errno
import json
import os
import random
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.runtime import shim
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually, free_port, wait

PROBE = r"""
import errno, socket, sys, time
def probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return "ok " + s.makefile("rb").read().split(b"\r\n\r\n", 1)[-1].decode().strip()
    except socket.gaierror:
        return "no-such-host"
    except OSError as exc:
        return "timeout-now" if exc.errno == errno.ETIMEDOUT else type(exc).__name__
deadline, last = time.monotonic() + float(sys.argv[1]), {}
while time.monotonic() < deadline:
    for label, target in (arg.split("=", 1) for arg in sys.argv[2:]):
        host, port = target.rsplit(":", 1)
        if last.get(label) != (got := probe(host, int(port))):
            print(f"{label}: {got}", flush=True)
            last[label] = got
    time.sleep(0.2)
"""


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _fails(code: str, fn: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        fn(**kwargs)
    assert exc.value.response["Error"]["Code"] == code, exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Message"]


def _vpc(ec2: Any, cidr: str, subnet: str | None = None) -> tuple[str, str | None]:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_id = None
    if subnet:
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet)["Subnet"]["SubnetId"]
    return vpc_id, subnet_id


def _main_table(ec2: Any, vpc_id: str) -> str:
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    return tables[0]["RouteTableId"]


def _peering(ec2: Any, pcx_id: str) -> dict:
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx_id])
    return found["VpcPeeringConnections"][0]


def _route_states(ec2: Any, table_id: str) -> dict[str, str]:
    routes = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Routes"]
    return {r["DestinationCidrBlock"]: r["State"] for r in routes if "DestinationCidrBlock" in r}


def test_the_lifecycle_in_one_account(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    a, _ = _vpc(ec2, "10.40.0.0/16")
    b, _ = _vpc(ec2, "10.41.0.0/16")
    overlapping, _ = _vpc(ec2, "10.40.128.0/17")
    _fails("InvalidVpcID.NotFound", ec2.create_vpc_peering_connection, VpcId=a, PeerVpcId="vpc-0")
    tags = [{"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "n", "Value": "ab"}]}]
    made = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b, TagSpecifications=tags)[
        "VpcPeeringConnection"
    ]
    pcx = made["VpcPeeringConnectionId"]
    assert made["Status"]["Code"] == "initiating-request"
    assert made["RequesterVpcInfo"]["CidrBlock"] == "10.40.0.0/16"
    pending = _peering(ec2, pcx)
    assert pending["Status"]["Code"] == "pending-acceptance"
    assert pending["Status"]["Message"].startswith("Pending Acceptance by ")
    assert pending["ExpirationTime"].timestamp() - time.time() == pytest.approx(7 * 86400, abs=60)
    assert "CidrBlock" not in pending["AccepterVpcInfo"] and pending["Tags"] == tags[0]["Tags"]
    # AWS answers a second identical request with the one already there.
    again = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert again["VpcPeeringConnectionId"] == pcx
    # Overlapping blocks: the request fails (a status, not an error).
    failed = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=overlapping)
    failed_id = failed["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert _peering(ec2, failed_id)["Status"] == {
        "Code": "failed",
        "Message": "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range",
    }
    _fails("InvalidStateTransition", ec2.accept_vpc_peering_connection,
           VpcPeeringConnectionId=failed_id)  # fmt: skip
    message = _fails(
        "OperationNotPermitted",
        ec2.modify_vpc_peering_connection_options,
        VpcPeeringConnectionId=pcx,
        RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
    )
    assert message.endswith("Peering options can be added only to active peerings.")

    accepted = ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)["VpcPeeringConnection"]
    assert accepted["Status"]["Code"] == "provisioning"
    active = _peering(ec2, pcx)
    assert active["Status"] == {"Code": "active", "Message": "Active"}
    assert active["AccepterVpcInfo"]["CidrBlockSet"] == [{"CidrBlock": "10.41.0.0/16"}]
    assert active["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is False
    assert "ExpirationTime" not in active
    _fails("InvalidStateTransition", ec2.accept_vpc_peering_connection, VpcPeeringConnectionId=pcx)
    got = ec2.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=pcx,
        RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
    )
    assert got["RequesterPeeringConnectionOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
    assert "AccepterPeeringConnectionOptions" not in got

    # Filters and pages.
    def ids(*filters: dict) -> list[str]:
        found = ec2.describe_vpc_peering_connections(Filters=list(filters))
        return [p["VpcPeeringConnectionId"] for p in found["VpcPeeringConnections"]]

    assert ids({"Name": "status-code", "Values": ["active"]}) == [pcx]
    assert ids({"Name": "accepter-vpc-info.vpc-id", "Values": [overlapping]}) == [failed_id]
    by_cidr = ids({"Name": "requester-vpc-info.cidr-block", "Values": ["10.40.0.0/16"]})
    assert by_cidr == [pcx, failed_id]
    assert ids({"Name": "tag:n", "Values": ["ab"]}) == [pcx]
    extra = [
        ec2.create_vpc_peering_connection(VpcId=b, PeerVpcId=v)["VpcPeeringConnection"]
        for v in (a, overlapping)
    ]
    pages = ec2.get_paginator("describe_vpc_peering_connections").paginate(
        PaginationConfig={"PageSize": 5}
    )
    assert len([p for page in pages for p in page["VpcPeeringConnections"]]) == 4
    _fails("InvalidVpcPeeringConnectionID.NotFound", ec2.describe_vpc_peering_connections,
           VpcPeeringConnectionIds=["pcx-0123456789abcdef0"])  # fmt: skip

    # The reverse request is rejected; rejecting twice is a bad transition.
    reverse = extra[0]["VpcPeeringConnectionId"]
    _fails("VpcPeeringConnectionAlreadyExists", ec2.accept_vpc_peering_connection,
           VpcPeeringConnectionId=reverse)  # fmt: skip
    assert ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=reverse)["Return"] is True
    assert _peering(ec2, reverse)["Status"]["Code"] == "rejected"
    _fails(
        "InvalidStateTransition", ec2.reject_vpc_peering_connection, VpcPeeringConnectionId=reverse
    )

    # Routes through the peering, blackholed once it is deleted.
    table = _main_table(ec2, a)
    ec2.create_route(
        RouteTableId=table, DestinationCidrBlock="10.41.0.0/16", VpcPeeringConnectionId=pcx
    )
    assert _route_states(ec2, table)["10.41.0.0/16"] == "active"
    _fails("InvalidParameterValue", ec2.create_route, RouteTableId=_main_table(ec2, overlapping),
           DestinationCidrBlock="10.41.0.0/16", VpcPeeringConnectionId=pcx)  # fmt: skip
    _fails("InvalidVpcPeeringConnectionID.NotFound", ec2.create_route, RouteTableId=table,
           DestinationCidrBlock="10.99.0.0/16", VpcPeeringConnectionId=failed_id)  # fmt: skip
    assert ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)["Return"] is True
    deleted = _peering(ec2, pcx)["Status"]
    assert deleted["Code"] == "deleted" and deleted["Message"].startswith("Deleted by ")
    assert _route_states(ec2, table)["10.41.0.0/16"] == "blackhole"
    _fails("InvalidStateTransition", ec2.delete_vpc_peering_connection, VpcPeeringConnectionId=pcx)

    # Deleting a VPC deletes its live peerings (its own pending request included).
    pending_id = extra[1]["VpcPeeringConnectionId"]
    ec2.delete_vpc(VpcId=overlapping)
    assert _peering(ec2, pending_id)["Status"]["Code"] == "deleted"


def test_across_accounts_and_regions(cloudlet_server):
    owner, peer = _account(), _account()
    mine = cloudlet_server.client("ec2", aws_access_key_id=owner)
    theirs = cloudlet_server.client("ec2", aws_access_key_id=peer)
    west = cloudlet_server.client("ec2", aws_access_key_id=owner, region_name="us-west-2")
    a, _ = _vpc(mine, "10.42.0.0/16")
    b, _ = _vpc(theirs, "10.43.0.0/16")
    w, _ = _vpc(west, "10.44.0.0/16")
    # A VPC of another account cannot be checked: a wrong one makes a failed request.
    failed = mine.create_vpc_peering_connection(VpcId=a, PeerVpcId="vpc-0bad", PeerOwnerId=peer)
    failed_id = failed["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert _peering(mine, failed_id)["Status"]["Code"] == "failed"
    _fails("InvalidVpcPeeringConnectionID.NotFound", theirs.describe_vpc_peering_connections,
           VpcPeeringConnectionIds=[failed_id])  # fmt: skip

    pcx = mine.create_vpc_peering_connection(VpcId=a, PeerVpcId=b, PeerOwnerId=peer)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    seen = _peering(theirs, pcx)
    assert seen["Status"]["Code"] == "pending-acceptance"
    owners = (seen["RequesterVpcInfo"]["OwnerId"], seen["AccepterVpcInfo"]["OwnerId"])
    assert owners == (owner, peer)
    message = _fails("OperationNotPermitted", mine.accept_vpc_peering_connection,
                     VpcPeeringConnectionId=pcx)  # fmt: skip
    assert message == f"User ({owner}) cannot accept peering {pcx}"
    # The accepter cannot delete its VPC while another account's request waits for it.
    _fails("DependencyViolation", theirs.delete_vpc, VpcId=b)
    _fails("OperationNotPermitted", theirs.delete_vpc_peering_connection,
           VpcPeeringConnectionId=pcx)  # fmt: skip
    theirs.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert _peering(mine, pcx)["Status"]["Code"] == "active"
    _fails("OperationNotPermitted", mine.modify_vpc_peering_connection_options,
           VpcPeeringConnectionId=pcx,
           AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True})  # fmt: skip
    # Either side deletes an active peering; the other side still sees it, deleted.
    theirs.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert _peering(mine, pcx)["Status"] == {"Code": "deleted", "Message": f"Deleted by {peer}"}

    # Another region: accepted in the accepter's region only.
    across = mine.create_vpc_peering_connection(VpcId=a, PeerVpcId=w, PeerRegion="us-west-2")
    across_id = across["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert across["VpcPeeringConnection"]["AccepterVpcInfo"]["Region"] == "us-west-2"
    message = _fails("OperationNotPermitted", mine.accept_vpc_peering_connection,
                     VpcPeeringConnectionId=across_id)  # fmt: skip
    assert message.endswith("must be accepted in region us-west-2")
    west.accept_vpc_peering_connection(VpcPeeringConnectionId=across_id)
    assert _peering(mine, across_id)["Status"]["Code"] == "active"
    _fails("OperationNotPermitted", west.modify_vpc_peering_connection_options,
           VpcPeeringConnectionId=across_id,
           AccepterPeeringConnectionOptions={"AllowEgressFromLocalVpcToRemoteClassicLink": False})  # fmt: skip


def test_requests_expire_and_peerings_survive_a_restart(tmp_path):
    account = _account()
    env = {"CLOUDLET_EC2_PEERING_EXPIRY_SECONDS": "3"}
    server = CloudletServer.start(data_dir=tmp_path / "data", env=env)
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        a, _ = _vpc(ec2, "10.45.0.0/16")
        b, _ = _vpc(ec2, "10.46.0.0/16")
        c, _ = _vpc(ec2, "10.47.0.0/16")
        active = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
        active_id = active["VpcPeeringConnectionId"]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=active_id)
        ec2.modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=active_id,
            AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
        )
        table = _main_table(ec2, a)
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.46.0.0/16",
                         VpcPeeringConnectionId=active_id)  # fmt: skip
        waiting = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=c)["VpcPeeringConnection"]
        waiting_id = waiting["VpcPeeringConnectionId"]
        before = _peering(ec2, active_id)
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data", env=env)
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        assert _peering(ec2, active_id) == before
        assert _route_states(ec2, table)["10.46.0.0/16"] == "active"
        eventually(lambda: _peering(ec2, waiting_id)["Status"]["Code"] == "expired", timeout=10)
        _fails("InvalidStateTransition", ec2.accept_vpc_peering_connection,
               VpcPeeringConnectionId=waiting_id)  # fmt: skip
    finally:
        server.stop()


# -- what instances reach ---------------------------------------------------------------


def _server_user_data(port: int) -> str:
    return f"""#!/bin/bash
mkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html
cd www && exec python3 -m http.server {port}
"""


def _probe_user_data(seconds: float, **targets: str) -> str:
    args = " ".join(f"{label}={target}" for label, target in targets.items())
    return f"#!/bin/bash\ncat > probe.py <<'EOF'\n{PROBE}\nEOF\npython3 probe.py {seconds} {args}\n"


def _run(ec2: Any, subnet: str, user_data: str) -> dict:
    return ec2.run_instances(
        ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.micro", SubnetId=subnet,
        UserData=user_data,
    )["Instances"][0]  # fmt: skip


def _default_group(ec2: Any, vpc_id: str) -> str:
    filters = [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": ["default"]},
    ]
    return ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"]


def _verdicts(ec2: Any, instance_id: str, label: str, after: int = 0) -> list[str]:
    lines = console(ec2, instance_id).splitlines()[after:]
    return [line.split(": ", 1)[1] for line in lines if line.startswith(f"{label}: ")]


def test_peered_instances_reach_each_other_only_as_routed(aws_client, cloudlet_server):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    port = free_port()
    a, a_subnet = _vpc(ec2, "10.60.0.0/16", "10.60.1.0/24")
    b, b_subnet = _vpc(ec2, "10.61.0.0/16", "10.61.1.0/24")
    assert a_subnet and b_subnet
    launched: list[str] = []
    try:
        web = _run(ec2, b_subnet, _server_user_data(port))
        launched.append(web["InstanceId"])
        address, name = web["PrivateIpAddress"], web["PrivateDnsName"]
        assert address.startswith("10.61.1.") and name.endswith(".ec2.internal")
        probe = _run(
            ec2, a_subnet, _probe_user_data(45, addr=f"{address}:{port}", name=f"{name}:{port}")
        )
        launched.append(probe["InstanceId"])
        probe_id = probe["InstanceId"]
        wait(ec2, "instance_running", launched)
        served = f"ok served by {web['InstanceId']}"
        # No peering: the address is not in the probe's VPC, nothing carries it there.
        eventually(lambda: _verdicts(ec2, probe_id, "addr"), timeout=20)
        pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"][
            "VpcPeeringConnectionId"
        ]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        # The server's (default) group lets in only its own members: as on AWS, it needs a
        # rule for the peer's traffic, here naming the peer VPC's default group.
        ec2.authorize_security_group_ingress(
            GroupId=_default_group(ec2, b),
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                 "UserIdGroupPairs": [{"GroupId": _default_group(ec2, a)}]}
            ],
        )  # fmt: skip
        # Routed one way only: the server gets the packets, its answers go nowhere.
        ec2.create_route(RouteTableId=_main_table(ec2, a), DestinationCidrBlock="10.61.0.0/16",
                         VpcPeeringConnectionId=pcx)  # fmt: skip
        eventually(lambda: _verdicts(ec2, probe_id, "addr")[-1] == "timeout-now")
        assert served not in console(ec2, probe_id)
        # Both ways: reachable at the private address; not by name, which the accepter's
        # side of the peering does not let the requester's VPC resolve.
        ec2.create_route(RouteTableId=_main_table(ec2, b), DestinationCidrBlock="10.60.1.0/24",
                         VpcPeeringConnectionId=pcx)  # fmt: skip
        eventually(lambda: _verdicts(ec2, probe_id, "addr")[-1] == served)
        eventually(lambda: _verdicts(ec2, probe_id, "name")[-1] == "no-such-host")
        ec2.modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=pcx,
            AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
        )
        eventually(lambda: _verdicts(ec2, probe_id, "name")[-1] == served)
        # Gone: unreachable again.
        before = len(console(ec2, probe_id).splitlines())
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        eventually(lambda: _verdicts(ec2, probe_id, "addr", before))
        assert served not in _verdicts(ec2, probe_id, "addr", before)
    finally:
        if launched:
            ec2.terminate_instances(InstanceIds=launched)
            wait(ec2, "instance_terminated", launched)


# -- the shims ----------------------------------------------------------------------------

SHIM_SCRIPT = r"""
import json, os, socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
out = {}

def attempt(key, fn):
    try:
        out[key] = fn()
    except socket.gaierror:
        out[key] = "no-such-host"
    except OSError as exc:
        out[key] = exc.errno

def fetch(host):
    with socket.create_connection((host, port), timeout=2) as s:
        return s.recv(100).decode()

attempt("peer", lambda: fetch("10.21.0.4"))
attempt("peer-vacant", lambda: fetch("10.21.0.9"))
attempt("peer-name", lambda: socket.gethostbyname("ip-10-21-0-4.eu-west-1.compute.internal"))
attempt("own-name", lambda: fetch("ip-10-20-0-4.eu-west-1.compute.internal"))
attempt("custom", lambda: socket.gethostbyname("ip-10-20-0-4.corp.example"))
attempt("custom-case", lambda: fetch("IP-10-20-0-4.Corp.Example."))
attempt("custom-peer", lambda: socket.gethostbyname("ip-10-21-0-4.corp.example"))
with open(path + ".new", "w") as f:
    f.write("dns 0\ndomain corp.example\nmap 10.20.0.4 127.0.0.1\n")
os.replace(path + ".new", path)
attempt("custom-off", lambda: socket.gethostbyname("ip-10-20-0-4.corp.example"))
print(json.dumps(out))
"""


def _modes() -> list[Any]:
    skip = pytest.mark.skipif(shim.preload_library() is None, reason="no C compiler")
    return [pytest.param("preload", marks=skip), "python"]


class _Hello(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"hello")


@pytest.mark.parametrize("mode", _modes())
def test_the_shims_read_what_peering_and_dhcp_add(mode: str, tmp_path: Path) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "map"
    path.write_text(
        "dns 1\ncidr 10.20.0.0/16\ncidr 10.21.0.0/24\nnodns 10.21.0.0/16\n"
        "domain Corp.Example.\nmap 10.20.0.4 127.0.0.1\nmap 10.21.0.4 127.0.0.1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDLET_", "LD_PRELOAD"))}
    env.update(
        CLOUDLET_BIND_ADDR="127.0.0.1",
        CLOUDLET_VPC_ADDRESSES=str(path),
        CLOUDLET_VPC_DOMAIN="eu-west-1.compute.internal",
    )
    if mode == "preload":
        env["LD_PRELOAD"] = str(shim.preload_library())
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(shim.PYTHON_DIR)
    try:
        args = [sys.executable, "-c", SHIM_SCRIPT, str(server.server_address[1]), str(path)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
    finally:
        server.shutdown()
        server.server_close()
    assert got == {
        "peer": "hello",
        "peer-vacant": errno.ETIMEDOUT,  # routed into the peering, nobody there: dropped
        "peer-name": "no-such-host",
        "own-name": "hello",
        "custom": "10.20.0.4",
        "custom-case": "hello",
        "custom-peer": "no-such-host",
        "custom-off": "no-such-host",
    }
