"""Scan walks a table in DynamoDB's own partition-hash order, and parallel Scan segments
hold the keys DynamoDB's do: the orders and segments below were recorded against
DynamoDB (dynalite's scan.js "should return items in string/number hash order" and
"...from correct string/number hash segments"; moto's AWS-verified
``test_scan_with_alternating_hash_keys``). A database written with the older CRC-32
hashes is rehashed when the server opens it, with every item still found."""

from __future__ import annotations

import sqlite3
import zlib

import pytest

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import N, S, client, index, make_table, tname

STRING_KEYS = [str(i) for i in range(10)] + ["aardman", "hello", "zapf", "äáöü"]
STRING_ORDER = [
    "2",
    "8",
    "9",
    "1",
    "6",
    "hello",
    "0",
    "5",
    "4",
    "äáöü",
    "aardman",
    "7",
    "3",
    "zapf",
]
NUMBER_KEYS = [str(i) for i in range(10)] + ["-0.09", "999.9", "0.012345", "-999.9"]
NUMBER_ORDER = [
    "7",
    "999.9",
    "8",
    "3",
    "2",
    "-999.9",
    "9",
    "4",
    "-0.09",
    "6",
    "1",
    "0",
    "0.012345",
    "5",
]


@pytest.fixture
def ddb(cloudlet_server):
    return client(cloudlet_server)


def _put_all(ddb, table: str, values: list[dict]) -> None:
    ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {"pk": v}}} for v in values]}
    )


def _scanned(ddb, table: str, **kw) -> list[str]:
    items = ddb.scan(TableName=table, **kw)["Items"]
    return [next(iter(item["pk"].values())) for item in items]


def test_string_keys_scan_in_dynamodbs_hash_order(ddb):
    table = make_table(ddb, tname("order-s"))
    _put_all(ddb, table, [S(k) for k in STRING_KEYS])
    assert _scanned(ddb, table) == STRING_ORDER
    # Paged, the same order.
    page = ddb.scan(TableName=table, Limit=5)
    rest = ddb.scan(TableName=table, ExclusiveStartKey=page["LastEvaluatedKey"])
    got = [i["pk"]["S"] for i in page["Items"] + rest["Items"]]
    assert got == STRING_ORDER


def test_number_keys_scan_in_dynamodbs_hash_order(ddb):
    table = make_table(ddb, tname("order-n"), hash=("pk", "N"))
    _put_all(ddb, table, [N(k) for k in NUMBER_KEYS])
    assert _scanned(ddb, table) == NUMBER_ORDER


def test_segments_hold_dynamodbs_keys(ddb):
    strings = make_table(ddb, tname("seg-s"))
    _put_all(ddb, strings, [S(k) for k in ("3635", "228", "1668", "3435")])
    segment = {"TotalSegments": 4096}
    assert sorted(_scanned(ddb, strings, Segment=0, **segment)) == ["228", "3635"]
    assert _scanned(ddb, strings, Segment=1, **segment) == ["1668"]
    assert _scanned(ddb, strings, Segment=4, **segment) == ["3435"]
    numbers = make_table(ddb, tname("seg-n"), hash=("pk", "N"))
    _put_all(ddb, numbers, [N("251"), N("2388")])
    assert _scanned(ddb, numbers, Segment=1, **segment) == ["251"]
    assert _scanned(ddb, numbers, Segment=4095, **segment) == ["2388"]


def test_partitions_come_in_hash_order_and_sort_keys_in_order(ddb):
    # moto's AWS-verified scan tests: partition A's items first, each partition sorted.
    table = make_table(ddb, tname("alt"), range=("sk", "N"))
    for pk in ("B", "A"):
        for sk in ("3", "1", "2"):
            ddb.put_item(TableName=table, Item={"pk": S(pk), "sk": N(sk)})
    items = ddb.scan(TableName=table)["Items"]
    assert [(i["pk"]["S"], i["sk"]["N"]) for i in items] == [
        ("A", "1"),
        ("A", "2"),
        ("A", "3"),
        ("B", "1"),
        ("B", "2"),
        ("B", "3"),
    ]


def test_an_older_database_is_rehashed_on_open(tmp_path):
    data = tmp_path / "data"
    server = CloudletServer.start(data_dir=data)
    try:
        ddb = client(server)
        table = make_table(ddb, "rehash", hash=("pk", "N"), gsis=[index("by-g", ("g", "S"))])
        _put_all(ddb, table, [N(k) for k in NUMBER_KEYS])
        ddb.update_item(
            TableName=table,
            Key={"pk": N("7")},
            UpdateExpression="SET g = :g",
            ExpressionAttributeValues={":g": S("x")},
        )
        backup = ddb.create_backup(TableName=table, BackupName="before")["BackupDetails"]
    finally:
        server.stop()
    # What an older cloudlet wrote: CRC-32 of the key bytes, user_version 0.
    conn = sqlite3.connect(data / "dynamodb.sqlite3")
    conn.create_function("crc", 1, zlib.crc32)
    for kind in ("items", "index_items", "backup_items"):
        conn.execute(f"UPDATE {kind} SET h = crc(hk)")  # noqa: S608 - test's own names
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    server = CloudletServer.start(data_dir=data)
    try:
        ddb = client(server)
        assert _scanned(ddb, table) == NUMBER_ORDER
        for k in NUMBER_KEYS:
            assert ddb.get_item(TableName=table, Key={"pk": N(k)})["Item"]["pk"] == N(k)
        by_g = ddb.query(
            TableName=table,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": S("x")},
        )["Items"]
        assert [i["pk"] for i in by_g] == [N("7")]
        ddb.restore_table_from_backup(TargetTableName="restored", BackupArn=backup["BackupArn"])
        ddb.get_waiter("table_exists").wait(TableName="restored")
        assert ddb.get_item(TableName="restored", Key={"pk": N("999.9")})["Item"]
        assert _scanned(ddb, "restored") == NUMBER_ORDER
    finally:
        server.stop()
