"""EventBridge event bus permissions through boto3 against real servers: two accounts
(two 12-digit access keys; open mode tells accounts apart by key), a rule in one account
whose target is the other's bus, refused (to the dead-letter queue, ``NO_PERMISSIONS``)
until the bus's owner grants it with PutPermission (the legacy form, the ``Policy`` form,
a role's grant) and again after RemovePermission; the policy DescribeEventBus shows;
AWS's errors; strict mode's cross-account PutEvents, decided by the bus's policy; and the
policy surviving a restart."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique
from tests.services.test_events import entry, error, quiet
from tests.services.test_sns_delivery import receive

SENDER, OWNER = "111111111111", "222222222222"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{SENDER}:role/send-to-partner-bus"
NO_RETRY = Config(retries={"max_attempts": 0})


def _clients(server: CloudletServer, account: str):
    return (
        server.client("events", aws_access_key_id=account, config=NO_RETRY),
        server.client("sqs", aws_access_key_id=account),
    )


def _queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("perm"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _inbox(events, sqs, source: str) -> tuple[str, str, str]:
    """A bus of the owner's with a rule sending ``source``'s events to a queue:
    (bus name, bus ARN, queue URL)."""
    bus = unique("inbox")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    url, arn = _queue(sqs)
    rule = unique("in")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return bus, bus_arn, url


def _forwarder(events, source: str, bus_arn: str, dlq_arn: str, **target) -> None:
    """A rule on the sender's default bus whose target is ``bus_arn``."""
    rule = unique("fwd")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    out = events.put_targets(
        Rule=rule,
        Targets=[{"Id": "bus", "Arn": bus_arn, "DeadLetterConfig": {"Arn": dlq_arn}, **target}],
    )
    assert out["FailedEntryCount"] == 0


def _refused(sqs, dlq: str) -> dict:
    """The one dead-letter message's attributes."""
    got = receive(sqs, dlq, 1, MessageAttributeNames=["All"])
    assert len(got) == 1
    return {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}


@pytest.fixture
def accounts(cloudlet_server):
    return _clients(cloudlet_server, SENDER), _clients(cloudlet_server, OWNER)


def test_another_accounts_bus_receives_only_while_its_policy_grants_the_sender(accounts):
    (events_a, sqs_a), (events_b, sqs_b) = accounts
    source = unique("com.partner")
    bus, bus_arn, inbox = _inbox(events_b, sqs_b, source)
    dlq, dlq_arn = _queue(sqs_a)
    _forwarder(events_a, source, bus_arn, dlq_arn)

    events_a.put_events(Entries=[entry(source, {"n": 1})])
    attributes = _refused(sqs_a, dlq)
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["TARGET_ARN"] == bus_arn
    assert bus_arn in attributes["ERROR_MESSAGE"]
    assert quiet(sqs_b, inbox, 0.5)

    events_b.put_permission(
        EventBusName=bus, Action="events:PutEvents", Principal=SENDER, StatementId="from-a"
    )
    assert json.loads(events_b.describe_event_bus(Name=bus)["Policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "from-a",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SENDER}:root"},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
            }
        ],
    }
    listed = events_b.list_event_buses(NamePrefix=bus)["EventBuses"]
    assert [b.get("Policy") is not None for b in listed] == [True]
    event_id = events_a.put_events(Entries=[entry(source, {"n": 2})])["Entries"][0]["EventId"]
    delivered = [json.loads(m["Body"]) for m in receive(sqs_b, inbox, 1)]
    assert [(e["id"], e["account"], e["detail"]) for e in delivered] == [
        (event_id, SENDER, {"n": 2})
    ]

    events_b.remove_permission(EventBusName=bus, StatementId="from-a")
    assert "Policy" not in events_b.describe_event_bus(Name=bus)
    events_a.put_events(Entries=[entry(source, {"n": 3})])
    assert _refused(sqs_a, dlq)["ERROR_CODE"] == "NO_PERMISSIONS"
    assert quiet(sqs_b, inbox, 0.5)


def test_a_policy_document_granting_a_role_and_an_organization(accounts):
    (events_a, sqs_a), (events_b, sqs_b) = accounts
    source = unique("com.partner")
    bus, bus_arn, inbox = _inbox(events_b, sqs_b, source)
    dlq, dlq_arn = _queue(sqs_a)
    grant = {
        "Sid": "role",
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": "events:PutEvents",
        "Resource": bus_arn,
    }
    events_b.put_permission(
        EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    # The role the target names is granted; the account itself (no role) is not.
    _forwarder(events_a, source, bus_arn, dlq_arn, RoleArn=ROLE)
    _forwarder(events_a, source, bus_arn, dlq_arn)
    events_a.put_events(Entries=[entry(source, {"n": 1})])
    assert len(receive(sqs_b, inbox, 1)) == 1
    assert _refused(sqs_a, dlq)["ERROR_CODE"] == "NO_PERMISSIONS"

    # The legacy form adds to the document; "*" with an organization condition matches
    # no account here (cloudlet has no Organizations), so the account is still refused.
    events_b.put_permission(
        EventBusName=bus,
        Action="events:PutEvents",
        Principal="*",
        StatementId="org",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-a1b2c3"},
    )
    statements = json.loads(events_b.describe_event_bus(Name=bus)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["role", "org"]
    assert statements[1]["Principal"] == "*"
    assert statements[1]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3"}}
    events_a.put_events(Entries=[entry(source, {"n": 2})])
    assert len(receive(sqs_b, inbox, 1)) == 1
    assert _refused(sqs_a, dlq)["ERROR_CODE"] == "NO_PERMISSIONS"

    # An explicit Deny of the sender wins over the role's grant.
    deny = {**grant, "Sid": "no", "Effect": "Deny", "Principal": {"AWS": SENDER}}
    document = {"Version": "2012-10-17", "Statement": [grant, deny]}
    events_b.put_permission(EventBusName=bus, Policy=json.dumps(document))
    events_a.put_events(Entries=[entry(source, {"n": 3})])
    assert len(receive(sqs_a, dlq, 2, MessageAttributeNames=["All"])) == 2
    assert quiet(sqs_b, inbox, 0.5)

    events_b.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    assert "Policy" not in events_b.describe_event_bus(Name=bus)


def test_aws_errors(accounts):
    (events, _), _ = accounts
    bus = unique("errs")
    events.create_event_bus(Name=bus)
    cases = [
        (
            {"EventBusName": unique("nope"), "Principal": OWNER, "StatementId": "s"},
            "ResourceNotFoundException",
            "does not exist.",
        ),
        (
            {"EventBusName": bus, "Principal": "12345", "StatementId": "s"},
            "ValidationException",
            r"(\d{12}|\*)",
        ),
        (
            {"EventBusName": bus, "Principal": OWNER, "StatementId": "s", "Action": "events:X"},
            "ValidationException",
            "Provided value in parameter 'action' is not supported.",
        ),
        (
            {
                "EventBusName": bus,
                "Principal": OWNER,
                "StatementId": "s",
                "Condition": {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o"},
            },
            "ValidationException",
            "must be '*' when the parameter 'condition' is set.",
        ),
        (
            {"EventBusName": bus, "Principal": OWNER, "StatementId": "bad id!"},
            "ValidationException",
            "[a-zA-Z0-9-_]+",
        ),
        ({"EventBusName": bus, "Policy": "{not json"}, "ValidationException", "invalid Json"),
        (
            {"EventBusName": bus, "Policy": json.dumps({"Statement": [{"Effect": "Allow"}]})},
            "ValidationException",
            "This policy is not valid.",
        ),
    ]
    for params, code, words in cases:
        params = {"Action": "events:PutEvents", **params}
        with pytest.raises(ClientError) as exc:
            events.put_permission(**params)
        got = error(exc)
        assert (got[0], got[2]) == (code, 400), params
        assert words in got[1], (params, got)

    big = {
        "Sid": "s",
        "Effect": "Allow",
        "Principal": {"AWS": [f"{n:012d}" for n in range(1, 800)]},
        "Action": "events:PutEvents",
        "Resource": "*",
    }
    with pytest.raises(ClientError) as exc:
        events.put_permission(
            EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [big]})
        )
    assert error(exc)[::2] == ("PolicyLengthExceededException", 400)

    with pytest.raises(ClientError) as exc:
        events.remove_permission(EventBusName=bus, StatementId="s")
    assert error(exc) == ("ResourceNotFoundException", "EventBus does not have a policy.", 400)
    events.put_permission(
        EventBusName=bus, Action="events:PutEvents", Principal=OWNER, StatementId="s"
    )
    # The same StatementId again replaces the statement (what Terraform's updates do).
    events.put_permission(
        EventBusName=bus, Action="events:PutEvents", Principal="*", StatementId="s"
    )
    statements = json.loads(events.describe_event_bus(Name=bus)["Policy"])["Statement"]
    assert [(s["Sid"], s["Principal"]) for s in statements] == [("s", "*")]
    with pytest.raises(ClientError) as exc:
        events.remove_permission(EventBusName=bus, StatementId="other")
    assert error(exc) == (
        "ResourceNotFoundException",
        "Statement with the provided id does not exist.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        events.remove_permission(EventBusName=unique("nope"), RemoveAllPermissions=True)
    assert error(exc)[::2] == ("ResourceNotFoundException", 400)


def test_strict_cross_account_put_events_and_the_policy_after_restarts(tmp_path):
    """The owner sets its buses up in open mode; a strict server whose root is the other
    account then puts events on them by ARN: the granted bus takes them, the other
    refuses the whole call. The grant and the delivery survive each restart."""
    source = unique("com.partner")
    with CloudletServer.start(data_dir=tmp_path) as server:
        events_b, _ = _clients(server, OWNER)
        _, sqs_a = _clients(server, SENDER)
        granted = events_b.create_event_bus(Name="granted")["EventBusArn"]
        closed = events_b.create_event_bus(Name="closed")["EventBusArn"]
        events_b.put_permission(
            EventBusName="granted", Action="events:PutEvents", Principal=SENDER, StatementId="a"
        )
        # The granted bus's rule sends to a queue of the sender's, which it may read in
        # strict mode, and whose policy lets EventBridge send.
        url, queue_arn = _queue(sqs_a)
        allow = {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        }
        sqs_a.set_queue_attributes(
            QueueUrl=url,
            Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [allow]})},
        )
        events_b.put_rule(
            Name="in", EventBusName="granted", EventPattern=json.dumps({"source": [source]})
        )
        events_b.put_targets(
            Rule="in", EventBusName="granted", Targets=[{"Id": "q", "Arn": queue_arn}]
        )

    strict = CloudletServer.start(
        auth="strict",
        data_dir=tmp_path,
        extra_args=["--root-access-key", SENDER, "--root-secret-key", "test"],
    )
    with strict:
        events, sqs = _clients(strict, SENDER)
        out = events.put_events(Entries=[entry(source, {"n": 1}, EventBusName=granted)])
        assert out["FailedEntryCount"] == 0
        assert [json.loads(m["Body"])["detail"] for m in receive(sqs, url, 1)] == [{"n": 1}]
        with pytest.raises(ClientError) as exc:
            events.put_events(
                Entries=[
                    entry(source, {"n": 2}, EventBusName=granted),
                    entry(source, {"n": 3}, EventBusName=closed),
                ]
            )
        assert error(exc) == (
            "AccessDeniedException",
            f"User: arn:aws:iam::{SENDER}:root is not authorized to perform: events:PutEvents "
            f"on resource: {closed} because no resource-based policy allows the "
            "events:PutEvents action",
            403,
        )
        assert quiet(sqs, url, 0.5)

    with CloudletServer.start(data_dir=tmp_path) as server:
        events_b, _ = _clients(server, OWNER)
        statement = json.loads(events_b.describe_event_bus(Name="granted")["Policy"])
        assert statement["Statement"][0]["Sid"] == "a"
        assert "Policy" not in events_b.describe_event_bus(Name="closed")
