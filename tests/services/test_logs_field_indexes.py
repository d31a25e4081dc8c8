"""CloudWatch Logs field indexes through boto3: index policies of a log group and of the
account (FIELD_INDEX_POLICY by name prefix; the group's own wins), AWS's policy limits,
events indexed as they arrive (DescribeFieldIndexes with the default @logStream and
traceId), Insights' filterIndex keeping to indexed events, a plain filter on an indexed
field giving the same rows from fewer scanned records, and all of it after a restart."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer


def _name(prefix: str = "/fidx") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def _now() -> int:
    return int(time.time() * 1000)


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _put(logs, group: str, docs: list, stream: str = "s", at: int | None = None) -> None:
    at = _now() - 60_000 if at is None else at
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError:
        pass
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": at + i, "message": d if isinstance(d, str) else json.dumps(d)}
            for i, d in enumerate(docs)
        ],
    )


def _query(logs, group: str | list[str], text: str) -> dict:
    groups = [group] if isinstance(group, str) else group
    now = int(time.time())
    qid = logs.start_query(
        logGroupNames=groups, startTime=now - 3600, endTime=now + 60, queryString=text
    )["queryId"]
    deadline = time.time() + 20
    while time.time() < deadline:
        r = logs.get_query_results(queryId=qid)
        if r["status"] == "Complete":
            r["rows"] = [{f["field"]: f["value"] for f in row} for row in r["results"]]
            return r
        assert r["status"] in ("Scheduled", "Running"), r
        time.sleep(0.05)
    raise AssertionError(f"query did not complete: {text}")


def test_index_policy_crud_and_limits(aws_client):
    logs = aws_client("logs")
    group = _name()
    logs.create_log_group(logGroupName=group)
    assert logs.describe_index_policies(logGroupIdentifiers=[group])["indexPolicies"] == []
    doc = json.dumps({"Fields": ["requestId"], "FieldsV2": {"status": {"type": "FACET"}}})
    put = logs.put_index_policy(logGroupIdentifier=group, policyDocument=doc)["indexPolicy"]
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    assert put["logGroupIdentifier"] == arn and put["source"] == "LOG_GROUP"
    assert put["policyDocument"] == doc and "policyName" not in put
    assert abs(put["lastUpdateTime"] - _now()) < 60_000
    [got] = logs.describe_index_policies(logGroupIdentifiers=[arn])["indexPolicies"]
    assert got == put
    bad = [
        "not json",
        json.dumps({"Fields": []}),
        json.dumps({"Fields": [f"f{i}" for i in range(21)]}),
        json.dumps({"Fields": ["x" * 101]}),
        json.dumps({"Fields": ["@userId"]}),
        json.dumps({"Fields": ["a b"]}),
        json.dumps({"Fields": ["a"], "FieldsV2": {"a": {"type": "FACET"}}}),
        json.dumps({"FieldsV2": {"a": {"type": "OTHER"}}}),
        json.dumps({"Indexes": ["a"]}),
    ]
    for text in bad:
        with pytest.raises(ClientError) as exc:
            logs.put_index_policy(logGroupIdentifier=group, policyDocument=text)
        assert _code(exc) == "InvalidParameterException", text
    ok = json.dumps({"Fields": ["@@userId", "@requestId", "a.b-c/d#e"]})
    logs.put_index_policy(logGroupIdentifier=group, policyDocument=ok)
    with pytest.raises(ClientError) as exc:
        logs.put_index_policy(logGroupIdentifier=_name(), policyDocument=doc)
    assert _code(exc) == "ResourceNotFoundException"
    ia = _name()
    logs.create_log_group(logGroupName=ia, logGroupClass="INFREQUENT_ACCESS")
    with pytest.raises(ClientError) as exc:
        logs.put_index_policy(logGroupIdentifier=ia, policyDocument=doc)
    assert _code(exc) == "InvalidParameterException"
    logs.delete_index_policy(logGroupIdentifier=group)
    assert logs.describe_index_policies(logGroupIdentifiers=[group])["indexPolicies"] == []
    with pytest.raises(ClientError) as exc:
        logs.delete_index_policy(logGroupIdentifier=group)
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.describe_index_policies(logGroupIdentifiers=[_name()])
    assert _code(exc) == "ResourceNotFoundException"


def test_account_field_index_policy_by_prefix(aws_client):
    logs = aws_client("logs")
    prefix = f"/fidx-acct-{uuid.uuid4().hex[:8]}/"
    name = f"idx-{uuid.uuid4().hex[:8]}"
    inside, outside = prefix + "app", _name()
    for g in (inside, outside):
        logs.create_log_group(logGroupName=g)
    doc = json.dumps({"Fields": ["orderId"]})
    put = logs.put_account_policy(
        policyName=name,
        policyType="FIELD_INDEX_POLICY",
        policyDocument=doc,
        selectionCriteria=f'LogGroupNamePrefix IN ["{prefix}"]',
    )["accountPolicy"]
    assert put["policyType"] == "FIELD_INDEX_POLICY" and put["policyName"] == name
    try:
        [got] = logs.describe_index_policies(logGroupIdentifiers=[inside])["indexPolicies"]
        assert got["source"] == "ACCOUNT" and got["policyName"] == name
        assert got["policyDocument"] == doc and got["logGroupIdentifier"].endswith(inside)
        assert logs.describe_index_policies(logGroupIdentifiers=[outside])["indexPolicies"] == []
        listed = logs.describe_account_policies(policyType="FIELD_INDEX_POLICY")
        assert name in [p["policyName"] for p in listed["accountPolicies"]]
        # events of the selected group are indexed on the account's fields
        _put(logs, inside, [{"orderId": "o-1"}, {"orderId": "o-2"}, "plain"])
        names = [
            f["fieldIndexName"]
            for f in logs.describe_field_indexes(logGroupIdentifiers=[inside])["fieldIndexes"]
        ]
        assert names == ["@logStream", "orderId"]
        r = _query(logs, inside, "filterIndex orderId = 'o-2' | fields orderId")
        assert [row["orderId"] for row in r["rows"]] == ["o-2"]
        # the group's own policy wins
        own = json.dumps({"Fields": ["sku"]})
        logs.put_index_policy(logGroupIdentifier=inside, policyDocument=own)
        [got] = logs.describe_index_policies(logGroupIdentifiers=[inside])["indexPolicies"]
        assert got["source"] == "LOG_GROUP" and got["policyDocument"] == own
        for criteria in (f'LogGroupNamePrefix IN ["{prefix}ap"]', None):
            kw = {"selectionCriteria": criteria} if criteria else {}
            with pytest.raises(ClientError) as exc:
                logs.put_account_policy(
                    policyName=name + "-2",
                    policyType="FIELD_INDEX_POLICY",
                    policyDocument=doc,
                    **kw,
                )
            assert _code(exc) == "InvalidParameterException"
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName=name + "-3",
                policyType="FIELD_INDEX_POLICY",
                policyDocument=json.dumps({"Fields": []}),
                selectionCriteria=f'LogGroupNamePrefix IN ["{prefix}zz-other"]',
            )
        assert _code(exc) == "InvalidParameterException"
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName=name + "-4",
                policyType="FIELD_INDEX_POLICY",
                policyDocument=doc,
                selectionCriteria='DataSourceName = "amazon_vpc" AND DataSourceType = "flow"',
            )
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName=name + "-5", policyType="METRIC_EXTRACTION_POLICY", policyDocument="{}"
            )
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    finally:
        logs.delete_account_policy(policyName=name, policyType="FIELD_INDEX_POLICY")
    assert logs.describe_index_policies(logGroupIdentifiers=[inside])["indexPolicies"][0][
        "source"
    ] == ("LOG_GROUP")


@pytest.fixture(scope="module")
def indexed_group(cloudlet_server):
    """A group with 10 events from before its index policy (r1 each), then 40 after:
    requestId r0..r9 four times, traceId on every tenth, over two streams."""
    logs = cloudlet_server.client("logs")
    group = _name()
    logs.create_log_group(logGroupName=group)
    at = _now() - 600_000
    _put(logs, group, [{"requestId": "r1", "n": -i} for i in range(10)], at=at)
    logs.put_index_policy(
        logGroupIdentifier=group, policyDocument=json.dumps({"Fields": ["requestId", "code"]})
    )
    docs = [
        {"requestId": f"r{i % 10}", "n": i, "code": 500 if i % 8 == 0 else 200}
        | ({"traceId": f"t{i}"} if i % 10 == 0 else {})
        for i in range(40)
    ]
    _put(logs, group, docs[:20], stream="a", at=at + 1000)
    _put(logs, group, docs[20:], stream="b", at=at + 2000)
    return group, at


def test_describe_field_indexes(aws_client, indexed_group):
    logs = aws_client("logs")
    group, at = indexed_group
    found = logs.describe_field_indexes(logGroupIdentifiers=[group])["fieldIndexes"]
    by_name = {f["fieldIndexName"]: f for f in found}
    assert sorted(by_name) == ["@logStream", "code", "requestId", "traceId"]
    assert by_name["requestId"]["firstEventTime"] == at + 1000
    assert by_name["requestId"]["lastEventTime"] == at + 2019
    assert by_name["traceId"]["lastEventTime"] == at + 2010
    assert by_name["@logStream"]["firstEventTime"] == at
    assert all(f["type"] == "FIELD_INDEX" for f in found)
    assert all(abs(f["lastScanTime"] - _now()) < 120_000 for f in found)
    assert all(f["logGroupIdentifier"].endswith(group) for f in found)
    with pytest.raises(ClientError) as exc:
        logs.describe_field_indexes(logGroupIdentifiers=[_name()])
    assert _code(exc) == "ResourceNotFoundException"


def test_filter_on_indexed_field_scans_less_same_rows(aws_client, indexed_group):
    logs = aws_client("logs")
    group, _ = indexed_group
    shown = "fields n, requestId | sort n asc"
    indexed = _query(logs, group, f"filter requestId = 'r1' | {shown}")
    scanned = _query(logs, group, f"filter requestId like /^r1$/ | {shown}")
    assert indexed["rows"] == scanned["rows"]
    # the 10 events from before the policy are scanned and found too
    assert [int(r["n"]) for r in indexed["rows"]] == [*range(-9, 1), 1, 11, 21, 31]
    assert scanned["statistics"]["recordsScanned"] == 50.0
    assert indexed["statistics"]["recordsScanned"] == 14.0
    assert indexed["statistics"]["bytesScanned"] < scanned["statistics"]["bytesScanned"]
    both = _query(logs, group, "filter code = 500 and requestId in ['r0', 'r6'] | " + shown)
    assert [int(r["n"]) for r in both["rows"]] == [0, 16]
    assert both["statistics"]["recordsScanned"] == 12.0  # pre-policy ten + 2 indexed
    stream = _query(logs, group, "filter @logStream = 'b' | stats count(*) as c")
    assert stream["rows"] == [{"c": "20"}] and stream["statistics"]["recordsScanned"] == 20.0
    # an or, or a field the query redefines, is left to the scan
    either = _query(logs, group, "filter requestId = 'r1' or n = 5 | stats count(*) as c")
    assert either["rows"] == [{"c": "15"}] and either["statistics"]["recordsScanned"] == 50.0
    alias = _query(logs, group, "fields n as requestId | filter requestId = 3 | display n")
    assert alias["rows"] == [{"n": "3"}]


def test_filter_index_keeps_to_indexed_events(aws_client, indexed_group):
    logs = aws_client("logs")
    group, _ = indexed_group
    plain = _name()
    logs.create_log_group(logGroupName=plain)
    _put(logs, plain, [{"requestId": "r1", "n": 100}])
    r = _query(logs, [group, plain], "filterIndex requestId = 'r1' | fields n | sort n asc")
    assert [row["n"] for row in r["rows"]] == ["1", "11", "21", "31"]
    assert r["statistics"]["recordsScanned"] == 4.0
    r = _query(logs, group, "filterIndex requestId in ['r2', 'r3'] | stats count(*) as c")
    assert r["rows"] == [{"c": "8"}] and r["statistics"]["recordsScanned"] == 8.0
    r = _query(logs, group, "filterIndex code = 500 and requestId = 'r8' | display n")
    assert r["rows"] == [{"n": "8"}]
    r = _query(logs, group, "filterIndex traceId = 't30' | display n")
    assert r["rows"] == [{"n": "30"}]
    r = _query(logs, group, "filterIndex user = 'nobody' | display n")
    assert r["rows"] == [] and r["statistics"]["recordsScanned"] == 0.0
    for text in (
        "filterIndex requestId like /r1/",
        "filterIndex requestId = 'r1' or code = 500",
        "stats count(*) as c | filterIndex requestId = 'r1'",
    ):
        with pytest.raises(ClientError) as exc:
            _query(logs, group, text)
        assert _code(exc) == "MalformedQueryException", text


def test_indexes_survive_restart_and_policy_changes(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        logs = server.client("logs")
        group = _name()
        logs.create_log_group(logGroupName=group)
        logs.put_account_policy(
            policyName="all",
            policyType="FIELD_INDEX_POLICY",
            policyDocument=json.dumps({"Fields": ["user"]}),
        )
        _put(logs, group, [{"user": f"u{i % 3}", "i": i} for i in range(9)])
        before = logs.describe_field_indexes(logGroupIdentifiers=[group])["fieldIndexes"]
    with CloudletServer.start(data_dir=tmp_path) as server:
        logs = server.client("logs")
        after = logs.describe_field_indexes(logGroupIdentifiers=[group])["fieldIndexes"]
        assert after == before and {f["fieldIndexName"] for f in after} == {"@logStream", "user"}
        [policy] = logs.describe_index_policies(logGroupIdentifiers=[group])["indexPolicies"]
        assert policy["source"] == "ACCOUNT" and policy["policyName"] == "all"
        r = _query(logs, group, "filterIndex user = 'u1' | display i | sort i asc")
        assert [row["i"] for row in r["rows"]] == ["1", "4", "7"]
        # no longer indexed: later events are not covered, so a filter scans them
        logs.delete_account_policy(policyName="all", policyType="FIELD_INDEX_POLICY")
        _put(logs, group, [{"user": "u1", "i": 100}], at=_now() - 1000)
        r = _query(logs, group, "filter user = 'u1' | display i | sort i asc")
        assert [row["i"] for row in r["rows"]] == ["1", "4", "7", "100"]
        assert r["statistics"]["recordsScanned"] == 10.0
        r = _query(logs, group, "filterIndex user = 'u1' | display i | sort i asc")
        assert [row["i"] for row in r["rows"]] == ["1", "4", "7"]
        logs.delete_log_stream(logGroupName=group, logStreamName="s")
        assert logs.describe_field_indexes(logGroupIdentifiers=[group])["fieldIndexes"] == []
        r = _query(logs, group, "filterIndex user = 'u1' | display i")
        assert r["rows"] == []
