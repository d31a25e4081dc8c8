"""DynamoDB item behaviour that ScyllaDB Alternator's test suite (run against AWS) pins.

Each test names the Alternator test (``scylladb/scylladb``, ``test/alternator``) whose
expectation it holds cloudlet to: updates that only remove do not create an item,
``Expected`` checks operand types as the filters do, KeyConditions mixes with expression
parameters, AttributesToGet may not be empty, ConditionalOperator needs conditions to
join, arithmetic that loses digits is an overflow, QueryFilter refuses key attributes,
and EQ/NE compare lists, maps and BOOL.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import ENVELOPE, OVERFLOW, N, S, client, make_table, tname

VALIDATION = "ValidationException"
KEY = {"p": S("k")}


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def table(ddb) -> str:
    """A hash-key table (``p``)."""
    return make_table(ddb, tname("alt"), ("p", "S"))


@pytest.fixture(scope="module")
def sorted_table(ddb) -> str:
    """A hash and sort key table (``p``, ``c``) with one partition of three items."""
    name = make_table(ddb, tname("altq"), ("p", "S"), ("c", "S"))
    for c, x in (("1", "dog"), ("2", "cat"), ("3", "mouse")):
        ddb.put_item(
            TableName=name,
            Item={
                "p": S("q"),
                "c": S(c),
                "x": S(x),
                "l": {"L": [S(x)]},
                "m": {"M": {"k": S(x)}},
                "flag": {"BOOL": c == "2"},
            },
        )
    return name


def error(exc: Any) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def fresh_key() -> dict:
    return {"p": S(tname("k"))}


def missing(ddb, table: str, key: dict) -> bool:
    return "Item" not in ddb.get_item(TableName=table, Key=key, ConsistentRead=True)


def key_conditions(p: str = "q") -> dict:
    return {"p": {"ComparisonOperator": "EQ", "AttributeValueList": [S(p)]}}


# --------------------------------------------------------------------------- 1, 3: no item


@pytest.mark.parametrize(
    "update",
    [
        {"AttributeUpdates": {"a": {"Action": "DELETE"}}},
        {"AttributeUpdates": {"a": {"Action": "DELETE", "Value": {"NS": ["4"]}}}},
        {"UpdateExpression": "REMOVE b"},
        {"UpdateExpression": "DELETE s :v", "ExpressionAttributeValues": {":v": {"SS": ["x"]}}},
        {"UpdateExpression": "REMOVE x.y"},
        {"UpdateExpression": "REMOVE x[0]"},
    ],
    ids=["delete", "delete-set", "remove", "delete-expression", "remove-map", "remove-list"],
)
def test_update_that_only_removes_does_not_create_the_item(ddb, table, update) -> None:
    """test_item.py::test_update_item_non_existent / ::test_update_item_delete,
    test_returnvalues.py::test_update_item_returnvalues_all_new,
    test_update_expression.py::test_nested_attribute_remove_from_missing_item."""
    key = fresh_key()
    out = ddb.update_item(TableName=table, Key=key, ReturnValues="ALL_NEW", **update)
    assert "Attributes" not in out
    assert missing(ddb, table, key)


def test_update_that_writes_nothing_still_creates_the_item(ddb, table) -> None:
    """test_returnvalues.py::test_update_item_returnvalues_all_new: an empty
    AttributeUpdates creates the item (only removals do not)."""
    key = fresh_key()
    out = ddb.update_item(TableName=table, Key=key, AttributeUpdates={}, ReturnValues="ALL_NEW")
    assert out["Attributes"] == key
    assert not missing(ddb, table, key)


def test_remove_on_an_existing_item_still_applies(ddb, table) -> None:
    """The removal of an existing item's attribute, and a nested path under nothing there."""
    key = fresh_key()
    ddb.put_item(TableName=table, Item={**key, "b": S("x")})
    out = ddb.update_item(
        TableName=table, Key=key, UpdateExpression="REMOVE b", ReturnValues="ALL_NEW"
    )
    assert out["Attributes"] == key
    with pytest.raises(ClientError) as exc:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE x.y")
    assert error(exc) == (
        VALIDATION,
        "The document path provided in the update expression is invalid for update",
    )


def test_update_that_only_removes_writes_no_stream_record(ddb, cloudlet_server) -> None:
    """Nothing written, nothing streamed."""
    name = make_table(
        ddb,
        tname("alts"),
        ("p", "S"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    ddb.update_item(TableName=name, Key={"p": S("gone")}, UpdateExpression="REMOVE a")
    ddb.put_item(TableName=name, Item={"p": S("kept")})
    streams = cloudlet_server.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=it)["Records"]
    assert [r["dynamodb"]["Keys"] for r in records] == [{"p": S("kept")}]


# --------------------------------------------------------------------------- 2: Expected types


@pytest.mark.parametrize(
    "op, values, shown",
    [
        ("CONTAINS", [{"L": [N("1")]}], "L"),
        ("NOT_CONTAINS", [{"L": [N("1")]}], "L"),
        ("BEGINS_WITH", [N("3")], "N"),
        ("IN", [{"L": [N("1")]}, {"L": [N("2")]}], "L"),
        ("BETWEEN", [{"NS": ["1"]}, {"NS": ["2"]}], "NS"),
        ("LT", [{"M": {}}], "M"),
    ],
)
def test_expected_operand_types_are_checked(ddb, table, op, values, shown) -> None:
    """test_expected.py::test_update_expected_1_contains, _not_contains,
    _begins_with_false, _in, _between: a wrong-typed operand is a ValidationException."""
    key = fresh_key()
    ddb.put_item(TableName=table, Item={**key, "a": S("hello")})
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=key,
            AttributeUpdates={"z": {"Action": "PUT", "Value": N("1")}},
            Expected={"a": {"ComparisonOperator": op, "AttributeValueList": values}},
        )
    assert error(exc) == (
        VALIDATION,
        ENVELOPE + "One or more parameter values were invalid: "
        f"ComparisonOperator {op} is not valid for {shown} AttributeValue type",
    )
    assert "z" not in ddb.get_item(TableName=table, Key=key)["Item"]


def test_expected_not_contains_fails_on_a_missing_attribute(ddb, table) -> None:
    """test_expected.py::test_update_expected_1_not_contains: unlike NE, NOT_CONTAINS of
    an attribute the item does not have is false."""
    key = fresh_key()
    ddb.put_item(TableName=table, Item={**key, "a": S("hello")})
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=key,
            AttributeUpdates={"z": {"Action": "PUT", "Value": N("1")}},
            Expected={"q": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [N("1")]}},
        )
    assert error(exc)[0] == "ConditionalCheckFailedException"
    ddb.update_item(
        TableName=table,
        Key=key,
        AttributeUpdates={"z": {"Action": "PUT", "Value": N("1")}},
        Expected={"a": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [S("x")]}},
    )


# --------------------------------------------------------------------------- 4: KeyConditions


def test_key_conditions_mix_with_projection_and_filter_expressions(ddb, sorted_table) -> None:
    """test_projection_expression.py::test_projection_expression_query and
    test_query_filter.py::test_query_filter_and_projection_expression."""
    out = ddb.query(
        TableName=sorted_table, KeyConditions=key_conditions(), ProjectionExpression="x"
    )
    assert out["Items"] == [{"x": S("dog")}, {"x": S("cat")}, {"x": S("mouse")}]
    out = ddb.query(
        TableName=sorted_table,
        KeyConditions=key_conditions(),
        FilterExpression="x = :v",
        ExpressionAttributeValues={":v": S("cat")},
    )
    assert [item["c"] for item in out["Items"]] == [S("2")]
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=sorted_table,
            KeyConditions=key_conditions(),
            QueryFilter={"x": {"ComparisonOperator": "EQ", "AttributeValueList": [S("cat")]}},
            ProjectionExpression="x",
        )
    assert error(exc) == (
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {QueryFilter} Expression parameters: {ProjectionExpression}",
    )


def test_key_conditions_with_key_condition_expression_is_refused(ddb, sorted_table) -> None:
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=sorted_table,
            KeyConditions=key_conditions(),
            KeyConditionExpression="p = :p",
            ExpressionAttributeValues={":p": S("q")},
        )
    assert error(exc) == (
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {KeyConditions} Expression parameters: "
        "{KeyConditionExpression}",
    )


def test_scan_filter_with_projection_expression_is_still_refused(ddb, sorted_table) -> None:
    with pytest.raises(ClientError) as exc:
        ddb.scan(
            TableName=sorted_table,
            ScanFilter={"x": {"ComparisonOperator": "EQ", "AttributeValueList": [S("cat")]}},
            ProjectionExpression="x",
        )
    assert error(exc) == (
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {ScanFilter} Expression parameters: {ProjectionExpression}",
    )


# --------------------------------------------------------------------------- 5: AttributesToGet

EMPTY_ATTRIBUTES = (
    "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy "
    "constraint: Member must have length greater than or equal to 1"
)


@pytest.mark.parametrize(
    "call",
    [
        lambda d, t: d.get_item(TableName=t, Key={"p": S("q"), "c": S("1")}, AttributesToGet=[]),
        lambda d, t: d.query(TableName=t, KeyConditions=key_conditions(), AttributesToGet=[]),
        lambda d, t: d.scan(TableName=t, AttributesToGet=[]),
    ],
    ids=["getitem", "query", "scan"],
)
def test_empty_attributes_to_get_is_refused(ddb, sorted_table, call) -> None:
    """test_item.py::test_getitem_attributes_to_get_empty,
    test_query.py::test_query_attributes_to_get_empty (Alternator issue #10332)."""
    with pytest.raises(ClientError) as exc:
        call(ddb, sorted_table)
    assert error(exc) == (VALIDATION, EMPTY_ATTRIBUTES)


def test_empty_attributes_to_get_is_refused_by_batch_get(ddb, sorted_table) -> None:
    with pytest.raises(ClientError) as exc:
        ddb.batch_get_item(
            RequestItems={
                sorted_table: {"Keys": [{"p": S("q"), "c": S("1")}], "AttributesToGet": []}
            }
        )
    member = f"requestItems.{sorted_table}.member.attributesToGet"
    assert error(exc) == (VALIDATION, EMPTY_ATTRIBUTES.replace("'attributesToGet'", f"'{member}'"))


# --------------------------------------------------------------------------- 6: ConditionalOperator

WITHOUT_CONDITIONS = "ConditionalOperator cannot be used without Filter or Expected"
ONE_CONDITION = (
    "ConditionalOperator can only be used when Filter or Expected has two or more elements"
)


@pytest.mark.parametrize("expected", [None, {}], ids=["missing", "empty"])
@pytest.mark.parametrize("operator", ["AND", "OR"])
def test_conditional_operator_needs_expected(ddb, table, expected, operator) -> None:
    """test_expected.py::test_update_expected_empty (AWS's wording: extenddb's tests
    against DynamoDB)."""
    extra = {} if expected is None else {"Expected": expected}
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=KEY,
            AttributeUpdates={"z": {"Action": "PUT", "Value": N("4")}},
            ConditionalOperator=operator,
            **extra,
        )
    assert error(exc) == (VALIDATION, ENVELOPE + WITHOUT_CONDITIONS)
    ddb.update_item(
        TableName=table,
        Key=KEY,
        AttributeUpdates={"z": {"Action": "PUT", "Value": N("3")}},
        **extra,
    )


def test_conditional_operator_needs_two_conditions(ddb, table, sorted_table) -> None:
    one = {"x": {"ComparisonOperator": "EQ", "AttributeValueList": [S("cat")]}}
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=table, Item=KEY, Expected=one, ConditionalOperator="OR")
    assert error(exc) == (VALIDATION, ENVELOPE + ONE_CONDITION)
    with pytest.raises(ClientError) as exc:
        ddb.scan(TableName=sorted_table, ScanFilter=one, ConditionalOperator="AND")
    assert error(exc) == (VALIDATION, ONE_CONDITION)
    with pytest.raises(ClientError) as exc:
        ddb.query(TableName=sorted_table, KeyConditions=key_conditions(), ConditionalOperator="OR")
    assert error(exc) == (VALIDATION, WITHOUT_CONDITIONS)
    two = {**one, "flag": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": False}]}}
    out = ddb.scan(TableName=sorted_table, ScanFilter=two, ConditionalOperator="OR")
    assert out["Count"] == 3


def test_conditional_operator_is_a_non_expression_parameter(ddb, table) -> None:
    with pytest.raises(ClientError) as exc:
        ddb.delete_item(
            TableName=table,
            Key=KEY,
            ConditionalOperator="AND",
            ConditionExpression="attribute_exists(p)",
        )
    assert error(exc) == (
        VALIDATION,
        ENVELOPE + "Can not use both expression and non-expression parameters in the same "
        "request: Non-expression parameters: {ConditionalOperator} Expression parameters: "
        "{ConditionExpression}",
    )


# --------------------------------------------------------------------------- 8: arithmetic


@pytest.mark.parametrize("expression", ["SET b = :a - :b", "SET b = :a + :b"])
def test_arithmetic_past_38_digits_is_an_overflow(ddb, table, expression) -> None:
    """test_number.py::test_update_expression_plus_imprecise quotes DynamoDB's message."""
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=KEY,
            UpdateExpression=expression,
            ExpressionAttributeValues={":a": N("1e50"), ":b": N("1")},
        )
    assert error(exc) == (VALIDATION, OVERFLOW)


# --------------------------------------------------------------------------- 9: QueryFilter keys


@pytest.mark.parametrize(
    "filters, shown",
    [
        ({"c": [S("1")]}, "c"),
        ({"p": [S("q")]}, "p"),
        ({"c": [S("1")], "x": [S("cat")]}, "c"),
    ],
    ids=["sort-key", "partition-key", "sort-key-and-other"],
)
def test_query_filter_refuses_key_attributes(ddb, sorted_table, filters, shown) -> None:
    """test_query_filter.py::test_query_filter_partition_key_2, _sort_key, _sort_key_2."""
    query_filter = {
        name: {"ComparisonOperator": "EQ", "AttributeValueList": values}
        for name, values in filters.items()
    }
    with pytest.raises(ClientError) as exc:
        ddb.query(TableName=sorted_table, KeyConditions=key_conditions(), QueryFilter=query_filter)
    assert error(exc) == (
        VALIDATION,
        f"QueryFilter can only contain non-primary key attributes: Primary key attribute: {shown}",
    )


# --------------------------------------------------------------------------- 10: EQ/NE any type


@pytest.mark.parametrize(
    "name, value",
    [
        ("l", {"L": [S("cat")]}),
        ("m", {"M": {"k": S("cat")}}),
        ("flag", {"BOOL": True}),
    ],
)
def test_eq_and_ne_compare_lists_maps_and_bool(ddb, sorted_table, name, value) -> None:
    """test_query_filter.py::test_query_filter_eq / ::test_query_filter_ne."""
    for op, wanted in (("EQ", ["2"]), ("NE", ["1", "3"])):
        out = ddb.query(
            TableName=sorted_table,
            KeyConditions=key_conditions(),
            QueryFilter={name: {"ComparisonOperator": op, "AttributeValueList": [value]}},
        )
        assert [item["c"]["S"] for item in out["Items"]] == wanted
        out = ddb.scan(
            TableName=sorted_table,
            ScanFilter={name: {"ComparisonOperator": op, "AttributeValueList": [value]}},
        )
        assert sorted(item["c"]["S"] for item in out["Items"]) == wanted


def test_expected_eq_compares_a_list(ddb, table) -> None:
    key = fresh_key()
    ddb.put_item(TableName=table, Item={**key, "l": {"L": [N("1")]}})
    ddb.put_item(
        TableName=table,
        Item={**key, "l": {"L": [N("2")]}},
        Expected={"l": {"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [N("1")]}]}},
    )
    with pytest.raises(ClientError) as exc:
        ddb.put_item(
            TableName=table,
            Item=key,
            Expected={"l": {"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [N("1")]}]}},
        )
    assert error(exc)[0] == "ConditionalCheckFailedException"
