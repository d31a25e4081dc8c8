"""EC2 VPC networking with boto3 against a real server: a VPC's whole life (subnets, an
internet gateway, route tables, network ACLs, their associations), AWS's errors for
each rule, filters and pages, and the default VPC's own pieces (the restart is in
``test_ec2_vpcs_restart``). Each test works in an account of its own (a 12-digit
access key names the account), so listings are exact."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

FAST = {"Delay": 1, "MaxAttempts": 10}


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


@pytest.fixture
def ec2(aws_client):
    return aws_client("ec2", aws_access_key_id=_account())


def _fails(code: str, fn: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        fn(**kwargs)
    assert _code(exc) == code, exc.value.response["Error"]
    return exc.value.response["Error"]["Message"]


def _only(ec2: Any, method: str, key: str, vpc_id: str) -> list[dict]:
    return getattr(ec2, method)(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[key]


def test_a_vpc_from_creation_to_deletion(ec2):
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tags)["Vpc"]
    vpc_id = vpc["VpcId"]
    assert vpc["State"] == "pending" and vpc["Tags"] == [{"Key": "Name", "Value": "main"}]
    ec2.get_waiter("vpc_exists").wait(VpcIds=[vpc_id], WaiterConfig=FAST)
    ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id], WaiterConfig=FAST)
    got = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert (got["State"], got["IsDefault"], got["InstanceTenancy"]) == (
        "available",
        False,
        "default",
    )
    assert got["CidrBlockAssociationSet"][0]["CidrBlockState"]["State"] == "associated"

    # What AWS makes with every VPC: main route table, default ACL, default group.
    (main,) = _only(ec2, "describe_route_tables", "RouteTables", vpc_id)
    assert main["Associations"][0]["Main"] is True
    assert main["Routes"] == [
        {
            "DestinationCidrBlock": "10.0.0.0/16",
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    (acl,) = _only(ec2, "describe_network_acls", "NetworkAcls", vpc_id)
    assert acl["IsDefault"] and acl["Associations"] == []
    rules = sorted((e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in acl["Entries"])
    assert rules == [
        (False, 100, "allow"),
        (False, 32767, "deny"),
        (True, 100, "allow"),
        (True, 32767, "deny"),
    ]
    (group,) = _only(ec2, "describe_security_groups", "SecurityGroups", vpc_id)
    assert group["GroupName"] == "default"

    # DNS attributes: support on, hostnames off, one attribute per call.
    attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"] == {"Value": False}
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"] == {"Value": True}
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")[
        "EnableDnsSupport"
    ] == {"Value": True}
    _fails(
        "InvalidParameterCombination",
        ec2.modify_vpc_attribute,
        VpcId=vpc_id,
        EnableDnsHostnames={"Value": False},
        EnableDnsSupport={"Value": True},
    )
    _fails("InvalidParameterValue", ec2.describe_vpc_attribute, VpcId=vpc_id, Attribute="nope")

    # Two subnets, one named by zone, one by zone id.
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    public = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=zones[0]["ZoneName"]
    )["Subnet"]
    private = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.0.2.0/24", AvailabilityZoneId=zones[1]["ZoneId"]
    )["Subnet"]
    ec2.get_waiter("subnet_available").wait(
        SubnetIds=[public["SubnetId"], private["SubnetId"]], WaiterConfig=FAST
    )
    assert private["AvailabilityZone"] == zones[1]["ZoneName"]
    assert public["AvailableIpAddressCount"] == 251 and not public["MapPublicIpOnLaunch"]
    ec2.modify_subnet_attribute(SubnetId=public["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    got = ec2.describe_subnets(SubnetIds=[public["SubnetId"]])["Subnets"][0]
    assert got["MapPublicIpOnLaunch"] and got["DefaultForAz"] is False
    (acl,) = _only(ec2, "describe_network_acls", "NetworkAcls", vpc_id)
    assert {a["SubnetId"] for a in acl["Associations"]} == {
        public["SubnetId"],
        private["SubnetId"],
    }

    # An internet gateway, attached once.
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    _fails(
        "Resource.AlreadyAssociated",
        ec2.attach_internet_gateway,
        InternetGatewayId=igw,
        VpcId=vpc_id,
    )
    other = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    _fails(
        "Resource.AlreadyAssociated",
        ec2.attach_internet_gateway,
        InternetGatewayId=other,
        VpcId=vpc_id,
    )
    found = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    assert [g["InternetGatewayId"] for g in found] == [igw]
    assert found[0]["Attachments"] == [{"State": "available", "VpcId": vpc_id}]
    _fails(
        "Gateway.NotAttached", ec2.detach_internet_gateway, InternetGatewayId=other, VpcId=vpc_id
    )
    ec2.delete_internet_gateway(InternetGatewayId=other)

    # A public route table: default route to the gateway, associated with one subnet.
    rtb = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assert ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)[
        "Return"
    ]
    _fails(
        "RouteAlreadyExists",
        ec2.create_route,
        RouteTableId=rtb,
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw,
    )
    _fails(
        "RouteAlreadyExists",
        ec2.create_route,
        RouteTableId=rtb,
        DestinationCidrBlock="10.0.0.0/16",
        GatewayId=igw,
    )
    _fails(
        "InvalidParameterValue",
        ec2.create_route,
        RouteTableId=rtb,
        DestinationCidrBlock="10.0.5.0/24",
        GatewayId=igw,
    )
    assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=public["SubnetId"])
    assert assoc["AssociationState"]["State"] == "associated"
    _fails(
        "Resource.AlreadyAssociated",
        ec2.associate_route_table,
        RouteTableId=main["RouteTableId"],
        SubnetId=public["SubnetId"],
    )
    by_subnet = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [public["SubnetId"]]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in by_subnet] == [rtb]
    routes = {r["DestinationCidrBlock"]: r for r in by_subnet[0]["Routes"]}
    assert routes["0.0.0.0/0"]["GatewayId"] == igw and routes["0.0.0.0/0"]["State"] == "active"
    assert routes["0.0.0.0/0"]["Origin"] == "CreateRoute"
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    _fails(
        "InvalidParameterValue",
        ec2.replace_route,
        RouteTableId=rtb,
        DestinationCidrBlock="8.8.8.0/24",
        GatewayId=igw,
    )
    _fails(
        "InvalidParameterValue",
        ec2.delete_route,
        RouteTableId=rtb,
        DestinationCidrBlock="10.0.0.0/16",
    )
    _fails(
        "InvalidRoute.NotFound",
        ec2.delete_route,
        RouteTableId=rtb,
        DestinationCidrBlock="8.8.8.0/24",
    )

    # The main association moves to our table and back.
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    _fails("InvalidParameterValue", ec2.disassociate_route_table, AssociationId=main_assoc)
    moved = ec2.replace_route_table_association(AssociationId=main_assoc, RouteTableId=rtb)
    mains = ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]}])
    assert [t["RouteTableId"] for t in mains["RouteTables"] if t["VpcId"] == vpc_id] == [rtb]
    ec2.replace_route_table_association(
        AssociationId=moved["NewAssociationId"], RouteTableId=main["RouteTableId"]
    )
    _fails("DependencyViolation", ec2.delete_route_table, RouteTableId=main["RouteTableId"])

    # A network ACL for the private subnet.
    nacl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]
    assert not nacl["IsDefault"] and {e["RuleNumber"] for e in nacl["Entries"]} == {32767}
    entry = {
        "NetworkAclId": nacl["NetworkAclId"],
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "10.0.0.0/16",
        "PortRange": {"From": 443, "To": 443},
    }
    ec2.create_network_acl_entry(**entry)
    _fails("NetworkAclEntryAlreadyExists", ec2.create_network_acl_entry, **entry)
    _fails("MissingParameter", ec2.create_network_acl_entry, **{**entry, "RuleNumber": 110,
                                                                "PortRange": {}})  # fmt: skip
    _fails("InvalidParameterValue", ec2.create_network_acl_entry, **{**entry, "RuleNumber": 0})
    ec2.replace_network_acl_entry(**{**entry, "RuleAction": "deny"})
    ec2.create_network_acl_entry(**{**entry, "Egress": True, "Protocol": "-1", "RuleNumber": 90})
    got = ec2.describe_network_acls(NetworkAclIds=[nacl["NetworkAclId"]])["NetworkAcls"][0]
    ingress = [e for e in got["Entries"] if not e["Egress"]]
    assert [(e["RuleNumber"], e["RuleAction"]) for e in ingress] == [(100, "deny"), (32767, "deny")]
    assert ingress[0]["PortRange"] == {"From": 443, "To": 443}
    ec2.delete_network_acl_entry(NetworkAclId=nacl["NetworkAclId"], RuleNumber=90, Egress=True)
    _fails(
        "InvalidNetworkAclEntry.NotFound",
        ec2.delete_network_acl_entry,
        NetworkAclId=nacl["NetworkAclId"],
        RuleNumber=90,
        Egress=True,
    )
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [private["SubnetId"]]}]
    )["NetworkAcls"][0]
    old_assoc = next(a for a in current["Associations"] if a["SubnetId"] == private["SubnetId"])[
        "NetworkAclAssociationId"
    ]
    new_assoc = ec2.replace_network_acl_association(
        AssociationId=old_assoc, NetworkAclId=nacl["NetworkAclId"]
    )["NewAssociationId"]
    _fails("DependencyViolation", ec2.delete_network_acl, NetworkAclId=nacl["NetworkAclId"])
    _fails("InvalidParameterValue", ec2.delete_network_acl, NetworkAclId=current["NetworkAclId"])

    # Nothing goes while something depends on it.
    _fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    _fails("DependencyViolation", ec2.delete_internet_gateway, InternetGatewayId=igw)

    # A detached gateway leaves its routes as blackholes.
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    table = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
    default = next(r for r in table["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0")
    assert default["State"] == "blackhole"
    blackholes = ec2.describe_route_tables(
        Filters=[{"Name": "route.state", "Values": ["blackhole"]}]
    )
    assert [t["RouteTableId"] for t in blackholes["RouteTables"]] == [rtb]

    # Take it all down, in the order AWS requires.
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.replace_network_acl_association(
        AssociationId=new_assoc, NetworkAclId=current["NetworkAclId"]
    )
    ec2.delete_network_acl(NetworkAclId=nacl["NetworkAclId"])
    ec2.disassociate_route_table(AssociationId=assoc["AssociationId"])
    _fails("InvalidAssociationID.NotFound", ec2.disassociate_route_table,
           AssociationId=assoc["AssociationId"])  # fmt: skip
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.delete_subnet(SubnetId=public["SubnetId"])
    _fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    ec2.delete_subnet(SubnetId=private["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    _fails("InvalidVpcID.NotFound", ec2.describe_vpcs, VpcIds=[vpc_id])
    _fails("InvalidSubnetID.NotFound", ec2.describe_subnets, SubnetIds=[public["SubnetId"]])
    _fails("InvalidRouteTableID.NotFound", ec2.describe_route_tables, RouteTableIds=[rtb])
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["Tags"] == []
    assert _only(ec2, "describe_security_groups", "SecurityGroups", vpc_id) == []


def test_address_rules_and_their_errors(ec2):
    for cidr in ("10.0.0.0/8", "10.0.0.0/29"):
        _fails("InvalidVpc.Range", ec2.create_vpc, CidrBlock=cidr)
    for cidr in ("10.0.0.0/33", "banana", "10.0.0.0"):
        _fails("InvalidParameterValue", ec2.create_vpc, CidrBlock=cidr)
    _fails("InvalidVpcID.NotFound", ec2.create_subnet, VpcId="vpc-0123456789abcdef0",
           CidrBlock="10.0.0.0/24")  # fmt: skip
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.5/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"

    _fails("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.1.0.0/24")
    _fails("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.0/29")
    first = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/28")["Subnet"]
    assert first["AvailableIpAddressCount"] == 11
    _fails("InvalidSubnet.Conflict", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.0/24")
    message = _fails(
        "InvalidParameterValue",
        ec2.create_subnet,
        VpcId=vpc_id,
        CidrBlock="10.0.9.0/24",
        AvailabilityZone="us-west-2a",
    )
    assert "us-east-1a" in message

    # A second block: same private range allowed, another private range restricted.
    added = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.1.0.0/16")
    assert added["CidrBlockAssociation"]["CidrBlockState"]["State"] == "associating"
    _fails(
        "InvalidVpc.Range", ec2.associate_vpc_cidr_block, VpcId=vpc_id, CidrBlock="192.168.0.0/16"
    )
    _fails("InvalidVpc.Range", ec2.associate_vpc_cidr_block, VpcId=vpc_id, CidrBlock="10.1.0.0/20")
    second = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.4.0/24")["Subnet"]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert sorted(a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]) == [
        "10.0.0.0/16",
        "10.1.0.0/16",
    ]
    (main,) = _only(ec2, "describe_route_tables", "RouteTables", vpc_id)
    assert sorted(r["DestinationCidrBlock"] for r in main["Routes"]) == [
        "10.0.0.0/16",
        "10.1.0.0/16",
    ]
    primary = vpc["CidrBlockAssociationSet"][0]["AssociationId"]
    _fails("OperationNotPermitted", ec2.disassociate_vpc_cidr_block, AssociationId=primary)
    extra = added["CidrBlockAssociation"]["AssociationId"]
    _fails("DependencyViolation", ec2.disassociate_vpc_cidr_block, AssociationId=extra)
    ec2.delete_subnet(SubnetId=second["SubnetId"])
    gone = ec2.disassociate_vpc_cidr_block(AssociationId=extra)
    assert gone["CidrBlockAssociation"]["CidrBlockState"]["State"] == "disassociating"
    _fails("InvalidVpcCidrBlockAssociationID.NotFound", ec2.disassociate_vpc_cidr_block,
           AssociationId=extra)  # fmt: skip

    # Amazon-provided IPv6: a /56 (of the unique local range here), /64 subnets inside it.
    v6 = ec2.create_vpc(CidrBlock="192.168.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    block = v6["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    net = ipaddress.IPv6Network(block)
    assert net.prefixlen == 56 and net.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    sub64 = str(next(net.subnets(new_prefix=64)))
    sub = ec2.create_subnet(VpcId=v6["VpcId"], CidrBlock="192.168.1.0/24", Ipv6CidrBlock=sub64)
    assert sub["Subnet"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == sub64
    _fails("InvalidSubnet.Conflict", ec2.create_subnet, VpcId=v6["VpcId"],
           CidrBlock="192.168.2.0/24", Ipv6CidrBlock=sub64)  # fmt: skip

    # The VPC quota counts the default VPC: 5 per account and region.
    ec2.create_vpc(CidrBlock="172.16.0.0/16")
    ec2.create_vpc(CidrBlock="172.20.0.0/16")
    _fails("VpcLimitExceeded", ec2.create_vpc, CidrBlock="172.24.0.0/16")

    # Unknown ids everywhere answer their own NotFound codes.
    _fails("InvalidInternetGatewayID.NotFound", ec2.attach_internet_gateway,
           InternetGatewayId="igw-0123456789abcdef0", VpcId=vpc_id)  # fmt: skip
    _fails("InvalidNetworkAclID.NotFound", ec2.describe_network_acls,
           NetworkAclIds=["acl-0123456789abcdef0"])  # fmt: skip
    _fails("InvalidSubnetID.NotFound", ec2.delete_subnet, SubnetId="subnet-0123456789abcdef0")
    _fails("InvalidVpcID.NotFound", ec2.create_security_group, GroupName="g", Description="d",
           VpcId="vpc-0123456789abcdef0")  # fmt: skip
    _fails("InvalidVpcID.NotFound", ec2.delete_vpc, VpcId="vpc-0123456789abcdef0")


def test_filters_pages_and_the_default_vpc(ec2):
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(default) == 1 and default[0]["CidrBlock"] == "172.31.0.0/16"
    default_id = default[0]["VpcId"]
    # The default VPC has its gateway, main table (default route to it) and ACL.
    (igw,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [default_id]}]
    )["InternetGateways"]
    (main,) = _only(ec2, "describe_route_tables", "RouteTables", default_id)
    assert {r["DestinationCidrBlock"]: r["GatewayId"] for r in main["Routes"]} == {
        "172.31.0.0/16": "local",
        "0.0.0.0/0": igw["InternetGatewayId"],
    }
    (acl,) = _only(ec2, "describe_network_acls", "NetworkAcls", default_id)
    assert len(acl["Associations"]) == 3

    made = []
    for index, env in enumerate(("prod", "test", "prod")):
        vpc = ec2.create_vpc(
            CidrBlock=f"10.{index}.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "env", "Value": env}]}],
        )["Vpc"]
        made.append(vpc["VpcId"])
    ec2.create_tags(Resources=[made[1]], Tags=[{"Key": "team", "Value": "blue"}])

    def ids(*filters: dict) -> list[str]:
        return [v["VpcId"] for v in ec2.describe_vpcs(Filters=list(filters))["Vpcs"]]

    assert ids({"Name": "tag:env", "Values": ["prod"]}) == [made[0], made[2]]
    assert ids({"Name": "tag-key", "Values": ["team"]}) == [made[1]]
    assert ids({"Name": "cidr", "Values": ["10.1.0.0/16"]}) == [made[1]]
    assert ids({"Name": "cidr-block-association.cidr-block", "Values": ["10.2.*"]}) == [made[2]]
    assert (
        ids({"Name": "is-default", "Values": ["false"]}, {"Name": "state", "Values": ["available"]})
        == made
    )
    assert len(ids({"Name": "owner-id", "Values": [default[0]["OwnerId"]]})) == 4
    _fails("InvalidParameterValue", ec2.describe_vpcs, Filters=[{"Name": "nope", "Values": ["x"]}])

    pages = ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5})
    listed = [v["VpcId"] for page in pages for v in page["Vpcs"]]
    assert listed == [default_id, *made]
    first = ec2.describe_vpcs(MaxResults=5)
    assert len(first["Vpcs"]) == 4 and "NextToken" not in first
    subnets = [
        ec2.create_subnet(VpcId=made[0], CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(6)
    ]
    page = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [made[0]]}], MaxResults=5)
    rest = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [made[0]]}], MaxResults=5, NextToken=page["NextToken"]
    )
    assert [s["SubnetId"] for s in page["Subnets"] + rest["Subnets"]] == subnets
    by_count = ec2.describe_subnets(
        Filters=[
            {"Name": "available-ip-address-count", "Values": ["251"]},
            {"Name": "cidr-block", "Values": ["10.0.3.0/24"]},
        ]
    )["Subnets"]
    assert [s["SubnetId"] for s in by_count] == [subnets[3]]
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert {s["VpcId"] for s in defaults["Subnets"]} == {default_id}
    ec2.create_tags(Resources=[subnets[0]], Tags=[{"Key": "tier", "Value": "web"}])
    tags = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["subnet", "vpc"]}])
    kinds = {(t["ResourceType"], t["Key"]) for t in tags["Tags"]}
    assert kinds == {("vpc", "env"), ("vpc", "team"), ("subnet", "tier")}
