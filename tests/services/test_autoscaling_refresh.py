"""Instance refresh with real boto3 against real servers: a refresh to a new launch
template version really replaces every instance (new ids, all launched from the new
version) and reaches Successful at 100 %; SkipMatching leaves instances already on the
desired version alone; a refresh paused at a checkpoint refuses a second refresh,
launches before terminating with MaxHealthyPercentage above 100, and is cancelled or
rolled back (its instances replaced with the previous version, replacements launched
ahead simply removed); a failed launch fails the refresh and AutoRollback undoes it; a
restarted server resumes a refresh where it stopped. Groups hold two tiny idle instances at most and
are force-deleted, so no instance process outlives its test."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, eventually
from tests.services.names import unique
from tests.services.test_autoscaling import IDLE, ZONES, ec2_state, group, in_service

PAUSE = {"CheckpointPercentages": [50, 100], "CheckpointDelay": 600}


def _data(instance_type: str) -> dict[str, Any]:
    return {
        "ImageId": IMAGE,
        "InstanceType": instance_type,
        "UserData": base64.b64encode(IDLE.encode()).decode(),
    }


def make_group(asg: Any, ec2: Any, version: str = "1", desired: int = 2) -> tuple[str, str]:
    """A launch template with versions 1 (t2.micro) and 2 (t3.micro) named like the group,
    and the group on ``version`` of it; (group name, template id)."""
    name = unique("asg")
    try:
        created = ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData=_data("t2.micro")
        )["LaunchTemplate"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("EC2 launch templates are not built yet")
        raise
    ec2.create_launch_template_version(
        LaunchTemplateName=name, LaunchTemplateData=_data("t3.micro")
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": version},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=desired,
        AvailabilityZones=ZONES,
    )
    return name, created["LaunchTemplateId"]


def drop_group(asg: Any, ec2: Any, name: str) -> None:
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    ec2.delete_launch_template(LaunchTemplateName=name)


@contextlib.contextmanager
def templated_group(
    asg: Any, ec2: Any, *, version: str = "1", desired: int = 2
) -> Iterator[tuple[str, str]]:
    """``make_group`` with ``desired`` InService instances, force-deleted after."""
    name, lt_id = make_group(asg, ec2, version, desired)
    try:
        in_service(asg, name, desired, timeout=30)
        yield name, lt_id
    finally:
        drop_group(asg, ec2, name)


def refresh(asg: Any, name: str, refresh_id: str) -> dict:
    return asg.describe_instance_refreshes(
        AutoScalingGroupName=name, InstanceRefreshIds=[refresh_id]
    )["InstanceRefreshes"][0]


def until(asg: Any, name: str, refresh_id: str, check: Any, timeout: float = 60.0) -> dict:
    return eventually(
        lambda: (r := refresh(asg, name, refresh_id)) and check(r) and r, timeout, 0.3
    )


def status_is(*wanted: str) -> Any:
    return lambda r: r["Status"] in wanted


def at_checkpoint(r: dict) -> bool:
    return r["Status"] == "InProgress" and r.get("StatusReason", "").startswith("Checkpoint 50%")


def code_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def launched_from(ec2: Any, iid: str) -> str:
    res = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in res.get("Tags", [])}["aws:ec2launchtemplate:version"]


def test_refresh_replaces_every_instance_with_the_new_version(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2) as (name, lt_id):
        before = {i["InstanceId"] for i in group(asg, name)["Instances"]}
        started = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}},
            Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 1},
        )
        rid = started["InstanceRefreshId"]
        done = until(asg, name, rid, status_is("Successful", "Failed", "Cancelled"), 90)
        assert done["Status"] == "Successful", done
        assert done["PercentageComplete"] == 100 and done["InstancesToUpdate"] == 0
        assert done["ProgressDetails"]["LivePoolProgress"] == {
            "PercentageComplete": 100,
            "InstancesToUpdate": 0,
        }
        assert done["EndTime"] >= done["StartTime"] and done["Strategy"] == "Rolling"
        prefs = done["Preferences"]
        assert prefs["MinHealthyPercentage"] == 50 and prefs["MaxHealthyPercentage"] == 100
        assert prefs["InstanceWarmup"] == 1 and prefs["SkipMatching"] is False
        assert prefs["ScaleInProtectedInstances"] == "Wait" and prefs["StandbyInstances"] == "Wait"
        assert done["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "2"

        after = in_service(asg, name, 2)
        assert not before & {i["InstanceId"] for i in after}
        for inst in after:
            assert inst["LaunchTemplate"]["Version"] == "2" and inst["InstanceType"] == "t3.micro"
            assert launched_from(ec2, inst["InstanceId"]) == "2"
        assert group(asg, name)["LaunchTemplate"]["Version"] == "2"
        for old in before:
            eventually(lambda old=old: ec2_state(ec2, old) == "terminated", 15)

        activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        ends = [a for a in activities if a["Description"].startswith("Terminating")]
        starts = [a for a in activities if "in response to an instance refresh." in a["Cause"]]
        assert {a["Description"].split(": ")[1] for a in ends} == before
        for a in ends:
            iid = a["Description"].split(": ")[1]
            assert (
                "an instance was taken out of service in response to an instance refresh.  At "
                in a["Cause"]
            )
            assert a["Cause"].endswith(f"instance {iid} was selected for termination.")
        launches = [a for a in starts if a["Description"].startswith("Launching")]
        assert len(launches) == 2
        assert all(
            a["Cause"].endswith("an instance was launched in response to an instance refresh.")
            for a in launches
        )
        assert all(a["StatusCode"] == "Successful" for a in activities)

        with pytest.raises(ClientError) as err:
            asg.cancel_instance_refresh(AutoScalingGroupName=name)
        assert code_of(err)[0] == "ActiveInstanceRefreshNotFound"


def test_skip_matching_leaves_instances_on_the_desired_version(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=1) as (name, lt_id):
        (old,) = group(asg, name)["Instances"]
        asg.update_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "2"},
            DesiredCapacity=2,
        )
        (matching,) = [i for i in in_service(asg, name, 2) if i["InstanceId"] != old["InstanceId"]]
        assert launched_from(ec2, matching["InstanceId"]) == "2"
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={
                "LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "$Latest"}
            },
            Preferences={"SkipMatching": True, "MinHealthyPercentage": 50, "InstanceWarmup": 0},
        )["InstanceRefreshId"]
        first = refresh(asg, name, rid)
        assert first["InstancesToUpdate"] == 1 and first["PercentageComplete"] == 50
        done = until(asg, name, rid, status_is("Successful", "Failed"), 60)
        assert done["Status"] == "Successful" and done["PercentageComplete"] == 100
        after = {i["InstanceId"]: i for i in in_service(asg, name, 2)}
        assert matching["InstanceId"] in after and old["InstanceId"] not in after
        assert all(launched_from(ec2, iid) == "2" for iid in after)


def test_checkpoint_pause_launch_first_refuse_a_second_and_cancel(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, version="$Default") as (name, lt_id):
        before = {i["InstanceId"] for i in group(asg, name)["Instances"]}
        desired = {"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}}
        prefs = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150, "InstanceWarmup": 1}
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name, DesiredConfiguration=desired, Preferences={**prefs, **PAUSE}
        )["InstanceRefreshId"]
        with pytest.raises(ClientError) as err:
            asg.start_instance_refresh(AutoScalingGroupName=name)
        assert code_of(err) == (
            "InstanceRefreshInProgress",
            "An Instance Refresh is already in progress and blocks the execution of this "
            "Instance Refresh.",
        )
        paused = until(asg, name, rid, at_checkpoint)
        assert paused["PercentageComplete"] == 50 and paused["InstancesToUpdate"] == 1
        insts = in_service(asg, name, 2)
        new = [i for i in insts if i["InstanceId"] not in before]
        assert len(new) == 1 and new[0]["LaunchTemplate"]["Version"] == "2"
        # MaxHealthyPercentage 150: the replacement launched before its old instance went.
        activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        launch = next(a for a in activities if new[0]["InstanceId"] in a["Description"])
        ending = next(a for a in activities if a["Description"].startswith("Terminating"))
        assert launch["StartTime"] < ending["StartTime"]
        assert ending["Description"].split(": ")[1] in before

        with pytest.raises(ClientError) as err:
            asg.update_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"},
            )
        assert code_of(err)[1].startswith("An active instance refresh with a desired configuration")
        with pytest.raises(ClientError) as err:  # the group is on $Default: nothing to return to
            asg.rollback_instance_refresh(AutoScalingGroupName=name)
        assert code_of(err)[0] == "IrreversibleInstanceRefresh"

        assert asg.cancel_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"] == rid
        cancelled = until(asg, name, rid, status_is("Cancelled"), 20)
        assert cancelled["PercentageComplete"] == 50
        assert group(asg, name)["LaunchTemplate"]["Version"] == "$Default"
        kept = {i["InstanceId"] for i in in_service(asg, name, 2)}
        assert kept == {i["InstanceId"] for i in insts}  # a cancel does not roll back
        with pytest.raises(ClientError) as err:
            asg.cancel_instance_refresh(AutoScalingGroupName=name)
        assert code_of(err)[0] == "ActiveInstanceRefreshNotFound"
        listed = asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
        assert [r["InstanceRefreshId"] for r in listed] == [rid]


def test_rollback_replaces_what_the_refresh_deployed(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2) as (name, lt_id):
        before = {i["InstanceId"] for i in group(asg, name)["Instances"]}
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}},
            Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 1, **PAUSE},
        )["InstanceRefreshId"]
        until(asg, name, rid, at_checkpoint)
        (deployed,) = [i for i in group(asg, name)["Instances"] if i["InstanceId"] not in before]
        assert asg.rollback_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"] == rid
        rolling = refresh(asg, name, rid)
        assert rolling["Status"] in ("RollbackInProgress", "RollbackSuccessful")
        done = until(asg, name, rid, status_is("RollbackSuccessful", "RollbackFailed"), 60)
        assert done["Status"] == "RollbackSuccessful", done
        details = done["RollbackDetails"]
        assert details["RollbackReason"] and details["RollbackStartTime"] >= done["StartTime"]
        assert details["PercentageCompleteOnRollback"] == 100
        assert details["InstancesToUpdateOnRollback"] == 0
        assert done["PercentageComplete"] == 0 and done["InstancesToUpdate"] == 1
        after = in_service(asg, name, 2)
        assert deployed["InstanceId"] not in {i["InstanceId"] for i in after}
        assert all(launched_from(ec2, i["InstanceId"]) == "1" for i in after)
        assert group(asg, name)["LaunchTemplate"]["Version"] == "1"
        with pytest.raises(ClientError) as err:
            asg.rollback_instance_refresh(AutoScalingGroupName=name)
        assert code_of(err)[0] == "ActiveInstanceRefreshNotFound"


def test_refusals_and_what_is_not_built(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=0) as (name, lt_id):
        for prefs, words in (
            ({"MaxHealthyPercentage": 150}, "you must also specify MinHealthyPercentage"),
            (
                {"MinHealthyPercentage": 0, "MaxHealthyPercentage": 150},
                "cannot be greater than 100",
            ),
            ({"CheckpointDelay": 10}, "CheckpointPercentages"),
            ({"CheckpointPercentages": [60, 20]}, "ascending"),
            ({"AutoRollback": True}, "desired configuration"),
        ):
            with pytest.raises(ClientError) as err:
                asg.start_instance_refresh(AutoScalingGroupName=name, Preferences=prefs)
            assert code_of(err)[0] == "ValidationError" and words in code_of(err)[1], prefs
        with pytest.raises(ClientError) as err:
            asg.start_instance_refresh(AutoScalingGroupName=name, Strategy="ReplaceRootVolume")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        empty = asg.start_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"]
        done = until(asg, name, empty, status_is("Successful"), 10)
        assert done["PercentageComplete"] == 100 and done["InstancesToUpdate"] == 0
    with pytest.raises(ClientError) as err:
        asg.describe_instance_refreshes(AutoScalingGroupName=name)
    assert code_of(err)[0] == "ValidationError"


def test_a_restart_resumes_the_refresh(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        asg, ec2 = server.client("autoscaling"), server.client("ec2")
        name, lt_id = make_group(asg, ec2)
        before = {i["InstanceId"] for i in in_service(asg, name, 2, timeout=30)}
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}},
            Preferences={
                "MinHealthyPercentage": 50,
                "InstanceWarmup": 0,
                "CheckpointPercentages": [50, 100],
                "CheckpointDelay": 3,
            },
        )["InstanceRefreshId"]
        until(asg, name, rid, at_checkpoint)
        server.stop()
        server = CloudletServer.start(data_dir=tmp_path)
        asg, ec2 = server.client("autoscaling"), server.client("ec2")
        assert refresh(asg, name, rid)["Status"] == "InProgress"
        done = until(asg, name, rid, status_is("Successful", "Failed"), 60)
        assert done["Status"] == "Successful" and done["PercentageComplete"] == 100
        after = {i["InstanceId"] for i in in_service(asg, name, 2)}
        assert not after & before
        drop_group(asg, ec2, name)
    finally:
        server.stop()


def test_a_failed_launch_fails_the_refresh_and_auto_rollback_undoes_it(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=1) as (name, lt_id):
        (kept,) = group(asg, name)["Instances"]
        try:
            ec2.create_launch_template_version(
                LaunchTemplateId=lt_id, LaunchTemplateData={"ImageId": "not-an-image"}
            )
        except ClientError:
            pytest.skip("EC2 refuses the broken template version up front")
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "3"}},
            Preferences={
                "MinHealthyPercentage": 100,
                "MaxHealthyPercentage": 200,
                "InstanceWarmup": 0,
                "AutoRollback": True,
            },
        )["InstanceRefreshId"]
        done = until(asg, name, rid, status_is("RollbackSuccessful", "RollbackFailed", "Failed"))
        assert done["Status"] == "RollbackSuccessful", done
        reason = done["RollbackDetails"]["RollbackReason"]
        assert reason.startswith("Instance refresh failed: ") and "not-an-image" in reason
        failed = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]
        assert failed["StatusCode"] == "Failed" and "instance refresh" in failed["Cause"]
        (still,) = in_service(asg, name, 1)
        assert still["InstanceId"] == kept["InstanceId"]
        assert group(asg, name)["LaunchTemplate"]["Version"] == "1"


def test_rollback_removes_replacements_launched_ahead(aws_client):
    asg, ec2 = aws_client("autoscaling"), aws_client("ec2")
    with templated_group(asg, ec2, desired=1) as (name, lt_id):
        (kept,) = group(asg, name)["Instances"]
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=name,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}},
            Preferences={
                "MinHealthyPercentage": 100,
                "MaxHealthyPercentage": 200,
                "InstanceWarmup": 600,
            },
        )["InstanceRefreshId"]
        warming = until(asg, name, rid, lambda r: "is warming up" in r.get("StatusReason", ""))
        assert warming["StatusReason"].startswith(
            "Waiting for instances to warm up before continuing. For example: i-"
        )
        both = in_service(asg, name, 2)  # launched before terminating: the old one still serves
        assert kept["InstanceId"] in {i["InstanceId"] for i in both}
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
        done = until(asg, name, rid, status_is("RollbackSuccessful", "RollbackFailed"))
        assert done["Status"] == "RollbackSuccessful"
        (still,) = in_service(asg, name, 1)
        assert still["InstanceId"] == kept["InstanceId"]
