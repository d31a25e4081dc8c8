"""EC2 VPC networking survives a restart: VPCs, subnets, gateways, route tables with
their routes and associations, network ACLs with their entries, attributes and tags
come back as they were (same ids), the default VPC's pieces too, and can then be
taken down as usual."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _fails(code: str, fn: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        fn(**kwargs)
    assert exc.value.response["Error"]["Code"] == code


def test_restart_keeps_the_network(tmp_path):
    account = _account()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock="10.9.1.0/24",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "k", "Value": "v"}]}],
        )["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        rtb = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)["AssociationId"]
        acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=10,
            Protocol="-1",
            RuleAction="allow",
            Egress=True,
            CidrBlock="0.0.0.0/0",
        )
        group = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc_id)
        default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
        before = {
            "vpcs": ec2.describe_vpcs()["Vpcs"],
            "subnets": ec2.describe_subnets()["Subnets"],
            "tables": ec2.describe_route_tables()["RouteTables"],
            "acls": ec2.describe_network_acls()["NetworkAcls"],
            "igws": ec2.describe_internet_gateways()["InternetGateways"],
        }
    finally:
        server.stop()

    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        after = {
            "vpcs": ec2.describe_vpcs()["Vpcs"],
            "subnets": ec2.describe_subnets()["Subnets"],
            "tables": ec2.describe_route_tables()["RouteTables"],
            "acls": ec2.describe_network_acls()["NetworkAcls"],
            "igws": ec2.describe_internet_gateways()["InternetGateways"],
        }
        assert after == before
        again = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
        assert again["Vpcs"] == default_vpc["Vpcs"]
        attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        assert attr["EnableDnsHostnames"] == {"Value": True}
        _fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
        ec2.delete_security_group(GroupId=group["GroupId"])
        ec2.delete_network_acl(NetworkAclId=acl)
        ec2.disassociate_route_table(AssociationId=assoc)
        ec2.delete_route_table(RouteTableId=rtb)
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=igw)
        ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc_id)
        assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]] == [
            default_vpc["Vpcs"][0]["VpcId"]
        ]
    finally:
        server.stop()
