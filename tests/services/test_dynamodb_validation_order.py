"""DynamoDB validates a request before it looks the table up, with real boto3.

AWS answers a request's table-independent faults (expressions, their names and values,
attribute values, item sizes, RequestItems' table names) with a ValidationException
even when the table does not exist, and only then a ResourceNotFoundException
(dynalite's getItem.js, deleteItem.js, batchWriteItem.js, batchGetItem.js, query.js and
scan.js, written against DynamoDB; moto's AWS-verified tests where named). Also Query's
order between the unused-names check and its key condition, and UpdateItem's bare
empty-set message.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import ENVELOPE, S, client, index, make_table, tname

MISSING = "abc"
"""A valid table name no test creates."""
TABLE_NAMES_RULE = (
    "failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length "
    "less than or equal to 255, Member must have length greater than or equal to 3, Member "
    "must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]"
)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def table(ddb):
    name = tname("order")
    make_table(ddb, name)
    return name


def error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return exc.value.response["Error"]


def invalid(call, message: str, **kwargs) -> None:
    err = error(call, **kwargs)
    assert (err["Code"], err["Message"]) == ("ValidationException", message)


# --------------------------------------------------------------------------- single items


def test_get_item_to_missing_table_validates_first(ddb):
    # dynalite getItem.js "empty ExpressionAttributeNames", "unused names", "duplicate values"
    invalid(
        ddb.get_item,
        "ExpressionAttributeNames must not be empty",
        TableName=MISSING,
        Key={},
        ExpressionAttributeNames={},
        ProjectionExpression="",
    )
    invalid(
        ddb.get_item,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}",
        TableName=MISSING,
        Key={},
        ProjectionExpression="a",
        ExpressionAttributeNames={"#b": "b"},
    )
    invalid(
        ddb.get_item,
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        TableName=MISSING,
        Key={"a": {}},
    )
    # Nothing wrong but the table: then the lookup answers.
    assert error(ddb.get_item, TableName=MISSING, Key={"a": S("x")})["Code"] == (
        "ResourceNotFoundException"
    )


def test_put_item_to_missing_table_validates_first(ddb):
    invalid(
        ddb.put_item,
        ENVELOPE + "Invalid ConditionExpression: The expression can not be empty;",
        TableName=MISSING,
        Item={"a": S("x")},
        ConditionExpression="",
    )
    invalid(
        ddb.put_item,
        "Item size has exceeded the maximum allowed size",
        TableName=MISSING,
        Item={"a": S("x" * 409600)},
    )


def test_delete_item_to_missing_table_validates_first(ddb):
    # dynalite deleteItem.js "empty ExpressionAttributeValues", "empty ConditionExpression"
    invalid(
        ddb.delete_item,
        ENVELOPE + "ExpressionAttributeValues must not be empty",
        TableName=MISSING,
        Key={},
        ExpressionAttributeValues={},
        ConditionExpression="",
    )
    invalid(
        ddb.delete_item,
        ENVELOPE + "Invalid ConditionExpression: The expression can not be empty;",
        TableName=MISSING,
        Key={},
        ConditionExpression="",
    )


def test_update_item_to_missing_table_validates_first(ddb):
    invalid(
        ddb.update_item,
        ENVELOPE + "Invalid UpdateExpression: The expression can not be empty;",
        TableName=MISSING,
        Key={"a": S("x")},
        UpdateExpression="",
    )


def test_item_checks_that_need_the_table_come_after_the_lookup(ddb):
    # dynalite's "should check table exists before checking key validity": a key that
    # does not match any schema is the lookup's to answer first.
    for call, kwargs in (
        (ddb.get_item, {"Key": {"z": S("a")}}),
        (ddb.delete_item, {"Key": {"z": S("a"), "y": S("b")}}),
        (ddb.put_item, {"Item": {"z": S("a")}}),
    ):
        assert error(call, TableName=MISSING, **kwargs)["Code"] == "ResourceNotFoundException"


# --------------------------------------------------------------------------- UpdateItem sets


def test_update_item_empty_set_value_is_reported_bare(ddb, table):
    # moto's AWS-verified test_update_item_add_empty_set; ministack issue #1038 (AWS CLI)
    for av, kind in (({"SS": []}, "string"), ({"NS": []}, "number")):
        invalid(
            ddb.update_item,
            ENVELOPE
            + f"One or more parameter values were invalid: An {kind} set  may not be empty",
            TableName=table,
            Key={"pk": S("foo")},
            UpdateExpression="ADD s :e",
            ExpressionAttributeValues={":e": av},
        )
    # DeleteItem keeps the wrapped wording (dynalite deleteItem.js; nothing newer differs).
    invalid(
        ddb.delete_item,
        ENVELOPE + "ExpressionAttributeValues contains invalid value: One or more parameter "
        "values were invalid: An string set  may not be empty for key :e",
        TableName=table,
        Key={"pk": S("foo")},
        ConditionExpression="s = :e",
        ExpressionAttributeValues={":e": {"SS": []}},
    )


# --------------------------------------------------------------------------- Query and Scan


def test_query_to_missing_table_validates_first(ddb):
    # dynalite query.js: expressions, key-condition structure, then the table.
    invalid(
        ddb.query,
        "Invalid KeyConditionExpression: The expression can not be empty;",
        TableName=MISSING,
        KeyConditionExpression="",
        FilterExpression="",
        ProjectionExpression="",
        ExpressionAttributeValues={":0": S("b")},
    )
    invalid(
        ddb.query,
        "Invalid operator used in KeyConditionExpression: OR",
        TableName=MISSING,
        KeyConditionExpression="a > b and size(b) > c or a > c",
    )
    invalid(
        ddb.query,
        "KeyConditionExpressions cannot have conditions on nested attributes",
        TableName=MISSING,
        KeyConditionExpression="a.d > c",
    )
    invalid(
        ddb.query,
        "One or more parameter values were invalid: Invalid number of argument(s) for the EQ "
        "ComparisonOperator",
        TableName=MISSING,
        KeyConditions={"a": {"ComparisonOperator": "EQ"}},
    )
    key = {"KeyConditionExpression": "z = :a", "ExpressionAttributeValues": {":a": S("1")}}
    assert error(ddb.query, TableName=MISSING, **key)["Code"] == "ResourceNotFoundException"


def test_scan_to_missing_table_validates_first(ddb):
    invalid(
        ddb.scan,
        "Invalid FilterExpression: The expression can not be empty;",
        TableName=MISSING,
        FilterExpression="",
    )
    invalid(
        ddb.scan,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}",
        TableName=MISSING,
        FilterExpression="#h = :h",
        ExpressionAttributeNames={"#h": "pk", "#count": "count"},
        ExpressionAttributeValues={":h": S("x")},
    )


def test_scan_segments_are_checked_before_the_lookup(ddb):
    # dynalite's scan.js (against DynamoDB): "missing TotalSegments", "Segment more than
    # TotalSegments" to a missing table; after the start key's values, before expressions.
    invalid(
        ddb.scan,
        "The TotalSegments parameter is required but was not present in the request when "
        "Segment parameter is present",
        TableName=MISSING,
        Segment=1,
    )
    invalid(
        ddb.scan,
        "The Segment parameter is required but was not present in the request when parameter "
        "TotalSegments is present",
        TableName=MISSING,
        TotalSegments=2,
    )
    segment_text = (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 3"
    )
    invalid(ddb.scan, segment_text, TableName=MISSING, Segment=3, TotalSegments=3)
    invalid(
        ddb.scan,
        segment_text,
        TableName=MISSING,
        Segment=3,
        TotalSegments=3,
        FilterExpression="things are not gonna be ok",
    )
    err = error(
        ddb.scan,
        TableName=MISSING,
        Segment=3,
        TotalSegments=3,
        ExclusiveStartKey={"pk": {"N": "abc"}},
    )
    assert err["Code"] == "ValidationException"
    assert "Segment" not in err["Message"]


def test_query_reports_unused_names_before_the_key_condition(ddb, table):
    # moto's AWS-verified test_query_unused_attribute_name: AWS "usually" answers this.
    invalid(
        ddb.query,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}",
        TableName=table,
        KeyConditionExpression="(#0 = x)",
        ExpressionAttributeNames={"#0": "pk", "#count": "count"},
    )


def test_query_empty_filter_expression_before_the_key_condition(ddb, table):
    # moto's AWS-verified test_query_with_empty_filter_expression
    invalid(
        ddb.query,
        "Invalid FilterExpression: The expression can not be empty;",
        TableName=table,
        KeyConditionExpression="partitionKey = sth",
        FilterExpression="",
    )


# --------------------------------------------------------------------------- batches


def test_batch_get_item_unused_name_to_missing_table(ddb):
    # moto's AWS-verified test_batch_get_item_unused_attribute_name
    invalid(
        ddb.batch_get_item,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}",
        RequestItems={
            "users": {
                "Keys": [{"username": S("user0")}, {"username": S("user1")}],
                "ConsistentRead": True,
                "ProjectionExpression": "#rl",
                "ExpressionAttributeNames": {"#rl": "username", "#count": "count"},
            }
        },
    )
    # dynalite batchGetItem.js: an empty key passes, so the lookup answers.
    err = error(ddb.batch_get_item, RequestItems={MISSING: {"Keys": [{}]}})
    assert err["Code"] == "ResourceNotFoundException"


def test_batch_write_item_to_missing_table_validates_first(ddb):
    # dynalite batchWriteItem.js "item is too big", "unsupported datatype in Item"
    invalid(
        ddb.batch_write_item,
        "Item size has exceeded the maximum allowed size",
        RequestItems={MISSING: [{"PutRequest": {"Item": {"a": S("x" * 409600)}}}]},
    )
    invalid(
        ddb.batch_write_item,
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        RequestItems={MISSING: [{"DeleteRequest": {"Key": {"a": {}}}}]},
    )


def test_batch_write_item_checks_table_names(ddb):
    # dynalite batchWriteItem.js "short table name"
    err = error(ddb.batch_write_item, RequestItems={"a": [{"PutRequest": {"Item": {"a": S("a")}}}]})
    assert err["Code"] == "ValidationException"
    assert err["Message"] == (
        "1 validation error detected: Value '{a=[WriteRequest(PutRequest=PutRequest("
        "Item={a={S=a}}), DeleteRequest=null)]}' at 'requestItems' " + TABLE_NAMES_RULE
    )
    # With an empty list too: both of RequestItems' constraints, keys first (dynalite).
    err = error(ddb.batch_write_item, RequestItems={"aa;": []})
    assert err["Message"].startswith("2 validation errors detected: Value '{aa;=[]}'")
    assert TABLE_NAMES_RULE in err["Message"]
    assert "Map value must satisfy constraint" in err["Message"]


def test_batch_get_item_checks_table_names(ddb):
    # dynalite batchGetItem.js "short table name with keys"; the map echoed as JSON
    # (paritysuite/dynamodb-conformance batchGetItem, us-east-1 and eu-west-2, 2026-10-09)
    err = error(ddb.batch_get_item, RequestItems={"a": {"Keys": [{"a": S("a")}]}})
    assert err["Code"] == "ValidationException"
    assert err["Message"] == (
        """1 validation error detected: Value '{"a":{"Keys":[{"a":{"S":"a"}}]}}' at """
        "'requestItems' " + TABLE_NAMES_RULE
    )


def test_batches_still_take_table_arns(ddb, table):
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.batch_write_item(RequestItems={arn: [{"PutRequest": {"Item": {"pk": S("arn")}}}]})
    got = ddb.batch_get_item(RequestItems={arn: {"Keys": [{"pk": S("arn")}]}})
    assert got["Responses"][arn] == [{"pk": S("arn")}]


def test_update_item_checks_its_key_before_its_updates(ddb):
    # dynalite's updateItem.js "invalid values in Key" / "unsupported datatype in Key"
    # (against DynamoDB): only the expression-style rules come before the Key.
    err = error(
        ddb.update_item,
        TableName=MISSING,
        Key={"a": {"SS": []}},
        AttributeUpdates={"b": {"Action": "PUT"}},
    )
    assert err["Message"].endswith(
        "One or more parameter values were invalid: An string set  may not be empty"
    )
    invalid(
        ddb.update_item,
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        TableName=MISSING,
        Key={"a": {}},
        ExpressionAttributeNames={},
        UpdateExpression="SET b = :b",
    )


@pytest.mark.parametrize(
    ("op", "extra", "null"),
    [
        ("update_item", {"Key": {"a": S("x")}}, "UpdateExpression and ConditionExpression are"),
        ("scan", {}, "FilterExpression is"),
        (
            "query",
            {"KeyConditions": {"a": {"ComparisonOperator": "EQ", "AttributeValueList": [S("x")]}}},
            "FilterExpression and KeyConditionExpression are",
        ),
    ],
)
def test_values_without_an_expression_name_the_expressions(ddb, op, extra, null):
    # dynalite's updateItem.js, scan.js and query.js, and an AWS SDK exception quoted with
    # its request id: the expressions that could have used them.
    err = error(
        getattr(ddb, op), TableName=MISSING, ExpressionAttributeValues={":v": S("x")}, **extra
    )
    assert err["Message"].endswith(
        f"ExpressionAttributeValues can only be specified when using expressions: {null} null"
    )


@pytest.mark.parametrize(("op", "extra"), [("put_item", "Item"), ("delete_item", "Key")])
def test_put_and_delete_item_values_without_an_expression_name_none(ddb, op, extra):
    # paritysuite/dynamodb-conformance putItem and deleteItem "request validation envelope"
    # (eu-west-2 and us-east-1, 2026-10-09): no ": ConditionExpression is null" any more
    err = error(
        getattr(ddb, op),
        TableName=MISSING,
        ExpressionAttributeValues={":v": S("x")},
        **{extra: {"a": S("x")}},
    )
    assert err["Message"] == (
        ENVELOPE + "ExpressionAttributeValues can only be specified when using expressions"
    )


NOT_NUMERIC = "The parameter cannot be converted to a numeric value"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"S": "", "N": ""}, NOT_NUMERIC),
        ({"S": "a", "N": ""}, NOT_NUMERIC),
        ({"S": "a", "N": "b"}, NOT_NUMERIC + ": b"),
        ({"S": "a", "NS": ["1", "b"]}, NOT_NUMERIC + ": b"),
        ({"NS": ["1", ""]}, NOT_NUMERIC),
        (
            {"S": "a", "N": "1"},
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes",
        ),
    ],
)
def test_numbers_are_read_before_the_types_are_counted(ddb, value, message):
    # dynalite getItem.js "empty/invalid numbers in Key": an empty number is named by
    # nothing, and a bad number wins over a second type.
    invalid(ddb.get_item, message, TableName=MISSING, Key={"a": value})


def test_an_index_key_error_names_the_alphabetically_first_index(ddb):
    # dynamodb-conformance's composite table (its four-region capture of 2026-06-23): lsi1,
    # gsi1 and gsi2 all key on lsi1sk, and AWS names gsi1 for a value of the wrong type
    # (its batchWriteItem.test.ts).
    name = tname("ixname")
    make_table(
        ddb,
        name,
        ("pk", "S"),
        ("sk", "S"),
        lsis=[
            index("lsi1", ("pk", "S"), ("lsi1sk", "S")),
            index("lsi2", ("pk", "S"), ("lsi2sk", "S"), "INCLUDE", ["lsi1sk"]),
        ],
        gsis=[
            index("gsi1", ("lsi1sk", "S")),
            index("gsi2", ("lsi1sk", "S"), ("lsi2sk", "S"), "INCLUDE", ["data"]),
        ],
    )
    item = {"pk": S("a"), "sk": S("1")}
    write = {"PutRequest": {"Item": {**item, "lsi1sk": {"N": "5"}}}}
    invalid(
        ddb.batch_write_item,
        "One or more parameter values were invalid: Type mismatch for Index Key "
        "lsi1sk Expected: S Actual: N IndexName: gsi1",
        RequestItems={name: [write]},
    )
    invalid(
        ddb.put_item,
        "One or more parameter values are not valid. A value specified for a secondary index "
        "key is not supported. The AttributeValue for a key attribute cannot contain an empty "
        "string value. IndexName: gsi1, IndexKey: lsi1sk",
        TableName=name,
        Item={**item, "lsi1sk": S("")},
    )


START = "The provided starting key is invalid: "
EMPTY_VALUE = (
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        # dynalite's query.js: the start key's values before the key condition's own faults
        (
            {"KeyConditions": {"a": {"ComparisonOperator": "EQ"}}, "ExclusiveStartKey": {"a": {}}},
            START + EMPTY_VALUE,
        ),
        (
            {
                "KeyConditionExpression": "",
                "ExpressionAttributeNames": {},
                "ExpressionAttributeValues": {},
                "ExclusiveStartKey": {"a": {}},
            },
            START + EMPTY_VALUE,
        ),
        # ... and before a missing key condition; some faults come without the prefix
        (
            {"ExclusiveStartKey": {"a": {"NULL": False}}},
            START + "One or more parameter values were invalid: Null attribute value types "
            "must have the value of true",
        ),
        (
            {"ExclusiveStartKey": {"a": {"S": "a", "N": "1"}}},
            START + "Supplied AttributeValue has more than one datatypes set, must contain "
            "exactly one of the supported datatypes",
        ),
        (
            {"ExclusiveStartKey": {"a": {"N": "1e126"}}},
            "Number overflow. Attempting to store "
            "a number with magnitude larger than supported range",
        ),
        # AttributesToGet's duplicates before the start key
        (
            {"QueryFilter": {}, "ExclusiveStartKey": {"a": {}}, "AttributesToGet": ["a", "a"]},
            "One or more parameter values were invalid: Duplicate value in attribute name: a",
        ),
        ({"KeyConditions": {}, "QueryFilter": {}}, "Conditions can be of length 1 or 2 only"),
    ],
)
def test_query_checks_its_start_key_in_awss_order(ddb, request_, message):
    invalid(ddb.query, message, TableName=MISSING, **request_)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"Segment": 1, "FilterExpression": "", "ExpressionAttributeNames": {}},
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present",
        ),
        (
            {
                "FilterExpression": "",
                "ExpressionAttributeNames": {},
                "ExclusiveStartKey": {"a": {}},
            },
            START + EMPTY_VALUE,
        ),
        (
            {"ExclusiveStartKey": {"a": {"BS": []}}},
            START + "One or more parameter values were invalid: Binary sets should not be empty",
        ),
        (
            {"ExclusiveStartKey": {"a": {"NS": []}}},
            "One or more parameter values were invalid: An number set  may not be empty",
        ),
    ],
)
def test_scan_checks_its_start_key_and_segments_before_its_expressions(ddb, request_, message):
    # dynalite's scan.js, checked against DynamoDB
    invalid(ddb.scan, message, TableName=MISSING, **request_)


ENUM_RCC = (
    "Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must "
    "satisfy enum value set: [INDEXES, TOTAL, NONE]"
)
ENUM_RICM = (
    "Value 'BOGUS2' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member "
    "must satisfy enum value set: [SIZE, NONE]"
)


def test_broken_return_options_are_reported_together(ddb, table):
    # dynamodb-conformance's validation-ordering batchOperations and transactions tests
    # (us-east-1 and eu-west-2, 2026-10-09): one message for every broken member
    bogus = {"ReturnConsumedCapacity": "BOGUS", "ReturnItemCollectionMetrics": "BOGUS2"}
    both = f"2 validation errors detected: {ENUM_RCC}; {ENUM_RICM}"
    put = {"PutRequest": {"Item": {"pk": S("a")}}}
    invalid(ddb.batch_write_item, both, RequestItems={table: [put]}, **bogus)
    action = {"Put": {"TableName": table, "Item": {"pk": S("a")}}}
    invalid(ddb.transact_write_items, both, TransactItems=[action], **bogus)
    token = "x" * 37
    invalid(
        ddb.transact_write_items,
        f"2 validation errors detected: Value '{token}' at 'clientRequestToken' failed to "
        f"satisfy constraint: Member must have length less than or equal to 36; {ENUM_RCC}",
        TransactItems=[action],
        ClientRequestToken=token,
        ReturnConsumedCapacity="BOGUS",
    )
    err = error(ddb.put_item, TableName=table, Item={"pk": S("a")}, ReturnValues="BOGUS", **bogus)
    assert err["Message"].startswith(
        "3 validation errors detected: Value 'BOGUS' at 'returnValues'"
    )
    assert ENUM_RCC in err["Message"] and ENUM_RICM in err["Message"]
    # ... except UpdateItem, which reports the first alone (its validation-ordering test)
    err = error(ddb.update_item, TableName=table, Key={"pk": S("a")}, ReturnValues="BOGUS", **bogus)
    assert err["Message"].startswith("1 validation error detected: Value 'BOGUS' at 'returnValues'")


def test_transactions_check_every_action_before_any_table(ddb):
    # dynamodb-conformance's validation-ordering transactions test: an expression that does
    # not parse, or a value it does not use, is refused ahead of a missing table on an
    # earlier action
    missing = {"Put": {"TableName": MISSING, "Item": {"pk": S("a")}}}
    check = {
        "ConditionCheck": {
            "TableName": MISSING,
            "Key": {"pk": S("a")},
            "ConditionExpression": "attribute_not_exists(",
        }
    }
    invalid(
        ddb.transact_write_items,
        'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "("',
        TransactItems=[missing, check],
    )
    update = {
        "Update": {
            "TableName": MISSING,
            "Key": {"pk": S("b")},
            "UpdateExpression": "SET v = :a",
            "ExpressionAttributeValues": {":a": S("1"), ":v": S("2")},
        }
    }
    invalid(
        ddb.transact_write_items,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
        TransactItems=[missing, update],
    )
    get = {"Get": {"TableName": MISSING, "Key": {"pk": S("a")}}}
    unused = {**get["Get"], "ProjectionExpression": "a", "ExpressionAttributeNames": {"#n": "n"}}
    invalid(
        ddb.transact_get_items,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}",
        TransactItems=[get, {"Get": unused}],
    )
