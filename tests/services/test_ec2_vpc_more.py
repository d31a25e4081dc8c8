"""DHCP option sets, egress-only internet gateways, the default VPC's lifecycle and
managed prefix lists, with boto3 against a real server.

What each does as AWS documents it, its errors, and its effect: a DHCP option
set's custom domain names resolve inside the VPC's instances (with a custom
DNS server, as the DHCP docs require); routes send IPv6 only to an egress-only
gateway and blackhole once it goes; without a default VPC, calls that need one
fail until CreateDefaultVpc makes a new one; prefix lists version their
entries and serve as security group sources and route destinations. The last
test restarts the server: everything comes back. Each test works in an
account of its own (a 12-digit access key names it).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually, free_port, wait


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _fails(code: str, fn: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        fn(**kwargs)
    assert exc.value.response["Error"]["Code"] == code, exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Message"]


def _main_table(ec2: Any, vpc_id: str) -> str:
    return ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"][0]["RouteTableId"]


def _routes(ec2: Any, table_id: str) -> list[dict]:
    return ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Routes"]


def _conf(options: dict) -> dict[str, list[str]]:
    return {c["Key"]: [v["Value"] for v in c["Values"]] for c in options["DhcpConfigurations"]}


def test_dhcp_option_sets(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    (default,) = ec2.describe_dhcp_options()["DhcpOptions"]
    assert _conf(default) == {
        "domain-name": ["ec2.internal"],
        "domain-name-servers": ["AmazonProvidedDNS"],
    }
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]
    assert vpc["DhcpOptionsId"] == default["DhcpOptionsId"]
    for bad in (
        [{"Key": "domain-nameservers", "Values": ["10.0.0.2"]}],
        [
            {
                "Key": "domain-name-servers",
                "Values": ["10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5"],
            }
        ],
        [{"Key": "domain-name-servers", "Values": ["not-an-address"]}],
        [{"Key": "netbios-node-type", "Values": ["3"]}],
    ):
        _fails("InvalidParameterValue", ec2.create_dhcp_options, DhcpConfigurations=bad)
    made = ec2.create_dhcp_options(
        DhcpConfigurations=[
            {"Key": "domain-name", "Values": ["corp.example"]},
            {"Key": "domain-name-servers", "Values": ["10.0.0.2,AmazonProvidedDNS"]},
            {"Key": "ntp-servers", "Values": ["169.254.169.123"]},
        ],
        TagSpecifications=[{"ResourceType": "dhcp-options", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["DhcpOptions"]
    dopt = made["DhcpOptionsId"]
    assert _conf(made)["domain-name-servers"] == ["10.0.0.2", "AmazonProvidedDNS"]
    found = ec2.describe_dhcp_options(Filters=[{"Name": "value", "Values": ["corp.example"]}])
    assert [d["DhcpOptionsId"] for d in found["DhcpOptions"]] == [dopt]
    assert ec2.describe_dhcp_options(DhcpOptionsIds=[dopt])["DhcpOptions"][0]["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    ec2.associate_dhcp_options(VpcId=vpc["VpcId"], DhcpOptionsId=dopt)
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["DhcpOptionsId"] == dopt
    by_set = ec2.describe_vpcs(Filters=[{"Name": "dhcp-options-id", "Values": [dopt]}])["Vpcs"]
    assert [v["VpcId"] for v in by_set] == [vpc["VpcId"]]
    _fails("DependencyViolation", ec2.delete_dhcp_options, DhcpOptionsId=dopt)
    # ``default``: no options at all, as AWS documents.
    ec2.associate_dhcp_options(VpcId=vpc["VpcId"], DhcpOptionsId="default")
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["DhcpOptionsId"] == "default"
    ec2.delete_dhcp_options(DhcpOptionsId=dopt)
    _fails("InvalidDhcpOptionID.NotFound", ec2.delete_dhcp_options, DhcpOptionsId=dopt)
    _fails("InvalidDhcpOptionID.NotFound", ec2.associate_dhcp_options, VpcId=vpc["VpcId"],
           DhcpOptionsId=dopt)  # fmt: skip
    _fails("InvalidDhcpOptionsId.Malformed", ec2.delete_dhcp_options, DhcpOptionsId="nope")


PROBE = r"""
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
host, port = sys.argv[2].rsplit(":", 1)
last = None
while time.monotonic() < deadline:
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = s.makefile("rb").read().split(b"\r\n\r\n", 1)[-1]
            got = "ok " + body.decode().strip()
    except socket.gaierror:
        got = "no-such-host"
    except OSError as exc:
        got = type(exc).__name__
    if got != last:
        print("name:", got, flush=True)
        last = got
    time.sleep(0.2)
"""


def test_a_custom_domain_names_the_vpcs_instances(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    port = free_port()
    vpc = ec2.create_vpc(CidrBlock="10.81.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.81.1.0/24")["Subnet"]["SubnetId"]

    def options(*servers: str) -> str:
        return ec2.create_dhcp_options(
            DhcpConfigurations=[
                {"Key": "domain-name", "Values": ["corp.example"]},
                {"Key": "domain-name-servers", "Values": list(servers)},
            ]
        )["DhcpOptions"]["DhcpOptionsId"]

    own_server, amazon_only = options("10.81.0.2"), options("AmazonProvidedDNS")
    web_data = (
        '#!/bin/bash\nmkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html\n'
        f"cd www && exec python3 -m http.server {port}\n"
    )
    ids = []
    try:
        web = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, SubnetId=subnet,
                                UserData=web_data)["Instances"][0]  # fmt: skip
        ids.append(web["InstanceId"])
        name = "ip-" + web["PrivateIpAddress"].replace(".", "-") + ".corp.example"
        probe_data = (
            f"#!/bin/bash\ncat > p.py <<'EOF'\n{PROBE}\nEOF\npython3 p.py 40 {name}:{port}\n"
        )
        probe = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, SubnetId=subnet,
                                  UserData=probe_data)["Instances"][0]  # fmt: skip
        ids.append(probe["InstanceId"])
        wait(ec2, "instance_running", ids)
        served = f"name: ok served by {web['InstanceId']}"

        def last() -> str:
            lines = [
                x for x in console(ec2, probe["InstanceId"]).splitlines() if x.startswith("name:")
            ]
            return lines[-1] if lines else ""

        # The region's default set: the custom domain is nobody's.
        eventually(lambda: last() == "name: no-such-host", timeout=20)
        # A custom domain with AmazonProvidedDNS only: Amazon's DNS does not serve it.
        ec2.associate_dhcp_options(VpcId=vpc, DhcpOptionsId=amazon_only)
        ec2.associate_dhcp_options(VpcId=vpc, DhcpOptionsId=own_server)
        # With a custom DNS server, instances' names in the domain resolve (no restart).
        eventually(lambda: last() == served)
        ec2.associate_dhcp_options(VpcId=vpc, DhcpOptionsId=amazon_only)
        eventually(lambda: last() == "name: no-such-host")
        # The private DNS name EC2 describes stays Amazon's.
        assert web["PrivateDnsName"].endswith(".ec2.internal")
    finally:
        ec2.terminate_instances(InstanceIds=ids)
        wait(ec2, "instance_terminated", ids)


def test_egress_only_internet_gateways(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    vpc = ec2.create_vpc(CidrBlock="10.82.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    other = ec2.create_vpc(CidrBlock="10.83.0.0/16")["Vpc"]["VpcId"]
    _fails("InvalidVpcID.NotFound", ec2.create_egress_only_internet_gateway, VpcId="vpc-0000")
    made = ec2.create_egress_only_internet_gateway(VpcId=vpc, ClientToken="t1")
    gateway = made["EgressOnlyInternetGateway"]
    eigw = gateway["EgressOnlyInternetGatewayId"]
    assert eigw.startswith("eigw-") and made["ClientToken"] == "t1"
    assert gateway["Attachments"] == [{"State": "attached", "VpcId": vpc}]
    again = ec2.create_egress_only_internet_gateway(VpcId=vpc, ClientToken="t1")
    assert again["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"] == eigw
    listed = ec2.describe_egress_only_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["EgressOnlyInternetGateways"]
    assert [g["EgressOnlyInternetGatewayId"] for g in listed] == [eigw]
    table = _main_table(ec2, vpc)
    ec2.create_route(
        RouteTableId=table, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw
    )
    route = next(r for r in _routes(ec2, table) if r.get("DestinationIpv6CidrBlock") == "::/0")
    assert route["EgressOnlyInternetGatewayId"] == eigw and route["State"] == "active"
    _fails("InvalidParameterValue", ec2.create_route, RouteTableId=table,
           DestinationCidrBlock="0.0.0.0/0", EgressOnlyInternetGatewayId=eigw)  # fmt: skip
    _fails("InvalidParameterValue", ec2.create_route, RouteTableId=_main_table(ec2, other),
           DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw)  # fmt: skip
    _fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc)
    assert ec2.delete_egress_only_internet_gateway(EgressOnlyInternetGatewayId=eigw)["ReturnCode"]
    route = next(r for r in _routes(ec2, table) if r.get("DestinationIpv6CidrBlock") == "::/0")
    assert route["State"] == "blackhole"
    _fails("InvalidGatewayID.NotFound", ec2.delete_egress_only_internet_gateway,
           EgressOnlyInternetGatewayId=eigw)  # fmt: skip
    ec2.delete_route(RouteTableId=table, DestinationIpv6CidrBlock="::/0")
    ec2.delete_vpc(VpcId=vpc)


def _delete_default_vpc(ec2: Any) -> str:
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0][
        "VpcId"
    ]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])  # default subnets may go, as on AWS
    (igw,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["InternetGateways"]
    ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc)
    return vpc


def test_the_default_vpc_goes_and_comes_back(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    _fails("DefaultVpcAlreadyExists", ec2.create_default_vpc)
    first = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"
    ]
    ec2.delete_subnet(SubnetId=first[0]["SubnetId"])
    zone = first[0]["AvailabilityZone"]
    _fails("InvalidInput", ec2.run_instances, ImageId=IMAGE, MinCount=1, MaxCount=1,
           Placement={"AvailabilityZone": zone})  # fmt: skip
    subnet = ec2.create_default_subnet(AvailabilityZone=zone)["Subnet"]
    assert subnet["DefaultForAz"] and subnet["MapPublicIpOnLaunch"]
    assert subnet["CidrBlock"] == first[0]["CidrBlock"]  # the first free /20
    _fails("DefaultSubnetAlreadyExistsInAvailabilityZone", ec2.create_default_subnet,
           AvailabilityZone=zone)  # fmt: skip

    gone = _delete_default_vpc(ec2)
    assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == []
    assert _fails(
        "VPCIdNotSpecified", ec2.run_instances, ImageId=IMAGE, MinCount=1, MaxCount=1
    ) == ("No default VPC for this user")
    _fails("VPCIdNotSpecified", ec2.create_security_group, GroupName="g", Description="g")
    _fails("DefaultVpcDoesNotExist", ec2.create_default_subnet, AvailabilityZone=zone)

    vpc = ec2.create_default_vpc()["Vpc"]
    assert vpc["VpcId"] != gone and vpc["IsDefault"] and vpc["CidrBlock"] == "172.31.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]
    assert sorted(s["CidrBlock"] for s in subnets) == [
        "172.31.0.0/20",
        "172.31.16.0/20",
        "172.31.32.0/20",
    ]
    assert all(s["DefaultForAz"] for s in subnets)
    (igw,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
    )["InternetGateways"]
    routes = {
        r["DestinationCidrBlock"]: r["GatewayId"]
        for r in _routes(ec2, _main_table(ec2, vpc["VpcId"]))
    }
    assert routes == {"172.31.0.0/16": "local", "0.0.0.0/0": igw["InternetGatewayId"]}
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "NetworkAcls"
    ]
    assert acl["IsDefault"] and len(acl["Associations"]) == 3
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    assert [g["GroupName"] for g in groups["SecurityGroups"]] == ["default"]
    attrs = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
    assert attrs["EnableDnsHostnames"] == {"Value": True}
    _fails("DefaultVpcAlreadyExists", ec2.create_default_vpc)
    launched = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]
    assert launched["VpcId"] == vpc["VpcId"]
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])


def test_managed_prefix_lists(aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    _fails("MissingParameter", ec2.create_managed_prefix_list, AddressFamily="IPv4", MaxEntries=2,
           PrefixListName="")  # fmt: skip
    _fails("InvalidParameterValue", ec2.create_managed_prefix_list, PrefixListName="x",
           AddressFamily="IPv5", MaxEntries=2)  # fmt: skip
    _fails("InvalidParameterValue", ec2.create_managed_prefix_list, PrefixListName="x",
           AddressFamily="IPv4", MaxEntries=2, Entries=[{"Cidr": "fd00::/64"}])  # fmt: skip
    _fails("PrefixListMaxEntriesExceeded", ec2.create_managed_prefix_list, PrefixListName="x",
           AddressFamily="IPv4", MaxEntries=1,
           Entries=[{"Cidr": "10.1.0.0/16"}, {"Cidr": "10.2.0.0/16"}])  # fmt: skip
    made = ec2.create_managed_prefix_list(
        PrefixListName="corp",
        AddressFamily="IPv4",
        MaxEntries=3,
        Entries=[{"Cidr": "10.90.0.0/16", "Description": "office"}],
        TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["PrefixList"]
    pl = made["PrefixListId"]
    assert made["Version"] == 1 and made["State"] == "create-in-progress"
    described = ec2.describe_managed_prefix_lists()["PrefixLists"]
    names = {p["PrefixListName"]: p for p in described}
    assert names["corp"]["State"] == "create-complete" and names["corp"]["Tags"]
    aws_s3 = names["com.amazonaws.us-east-1.s3"]
    assert aws_s3["OwnerId"] == "AWS" and "com.amazonaws.us-east-1.dynamodb" in names
    by_name = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["corp"]}]
    )
    assert [p["PrefixListId"] for p in by_name["PrefixLists"]] == [pl]
    legacy = ec2.describe_prefix_lists()["PrefixLists"]
    assert {p["PrefixListName"] for p in legacy} == {
        "com.amazonaws.us-east-1.s3",
        "com.amazonaws.us-east-1.dynamodb",
    }
    _fails("InvalidPrefixListModification", ec2.modify_managed_prefix_list,
           PrefixListId=aws_s3["PrefixListId"], CurrentVersion=1,
           AddEntries=[{"Cidr": "10.0.0.0/8"}])  # fmt: skip

    # Entries change by version, within MaxEntries.
    _fails("PrefixListVersionMismatch", ec2.modify_managed_prefix_list, PrefixListId=pl,
           CurrentVersion=7, AddEntries=[{"Cidr": "10.91.0.0/16"}])  # fmt: skip
    changed = ec2.modify_managed_prefix_list(
        PrefixListId=pl,
        CurrentVersion=1,
        AddEntries=[{"Cidr": "10.91.0.0/16"}, {"Cidr": "10.92.0.0/16"}],
    )["PrefixList"]
    assert changed["Version"] == 2 and changed["State"] == "modify-in-progress"
    _fails("PrefixListMaxEntriesExceeded", ec2.modify_managed_prefix_list, PrefixListId=pl,
           CurrentVersion=2, AddEntries=[{"Cidr": "10.93.0.0/16"}])  # fmt: skip
    _fails("InvalidPrefixListModification", ec2.modify_managed_prefix_list, PrefixListId=pl,
           CurrentVersion=2, RemoveEntries=[{"Cidr": "10.99.0.0/16"}])  # fmt: skip
    _fails("InvalidParameterCombination", ec2.modify_managed_prefix_list, PrefixListId=pl,
           CurrentVersion=2, MaxEntries=5, RemoveEntries=[{"Cidr": "10.91.0.0/16"}])  # fmt: skip
    ec2.modify_managed_prefix_list(PrefixListId=pl, CurrentVersion=2,
                                   RemoveEntries=[{"Cidr": "10.92.0.0/16"}])  # fmt: skip
    ec2.modify_managed_prefix_list(PrefixListId=pl, MaxEntries=5, PrefixListName="corp-net")

    def cidrs(**kwargs: Any) -> list[str]:
        got = ec2.get_managed_prefix_list_entries(PrefixListId=pl, **kwargs)["Entries"]
        return sorted(e["Cidr"] for e in got)

    assert cidrs() == ["10.90.0.0/16", "10.91.0.0/16"]
    assert cidrs(TargetVersion=1) == ["10.90.0.0/16"]
    assert cidrs(TargetVersion=2) == ["10.90.0.0/16", "10.91.0.0/16", "10.92.0.0/16"]
    restored = ec2.restore_managed_prefix_list_version(
        PrefixListId=pl, PreviousVersion=1, CurrentVersion=3
    )
    assert restored["PrefixList"]["Version"] == 4 and cidrs() == ["10.90.0.0/16"]
    current = ec2.describe_managed_prefix_lists(PrefixListIds=[pl])["PrefixLists"][0]
    assert (current["PrefixListName"], current["MaxEntries"]) == ("corp-net", 5)

    # A security group source and a route destination; a referenced list stays.
    vpc = ec2.create_vpc(CidrBlock="10.84.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{**rule, "PrefixListIds": [{"PrefixListId": pl}]}]
    )
    _fails("InvalidPrefixListId.NotFound", ec2.authorize_security_group_ingress, GroupId=group,
           IpPermissions=[{**rule, "PrefixListIds": [{"PrefixListId": "pl-00000000"}]}])  # fmt: skip
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = _main_table(ec2, vpc)
    ec2.create_route(RouteTableId=table, DestinationPrefixListId=pl, GatewayId=igw)
    route = next(r for r in _routes(ec2, table) if r.get("DestinationPrefixListId") == pl)
    assert route["GatewayId"] == igw and route["State"] == "active"
    _fails("InvalidParameterValue", ec2.create_route, RouteTableId=table,
           DestinationPrefixListId=aws_s3["PrefixListId"], GatewayId=igw)  # fmt: skip
    found = ec2.get_managed_prefix_list_associations(PrefixListId=pl)["PrefixListAssociations"]
    assert sorted(a["ResourceId"] for a in found) == sorted([table, group])
    _fails("DependencyViolation", ec2.delete_managed_prefix_list, PrefixListId=pl)
    ec2.delete_route(RouteTableId=table, DestinationPrefixListId=pl)
    ec2.revoke_security_group_ingress(
        GroupId=group, IpPermissions=[{**rule, "PrefixListIds": [{"PrefixListId": pl}]}]
    )
    assert (
        ec2.delete_managed_prefix_list(PrefixListId=pl)["PrefixList"]["State"]
        == "delete-in-progress"
    )
    _fails("InvalidPrefixListID.NotFound", ec2.get_managed_prefix_list_entries, PrefixListId=pl)


def test_restart_keeps_it_all(tmp_path):
    account = _account()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        vpc = ec2.create_vpc(CidrBlock="10.85.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"][
            "VpcId"
        ]
        dopt = ec2.create_dhcp_options(
            DhcpConfigurations=[{"Key": "domain-name", "Values": ["corp.example"]}]
        )["DhcpOptions"]["DhcpOptionsId"]
        ec2.associate_dhcp_options(VpcId=vpc, DhcpOptionsId=dopt)
        eigw = ec2.create_egress_only_internet_gateway(VpcId=vpc)["EgressOnlyInternetGateway"]
        ec2.create_route(RouteTableId=_main_table(ec2, vpc), DestinationIpv6CidrBlock="::/0",
                         EgressOnlyInternetGatewayId=eigw["EgressOnlyInternetGatewayId"])  # fmt: skip
        pl = ec2.create_managed_prefix_list(
            PrefixListName="p",
            AddressFamily="IPv4",
            MaxEntries=2,
            Entries=[{"Cidr": "10.1.0.0/16"}],
        )["PrefixList"]["PrefixListId"]
        ec2.modify_managed_prefix_list(
            PrefixListId=pl, CurrentVersion=1, AddEntries=[{"Cidr": "10.2.0.0/16"}]
        )
        _delete_default_vpc(ec2)
        before = {
            "vpcs": ec2.describe_vpcs()["Vpcs"],
            "dhcp": ec2.describe_dhcp_options()["DhcpOptions"],
            "eigw": ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"],
            "tables": ec2.describe_route_tables()["RouteTables"],
            "lists": ec2.describe_managed_prefix_lists()["PrefixLists"],
        }
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        after = {
            "vpcs": ec2.describe_vpcs()["Vpcs"],
            "dhcp": ec2.describe_dhcp_options()["DhcpOptions"],
            "eigw": ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"],
            "tables": ec2.describe_route_tables()["RouteTables"],
            "lists": ec2.describe_managed_prefix_lists()["PrefixLists"],
        }
        assert after == before
        # The deleted default VPC stays deleted; the list's first version is still there.
        _fails("VPCIdNotSpecified", ec2.run_instances, ImageId=IMAGE, MinCount=1, MaxCount=1)
        first = ec2.get_managed_prefix_list_entries(PrefixListId=pl, TargetVersion=1)["Entries"]
        assert [e["Cidr"] for e in first] == ["10.1.0.0/16"]
    finally:
        server.stop()
