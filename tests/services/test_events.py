"""Amazon EventBridge through boto3 and the AWS CLI against a real server: rules with
patterns delivering PutEvents to SQS queues (the envelope AWS delivers, Input,
InputPath and InputTransformer), SNS topics, Lambda functions and other buses; custom
buses; AWS's errors for bad patterns, schedules, targets and entries; PutEvents'
partial failures; dead-letter queues; tags and paging; and rules surviving a restart.
Scheduled rules' timing is unit-tested (tests/unit/test_events_schedule.py)."""

from __future__ import annotations

import json
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import forwarding_function
from tests.services.names import unique
from tests.services.test_sns_delivery import receive

ENVELOPE_KEYS = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
]
ACCOUNT = "000000000000"


@pytest.fixture
def events(cloudlet_server):
    return cloudlet_server.client("events", config=Config(retries={"max_attempts": 0}))


@pytest.fixture
def sqs(cloudlet_server):
    return cloudlet_server.client("sqs")


def make_queue(sqs, name: str | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique("evq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def bodies(sqs, url: str, want: int, timeout: float = 5.0) -> list[str]:
    return [m["Body"] for m in receive(sqs, url, want, timeout)]


def quiet(sqs, url: str, seconds: float = 1.5) -> bool:
    """Whether the queue stays empty for ``seconds``."""
    return not receive(sqs, url, 1, timeout=seconds)


def error(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def rule_to_queue(events, sqs, pattern: dict, **target) -> tuple[str, str, str]:
    """A rule with ``pattern`` sending to a new queue: (rule name, queue URL, queue ARN)."""
    name = unique("rule")
    url, arn = make_queue(sqs)
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), **target.pop("rule", {}))
    out = events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn, **target}])
    assert out["FailedEntryCount"] == 0 and out["FailedEntries"] == []
    return name, url, arn


def entry(source: str, detail: dict, detail_type: str = "Thing Happened", **kw) -> dict:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), **kw}


def test_a_matching_event_reaches_the_queue_as_aws_delivers_it(events, sqs):
    source = unique("com.example")
    pattern = {
        "source": [source],
        "detail-type": ["Order Placed"],
        "detail": {"amount": [{"numeric": [">", 10]}], "region": [{"wildcard": "eu-*"}]},
    }
    name, url, _ = rule_to_queue(events, sqs, pattern)
    resource = "arn:aws:s3:::some-bucket"
    out = events.put_events(
        Entries=[
            entry(
                source, {"amount": 25, "region": "eu-west-1"}, "Order Placed", Resources=[resource]
            ),
            entry(source, {"amount": 5, "region": "eu-west-1"}, "Order Placed"),
            entry(source, {"amount": 25, "region": "us-east-1"}, "Order Placed"),
            entry(source, {"amount": 25, "region": "eu-west-1"}, "Order Cancelled"),
        ]
    )
    assert out["FailedEntryCount"] == 0
    ids = [e["EventId"] for e in out["Entries"]]
    assert len(set(ids)) == 4
    [body] = bodies(sqs, url, 1)
    event = json.loads(body)
    assert list(event) == ENVELOPE_KEYS
    assert event["version"] == "0" and event["id"] == ids[0]
    assert event["source"] == source and event["detail-type"] == "Order Placed"
    assert event["account"] == ACCOUNT and event["region"] == "us-east-1"
    assert event["resources"] == [resource]
    assert event["detail"] == {"amount": 25, "region": "eu-west-1"}
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert body.startswith('{"version":"0","id":')  # compact JSON, as AWS sends it
    assert quiet(sqs, url)  # the three others did not match
    assert (
        events.describe_rule(Name=name)["Arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{name}"
    )


def test_an_entry_time_is_the_event_time(events, sqs):
    source = unique("com.example")
    _, url, _ = rule_to_queue(events, sqs, {"source": [source]})
    events.put_events(Entries=[entry(source, {}, Time=1700000000)])
    [body] = bodies(sqs, url, 1)
    assert json.loads(body)["time"] == "2023-11-14T22:13:20Z"


def test_input_input_path_and_input_transformer_shape_what_is_delivered(events, sqs):
    source = unique("com.example")
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    queues = {kind: make_queue(sqs) for kind in ("input", "path", "json", "text")}
    rule_arn = events.describe_rule(Name=name)["Arn"]
    targets = [
        {"Id": "input", "Arn": queues["input"][1], "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": queues["path"][1], "InputPath": "$.detail.instance"},
        {
            "Id": "json",
            "Arn": queues["json"][1],
            "InputTransformer": {
                "InputPathsMap": {
                    "id": "$.detail.instance.id",
                    "state": "$.detail.state",
                    "absent": "$.detail.nothing",
                },
                "InputTemplate": '{"instance": <id>, "says": "<id> is <state>", '
                '"rule": <aws.events.rule-name>, "missing": <absent>}',
            },
        },
        {
            "Id": "text",
            "Arn": queues["text"][1],
            "InputTransformer": {
                "InputPathsMap": {"id": "$.detail.instance.id", "n": "$.detail.count"},
                "InputTemplate": "instance <id> counted <n> for <aws.events.rule-arn>",
            },
        },
    ]
    assert events.put_targets(Rule=name, Targets=targets)["FailedEntryCount"] == 0
    detail = {"instance": {"id": "i-123", "tags": ["a"]}, "state": "RUNNING", "count": 3}
    events.put_events(Entries=[entry(source, detail)])
    got = {kind: bodies(sqs, url, 1) for kind, (url, _) in queues.items()}
    assert got["input"] == ['{"fixed": true}']
    assert json.loads(got["path"][0]) == {"id": "i-123", "tags": ["a"]}
    assert json.loads(got["json"][0]) == {
        "instance": "i-123",
        "says": "i-123 is RUNNING",
        "rule": name,
        "missing": None,
    }
    assert got["text"] == [f"instance i-123 counted 3 for {rule_arn}"]
    listed = events.list_targets_by_rule(Rule=name)["Targets"]
    assert [t["Id"] for t in listed] == ["input", "path", "json", "text"]
    assert listed[1]["InputPath"] == "$.detail.instance"


def test_custom_bus_rules_see_only_their_bus(events, sqs):
    bus = unique("bus")
    arn = events.create_event_bus(Name=bus, Description="orders")["EventBusArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus}"
    described = events.describe_event_bus(Name=bus)
    assert (described["Name"], described["Arn"], described["Description"]) == (bus, arn, "orders")
    assert events.describe_event_bus(Name=arn)["Name"] == bus
    listed = events.list_event_buses(NamePrefix=bus)["EventBuses"]
    assert [b["Name"] for b in listed] == [bus]
    default = events.list_event_buses()["EventBuses"]
    assert "default" in [b["Name"] for b in default]
    with pytest.raises(ClientError) as exc:
        events.create_event_bus(Name=bus)
    assert error(exc) == (
        "ResourceAlreadyExistsException",
        f"Event bus {bus} already exists.",
        400,
    )

    source = unique("com.example")
    name = unique("rule")
    url, queue_arn = make_queue(sqs)
    rule_arn = events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [source]})
    )["RuleArn"]
    assert rule_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{bus}/{name}"
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == [name]
    assert name not in [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]]
    with pytest.raises(ClientError) as exc:
        events.describe_rule(Name=name)
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Rule {name} does not exist on EventBus default.",
        400,
    )

    events.put_events(Entries=[entry(source, {"on": "default"})])
    events.put_events(Entries=[entry(source, {"on": "name"}, EventBusName=bus)])
    events.put_events(Entries=[entry(source, {"on": "arn"}, EventBusName=arn)])
    got = sorted(json.loads(b)["detail"]["on"] for b in bodies(sqs, url, 2))
    assert got == ["arn", "name"]
    assert quiet(sqs, url)

    with pytest.raises(ClientError) as exc:
        events.delete_event_bus(Name="default")
    assert error(exc) == ("ValidationException", "Cannot delete event bus default.", 400)
    events.delete_event_bus(Name=bus)
    events.delete_event_bus(Name=bus)  # gone already: still fine
    with pytest.raises(ClientError) as exc:
        events.describe_event_bus(Name=bus)
    assert error(exc) == ("ResourceNotFoundException", f"Event bus {bus} does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=name, EventBusName=bus, EventPattern='{"source": ["x"]}')
    assert error(exc)[0] == "ResourceNotFoundException"


def test_an_event_bus_target_forwards_the_event(events, sqs):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    source = unique("com.example")
    forward = unique("rule")
    events.put_rule(Name=forward, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=forward, Targets=[{"Id": "bus", "Arn": bus_arn}])
    name = unique("rule")
    url, queue_arn = make_queue(sqs)
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    event_id = events.put_events(Entries=[entry(source, {"hop": 1})])["Entries"][0]["EventId"]
    [body] = bodies(sqs, url, 1)
    event = json.loads(body)
    assert event["id"] == event_id and event["detail"] == {"hop": 1}


def test_sns_topic_and_lambda_function_targets(events, sqs, cloudlet_server):
    sns = cloudlet_server.client("sns")
    topic = sns.create_topic(Name=unique("evtopic"))["TopicArn"]
    topic_url, topic_queue = make_queue(sqs)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=topic_queue,
        Attributes={"RawMessageDelivery": "true"},
    )
    fn_url, _ = make_queue(sqs)
    function = forwarding_function(cloudlet_server.client("lambda"), unique("evfn"), fn_url)
    source = unique("com.example")
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(
        Rule=name, Targets=[{"Id": "topic", "Arn": topic}, {"Id": "fn", "Arn": function}]
    )
    assert events.list_rule_names_by_target(TargetArn=function)["RuleNames"] == [name]
    event_id = events.put_events(Entries=[entry(source, {"to": "both"})])["Entries"][0]["EventId"]
    [via_topic] = bodies(sqs, topic_url, 1)
    assert json.loads(via_topic)["id"] == event_id
    [via_function] = bodies(sqs, fn_url, 1, timeout=20.0)  # a cold start included
    assert json.loads(via_function)["id"] == event_id


def test_rules_disabled_enabled_and_deleted(events, sqs):
    source = unique("com.example")
    name, url, arn = rule_to_queue(events, sqs, {"source": [source]})
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.put_events(Entries=[entry(source, {"n": 1})])
    assert quiet(sqs, url)
    events.enable_rule(Name=name)
    events.put_events(Entries=[entry(source, {"n": 2})])
    [body] = bodies(sqs, url, 1)
    assert json.loads(body)["detail"] == {"n": 2}

    with pytest.raises(ClientError) as exc:
        events.delete_rule(Name=name)
    assert error(exc) == ("ValidationException", "Rule can't be deleted since it has targets.", 400)
    out = events.remove_targets(Rule=name, Ids=["q", "nope"])
    assert out["FailedEntryCount"] == 1
    assert out["FailedEntries"][0]["TargetId"] == "nope"
    assert out["FailedEntries"][0]["ErrorCode"] == "ResourceNotFoundException"
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.delete_rule(Name=name)
    events.delete_rule(Name=name)  # gone already: still fine
    with pytest.raises(ClientError) as exc:
        events.enable_rule(Name=name)
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Rule {name} does not exist on EventBus default.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    assert error(exc)[0] == "ResourceNotFoundException"


def test_test_event_pattern_with_the_cli(aws):
    event = json.dumps(
        {
            "id": "1",
            "account": ACCOUNT,
            "source": "com.example.orders",
            "time": "2024-01-01T00:00:00Z",
            "region": "us-east-1",
            "detail-type": "Order Placed",
            "resources": [],
            "detail": {"total": 42, "file": "report.png"},
        }
    )
    patterns = {
        '{"source": [{"prefix": "com.example"}], "detail": {"total": [{"numeric": [">=", 42]}]}}': True,
        '{"detail": {"file": [{"wildcard": "*.png"}]}}': True,
        '{"detail-type": [{"anything-but": {"prefix": "Order"}}]}': False,
        '{"detail": {"missing": [{"exists": false}]}}': True,
    }
    for pattern, expected in patterns.items():
        out = aws("events", "test-event-pattern", "--event-pattern", pattern, "--event", event)
        assert json.loads(out.stdout) == {"Result": expected}, pattern
    bad = aws(
        "events",
        "test-event-pattern",
        "--event-pattern",
        '{"source": ["x"]}',
        "--event",
        '{"source": "x"}',
        check=False,
    )
    assert bad.returncode != 0
    assert "ValidationException" in bad.stderr and "Parameter Event is not valid." in bad.stderr


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{"source": "aws.s3"}', '"source" must be an object or an array'),
        ('{"source": []}', "Empty arrays are not allowed"),
        ("{}", "Empty objects are not allowed"),
        ('{"source": ["x"], "detail": {}}', "Empty objects are not allowed"),
        ('{"source": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 1"),
        ('{"source": [{"bogus": 1}]}', "Unrecognized match type bogus"),
        ("[1]", "Filter is not an object"),
    ],
)
def test_bad_patterns_are_invalid_event_pattern_exceptions(events, pattern, reason):
    for call in (
        lambda: events.put_rule(Name=unique("rule"), EventPattern=pattern),
        lambda: events.test_event_pattern(EventPattern=pattern, Event="{}"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == (
            "InvalidEventPatternException",
            f"Event pattern is not valid. Reason: {reason}",
            400,
        )


def test_not_json_pattern_is_refused(events):
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=unique("rule"), EventPattern="{not json")
    code, message, status = error(exc)
    assert (code, status) == ("InvalidEventPatternException", 400)
    assert message.startswith("Event pattern is not valid. Reason: ")


def test_bad_rules_and_schedules_are_refused(events):
    name = unique("rule")
    cases = [
        ({"Name": name}, "Parameter(s) EventPattern or ScheduleExpression must be specified."),
        (
            {"Name": name, "ScheduleExpression": "rate(1 minutes)"},
            "Parameter ScheduleExpression is not valid.",
        ),
        (
            {"Name": name, "ScheduleExpression": "cron(0 10 * * * *)"},
            "Parameter ScheduleExpression is not valid.",
        ),
        (
            {"Name": "bad name!", "EventPattern": '{"source": ["x"]}'},
            "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy "
            r"constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
        ),
        (
            {"Name": name, "EventPattern": '{"source": ["x"]}', "State": "ON"},
            "1 validation error detected: Value 'ON' at 'state' failed to satisfy constraint: "
            "Member must satisfy enum value set: [ENABLED, DISABLED, "
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
        ),
    ]
    for params, message in cases:
        with pytest.raises(ClientError) as exc:
            events.put_rule(**params)
        assert error(exc) == ("ValidationException", message, 400), params
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=name, EventBusName=bus, ScheduleExpression="rate(5 minutes)")
    assert error(exc) == (
        "ValidationException",
        "ScheduleExpression is supported only on the default event bus.",
        400,
    )
    scheduled = events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")["RuleArn"]
    described = events.describe_rule(Name=name)
    assert described["Arn"] == scheduled and described["ScheduleExpression"] == "rate(5 minutes)"
    events.delete_rule(Name=name)


def test_bad_targets_are_refused(events, sqs):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    _, arn = make_queue(sqs)
    cases = [
        (
            {"Id": "t", "Arn": "not-an-arn"},
            "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.",
        ),
        (
            {"Id": "t", "Arn": arn, "Input": "{}", "InputPath": "$.detail"},
            "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
        ),
        (
            {"Id": "t", "Arn": arn, "InputTransformer": {"InputTemplate": "<who> did it"}},
            "InputTemplate for target t contains invalid placeholder who.",
        ),
        (
            {"Id": "t", "Arn": arn + "x.fifo"},
            "Parameter(s) SqsParameters must be specified for target: t.",
        ),
    ]
    for target, message in cases:
        with pytest.raises(ClientError) as exc:
            events.put_targets(Rule=name, Targets=[target])
        assert error(exc) == ("ValidationException", message, 400), target
    many = [{"Id": f"t{n}", "Arn": arn} for n in range(6)]
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=name, Targets=many)
    assert error(exc) == (
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
        400,
    )
    out = events.put_targets(
        Rule=name,
        Targets=[
            {"Id": "queue", "Arn": arn},
            {"Id": "machine", "Arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:s"},
        ],
    )
    assert out["FailedEntryCount"] == 1
    assert out["FailedEntries"][0]["TargetId"] == "machine"
    assert out["FailedEntries"][0]["ErrorCode"] == "NotImplemented"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["queue"]


def test_put_events_partial_failures_and_limits(events):
    out = events.put_events(
        Entries=[
            entry("com.example", {"ok": True}),
            {"DetailType": "x", "Detail": "{}"},
            {"Source": "com.example", "Detail": "{}"},
            {"Source": "com.example", "DetailType": "x"},
            {"Source": "com.example", "DetailType": "x", "Detail": "[1, 2]"},
            {"Source": "com.example", "DetailType": "x", "Detail": "{nope"},
            entry("aws.s3", {}),
        ]
    )
    assert out["FailedEntryCount"] == 6
    ok, *failed = out["Entries"]
    assert set(ok) == {"EventId"}
    assert [(f["ErrorCode"], f["ErrorMessage"]) for f in failed] == [
        (
            "InvalidArgument",
            "Parameter Source is not valid. Reason: Source is a required argument.",
        ),
        (
            "InvalidArgument",
            "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
        ),
        (
            "InvalidArgument",
            "Parameter Detail is not valid. Reason: Detail is a required argument.",
        ),
        ("MalformedDetail", "Detail is malformed."),
        ("MalformedDetail", "Detail is malformed."),
        ("NotAuthorizedForSourceException", "Not authorized for the source."),
    ]
    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[entry("com.example", {})] * 11)
    assert error(exc)[0] == "ValidationException"
    big = entry("com.example", {"blob": "x" * (256 * 1024)})
    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[big])
    assert error(exc) == (
        "ValidationException",
        "Total size of the entries in the request is over the limit.",
        400,
    )
    # An entry for a bus that does not exist is accepted and goes nowhere, as on AWS.
    out = events.put_events(Entries=[entry("com.example", {}, EventBusName=unique("nobus"))])
    assert out["FailedEntryCount"] == 0


def test_an_undeliverable_event_goes_to_the_dead_letter_queue(events, sqs):
    source = unique("com.example")
    dlq_url, dlq_arn = make_queue(sqs)
    gone = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{unique('gone')}"
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(
        Rule=name,
        Targets=[{"Id": "gone", "Arn": gone, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )
    event_id = events.put_events(Entries=[entry(source, {"x": 1})])["Entries"][0]["EventId"]
    [message] = receive(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == events.describe_rule(Name=name)["Arn"]
    assert attributes["TARGET_ARN"] == gone
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["RETRY_ATTEMPTS"] == "0"


def test_tags_of_rules_and_buses(events):
    name = unique("rule")
    arn = events.put_rule(
        Name=name, EventPattern='{"source": ["x"]}', Tags=[{"Key": "team", "Value": "a"}]
    )["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    # An update ignores Tags, as AWS does.
    events.put_rule(Name=name, EventPattern='{"source": ["y"]}', Tags=[{"Key": "k", "Value": "v"}])
    assert [t["Key"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]] == ["env"]
    assert events.describe_rule(Name=name)["EventPattern"] == '{"source": ["y"]}'

    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus, Tags=[{"Key": "a", "Value": "1"}])["EventBusArn"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [
        {"Key": "a", "Value": "1"}
    ]
    missing = arn.replace(name, unique("nope"))
    with pytest.raises(ClientError) as exc:
        events.list_tags_for_resource(ResourceARN=missing)
    assert error(exc)[0] == "ResourceNotFoundException"


def test_paging_rules(events):
    prefix = unique("page")
    names = [f"{prefix}-{n}" for n in range(5)]
    for name in names:
        events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    seen: list[str] = []
    token = None
    for _ in range(5):
        kwargs = {"NextToken": token} if token else {}
        page = events.list_rules(NamePrefix=prefix, Limit=2, **kwargs)
        seen += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    paginated = events.get_paginator("list_rules").paginate(
        NamePrefix=prefix, PaginationConfig={"PageSize": 3}
    )
    assert [r["Name"] for p in paginated for r in p["Rules"]] == names


def test_the_cli_puts_rules_and_targets(aws, sqs):
    name = unique("rule")
    _, arn = make_queue(sqs)
    out = aws("events", "put-rule", "--name", name, "--event-pattern", '{"source": ["cli"]}')
    assert json.loads(out.stdout)["RuleArn"].endswith(f":rule/{name}")
    aws("events", "put-targets", "--rule", name, "--targets", f"Id=q,Arn={arn}")
    listed = json.loads(aws("events", "list-targets-by-rule", "--rule", name).stdout)
    assert listed["Targets"] == [{"Id": "q", "Arn": arn}]


def test_rules_targets_and_buses_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        events, sqs = server.client("events"), server.client("sqs")
        url, arn = make_queue(sqs, "survivor")
        events.create_event_bus(Name="orders", Tags=[{"Key": "k", "Value": "v"}])
        events.put_rule(Name="keep", EventBusName="orders", EventPattern='{"source": ["keep"]}')
        events.put_targets(
            Rule="keep",
            EventBusName="orders",
            Targets=[{"Id": "q", "Arn": arn, "InputPath": "$.detail"}],
        )
        events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)", State="DISABLED")
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        events, sqs = server.client("events"), server.client("sqs")
        assert [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]] == ["keep"]
        [target] = events.list_targets_by_rule(Rule="keep", EventBusName="orders")["Targets"]
        assert target == {"Id": "q", "Arn": arn, "InputPath": "$.detail"}
        nightly = events.describe_rule(Name="nightly")
        assert (nightly["ScheduleExpression"], nightly["State"]) == (
            "cron(0 3 * * ? *)",
            "DISABLED",
        )
        bus_arn = events.describe_event_bus(Name="orders")["Arn"]
        assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [
            {"Key": "k", "Value": "v"}
        ]
        events.put_events(Entries=[entry("keep", {"after": "restart"}, EventBusName="orders")])
        assert [json.loads(b) for b in bodies(sqs, url, 1)] == [{"after": "restart"}]
    finally:
        server.stop()


def test_strict_mode_delivers_only_where_the_queue_policy_allows(strict_server):
    """AWS sends to an SQS target only when the queue's policy lets
    ``events.amazonaws.com`` send for the rule (the EventBridge user guide's SQS
    permissions); open mode evaluates no policies."""
    events, sqs = strict_server.client("events"), strict_server.client("sqs")
    source = unique("com.example")
    name = unique("rule")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    url, arn = make_queue(sqs)
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[entry(source, {"n": 1})])
    assert quiet(sqs, url)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_events(Entries=[entry(source, {"n": 2})])
    assert [json.loads(b)["detail"] for b in bodies(sqs, url, 1)] == [{"n": 2}]
