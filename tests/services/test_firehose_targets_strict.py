"""Firehose as a destination in strict mode and across a restart, with boto3 against a
real server: a CloudWatch Logs subscription whose role may not put records is refused as
AWS refuses it (and accepted once the role may), an EventBridge target's and an SNS
subscription's role that may not put records send the event or message to the
dead-letter queue; subscriptions, destinations and targets naming a delivery stream
survive a restart and deliver after it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.firehose_helpers import start, wait_status
from tests.services.names import unique
from tests.services.test_firehose_targets import (
    OWNER,
    ROLE,
    UNREACHABLE,
    data_messages,
    delivered,
    error,
    hose,
    json_values,
    log_group,
    log_messages,
    put,
    queue,
    receive,
)


def _role(iam: Any, name: str, service: str, actions: list[str], resource: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    _allow(iam, name, actions, resource)
    return arn


def _allow(iam: Any, name: str, actions: list[str], resource: str) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="writes", PolicyDocument=json.dumps(doc))


def _queue_for(sqs: Any, service: str) -> tuple[str, str]:
    """A dead-letter queue whose policy lets ``service`` send to it."""
    url, arn = queue(sqs)
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return url, arn


def test_roles_that_may_not_put_records(tmp_path):
    with start(auth="strict", data_dir=tmp_path) as srv:
        names = ("iam", "logs", "firehose", "s3", "events", "sqs", "sns")
        clients = {name: srv.client(name) for name in names}
        iam, logs, s3, sqs = clients["iam"], clients["logs"], clients["s3"], clients["sqs"]
        name_b, _, arn = hose(clients)

        role = _role(iam, "cwl-to-hose", "logs.amazonaws.com", ["kinesis:PutRecord"], "*")
        group = log_group(logs)
        subscribe = {
            "logGroupName": group,
            "filterName": "all",
            "filterPattern": "",
            "destinationArn": arn,
            "roleArn": role,
        }
        with pytest.raises(ClientError) as exc:
            logs.put_subscription_filter(**subscribe)
        assert error(exc) == ("InvalidParameterException", UNREACHABLE)
        _allow(iam, "cwl-to-hose", ["firehose:PutRecord"], arn)
        logs.put_subscription_filter(**subscribe)
        put(logs, group, "allowed now")
        (data,) = [
            m
            for m in log_messages(delivered(s3, name_b, data_messages(1)))
            if m["messageType"] == "DATA_MESSAGE"
        ]
        assert [e["message"] for e in data["logEvents"]] == ["allowed now"]

        events = clients["events"]
        blocked_b, _, blocked = hose(clients)
        eb_role = _role(iam, "eb-to-hose", "events.amazonaws.com", ["sqs:SendMessage"], "*")
        dlq_url, dlq_arn = _queue_for(sqs, "events.amazonaws.com")
        source, rule = unique("com.example"), unique("rule")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        target = {"Id": "h", "Arn": blocked, "RoleArn": eb_role}
        events.put_targets(Rule=rule, Targets=[{**target, "DeadLetterConfig": {"Arn": dlq_arn}}])
        entry = {"Source": source, "DetailType": "t", "Detail": "{}"}
        (sent,) = events.put_events(Entries=[entry])["Entries"]
        message = receive(sqs, dlq_url)
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
        assert json.loads(message["Body"])["id"] == sent["EventId"]
        _allow(iam, "eb-to-hose", ["firehose:PutRecordBatch"], blocked)
        (sent,) = events.put_events(Entries=[entry])["Entries"]
        (event,) = json_values(delivered(s3, blocked_b, bool).decode())
        assert event["id"] == sent["EventId"]

        sns = clients["sns"]
        sns_b, _, sns_hose = hose(clients)
        sns_role = _role(iam, "sns-to-hose", "sns.amazonaws.com", ["sqs:SendMessage"], "*")
        sns_dlq, sns_dlq_arn = _queue_for(sqs, "sns.amazonaws.com")
        topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="firehose",
            Endpoint=sns_hose,
            Attributes={
                "SubscriptionRoleArn": sns_role,
                "RawMessageDelivery": "true",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": sns_dlq_arn}),
            },
        )
        sns.publish(TopicArn=topic, Message="refused")
        assert receive(sqs, sns_dlq)["Body"] == "refused"
        _allow(iam, "sns-to-hose", ["firehose:PutRecord", "firehose:PutRecordBatch"], sns_hose)
        sns.publish(TopicArn=topic, Message="taken")
        assert delivered(s3, sns_b, bool) == b"taken\n"


def test_firehose_destinations_survive_a_restart(tmp_path):
    with start(data_dir=tmp_path) as srv:
        clients = {n: srv.client(n) for n in ("logs", "firehose", "s3", "events", "sns")}
        logs_b, logs_hose, logs_arn = hose(clients)
        events_b, events_hose, events_arn = hose(clients)
        sns_b, sns_hose, sns_arn = hose(clients)
        group = log_group(clients["logs"])
        clients["logs"].put_subscription_filter(
            logGroupName=group,
            filterName="kept",
            filterPattern="",
            destinationArn=logs_arn,
            roleArn=ROLE,
        )
        source, rule = unique("com.example"), unique("rule")
        clients["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        clients["events"].put_targets(
            Rule=rule, Targets=[{"Id": "h", "Arn": events_arn, "RoleArn": ROLE}]
        )
        topic = clients["sns"].create_topic(Name=unique("topic"))["TopicArn"]
        clients["sns"].subscribe(
            TopicArn=topic,
            Protocol="firehose",
            Endpoint=sns_arn,
            Attributes={"SubscriptionRoleArn": ROLE, "RawMessageDelivery": "true"},
        )
    with start(data_dir=tmp_path) as srv:
        clients = {n: srv.client(n) for n in ("logs", "firehose", "s3", "events", "sns")}
        for name in (logs_hose, events_hose, sns_hose):
            wait_status(clients["firehose"], name)
        put(clients["logs"], group, "after the restart")
        entry = {"Source": source, "DetailType": "t", "Detail": '{"after": true}'}
        clients["events"].put_events(Entries=[entry])
        clients["sns"].publish(TopicArn=topic, Message="after the restart")

        s3 = clients["s3"]
        data = [
            m
            for m in log_messages(delivered(s3, logs_b, data_messages(1)))
            if m["messageType"] == "DATA_MESSAGE"
        ]
        assert data[0]["owner"] == OWNER
        assert [e["message"] for e in data[0]["logEvents"]] == ["after the restart"]
        (event,) = json_values(delivered(s3, events_b, bool).decode())
        assert event["detail"] == {"after": True}
        assert delivered(s3, sns_b, bool) == b"after the restart\n"
