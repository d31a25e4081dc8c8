"""CloudWatch alarms through boto3 against a real server: configuration and
DescribeAlarms filters, composite alarms, SetAlarmState, history, actions on and
off, tags, validation, and one end-to-end alarm (Period 10) that fires on real
data within 2 s of its period closing and stops an EC2 instance."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique

SNS = "arn:aws:sns:us-east-1:000000000000:ops-topic"


def _alarm(cw, name: str, **kw) -> None:
    params = {
        "AlarmName": name,
        "Namespace": "Alarms",
        "MetricName": "Load",
        "Statistic": "Average",
        "Period": 86400,  # one evaluation a day: SetAlarmState holds during the test
        "EvaluationPeriods": 1,
        "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
        **kw,
    }
    cw.put_metric_alarm(**params)


def test_describe_alarms_filters_and_pages(aws_client):
    cw = aws_client("cloudwatch")
    p = unique("desc")
    for k in range(3):
        _alarm(
            cw,
            f"{p}-m{k}",
            Dimensions=[{"Name": "Host", "Value": f"h{k}"}],
            AlarmActions=[SNS] if k == 0 else [],
        )
    cw.put_composite_alarm(AlarmName=f"{p}-c", AlarmRule=f'ALARM("{p}-m0") OR ALARM({p}-m1)')
    names = lambda r: [a["AlarmName"] for a in r["MetricAlarms"] + r["CompositeAlarms"]]  # noqa: E731
    assert names(cw.describe_alarms(AlarmNamePrefix=p)) == [f"{p}-m0", f"{p}-m1", f"{p}-m2"]
    both = cw.describe_alarms(AlarmNamePrefix=p, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert names(both) == [f"{p}-m0", f"{p}-m1", f"{p}-m2", f"{p}-c"]
    comp = both["CompositeAlarms"][0]
    assert comp["AlarmRule"] == f'ALARM("{p}-m0") OR ALARM({p}-m1)'
    assert names(cw.describe_alarms(AlarmNames=[f"{p}-m2", f"{p}-m0"])) == [f"{p}-m0", f"{p}-m2"]
    first = cw.describe_alarms(AlarmNamePrefix=p, MaxRecords=2)
    rest = cw.describe_alarms(AlarmNamePrefix=p, MaxRecords=2, NextToken=first["NextToken"])
    assert names(first) + names(rest) == [f"{p}-m0", f"{p}-m1", f"{p}-m2"]
    assert "NextToken" not in rest
    assert names(cw.describe_alarms(AlarmNamePrefix=p, ActionPrefix="arn:aws:sns")) == [f"{p}-m0"]
    assert names(cw.describe_alarms(ChildrenOfAlarmName=f"{p}-c")) == [f"{p}-m0", f"{p}-m1"]
    assert names(cw.describe_alarms(ParentsOfAlarmName=f"{p}-m1")) == [f"{p}-c"]
    m0 = cw.describe_alarms(AlarmNames=[f"{p}-m0"])["MetricAlarms"][0]
    assert m0["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{p}-m0"
    assert m0["StateValue"] in ("INSUFFICIENT_DATA",) and m0["ActionsEnabled"] is True
    for_metric = cw.describe_alarms_for_metric(
        Namespace="Alarms", MetricName="Load", Dimensions=[{"Name": "Host", "Value": "h1"}]
    )["MetricAlarms"]
    assert [a["AlarmName"] for a in for_metric] == [f"{p}-m1"]
    with pytest.raises(ClientError) as exc:
        cw.put_composite_alarm(AlarmName=f"{p}-bad", AlarmRule=f"ALARM({p}-nope)")
    assert exc.value.response["Error"]["Code"] == "ValidationError"


def test_set_state_history_and_actions_toggle(aws_client):
    cw = aws_client("cloudwatch")
    name = unique("state")
    _alarm(cw, name, AlarmActions=[SNS])
    cw.set_alarm_state(
        AlarmName=name,
        StateValue="ALARM",
        StateReason="drill",
        StateReasonData=json.dumps({"why": "test"}),
    )
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (a["StateValue"], a["StateReason"]) == ("ALARM", "drill")
    assert json.loads(a["StateReasonData"]) == {"why": "test"}
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in history]
    assert ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM") in kinds
    assert ("ConfigurationUpdate", f'Alarm "{name}" created') in kinds
    update = next(h for h in history if h["HistoryItemType"] == "StateUpdate")
    data = json.loads(update["HistoryData"])
    assert data["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert data["newState"] == {
        "stateValue": "ALARM",
        "stateReason": "drill",
        "stateReasonData": {"why": "test"},
    }
    # the topic does not exist: the action is recorded as failed, the alarm carries on
    [action] = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")[
        "AlarmHistoryItems"
    ]
    assert action["HistorySummary"].startswith(f"Failed to execute action {SNS}")
    assert json.loads(action["HistoryData"])["actionState"] == "Failed"
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="calm")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="again")
    actions = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
    assert len(actions["AlarmHistoryItems"]) == 1  # disabled: no new action ran
    cw.enable_alarm_actions(AlarmNames=[name])
    asc = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")
    assert asc["AlarmHistoryItems"][0]["HistoryItemType"] == "ConfigurationUpdate"
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{")
    assert exc.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName=unique("none"), StateValue="OK", StateReason="x")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"


def test_tags_delete_and_validation(aws_client):
    cw = aws_client("cloudwatch")
    name = unique("tags")
    _alarm(cw, name, Tags=[{"Key": "team", "Value": "a"}])
    arn = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = cw.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        cw.list_tags_for_resource(ResourceARN=arn + "-missing")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        cw.delete_alarms(AlarmNames=[name, unique("missing")])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    kinds = [
        h["HistorySummary"] for h in cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    ]
    assert f'Alarm "{name}" deleted' in kinds
    for bad in (
        {"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
        {"Period": 45},
        {"EvaluationPeriods": 2, "DatapointsToAlarm": 3},
    ):
        with pytest.raises(ClientError) as exc:
            _alarm(cw, unique("bad"), **bad)
        assert exc.value.response["Error"]["Code"] == "ValidationError"


def _wait_state(cw, name: str, state: str, put, deadline: float) -> dict:
    while time.time() < deadline:
        put()
        [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if a["StateValue"] == state:
            return a
        time.sleep(0.5)
    raise AssertionError(f"alarm {name} did not reach {state}")


def test_alarm_fires_on_real_data_and_stops_an_instance(aws_client):
    ec2, cw = aws_client("ec2"), aws_client("cloudwatch")
    try:
        run = ec2.run_instances(
            ImageId="ami-12345678",
            MinCount=1,
            MaxCount=1,
            InstanceType="t2.micro",
            UserData="#!/bin/bash\nsleep 600\n",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("EC2 is not built")
        raise
    iid = run["Instances"][0]["InstanceId"]
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
        name, ns = unique("e2e"), unique("E2E")
        dims = [{"Name": "InstanceId", "Value": iid}]
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace=ns,
            MetricName="Load",
            Dimensions=dims,
            Statistic="Maximum",
            Period=10,
            EvaluationPeriods=1,
            Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"],
        )

        def put(value: float):
            return lambda: cw.put_metric_data(
                Namespace=ns,
                MetricData=[
                    {
                        "MetricName": "Load",
                        "Dimensions": dims,
                        "Value": value,
                        "StorageResolution": 1,
                        "Timestamp": datetime.now(UTC),
                    }
                ],
            )

        a = _wait_state(cw, name, "ALARM", put(90.0), time.time() + 25)
        moved = a["StateTransitionedTimestamp"].timestamp()
        assert moved - (moved // 10) * 10 <= 2.0  # within 2 s of the period closing
        assert a["StateReason"].startswith("Threshold Crossed: 1 datapoint [90.0 (")
        ec2.get_waiter("instance_stopped").wait(
            InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        actions = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
        assert actions["AlarmHistoryItems"][0]["HistorySummary"] == (
            "Successfully executed action arn:aws:automate:us-east-1:ec2:stop"
        )
        ok = _wait_state(cw, name, "OK", put(5.0), time.time() + 25)
        assert "was not greater than the threshold (50.0)" in ok["StateReason"]
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


def test_alarm_action_publishes_to_a_topic_and_its_queue(aws_client):
    cw, sns, sqs = aws_client("cloudwatch"), aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=unique("alarm-topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("alarm-q"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["QueueArn"])
    name = unique("notify")
    _alarm(
        cw,
        name,
        AlarmDescription="load is high",
        AlarmActions=[topic],
        Dimensions=[{"Name": "Host", "Value": "h1"}],
    )
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drill")
    got: list = []
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    [message] = got
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    body = json.loads(envelope["Message"])
    assert body["AlarmName"] == name and body["AlarmDescription"] == "load is high"
    assert body["AWSAccountId"] == "000000000000" and body["Region"] == "US East (N. Virginia)"
    assert (body["NewStateValue"], body["OldStateValue"]) == ("ALARM", "INSUFFICIENT_DATA")
    assert body["NewStateReason"] == "drill" and body["AlarmArn"].endswith(f":alarm:{name}")
    assert body["StateChangeTime"].endswith("+0000")  # AWS's format in these messages
    trigger = body["Trigger"]
    assert trigger["MetricName"] == "Load" and trigger["Namespace"] == "Alarms"
    assert trigger["Statistic"] == "AVERAGE" and trigger["StatisticType"] == "Statistic"
    assert trigger["Dimensions"] == [{"value": "h1", "name": "Host"}]
    assert trigger["Threshold"] == 50.0 and trigger["ComparisonOperator"] == "GreaterThanThreshold"
    [action] = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")[
        "AlarmHistoryItems"
    ]
    assert action["HistorySummary"] == f"Successfully executed action {topic}"
