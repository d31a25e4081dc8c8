"""DynamoDB request-validation texts a conformance run found worded otherwise than AWS.

The DynamoDB conformance suite (nubo-db/dynamodb-conformance, now
paritysuite/dynamodb-conformance, each behaviour characterised against real DynamoDB in
2026) pins these messages; each test here sends the request with real boto3 to a real
server and checks AWS's code and exact text. The newest capture wins where the suite's
two homes disagree; the source is named by each test.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import ENVELOPE, S, client, make_table, tname

INVALID = "One or more parameter values were invalid: "
MAP_KEYS_RULE = (
    "failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length "
    "less than or equal to 255, Member must have length greater than or equal to 3, Member "
    "must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]"
)
ENUM_RCC = (
    "Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must "
    "satisfy enum value set: [INDEXES, TOTAL, NONE]"
)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def table(ddb):
    return make_table(ddb, tname("texts"))


@pytest.fixture(scope="module")
def composite(ddb):
    return make_table(ddb, tname("texts"), range=("sk", "S"))


def refusal(call, **kwargs) -> str:
    """The message of the ValidationException ``call(**kwargs)`` must answer."""
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationException", err
    return err["Message"]


# --------------------------------------------------------------------------- 1: TableName ''

EMPTY_NAME = (
    "1 validation error detected: Value '' at 'tableName' failed to satisfy constraint: "
    "Member must have length greater than or equal to 1"
)


def test_item_operations_refuse_an_empty_table_name_by_its_minimum_length(ddb):
    # nubo-db putItem "empty table name: minimum length 1" (2026-06, four regions);
    # paritysuite validation-ordering updateItem: one error, stopping at the name
    key = {"pk": S("a")}
    calls = [
        (ddb.put_item, {"Item": key}),
        (ddb.get_item, {"Key": key}),
        (ddb.update_item, {"Key": key}),
        (ddb.delete_item, {"Key": key}),
    ]
    for call, kwargs in calls:
        assert refusal(call, TableName="", **kwargs) == EMPTY_NAME


def test_item_operations_still_apply_the_table_name_rules(ddb):
    # Alternator's AWS-validated test_item_operations_improper_named_table; nubo-db putItem
    # "table name too long (256 chars)": past the empty check the name rules still hold
    item = {"pk": S("a")}
    assert refusal(ddb.put_item, TableName="non!existent!table", Item=item) == (
        "1 validation error detected: Value 'non!existent!table' at 'tableName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    assert refusal(ddb.get_item, TableName="ab", Key=item) == (
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 3"
    )


def test_describe_table_keeps_both_name_rules_for_an_empty_name(ddb):
    # ack-api-quirks DDB-TABLE-457 describe_table_empty_name (2026-10-09)
    assert refusal(ddb.describe_table, TableName="").startswith("2 validation errors detected")


# --------------------------------------------------------------------------- 2: RequestItems {}


def test_batch_get_item_refuses_empty_request_items_by_the_member_constraint(ddb):
    # paritysuite batchGetItem "empty RequestItems" (every region but me-central-1 since
    # the 2026-09-02 sweep)
    assert refusal(ddb.batch_get_item, RequestItems={}) == (
        "1 validation error detected: Value at 'RequestItems' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_batch_write_item_refuses_empty_request_items_in_its_own_words(ddb):
    # paritysuite captures/2026-10-07-batch-empty-request-items.json: us-east-1 and most
    # regions, both runs
    assert refusal(ddb.batch_write_item, RequestItems={}) == (
        "The requestItems parameter is required for BatchWriteItem"
    )


# --------------------------------------------------------------------------- 3: no TableName


def test_create_table_without_a_name_says_the_parameter_is_required(ddb):
    # nubo-db createTable "missing TableName: full required-parameter error"
    assert refusal(
        ddb.create_table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    ) == ("The parameter 'TableName' is required but was not present in the request")


def test_put_item_without_a_name_keeps_the_null_member_text(ddb):
    # nubo-db putItem "missing table name: full validation error string"
    assert refusal(ddb.put_item, Item={"pk": S("a")}) == (
        "1 validation error detected: Value null at 'tableName' failed to satisfy "
        "constraint: Member must not be null"
    )


# --------------------------------------------------------------------------- 4: KeySchema > 2


def test_create_table_echoes_three_key_schema_elements(ddb):
    # nubo-db createTable "more than 2 KeySchema elements"
    names = ("pk", "sk", "extra")
    message = refusal(
        ddb.create_table,
        TableName=tname("threekey"),
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"KeyType": "RANGE", "AttributeName": "sk"},  # echoed in the class's order
            {"AttributeName": "extra", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    assert message == (
        "1 validation error detected: Value '[KeySchemaElement(attributeName=pk, "
        "keyType=HASH), KeySchemaElement(attributeName=sk, keyType=RANGE), "
        "KeySchemaElement(attributeName=extra, keyType=RANGE)]' at 'keySchema' failed to "
        "satisfy constraint: Member must have length less than or equal to 2"
    )


# --------------------------------------------------------------------------- 5: mixed styles


def test_batch_get_item_refuses_projection_styles_mixed_across_tables(ddb, table, composite):
    # nubo-db batchGetItem "mixing ProjectionExpression on one table and AttributesToGet on
    # another"; the text: ExtendDB PR #178, captured with the AWS CLI
    message = refusal(
        ddb.batch_get_item,
        RequestItems={
            table: {"Keys": [{"pk": S("a")}], "ProjectionExpression": "pk"},
            composite: {"Keys": [{"pk": S("b"), "sk": S("z")}], "AttributesToGet": ["pk"]},
        },
    )
    assert message == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}"
    )
    # Each style on its own, across tables, is fine.
    got = ddb.batch_get_item(
        RequestItems={
            table: {"Keys": [{"pk": S("a")}], "ProjectionExpression": "pk"},
            composite: {"Keys": [{"pk": S("b"), "sk": S("z")}], "ProjectionExpression": "pk"},
        }
    )
    assert got["Responses"] == {table: [], composite: []}


# --------------------------------------------------------------------------- 6: bad name echo


def test_batch_get_item_echoes_a_bad_table_name_map_as_json(ddb):
    # paritysuite batchGetItem "malformed table name" (us-east-1, eu-west-2, 2026-10-09)
    requests = {"bad!name": {"Keys": [{"pk": S("a")}]}}
    shown = '\'{"bad!name":{"Keys":[{"pk":{"S":"a"}}]}}\''
    assert refusal(ddb.batch_get_item, RequestItems=requests) == (
        f"1 validation error detected: Value {shown} at 'requestItems' {MAP_KEYS_RULE}"
    )
    # paritysuite validation-ordering batchOperations: reported with the enum, map first
    assert refusal(ddb.batch_get_item, RequestItems=requests, ReturnConsumedCapacity="BOGUS") == (
        f"2 validation errors detected: Value {shown} at 'requestItems' {MAP_KEYS_RULE}; {ENUM_RCC}"
    )


def test_batch_get_item_reports_a_bad_enum_alone_before_a_missing_table(ddb):
    # paritysuite validation-ordering batchOperations
    message = refusal(
        ddb.batch_get_item,
        RequestItems={tname("absent"): {"Keys": [{"pk": S("a")}]}},
        ReturnConsumedCapacity="BOGUS",
    )
    assert message == f"1 validation error detected: {ENUM_RCC}"


# --------------------------------------------------------------------------- 7: set duplicates

BINARY_DUPES = {"BS": [b"\xff", b"\x00", b"\x00"]}  # /w==, AA==, AA== as sent


def test_duplicate_binary_set_members_are_listed_with_the_set_type(ddb, table):
    # paritysuite valueLayers.test.ts DUPE_CURRENT (four regions, 2026-10-09): quoted
    # base64, byte order up to the repeat, no spaces, no space before "of"
    listed = '["AA==","/w==","AA=="]'
    want = f"{INVALID}Input collection {listed}of type BS contains duplicates."
    item = {"pk": S("dupes"), "s": BINARY_DUPES}
    assert refusal(ddb.put_item, TableName=table, Item=item) == ENVELOPE + want
    assert refusal(ddb.get_item, TableName=table, Key={"pk": BINARY_DUPES}) == want


def test_duplicate_zero_length_binary_members(ddb, table):
    # nubo-db putItem "duplicate zero-length members in BS"
    item = {"pk": S("dupes"), "s": {"BS": [b"", b""]}}
    assert refusal(ddb.put_item, TableName=table, Item=item) == (
        f'{ENVELOPE}{INVALID}Input collection ["",""]of type BS contains duplicates.'
    )


def test_duplicate_string_members_list_the_sorted_prefix_then_the_rest(ddb, table):
    # DUPE_CURRENT's rule: byte order up to the first repeat, then the rest as sent
    item = {"pk": S("dupes"), "s": {"SS": ["c", "a", "c", "b"]}}
    assert refusal(ddb.put_item, TableName=table, Item=item) == (
        f'{ENVELOPE}{INVALID}Input collection ["a", "c", "c", "b"] contains duplicates.'
    )


# --------------------------------------------------------------------------- 8: values, no expr

VALUES_ALONE = "ExpressionAttributeValues can only be specified when using expressions"


def test_put_and_delete_item_name_no_expression_for_values_without_one(ddb, table):
    # paritysuite putItem and deleteItem "request validation envelope" (eu-west-2 and
    # us-east-1, 2026-10-09): no ": ConditionExpression is null"
    values = {":v": S("x")}
    assert refusal(
        ddb.put_item, TableName=table, Item={"pk": S("a")}, ExpressionAttributeValues=values
    ) == (ENVELOPE + VALUES_ALONE)
    assert refusal(
        ddb.delete_item, TableName=table, Key={"pk": S("a")}, ExpressionAttributeValues=values
    ) == (ENVELOPE + VALUES_ALONE)


def test_update_item_still_names_its_expressions(ddb, table):
    # No newer capture covers UpdateItem: dynalite's updateItem.js and an AWS SDK exception
    message = refusal(
        ddb.update_item,
        TableName=table,
        Key={"pk": S("a")},
        ExpressionAttributeValues={":v": S("x")},
    )
    assert message == (
        ENVELOPE + VALUES_ALONE + ": UpdateExpression and ConditionExpression are null"
    )
