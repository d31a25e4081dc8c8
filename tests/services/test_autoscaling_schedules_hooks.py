"""Scheduled actions and lifecycle hooks with real boto3 against real servers: a
scheduled action a couple of seconds ahead resizes a group that then really
launches an instance; a launch hook holds a running instance in Pending:Wait,
notifies its SQS queue and EventBridge, and lets it in on CONTINUE or terminates it
on ABANDON or when its heartbeat times out; a terminating hook holds a leaving
instance; a restart keeps a waiting instance waiting. The module's server runs
heartbeats ten times faster (``CLOUDLET_AUTOSCALING_HEARTBEAT_SCALE=0.1``) so AWS's
30-second minimum passes in 3. Every group is force-deleted, so no instance
process outlives its test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.services.autoscaling import cron
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, eventually
from tests.services.names import unique
from tests.services.test_autoscaling import IDLE, ZONES, ec2_state, group, in_service, scaling_group

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
ROLE = "arn:aws:iam::000000000000:role/asg-notify"


@pytest.fixture(scope="module")
def srv() -> Iterator[CloudletServer]:
    server = CloudletServer.start(env={"CLOUDLET_AUTOSCALING_HEARTBEAT_SCALE": "0.1"})
    try:
        yield server
    finally:
        server.stop()


def code_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("hooks"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def receive(sqs: Any, url: str, n: int = 1, timeout: float = 20.0) -> list[dict]:
    """The bodies (JSON) of ``n`` messages from ``url``, deleted as read."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) >= n, f"{len(got)} of {n} messages in {timeout}s: {got}"
    return got


def states(asg: Any, name: str) -> list[str]:
    return [i["LifecycleState"] for i in group(asg, name)["Instances"]]


def waiting(asg: Any, name: str, state: str, timeout: float = 20.0) -> dict:
    """Wait until the group's only instance is in ``state``; it."""

    def check() -> dict | None:
        insts = group(asg, name)["Instances"]
        return insts[0] if len(insts) == 1 and insts[0]["LifecycleState"] == state else None

    return eventually(check, timeout, 0.3)


# -- recurrence arithmetic -------------------------------------------------------------


def test_recurrence_next_run_in_utc_and_in_a_time_zone():
    jan1 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    every_june = cron.parse("30 0 1 1,6,12 *")
    assert datetime.fromtimestamp(every_june.next_after(jan1), UTC) == datetime(
        2030, 1, 1, 0, 30, tzinfo=UTC
    )
    weekdays = cron.parse("0 9 * * MON-FRI", "America/New_York")  # 2030-01-05 is a Saturday
    first = weekdays.next_after(datetime(2030, 1, 5, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(first, UTC) == datetime(2030, 1, 7, 14, 0, tzinfo=UTC)
    either = cron.parse("0 0 13 * 5")  # crontab: the 13th or any Friday
    assert datetime.fromtimestamp(either.next_after(jan1), UTC).day == 4  # Friday 4 Jan
    assert cron.parse("0 0 31 2 *").next_after(jan1) is None
    for bad in ("* * * *", "60 * * * *", "* * * FOO *", "*/0 * * * *"):
        with pytest.raises(cron.CronError):
            cron.parse(bad)
    with pytest.raises(cron.CronError):
        cron.parse("* * * * *", "Mars/Olympus")


# -- scheduled actions -------------------------------------------------------------------


def test_scheduled_actions_resize_the_group_when_due(srv):
    asg = srv.client("autoscaling")
    with scaling_group(asg, MinSize=0, MaxSize=3, DesiredCapacity=0) as name:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        asg.put_scheduled_update_group_action(
            AutoScalingGroupName=name, ScheduledActionName="grow", StartTime=soon, DesiredCapacity=1
        )
        asg.put_scheduled_update_group_action(
            AutoScalingGroupName=name,
            ScheduledActionName="yearly",
            StartTime=soon + timedelta(seconds=2),
            Recurrence="0 0 1 1 *",
            MaxSize=2,
        )
        listed = asg.describe_scheduled_actions(AutoScalingGroupName=name)
        grow, yearly = listed["ScheduledUpdateGroupActions"]
        assert grow["ScheduledActionName"] == "grow" and grow["DesiredCapacity"] == 1
        assert (
            abs((grow["StartTime"] - soon).total_seconds()) < 1
            and grow["Time"] == grow["StartTime"]
        )
        assert grow["ScheduledActionARN"].startswith("arn:aws:autoscaling:us-east-1:")
        assert grow["ScheduledActionARN"].endswith(
            f":autoScalingGroupName/{name}:scheduledActionName/grow"
        )
        assert "Recurrence" not in grow and "MinSize" not in grow
        assert yearly["Recurrence"] == "0 0 1 1 *" and yearly["TimeZone"] == "Etc/UTC"

        (inst,) = in_service(asg, name, 1, timeout=25)
        assert inst["LifecycleState"] == "InService"
        launch = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][-1]
        assert (
            "a scheduled action update of AutoScalingGroup constraints to min: 0, max: 3, "
            "desired: 1 changing the desired capacity from 0 to 1." in launch["Cause"]
        )
        assert "increasing the capacity from 0 to 1." in launch["Cause"]

        # The one-time action is gone; the recurring one ran and waits for next 1 January.
        eventually(lambda: group(asg, name)["MaxSize"] == 2, 10, 0.3)
        (left,) = asg.describe_scheduled_actions(AutoScalingGroupName=name)[
            "ScheduledUpdateGroupActions"
        ]
        assert left["ScheduledActionName"] == "yearly"
        assert left["StartTime"] == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)


def test_scheduled_action_batches_and_errors(srv):
    asg = srv.client("autoscaling")
    with scaling_group(asg, MinSize=0, MaxSize=2) as name:
        later = datetime.now(UTC) + timedelta(days=1)
        with pytest.raises(ClientError) as err:
            asg.put_scheduled_update_group_action(
                AutoScalingGroupName=name,
                ScheduledActionName="past",
                StartTime=datetime.now(UTC) - timedelta(minutes=5),
                DesiredCapacity=1,
            )
        assert code_of(err) == ("ValidationError", "Given start time is in the past")
        with pytest.raises(ClientError) as err:
            asg.put_scheduled_update_group_action(
                AutoScalingGroupName=name,
                ScheduledActionName="x",
                Recurrence="61 * * * *",
                MinSize=1,
            )
        assert code_of(err)[0] == "ValidationError"
        with pytest.raises(ClientError) as err:
            asg.put_scheduled_update_group_action(
                AutoScalingGroupName="nope", ScheduledActionName="x", StartTime=later, MinSize=1
            )
        assert "AutoScalingGroup name not found" in code_of(err)[1]

        failed = asg.batch_put_scheduled_update_group_action(
            AutoScalingGroupName=name,
            ScheduledUpdateGroupActions=[
                {
                    "ScheduledActionName": "nightly",
                    "Recurrence": "0 22 * * *",
                    "DesiredCapacity": 0,
                },
                {
                    "ScheduledActionName": "morning",
                    "Recurrence": "0 7 * * MON-FRI",
                    "TimeZone": "Europe/Paris",
                    "EndTime": later + timedelta(days=30),
                    "DesiredCapacity": 1,
                },
                {"ScheduledActionName": "bad", "StartTime": later, "MinSize": 3, "MaxSize": 1},
            ],
        )["FailedScheduledUpdateGroupActions"]
        assert [(f["ScheduledActionName"], f["ErrorCode"]) for f in failed] == [
            ("bad", "ValidationError")
        ]
        shown = asg.describe_scheduled_actions(
            AutoScalingGroupName=name, ScheduledActionNames=["morning"]
        )["ScheduledUpdateGroupActions"]
        assert shown[0]["TimeZone"] == "Europe/Paris" and shown[0]["StartTime"].hour in (5, 6)

        # Updating keeps what is not given.
        asg.put_scheduled_update_group_action(
            AutoScalingGroupName=name, ScheduledActionName="nightly", MaxSize=2
        )
        (nightly,) = asg.describe_scheduled_actions(
            AutoScalingGroupName=name, ScheduledActionNames=["nightly"]
        )["ScheduledUpdateGroupActions"]
        assert (nightly["Recurrence"], nightly["DesiredCapacity"], nightly["MaxSize"]) == (
            "0 22 * * *",
            0,
            2,
        )

        # 125 per group.
        for start in range(0, 123, 50):
            asg.batch_put_scheduled_update_group_action(
                AutoScalingGroupName=name,
                ScheduledUpdateGroupActions=[
                    {"ScheduledActionName": f"a{i}", "StartTime": later, "MinSize": 0}
                    for i in range(start, min(start + 50, 123))
                ],
            )
        with pytest.raises(ClientError) as err:
            asg.put_scheduled_update_group_action(
                AutoScalingGroupName=name,
                ScheduledActionName="one-too-many",
                StartTime=later,
                MinSize=0,
            )
        assert code_of(err)[0] == "LimitExceeded"
        page = asg.describe_scheduled_actions(AutoScalingGroupName=name, MaxRecords=100)
        assert len(page["ScheduledUpdateGroupActions"]) == 100 and page["NextToken"]

        asg.delete_scheduled_action(AutoScalingGroupName=name, ScheduledActionName="nightly")
        failed = asg.batch_delete_scheduled_action(
            AutoScalingGroupName=name, ScheduledActionNames=["morning", "nightly"]
        )["FailedScheduledActions"]
        assert [f["ScheduledActionName"] for f in failed] == ["nightly"]
        with pytest.raises(ClientError) as err:
            asg.delete_scheduled_action(AutoScalingGroupName=name, ScheduledActionName="nightly")
        assert code_of(err)[0] == "ValidationError"


# -- lifecycle hooks -------------------------------------------------------------------------


def test_launch_hook_holds_the_instance_until_continue(srv):
    asg, sqs, ec2, events = (srv.client(s) for s in ("autoscaling", "sqs", "ec2", "events"))
    url, arn = queue(sqs)
    event_url, event_arn = queue(sqs)
    rule = unique("asg-hooks")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-launch Lifecycle Action"]}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": event_arn}])
    try:
        with scaling_group(asg, MinSize=0, MaxSize=2, DesiredCapacity=0) as name:
            asg.put_lifecycle_hook(
                AutoScalingGroupName=name,
                LifecycleHookName="ready",
                LifecycleTransition=LAUNCHING,
                NotificationTargetARN=arn,
                RoleARN=ROLE,
                NotificationMetadata="hello",
                DefaultResult="ABANDON",
            )
            (test,) = receive(sqs, url)
            assert test["Event"] == "autoscaling:TEST_NOTIFICATION"
            assert test["AutoScalingGroupName"] == name and test["Service"] == "AWS Auto Scaling"
            (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
            assert hook["HeartbeatTimeout"] == 3600 and hook["GlobalTimeout"] == 172800
            assert hook["NotificationTargetARN"] == arn and hook["DefaultResult"] == "ABANDON"

            asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
            inst = waiting(asg, name, "Pending:Wait")
            iid = inst["InstanceId"]
            (note,) = receive(sqs, url)
            assert note["LifecycleTransition"] == LAUNCHING and note["EC2InstanceId"] == iid
            assert (note["Origin"], note["Destination"]) == ("EC2", "AutoScalingGroup")
            assert note["LifecycleHookName"] == "ready" and note["NotificationMetadata"] == "hello"
            assert note["AccountId"] == "000000000000" and note["Service"] == "AWS Auto Scaling"
            token = note["LifecycleActionToken"]
            (event,) = receive(sqs, event_url)
            assert event["source"] == "aws.autoscaling"
            assert event["detail"]["LifecycleActionToken"] == token
            assert event["detail"]["EC2InstanceId"] == iid

            # The instance runs (its user data could be finishing set-up) but stays out.
            eventually(lambda: ec2_state(ec2, iid) == "running", 15)
            time.sleep(1.5)
            assert states(asg, name) == ["Pending:Wait"]
            activity = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
            assert activity["StatusCode"] == "MidLifecycleAction"
            asg.record_lifecycle_action_heartbeat(
                AutoScalingGroupName=name, LifecycleHookName="ready", LifecycleActionToken=token
            )
            asg.complete_lifecycle_action(
                AutoScalingGroupName=name,
                LifecycleHookName="ready",
                LifecycleActionToken=token,
                LifecycleActionResult="CONTINUE",
            )
            in_service(asg, name, 1, timeout=10)
            activity = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
            assert activity["StatusCode"] == "Successful"
            with pytest.raises(ClientError) as err:
                asg.complete_lifecycle_action(
                    AutoScalingGroupName=name,
                    LifecycleHookName="ready",
                    LifecycleActionToken=token,
                    LifecycleActionResult="CONTINUE",
                )
            assert code_of(err) == (
                "ValidationError",
                f"No active Lifecycle Action found with token {token}",
            )
    finally:
        events.remove_targets(Rule=rule, Ids=["q"])
        events.delete_rule(Name=rule)


def test_abandon_terminates_the_launching_instance(srv):
    asg, ec2, sns, sqs = (srv.client(s) for s in ("autoscaling", "ec2", "sns", "sqs"))
    topic = sns.create_topic(Name=unique("hooks"))["TopicArn"]
    url, arn = queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    with scaling_group(asg, MinSize=0, MaxSize=1, DesiredCapacity=0) as name:
        with pytest.raises(ClientError) as err:
            asg.put_lifecycle_hook(
                AutoScalingGroupName=name,
                LifecycleHookName="gate",
                LifecycleTransition=LAUNCHING,
                NotificationTargetARN=arn + "-missing",
                RoleARN=ROLE,
            )
        assert code_of(err)[1].startswith("Unable to publish test message to notification target")
        assert asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"] == []
        asg.put_lifecycle_hook(
            AutoScalingGroupName=name,
            LifecycleHookName="gate",
            LifecycleTransition=LAUNCHING,
            NotificationTargetARN=topic,
            RoleARN=ROLE,
        )
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        iid = waiting(asg, name, "Pending:Wait")["InstanceId"]
        test, note = (json.loads(m["Message"]) for m in receive(sqs, url, 2))
        assert test["Event"] == "autoscaling:TEST_NOTIFICATION"
        assert note["EC2InstanceId"] == iid and note["LifecycleHookName"] == "gate"
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName="gate",
            InstanceId=iid,
            LifecycleActionResult="ABANDON",
        )
        eventually(lambda: ec2_state(ec2, iid) in ("shutting-down", "terminated"), 15)
        launches = [
            a
            for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
            if a["Description"].startswith(f"Launching a new EC2 instance: {iid}")
        ]
        assert launches[0]["StatusCode"] == "Cancelled"
        assert "Instance failed to complete user's Lifecycle Action" in launches[0]["StatusMessage"]
        assert "Lifecycle Action Completed with ABANDON Result" in launches[0]["StatusMessage"]
        # The group still wants one: a replacement launches and waits at the hook too.
        replacement = waiting(asg, name, "Pending:Wait")
        assert replacement["InstanceId"] != iid


def test_heartbeat_timeout_applies_the_default_result(srv):
    asg = srv.client("autoscaling")
    with scaling_group(asg, MinSize=0, MaxSize=1, DesiredCapacity=0) as name:
        with pytest.raises(ClientError) as err:
            asg.put_lifecycle_hook(
                AutoScalingGroupName=name,
                LifecycleHookName="short",
                LifecycleTransition=LAUNCHING,
                HeartbeatTimeout=29,
            )
        assert code_of(err)[0] == "ValidationError"
        asg.put_lifecycle_hook(
            AutoScalingGroupName=name,
            LifecycleHookName="short",
            LifecycleTransition=LAUNCHING,
            HeartbeatTimeout=30,
            DefaultResult="CONTINUE",
        )
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        waiting(asg, name, "Pending:Wait")
        started = time.monotonic()
        in_service(asg, name, 1, timeout=15)  # 30 s at a tenth of the pace
        assert time.monotonic() - started > 1.0


def test_terminating_hook_holds_the_leaving_instance(srv):
    asg, ec2 = srv.client("autoscaling"), srv.client("ec2")
    with scaling_group(asg, MinSize=0, MaxSize=1, DesiredCapacity=1) as name:
        (inst,) = in_service(asg, name, 1)
        iid = inst["InstanceId"]
        asg.put_lifecycle_hook(
            AutoScalingGroupName=name, LifecycleHookName="drain", LifecycleTransition=TERMINATING
        )
        types = asg.describe_lifecycle_hook_types()["LifecycleHookTypes"]
        assert sorted(types) == [LAUNCHING, TERMINATING]
        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
        waiting(asg, name, "Terminating:Wait")
        time.sleep(1.5)
        assert states(asg, name) == ["Terminating:Wait"] and ec2_state(ec2, iid) == "running"
        ending = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert ending["Description"] == f"Terminating EC2 instance: {iid}"
        assert ending["StatusCode"] == "MidLifecycleAction"
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName="drain",
            InstanceId=iid,
            LifecycleActionResult="CONTINUE",
        )
        eventually(lambda: group(asg, name)["Instances"] == [], 10, 0.3)
        eventually(lambda: ec2_state(ec2, iid) in ("shutting-down", "terminated"), 15)
        ending = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert ending["StatusCode"] == "Successful"
        asg.delete_lifecycle_hook(AutoScalingGroupName=name, LifecycleHookName="drain")
        assert asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"] == []


def test_a_restart_keeps_a_waiting_instance_waiting(tmp_path):
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
            MaxSize=1,
            AvailabilityZones=ZONES,
            LifecycleHookSpecificationList=[
                {"LifecycleHookName": "boot", "LifecycleTransition": LAUNCHING}
            ],
        )
        later = datetime.now(UTC) + timedelta(days=2)
        asg.put_scheduled_update_group_action(
            AutoScalingGroupName=name, ScheduledActionName="later", StartTime=later, MinSize=0
        )
        before = waiting(asg, name, "Pending:Wait")
        server.stop()
        server = CloudletServer.start(data_dir=tmp_path)
        asg = server.client("autoscaling")
        after = waiting(asg, name, "Pending:Wait")
        assert after["InstanceId"] == before["InstanceId"]
        (kept,) = asg.describe_scheduled_actions(AutoScalingGroupName=name)[
            "ScheduledUpdateGroupActions"
        ]
        assert kept["ScheduledActionName"] == "later"
        asg.complete_lifecycle_action(
            AutoScalingGroupName=name,
            LifecycleHookName="boot",
            InstanceId=after["InstanceId"],
            LifecycleActionResult="CONTINUE",
        )
        in_service(asg, name, 1)
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        assert asg.describe_scheduled_actions()["ScheduledUpdateGroupActions"] == []
    finally:
        server.stop()
