"""Event filtering of event source mappings (FilterCriteria) with boto3: only records a
pattern matches reach the function; SQS messages no pattern matches are deleted, as AWS
deletes them; DynamoDB stream records are matched as the function receives them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.services.lambda_helpers import python_function, wait_for
from tests.services.test_lambda_mappings import _lines, _streamed_table

RECORDER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            if record.get("eventSource") == "aws:sqs":
                out.write(json.dumps({"body": record["body"]}) + "\\n")
            else:
                image = record["dynamodb"].get("NewImage") or {}
                out.write(json.dumps({"event": record["eventName"],
                                      "id": record["dynamodb"]["Keys"]["id"]["S"],
                                      "status": image.get("status", {}).get("S")}) + "\\n")
    return {}
"""


def pattern(doc: dict) -> dict:
    return {"Pattern": json.dumps(doc)}


@pytest.fixture
def lam(aws_client):
    return aws_client("lambda")


def _recorder(lam, tmp_path: Path) -> tuple[str, Path]:
    name = f"flt-{uuid.uuid4().hex[:8]}"
    out = tmp_path / f"{name}.jsonl"
    python_function(lam, name, RECORDER, Timeout=3, Environment={"Variables": {"OUT": str(out)}})
    return name, out


def _queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(
        QueueName=f"flt-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "5"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _empty(sqs, url: str) -> bool:
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return set(counts.values()) == {"0"}


def test_sqs_messages_no_filter_matches_are_deleted_unseen(aws_client, lam, tmp_path):
    sqs = aws_client("sqs")
    name, out = _recorder(lam, tmp_path)
    url, arn = _queue(sqs)
    bodies = [
        json.dumps({"kind": "order", "total": 250}),
        json.dumps({"kind": "order", "total": 5}),
        json.dumps({"kind": "refund", "total": 900}),
        "plain-urgent",
        "plain-other",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    criteria = {
        "Filters": [
            pattern({"body": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}}),
            pattern({"body": [{"prefix": "plain-u"}]}),
        ]
    }
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FilterCriteria=criteria,
    )
    assert mapping["FilterCriteria"] == criteria
    wait_for(lambda: _empty(sqs, url), 20)
    wait_for(lambda: len(_lines(out)) >= 2, 10)
    assert sorted(r["body"] for r in _lines(out)) == sorted([bodies[0], "plain-urgent"])

    # An empty FilterCriteria removes the filters: everything is delivered again.
    got = lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in got
    sqs.send_message(QueueUrl=url, MessageBody="anything")
    wait_for(lambda: any(r["body"] == "anything" for r in _lines(out)), 20)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_stream_records_are_matched_as_the_function_receives_them(aws_client, lam, tmp_path):
    ddb = aws_client("dynamodb")
    name, out = _recorder(lam, tmp_path)
    table, stream = _streamed_table(ddb)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={
            "Filters": [
                pattern(
                    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["new"]}}}}
                ),
                pattern({"eventName": ["REMOVE"]}),
            ]
        },
    )
    ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "status": {"S": "new"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}, "status": {"S": "old"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "status": {"S": "done"}})  # MODIFY
    ddb.delete_item(TableName=table, Key={"id": {"S": "b"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "c"}, "status": {"S": "new"}})
    wait_for(lambda: len(_lines(out)) >= 3, 20)
    assert [(r["event"], r["id"]) for r in _lines(out)] == [
        ("INSERT", "a"),
        ("REMOVE", "b"),
        ("INSERT", "c"),
    ]


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        ({"Filters": [pattern({"body": {"a": ["x"]}})] * 6}, "exceeds the limit of 5"),
        ({"Filters": [{"Pattern": "{not json"}]}, "not valid JSON"),
        ({"Filters": [{"Pattern": "[1, 2]"}]}, "JSON object"),
        ({"Filters": [pattern({"body": {"a": [{"numeric": [">"]}]}})]}, "numeric"),
        ({"Filters": [pattern({"body": {"a": [{"shiny": 1}]}})]}, "Unrecognized match type"),
        ({"Filters": [{"Pattern": "{" + " " * 4096 + "}"}]}, "4096"),
    ],
)
def test_bad_filter_criteria_are_refused(aws_client, lam, tmp_path, criteria, words):
    sqs = aws_client("sqs")
    name, _ = _recorder(lam, tmp_path)
    _, arn = _queue(sqs)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=name, FilterCriteria=criteria
        )
    error = err.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert words in error["Message"]
    assert lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []
