"""DynamoDB data semantics that clients can see: number canonicalisation, key ordering by
type, the 1 MB page of Scan, and consumed capacity."""

from __future__ import annotations

import random
import uuid

import pytest

from tests.services.dynamodb_helpers import make_table, tname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


def test_numbers_come_back_in_canonical_form(ddb):
    # DynamoDB stores a number, not its text: trailing and leading zeros, exponents and
    # negative zero are normalised (numberPrecision.test.ts of the dynamodb-conformance
    # suite pins '00042' -> '42', '3.1400' -> '3.14', '1.5E2' -> '150', '-0' -> '0').
    name = make_table(ddb, tname("num"))
    cases = {
        "1.50": "1.5",
        "0010": "10",
        "1E2": "100",
        "1.5E2": "150",
        "-0.0": "0",
        "-0": "0",
        "3.1400": "3.14",
        "0.000": "0",
        "-007.50": "-7.5",
        # 38 significant digits are kept exactly.
        "12345678901234567890123456789012345678": "12345678901234567890123456789012345678",
        "-1.2345678901234567890123456789012345678": "-1.2345678901234567890123456789012345678",
    }
    for i, text in enumerate(cases):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"n{i}"}, "v": {"N": text}})
    for i, canonical in enumerate(cases.values()):
        got = ddb.get_item(TableName=name, Key={"pk": {"S": f"n{i}"}}, ConsistentRead=True)
        assert got["Item"]["v"] == {"N": canonical}
    # The same normalisation applies to number sets, and equal numbers are one member.
    ddb.put_item(TableName=name, Item={"pk": {"S": "ns"}, "v": {"NS": ["1.0", "2", "0.5"]}})
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "ns"}}, ConsistentRead=True)["Item"]
    assert sorted(got["v"]["NS"], key=float) == ["0.5", "1", "2"]
    # A number key is matched by value, whatever text spells it.
    num = make_table(ddb, tname("numkey"), hash=("pk", "N"))
    ddb.put_item(TableName=num, Item={"pk": {"N": "10"}, "v": {"S": "ten"}})
    for spelling in ("10", "10.0", "1E1", "0010"):
        got = ddb.get_item(TableName=num, Key={"pk": {"N": spelling}}, ConsistentRead=True)
        assert got["Item"] == {"pk": {"N": "10"}, "v": {"S": "ten"}}


def _query_sort_keys(ddb, name: str, forward: bool = True) -> list:
    items = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ScanIndexForward=forward,
        ConsistentRead=True,
    )["Items"]
    return [next(iter(item["sk"].values())) for item in items]


def test_numeric_range_key_order(ddb):
    name = make_table(ddb, tname("sortn"), range=("sk", "N"))
    values = ["100", "-1.5", "2", "-10", "10", "0", "1E-130", "-99999999999999999999"]
    for v in random.sample(values, len(values)):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": v}})
    got = _query_sort_keys(ddb, name)
    assert [float(g) for g in got] == sorted(float(v) for v in values)
    # Canonical text; 1E-130 (index 4) comes back in DynamoDB's own spelling, so it is
    # only compared by value above.
    assert got[:4] + got[5:] == ["-99999999999999999999", "-10", "-1.5", "0", "2", "10", "100"]
    assert _query_sort_keys(ddb, name, forward=False) == list(reversed(got))
    # Range conditions compare numerically too (not as text: "10" < "2" as strings).
    between = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":p": {"S": "p"}, ":lo": {"N": "-2"}, ":hi": {"N": "10"}},
    )["Items"]
    assert [float(i["sk"]["N"]) for i in between] == [-1.5, 0, 1e-130, 2, 10]


def test_string_range_key_order_is_utf8_byte_order(ddb):
    # U+FF61 is EF BD A1 in UTF-8 and U+10000 is F0 90 80 80, so UTF-8 order puts U+FF61
    # first; in UTF-16 U+10000 is the surrogate D800 DC00 and sorts before FF61. Java's
    # String.compareTo (UTF-16 code units) would get this pair wrong.
    values = ["a", "Z", "aa", "b", "é", "\uff61", "\U00010000", "\U0001f600", "~"]
    by_utf8 = sorted(values, key=lambda s: s.encode("utf-8"))
    by_utf16 = sorted(values, key=lambda s: s.encode("utf-16-be"))
    assert by_utf8 != by_utf16  # the values discriminate between the two orders
    assert by_utf8.index("\uff61") < by_utf8.index("\U00010000")

    name = make_table(ddb, tname("sorts"), range=("sk", "S"))
    for v in random.sample(values, len(values)):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": v}})
    assert _query_sort_keys(ddb, name) == by_utf8
    assert _query_sort_keys(ddb, name, forward=False) == list(reversed(by_utf8))
    above = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND sk > :v",
        ExpressionAttributeValues={":p": {"S": "p"}, ":v": {"S": "\uff61"}},
    )["Items"]
    assert [i["sk"]["S"] for i in above] == ["\U00010000", "\U0001f600"]


def test_binary_range_key_order_is_unsigned_byte_order(ddb):
    values = [b"\xff", b"\x00", b"\x01", b"\x7f", b"\x80", b"\x00\x00", b"\x01\x00", b"\xfe\xff"]
    name = make_table(ddb, tname("sortb"), range=("sk", "B"))
    for v in random.sample(values, len(values)):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"B": v}})
    # Python compares bytes as unsigned, lexicographically: the order DynamoDB uses.
    expected = sorted(values)
    assert expected[0] == b"\x00" and expected[-1] == b"\xff"
    assert _query_sort_keys(ddb, name) == expected
    assert _query_sort_keys(ddb, name, forward=False) == list(reversed(expected))
    prefix = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": {"S": "p"}, ":b": {"B": b"\x00"}},
    )["Items"]
    assert [i["sk"]["B"] for i in prefix] == [b"\x00", b"\x00\x00"]


def test_scan_pages_stop_at_one_megabyte(ddb):
    name = make_table(ddb, tname("page"), range=("sk", "N"))
    blob = "x" * 100_000  # ~100 KB items: a 1 MB page holds about ten
    for i in range(25):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "b": {"S": blob}})

    first = ddb.scan(TableName=name)
    assert "LastEvaluatedKey" in first
    assert 1 <= first["Count"] <= 11 and first["Count"] == first["ScannedCount"]

    seen = [int(i["sk"]["N"]) for i in first["Items"]]
    pages = 1
    kwargs = {"ExclusiveStartKey": first["LastEvaluatedKey"]}
    while True:
        page = ddb.scan(TableName=name, **kwargs)
        pages += 1
        assert page["Count"] <= 11
        seen += [int(i["sk"]["N"]) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    assert sorted(seen) == list(range(25)) and pages >= 3

    # Query is bounded the same way.
    q = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    assert "LastEvaluatedKey" in q and 1 <= q["Count"] <= 11
    # Select=COUNT reads the same data, so it stops at the same place.
    counted = ddb.scan(TableName=name, Select="COUNT")
    assert "Items" not in counted and "LastEvaluatedKey" in counted
    assert counted["Count"] == first["Count"]


def test_consumed_capacity_is_honest(ddb):
    name = make_table(ddb, tname("cap"))
    # ~1 KB item: one 4 KB read unit; eventually consistent reads cost half.
    small = {"pk": {"S": "small"}, "d": {"S": "x" * 1000}}
    ddb.put_item(TableName=name, Item=small)
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "small"}}, ReturnConsumedCapacity="TOTAL")
    assert got["ConsumedCapacity"]["TableName"] == name
    assert got["ConsumedCapacity"]["CapacityUnits"] == 0.5
    got = ddb.get_item(
        TableName=name,
        Key={"pk": {"S": "small"}},
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )
    assert got["ConsumedCapacity"]["CapacityUnits"] == 1.0
    # Without ReturnConsumedCapacity there is no ConsumedCapacity.
    assert "ConsumedCapacity" not in ddb.get_item(TableName=name, Key={"pk": {"S": "small"}})

    # ~1.5 KB new item: writes are billed per 1 KB, rounded up.
    key = f"w-{uuid.uuid4().hex[:8]}"
    put = ddb.put_item(
        TableName=name,
        Item={"pk": {"S": key}, "d": {"S": "y" * 1500}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert put["ConsumedCapacity"]["TableName"] == name
    assert put["ConsumedCapacity"]["CapacityUnits"] == 2.0
    # A 5 KB item read strongly costs two 4 KB units.
    ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "d": {"S": "z" * 5000}})
    got = ddb.get_item(
        TableName=name,
        Key={"pk": {"S": "big"}},
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )
    assert got["ConsumedCapacity"]["CapacityUnits"] == 2.0
