"""EC2 instances really run: user data, console, lifecycle, shutdown, restart, no leaks."""

from __future__ import annotations

import base64
import json
import time
import urllib.error

import psutil
import pytest
from botocore.exceptions import ClientError

from cloudlet.runtime.processes import group_members
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import (
    console,
    eventually,
    free_port,
    http_get,
    launch,
    state,
    wait,
)
from tests.services.names import unique


def _health(endpoint: str) -> dict:
    return json.loads(http_get(endpoint + "/_cloudlet/health"))["services"]["ec2"]


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_user_data_runs_once_serves_http_and_survives_the_lifecycle(aws_client, tmp_path):
    ec2 = aws_client("ec2")
    port, marker = free_port(), tmp_path / "boots"
    user_data = f"""#!/bin/bash
echo "id=$CLOUDLET_INSTANCE_ID ip=$CLOUDLET_PRIVATE_IP endpoint=$AWS_ENDPOINT_URL"
echo "region=$AWS_DEFAULT_REGION key=$AWS_ACCESS_KEY_ID"
echo ran >> {marker}
mkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html
cd www && exec python3 -m http.server {port} --bind 127.0.0.1
"""
    (iid,) = launch(ec2, user_data)
    wait(ec2, "instance_running", [iid])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    ip = inst["PrivateIpAddress"]
    assert ip.startswith("127.") and inst["PublicIpAddress"] == ip
    assert inst["PrivateDnsName"] == f"ip-{ip.replace('.', '-')}.ec2.internal"
    assert inst["ImageId"] == "ami-0123456789abcdef0" and inst["InstanceType"] == "t2.micro"

    url = f"http://{ip}:{port}/"  # binds to 127.0.0.1 land on the instance address
    assert eventually(lambda: http_get(url)).strip() == f"served by {iid}"
    out = eventually(lambda: "region=" in console(ec2, iid) and console(ec2, iid))
    assert f"id={iid} ip={ip} endpoint=http://127.0.0.1:" in out
    assert "region=us-east-1 key=test" in out
    wait(ec2, "instance_status_ok", [iid])

    # Reboot restarts the processes; user data is not run again.
    ec2.reboot_instances(InstanceIds=[iid])
    eventually(lambda: console(ec2, iid).count("booting") == 2)
    with pytest.raises(urllib.error.URLError):
        http_get(url)

    ec2.stop_instances(InstanceIds=[iid])
    wait(ec2, "instance_stopped", [iid])
    stopped = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert stopped["PrivateIpAddress"] == ip and "PublicIpAddress" not in stopped
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"

    started = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert started["PreviousState"]["Name"] == "stopped"
    wait(ec2, "instance_running", [iid])
    assert eventually(lambda: console(ec2, iid).count("booting") == 3)
    assert marker.read_text().split() == ["ran"]

    gone = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert gone["CurrentState"]["Name"] == "shutting-down"
    wait(ec2, "instance_terminated", [iid])
    assert state(ec2, iid) == "terminated"
    with pytest.raises(ClientError) as exc:
        ec2.start_instances(InstanceIds=[iid])
    assert _code(exc) == "IncorrectInstanceState"


def test_boto3_inside_an_instance_reaches_cloudlet(aws_client):
    ec2 = aws_client("ec2")
    user_data = """#!/usr/bin/env python3
import os, boto3
me = os.environ["CLOUDLET_INSTANCE_ID"]
res = boto3.client("ec2").describe_instances(InstanceIds=[me])["Reservations"]
print("seen", res[0]["Instances"][0]["InstanceId"], res[0]["Instances"][0]["State"]["Name"])
"""
    (iid,) = launch(ec2, user_data)
    out = eventually(lambda: "seen" in console(ec2, iid) and console(ec2, iid), timeout=30)
    assert f"seen {iid} running" in out
    ec2.terminate_instances(InstanceIds=[iid])


def test_shutdown_inside_follows_the_shutdown_behavior(aws_client):
    ec2 = aws_client("ec2")
    user_data = "#!/bin/bash\necho going down\nshutdown -h now\necho not reached\n"
    (stops,) = launch(ec2, user_data)
    (terminates,) = launch(ec2, user_data, InstanceInitiatedShutdownBehavior="terminate")
    wait(ec2, "instance_stopped", [stops])
    wait(ec2, "instance_terminated", [terminates])
    inst = ec2.describe_instances(InstanceIds=[stops])["Reservations"][0]["Instances"][0]
    assert inst["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    out = console(ec2, stops)
    assert "going down" in out and "not reached" not in out
    # The next boot does not run the user data again, so the instance stays up.
    ec2.start_instances(InstanceIds=[stops])
    wait(ec2, "instance_running", [stops])
    assert eventually(lambda: console(ec2, stops).count("booting") == 2)
    assert state(ec2, stops) == "running"
    ec2.terminate_instances(InstanceIds=[stops])


def test_instance_without_user_data_has_an_idle_process_group(aws_client, cloudlet_server):
    ec2 = aws_client("ec2")
    (iid,) = launch(ec2)
    wait(ec2, "instance_running", [iid])
    pgid = _health(cloudlet_server.endpoint)["process_groups"][iid]
    assert group_members(pgid)
    ec2.stop_instances(InstanceIds=[iid])
    wait(ec2, "instance_stopped", [iid])
    assert group_members(pgid) == []
    assert iid not in _health(cloudlet_server.endpoint)["process_groups"]
    ec2.terminate_instances(InstanceIds=[iid])


def test_describe_filters_and_pagination(aws_client):
    ec2 = aws_client("ec2")
    name = unique("fleet")
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}]
    ids = launch(ec2, count=6, TagSpecifications=tags, Placement={"AvailabilityZone": "us-east-1b"})
    by_name = [{"Name": "tag:Name", "Values": [name]}]
    res = ec2.describe_instances(Filters=by_name)["Reservations"]
    assert len(res) == 1 and sorted(i["InstanceId"] for i in res[0]["Instances"]) == sorted(ids)
    ips = {i["PrivateIpAddress"] for i in res[0]["Instances"]}
    assert len(ips) == 6
    one = res[0]["Instances"][2]

    def matching(*filters):
        out = ec2.describe_instances(Filters=[*by_name, *filters])["Reservations"]
        return sorted(i["InstanceId"] for r in out for i in r["Instances"])

    assert matching({"Name": "instance-id", "Values": [one["InstanceId"]]}) == [one["InstanceId"]]
    pip = {"Name": "private-ip-address", "Values": [one["PrivateIpAddress"]]}
    assert matching(pip) == [one["InstanceId"]]
    assert matching({"Name": "instance-type", "Values": ["t2.micro"]}) == sorted(ids)
    assert matching({"Name": "instance-type", "Values": ["m5.large"]}) == []
    assert matching({"Name": "availability-zone", "Values": ["us-east-1b"]}) == sorted(ids)
    assert matching({"Name": "image-id", "Values": ["ami-0123456789abcdef0"]}) == sorted(ids)
    assert matching({"Name": "tag-key", "Values": ["Name"]}) == sorted(ids)
    assert matching({"Name": "tag:Name", "Values": [name[:6] + "*"]}) == sorted(ids)
    wait(ec2, "instance_running", ids)
    assert matching({"Name": "instance-state-name", "Values": ["running"]}) == sorted(ids)

    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=by_name, PaginationConfig={"PageSize": 5}
    )
    sizes = [sum(len(r["Instances"]) for r in page["Reservations"]) for page in pages]
    assert sizes == [5, 1]

    status = ec2.describe_instance_status(InstanceIds=ids[:2])["InstanceStatuses"]
    assert {s["InstanceStatus"]["Status"] for s in status} == {"ok"}
    assert {s["AvailabilityZone"] for s in status} == {"us-east-1b"}
    ec2.terminate_instances(InstanceIds=ids)
    wait(ec2, "instance_terminated", ids)
    assert matching({"Name": "instance-state-name", "Values": ["terminated"]}) == sorted(ids)
    stopped = ec2.describe_instance_status(InstanceIds=ids[:1], IncludeAllInstances=True)
    assert stopped["InstanceStatuses"][0]["InstanceState"]["Name"] == "terminated"


def test_modify_instance_attribute_only_while_stopped(aws_client):
    ec2 = aws_client("ec2")
    (iid,) = launch(ec2)
    wait(ec2, "instance_running", [iid])
    with pytest.raises(ClientError) as exc:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    assert _code(exc) == "IncorrectInstanceState"
    assert "is not in the 'stopped' state" in exc.value.response["Error"]["Message"]
    ec2.stop_instances(InstanceIds=[iid])
    wait(ec2, "instance_stopped", [iid])
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho new\n"})
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert base64.b64decode(attr["UserData"]["Value"]) == b"#!/bin/sh\necho new\n"
    ec2.start_instances(InstanceIds=[iid])
    wait(ec2, "instance_running", [iid])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["InstanceType"] == "t3.small"
    ec2.terminate_instances(InstanceIds=[iid])


@pytest.mark.parametrize(
    "call,code",
    [
        (lambda e: e.describe_instances(InstanceIds=["i-0123456789abcdef0"]), "InvalidInstanceID.NotFound"),
        (lambda e: e.stop_instances(InstanceIds=["i-nothex"]), "InvalidInstanceID.Malformed"),
        (lambda e: e.run_instances(ImageId="ami-xyz", MinCount=1, MaxCount=1), "InvalidAMIID.Malformed"),
        (lambda e: e.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=1), "InvalidParameterValue"),
        (lambda e: e.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, KeyName="nope-key"), "InvalidKeyPair.NotFound"),
        (lambda e: e.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SecurityGroups=["nope-sg"]), "InvalidGroup.NotFound"),
        (lambda e: e.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="x9.huge"), "InvalidParameterValue"),
        (lambda e: e.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, DryRun=True), "DryRunOperation"),
        (lambda e: e.describe_instances(InstanceIds=["i-0123456789abcdef0"], MaxResults=5), "InvalidParameterCombination"),
        (lambda e: e.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}]), "InvalidParameterValue"),
    ],
)  # fmt: skip
def test_errors(aws_client, call, code):
    with pytest.raises(ClientError) as exc:
        call(aws_client("ec2"))
    assert _code(exc) == code


def _alive(pgids: list[int]) -> list[int]:
    return [pid for pgid in pgids for pid in group_members(pgid)]


def test_restart_brings_running_instances_back_and_leaves_no_process(tmp_path):
    marker = tmp_path / "boots"
    user_data = f"#!/bin/bash\necho ran >> {marker}\nsleep 300 &\nsleep 300\n"
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2")
        (running,) = launch(ec2, user_data)
        (stopped,) = launch(ec2)
        wait(ec2, "instance_running", [running, stopped])
        ec2.stop_instances(InstanceIds=[stopped])
        wait(ec2, "instance_stopped", [stopped])
        eventually(lambda: marker.exists())
        pgids = list(_health(server.endpoint)["process_groups"].values())
        assert (
            len(pgids) == 1
            and len(eventually(lambda: len(_alive(pgids)) >= 3 and _alive(pgids))) >= 3
        )
    finally:
        server.stop()
    assert _alive(pgids) == []
    assert not [
        p for p in psutil.process_iter(["environ"]) if _instance_of(p) in (running, stopped)
    ]

    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2")
        assert state(ec2, running) == "running"
        assert state(ec2, stopped) == "stopped"
        assert eventually(lambda: console(ec2, running).count("booting") == 2)
        assert marker.read_text().split() == ["ran"]
        pgids = list(_health(server.endpoint)["process_groups"].values())
        assert len(pgids) == 1 and _alive(pgids)
    finally:
        server.stop()
    assert _alive(pgids) == []


def _instance_of(proc: psutil.Process) -> str | None:
    try:
        return (proc.info.get("environ") or {}).get("CLOUDLET_INSTANCE_ID")
    except psutil.Error:
        return None


def test_boto2_textbook_run_instances(cloudlet_server):
    """The textbook calls: boto 2's EC2Connection, run_instances(image_id, key_name,
    instance_type, security_groups), console output, terminate."""
    boto_ec2 = pytest.importorskip("boto.ec2")
    from boto.ec2.regioninfo import RegionInfo

    conn = boto_ec2.connection.EC2Connection(
        "test",
        "test",
        region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"),
        is_secure=False,
        port=cloudlet_server.port,
    )
    key = f"boto2-{id(conn)}"
    conn.create_key_pair(key)
    conn.create_security_group(key, "web servers")
    reservation = conn.run_instances(
        "ami-12345678",
        key_name=key,
        instance_type="t2.micro",
        security_groups=[key],
        user_data="#!/bin/bash\necho hello-from-boto2\n",
    )
    instance = reservation.instances[0]
    try:
        deadline = time.monotonic() + 20
        output = ""
        while time.monotonic() < deadline and "hello-from-boto2" not in output:
            time.sleep(0.2)
            output = (conn.get_console_output(instance.id).output or b"").decode()
        assert "hello-from-boto2" in output
        instance.update()
        assert instance.state == "running"
        assert instance.private_ip_address.startswith("127.")
    finally:
        conn.terminate_instances([instance.id])
