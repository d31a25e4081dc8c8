"""A Query on a secondary index returns the items whose index key is equal in DynamoDB's
order for them: the partition hash of their *table* key (MD5 of ``Outliers``, the table
hash key's bytes and the table range key's bytes), not the table key's sort order. The
orders below are dynalite's query.js, recorded against DynamoDB ("should query on basic
hash global index", "...in reverse...", "...with ExclusiveStartKey...", "should query on a
global index if values are equal"); dynalite builds every index key, global or local, as
the index key followed by that hash (db/index.js ``createIndexKey``). A database written
before the hash was stored is migrated when the server opens it."""

from __future__ import annotations

import sqlite3
import zlib

import pytest

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import N, S, client, index, make_table, tname
from tests.services.test_dynamodb_scan_order import (
    NUMBER_KEYS,
    NUMBER_ORDER,
    STRING_KEYS,
    STRING_ORDER,
)


@pytest.fixture
def ddb(cloudlet_server):
    return client(cloudlet_server)


def _dynalite_table(ddb) -> str:
    """dynalite's test range table: key (a, b), GSIs index3 (c) and index4 (c, d)."""
    return make_table(
        ddb,
        tname("idx-order"),
        hash=("a", "S"),
        range=("b", "S"),
        gsis=[
            index("index3", ("c", "S")),
            index("index4", ("c", "S"), ("d", "S"), projection="INCLUDE", non_key=["e"]),
        ],
    )


def _put(ddb, table: str, items: list[dict]) -> None:
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items]})


def _keys(items: list[dict], *names: str) -> list[tuple[str, ...]]:
    return [tuple(next(iter(i[n].values())) for n in names) for i in items]


def _on_c(table: str, c: str, name: str = "index3", **kw) -> dict:
    return {
        "TableName": table,
        "IndexName": name,
        "KeyConditionExpression": "c = :c",
        "ExpressionAttributeValues": {":c": S(c)},
        **kw,
    }


# (a, b) of dynalite's seven items; the fifth has another c.
_ITEMS = [("a", "a"), ("b", "b"), ("c", "e"), ("c", "d"), ("c", "c"), ("d", "a"), ("e", "a")]


@pytest.fixture
def hash_gsi(ddb) -> tuple[str, str]:
    table = _dynalite_table(ddb)
    c = tname("c")
    _put(
        ddb,
        table,
        [{"a": S(a), "b": S(b), "c": S("c" if b == "c" else c)} for a, b in _ITEMS],
    )
    return table, c


def test_hash_gsi_orders_equal_keys_by_table_key_hash(ddb, hash_gsi):
    table, c = hash_gsi
    page = ddb.query(**_on_c(table, c, Limit=4))
    assert _keys(page["Items"], "a", "b") == [("b", "b"), ("a", "a"), ("c", "e"), ("e", "a")]
    assert page["LastEvaluatedKey"] == {"a": S("e"), "b": S("a"), "c": S(c)}
    rest = ddb.query(**_on_c(table, c, ExclusiveStartKey=page["LastEvaluatedKey"]))
    assert _keys(rest["Items"], "a", "b") == [("d", "a"), ("c", "d")]
    assert "LastEvaluatedKey" not in rest


def test_hash_gsi_start_key_resumes_in_that_order(ddb, hash_gsi):
    table, c = hash_gsi
    start = {"a": S("c"), "b": S("e"), "c": S(c)}
    page = ddb.query(**_on_c(table, c, Limit=2, ExclusiveStartKey=start))
    assert _keys(page["Items"], "a", "b") == [("e", "a"), ("d", "a")]
    assert page["LastEvaluatedKey"] == {"a": S("d"), "b": S("a"), "c": S(c)}


def test_hash_gsi_in_reverse(ddb, hash_gsi):
    table, c = hash_gsi
    page = ddb.query(**_on_c(table, c, Limit=4, ScanIndexForward=False))
    assert _keys(page["Items"], "a", "b") == [("c", "d"), ("d", "a"), ("e", "a"), ("c", "e")]
    assert page["LastEvaluatedKey"] == {"a": S("c"), "b": S("e"), "c": S(c)}
    start = {"a": S("e"), "b": S("a"), "c": S(c)}
    page = ddb.query(**_on_c(table, c, Limit=2, ScanIndexForward=False, ExclusiveStartKey=start))
    assert _keys(page["Items"], "a", "b") == [("c", "e"), ("a", "a")]
    assert page["LastEvaluatedKey"] == {"a": S("a"), "b": S("a"), "c": S(c)}


def test_range_gsi_orders_by_sort_key_then_table_key_hash(ddb):
    # dynalite's "should query on range global index" and its reverse: d first.
    table = _dynalite_table(ddb)
    c = tname("c")
    ds = {("a", "a"): "f", ("b", "b"): "a", ("c", "e"): "b", ("c", "d"): "c"}
    ds |= {("c", "c"): "d", ("d", "a"): "e", ("e", "a"): "f"}
    _put(
        ddb,
        table,
        [
            {"a": S(a), "b": S(b), "c": S("c" if b == "c" else c), "d": S(ds[(a, b)])}
            for a, b in _ITEMS
        ],
    )
    kc = "c = :c AND d < :d"
    values = {":c": S(c), ":d": S("f")}
    page = ddb.query(
        TableName=table,
        IndexName="index4",
        KeyConditionExpression=kc,
        ExpressionAttributeValues=values,
        Limit=3,
    )
    assert _keys(page["Items"], "a", "b") == [("b", "b"), ("c", "e"), ("c", "d")]
    assert page["LastEvaluatedKey"] == {"a": S("c"), "b": S("d"), "c": S(c), "d": S("c")}
    back = ddb.query(
        TableName=table,
        IndexName="index4",
        KeyConditionExpression=kc,
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        Limit=3,
    )
    assert _keys(back["Items"], "a", "b") == [("d", "a"), ("c", "d"), ("c", "e")]


# (a, b) of dynalite's "should query on a global index if values are equal": every item
# has c and d equal, so the table key's hash alone orders them.
_EQUAL = [("a", "a"), ("b", "a"), ("c", "a"), ("c", "b"), ("d", "a"), ("d", "b")]
_EQUAL_ORDER = [("a", "a"), ("d", "a"), ("b", "a"), ("c", "a"), ("d", "b"), ("c", "b")]


def test_range_gsi_with_equal_values(ddb):
    table = _dynalite_table(ddb)
    c = tname("c")
    _put(ddb, table, [{"a": S(a), "b": S(b), "c": S(c), "d": S("a")} for a, b in _EQUAL])
    start = {"a": S("a"), "b": S("a"), "c": S(c), "d": S("a")}
    after = ddb.query(**_on_c(table, c, "index4", ExclusiveStartKey=start))
    assert _keys(after["Items"], "a", "b") == _EQUAL_ORDER[1:]
    whole = ddb.query(**_on_c(table, c, "index4"))
    assert _keys(whole["Items"], "a", "b") == _EQUAL_ORDER
    back = ddb.query(**_on_c(table, c, "index4", ScanIndexForward=False))
    assert _keys(back["Items"], "a", "b") == _EQUAL_ORDER[::-1]
    # Page by page, one item at a time, the same order.
    seen, start = [], None
    while True:
        page = ddb.query(
            **_on_c(table, c, "index4", Limit=1, **({"ExclusiveStartKey": start} if start else {}))
        )
        seen += _keys(page["Items"], "a", "b")
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == _EQUAL_ORDER


def test_hash_only_table_index_follows_scan_order(ddb):
    # A hash-only table's key hash is its partition hash: items equal on the index come in
    # the Scan order DynamoDB recorded for their keys (test_dynamodb_scan_order.py), a
    # number key hashed in DynamoDB's number encoding.
    table = make_table(ddb, tname("idx-n"), hash=("pk", "N"), gsis=[index("by-g", ("g", "S"))])
    _put(ddb, table, [{"pk": N(k), "g": S("x")} for k in NUMBER_KEYS])
    items = ddb.query(
        TableName=table,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": S("x")},
    )["Items"]
    assert [i["pk"]["N"] for i in items] == NUMBER_ORDER


def test_multi_attribute_gsi_pages_equal_keys_in_that_order(ddb):
    # The same rule for a GSI whose key has several attributes (a judgement: DynamoDB's
    # order for ties was recorded on single-attribute keys), page by page.
    table = tname("idx-multi")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in [("pk", "S"), ("g", "S"), ("n", "N")]
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g-n",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "HASH"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _put(ddb, table, [{"pk": S(k), "g": S("x"), "n": N("1")} for k in STRING_KEYS])
    query = {
        "TableName": table,
        "IndexName": "by-g-n",
        "KeyConditionExpression": "g = :g AND n = :n",
        "ExpressionAttributeValues": {":g": S("x"), ":n": N("1")},
        "Limit": 3,
    }
    seen, start = [], None
    while True:
        page = ddb.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        seen += [i["pk"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == STRING_ORDER
    back = ddb.query(**{**query, "Limit": 100}, ScanIndexForward=False)["Items"]
    assert [i["pk"]["S"] for i in back] == STRING_ORDER[::-1]


def test_local_index_orders_equal_keys_by_table_key_hash(ddb):
    table = make_table(
        ddb,
        tname("idx-lsi"),
        hash=("pk", "S"),
        range=("sk", "S"),
        lsis=[index("by-c", ("pk", "S"), ("c", "S"))],
    )
    _put(ddb, table, [{"pk": S("p"), "sk": S(str(i)), "c": S("same")} for i in range(1, 9)])
    _put(ddb, table, [{"pk": S("p"), "sk": S("9"), "c": S("first")}])
    order = ["9", "1", "3", "5", "6", "8", "4", "2", "7"]  # "first" < "same", then MD5 order
    query = {
        "TableName": table,
        "IndexName": "by-c",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": S("p")},
    }
    assert [i["sk"]["S"] for i in ddb.query(**query)["Items"]] == order
    back = ddb.query(**query, ScanIndexForward=False)["Items"]
    assert [i["sk"]["S"] for i in back] == order[::-1]
    page = ddb.query(**query, Limit=4)
    assert page["LastEvaluatedKey"] == {"pk": S("p"), "sk": S("5"), "c": S("same")}
    rest = ddb.query(**query, ExclusiveStartKey=page["LastEvaluatedKey"])["Items"]
    assert [i["sk"]["S"] for i in rest] == order[4:]


def test_number_range_key_is_hashed_in_dynamodbs_encoding(ddb):
    table = make_table(
        ddb,
        tname("idx-rn"),
        hash=("pk", "S"),
        range=("sk", "N"),
        gsis=[index("by-g", ("g", "S"))],
    )
    sks = ["1", "2", "3", "10", "-5", "0.5", "100", "7"]
    _put(ddb, table, [{"pk": S("p"), "sk": N(k), "g": S("x")} for k in sks])
    items = ddb.query(
        TableName=table,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": S("x")},
    )["Items"]
    assert [i["sk"]["N"] for i in items] == ["-5", "3", "10", "7", "2", "100", "0.5", "1"]


# ---- databases written before the table key's hash was stored


_OLD_INDEX_ITEMS = """
CREATE TABLE index_items (
    iid INTEGER NOT NULL,
    h INTEGER NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL,
    bhk BLOB NOT NULL,
    brk BLOB NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (iid, h, hk, rk, bhk, brk)
) WITHOUT ROWID;
"""


def _write_the_old_way(path, version: int) -> None:
    """Turn ``index_items`` back into the schema an older cloudlet wrote (no table-key
    hash; ties in the table key's byte order), at ``user_version`` ``version`` (0: the
    partition hashes CRC-32 as well)."""
    conn = sqlite3.connect(path)
    conn.create_function("crc", 1, zlib.crc32)
    conn.execute("ALTER TABLE index_items RENAME TO newer")
    conn.executescript(_OLD_INDEX_ITEMS)
    conn.execute("INSERT INTO index_items SELECT iid, h, hk, rk, bhk, brk, size, body FROM newer")
    conn.execute("DROP TABLE newer")
    if version == 0:
        for kind in ("items", "index_items"):
            conn.execute(f"UPDATE {kind} SET h = crc(hk)")  # noqa: S608 - test's own names
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [0, 1])
def test_an_older_database_is_migrated_on_open(tmp_path, version):
    data = tmp_path / "data"
    server = CloudletServer.start(data_dir=data)
    try:
        ddb = client(server)
        table = _dynalite_table(ddb)
        _put(ddb, table, [{"a": S(a), "b": S(b), "c": S("x"), "d": S("a")} for a, b in _EQUAL])
    finally:
        server.stop()
    _write_the_old_way(data / "dynamodb.sqlite3", version)
    server = CloudletServer.start(data_dir=data)
    try:
        ddb = client(server)
        got = ddb.query(**_on_c(table, "x", "index4"))["Items"]
        assert _keys(got, "a", "b") == _EQUAL_ORDER
        got = ddb.query(**_on_c(table, "x", "index3", ScanIndexForward=False))["Items"]
        assert _keys(got, "a", "b") == _EQUAL_ORDER[::-1]
        # Index entries are still found and kept in step by later writes.
        ddb.delete_item(TableName=table, Key={"a": S("d"), "b": S("a")})
        ddb.put_item(TableName=table, Item={"a": S("e"), "b": S("a"), "c": S("x"), "d": S("a")})
        got = ddb.query(**_on_c(table, "x", "index4"))["Items"]
        moved = [("a", "a"), ("e", "a"), ("b", "a"), ("c", "a"), ("d", "b"), ("c", "b")]
        assert _keys(got, "a", "b") == moved
    finally:
        server.stop()
