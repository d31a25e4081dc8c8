"""Standby with real boto3 against a real server: an InService instance enters standby
(deregistered from its target group for real, still running, not replaced when desired
capacity was decremented, replaced when it was not), exits standby through Pending back
into service and into the target group, with AWS's activities and errors; an instance
refresh waits for standby instances (Wait) or terminates them (Terminate). Groups hold
three tiny idle instances at most and are force-deleted, so no instance process
outlives its test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.ec2_helpers import eventually
from tests.services.names import unique
from tests.services.test_autoscaling import ec2_state, group, scaling_group
from tests.services.test_autoscaling_refresh import status_is, templated_group, until


def code_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def states(asg: Any, name: str) -> dict[str, str]:
    return {i["InstanceId"]: i["LifecycleState"] for i in group(asg, name)["Instances"]}


def target_group(elb: Any, ec2: Any) -> str:
    vpc = ec2.describe_subnets()["Subnets"][0]["VpcId"]
    return elb.create_target_group(Name=unique("tg")[:32], Protocol="HTTP", Port=8080, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]


def registered(elb: Any, tg: str) -> set[str]:
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] != "draining"}


def test_standby_in_and_out_with_a_target_group(aws_client):
    asg, ec2, elb = aws_client("autoscaling"), aws_client("ec2"), aws_client("elbv2")
    tg = target_group(elb, ec2)
    try:
        with scaling_group(
            asg, MinSize=1, MaxSize=3, DesiredCapacity=2, TargetGroupARNs=[tg]
        ) as name:
            eventually(lambda: list(states(asg, name).values()) == ["InService"] * 2, 20, 0.3)
            a, b = sorted(states(asg, name))
            eventually(lambda: registered(elb, tg) == {a, b}, 10, 0.3)

            with pytest.raises(ClientError) as err:
                asg.enter_standby(
                    AutoScalingGroupName=name,
                    InstanceIds=[a, b],
                    ShouldDecrementDesiredCapacity=True,
                )
            assert code_of(err) == (
                "ValidationError",
                f"AutoScalingGroup {name} has min-size=1, max-size=3, and desired-size=2. To "
                "place into standby 2 instances, please update the AutoScalingGroup sizes "
                "appropriately.",
            )
            with pytest.raises(ClientError) as err:
                asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[a])
            assert code_of(err) == ("ValidationError", f"The instance {a} is not in Standby.")
            with pytest.raises(ClientError) as err:
                asg.enter_standby(
                    AutoScalingGroupName=name,
                    InstanceIds=["i-0123456789abcdef0"],
                    ShouldDecrementDesiredCapacity=True,
                )
            assert code_of(err)[0] == "ValidationError"
            assert "is not part of Auto Scaling group" in code_of(err)[1]

            (moved,) = asg.enter_standby(
                AutoScalingGroupName=name, InstanceIds=[a], ShouldDecrementDesiredCapacity=True
            )["Activities"]
            assert moved["Description"] == f"Moving EC2 instance to Standby: {a}"
            assert moved["StatusCode"] == "InProgress" and moved["Progress"] == 50
            assert re.fullmatch(
                rf"At \S+Z instance {a} was moved to standby in response to a user request, "
                r"shrinking the capacity from 2 to 1\.",
                moved["Cause"],
            )
            eventually(lambda: states(asg, name) == {a: "Standby", b: "InService"}, 10, 0.3)
            eventually(lambda: registered(elb, tg) == {b}, 10, 0.3)
            assert group(asg, name)["DesiredCapacity"] == 1
            assert ec2_state(ec2, a) == "running"
            with pytest.raises(ClientError) as err:
                asg.enter_standby(
                    AutoScalingGroupName=name, InstanceIds=[a], ShouldDecrementDesiredCapacity=False
                )
            assert code_of(err) == ("ValidationError", f"The instance {a} is not in InService.")

            # Without decrementing, the group launches a replacement for b (and only for b).
            asg.enter_standby(
                AutoScalingGroupName=name, InstanceIds=[b], ShouldDecrementDesiredCapacity=False
            )

            def replaced() -> str | None:
                now = states(asg, name)
                new = [i for i in now if i not in (a, b)]
                ok = len(now) == 3 and now[a] == now[b] == "Standby"
                return new[0] if ok and now[new[0]] == "InService" else None

            c = eventually(replaced, 20, 0.3)
            eventually(lambda: registered(elb, tg) == {c}, 10, 0.3)
            assert group(asg, name)["DesiredCapacity"] == 1

            asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=2)
            with pytest.raises(ClientError) as err:
                asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[a, b])
            assert "To move out of standby 2 instances" in code_of(err)[1]
            asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=3)
            out = asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[a, b])["Activities"]
            assert [x["Description"] for x in out] == [
                f"Moving EC2 instance out of Standby: {a}",
                f"Moving EC2 instance out of Standby: {b}",
            ]
            assert {(x["StatusCode"], x["Progress"]) for x in out} == {("PreInService", 30)}
            assert "increasing the capacity from 1 to 2." in out[0]["Cause"]
            assert "increasing the capacity from 2 to 3." in out[1]["Cause"]
            eventually(lambda: set(states(asg, name).values()) == {"InService"}, 15, 0.3)
            eventually(lambda: registered(elb, tg) == {a, b, c}, 10, 0.3)
            assert group(asg, name)["DesiredCapacity"] == 3
            done = {
                x["Description"]: x["StatusCode"]
                for x in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
            }
            assert done[f"Moving EC2 instance to Standby: {a}"] == "Successful"
            assert done[f"Moving EC2 instance out of Standby: {b}"] == "Successful"
        for iid in (a, b, c):
            eventually(lambda iid=iid: ec2_state(ec2, iid) == "terminated", 15, 0.3)
    finally:
        elb.delete_target_group(TargetGroupArn=tg)


def test_instance_refresh_waits_for_or_terminates_standby_instances(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=2) as (name, _template):
        first, second = sorted(states(asg, name))
        asg.enter_standby(
            AutoScalingGroupName=name, InstanceIds=[first], ShouldDecrementDesiredCapacity=True
        )
        eventually(lambda: states(asg, name)[first] == "Standby", 10, 0.3)
        prefs = {"MinHealthyPercentage": 0, "InstanceWarmup": 0}
        waiting = asg.start_instance_refresh(AutoScalingGroupName=name, Preferences=prefs)[
            "InstanceRefreshId"
        ]
        r = until(
            asg,
            name,
            waiting,
            lambda r: (
                r.get("StatusReason") == "Waiting for instances in Standby to be returned "
                "to service."
            ),
            30,
        )
        assert r["Status"] == "InProgress" and r["Preferences"]["StandbyInstances"] == "Wait"
        assert states(asg, name)[first] == "Standby" and second not in states(asg, name)
        asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[first])
        done = until(asg, name, waiting, status_is("Successful", "Failed"), 40)
        assert done["Status"] == "Successful"
        now = states(asg, name)
        assert first not in now and len(now) == 2 and set(now.values()) == {"InService"}

        third = sorted(now)[0]
        asg.enter_standby(
            AutoScalingGroupName=name, InstanceIds=[third], ShouldDecrementDesiredCapacity=True
        )
        eventually(lambda: states(asg, name).get(third) == "Standby", 10, 0.3)
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name, Preferences={**prefs, "StandbyInstances": "Terminate"}
        )["InstanceRefreshId"]
        done = until(asg, name, rid, status_is("Successful", "Failed"), 40)
        assert done["Status"] == "Successful" and done["PercentageComplete"] == 100
        assert third not in states(asg, name) and len(states(asg, name)) == 1
        eventually(lambda: ec2_state(ec2, third) == "terminated", 15, 0.3)
