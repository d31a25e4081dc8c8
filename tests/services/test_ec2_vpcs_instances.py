"""Instances in created VPCs, with boto3 against a real server: private addresses from
the subnet's block (never reserved, never twice, an explicit one honoured), security
groups of the instance's own VPC, public addresses only where the subnet (or the
launch) maps them, user data still run, routes to instances, and the services that
take subnets: a load balancer in created subnets reaching an instance in a private
one (by instance id and by its VPC address), and an Auto Scaling group launching into
a created subnet.

Each test works in an account of its own (a 12-digit access key names it)."""

from __future__ import annotations

import ipaddress
import os
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.ec2_helpers import IMAGE, console, eventually, free_port, wait
from tests.services.elbv2_helpers import HEALTH, request, states
from tests.services.names import unique

PORT = 80 if os.geteuid() == 0 else 8080
USER_DATA = """#!/bin/bash
echo "user data ran in $CLOUDLET_INSTANCE_ID"
python3 - <<'EOF'
import os, urllib.request
base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] + "/latest/meta-data/"
print("local-ipv4 " + urllib.request.urlopen(base + "local-ipv4").read().decode())
EOF
"""


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _fails(code: str, fn: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        fn(**kwargs)
    assert _code(exc) == code, exc.value.response["Error"]
    return exc.value.response["Error"]["Message"]


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _run(ec2: Any, count: int = 1, **kwargs: Any) -> list[dict]:
    kwargs.setdefault("InstanceType", "t2.micro")
    res = ec2.run_instances(ImageId=IMAGE, MinCount=count, MaxCount=count, **kwargs)
    return res["Instances"]


def _describe(ec2: Any, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _free(ec2: Any, subnet_id: str) -> int:
    return ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"]


def test_instances_take_addresses_and_groups_from_their_subnet(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    private = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.0.0/28")["Subnet"]["SubnetId"]
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    (vpc_default,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]
    launched: list[str] = []
    try:
        pair = _run(ec2, 2, SubnetId=private, UserData=USER_DATA)
        launched += [i["InstanceId"] for i in pair]
        addresses = [i["PrivateIpAddress"] for i in pair]
        assert addresses == ["10.20.0.4", "10.20.0.5"]  # .0 to .3 are AWS's
        first = pair[0]
        assert first["VpcId"] == vpc_id and first["SubnetId"] == private
        assert "PublicIpAddress" not in first and first["PublicDnsName"] == ""
        assert first["PrivateDnsName"] == "ip-10-20-0-4.ec2.internal"
        assert first["SecurityGroups"] == [
            {"GroupName": "default", "GroupId": vpc_default["GroupId"]}
        ]
        (eni,) = first["NetworkInterfaces"]
        assert (eni["SubnetId"], eni["VpcId"], eni["PrivateIpAddress"]) == (
            private,
            vpc_id,
            "10.20.0.4",
        )
        assert _free(ec2, private) == 9

        # The user data ran, and the metadata service tells the instance its address.
        wait(ec2, "instance_running", launched)
        out = eventually(
            lambda: (text := console(ec2, first["InstanceId"])) and "local-ipv4" in text and text,
            timeout=20,
        )
        assert f"user data ran in {first['InstanceId']}" in out
        assert "local-ipv4 10.20.0.4" in out

        # An address asked for is honoured once; reserved or foreign ones are refused.
        (chosen,) = _run(ec2, SubnetId=private, PrivateIpAddress="10.20.0.10")
        launched.append(chosen["InstanceId"])
        assert chosen["PrivateIpAddress"] == "10.20.0.10"
        _fails("InvalidIPAddress.InUse", _run, ec2=ec2, SubnetId=private,
               PrivateIpAddress="10.20.0.10")  # fmt: skip
        for address in ("10.20.0.1", "10.20.0.15", "10.20.9.9"):
            _fails("InvalidParameterValue", _run, ec2=ec2, SubnetId=private,
                   PrivateIpAddress=address)  # fmt: skip
        _fails("InsufficientFreeAddressesInSubnet", _run, ec2=ec2, count=9, SubnetId=private)

        # Security groups must be the VPC's; names only work in the default VPC.
        other = ec2.create_security_group(GroupName=unique("web"), Description="default VPC")
        _fails("InvalidParameter", _run, ec2=ec2, SubnetId=private,
               SecurityGroupIds=[other["GroupId"]])  # fmt: skip
        _fails("InvalidParameterCombination", _run, ec2=ec2, SubnetId=private,
               SecurityGroups=["default"])  # fmt: skip
        web = ec2.create_security_group(GroupName="web", Description="in the VPC", VpcId=vpc_id)
        ec2.delete_security_group(GroupId=other["GroupId"])

        # Public addresses: the subnet maps them, or the launch asks for one.
        (shown,) = _run(ec2, SubnetId=public, SecurityGroupIds=[web["GroupId"]])
        launched.append(shown["InstanceId"])
        assert ipaddress.ip_address(shown["PrivateIpAddress"]) in ipaddress.ip_network(
            "10.20.1.0/24"
        )
        assert shown["PublicIpAddress"].startswith("127.") and shown["PublicDnsName"] == ""
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        dashed = shown["PublicIpAddress"].replace(".", "-")
        assert _describe(ec2, shown["InstanceId"])["PublicDnsName"] == (
            f"ec2-{dashed}.compute-1.amazonaws.com"
        )
        (asked,) = _run(
            ec2,
            NetworkInterfaces=[
                {"DeviceIndex": 0, "SubnetId": private, "AssociatePublicIpAddress": True}
            ],
        )
        launched.append(asked["InstanceId"])
        assert asked["SubnetId"] == private and asked["PublicIpAddress"].startswith("127.")
        _fails(
            "InvalidParameterCombination",
            _run,
            ec2=ec2,
            SubnetId=private,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": private}],
        )

        def matching(name: str, value: str) -> set[str]:
            res = ec2.describe_instances(Filters=[{"Name": name, "Values": [value]}])
            return {i["InstanceId"] for r in res["Reservations"] for i in r["Instances"]}

        assert matching("subnet-id", public) == {shown["InstanceId"]}
        assert matching("vpc-id", vpc_id) == set(launched)
        assert matching("private-ip-address", "10.20.0.10") == {chosen["InstanceId"]}

        # Each instance's interface, as tools look for what still uses a subnet or group.
        in_private = ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [private]}]
        )["NetworkInterfaces"]
        by_instance = {n["Attachment"]["InstanceId"]: n for n in in_private}
        assert set(by_instance) == {first["InstanceId"], pair[1]["InstanceId"],
                                    chosen["InstanceId"], asked["InstanceId"]}  # fmt: skip
        mine = by_instance[first["InstanceId"]]
        assert (
            mine["NetworkInterfaceId"] == eni["NetworkInterfaceId"] and mine["Status"] == "in-use"
        )
        assert mine["PrivateIpAddress"] == "10.20.0.4" and mine["VpcId"] == vpc_id
        ec2.create_tags(Resources=[mine["NetworkInterfaceId"]], Tags=[{"Key": "k", "Value": "v"}])
        by_group = ec2.describe_network_interfaces(
            Filters=[
                {"Name": "group-id", "Values": [web["GroupId"]]},
                {"Name": "tag:k", "Values": ["v"]},
            ]
        )["NetworkInterfaces"]
        assert by_group == []
        tagged = ec2.describe_network_interfaces(NetworkInterfaceIds=[mine["NetworkInterfaceId"]])
        assert tagged["NetworkInterfaces"][0]["TagSet"] == [{"Key": "k", "Value": "v"}]
        _fails("InvalidNetworkInterfaceID.NotFound", ec2.describe_network_interfaces,
               NetworkInterfaceIds=["eni-0123456789abcdef0"])  # fmt: skip

        # A route to an instance, a blackhole once it is gone.
        rtb = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.create_route(
            RouteTableId=rtb, DestinationCidrBlock="192.168.0.0/16", InstanceId=first["InstanceId"]
        )
        route = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"][-1]
        assert route["InstanceId"] == first["InstanceId"] and route["State"] == "active"
        assert route["NetworkInterfaceId"] == eni["NetworkInterfaceId"]

        # Nothing leaves while instances use it.
        _fails("DependencyViolation", ec2.delete_subnet, SubnetId=private)
        _fails("DependencyViolation", ec2.detach_internet_gateway, InternetGatewayId=igw,
               VpcId=vpc_id)  # fmt: skip
        _fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    finally:
        ec2.terminate_instances(InstanceIds=launched)
    wait(ec2, "instance_terminated", launched)
    route = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"][-1]
    assert route["State"] == "blackhole"
    assert _free(ec2, private) == 11
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.delete_security_group(GroupId=web["GroupId"])
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_subnet(SubnetId=private)
    ec2.delete_subnet(SubnetId=public)
    ec2.delete_vpc(VpcId=vpc_id)


def test_load_balancer_and_scaling_group_in_created_subnets(aws_client):
    account = _account()
    ec2 = aws_client("ec2", aws_access_key_id=account)
    elbv2 = aws_client("elbv2", aws_access_key_id=account)
    asg = aws_client("autoscaling", aws_access_key_id=account)
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    user_data = (
        '#!/bin/bash\nmkdir -p www && echo "hi from $CLOUDLET_INSTANCE_ID" > www/index.html\n'
        "echo ok > www/health\ncd www && exec python3 -m http.server 8080\n"
    )
    (inst,) = _run(ec2, SubnetId=subnets[0], UserData=user_data)
    iid = inst["InstanceId"]
    lb_arn = None
    groups: list[str] = []
    name = unique("asg")
    try:
        assert inst["PrivateIpAddress"].startswith("10.30.0.")
        lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=subnets)["LoadBalancers"][0]
        lb_arn = lb["LoadBalancerArn"]
        assert lb["VpcId"] == vpc_id
        assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == set(subnets)
        tg = elbv2.create_target_group(
            Name=unique("tg"),
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc_id,
            TargetType="instance",
            HealthCheckPath="/health",
            **HEALTH,
        )["TargetGroups"][0]["TargetGroupArn"]
        groups.append(tg)
        wait(ec2, "instance_running", [iid])
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 8080}])
        elbv2.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="HTTP",
            Port=PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
        # The instance is only described at 10.30.0.x: the balancer reaches where it listens.
        eventually(lambda: set(states(elbv2, tg).values()) == {"healthy"}, timeout=20)
        status, _, body = request(lb["DNSName"], PORT, "/index.html")
        assert status == 200 and body.decode().strip() == f"hi from {iid}"
        # An ip target named by the instance's VPC address reaches it too.
        by_ip = elbv2.create_target_group(
            Name=unique("tg"),
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc_id,
            TargetType="ip",
            HealthCheckPath="/health",
            **HEALTH,
        )["TargetGroups"][0]["TargetGroupArn"]
        groups.append(by_ip)
        elbv2.register_targets(TargetGroupArn=by_ip, Targets=[{"Id": inst["PrivateIpAddress"]}])
        other_port = free_port()
        elbv2.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="HTTP",
            Port=other_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": by_ip}],
        )
        eventually(lambda: set(states(elbv2, by_ip).values()) == {"healthy"}, timeout=20)
        status, _, body = request(lb["DNSName"], other_port, "/index.html")
        assert status == 200 and body.decode().strip() == f"hi from {iid}"

        template = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={
                "ImageId": IMAGE,
                "InstanceType": "t2.micro",
                "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
            },
        )["LaunchTemplate"]["LaunchTemplateId"]
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template},
            MinSize=1,
            MaxSize=1,
            VPCZoneIdentifier=",".join(subnets),
        )
        (member,) = eventually(
            lambda: asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
                "AutoScalingGroups"
            ][0]["Instances"],
            timeout=30,
        )
        launched = _describe(ec2, member["InstanceId"])
        assert launched["VpcId"] == vpc_id and launched["SubnetId"] in subnets
        assert launched["PrivateIpAddress"].startswith("10.30.")
        assert launched["PublicIpAddress"].startswith("127.")  # the template's interface asks
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
        if lb_arn:
            elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)
        for arn in groups:
            elbv2.delete_target_group(TargetGroupArn=arn)
        try:
            asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        except ClientError:
            pass
    members = [
        i["InstanceId"]
        for r in ec2.describe_instances(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
            "Reservations"
        ]
        for i in r["Instances"]
    ]
    ec2.terminate_instances(InstanceIds=members)
    wait(ec2, "instance_terminated", members)
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc_id)
