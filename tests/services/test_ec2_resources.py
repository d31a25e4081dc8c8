"""EC2 around instances: key pairs, security groups, tags, network, images, types."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.services.ec2_helpers import launch
from tests.services.names import unique


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_key_pairs_have_real_material(aws_client):
    ec2 = aws_client("ec2")
    rsa_name, ed_name, imported = unique("rsa"), unique("ed"), unique("imp")
    made = ec2.create_key_pair(KeyName=rsa_name)
    key = serialization.load_pem_private_key(made["KeyMaterial"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert len(made["KeyFingerprint"].split(":")) == 20 and made["KeyPairId"].startswith("key-")

    ed = ec2.create_key_pair(KeyName=ed_name, KeyType="ed25519")
    ed_key = serialization.load_ssh_private_key(ed["KeyMaterial"].encode(), None)
    assert isinstance(ed_key, ed25519.Ed25519PrivateKey)

    public = ed_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    got = ec2.import_key_pair(KeyName=imported, PublicKeyMaterial=public + b" me@host")
    assert got["KeyFingerprint"] == ed["KeyFingerprint"]

    listed = ec2.describe_key_pairs(KeyNames=[rsa_name, imported], IncludePublicKey=True)
    by_name = {k["KeyName"]: k for k in listed["KeyPairs"]}
    assert by_name[imported]["PublicKey"] == public.decode()
    assert by_name[rsa_name]["KeyType"] == "rsa" and "KeyMaterial" not in by_name[rsa_name]
    filtered = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [ed_name]}])
    assert [k["KeyName"] for k in filtered["KeyPairs"]] == [ed_name]

    with pytest.raises(ClientError) as exc:
        ec2.create_key_pair(KeyName=rsa_name)
    assert _code(exc) == "InvalidKeyPair.Duplicate"
    with pytest.raises(ClientError) as exc:
        ec2.import_key_pair(KeyName=unique("bad"), PublicKeyMaterial=b"not a key")
    assert _code(exc) == "InvalidKey.Format"

    # The key name is recorded on the instances launched with it.
    (iid,) = launch(ec2, KeyName=rsa_name)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["KeyName"] == rsa_name
    ec2.terminate_instances(InstanceIds=[iid])

    for name in (rsa_name, ed_name, imported):
        ec2.delete_key_pair(KeyName=name)
    with pytest.raises(ClientError) as exc:
        ec2.describe_key_pairs(KeyNames=[rsa_name])
    assert _code(exc) == "InvalidKeyPair.NotFound"


def test_security_groups_record_rules(aws_client):
    ec2 = aws_client("ec2")
    name = unique("web")
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    assert default["VpcId"] == vpc_id

    group_id = ec2.create_security_group(GroupName=name, Description="web tier")["GroupId"]
    with pytest.raises(ClientError) as exc:
        ec2.create_security_group(GroupName=name, Description="again")
    assert _code(exc) == "InvalidGroup.Duplicate"

    http = {
        "IpProtocol": "tcp",
        "FromPort": 80,
        "ToPort": 80,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    ssh = {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
    }
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http, ssh])
    with pytest.raises(ClientError) as exc:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert _code(exc) == "InvalidPermission.Duplicate"
    egress = {
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "IpRanges": [{"CidrIp": "1.2.3.4/32"}],
    }
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[egress])

    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    ports = sorted((p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"])
    assert ports == [(22, "10.0.0.0/8"), (80, "0.0.0.0/0")]
    assert len(group["IpPermissionsEgress"]) == 2  # the default allow-all and ours

    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[egress])
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [80]
    assert len(group["IpPermissionsEgress"]) == 1
    with pytest.raises(ClientError) as exc:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
    assert _code(exc) == "InvalidPermission.NotFound"

    (iid,) = launch(ec2, SecurityGroups=[name])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["SecurityGroups"] == [{"GroupName": name, "GroupId": group_id}]
    with pytest.raises(ClientError) as exc:
        ec2.delete_security_group(GroupId=group_id)
    assert _code(exc) == "DependencyViolation"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})

    ec2.delete_security_group(GroupName=name)
    with pytest.raises(ClientError) as exc:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert _code(exc) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.delete_security_group(GroupName="default")
    assert _code(exc) == "CannotDelete"


def test_tags_on_instances_and_groups(aws_client):
    ec2 = aws_client("ec2")
    env = unique("env")
    (iid,) = launch(ec2)
    group_id = ec2.create_security_group(GroupName=unique("tagged"), Description="d")["GroupId"]
    ec2.create_tags(Resources=[iid, group_id], Tags=[{"Key": env, "Value": "prod"}])
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "Owner", "Value": "ana"}])

    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": [env]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in tags) == sorted(
        [(iid, "instance"), (group_id, "security-group")]
    )
    inst = ec2.describe_instances(Filters=[{"Name": f"tag:{env}", "Values": ["prod"]}])
    assert [i["InstanceId"] for r in inst["Reservations"] for i in r["Instances"]] == [iid]

    ec2.delete_tags(Resources=[iid], Tags=[{"Key": env}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in left] == [("Owner", "ana")]

    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=["i-0123456789abcdef0"], Tags=[{"Key": "k", "Value": "v"}])
    assert _code(exc) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_security_group(GroupId=group_id)


def test_network_images_and_instance_types(aws_client):
    ec2 = aws_client("ec2")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    regions = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert {"us-east-1", "eu-west-1"} <= regions

    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] and vpcs[0]["CidrBlock"] == "172.31.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])
    assert sorted(s["AvailabilityZone"] for s in subnets["Subnets"]) == zones
    subnet = subnets["Subnets"][2]
    (iid,) = launch(ec2, SubnetId=subnet["SubnetId"])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["Placement"]["AvailabilityZone"] == subnet["AvailabilityZone"]
    assert inst["SubnetId"] == subnet["SubnetId"] and inst["VpcId"] == vpcs[0]["VpcId"]
    ec2.terminate_instances(InstanceIds=[iid])

    images = ec2.describe_images(Owners=["amazon"])["Images"]
    assert images[0]["State"] == "available" and images[0]["ImageId"].startswith("ami-")

    types = ec2.describe_instance_types(InstanceTypes=["t2.micro", "m5.large"])["InstanceTypes"]
    figures = {
        t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
        for t in types
    }
    assert figures == {"t2.micro": (1, 1024), "m5.large": (2, 8192)}
    pages = ec2.get_paginator("describe_instance_types").paginate(PaginationConfig={"PageSize": 10})
    names = [t["InstanceType"] for page in pages for t in page["InstanceTypes"]]
    assert {"t3.micro", "t3.xlarge", "t2.xlarge"} <= set(names) and len(names) == len(set(names))
    with pytest.raises(ClientError) as exc:
        ec2.describe_images(ImageIds=["ami-bad!"])
    assert _code(exc) == "InvalidAMIID.Malformed"
