"""SNS topics and subscriptions through boto3 against a real server: create
(idempotent, conflicts, FIFO names), attributes with the default policy and
counts, tags, pagination, subscribe/confirm/unsubscribe, subscription
attributes and their validation, unsupported protocols, permissions, and
state surviving a restart."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services import sns_helpers
from tests.services.names import unique

# Fixtures shared by the SNS modules.
sns = sns_helpers.sns
sqs = sns_helpers.sqs


def queue_arn(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true"} if name.endswith(".fifo") else {}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def code(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_create_topic_idempotent_and_attributes(sns):
    name = unique("topic")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"] == arn
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=name, Attributes={"DisplayName": "Other"})
    assert code(exc) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Ops" and attrs["Owner"] == "000000000000"
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsPending"] == "0"
    assert attrs["SubscriptionsDeleted"] == "0"
    policy = json.loads(attrs["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert policy["Statement"][0]["Resource"] == arn
    assert "SNS:Publish" in policy["Statement"][0]["Action"]
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="New")
    delivery = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1}}}
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(delivery)
    )
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "New"
    assert json.loads(attrs["DeliveryPolicy"]) == delivery
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
    assert code(exc) == ("InvalidParameter", "Invalid parameter: AttributeName")
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(
            TopicArn=arn,
            AttributeName="DeliveryPolicy",
            AttributeValue=json.dumps(
                {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 0}}}
            ),
        )
    assert code(exc)[0] == "InvalidParameter"
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting twice is fine, as AWS
    with pytest.raises(ClientError) as exc:
        sns.get_topic_attributes(TopicArn=arn)
    assert code(exc) == ("NotFound", "Topic does not exist")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_topic_names_and_fifo(sns):
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="bad name")
    assert code(exc) == ("InvalidParameter", "Invalid parameter: Topic Name")
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=unique("nofifo"), Attributes={"FifoTopic": "true"})
    assert "Fifo Topic names must end with .fifo" in code(exc)[1]
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=unique("std") + ".fifo")
    assert code(exc)[0] == "InvalidParameter"
    name = unique("f") + ".fifo"
    arn = sns.create_topic(
        Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=unique("std"), Attributes={"ContentBasedDeduplication": "true"})
    assert code(exc)[0] == "InvalidParameter"
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/")
    assert code(exc) == ("InvalidParameter", "Invalid parameter: Invalid protocol type: http")


def test_list_topics_pages_by_100(sns):
    # One page holds 100 topics; create enough that this test sees a second page.
    before = []
    kw: dict = {}
    while True:
        page = sns.list_topics(**kw)
        before += page["Topics"]
        if "NextToken" not in page:
            break
        kw = {"NextToken": page["NextToken"]}
    prefix = unique("page")
    need = max(0, 101 - len(before))
    made = [sns.create_topic(Name=f"{prefix}-{i}")["TopicArn"] for i in range(need + 2)]
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    seen = [t["TopicArn"] for t in first["Topics"]]
    token = first["NextToken"]
    while token:
        page = sns.list_topics(NextToken=token)
        seen += [t["TopicArn"] for t in page["Topics"]]
        token = page.get("NextToken")
    assert set(made) <= set(seen)
    assert len(seen) == len(set(seen))
    for arn in made:
        sns.delete_topic(TopicArn=arn)


def test_tags(sns):
    arn = sns.create_topic(Name=unique("tags"), Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        sns.list_tags_for_resource(ResourceArn=arn + "-nope")
    assert code(exc)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code(exc)[0] == "TagLimitExceeded"


def test_subscriptions_and_attributes(sns, sqs):
    arn = sns.create_topic(Name=unique("subs"))["TopicArn"]
    _, q = queue_arn(sqs, unique("subq"))
    sub = sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=q,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"a": ["1"]}'},
    )["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # the same subscription again is the same ARN; with other attributes, an error
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q)["SubscriptionArn"] == sub
    with pytest.raises(ClientError) as exc:
        sns.subscribe(
            TopicArn=arn, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "false"}
        )
    assert "Subscription already exists with different attributes" in code(exc)[1]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["Protocol"] == "sqs" and attrs["Endpoint"] == q and attrs["TopicArn"] == arn
    assert attrs["RawMessageDelivery"] == "true" and attrs["PendingConfirmation"] == "false"
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="MessageBody"
    )
    sns.set_subscription_attributes(
        SubscriptionArn=sub,
        AttributeName="RedrivePolicy",
        AttributeValue=json.dumps({"deadLetterTargetArn": q}),
    )
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["FilterPolicyScope"] == "MessageBody"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": q}
    bad = [
        ("FilterPolicy", '{"a": "x"}'),
        ("FilterPolicy", json.dumps({f"k{i}": ["v"] for i in range(6)})),
        ("FilterPolicyScope", "Everything"),
        ("RedrivePolicy", '{"deadLetterTargetArn": "nope"}'),
        ("RawMessageDelivery", "maybe"),
        ("Protocol", "http"),
    ]
    for name, value in bad:
        with pytest.raises(ClientError) as exc:
            sns.set_subscription_attributes(
                SubscriptionArn=sub, AttributeName=name, AttributeValue=value
            )
        assert code(exc)[0] == "InvalidParameter", name
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed == [
        {
            "SubscriptionArn": sub,
            "Owner": "000000000000",
            "Protocol": "sqs",
            "Endpoint": q,
            "TopicArn": arn,
        }
    ]
    assert sub in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["SubscriptionsDeleted"] == "1"
    with pytest.raises(ClientError) as exc:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert code(exc)[0] == "NotFound"


def test_pending_confirmation_email_and_confirm_by_token(sns, cloudlet_server):
    import urllib.request

    arn = sns.create_topic(Name=unique("mail"))["TopicArn"]
    address = f"{unique('ops')}@example.com"
    out = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address)
    assert out["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed[0]["SubscriptionArn"] == "PendingConfirmation"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsPending"] == "1"
    with urllib.request.urlopen(cloudlet_server.endpoint + "/_cloudlet/sns/emails") as r:
        mails = [m for m in json.load(r) if m["To"] == address]
    assert mails and mails[0]["Subject"] == "AWS Notification - Subscription Confirmation"
    url = next(w for w in mails[0]["Body"].split() if "/_cloudlet/sns/confirm?" in w)
    token = url.split("Token=")[1]
    with pytest.raises(ClientError) as exc:
        sns.confirm_subscription(TopicArn=arn, Token="wrong")
    assert code(exc) == ("InvalidParameter", "Invalid parameter: Token")
    sub = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    pending = sns.subscribe(
        TopicArn=arn, Protocol="email-json", Endpoint=address, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    assert pending.startswith(arn + ":")
    assert (
        sns.get_subscription_attributes(SubscriptionArn=pending)["Attributes"][
            "PendingConfirmation"
        ]
        == "true"
    )


@pytest.mark.parametrize("protocol", ["sms", "application"])
def test_unsupported_protocols_are_refused(sns, protocol):
    arn = sns.create_topic(Name=unique("proto"))["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint="x")
    assert code(exc)[0] == "InvalidParameter"
    assert "not supported" in code(exc)[1]


def test_subscribe_validation(sns):
    arn = sns.create_topic(Name=unique("val"))["TopicArn"]
    cases = [
        ("carrier-pigeon", "x", "does not support this protocol string"),
        ("sqs", "not-an-arn", "SQS endpoint ARN"),
        ("http", "https://example.com", "Endpoint must match the specified protocol"),
        ("lambda", "arn:aws:sqs:us-east-1:000000000000:q", "LAMBDA endpoint ARN"),
    ]
    for protocol, endpoint, message in cases:
        with pytest.raises(ClientError) as exc:
            sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        assert message in code(exc)[1]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=arn + "-gone", Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:0:q")
    assert code(exc)[0] == "NotFound"
    with pytest.raises(ClientError) as exc:
        sns.subscribe(
            TopicArn=arn,
            Protocol="lambda",
            Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f",
            Attributes={"RawMessageDelivery": "true"},
        )
    assert "does not support raw message delivery" in code(exc)[1]


def test_add_and_remove_permission(sns):
    arn = sns.create_topic(Name=unique("perm"))["TopicArn"]
    sns.add_permission(
        TopicArn=arn, Label="share", AWSAccountId=["111122223333"], ActionName=["Publish"]
    )
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    share = next(s for s in policy["Statement"] if s["Sid"] == "share")
    assert share["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert share["Action"] == ["SNS:Publish"]
    with pytest.raises(ClientError):
        sns.add_permission(
            TopicArn=arn, Label="share", AWSAccountId=["111122223333"], ActionName=["Publish"]
        )
    sns.remove_permission(TopicArn=arn, Label="share")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID"]


def test_state_survives_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        sns, sqs = server.client("sns"), server.client("sqs")
        arn = sns.create_topic(Name="durable", Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
        url, q = queue_arn(sqs, "durable-q")
        sub = sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=q,
            Attributes={"FilterPolicy": '{"kind": ["keep"]}', "RawMessageDelivery": "true"},
        )["SubscriptionArn"]
        pem = server.endpoint + "/_cloudlet/sns/SimpleNotificationService.pem"
        import urllib.request

        with urllib.request.urlopen(pem) as r:
            cert = r.read()
    with CloudletServer.start(data_dir=tmp_path) as server:
        sns, sqs = server.client("sns"), server.client("sqs")
        assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]
        assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        assert attrs["FilterPolicy"] == '{"kind": ["keep"]}'
        with urllib.request.urlopen(
            server.endpoint + "/_cloudlet/sns/SimpleNotificationService.pem"
        ) as r:
            assert r.read() == cert  # the signing key is kept with the data
        for kind in ("drop", "keep"):
            sns.publish(
                TopicArn=arn,
                Message=kind,
                MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
            )
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MaxNumberOfMessages=10)
        assert [m["Body"] for m in got["Messages"]] == ["keep"]
