"""Logs Insights through boto3: StartQuery runs in the background and
GetQueryResults returns AWS's rows and statistics for fields/filter/parse,
stats ... by (fields and bin), sort and limit; a bad query is a
MalformedQueryException; DescribeQueries and StopQuery."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def insights_group(cloudlet_server):
    logs = cloudlet_server.client("logs")
    group = f"/insights/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    base = (int(time.time()) - 2400) // 600 * 600 * 1000  # on a 10-minute boundary
    for stream in ("api-1", "api-2"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = {"api-1": [], "api-2": []}
    for i in range(30):
        doc = {
            "status": 500 if i % 5 == 0 else 200,
            "latency": i * 10,
            "user": {"id": f"u{i % 3}"},
            "path": f"/p{i % 2}",
        }
        stream = "api-1" if i % 2 == 0 else "api-2"
        events[stream].append({"timestamp": base + i * 60_000, "message": json.dumps(doc)})
    for stream, batch in events.items():
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="api-1",
        logEvents=[{"timestamp": base + 31 * 60_000, "message": "plain user=zed action=login"}],
    )
    return group, base // 1000


def _run(logs, group_and_base, query: str, **kw) -> dict:
    group, base = group_and_base
    qid = logs.start_query(
        logGroupName=group,
        startTime=base - 60,
        endTime=base + 3600,
        queryString=query,
        **kw,
    )["queryId"]
    deadline = time.time() + 20
    while time.time() < deadline:
        r = logs.get_query_results(queryId=qid)
        if r["status"] == "Complete":
            r["queryId"] = qid
            return r
        assert r["status"] in ("Scheduled", "Running"), r
        time.sleep(0.1)
    raise AssertionError(f"query did not complete: {query}")


def _rows(result: dict) -> list[dict]:
    return [{f["field"]: f["value"] for f in row} for row in result["results"]]


def test_stats_by_sort_limit(aws_client, insights_group):
    logs = aws_client("logs")
    r = _run(
        logs,
        insights_group,
        "stats count(*) as requests, avg(latency) as avg_latency, max(latency) by user.id "
        "| sort requests desc, user.id asc | limit 2",
    )
    assert _rows(r) == [
        {"user.id": "u0", "requests": "10", "avg_latency": "135", "max(latency)": "270"},
        {"user.id": "u1", "requests": "10", "avg_latency": "145", "max(latency)": "280"},
    ]
    assert r["statistics"]["recordsScanned"] == 31.0
    assert r["statistics"]["recordsMatched"] == 31.0
    assert r["statistics"]["bytesScanned"] > 0


def test_stats_by_bin_and_filter(aws_client, insights_group):
    logs = aws_client("logs")
    r = _run(logs, insights_group, "filter status = 500 | stats count(*) by bin(10m)")
    rows = _rows(r)
    assert [row["count(*)"] for row in rows] == ["2", "2", "2"]
    assert rows[0]["bin(10m)"].endswith(":00.000") and len(rows[0]["bin(10m)"]) == 23
    assert r["statistics"]["recordsMatched"] == 6.0
    errs = _run(
        logs,
        insights_group,
        "fields @timestamp, latency, @logStream | filter status = 500 and latency >= 100 "
        "| sort latency desc | limit 3",
    )
    rows = _rows(errs)
    assert [row["latency"] for row in rows] == ["250", "200", "150"]
    assert {row["@logStream"] for row in rows} == {"api-1", "api-2"}
    assert all("@ptr" in row for row in rows)
    like = _run(logs, insights_group, "filter @message like /p1/ | stats count(*) as n")
    assert _rows(like) == [{"n": "15"}]
    within = _run(
        logs,
        insights_group,
        "filter user.id in ['u1', 'u2'] and not ispresent(nope) "
        "| stats count_distinct(user.id) as users, sum(latency) as total",
    )
    assert _rows(within) == [{"users": "2", "total": "3000"}]


def test_parse_and_display(aws_client, insights_group):
    logs = aws_client("logs")
    r = _run(
        logs,
        insights_group,
        'parse @message "user=* action=*" as who, what | filter ispresent(who) | display who, what',
    )
    assert _rows(r) == [{"who": "zed", "what": "login"}]
    r = _run(
        logs,
        insights_group,
        'parse @message /"latency": (?<lat>\\d+)/ | filter lat > 280 | display lat, @log',
    )
    group = insights_group[0]
    assert _rows(r) == [{"lat": "290", "@log": f"000000000000:{group}"}]


def test_malformed_describe_stop(aws_client, insights_group):
    logs = aws_client("logs")
    group, base = insights_group
    for bad in ("stats", "fields @message | sort", "bogus @message", "filter (a = 1"):
        with pytest.raises(ClientError) as exc:
            logs.start_query(logGroupName=group, startTime=base, endTime=base + 60, queryString=bad)
        assert exc.value.response["Error"]["Code"] == "MalformedQueryException", bad
    with pytest.raises(ClientError) as exc:
        logs.start_query(
            logGroupName=group + "-nope", startTime=base, endTime=base + 60, queryString="limit 1"
        )
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    done = _run(logs, insights_group, "fields @message | limit 1")
    assert len(done["results"]) == 1
    listed = logs.describe_queries(logGroupName=group, status="Complete")["queries"]
    assert done["queryId"] in [q["queryId"] for q in listed]
    assert logs.stop_query(queryId=done["queryId"])["success"] is False
    with pytest.raises(ClientError) as exc:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_log_record_fields_and_list_log_groups(aws_client, insights_group):
    logs = aws_client("logs")
    group, _ = insights_group
    r = _run(logs, insights_group, "filter latency = 120 | fields latency")
    [row] = _rows(r)
    rec = logs.get_log_record(logRecordPointer=row["@ptr"])["logRecord"]
    assert rec["latency"] == "120" and rec["user.id"] == "u0" and rec["@logStream"] == "api-1"
    assert rec["@log"] == f"000000000000:{group}" and json.loads(rec["@message"])["status"] == 200
    fields = {
        f["name"]: f["percent"]
        for f in logs.get_log_group_fields(logGroupName=group)["logGroupFields"]
    }
    assert fields["@message"] == 100 and fields["user.id"] == 97 and fields["status"] == 97
    listed = logs.list_log_groups(logGroupNamePattern=f"^{group}$")["logGroups"]
    assert listed == [
        {
            "logGroupName": group,
            "logGroupArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}",
            "logGroupClass": "STANDARD",
        }
    ]


def test_query_definitions(aws_client):
    logs = aws_client("logs")
    name = f"saved/{uuid.uuid4().hex[:8]}"
    qid = logs.put_query_definition(
        name=name, queryString="fields @message | limit 5", logGroupNames=["/a"]
    )["queryDefinitionId"]
    logs.put_query_definition(name=name, queryDefinitionId=qid, queryString="stats count(*)")
    [d] = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert (d["queryDefinitionId"], d["queryString"], d["logGroupNames"]) == (
        qid,
        "stats count(*)",
        [],
    )
    with pytest.raises(ClientError) as exc:
        logs.put_query_definition(name=name, queryString="bogus")
    assert exc.value.response["Error"]["Code"] == "MalformedQueryException"
    assert logs.delete_query_definition(queryDefinitionId=qid)["success"] is True
    with pytest.raises(ClientError) as exc:
        logs.delete_query_definition(queryDefinitionId=qid)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
