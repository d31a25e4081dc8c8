"""Mixed instances policies with real boto3 against a real server: a group launches its
highest-priority override and falls to the next when EC2 refuses the first (two
instance types, by priority); weights count capacity in units (an overage, and a
scale-in that never goes below DesiredCapacity); attribute-based selection picks the
catalogue's types by vCPUs and memory with a vCPU DesiredCapacityType; an instance
refresh moves a group onto a mixed instances policy; AWS's errors, and 501 for Spot.
Groups hold two tiny idle instances at most and are force-deleted, so no instance
process outlives its test."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.ec2_helpers import IMAGE, eventually
from tests.services.names import unique
from tests.services.test_autoscaling import IDLE, ZONES, ec2_state, group, in_service
from tests.services.test_autoscaling_refresh import status_is, templated_group, until
from tests.services.test_autoscaling_standby import code_of

DATA = {
    "ImageId": IMAGE,
    "InstanceType": "t2.micro",
    "UserData": base64.b64encode(IDLE.encode()).decode(),
}


@contextlib.contextmanager
def template(ec2: Any, data: dict[str, Any] | None = None) -> Iterator[str]:
    name = unique("lt")
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data or DATA)
    try:
        yield name
    finally:
        ec2.delete_launch_template(LaunchTemplateName=name)


@contextlib.contextmanager
def mixed_group(asg: Any, ec2: Any, policy: dict[str, Any], **kwargs: Any) -> Iterator[str]:
    name = unique("mixed")
    kwargs.setdefault("MinSize", 0)
    kwargs.setdefault("MaxSize", 4)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MixedInstancesPolicy=policy, AvailabilityZones=ZONES, **kwargs
    )
    ids: set[str] = set()
    try:
        yield name
    finally:
        ids = {i["InstanceId"] for i in group(asg, name)["Instances"]}
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        for iid in ids:
            eventually(lambda iid=iid: ec2_state(ec2, iid) == "terminated", 15, 0.3)


def test_launches_by_priority_and_falls_to_the_next_override(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    broken = {**DATA, "ImageId": "not-an-image"}
    with template(ec2) as base, template(ec2, broken) as first:
        policy = {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": base},
                "Overrides": [
                    {
                        "InstanceType": "t3.micro",
                        "LaunchTemplateSpecification": {"LaunchTemplateName": first},
                    },
                    {"InstanceType": "t2.small"},
                ],
            }
        }
        with mixed_group(asg, ec2, policy, DesiredCapacity=1) as name:
            (fallback,) = in_service(asg, name, 1)
            assert fallback["InstanceType"] == "t2.small"
            assert fallback["LaunchTemplate"]["LaunchTemplateName"] == base
            shown = group(asg, name)["MixedInstancesPolicy"]
            assert shown["InstancesDistribution"] == {
                "OnDemandAllocationStrategy": "prioritized",
                "OnDemandBaseCapacity": 0,
                "OnDemandPercentageAboveBaseCapacity": 100,
                "SpotAllocationStrategy": "lowest-price",
                "SpotInstancePools": 2,
            }
            assert [o["InstanceType"] for o in shown["LaunchTemplate"]["Overrides"]] == [
                "t3.micro",
                "t2.small",
            ]
            assert "LaunchTemplate" not in group(asg, name)
            # The first priority's template can launch again: the next instance is a t3.micro.
            ec2.create_launch_template_version(LaunchTemplateName=first, LaunchTemplateData=DATA)
            ec2.modify_launch_template(LaunchTemplateName=first, DefaultVersion="2")
            asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
            insts = in_service(asg, name, 2)
            assert sorted(i["InstanceType"] for i in insts) == ["t2.small", "t3.micro"]
            (newest,) = [i for i in insts if i["InstanceId"] != fallback["InstanceId"]]
            assert newest["LaunchTemplate"]["LaunchTemplateName"] == first
            described = ec2.describe_instances(InstanceIds=[newest["InstanceId"]])
            assert described["Reservations"][0]["Instances"][0]["InstanceType"] == "t3.micro"


def test_weights_count_capacity_in_units(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with template(ec2) as base:
        policy = {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": base},
                "Overrides": [
                    {"InstanceType": "t3.micro", "WeightedCapacity": "2"},
                    {"InstanceType": "t2.micro", "WeightedCapacity": "1"},
                ],
            }
        }
        with mixed_group(asg, ec2, policy, DesiredCapacity=3, MaxSize=6) as name:
            insts = in_service(asg, name, 2)  # 2 + 2 units: an overage, as AWS does
            assert {(i["InstanceType"], i["WeightedCapacity"]) for i in insts} == {
                ("t3.micro", "2")
            }
            rows = asg.describe_auto_scaling_instances(InstanceIds=[insts[0]["InstanceId"]])
            assert rows["AutoScalingInstances"][0]["WeightedCapacity"] == "2"
            asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
            in_service(asg, name, 1)
            asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
            # Taking the last 2-unit instance would leave the group below 1: it stays.
            with pytest.raises(AssertionError):
                eventually(lambda: len(group(asg, name)["Instances"]) != 1, 2.5, 0.5)


def test_attribute_based_selection_with_vcpu_capacity(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with template(ec2) as base:
        policy = {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": base},
                "Overrides": [
                    {
                        "InstanceRequirements": {
                            "VCpuCount": {"Min": 2, "Max": 2},
                            "MemoryMiB": {"Min": 4096, "Max": 4096},
                        }
                    }
                ],
            }
        }
        with mixed_group(
            asg, ec2, policy, DesiredCapacity=2, MaxSize=8, DesiredCapacityType="vcpu"
        ) as name:
            # Burstable types are excluded by default: c5.large is the one match.
            (inst,) = in_service(asg, name, 1)
            assert inst["InstanceType"] == "c5.large" and inst["WeightedCapacity"] == "2"
            shaped = group(asg, name)
            assert shaped["DesiredCapacityType"] == "vcpu"
            assert (
                shaped["MixedInstancesPolicy"]["InstancesDistribution"][
                    "OnDemandAllocationStrategy"
                ]
                == "lowest-price"
            )


def test_an_instance_refresh_moves_the_group_onto_a_mixed_policy(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=1) as (name, lt_id):
        (old,) = group(asg, name)["Instances"]
        desired = {
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateId": lt_id, "Version": "1"},
                    "Overrides": [{"InstanceType": "t3.small"}],
                }
            }
        }
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration=desired,
            Preferences={"MinHealthyPercentage": 0, "InstanceWarmup": 0},
        )["InstanceRefreshId"]
        done = until(asg, name, rid, status_is("Successful", "Failed"), 40)
        assert done["Status"] == "Successful"
        assert done["DesiredConfiguration"]["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
        (new,) = in_service(asg, name, 1)
        assert new["InstanceId"] != old["InstanceId"] and new["InstanceType"] == "t3.small"
        shaped = group(asg, name)
        assert "LaunchTemplate" not in shaped and "MixedInstancesPolicy" in shaped


def test_mixed_policy_errors(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with template(ec2) as base:
        spec = {"LaunchTemplateName": base}

        def refused(overrides: list[dict], **kwargs: Any) -> tuple[str, str, int]:
            policy = {
                "LaunchTemplate": {"LaunchTemplateSpecification": spec, "Overrides": overrides}
            }
            policy.update(kwargs.pop("policy", {}))
            with pytest.raises(ClientError) as err:
                asg.create_auto_scaling_group(
                    AutoScalingGroupName=unique("mixed"),
                    MixedInstancesPolicy=policy,
                    MinSize=0,
                    MaxSize=1,
                    AvailabilityZones=ZONES,
                    **kwargs,
                )
            return (*code_of(err), err.value.response["ResponseMetadata"]["HTTPStatusCode"])

        code, message, _ = refused(
            [{"InstanceType": "t3.micro", "WeightedCapacity": "2"}, {"InstanceType": "t2.micro"}]
        )
        assert code == "ValidationError" and "WeightedCapacity for all of them" in message
        code, message, _ = refused([{"InstanceType": "x9.mega"}])
        assert code == "ValidationError" and "x9.mega" in message
        requirements = {"VCpuCount": {"Min": 1}, "MemoryMiB": {"Min": 512}}
        code, _, _ = refused([{"InstanceType": "t3.micro", "InstanceRequirements": requirements}])
        assert code == "ValidationError"
        code, message, _ = refused(
            [{"InstanceRequirements": requirements}],
            policy={"InstancesDistribution": {"OnDemandAllocationStrategy": "prioritized"}},
        )
        assert code == "ValidationError" and "prioritized" in message
        code, message, _ = refused(
            [{"InstanceRequirements": {"VCpuCount": {"Min": 64}, "MemoryMiB": {"Min": 512}}}]
        )
        assert code == "ValidationError" and "No instance types" in message
        code, _, status = refused(
            [{"InstanceRequirements": {**requirements, "CpuManufacturers": ["intel"]}}]
        )
        assert (code, status) == ("NotImplemented", 501)
        code, message, status = refused(
            [{"InstanceType": "t3.micro"}],
            policy={"InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 50}},
        )
        assert (code, status) == ("NotImplemented", 501) and "Spot" in message
        code, message, _ = refused([{"InstanceType": "t3.micro"}], DesiredCapacityType="vcpu")
        assert code == "ValidationError" and "InstanceRequirements" in message
        code, message, _ = refused([], LaunchTemplate=spec)
        assert code == "ValidationError" and "MixedInstancesPolicy" in message

        policy = {"LaunchTemplate": {"LaunchTemplateSpecification": spec}}
        with mixed_group(asg, ec2, policy) as name:
            with pytest.raises(ClientError) as err:
                asg.put_warm_pool(AutoScalingGroupName=name)
            assert code_of(err)[0] == "ValidationError" and "mixed instances" in code_of(err)[1]
