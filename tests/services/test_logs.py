"""CloudWatch Logs through boto3 against a real server: log groups (prefix, pattern,
pagination, tags, KMS), streams (ordering, pagination), PutLogEvents' batch rules,
GetLogEvents paging both ways, FilterLogEvents with each filter-pattern family,
the AWS CLI, and 501 for operations cloudlet does not build."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError


def _name(prefix: str = "/test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def _now() -> int:
    return int(time.time() * 1000)


def _code(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _group_with_stream(logs, *streams: str) -> str:
    group = _name()
    logs.create_log_group(logGroupName=group)
    for s in streams or ("s",):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    return group


def test_log_groups_prefix_pattern_pages_tags(aws_client):
    logs = aws_client("logs")
    base = _name("/groups")
    for suffix in ("a", "b", "c-Special"):
        logs.create_log_group(logGroupName=f"{base}/{suffix}", tags={"team": suffix})
    logs.create_log_group(logGroupName=f"{base}/k", kmsKeyId="arn:aws:kms:us-east-1:0:key/k1")
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=f"{base}/a")
    assert _code(exc) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="bad name!")
    assert _code(exc)[0] == "InvalidParameterException"

    got = logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]
    assert [g["logGroupName"] for g in got] == [f"{base}/{s}" for s in ("a", "b", "c-Special", "k")]
    a = got[0]
    assert a["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{base}/a:*"
    assert a["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{base}/a"
    assert a["storedBytes"] == 0 and a["metricFilterCount"] == 0 and "retentionInDays" not in a
    assert got[3]["kmsKeyId"] == "arn:aws:kms:us-east-1:0:key/k1"

    pattern = logs.describe_log_groups(logGroupNamePattern="c-special")["logGroups"]
    assert [g["logGroupName"] for g in pattern] == [f"{base}/c-Special"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="x")
    assert _code(exc)[0] == "InvalidParameterException"

    first = logs.describe_log_groups(logGroupNamePrefix=base, limit=3)
    rest = logs.describe_log_groups(logGroupNamePrefix=base, limit=3, nextToken=first["nextToken"])
    assert len(first["logGroups"]) == 3 and len(rest["logGroups"]) == 1
    assert "nextToken" not in rest
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=base, PaginationConfig={"PageSize": 1}
    )
    assert sum(len(p["logGroups"]) for p in pages) == 4

    logs.tag_log_group(logGroupName=f"{base}/a", tags={"env": "dev"})
    assert logs.list_tags_log_group(logGroupName=f"{base}/a")["tags"] == {
        "team": "a",
        "env": "dev",
    }
    arn = a["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"x": "1"})
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    logs.untag_log_group(logGroupName=f"{base}/a", tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"x": "1"}
    assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"x": "1"}

    logs.delete_log_group(logGroupName=f"{base}/b")
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=f"{base}/b")
    assert _code(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_log_streams_order_and_pages(aws_client):
    logs = aws_client("logs")
    group = _group_with_stream(logs, "b", "a", "c")
    now = _now()
    for offset, stream in ((3, "a"), (1, "b"), (2, "c")):
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now - 10_000 + offset, "message": stream}],
        )
    names = lambda r: [s["logStreamName"] for s in r["logStreams"]]  # noqa: E731
    assert names(logs.describe_log_streams(logGroupName=group)) == ["a", "b", "c"]
    assert names(logs.describe_log_streams(logGroupName=group, descending=True)) == ["c", "b", "a"]
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime")
    assert names(by_time) == ["b", "c", "a"]
    first = logs.describe_log_streams(logGroupName=group, limit=2)
    rest = logs.describe_log_streams(logGroupName=group, limit=2, nextToken=first["nextToken"])
    assert names(first) + names(rest) == ["a", "b", "c"]
    assert names(logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")) == ["b"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(
            logGroupName=group, logStreamNamePrefix="b", orderBy="LastEventTime"
        )
    assert _code(exc)[0] == "InvalidParameterException"
    a = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="a")["logStreams"][0]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == now - 10_000 + 3
    assert a["lastIngestionTime"] >= now - 5000 and a["uploadSequenceToken"]
    assert a["arn"].endswith(f"log-group:{group}:log-stream:a")
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group, logStreamName="a")
    assert _code(exc)[0] == "ResourceAlreadyExistsException"
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    assert names(logs.describe_log_streams(logGroupName=group)) == ["b", "c"]
    with pytest.raises(ClientError) as exc:
        logs.delete_log_stream(logGroupName=group, logStreamName="a")
    assert _code(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_put_log_events_rules(aws_client):
    logs = aws_client("logs")
    group = _group_with_stream(logs)
    now = _now()
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
        )
    assert _code(exc) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "x" * 1_048_551}],
        )
    assert _code(exc)[1] == "Upload too large: 1048577 bytes exceeds limit of 1048576"
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="nope",
            logEvents=[{"timestamp": now, "message": "x"}],
        )
    assert _code(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group + "-nope",
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "x"}],
        )
    assert _code(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")

    # too old (> 14 days), fine, too new (> 2 h ahead): rejected by index, the rest stored
    day = 86_400_000
    old = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 15 * day, "message": "ancient"},
            {"timestamp": now - 14 * day - 1000, "message": "ancient too"},
        ],
    )
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    new = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        sequenceToken="ignored-as-aws-now-does",
        logEvents=[
            {"timestamp": now, "message": "kept"},
            {"timestamp": now + 3 * 3_600_000, "message": "future"},
        ],
    )
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert new["nextSequenceToken"]
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    expired = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - day - 60_000, "message": "expired"},
            {"timestamp": now - 7_200_000, "message": "kept too"},
        ],
    )
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[
                {"timestamp": now - 2 * day, "message": "a"},
                {"timestamp": now, "message": "b"},
            ],
        )
    assert "cannot span more than 24 hours" in _code(exc)[1]
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept too", "kept"]

    batch = [{"timestamp": now + 1 + i, "message": f"event {i}"} for i in range(1000)]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=batch)
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["lastEventTimestamp"] == now + 1000


def test_get_log_events_pages_both_ways(aws_client):
    logs = aws_client("logs")
    group = _group_with_stream(logs)
    now = _now() - 100_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": f"m{i}"} for i in range(25)],
    )
    msgs = lambda r: [e["message"] for e in r["events"]]  # noqa: E731

    # from the head, forward in pages of 10; the end repeats the token
    page = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, limit=10)
    seen = msgs(page)
    token = page["nextForwardToken"]
    assert token.startswith("f/") and len(token) == 58
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token, limit=10)
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        seen += msgs(page)
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(25)]

    # default: the tail (most recent), then backward
    tail = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10)
    assert msgs(tail) == [f"m{i}" for i in range(15, 25)]
    back = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=tail["nextBackwardToken"], limit=10
    )
    assert msgs(back) == [f"m{i}" for i in range(5, 15)]
    back2 = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=back["nextBackwardToken"], limit=10
    )
    assert msgs(back2) == [f"m{i}" for i in range(5)]
    end = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=back2["nextBackwardToken"], limit=10
    )
    assert end["events"] == [] and end["nextBackwardToken"] == back2["nextBackwardToken"]
    fwd = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=back2["nextForwardToken"], limit=3
    )
    assert msgs(fwd) == ["m5", "m6", "m7"]

    window = logs.get_log_events(
        logGroupName=group,
        logStreamName="s",
        startTime=now + 3,
        endTime=now + 6,
        startFromHead=True,
    )
    assert msgs(window) == ["m3", "m4", "m5"]


MESSAGES = [
    "ERROR disk full on /dev/sda",
    "WARN slow request took 1200 ms",
    "INFO healthcheck ok",
    "ERROR healthcheck failed",
    json.dumps({"status": 500, "user": {"id": "alice"}, "items": [1, 2], "ok": False}),
    json.dumps({"status": 200, "user": {"id": "bob"}, "latency": 30, "ok": True, "x": None}),
    json.dumps({"status": 404, "user": {"id": "al"}, "latency": 1500}),
    '127.0.0.1 frank - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
    '10.0.0.2 joe - [10/Oct/2000:13:56:00 -0700] "GET /b HTTP/1.0" 404 12',
    '10.0.0.3 ann - [10/Oct/2000:13:57:00 -0700] "POST /c HTTP/1.0" 500 5000',
]

CASES = {
    # terms: all must match, case-sensitive; quoted phrases; ? alternatives; - exclusion
    "ERROR": [0, 3],
    "error": [],
    "ERROR healthcheck": [3],
    '"disk full"': [0],
    "?WARN ?INFO": [1, 2],
    "healthcheck -ERROR": [2],
    "%[0-9]{4} ms%": [1],
    # JSON
    "{ $.status = 500 }": [4],
    "{ $.status >= 404 }": [4, 6],
    "{ $.status != 200 && $.user.id = al* }": [4, 6],
    '{ $.user.id = "bob" || $.latency > 1000 }': [5, 6],
    "{ ($.status = 500 || $.status = 404) && $.latency NOT EXISTS }": [4],
    "{ $.items[1] = 2 }": [4],
    "{ $.x IS NULL }": [5],
    "{ $.ok IS TRUE }": [5],
    "{ $.ok IS FALSE }": [4],
    "{ $.latency < 100 }": [5],
    # space-delimited
    "[ip, user, dash, ts, request, status=404, size]": [8],
    "[ip, user, ..., status=4*, size]": [8],
    "[ip, ..., size>1000]": [7, 9],
    "[ip=10.*, ..., status=500 || status=404, size]": [8, 9],
    "[..., status!=200, size<100]": [8],
}


@pytest.fixture(scope="module")
def filter_group(cloudlet_server):
    logs = cloudlet_server.client("logs")
    group = _group_with_stream(logs, "one", "two")
    now = _now() - 60_000
    for i, message in enumerate(MESSAGES):
        logs.put_log_events(
            logGroupName=group,
            logStreamName="one" if i % 2 == 0 else "two",
            logEvents=[{"timestamp": now + i, "message": message}],
        )
    return group


@pytest.mark.parametrize("pattern", sorted(CASES))
def test_filter_patterns(aws_client, filter_group, pattern):
    logs = aws_client("logs")
    got = logs.filter_log_events(logGroupName=filter_group, filterPattern=pattern)["events"]
    assert [MESSAGES.index(e["message"]) for e in got] == CASES[pattern]


def test_filter_log_events_streams_pages_and_errors(aws_client, filter_group):
    logs = aws_client("logs")
    r = logs.filter_log_events(logGroupName=filter_group, logStreamNames=["two"])
    assert {e["logStreamName"] for e in r["events"]} == {"two"}
    assert r["searchedLogStreams"] == [{"logStreamName": "two", "searchedCompletely": True}]
    assert len(r["events"]) == 5 and len(r["events"][0]["eventId"]) == 56
    r = logs.filter_log_events(logGroupName=filter_group, logStreamNamePrefix="on")
    assert len(r["events"]) == 5
    first = logs.filter_log_events(logGroupName=filter_group, limit=4)
    assert len(first["events"]) == 4 and first["nextToken"]
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=filter_group, PaginationConfig={"PageSize": 3}
    )
    assert [e["message"] for p in pages for e in p["events"]] == MESSAGES
    start = first["events"][2]["timestamp"]
    window = logs.filter_log_events(logGroupName=filter_group, startTime=start, endTime=start + 1)[
        "events"
    ]
    assert [e["message"] for e in window] == MESSAGES[2:4]
    for bad in ("{ $.status = 500", "email@example.com", "[a, b"):
        with pytest.raises(ClientError) as exc:
            logs.filter_log_events(logGroupName=filter_group, filterPattern=bad)
        assert _code(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=filter_group, filterPattern="email@example.com")
    assert _code(exc)[1] == "Invalid character(s) in term 'email@example.com'"


def test_cli_filter_log_events(aws, filter_group):
    out = aws(
        "logs",
        "filter-log-events",
        "--log-group-name",
        filter_group,
        "--filter-pattern",
        "{ $.status = 500 }",
        "--output",
        "json",
    )
    assert [json.loads(e["message"])["status"] for e in json.loads(out.stdout)["events"]] == [500]


def test_unbuilt_operations_answer_501(aws_client):
    logs = aws_client("logs")
    with pytest.raises(ClientError) as exc:
        logs.describe_deliveries()
    assert exc.value.response["Error"]["Code"] == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
