"""A Query's or Scan's ExclusiveStartKey checked as DynamoDB checks it, with real boto3.

Why a file of its own: where a start key is refused, and with which text, depends on
the order of AWS's checks (the start key's attributes before "Query condition missed key
schema element" and before a Select an index cannot serve; the key condition before the
start key's position) and each case has its own text. The cases and texts are dynalite's
query.js and scan.js, written against DynamoDB; the table is dynalite's test table. Also
what an LSI Query's fetches from the table cost, and a key condition written value first
whose value has the wrong type.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import S, client, index, make_table, tname

INVALID = "The provided starting key is invalid"
MISMATCH = "The provided key element does not match the schema"
BAD_KEY = f"{INVALID}: {MISMATCH}"
PREDICATE = "The provided starting key does not match the range key predicate"
ONE_ROW = "The query can return at most one row and cannot be restarted"
OUTSIDE = "The provided starting key is outside query boundaries based on provided conditions"
NOT_ALL = (
    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported "
    "for global secondary index index4 because its projection type is not ALL"
)
KEY_PATH = (
    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not "
    "allowed: Key: a"
)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def hash_table(ddb) -> str:
    return make_table(ddb, tname("esk-hash"), ("a", "S"))


@pytest.fixture(scope="module")
def range_table(ddb) -> str:
    """dynalite's range table: LSIs on ``c`` (ALL) and ``d`` (INCLUDE c), GSIs on ``c``
    (ALL) and ``c``+``d`` (INCLUDE e)."""
    return make_table(
        ddb,
        tname("esk-range"),
        ("a", "S"),
        ("b", "S"),
        lsis=[
            index("index1", ("a", "S"), ("c", "S")),
            index("index2", ("a", "S"), ("d", "S"), "INCLUDE", ["c"]),
        ],
        gsis=[
            index("index3", ("c", "S")),
            index("index4", ("c", "S"), ("d", "S"), "INCLUDE", ["e"]),
        ],
    )


def refused(call, message: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("ValidationException", message)


def keyed(text: str, **values: dict) -> dict[str, Any]:
    """A KeyConditionExpression with its values (``a=S("x")`` becomes ``:a``)."""
    return {
        "KeyConditionExpression": text,
        "ExpressionAttributeValues": {f":{k}": v for k, v in values.items()},
    }


NO_KEY = keyed("z = :a", a={"N": "1"})
"""A key condition on no key attribute: whatever the start key says comes first."""


# --------------------------------------------------------------------------- Query: order


@pytest.mark.parametrize(
    ("index_name", "esk", "message"),
    [
        # dynalite query.js "ExclusiveStartKey for range table is invalid"
        (None, {}, INVALID),
        (None, {"a": S("a")}, INVALID),
        (None, {"b": S("a"), "c": S("b")}, INVALID),
        # "... does not match range schema"
        (None, {"a": {"N": "1"}, "z": S("a")}, MISMATCH),
        # "... is invalid for local index" / "... for global index"
        ("index1", {"a": S("a"), "b": S("a")}, INVALID),
        ("index3", {"a": S("a"), "b": S("a"), "z": S("a")}, INVALID),
        # "... does not match schema for local index" / "... for global index"
        ("index1", {"a": {"B": b"a"}, "b": S("1"), "c": S("1")}, MISMATCH),
        ("index3", {"x": S("1"), "y": S("1"), "c": {"N": "1"}}, MISMATCH),
    ],
)
def test_query_start_key_before_missing_key_condition(ddb, range_table, index_name, esk, message):
    kwargs = {"IndexName": index_name} if index_name else {}
    refused(ddb.query, message, TableName=range_table, ExclusiveStartKey=esk, **NO_KEY, **kwargs)


def test_query_hash_start_key_type_is_a_plain_schema_mismatch(ddb, hash_table):
    # dynalite query.js "ExclusiveStartKey does not match hash schema"
    for value in ({"N": "1"}, {"BOOL": True}, {"SS": ["a"]}):
        refused(ddb.query, MISMATCH, TableName=hash_table, ExclusiveStartKey={"a": value}, **NO_KEY)


def test_query_missing_hash_condition_before_the_sort_key_part(ddb, range_table):
    # dynalite query.js "hash in ExclusiveStartKey but not in query": the start key's hash
    # is fine, the condition misses it, and the bad sort key part is never reached.
    refused(
        ddb.query,
        "Query condition missed key schema element: a",
        TableName=range_table,
        ExclusiveStartKey={"a": S("a"), "b": {"N": "1"}},
        **keyed("z between :a and :b", a={"N": "1"}, b={"N": "1"}),
    )


@pytest.mark.parametrize(
    ("index_name", "esk", "message"),
    [
        # dynalite query.js "range in ExclusiveStartKey is invalid"
        (None, {"a": S("a"), "c": {"N": "1"}}, INVALID),
        # "hash in ExclusiveStartKey and KeyConditions but range has incorrect schema"
        (None, {"a": S("a"), "b": {"N": "1"}}, MISMATCH),
        # "... but local has incorrect schema"
        ("index1", {"a": S("a"), "b": S("a"), "c": {"N": "1"}}, MISMATCH),
        # "range in ExclusiveStartKey is invalid, but hash and local are ok": the table's
        # own key keeps the prefixed text
        ("index1", {"a": S("1"), "b": {"N": "1"}, "c": S("a")}, BAD_KEY),
    ],
)
def test_query_start_key_sort_part(ddb, range_table, index_name, esk, message):
    kwargs = {"IndexName": index_name} if index_name else {}
    refused(
        ddb.query,
        message,
        TableName=range_table,
        ExclusiveStartKey=esk,
        **keyed("a = :a", a=S("b")),
        **kwargs,
    )


def test_query_start_key_before_select_all_attributes_on_gsi(ddb, range_table):
    # dynalite query.js "global range in ExclusiveStartKey is invalid"
    refused(
        ddb.query,
        INVALID,
        TableName=range_table,
        IndexName="index4",
        Select="ALL_ATTRIBUTES",
        ExclusiveStartKey={"a": {"N": "1"}, "c": S("1")},
        **keyed("c = :a", a=S("b")),
    )


def test_query_gsi_start_key_without_the_table_key(ddb, range_table):
    # dynalite query.js "global hash in ExclusiveStartKey but bad in query"
    refused(
        ddb.query,
        BAD_KEY,
        TableName=range_table,
        IndexName="index3",
        ExclusiveStartKey={"x": {"N": "1"}, "y": {"N": "1"}, "c": S("a")},
        **keyed("c = :a", a=S("b")),
    )


# --------------------------------------------------------------------------- Query: bounds


def legacy(**conditions: tuple[str, dict]) -> dict[str, Any]:
    return {
        "KeyConditions": {
            name: {"ComparisonOperator": op, "AttributeValueList": [value]}
            for name, (op, value) in conditions.items()
        }
    }


@pytest.mark.parametrize(
    ("index_name", "esk", "conditions", "message"),
    [
        # dynalite query.js "ExclusiveStartKey with non-matching range key"
        (None, {"a": S("a"), "b": S("a")}, keyed("a = :a and b > :a", a=S("b")), PREDICATE),
        (None, {"a": S("a"), "b": S("a")}, legacy(a=("EQ", S("b")), b=("GT", S("a"))), PREDICATE),
        # "... with local index and not matching predicate"
        (
            "index1",
            {"a": S("a"), "b": S("a"), "c": S("a")},
            keyed("a = :a and c > :a", a=S("b")),
            PREDICATE,
        ),
        # "global hash in ExclusiveStartKey but not matching predicate": the sort key is
        # checked before the partition
        (
            "index4",
            {"a": S("a"), "b": S("a"), "c": S("b"), "d": S("a")},
            legacy(c=("EQ", S("a")), d=("GT", S("a"))),
            PREDICATE,
        ),
        # "... with matching range but non-matching hash key"
        (None, {"a": S("a"), "b": S("a")}, keyed("a = :a and b < :a", a=S("b")), ONE_ROW),
        # "global hash in ExclusiveStartKey but exact match"
        (
            "index4",
            {"a": S("a"), "b": S("a"), "c": S("c"), "d": S("a")},
            legacy(c=("EQ", S("a")), d=("EQ", S("a"))),
            ONE_ROW,
        ),
        # "... with out-of-bounds hash key": no sort key condition, the text stays
        (None, {"a": S("a"), "b": S("a")}, keyed("a = :a", a=S("b")), OUTSIDE),
    ],
)
def test_query_start_key_outside_the_key_condition(
    ddb, range_table, index_name, esk, conditions, message
):
    kwargs = {"IndexName": index_name} if index_name else {}
    refused(
        ddb.query, message, TableName=range_table, ExclusiveStartKey=esk, **conditions, **kwargs
    )


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("a = :a and b > :lo", {"lo": S("b1")}, ["b3", "b4"]),
        ("a = :a and b between :lo and :hi", {"lo": S("b2"), "hi": S("b3")}, ["b3"]),
        ("a = :a and begins_with(b, :lo)", {"lo": S("b")}, ["b3", "b4"]),
    ],
)
def test_query_resumes_from_a_start_key_inside_the_condition(
    ddb, range_table, condition, values, expected
):
    for b in ("b1", "b2", "b3", "b4"):
        ddb.put_item(TableName=range_table, Item={"a": S("resume"), "b": S(b)})
    out = ddb.query(
        TableName=range_table,
        ExclusiveStartKey={"a": S("resume"), "b": S("b2")},
        **keyed(condition, a=S("resume"), **values),
    )
    assert [item["b"]["S"] for item in out["Items"]] == expected


# --------------------------------------------------------------------------- Scan


@pytest.mark.parametrize(
    ("index_name", "esk", "message"),
    [
        # dynalite scan.js "ExclusiveStartKey is invalid for local index" / "... global index"
        ("index1", {"a": S("a")}, INVALID),
        ("index1", {"a": S("a"), "c": {"N": "1"}}, INVALID),
        ("index3", {"a": S("a"), "b": S("a"), "z": S("a")}, INVALID),
        # "... does not match schema for local index" / "... global (compound) index"
        ("index1", {"a": S("a"), "b": S("a"), "c": {"N": "1"}}, MISMATCH),
        ("index3", {"a": S("1"), "b": S("1"), "c": {"B": b"a"}}, MISMATCH),
        ("index4", {"x": {"N": "1"}, "y": {"N": "1"}, "c": S("1"), "d": {"N": "1"}}, MISMATCH),
        # "range in ExclusiveStartKey is invalid, but hash and local are ok"
        ("index1", {"a": S("1"), "b": {"N": "1"}, "c": S("a")}, BAD_KEY),
    ],
)
def test_scan_index_start_key(ddb, range_table, index_name, esk, message):
    refused(ddb.scan, message, TableName=range_table, IndexName=index_name, ExclusiveStartKey=esk)


def test_scan_start_key_before_select_all_attributes_on_gsi(ddb, range_table):
    # dynalite scan.js "global range in ExclusiveStartKey is invalid", and "specifying
    # ALL_ATTRIBUTES when global index does not have ALL": a start key whose index part
    # is fine gets the Select's text before its table part is looked at
    for esk, message in (
        ({"c": S("1")}, INVALID),
        ({"x": {"N": "1"}, "y": {"N": "1"}, "c": S("a"), "d": S("a")}, NOT_ALL),
    ):
        refused(
            ddb.scan,
            message,
            TableName=range_table,
            IndexName="index4",
            Select="ALL_ATTRIBUTES",
            FilterExpression="attribute_exists(a.b.c)",
            ExclusiveStartKey=esk,
        )


def test_scan_table_start_key_before_a_key_path(ddb, hash_table, range_table):
    # dynalite scan.js "ExclusiveStartKey does not match schema" / "... for range table is
    # invalid": refused before the filter's key path
    for table, esk in (
        (hash_table, {"a": {"N": "1"}}),
        (hash_table, {"b": S("a")}),
        (range_table, {"a": S("a"), "b": {"N": "1"}}),
    ):
        refused(
            ddb.scan,
            BAD_KEY,
            TableName=table,
            FilterExpression="attribute_exists(a.b.c)",
            ExclusiveStartKey=esk,
        )
    refused(ddb.scan, KEY_PATH, TableName=hash_table, FilterExpression="attribute_exists(a.b.c)")


def test_scan_start_key_from_another_segment_before_a_key_path(ddb, hash_table):
    # dynalite scan.js "ExclusiveStartKey is from different segment"
    for i in range(10):
        ddb.put_item(TableName=hash_table, Item={"a": S(str(i))})
    first = ddb.scan(TableName=hash_table, Segment=1, TotalSegments=2)["Items"][0]
    refused(
        ddb.scan,
        f"{INVALID}: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct "
        "Segment. TotalSegments: 2 Segment: 0",
        TableName=hash_table,
        Segment=0,
        TotalSegments=2,
        FilterExpression="attribute_exists(a.b.c)",
        ExclusiveStartKey={"a": first["a"]},
    )


# --------------------------------------------------------------------------- capacity


def test_lsi_query_charges_each_fetched_item_to_the_table(ddb, range_table):
    # dynalite query.js "should return all attributes when specified for secondary
    # indexes": three items of exactly 4 KB fetched from the table cost 3, the index 1
    a = S("capacity-1")
    long = "e" * 4061
    items = [
        {"a": a, "b": S("b1"), "c": S("c1"), "d": S("d1")},
        {"a": a, "b": S("b2")},
        {
            "a": a,
            "b": S("b3"),
            "d": S("d3"),
            "e": {"M": {"e3": S(long)}},
            "f": {"L": [S("f3"), S("ff3")]},
        },
        {
            "a": a,
            "b": S("b4"),
            "c": S("c4"),
            "d": S("d4"),
            "e": {"M": {"ee4": S("e4"), "eee4": S(long)}},
        },
    ]
    for item in items:
        ddb.put_item(TableName=range_table, Item=item)
    query = {
        "TableName": range_table,
        "IndexName": "index2",
        "ConsistentRead": True,
        "Select": "ALL_ATTRIBUTES",
        **keyed("a = :a", a=a),
    }
    total = ddb.query(ReturnConsumedCapacity="TOTAL", **query)
    assert total["Items"] == [items[0], items[2], items[3]]
    assert total["ConsumedCapacity"]["CapacityUnits"] == 4
    out = ddb.query(ReturnConsumedCapacity="INDEXES", **query)["ConsumedCapacity"]
    assert out["CapacityUnits"] == 4
    assert out["Table"]["CapacityUnits"] == 3
    assert out["LocalSecondaryIndexes"] == {"index2": {"CapacityUnits": 1.0}}
    # Eventually consistent: half of each
    half = ddb.query(ReturnConsumedCapacity="INDEXES", **{**query, "ConsistentRead": False})
    assert half["ConsumedCapacity"]["Table"]["CapacityUnits"] == 1.5


def test_lsi_fetches_are_rounded_item_by_item(ddb, range_table):
    # Developer guide, LSI.html: a fetched item costs its own size "individually rounded
    # up to the next 4 KB", so two small items cost 2 where their sum would cost 1
    a = S("capacity-3")
    for b in ("b1", "b2"):
        ddb.put_item(TableName=range_table, Item={"a": a, "b": S(b), "d": S("d"), "f": S("f")})
    out = ddb.query(
        TableName=range_table,
        IndexName="index2",
        ConsistentRead=True,
        Select="ALL_ATTRIBUTES",
        ReturnConsumedCapacity="INDEXES",
        **keyed("a = :a", a=a),
    )["ConsumedCapacity"]
    assert (out["CapacityUnits"], out["Table"]["CapacityUnits"]) == (3, 2)


def test_lsi_query_of_projected_attributes_charges_the_index_only(ddb, range_table):
    # dynalite query.js "should only return projected attributes by default for
    # secondary indexes"
    ddb.put_item(TableName=range_table, Item={"a": S("capacity-2"), "b": S("b"), "d": S("d")})
    out = ddb.query(
        TableName=range_table,
        IndexName="index2",
        ConsistentRead=True,
        ReturnConsumedCapacity="INDEXES",
        **keyed("a = :a", a=S("capacity-2")),
    )["ConsumedCapacity"]
    assert (out["CapacityUnits"], out["Table"]["CapacityUnits"]) == (1, 0)


# --------------------------------------------------------------------------- key condition


def test_value_first_key_condition_of_the_wrong_type(ddb, hash_table):
    # dynalite query.js "mismatching param type": the type before the operator
    refused(
        ddb.query,
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type",
        TableName=hash_table,
        **keyed(":a > a", a={"N": "1"}),
    )
    # "querying with unsupported conditions": of the right type, the operator is refused
    refused(
        ddb.query,
        "Query key condition not supported",
        TableName=hash_table,
        **keyed(":a <= a", a=S("1")),
    )
