"""AutoScaling with real boto3 against a real server: groups reach their desired
capacity with running EC2 instances, scale up and down by their termination
policy, replace instances killed from outside, and scale by simple, step and
target tracking policies; one closed loop (CPU burned in instances ▸ CloudWatch
alarm ▸ policy ▸ a new instance). Every test force-deletes its group so no
instance process outlives it."""

from __future__ import annotations

import base64
import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, eventually, free_port
from tests.services.names import unique

IDLE = "#!/bin/bash\nsleep 600\n"
BURN = "#!/bin/bash\nexec python3 -c 'while True: pass'\n"
ZONES = ["us-east-1a", "us-east-1b"]


@contextlib.contextmanager
def scaling_group(
    asg: Any, *, user_data: str = IDLE, image: str = IMAGE, **kwargs: Any
) -> Iterator[str]:
    """A launch configuration and a group using it; both deleted (ForceDelete) after."""
    name = unique("asg")
    asg.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=image, InstanceType="t2.micro", UserData=user_data
    )
    kwargs.setdefault("AvailabilityZones", ZONES)
    kwargs.setdefault("MinSize", 0)
    kwargs.setdefault("MaxSize", 5)
    asg.create_auto_scaling_group(AutoScalingGroupName=name, LaunchConfigurationName=name, **kwargs)
    try:
        yield name
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        asg.delete_launch_configuration(LaunchConfigurationName=name)


def group(asg: Any, name: str) -> dict:
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def in_service(asg: Any, name: str, n: int, timeout: float = 20.0) -> list[dict]:
    """Wait until the group has exactly ``n`` instances, all InService; them."""

    def check() -> list[dict] | None:
        insts = group(asg, name)["Instances"]
        if len(insts) == n and all(i["LifecycleState"] == "InService" for i in insts):
            return insts or [{}]
        return None

    found = eventually(check, timeout, 0.3)
    return [i for i in found if i]


def ec2_state(ec2: Any, iid: str) -> str:
    res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return res[0]["Instances"][0]["State"]["Name"]


def test_group_reaches_desired_capacity_with_running_tagged_instances(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    tags = [
        {"Key": "app", "Value": "web", "PropagateAtLaunch": True},
        {"Key": "team", "Value": "ops", "PropagateAtLaunch": False},
    ]
    with scaling_group(asg, MinSize=1, MaxSize=3, DesiredCapacity=2, Tags=tags) as name:
        insts = in_service(asg, name, 2)
        assert sorted(i["AvailabilityZone"] for i in insts) == ZONES
        for inst in insts:
            assert ec2_state(ec2, inst["InstanceId"]) == "running"
            described = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])
            got = {
                t["Key"]: t["Value"]
                for t in described["Reservations"][0]["Instances"][0].get("Tags", [])
            }
            assert got.get("app") == "web" and "team" not in got
            assert got["aws:autoscaling:groupName"] == name
        shaped = group(asg, name)
        assert shaped["DesiredCapacity"] == 2 and shaped["HealthCheckType"] == "EC2"
        assert {t["Key"] for t in shaped["Tags"]} == {"app", "team"}
        rows = asg.describe_auto_scaling_instances(InstanceIds=[insts[0]["InstanceId"]])
        row = rows["AutoScalingInstances"][0]
        assert row["AutoScalingGroupName"] == name and row["HealthStatus"] == "HEALTHY"
        activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        assert len(activities) == 2
        for a in activities:
            assert re.fullmatch(r"Launching a new EC2 instance: i-[0-9a-f]{17}", a["Description"])
            assert a["StatusCode"] == "Successful" and a["Progress"] == 100
            assert re.match(
                r"At \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ a user request created an AutoScalingGroup "
                r"changing the desired capacity from 0 to 2\.  At .*Z an instance was started in "
                r"response to a difference between desired and actual capacity, increasing the "
                r"capacity from 0 to 2\.$",
                a["Cause"],
            )
            assert a["EndTime"] >= a["StartTime"]


@pytest.mark.parametrize("policy", ["NewestInstance", "OldestInstance"])
def test_update_up_then_down_terminates_by_policy(aws_client, policy):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with scaling_group(asg, DesiredCapacity=1, TerminationPolicies=[policy]) as name:
        (first,) = in_service(asg, name, 1)
        asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, DesiredCapacity=2)
        both = in_service(asg, name, 2)
        (second,) = [i for i in both if i["InstanceId"] != first["InstanceId"]]
        cause = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert (
            "a user request update of AutoScalingGroup constraints to min: 1, max: 5, "
            in (cause["Cause"])
        )
        assert "desired: 2 changing the desired capacity from 1 to 2." in cause["Cause"]
        asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=1)
        (left,) = in_service(asg, name, 1)
        gone = second if policy == "NewestInstance" else first
        kept = first if policy == "NewestInstance" else second
        assert left["InstanceId"] == kept["InstanceId"]
        eventually(lambda: ec2_state(ec2, gone["InstanceId"]) == "terminated", 15)
        latest = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert latest["Description"] == f"Terminating EC2 instance: {gone['InstanceId']}"
        assert "shrinking the capacity from 2 to 1." in latest["Cause"]
        assert f"instance {gone['InstanceId']} was selected for termination." in latest["Cause"]
        with pytest.raises(ClientError) as err:
            asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=9)
        assert err.value.response["Error"]["Code"] == "ValidationError"


def test_instance_terminated_from_outside_is_replaced(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with scaling_group(asg, DesiredCapacity=1) as name:
        (old,) = in_service(asg, name, 1)
        ec2.terminate_instances(InstanceIds=[old["InstanceId"]])

        def replaced() -> bool:
            insts = group(asg, name)["Instances"]
            return (
                len(insts) == 1
                and insts[0]["InstanceId"] != old["InstanceId"]
                and insts[0]["LifecycleState"] == "InService"
            )

        eventually(replaced, 20, 0.3)
        causes = [
            a["Cause"]
            for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        ]
        assert any("in response to an EC2 instance status check failure" in c for c in causes)


def test_set_instance_health_and_terminate_instance_in_group(aws_client):
    asg = aws_client("autoscaling")
    with scaling_group(asg, DesiredCapacity=2) as name:
        a, b = in_service(asg, name, 2)
        asg.set_instance_health(InstanceId=a["InstanceId"], HealthStatus="Unhealthy")
        eventually(
            lambda: a["InstanceId"] not in {i["InstanceId"] for i in in_service(asg, name, 2)},
            20,
        )
        res = asg.terminate_instance_in_auto_scaling_group(
            InstanceId=b["InstanceId"], ShouldDecrementDesiredCapacity=True
        )
        assert res["Activity"]["Description"] == f"Terminating EC2 instance: {b['InstanceId']}"
        assert group(asg, name)["DesiredCapacity"] == 1
        in_service(asg, name, 1)


def test_simple_scaling_honours_cooldown(aws_client):
    asg = aws_client("autoscaling")
    with scaling_group(asg, DesiredCapacity=0) as name:
        asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
        arn = asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="up",
            PolicyType="SimpleScaling",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=1,
            Cooldown=300,
        )["PolicyARN"]
        assert arn.startswith("arn:aws:autoscaling:us-east-1:") and arn.endswith(
            f":autoScalingGroupName/{name}:policyName/up"
        )
        asg.execute_policy(AutoScalingGroupName=name, PolicyName="up", HonorCooldown=True)
        assert group(asg, name)["DesiredCapacity"] == 1
        with pytest.raises(ClientError) as err:
            asg.execute_policy(AutoScalingGroupName=name, PolicyName="up", HonorCooldown=True)
        assert err.value.response["Error"]["Code"] == "ScalingActivityInProgress"
        asg.execute_policy(PolicyName=arn)  # a user's call ignores the cooldown by default
        assert group(asg, name)["DesiredCapacity"] == 2
        cases = [  # (adjustment type, adjustment, min magnitude, expected from 2)
            ("PercentChangeInCapacity", 50, None, 3),  # 1.0 -> +1
            ("PercentChangeInCapacity", -10, None, 2),  # -0.3 rounds away from zero
            ("PercentChangeInCapacity", 10, 2, 4),  # 0.2 -> 1, raised to magnitude 2
            ("ExactCapacity", 9, None, 5),  # clamped to MaxSize
        ]
        for kind, amount, magnitude, expected in cases:
            extra = {"MinAdjustmentMagnitude": magnitude} if magnitude else {}
            asg.put_scaling_policy(
                AutoScalingGroupName=name,
                PolicyName="p",
                AdjustmentType=kind,
                ScalingAdjustment=amount,
                **extra,
            )
            asg.execute_policy(AutoScalingGroupName=name, PolicyName="p")
            assert group(asg, name)["DesiredCapacity"] == expected, kind
        policies = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
        assert sorted(p["PolicyName"] for p in policies) == ["p", "up"]
        asg.delete_policy(AutoScalingGroupName=name, PolicyName="p")
        assert len(asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]) == 1
        assert group(asg, name)["Instances"] == []  # Launch suspended


def test_step_scaling_picks_the_step_by_metric_value(aws_client):
    asg = aws_client("autoscaling")
    with scaling_group(asg, DesiredCapacity=1, MinSize=1, MaxSize=10) as name:
        asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
        asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="steps",
            PolicyType="StepScaling",
            AdjustmentType="ChangeInCapacity",
            StepAdjustments=[
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 10,
                    "ScalingAdjustment": 1,
                },  # noqa: E501
                {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
            ],
        )
        run = {"AutoScalingGroupName": name, "PolicyName": "steps", "BreachThreshold": 70.0}
        asg.execute_policy(MetricValue=75.0, **run)
        assert group(asg, name)["DesiredCapacity"] == 2
        asg.execute_policy(MetricValue=95.0, **run)
        assert group(asg, name)["DesiredCapacity"] == 5
        with pytest.raises(ClientError) as err:
            asg.execute_policy(AutoScalingGroupName=name, PolicyName="steps")
        assert err.value.response["Error"]["Code"] == "ValidationError"


def test_target_tracking_owns_its_alarms(aws_client):
    asg, cw = aws_client("autoscaling"), aws_client("cloudwatch")
    with scaling_group(asg, DesiredCapacity=0) as name:
        res = asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="cpu50",
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"
                },
                "TargetValue": 50.0,
            },
        )
        names = sorted(a["AlarmName"] for a in res["Alarms"])
        assert len(names) == 2
        assert re.fullmatch(rf"TargetTracking-{name}-AlarmHigh-[0-9a-f-]{{36}}", names[0])
        assert re.fullmatch(rf"TargetTracking-{name}-AlarmLow-[0-9a-f-]{{36}}", names[1])
        alarms = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
        assert len(alarms) == 2
        for alarm in alarms:
            assert alarm["MetricName"] == "CPUUtilization" and alarm["Namespace"] == "AWS/EC2"
            assert alarm["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": name}]
            assert alarm["AlarmActions"] == [res["PolicyARN"]]
        high = next(a for a in alarms if "AlarmHigh" in a["AlarmName"])
        assert high["Threshold"] == 50.0 and high["ComparisonOperator"] == "GreaterThanThreshold"
        (policy,) = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
        assert sorted(a["AlarmName"] for a in policy["Alarms"]) == names
        asg.delete_policy(AutoScalingGroupName=name, PolicyName="cpu50")
        assert cw.describe_alarms(AlarmNames=names)["MetricAlarms"] == []


def test_delete_needs_force_and_force_terminates(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    name = unique("asg")
    asg.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=IMAGE, InstanceType="t2.micro", UserData=IDLE
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=ZONES,
    )
    try:
        ids = [i["InstanceId"] for i in in_service(asg, name, 2)]
        with pytest.raises(ClientError) as err:
            asg.delete_launch_configuration(LaunchConfigurationName=name)
        assert err.value.response["Error"]["Code"] == "ResourceInUse"
        with pytest.raises(ClientError) as err:
            asg.delete_auto_scaling_group(AutoScalingGroupName=name)
        assert err.value.response["Error"]["Code"] == "ResourceInUse"
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []
    for iid in ids:
        eventually(lambda iid=iid: ec2_state(ec2, iid) == "terminated", 15)
    asg.delete_launch_configuration(LaunchConfigurationName=name)


def test_launch_configurations_and_errors(aws_client):
    asg = aws_client("autoscaling")
    name = unique("lc")
    asg.create_launch_configuration(
        LaunchConfigurationName=name,
        ImageId=IMAGE,
        InstanceType="t2.micro",
        UserData=IDLE,
        SecurityGroups=["default"],
    )
    try:
        (lc,) = asg.describe_launch_configurations(LaunchConfigurationNames=[name])[
            "LaunchConfigurations"
        ]
        assert lc["ImageId"] == IMAGE and lc["SecurityGroups"] == ["default"]
        assert base64.b64decode(lc["UserData"]).decode() == IDLE
        with pytest.raises(ClientError) as err:
            asg.create_launch_configuration(
                LaunchConfigurationName=name, ImageId=IMAGE, InstanceType="t2.micro"
            )
        assert err.value.response["Error"]["Code"] == "AlreadyExists"
        with pytest.raises(ClientError) as err:
            asg.create_auto_scaling_group(
                AutoScalingGroupName=unique("asg"),
                LaunchConfigurationName="nope-" + uuid.uuid4().hex,
                MinSize=0,
                MaxSize=1,
                AvailabilityZones=ZONES,
            )
        assert err.value.response["Error"]["Code"] == "ValidationError"
    finally:
        asg.delete_launch_configuration(LaunchConfigurationName=name)


def test_suspended_launch_stops_launching(aws_client):
    asg = aws_client("autoscaling")
    with scaling_group(asg, DesiredCapacity=0) as name:
        asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        time.sleep(2.5)
        shaped = group(asg, name)
        assert shaped["Instances"] == []
        assert [p["ProcessName"] for p in shaped["SuspendedProcesses"]] == ["Launch"]
        asg.resume_processes(AutoScalingGroupName=name)
        in_service(asg, name, 1)
        latest = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert (
            "a user request explicitly set group desired capacity changing the desired "
            in (latest["Cause"])
        )


@pytest.fixture(scope="module")
def metrics_server() -> Iterator[CloudletServer]:
    srv = CloudletServer.start(env={"CLOUDLET_EC2_METRICS_INTERVAL": "1"})
    try:
        yield srv
    finally:
        srv.stop()


def test_cpu_alarm_grows_the_group(metrics_server):
    """Closed loop: burning instances ▸ AWS/EC2 CPUUtilization ▸ alarm ▸ policy ▸ launch."""
    asg, cw = metrics_server.client("autoscaling"), metrics_server.client("cloudwatch")
    with scaling_group(asg, user_data=BURN, MinSize=1, MaxSize=2) as name:
        in_service(asg, name, 1)
        arn = asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="grow",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=1,
            Cooldown=0,
        )["PolicyARN"]
        alarm = unique("cpu-high")
        cw.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "AutoScalingGroupName", "Value": name}],
            Statistic="Average",
            Period=10,
            EvaluationPeriods=1,
            Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[arn],
        )
        try:
            in_service(asg, name, 2, timeout=40)
            causes = [
                a["Cause"]
                for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
            ]
            assert any("triggered policy grow changing the desired capacity" in c for c in causes)
        finally:
            cw.delete_alarms(AlarmNames=[alarm])


def test_group_with_a_launch_template(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    template = unique("lt")
    try:
        created = ec2.create_launch_template(
            LaunchTemplateName=template,
            LaunchTemplateData={
                "ImageId": IMAGE,
                "InstanceType": "t3.micro",
                "UserData": base64.b64encode(IDLE.encode()).decode(),
            },
        )["LaunchTemplate"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("EC2 launch templates are not built yet")
        raise
    name = unique("asg")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=2,
        AvailabilityZones=ZONES,
    )
    try:
        (inst,) = in_service(asg, name, 1)
        assert inst["InstanceType"] == "t3.micro"
        assert group(asg, name)["LaunchTemplate"] == {
            "LaunchTemplateId": created["LaunchTemplateId"],
            "LaunchTemplateName": template,
            "Version": "$Latest",
        }
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateName=template)


def test_groups_resume_after_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        asg = server.client("autoscaling")
        name = unique("asg")
        asg.create_launch_configuration(
            LaunchConfigurationName=name, ImageId=IMAGE, InstanceType="t2.micro", UserData=IDLE
        )
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName=name,
            MinSize=1,
            MaxSize=2,
            AvailabilityZones=ZONES,
        )
        (before,) = in_service(asg, name, 1)
        server.stop()
        server = CloudletServer.start(data_dir=tmp_path)
        asg = server.client("autoscaling")
        (after,) = in_service(asg, name, 1)
        assert after["InstanceId"] == before["InstanceId"]
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
        in_service(asg, name, 2)
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    finally:
        server.stop()


def _elbv2_or_skip(elb: Any, name: str, vpc: str) -> str:
    try:
        return elb.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("elbv2 is not built yet")
        raise


def test_elb_health_check_replaces_an_unhealthy_instance(aws_client):
    """HealthCheckType ELB: an instance that serves nothing fails its target group's
    checks and is replaced; instances are registered and deregistered as they come
    and go."""
    asg, ec2, elb = aws_client("autoscaling"), aws_client("ec2"), aws_client("elbv2")
    subnets = ec2.describe_subnets()["Subnets"]
    tg = _elbv2_or_skip(elb, unique("tg")[:32], subnets[0]["VpcId"])
    lb = elb.create_load_balancer(
        Name=unique("alb")[:32], Subnets=[s["SubnetId"] for s in subnets[:2]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    try:
        with scaling_group(
            asg, DesiredCapacity=1, TargetGroupARNs=[tg], HealthCheckType="ELB"
        ) as name:
            (first,) = in_service(asg, name, 1)

            def registered() -> set[str]:
                health = elb.describe_target_health(TargetGroupArn=tg)
                return {
                    d["Target"]["Id"]
                    for d in health["TargetHealthDescriptions"]
                    if d["TargetHealth"]["State"] != "draining"
                }

            eventually(lambda: registered() == {first["InstanceId"]}, 10, 0.3)

            def replaced() -> bool:
                insts = group(asg, name)["Instances"]
                return any(i["InstanceId"] != first["InstanceId"] for i in insts)

            eventually(replaced, 30, 0.5)
            eventually(lambda: first["InstanceId"] not in registered(), 10, 0.3)
            causes = [
                a["Cause"]
                for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
            ]
            assert any("in response to an ELB system health check failure" in c for c in causes)
    finally:
        elb.delete_listener(ListenerArn=listener)
        elb.delete_load_balancer(LoadBalancerArn=lb)
        elb.delete_target_group(TargetGroupArn=tg)


def test_tags_and_scale_in_protection(aws_client):
    asg = aws_client("autoscaling")
    with scaling_group(asg, DesiredCapacity=2, TerminationPolicies=["NewestInstance"]) as name:
        asg.create_or_update_tags(
            Tags=[{"ResourceId": name, "Key": "env", "Value": "prod", "PropagateAtLaunch": True}]
        )
        found = asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": [name]}])
        assert [(t["Key"], t["Value"]) for t in found["Tags"]] == [("env", "prod")]
        asg.delete_tags(Tags=[{"ResourceId": name, "Key": "env"}])
        assert group(asg, name)["Tags"] == []
        insts = in_service(asg, name, 2)
        newest = max(
            insts,
            key=lambda i: next(
                a["StartTime"]
                for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
                if a["Description"].endswith(i["InstanceId"])
            ),
        )
        asg.set_instance_protection(
            AutoScalingGroupName=name,
            InstanceIds=[newest["InstanceId"]],
            ProtectedFromScaleIn=True,
        )
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        (left,) = in_service(asg, name, 1)
        assert left["InstanceId"] == newest["InstanceId"] and left["ProtectedFromScaleIn"]
        kinds = asg.describe_termination_policy_types()["TerminationPolicyTypes"]
        assert "NewestInstance" in kinds


def test_boto2_autoscale(cloudlet_server):
    """The textbook's boto 2 calls: launch configuration, group, policy, execute."""
    pytest.importorskip("boto", reason="boto 2 is not installed")
    from boto.ec2.autoscale import (
        AutoScaleConnection,
        AutoScalingGroup,
        LaunchConfiguration,
        ScalingPolicy,
    )
    from boto.regioninfo import RegionInfo

    conn = AutoScaleConnection(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        is_secure=False,
        port=cloudlet_server.port,
        region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"),
    )
    conn.auth_region_name, conn.auth_service_name = "us-east-1", "autoscaling"
    name = unique("boto2")
    lc = LaunchConfiguration(name=name, image_id=IMAGE, instance_type="t2.micro", user_data=IDLE)
    conn.create_launch_configuration(lc)
    conn.create_auto_scaling_group(
        AutoScalingGroup(
            group_name=name,
            launch_config=lc,
            availability_zones=ZONES,
            min_size=1,
            max_size=2,
            connection=conn,
        )
    )
    try:
        policy = ScalingPolicy(
            name="up",
            adjustment_type="ChangeInCapacity",
            as_name=name,
            scaling_adjustment=1,
            cooldown=60,
        )
        conn.create_scaling_policy(policy)
        (found,) = conn.get_all_policies(as_group=name, policy_names=["up"])
        assert found.policy_arn.endswith("policyName/up")
        conn.execute_policy("up", as_group=name)

        def grown() -> bool:
            (grp,) = conn.get_all_groups(names=[name])
            states = [i.lifecycle_state for i in grp.instances]
            return grp.desired_capacity == 2 and states == ["InService", "InService"]

        eventually(grown, 20, 0.3)
    finally:
        conn.delete_auto_scaling_group(name, force_delete=True)
        conn.delete_launch_configuration(name)
