"""Multi-attribute GSI keys (AWS, November 2025) with real boto3: Query, paging, errors.

A GSI key may have up to four HASH and four RANGE attributes (developer guide,
GSI.DesignPattern.MultiAttributeKeys; AWS What's New 2025-11 "Amazon DynamoDB introduces
multi-attribute composite keys in global secondary indexes"). What is asserted here and
where it comes from:

- an item is in the index only with every key attribute of its declared type (the guide's
  "Sparse multi-attribute keys"); results come in the sort attributes' order, compared one
  after another, reversed by ScanIndexForward=false; equalities on a leading run of sort
  attributes, then at most one range condition on the last one named, clauses in any
  order; a page's LastEvaluatedKey carries the table key and every index key attribute
  (paritysuite/dynamodb-conformance, tests/tier1/query/multiAttributeGsiKey.test.ts,
  verified against AWS in October 2026);
- the gap and range-before-last text "RANGE key attributes <a> must have equality
  conditions specified in the query because a condition is present on key attribute <b>"
  (same test, AWS-verified);
- PartiQL's refusal of a multi-attribute index (paritysuite, tests/tier3/error-messages/
  partiqlMultiAttributeIndex.test.ts, AWS-verified);
- NOT captured from AWS for a multi-attribute key, kept as the single-attribute texts:
  "Query condition missed key schema element: <first missing partition attribute>" and
  "Query key condition not supported" for a partition attribute compared with ``>``.

botocore 1.43's model gives KeySchema a minimum of 1 and no maximum, so the default client
(parameter validation on) sends these KeySchemas as they are.
"""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import N, S, client, tname

GAP = (
    "RANGE key attributes {} must have equality conditions specified in the query because a "
    "condition is present on key attribute {}"
)
INDEX = "tenant-kind"
KEYS = {"id", "tenant", "site", "kind", "score", "tag"}

# id: (kind, score, tag) in partition tenant=t1, site=1; listed in index order.
ROWS = {
    "i4": ("a", "-3", b"\xff"),
    "i1": ("a", "2", b"\x01"),
    "i2": ("a", "10", b"\x00"),
    "i3": ("a", "10", b"\x00\x01"),
    "i5": ("ab", "1", b"\x02"),
    "i6": ("b", "0", b"\x05"),
    "i7": ("b", "1.5", b"\x05"),
}
ORDER = list(ROWS)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


def multi_gsi(name: str = INDEX, projection: str = "ALL") -> dict:
    """Two HASH (S, N) and three RANGE (S, N, B) attributes."""
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "site", "KeyType": "HASH"},
            {"AttributeName": "kind", "KeyType": "RANGE"},
            {"AttributeName": "score", "KeyType": "RANGE"},
            {"AttributeName": "tag", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": projection},
    }


KEYS_ONLY = {
    "IndexName": "keys-only",
    "KeySchema": [
        {"AttributeName": "tenant", "KeyType": "HASH"},
        {"AttributeName": "kind", "KeyType": "RANGE"},
        {"AttributeName": "id", "KeyType": "RANGE"},  # the table's key, as the guide's matchId
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}

MULTI_DEFS = [
    {"AttributeName": n, "AttributeType": t}
    for n, t in [("tenant", "S"), ("site", "N"), ("kind", "S"), ("score", "N"), ("tag", "B")]
]


def item(pk: str, kind: str, score: str, tag: bytes, tenant: str = "t1", site: str = "1"):
    return {
        "id": S(pk),
        "tenant": S(tenant),
        "site": N(site),
        "kind": S(kind),
        "score": N(score),
        "tag": {"B": tag},
        "n": N("1"),
    }


def fill(ddb, table: str) -> None:
    for pk, row in ROWS.items():
        ddb.put_item(TableName=table, Item=item(pk, *row))
    ddb.put_item(TableName=table, Item=item("i8", "a", "1", b"\x01", site="2"))
    no_tag = item("i9", "a", "5", b"")
    del no_tag["tag"]  # not in the index: a key attribute is missing
    ddb.put_item(TableName=table, Item=no_tag)
    no_site = item("i10", "a", "5", b"\x01")
    del no_site["site"]
    ddb.put_item(TableName=table, Item=no_site)


@pytest.fixture(scope="module")
def table(ddb):
    name = tname("multikey")
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, *MULTI_DEFS],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[multi_gsi(), KEYS_ONLY],
    )
    fill(ddb, name)
    return name


VALUES = {
    ":t": S("t1"),
    ":g": N("1"),
    ":a": S("a"),
    ":ab": S("ab"),
    ":b": S("b"),
    ":two": N("2"),
    ":ten": N("10"),
    ":m3": N("-3"),
    ":tag": {"B": b"\x00\x01"},
}
PARTITION = "tenant = :t AND site = :g"


def query(ddb, table: str, condition: str, **kw) -> dict:
    named = set(re.findall(r":\w+", condition + " " + kw.get("FilterExpression", "")))
    values = {k: v for k, v in VALUES.items() if k in named}
    return ddb.query(
        TableName=table,
        IndexName=kw.pop("IndexName", INDEX),
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values | kw.pop("values", {}),
        **kw,
    )


def ids(ddb, table: str, condition: str, **kw) -> list[str]:
    return [i["id"]["S"] for i in query(ddb, table, condition, **kw)["Items"]]


def error(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    return exc.value.response["Error"]["Message"]


# --------------------------------------------------------------------------- reading


def test_describe_table_echoes_the_key_schema_in_order(ddb, table):
    gsi = ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"][0]
    assert gsi["KeySchema"] == multi_gsi()["KeySchema"]
    assert gsi["ItemCount"] == len(ROWS) + 1  # i8 too; i9 and i10 lack a key attribute


def test_the_partition_alone_reads_every_item_in_sort_attribute_order(ddb, table):
    out = query(ddb, table, PARTITION)
    assert [i["id"]["S"] for i in out["Items"]] == ORDER
    assert out["Count"] == out["ScannedCount"] == len(ORDER)
    assert ids(ddb, table, PARTITION, ScanIndexForward=False) == ORDER[::-1]
    assert ids(ddb, table, "site = :g AND tenant = :t", values={":g": N("2")}) == ["i8"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("kind = :a", ["i4", "i1", "i2", "i3"]),
        ("kind = :a AND score = :ten", ["i2", "i3"]),
        ("kind = :a AND score = :ten AND tag = :tag", ["i3"]),
        ("kind = :a AND score = :ten AND tag < :tag", ["i2"]),
        ("kind = :a AND score > :two", ["i2", "i3"]),
        ("kind = :a AND score >= :two", ["i1", "i2", "i3"]),
        ("kind = :a AND score < :two", ["i4"]),
        ("kind = :a AND score <= :two", ["i4", "i1"]),
        ("kind > :a", ["i5", "i6", "i7"]),
        ("kind < :b", ["i4", "i1", "i2", "i3", "i5"]),
        ("begins_with(kind, :a)", ["i4", "i1", "i2", "i3", "i5"]),
        ("kind = :a AND score BETWEEN :m3 AND :two", ["i4", "i1"]),
        ("kind BETWEEN :ab AND :b", ["i5", "i6", "i7"]),
    ],
)
def test_sort_conditions_left_to_right(ddb, table, condition, expected):
    assert ids(ddb, table, f"{PARTITION} AND {condition}") == expected
    got = ids(ddb, table, f"{condition} AND {PARTITION}", ScanIndexForward=False)
    assert got == expected[::-1]


def test_pages_carry_every_key_attribute(ddb, table):
    for forward in (True, False):
        seen, start, pages = [], None, 0
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            out = query(ddb, table, PARTITION, Limit=2, ScanIndexForward=forward, **extra)
            seen += [i["id"]["S"] for i in out["Items"]]
            pages += 1
            start = out.get("LastEvaluatedKey")
            if not start:
                break
            assert set(start) == KEYS
        assert seen == (ORDER if forward else ORDER[::-1])
        assert pages == 4


def test_a_start_key_resumes_inside_a_sort_condition(ddb, table):
    first = query(ddb, table, f"{PARTITION} AND kind = :a", Limit=1)
    assert [i["id"]["S"] for i in first["Items"]] == ["i4"]
    rest = ids(
        ddb, table, f"{PARTITION} AND kind = :a", ExclusiveStartKey=first["LastEvaluatedKey"]
    )
    assert rest == ["i1", "i2", "i3"]


def test_a_table_key_attribute_in_the_sort_key(ddb, table):
    out = query(ddb, table, "tenant = :t AND kind = :a", IndexName="keys-only", Limit=3)
    assert [i["id"]["S"] for i in out["Items"]] == ["i1", "i10", "i2"]
    assert [set(i) for i in out["Items"]] == [{"id", "tenant", "kind"}] * 3
    assert set(out["LastEvaluatedKey"]) == {"id", "tenant", "kind"}
    start = out["LastEvaluatedKey"]
    rest = ids(
        ddb, table, "tenant = :t AND kind = :a", IndexName="keys-only", ExclusiveStartKey=start
    )
    assert rest == ["i3", "i4", "i8", "i9"]
    condition = "tenant = :t AND kind = :a AND id < :i"
    before = ids(ddb, table, condition, IndexName="keys-only", values={":i": S("i3")})
    assert before == ["i1", "i10", "i2"]


def test_projection_select_and_filters(ddb, table):
    keys_only = query(ddb, table, f"{PARTITION} AND kind = :b")["Items"]
    assert [set(i) for i in keys_only] == [KEYS | {"n"}] * 2
    one = {":one": N("1")}
    counted = query(ddb, table, PARTITION, Select="COUNT", FilterExpression="n = :one", values=one)
    assert (counted["Count"], "Items" in counted) == (len(ORDER), False)
    on_key = error(lambda: query(ddb, table, PARTITION, FilterExpression="score > :two"))
    assert on_key == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
        "score"
    )
    scanned = ddb.scan(TableName=table, IndexName=INDEX)["Items"]
    assert {i["id"]["S"] for i in scanned} == {*ORDER, "i8"}


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (f"{PARTITION} AND score = :two", GAP.format("kind", "score")),
        (f"{PARTITION} AND kind = :a AND tag = :tag", GAP.format("score", "tag")),
        (f"{PARTITION} AND kind > :a AND score = :two", GAP.format("kind", "score")),
        (f"{PARTITION} AND begins_with(kind, :a) AND score = :two", GAP.format("kind", "score")),
        ("tenant = :t AND kind = :a", "Query condition missed key schema element: site"),
        ("tenant = :t AND site > :g", "Query key condition not supported"),
        (
            f"{PARTITION} AND kind = :two",
            "One or more parameter values were invalid: Condition parameter type does not "
            "match schema type",
        ),
    ],
)
def test_key_conditions_aws_refuses(ddb, table, condition, expected):
    assert error(lambda: ids(ddb, table, condition)) == expected


def test_partiql_refuses_the_index_but_not_the_table(ddb, table):
    statement = f'SELECT * FROM "{table}"."{INDEX}" WHERE tenant = \'t1\' AND site = 1'
    refused = error(lambda: ddb.execute_statement(Statement=statement))
    assert refused == (
        "PartiQL statements cannot be executed on tables with multi-attribute HASH keys or "
        "multi-attribute RANGE keys."
    )
    out = ddb.execute_statement(Statement=f"SELECT * FROM \"{table}\" WHERE id = 'i1'")
    assert [i["id"]["S"] for i in out["Items"]] == ["i1"]


# --------------------------------------------------------------------------- index lifecycle


def wait_active(ddb, name: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        gsis = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
        if all(g["IndexStatus"] == "ACTIVE" for g in gsis) or time.monotonic() > deadline:
            return gsis[0]
        time.sleep(0.05)


def test_update_table_adds_a_multi_attribute_gsi_over_existing_items(ddb):
    name = tname("multikey-add")
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    fill(ddb, name)
    out = ddb.update_table(
        TableName=name,
        AttributeDefinitions=MULTI_DEFS,
        GlobalSecondaryIndexUpdates=[{"Create": multi_gsi()}],
    )
    created = out["TableDescription"]["GlobalSecondaryIndexes"][0]
    assert created["KeySchema"] == multi_gsi()["KeySchema"]
    gsi = wait_active(ddb, name)
    assert (gsi["IndexStatus"], gsi["ItemCount"]) == ("ACTIVE", len(ROWS) + 1)
    assert ids(ddb, name, PARTITION) == ORDER
    ddb.put_item(TableName=name, Item=item("i0", "a", "-4", b"\x01"))
    assert ids(ddb, name, f"{PARTITION} AND kind = :a AND score < :two") == ["i0", "i4"]


def test_update_table_refuses_five_hash_attributes(ddb, table):
    gsi = multi_gsi("five")
    gsi["KeySchema"] = [{"AttributeName": n, "KeyType": "HASH"} for n in "vwxyz"]
    defs = [{"AttributeName": n, "AttributeType": "S"} for n in "vwxyz"]
    assert error(
        lambda: ddb.update_table(
            TableName=table,
            AttributeDefinitions=defs,
            GlobalSecondaryIndexUpdates=[{"Create": gsi}],
        )
    ) == (
        "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed "
        "number of HASH key attributes"
    )


def test_backup_and_point_in_time_restores_keep_the_index(ddb, table):
    arn = ddb.create_backup(TableName=table, BackupName="multikey")["BackupDetails"]["BackupArn"]
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    from_backup, from_pitr = tname("mk-backup"), tname("mk-pitr")
    ddb.restore_table_from_backup(TargetTableName=from_backup, BackupArn=arn)
    ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=from_pitr, UseLatestRestorableTime=True
    )
    for restored in (from_backup, from_pitr):
        gsis = ddb.describe_table(TableName=restored)["Table"]["GlobalSecondaryIndexes"]
        assert {g["IndexName"]: g["KeySchema"] for g in gsis}[INDEX] == multi_gsi()["KeySchema"]
        assert ids(ddb, restored, f"{PARTITION} AND kind = :a") == ["i4", "i1", "i2", "i3"]
    backup = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
    kept = backup["SourceTableFeatureDetails"]["GlobalSecondaryIndexes"]
    assert {g["IndexName"]: g["KeySchema"] for g in kept}[INDEX] == multi_gsi()["KeySchema"]
