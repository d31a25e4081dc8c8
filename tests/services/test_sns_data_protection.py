"""SNS message data protection with boto3 against a real server: Put/Get/Delete of a
topic's policy and AWS's refusals of bad ones; Inbound statements refusing a publish
(``AuthorizationError``), masking and redacting what SQS subscribers get (managed and
custom identifiers, message attributes untouched); Outbound statements keeping a
message from one subscriber and masking another's copy; audit findings landing in a log
group and an S3 bucket, with their metrics; a policy surviving a restart; and, in
strict mode, statements matched against the signed caller."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services import sns_helpers
from tests.services.names import unique
from tests.services.test_sns_delivery import make_queue, receive

sns = sns_helpers.sns
sqs = sns_helpers.sqs

ID = "arn:aws:dataprotection::aws:data-identifier/"
CARD, EMAIL = ID + "CreditCardNumber", ID + "EmailAddress"
PAID = "alice@example.com paid with credit card 4111 1111 1111 1111 today"


def policy(*statements: dict, custom: list | None = None) -> str:
    doc: dict = {"Name": "protect", "Version": "2021-06-01", "Statement": list(statements)}
    if custom:
        doc["Configuration"] = {"CustomDataIdentifier": custom}
    return json.dumps(doc)


def statement(direction: str, operation: dict, *identifiers: str, principal=("*",)) -> dict:
    return {
        "Sid": f"{direction}-{next(iter(operation))}",
        "DataDirection": direction,
        "Principal": list(principal),
        "DataIdentifier": list(identifiers or (CARD,)),
        "Operation": operation,
    }


def error(exc: pytest.ExceptionInfo) -> tuple[str, int, str]:
    resp = exc.value.response
    return (
        resp["Error"]["Code"],
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Message"],
    )


def raw_queue(sns, sqs, topic: str, client=None) -> tuple[str, str]:
    """A queue subscribed to ``topic`` with raw delivery (by ``client``, else ``sns``)."""
    url, arn = make_queue(sqs, unique("dp"))
    sub = (client or sns).subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )["SubscriptionArn"]
    return url, sub


def bodies(sqs, url: str, want: int) -> list[str]:
    return sorted(m["Body"] for m in receive(sqs, url, want))


# -- the operations and their refusals --------------------------------------------------


def test_put_get_delete_and_create_topic_with_a_policy(sns):
    topic = sns.create_topic(Name=unique("dp"))["TopicArn"]
    assert "DataProtectionPolicy" not in sns.get_data_protection_policy(ResourceArn=topic)
    doc = policy(statement("Inbound", {"Deny": {}}))
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=doc)
    assert sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"] == doc
    assert "DataProtectionPolicy" not in sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy="")  # deletes it
    assert "DataProtectionPolicy" not in sns.get_data_protection_policy(ResourceArn=topic)

    name = unique("dp-created")
    created = sns.create_topic(Name=name, DataProtectionPolicy=doc)["TopicArn"]
    assert sns.get_data_protection_policy(ResourceArn=created)["DataProtectionPolicy"] == doc
    assert sns.create_topic(Name=name, DataProtectionPolicy=doc)["TopicArn"] == created

    with pytest.raises(ClientError) as exc:
        sns.get_data_protection_policy(ResourceArn=topic + "-missing")
    assert error(exc)[:2] == ("NotFound", 404)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"Name": "p", "Version": "2012-10-17", "Statement": []}), "Version"),
        (json.dumps({"Name": "p bad", "Version": "2021-06-01"}), "Policy Name"),
        (policy(statement("Sideways", {"Deny": {}})), "DataDirection"),
        (policy(statement("Inbound", {"Deny": {}}, ID + "Name")), "does not detect"),
        (policy(statement("Inbound", {"Deny": {}}, "EmployeeId")), "Unknown data identifier"),
        (policy(statement("Inbound", {"Deny": {}}, principal=("bob",))), "Invalid principal"),
        (policy(statement("Inbound", {"Deny": {"x": 1}})), "Deny"),
        (policy(statement("Inbound", {"Deidentify": {}})), "MaskConfig or RedactConfig"),
        (
            policy(
                statement("Inbound", {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "##"}}})
            ),
            "MaskWithCharacter",
        ),
        (policy(statement("Outbound", {"Audit": {"SampleRate": "5"}})), "Inbound"),
        (policy(statement("Inbound", {"Audit": {"SampleRate": "5"}})), "FindingsDestination"),
        (
            policy(
                statement(
                    "Inbound",
                    {"Audit": {"SampleRate": "100", "FindingsDestination": {}}},
                )
            ),
            "SampleRate",
        ),
        (
            policy(
                statement(
                    "Inbound",
                    {"Audit": {"FindingsDestination": {"CloudWatchLogs": {"LogGroup": "/mine"}}}},
                )
            ),
            "/aws/vendedlogs/",
        ),
        (
            policy(
                statement(
                    "Inbound",
                    {
                        "Audit": {
                            "FindingsDestination": {
                                "CloudWatchLogs": {"LogGroup": "/aws/vendedlogs/none-such"}
                            }
                        }
                    },
                )
            ),
            "does not exist",
        ),
        (
            policy(
                statement("Inbound", {"Audit": {"FindingsDestination": {}}}),
                statement("Inbound", {"Audit": {"NoFindingsDestination": {}}}),
            ),
            "only one audit statement",
        ),
        (
            policy(
                statement("Inbound", {"Deny": {}}, "Emp"),
                custom=[{"Name": "Emp", "Regex": "("}],
            ),
            "regular expression",
        ),
    ],
)
def test_bad_policies_are_refused(sns, document, says):
    topic = sns.create_topic(Name=unique("dp-bad"))["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=document)
    code, status, message = error(exc)
    assert (code, status) == ("InvalidParameter", 400)
    assert message.startswith("Invalid parameter: DataProtectionPolicy Reason: ")
    assert says in message
    assert "DataProtectionPolicy" not in sns.get_data_protection_policy(ResourceArn=topic)


def test_fifo_topics_take_no_policy(sns):
    doc = policy(statement("Inbound", {"Deny": {}}))
    fifo = sns.create_topic(Name=unique("dp") + ".fifo", Attributes={"FifoTopic": "true"})
    with pytest.raises(ClientError) as exc:
        sns.put_data_protection_policy(ResourceArn=fifo["TopicArn"], DataProtectionPolicy=doc)
    assert error(exc)[:2] == ("InvalidParameter", 400)
    with pytest.raises(ClientError) as exc:
        sns.create_topic(
            Name=unique("dp") + ".fifo",
            Attributes={"FifoTopic": "true"},
            DataProtectionPolicy=doc,
        )
    assert "standard topics" in error(exc)[2]


# -- inbound ------------------------------------------------------------------------------


def test_inbound_deny_refuses_the_publish(sns, sqs):
    topic = sns.create_topic(Name=unique("dp-deny"))["TopicArn"]
    url, _ = raw_queue(sns, sqs, topic)
    sns.put_data_protection_policy(
        ResourceArn=topic, DataProtectionPolicy=policy(statement("Inbound", {"Deny": {}}))
    )
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message=PAID)
    code, status, message = error(exc)
    assert (code, status) == ("AuthorizationError", 403)
    assert "data protection policy" in message
    out = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "card", "Message": PAID},
            {"Id": "clean", "Message": "nothing to see"},
        ],
    )
    assert [s["Id"] for s in out["Successful"]] == ["clean"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in out["Failed"]] == [
        ("card", "AuthorizationError", True)
    ]
    assert bodies(sqs, url, 1) == ["nothing to see"]


def test_inbound_mask_and_redact_with_managed_and_custom_identifiers(sns, sqs):
    topic = sns.create_topic(Name=unique("dp-mask"))["TopicArn"]
    url, _ = raw_queue(sns, sqs, topic)
    mask = {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "#"}}}
    doc = policy(
        statement("Inbound", mask, EMAIL),
        statement("Inbound", {"Deidentify": {"RedactConfig": {}}}, CARD, "EmployeeId"),
        custom=[{"Name": "EmployeeId", "Regex": r"EID-\d{9}-US"}],
    )
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=doc)
    attributes = {"who": {"DataType": "String", "StringValue": "bob@example.com"}}
    sns.publish(TopicArn=topic, Message=PAID + " by EID-123456789-US", MessageAttributes=attributes)
    got = receive(sqs, url, 1, MessageAttributeNames=["All"])
    assert [m["Body"] for m in got] == ["################# paid with credit card  today by "]
    assert got[0]["MessageAttributes"]["who"]["StringValue"] == "bob@example.com"
    with pytest.raises(ClientError) as exc:  # nothing left once redacted
        sns.publish(TopicArn=topic, Message="EID-123456789-US")
    assert error(exc)[:2] == ("AuthorizationError", 403)


# -- outbound -----------------------------------------------------------------------------


def test_outbound_deny_for_one_subscriber_and_mask_for_another(sns, sqs, aws_client):
    topic = sns.create_topic(Name=unique("dp-out"))["TopicArn"]
    mine, _ = raw_queue(sns, sqs, topic)
    other_sns = aws_client("sns", aws_access_key_id="111111111111")
    other_sqs = aws_client("sqs", aws_access_key_id="111111111111")
    theirs, their_sub = raw_queue(sns, other_sqs, topic, client=other_sns)
    attrs = sns.get_subscription_attributes(SubscriptionArn=their_sub)["Attributes"]
    assert attrs["SubscriptionPrincipal"] == "arn:aws:iam::111111111111:root"
    mask = {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "X"}}}
    doc = policy(
        statement("Outbound", {"Deny": {}}, principal=("111111111111",)),
        statement("Outbound", mask, principal=("arn:aws:iam::000000000000:root",)),
    )
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=doc)
    sns.publish(TopicArn=topic, Message=PAID)
    sns.publish(TopicArn=topic, Message="plain news")
    assert bodies(sqs, mine, 2) == [
        "alice@example.com paid with credit card XXXXXXXXXXXXXXXXXXX today",
        "plain news",
    ]
    # Both deliveries of each message were started together: by now the card would be there.
    assert [m["Body"] for m in receive(other_sqs, theirs, 2, timeout=2)] == ["plain news"]


# -- audit --------------------------------------------------------------------------------


def test_audit_findings_land_in_a_log_group_and_a_bucket(sns, aws_client):
    logs, s3, cloudwatch = aws_client("logs"), aws_client("s3"), aws_client("cloudwatch")
    group, bucket = f"/aws/vendedlogs/sns-{uuid.uuid4().hex[:8]}", unique("dp-audit")
    logs.create_log_group(logGroupName=group)
    s3.create_bucket(Bucket=bucket)
    name = unique("dp-audit")
    topic = sns.create_topic(Name=name)["TopicArn"]
    audit = {
        "Audit": {
            "SampleRate": "99",
            "FindingsDestination": {"CloudWatchLogs": {"LogGroup": group}},
            "NoFindingsDestination": {"S3": {"Bucket": bucket}},
        }
    }
    sns.put_data_protection_policy(
        ResourceArn=topic, DataProtectionPolicy=policy(statement("Inbound", audit, CARD))
    )
    # Three of each, so a 1% miss of the sampling cannot fail the test.
    ids = {sns.publish(TopicArn=topic, Message=PAID)["MessageId"] for _ in range(3)}
    for _ in range(3):
        sns.publish(TopicArn=topic, Message="nothing sensitive")
    deadline = time.monotonic() + 10
    findings: list[dict] = []
    objects: list[dict] = []
    while not (findings and objects):
        assert time.monotonic() < deadline, (findings, objects)
        events = logs.filter_log_events(logGroupName=group)["events"]
        findings = [json.loads(e["message"]) for e in events]
        objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        time.sleep(0.2)
    found = findings[0]
    assert found["messageId"] in ids
    assert found["callerPrincipal"] == "arn:aws:iam::000000000000:root"
    assert found["resourceArn"] == topic
    start = PAID.index("4111")
    assert found["dataIdentifiers"] == [
        {
            "name": "CreditCardNumber",
            "count": 1,
            "detections": [{"start": start, "end": start + 19}],
        }
    ]
    assert events[0]["logStreamName"] == name
    key = objects[0]["Key"]
    assert key.startswith(f"AWSLogs/000000000000/DataProtection/us-east-1/{name}/")
    empty = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert empty["dataIdentifiers"] == [] and empty["resourceArn"] == topic
    metrics = cloudwatch.list_metrics(Namespace="AWS/SNS")["Metrics"]
    assert {"MessagesWithFindings", "MessagesWithNoFindings"} <= {
        m["MetricName"]
        for m in metrics
        if m["Dimensions"] == [{"Name": "TopicName", "Value": name}]
    }


# -- durability and strict mode -----------------------------------------------------------


def test_a_policy_survives_a_restart(tmp_path):
    doc = policy(statement("Inbound", {"Deidentify": {"MaskConfig": {}}}, EMAIL))
    with CloudletServer.start(data_dir=tmp_path) as server:
        sns = server.client("sns")
        topic = sns.create_topic(Name="kept", DataProtectionPolicy=doc)["TopicArn"]
    with CloudletServer.start(data_dir=tmp_path) as server:
        sns, sqs = server.client("sns"), server.client("sqs")
        assert sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"] == doc
        url, _ = raw_queue(sns, sqs, topic)
        sns.publish(TopicArn=topic, Message="write to dave@example.com")
        assert bodies(sqs, url, 1) == ["write to " + "*" * len("dave@example.com")]


def test_strict_mode_matches_statements_against_the_signed_caller(strict_server):
    iam, admin = strict_server.client("iam"), strict_server.client("sns")
    user = unique("publisher")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    allow = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
    iam.put_user_policy(
        UserName=user,
        PolicyName="publish",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    topic = admin.create_topic(Name=unique("dp-strict"))["TopicArn"]
    doc = policy(statement("Inbound", {"Deny": {}}, principal=(arn,)))
    admin.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy=doc)
    publisher = strict_server.client(
        "sns", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    deadline = time.monotonic() + 10
    while True:  # a new key may take a moment to be known
        try:
            publisher.publish(TopicArn=topic, Message="hello")
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with pytest.raises(ClientError) as exc:
        publisher.publish(TopicArn=topic, Message=PAID)
    assert error(exc)[:2] == ("AuthorizationError", 403)
    assert admin.publish(TopicArn=topic, Message=PAID)["MessageId"]  # the statement is not theirs
