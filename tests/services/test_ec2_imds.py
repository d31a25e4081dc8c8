"""The instance metadata service: IMDSv2 tokens and IMDSv1 with raw HTTP, the
meta-data tree, user data, the identity document, tags when enabled, metadata
options, and boto3 inside an instance taking its role credentials from IMDS."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually, launch, wait
from tests.services.names import unique


def _imds(endpoint: str, instance_id: str) -> str:
    return f"{endpoint}/_cloudlet/imds/{instance_id}"


def _request(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _token(base: str, ttl: str = "60") -> str:
    status, body = _request(
        base + "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
    )
    assert status == 200
    return body


def test_token_flow_v1_and_errors(aws_client, cloudlet_server):
    ec2 = aws_client("ec2")
    a, b = launch(ec2, count=2)
    try:
        base = _imds(cloudlet_server.endpoint, a)
        token = _token(base)
        got = _request(
            base + "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
        )
        assert got == (200, a)
        assert _request(base + "/latest/meta-data/instance-id") == (200, a)  # v1
        bad = {"X-aws-ec2-metadata-token": "not-a-token"}
        assert _request(base + "/latest/meta-data/instance-id", headers=bad)[0] == 401
        # a token is good for the instance that asked for it only
        other = _imds(cloudlet_server.endpoint, b) + "/latest/meta-data/instance-id"
        assert _request(other, headers={"X-aws-ec2-metadata-token": token})[0] == 401
        for ttl in ("0", "21601", "abc"):
            hdrs = {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
            assert _request(base + "/latest/api/token", "PUT", hdrs)[0] == 400
        assert _request(base + "/latest/api/token", "PUT")[0] == 400
        assert _request(base + "/latest/api/token")[0] == 405
        assert (
            _request(_imds(cloudlet_server.endpoint, "i-0000000000000000f") + "/latest/")[0] == 404
        )
        # HttpTokens=required: v1 refused, v2 still answered
        ec2.modify_instance_metadata_options(InstanceId=a, HttpTokens="required")
        assert _request(base + "/latest/meta-data/instance-id")[0] == 401
        hdrs = {"X-aws-ec2-metadata-token": _token(base, "21600")}
        assert _request(base + "/latest/meta-data/instance-id", headers=hdrs) == (200, a)
        [inst] = ec2.describe_instances(InstanceIds=[a])["Reservations"][0]["Instances"]
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
    finally:
        ec2.terminate_instances(InstanceIds=[a, b])


def test_meta_data_tree_user_data_identity_and_tags(aws_client, cloudlet_server):
    ec2 = aws_client("ec2")
    name = unique("imds")
    [iid] = launch(
        ec2,
        "#!/bin/bash\necho hello\n",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    [plain] = launch(ec2)
    try:
        base = _imds(cloudlet_server.endpoint, iid)
        hdrs = {"X-aws-ec2-metadata-token": _token(base)}

        def get(path: str, at: str = base) -> tuple[int, str]:
            return _request(at + path, headers=hdrs if at == base else None)

        [inst] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"]
        status, listing = get("/latest/meta-data/")
        assert status == 200
        entries = listing.splitlines()
        for entry in ("ami-id", "instance-id", "instance-type", "local-ipv4", "placement/"):
            assert entry in entries
        assert "iam/" not in entries and "tags/" not in entries
        assert get("/latest/meta-data/ami-id") == (200, IMAGE)
        assert get("/latest/meta-data/instance-type") == (200, "t2.micro")
        assert get("/latest/meta-data/local-ipv4") == (200, inst["PrivateIpAddress"])
        assert get("/latest/meta-data/public-ipv4") == (200, inst["PublicIpAddress"])
        assert get("/latest/meta-data/local-hostname") == (200, inst["PrivateDnsName"])
        assert get("/latest/meta-data/public-hostname") == (200, inst["PublicDnsName"])
        zone = inst["Placement"]["AvailabilityZone"]
        assert get("/latest/meta-data/placement/availability-zone") == (200, zone)
        assert get("/latest/meta-data/placement/region") == (200, "us-east-1")
        assert get("/latest/meta-data/security-groups") == (200, "default")
        mac = get("/latest/meta-data/mac")[1]
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
        assert get(f"/latest/meta-data/network/interfaces/macs/{mac}/subnet-id") == (
            200,
            inst["SubnetId"],
        )
        assert get("/latest/meta-data/no-such-thing")[0] == 404
        assert get("/latest/user-data") == (200, "#!/bin/bash\necho hello\n")
        assert get("/latest/user-data", _imds(cloudlet_server.endpoint, plain))[0] == 404
        doc = json.loads(get("/latest/dynamic/instance-identity/document")[1])
        assert doc["instanceId"] == iid and doc["privateIp"] == inst["PrivateIpAddress"]
        assert (doc["accountId"], doc["region"], doc["imageId"]) == (
            "000000000000",
            "us-east-1",
            IMAGE,
        )
        # tags: off by default, on with InstanceMetadataTags
        assert get("/latest/meta-data/tags/instance/Name")[0] == 404
        out = ec2.modify_instance_metadata_options(InstanceId=iid, InstanceMetadataTags="enabled")
        assert out["InstanceMetadataOptions"]["InstanceMetadataTags"] == "enabled"
        assert get("/latest/meta-data/tags/instance/") == (200, "Name")
        assert get("/latest/meta-data/tags/instance/Name") == (200, name)
    finally:
        ec2.terminate_instances(InstanceIds=[iid, plain])


def test_tags_enabled_at_launch(aws_client, cloudlet_server):
    ec2 = aws_client("ec2")
    [iid] = launch(
        ec2,
        MetadataOptions={"InstanceMetadataTags": "enabled"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )
    try:
        base = _imds(cloudlet_server.endpoint, iid)
        assert _request(base + "/latest/meta-data/tags/instance/role") == (200, "web")
        with pytest.raises(Exception, match="InvalidParameterValue"):
            launch(ec2, MetadataOptions={"HttpTokens": "sometimes"})
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


def test_boto3_inside_an_instance_uses_role_credentials(aws_client, cloudlet_server):
    ec2, sqs = aws_client("ec2"), aws_client("sqs")
    queue = unique("from-instance")
    script = (
        "import boto3\n"
        "creds = boto3.Session().get_credentials()\n"
        "print('method', creds.method, creds.access_key[:4], bool(creds.token))\n"
        f"url = boto3.client('sqs').create_queue(QueueName='{queue}')['QueueUrl']\n"
        "print('queue', url)\n"
        "print('buckets', type(boto3.client('s3').list_buckets()['Buckets']).__name__)\n"
    )
    user_data = f"#!/bin/bash\n{sys.executable} - <<'EOF'\n{script}EOF\n"
    [iid] = launch(ec2, user_data, IamInstanceProfile={"Name": "app-role"})
    [plain] = launch(ec2)
    try:
        out = eventually(lambda: "user data exited" in console(ec2, iid) and console(ec2, iid), 30)
        assert "method iam-role ASIA True" in out, out
        assert f"queue {cloudlet_server.endpoint}/000000000000/{queue}" in out, out
        assert "buckets list" in out
        assert sqs.get_queue_url(QueueName=queue)["QueueUrl"].endswith(queue)
        base = _imds(cloudlet_server.endpoint, iid)
        roles = _request(base + "/latest/meta-data/iam/security-credentials/")
        assert roles == (200, "app-role")
        creds = json.loads(
            _request(base + "/latest/meta-data/iam/security-credentials/app-role")[1]
        )
        assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
        assert creds["AccessKeyId"].startswith("ASIA") and creds["Token"]
        assert creds["Expiration"] > creds["LastUpdated"]
        info = json.loads(_request(base + "/latest/meta-data/iam/info")[1])
        assert info["InstanceProfileArn"].endswith("instance-profile/app-role")
        # no instance profile: no iam tree
        wait(ec2, "instance_running", [plain])
        assert _request(_imds(cloudlet_server.endpoint, plain) + "/latest/meta-data/iam/")[0] == 404
    finally:
        ec2.terminate_instances(InstanceIds=[iid, plain])
        with contextlib.suppress(ClientError):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])


def test_role_credentials_are_known_keys_in_strict_mode():
    server = CloudletServer.start(auth="strict")
    try:
        ec2, sqs = server.client("ec2"), server.client("sqs")
        queue = unique("strict")
        script = f"import boto3\nprint('queue', boto3.client('sqs').create_queue(QueueName='{queue}')['QueueUrl'])\n"
        user_data = f"#!/bin/bash\n{sys.executable} - <<'EOF'\n{script}EOF\n"
        [iid] = launch(ec2, user_data, IamInstanceProfile={"Name": "strict-role"})
        try:
            out = eventually(
                lambda: "user data exited" in console(ec2, iid) and console(ec2, iid), 30
            )
            assert f"/{queue}" in out, out
            assert sqs.get_queue_url(QueueName=queue)["QueueUrl"].endswith(queue)
            stranger = server.client(
                "sqs", aws_access_key_id="ASIAUNKNOWN", aws_secret_access_key="x"
            )
            with pytest.raises(ClientError):
                stranger.list_queues()
        finally:
            ec2.terminate_instances(InstanceIds=[iid])
            wait(ec2, "instance_terminated", [iid])
    finally:
        server.stop()
