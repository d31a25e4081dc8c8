"""EC2 launch templates: versions as AWS keeps them, and RunInstances from a template."""

from __future__ import annotations

import base64
import sqlite3
from types import SimpleNamespace

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.services.ec2.launch_templates import LaunchTemplates, template_params
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.tags import Tags
from tests.services.ec2_helpers import IMAGE, console, eventually, wait
from tests.services.names import unique


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _data(**extra: object) -> dict:
    return {"ImageId": IMAGE, "InstanceType": "t2.micro", **extra}


def test_versions_source_merging_default_and_deletion(aws_client):
    ec2 = aws_client("ec2")
    name = unique("lt")
    created = ec2.create_launch_template(
        LaunchTemplateName=name,
        VersionDescription="first",
        LaunchTemplateData=_data(InstanceInitiatedShutdownBehavior="terminate"),
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "a"}]}
        ],
    )["LaunchTemplate"]
    lt_id = created["LaunchTemplateId"]
    assert lt_id.startswith("lt-") and created["LaunchTemplateName"] == name
    assert created["DefaultVersionNumber"] == 1 and created["LatestVersionNumber"] == 1
    assert created["Tags"] == [{"Key": "team", "Value": "a"}]

    with pytest.raises(ClientError) as exc:
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=_data())
    assert _code(exc) == "InvalidLaunchTemplateName.AlreadyExistsException"

    v2 = ec2.create_launch_template_version(
        LaunchTemplateId=lt_id, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.small"}
    )["LaunchTemplateVersion"]
    assert v2["VersionNumber"] == 2 and v2["DefaultVersion"] is False
    assert v2["LaunchTemplateData"] == _data(
        InstanceType="t3.small", InstanceInitiatedShutdownBehavior="terminate"
    )
    v3 = ec2.create_launch_template_version(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": IMAGE}
    )["LaunchTemplateVersion"]
    assert v3["LaunchTemplateData"] == {"ImageId": IMAGE}  # no SourceVersion: nothing inherited

    def versions(**kw: object) -> list[int]:
        out = ec2.describe_launch_template_versions(**kw)["LaunchTemplateVersions"]
        return [v["VersionNumber"] for v in out]

    assert versions(LaunchTemplateId=lt_id) == [3, 2, 1]
    assert versions(LaunchTemplateName=name, Versions=["$Latest", "$Default"]) == [3, 1]
    assert versions(LaunchTemplateId=lt_id, MinVersion="2", MaxVersion="2") == [2]
    filtered = versions(
        LaunchTemplateId=lt_id, Filters=[{"Name": "instance-type", "Values": ["t3.small"]}]
    )
    assert filtered == [2]
    with pytest.raises(ClientError) as exc:
        ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["9"])
    assert _code(exc) == "InvalidLaunchTemplateId.VersionNotFound"

    modified = ec2.modify_launch_template(LaunchTemplateId=lt_id, DefaultVersion="2")
    assert modified["LaunchTemplate"]["DefaultVersionNumber"] == 2
    described = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    assert described[0]["DefaultVersionNumber"] == 2 and described[0]["LatestVersionNumber"] == 3
    by_tag = ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [name]}]
    )["LaunchTemplates"]
    assert [t["LaunchTemplateId"] for t in by_tag] == [lt_id]

    deleted = ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2", "3", "7"])
    assert [v["VersionNumber"] for v in deleted["SuccessfullyDeletedLaunchTemplateVersions"]] == [3]
    failed = {
        v["VersionNumber"]: v["ResponseError"]["Code"]
        for v in deleted["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert failed == {2: "unexpectedError", 7: "launchTemplateVersionDoesNotExist"}
    v4 = ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData=_data())
    assert v4["LaunchTemplateVersion"]["VersionNumber"] == 4  # numbers are not reused

    ec2.delete_launch_template(LaunchTemplateName=name)
    with pytest.raises(ClientError) as exc:
        ec2.describe_launch_templates(LaunchTemplateNames=[name])
    assert _code(exc) == "InvalidLaunchTemplateName.NotFoundException"
    with pytest.raises(ClientError) as exc:
        ec2.describe_launch_template_versions(LaunchTemplateId=lt_id)
    assert _code(exc) == "InvalidLaunchTemplateId.NotFound"


def test_errors_for_unknown_and_malformed_templates(aws_client):
    ec2 = aws_client("ec2")
    with pytest.raises(ClientError) as exc:
        ec2.describe_launch_templates(LaunchTemplateIds=["lt-0123456789abcdef0"])
    assert _code(exc) == "InvalidLaunchTemplateId.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.describe_launch_templates(LaunchTemplateIds=["nope"])
    assert _code(exc) == "InvalidLaunchTemplateId.Malformed"
    # botocore's own check refuses the short name first in some versions (1.43's
    # model has a minimum length); the server must refuse it in any case.
    unchecked = aws_client("ec2", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as exc:
        unchecked.create_launch_template(LaunchTemplateName="x", LaunchTemplateData=_data())
    assert _code(exc) == "InvalidLaunchTemplateName.MalformedException"
    with pytest.raises(ClientError) as exc:
        ec2.run_instances(
            MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": unique("missing")}
        )
    assert _code(exc) == "InvalidLaunchTemplateName.NotFoundException"


def test_run_instances_from_a_template_with_overrides(aws_client):
    ec2 = aws_client("ec2")
    group = ec2.create_security_group(GroupName=unique("ltgroup"), Description="lt")["GroupId"]
    key = unique("key")
    ec2.create_key_pair(KeyName=key)
    script = "#!/bin/bash\necho template-user-data-ran\n"
    lt_id = ec2.create_launch_template(
        LaunchTemplateName=unique("lt"),
        LaunchTemplateData=_data(
            KeyName=key,
            SecurityGroupIds=[group],
            UserData=base64.b64encode(script.encode()).decode(),
            InstanceInitiatedShutdownBehavior="terminate",
            MetadataOptions={"HttpTokens": "required"},
            Placement={"AvailabilityZone": "us-east-1b"},
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "from", "Value": "template"}]}
            ],
        ),
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=lt_id, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.micro"}
    )
    ids = []
    try:
        res = ec2.run_instances(
            MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"}
        )
        ids.append(res["Instances"][0]["InstanceId"])
        res = ec2.run_instances(
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.nano",
            LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "$Latest"},
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "from", "Value": "call"}]}
            ],
        )
        ids.append(res["Instances"][0]["InstanceId"])
        wait(ec2, "instance_running", ids)
        insts = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        by_id = {i["InstanceId"]: i for r in insts for i in r["Instances"]}
        first, second = by_id[ids[0]], by_id[ids[1]]
        assert first["ImageId"] == IMAGE and first["InstanceType"] == "t2.micro"
        assert first["KeyName"] == key and first["SecurityGroups"][0]["GroupId"] == group
        assert first["Placement"]["AvailabilityZone"] == "us-east-1b"
        assert first["MetadataOptions"]["HttpTokens"] == "required"
        tags = {t["Key"]: t["Value"] for t in first["Tags"]}
        assert tags == {
            "from": "template",
            "aws:ec2launchtemplate:id": lt_id,
            "aws:ec2launchtemplate:version": "1",
        }
        assert second["InstanceType"] == "t3.nano"  # the call's parameter wins
        tags = {t["Key"]: t["Value"] for t in second["Tags"]}
        assert tags["from"] == "call" and tags["aws:ec2launchtemplate:version"] == "2"
        attr = ec2.describe_instance_attribute(
            InstanceId=ids[0], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert attr["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
        assert eventually(lambda: "template-user-data-ran" in console(ec2, ids[0]))
    finally:
        if ids:
            ec2.terminate_instances(InstanceIds=ids)
            wait(ec2, "instance_terminated", ids)


def test_template_params_merge_as_autoscaling_launches():
    """The in-process path AutoScaling uses: an explicit subnet replaces the template's
    placement, explicit groups replace the template's, and the version tags are added."""
    templates = LaunchTemplates(Store(sqlite3.connect(":memory:")))
    ctx = SimpleNamespace(account_id="000000000000", region="us-east-1")
    template = {
        "LaunchTemplateId": "lt-0123456789abcdef0",
        "LaunchTemplateName": "web",
        "DefaultVersionNumber": 1,
        "LatestVersionNumber": 2,
        "_account": ctx.account_id,
        "_region": ctx.region,
        "versions": [
            {"VersionNumber": 1, "LaunchTemplateData": _data(SecurityGroupIds=["sg-1"])},
            {
                "VersionNumber": 2,
                "LaunchTemplateData": _data(
                    SecurityGroupIds=["sg-1"], Placement={"AvailabilityZone": "us-east-1a"}
                ),
            },
        ],
    }
    templates.by_id[template["LaunchTemplateId"]] = template
    params, system = template_params(
        templates,
        ctx,
        {
            "MinCount": 1,
            "MaxCount": 1,
            "LaunchTemplate": {"LaunchTemplateName": "web", "Version": "$Latest"},
            "SubnetId": "subnet-b",
            "SecurityGroups": ["named"],
        },
    )
    assert "Placement" not in params and params["SubnetId"] == "subnet-b"
    assert params["SecurityGroups"] == ["named"] and "SecurityGroupIds" not in params
    assert params["ImageId"] == IMAGE and "LaunchTemplate" not in params
    assert system == {
        "aws:ec2launchtemplate:id": "lt-0123456789abcdef0",
        "aws:ec2launchtemplate:version": "2",
    }
    params, system = template_params(
        templates, ctx, {"LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0"}}
    )
    assert system["aws:ec2launchtemplate:version"] == "1"  # $Default
    Tags.check([{"Key": "aws:autoscaling:groupName", "Value": "g"}], system=True)
    with pytest.raises(Exception, match="reserved"):
        Tags.check([{"Key": "aws:autoscaling:groupName", "Value": "g"}])
