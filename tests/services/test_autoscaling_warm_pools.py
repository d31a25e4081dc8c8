"""Warm pools with real boto3 against real servers: a pool fills with instances that run
their user data on their first boot (held in Warmed:Pending:Wait by a launch hook the
user data itself completes, as AWS recommends) and are then really stopped; a
scale-out starts one of them (no second run of the user data: its boot work is
already done), the launch hook holds it again, and it enters service; a scale-in with
ReuseOnScaleIn stops it and returns it to the pool; DeleteWarmPool terminates the pool
through PendingDelete; AWS's errors; a restarted server keeps a warm pool and a
Standby instance as they were. Groups hold two or three tiny idle instances and are
force-deleted, so no instance process outlives its test."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually
from tests.services.names import unique
from tests.services.test_autoscaling import IDLE, ZONES, ec2_state, group, in_service
from tests.services.test_autoscaling_standby import code_of, states

HOOK = "ready"
BOOT = """#!/bin/bash
echo "boot work done" | tee -a "$HOME/boot.log"
{python} - <<'PY'
import os, urllib.request
import boto3
url = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] + "/latest/meta-data/instance-id"
instance_id = urllib.request.urlopen(url, timeout=5).read().decode()
boto3.client("autoscaling").complete_lifecycle_action(
    AutoScalingGroupName="{name}", LifecycleHookName="{hook}",
    LifecycleActionResult="CONTINUE", InstanceId=instance_id)
PY
sleep 600
"""


def make_group(asg: Any, name: str, **kwargs: Any) -> None:
    """A group whose launch hook the instances' user data completes on first boot."""
    user_data = BOOT.format(python=sys.executable, name=name, hook=HOOK)
    asg.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=IMAGE, InstanceType="t2.micro", UserData=user_data
    )
    hook = {
        "LifecycleHookName": HOOK,
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "HeartbeatTimeout": 300,
        "DefaultResult": "ABANDON",
    }
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        AvailabilityZones=ZONES,
        LifecycleHookSpecificationList=[hook],
        **kwargs,
    )


def drop_group(asg: Any, name: str) -> None:
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    asg.delete_launch_configuration(LaunchConfigurationName=name)


def pool(asg: Any, name: str) -> dict[str, str]:
    found = asg.describe_warm_pool(AutoScalingGroupName=name)["Instances"]
    return {i["InstanceId"]: i["LifecycleState"] for i in found}


def pool_is(asg: Any, name: str, n: int, state: str = "Warmed:Stopped") -> dict[str, str]:
    def check() -> dict[str, str] | None:
        now = pool(asg, name)
        return now if len(now) == n and set(now.values()) == {state} else None

    return eventually(check, 30, 0.3)


def test_warm_pool_fills_serves_a_scale_out_and_takes_an_instance_back(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    name = unique("warm")
    make_group(asg, name, MinSize=0, MaxSize=2, DesiredCapacity=0)
    seen: set[str] = set()
    try:
        asg.put_warm_pool(
            AutoScalingGroupName=name,
            PoolState="Stopped",
            InstanceReusePolicy={"ReuseOnScaleIn": True},
        )
        warm = pool_is(asg, name, 2)  # MaxSize - DesiredCapacity
        seen |= set(warm)
        for iid in warm:
            assert ec2_state(ec2, iid) == "stopped"
            out = console(ec2, iid)
            assert out.count("running user data") == 1 and out.count("boot work done") == 1
        described = asg.describe_warm_pool(AutoScalingGroupName=name, MaxRecords=1)
        assert len(described["Instances"]) == 1 and described["NextToken"]
        assert described["WarmPoolConfiguration"] == {
            "MinSize": 0,
            "PoolState": "Stopped",
            "InstanceReusePolicy": {"ReuseOnScaleIn": True},
        }
        rest = asg.describe_warm_pool(AutoScalingGroupName=name, NextToken=described["NextToken"])
        assert len(rest["Instances"]) == 1 and "NextToken" not in rest
        shaped = group(asg, name)
        assert shaped["WarmPoolSize"] == 2 and shaped["Instances"] == []
        rows = asg.describe_auto_scaling_instances(InstanceIds=list(warm))["AutoScalingInstances"]
        assert {r["LifecycleState"] for r in rows} == {"Warmed:Stopped"}

        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        held = eventually(
            lambda: [i for i, s in states(asg, name).items() if s == "Pending:Wait"], 15, 0.3
        )
        (taken,) = held
        assert taken in warm  # a warm start: the stopped instance, started again
        assert ec2_state(ec2, taken) == "running"
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName=HOOK,
            LifecycleActionResult="CONTINUE",
            InstanceId=taken,
        )
        in_service(asg, name, 1)
        out = console(ec2, taken)
        assert out.count("booting") == 2 and out.count("boot work done") == 1
        activity = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        assert any(
            a["Description"] == f"Launching a new EC2 instance from warm pool: {taken}"
            and a["StatusCode"] == "Successful"
            for a in activity
        )
        assert len(pool(asg, name)) == 1  # MaxSize 2 - DesiredCapacity 1

        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
        back = pool_is(asg, name, 2)
        assert taken in back and group(asg, name)["Instances"] == []
        assert ec2_state(ec2, taken) == "stopped"
        seen |= set(back)

        asg.delete_warm_pool(AutoScalingGroupName=name)
        assert group(asg, name)["WarmPoolConfiguration"]["Status"] == "PendingDelete"
        eventually(lambda: "WarmPoolConfiguration" not in group(asg, name), 20, 0.3)
        assert pool(asg, name) == {}
        for iid in seen:
            eventually(lambda iid=iid: ec2_state(ec2, iid) == "terminated", 15, 0.3)
    finally:
        drop_group(asg, name)


def test_warm_pool_errors(aws_client):
    asg = aws_client("autoscaling")
    name = unique("warm")
    asg.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=IMAGE, InstanceType="t2.micro", UserData=IDLE
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=ZONES,
    )
    try:
        assert asg.describe_warm_pool(AutoScalingGroupName=name)["Instances"] == []
        with pytest.raises(ClientError) as err:
            asg.put_warm_pool(AutoScalingGroupName=name, MinSize=3, MaxGroupPreparedCapacity=2)
        assert code_of(err)[0] == "ValidationError"
        with pytest.raises(ClientError) as err:
            asg.delete_warm_pool(AutoScalingGroupName=name)
        assert code_of(err)[0] == "ValidationError"
        with pytest.raises(ClientError) as err:
            asg.describe_warm_pool(AutoScalingGroupName=name, NextToken="nope")
        assert code_of(err)[0] == "InvalidNextToken"
        with pytest.raises(ClientError) as err:
            asg.put_warm_pool(AutoScalingGroupName="nope-" + name)
        assert code_of(err)[0] == "ValidationError"
        asg.put_warm_pool(AutoScalingGroupName=name, MaxGroupPreparedCapacity=0)
        asg.put_warm_pool(AutoScalingGroupName=name, MaxGroupPreparedCapacity=-1, MinSize=0)
        shaped = asg.describe_warm_pool(AutoScalingGroupName=name)["WarmPoolConfiguration"]
        assert "MaxGroupPreparedCapacity" not in shaped and shaped["PoolState"] == "Stopped"
        asg.delete_warm_pool(AutoScalingGroupName=name, ForceDelete=True)
        assert "WarmPoolConfiguration" not in group(asg, name)
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        asg.delete_launch_configuration(LaunchConfigurationName=name)


def test_a_restart_keeps_the_warm_pool_and_a_standby_instance(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        asg, ec2 = server.client("autoscaling"), server.client("ec2")
        name = unique("warm")
        make_group(asg, name, MinSize=0, MaxSize=2, DesiredCapacity=0)
        asg.put_warm_pool(AutoScalingGroupName=name, MinSize=1, MaxGroupPreparedCapacity=1)
        (warm,) = pool_is(asg, name, 1)
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        (member,) = eventually(lambda: list(states(asg, name)), 15, 0.3)
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName=HOOK,
            LifecycleActionResult="CONTINUE",
            InstanceId=member,
        )
        in_service(asg, name, 1)
        asg.enter_standby(
            AutoScalingGroupName=name, InstanceIds=[member], ShouldDecrementDesiredCapacity=True
        )
        eventually(lambda: states(asg, name) == {member: "Standby"}, 10, 0.3)
        (refilled,) = pool_is(asg, name, 1)  # MinSize 1 refilled the pool
        server.stop()

        server = CloudletServer.start(data_dir=tmp_path)
        asg, ec2 = server.client("autoscaling"), server.client("ec2")
        assert states(asg, name) == {member: "Standby"}
        assert pool(asg, name) == {refilled: "Warmed:Stopped"}
        assert ec2_state(ec2, refilled) == "stopped"
        eventually(lambda: ec2_state(ec2, member) == "running", 10, 0.3)
        assert group(asg, name)["DesiredCapacity"] == 0
        asg.exit_standby(AutoScalingGroupName=name, InstanceIds=[member])
        held = eventually(lambda: states(asg, name) == {member: "Pending:Wait"}, 10, 0.3)
        assert held
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName=HOOK,
            LifecycleActionResult="CONTINUE",
            InstanceId=member,
        )
        in_service(asg, name, 1)
        assert pool(asg, name) == {refilled: "Warmed:Stopped"}
        assert member == warm and refilled != warm
        drop_group(asg, name)
        for iid in (member, refilled):
            eventually(lambda iid=iid: ec2_state(ec2, iid) == "terminated", 15, 0.3)
    finally:
        server.stop()
