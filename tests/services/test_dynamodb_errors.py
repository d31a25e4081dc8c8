"""DynamoDB error responses: the exact code, message and status AWS gives invalid requests.

Every expected message is AWS's own text, from captures of real DynamoDB. The main
sources, cited per case:

- [parity] paritysuite/dynamodb-conformance (the maintained continuation of
  nubo-db/dynamodb-conformance): a suite run against real DynamoDB that pins exact
  messages (tests/tier3/error-messages/*.test.ts) and records per-region captures
  (captures/cross-region-latest.json, 2026-09-20, including us-east-1;
  valueLayers.test.ts, 2026-10-09, us-east-1 among four regions).
- [dynalite] architect/dynalite test/*.js and validations/*.js, written against real
  DynamoDB (older wording; only used where nothing newer contradicts it).
- [moto] getmoto/moto tests/test_dynamodb, checked against AWS.
- [report] a real AWS error quoted in a public issue or log.
- [localstack] localstack/localstack tests/aws/services/dynamodb/*.snapshot.json,
  recorded against AWS.

DynamoDB's 2026 validation rollout changed the framing of some messages (see
``ENVELOPE`` in dynamodb_helpers): in us-east-1, PutItem/UpdateItem/DeleteItem wrap
request-validation errors in "1 validation error detected: ", while GetItem, Query,
BatchGetItem answer bare and BatchWriteItem, Scan and the transactions keep the older
bare wording. The cases follow us-east-1 (the region the tests sign for) and prefer
operations whose framing is settled.
"""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import (
    ENVELOPE,
    OVERFLOW,
    UNDERFLOW,
    N,
    S,
    assert_error,
    case,
    client,
    index,
    make_table,
    tname,
)

INVALID = "One or more parameter values were invalid: "
NOT_FOUND = "Requested resource not found"
SCHEMA = "The provided key element does not match the schema"
EMPTY_KEY = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute "
    "cannot contain an empty string value. Key: pk"
)
NOT_NUMERIC = "The parameter cannot be converted to a numeric value"
UPDATE_EMPTY_INDEX_KEY = (
    "One or more parameter values are not valid. The update expression attempted to update a "
    "secondary index key to a value that is not supported. The AttributeValue for a key "
    "attribute cannot contain an empty string value."
)
VALIDATION = "ValidationException"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def raw(cloudlet_server):
    """A client that lets values botocore would refuse (Limit=0) reach the server."""
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def t(ddb):
    ns = SimpleNamespace(
        h=make_table(ddb, tname("err-h")),  # pk S
        c=make_table(
            ddb,
            tname("err-c"),
            range=("sk", "N"),
            gsis=[index("gsi1", ("gpk", "S"))],
            lsis=[index("lsi1", ("pk", "S"), ("lsk", "S"))],
        ),
        n=make_table(ddb, tname("err-n"), hash=("pk", "N")),
        protected=make_table(ddb, tname("err-p"), DeletionProtectionEnabled=True),
        missing=tname("err-missing"),
    )
    ddb.put_item(TableName=ns.h, Item={"pk": S("exists"), "s": S("str"), "n": N("1")})
    return ns


CASES = [
    # -- tables --------------------------------------------------------------------
    # [parity] getItem.test.ts 'non-existent table' (toBe)
    case(
        "getitem-missing-table",
        lambda d, r, t: d.get_item(TableName=t.missing, Key={"pk": S("a")}),
        "ResourceNotFoundException",
        NOT_FOUND,
    ),
    # [dynalite] putItem; [parity] same message for DeleteItem/Scan/TransactWriteItems
    case(
        "putitem-missing-table",
        lambda d, r, t: d.put_item(TableName=t.missing, Item={"pk": S("a")}),
        "ResourceNotFoundException",
        NOT_FOUND,
    ),
    # [parity] scan.test.ts 'non-existent table' (toBe)
    case(
        "scan-missing-table",
        lambda d, r, t: d.scan(TableName=t.missing),
        "ResourceNotFoundException",
        NOT_FOUND,
    ),
    # [report] localstack#9038 quoting AWS; [dynalite] describeTable; the control plane
    # names the table, the data plane does not
    case(
        "describetable-missing",
        lambda d, r, t: d.describe_table(TableName=t.missing),
        "ResourceNotFoundException",
        lambda t: f"Requested resource not found: Table: {t.missing} not found",
    ),
    # [dynalite] deleteTable.js; dynoxide (AWS-parity emulator) delete_table.rs
    case(
        "deletetable-missing",
        lambda d, r, t: d.delete_table(TableName=t.missing),
        "ResourceNotFoundException",
        lambda t: f"Requested resource not found: Table: {t.missing} not found",
    ),
    # [report] "ResourceInUseException: Table already exists: Orders"; [dynalite]; [moto]
    case(
        "createtable-exists",
        lambda d, r, t: make_table(d, t.h),
        "ResourceInUseException",
        lambda t: f"Table already exists: {t.h}",
    ),
    # [report] AmazonDynamoDBv2 400 ValidationException; [moto] (no indexes: the count form)
    case(
        "createtable-unused-attribute-definition",
        lambda d, r, t: d.create_table(
            TableName=tname("err-ct"),
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "extra", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        VALIDATION,
        INVALID + "Number of attributes in KeySchema does not exactly match number of attributes "
        "defined in AttributeDefinitions",
    ),
    # [moto] test_create_table_with_redundant_and_missing_attributes
    case(
        "createtable-key-attribute-not-defined",
        lambda d, r, t: d.create_table(
            TableName=tname("err-ct"),
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        VALIDATION,
        INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
        "Keys: [pk], AttributeDefinitions: [other]",
    ),
    # [parity] createTable.test.ts 'LSI without range key on base table' (toBe)
    case(
        "createtable-lsi-without-range-key",
        lambda d, r, t: d.create_table(
            TableName=tname("err-ct"),
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "lsiSk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "lsi1",
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "lsiSk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        ),
        VALIDATION,
        INVALID + "Table KeySchema does not have a range key, which is required when specifying "
        "a LocalSecondaryIndex",
    ),
    # [report] nubo-db/dynoxide#46 and rebuy-de/aws-nuke's mock, both quoting AWS
    case(
        "deletetable-deletion-protection",
        lambda d, r, t: d.delete_table(TableName=t.protected),
        VALIDATION,
        "Resource cannot be deleted as it is currently protected against deletion. "
        "Disable deletion protection first.",
    ),
    # -- keys ------------------------------------------------------------------------
    # [parity] capture get_key_* (us-east-1): wrong name, wrong type, missing range key
    case(
        "getitem-wrong-key-attribute",
        lambda d, r, t: d.get_item(TableName=t.h, Key={"id": S("a")}),
        VALIDATION,
        SCHEMA,
    ),
    case(
        "getitem-key-type-mismatch",
        lambda d, r, t: d.get_item(TableName=t.h, Key={"pk": N("1")}),
        VALIDATION,
        SCHEMA,
    ),
    case(
        "getitem-missing-range-key",
        lambda d, r, t: d.get_item(TableName=t.c, Key={"pk": S("a")}),
        VALIDATION,
        SCHEMA,
    ),
    # [parity] capture get_key_empty (us-east-1)
    case(
        "getitem-empty-string-key",
        lambda d, r, t: d.get_item(TableName=t.h, Key={"pk": S("")}),
        VALIDATION,
        EMPTY_KEY,
    ),
    # [report] getmoto/moto#7062 quotes AWS's answer to a Query on an empty partition key
    case(
        "query-empty-string-partition-key",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk = :v",
            ExpressionAttributeValues={":v": S("")},
        ),
        VALIDATION,
        EMPTY_KEY,
    ),
    # [report] the same text for an index's key (the name is the index key's)
    case(
        "query-empty-string-gsi-key",
        lambda d, r, t: d.query(
            TableName=t.c,
            IndexName="gsi1",
            KeyConditionExpression="gpk = :v",
            ExpressionAttributeValues={":v": S("")},
        ),
        VALIDATION,
        EMPTY_KEY.replace("Key: pk", "Key: gpk"),
    ),
    # [report] a Spring Data test's begins_with(sort key, "") against DynamoDB
    case(
        "query-empty-string-sort-key-prefix",
        lambda d, r, t: d.query(
            TableName=t.c,
            IndexName="lsi1",
            KeyConditionExpression="pk = :p AND begins_with(lsk, :v)",
            ExpressionAttributeValues={":p": S("a"), ":v": S("")},
        ),
        VALIDATION,
        EMPTY_KEY.replace("Key: pk", "Key: lsk"),
    ),
    # [moto] put_item; dynoxide helpers.rs (data-plane key checks are not enveloped)
    case(
        "putitem-missing-key",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"other": S("x")}),
        VALIDATION,
        INVALID + "Missing the key pk in the item",
    ),
    # [moto] test_put_item_wrong_attribute_type; [parity] the same text is the
    # TransactWriteItems cancellation reason
    case(
        "putitem-key-type-mismatch",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": N("1")}),
        VALIDATION,
        INVALID + "Type mismatch for key pk expected: S actual: N",
    ),
    # [moto] batch put empty key; dynoxide test_put_item_empty_string_key_bare (eu-west-2)
    case(
        "putitem-empty-string-key",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("")}),
        VALIDATION,
        EMPTY_KEY,
    ),
    # [nubo] updateItem.test.ts, transactWriteItems.test.ts 'Update empty-string index key':
    # an update's empty index key has its own text, naming no index, and a transaction
    # answers it as the whole request's error (no cancellation)
    case(
        "updateitem-empty-index-key",
        lambda d, r, t: d.update_item(
            TableName=t.c,
            Key={"pk": S("ix"), "sk": N("1")},
            UpdateExpression="SET gpk = :v",
            ExpressionAttributeValues={":v": S("")},
        ),
        VALIDATION,
        UPDATE_EMPTY_INDEX_KEY,
    ),
    case(
        "transactwrite-update-empty-index-key",
        lambda d, r, t: d.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": t.c,
                        "Key": {"pk": S("ix"), "sk": N("2")},
                        "UpdateExpression": "SET lsk = :v",
                        "ExpressionAttributeValues": {":v": S("")},
                    }
                }
            ]
        ),
        VALIDATION,
        UPDATE_EMPTY_INDEX_KEY,
    ),
    # [localstack] test_batch_write_not_matching_schema (AWS-recorded snapshot): a batch's
    # PutRequest keeps the key-parameter text; dynoxide #97/#101 for the type mismatch
    case(
        "batchwrite-put-missing-key",
        lambda d, r, t: d.batch_write_item(
            RequestItems={t.c: [{"PutRequest": {"Item": {"nonKey": S("hello")}}}]}
        ),
        VALIDATION,
        SCHEMA,
    ),
    case(
        "batchwrite-put-key-type-mismatch",
        lambda d, r, t: d.batch_write_item(
            RequestItems={t.h: [{"PutRequest": {"Item": {"pk": N("1")}}}]}
        ),
        VALIDATION,
        SCHEMA,
    ),
    # [parity] itemSizeBySurface.test.ts BatchWriteItem 'put wording'; [dynalite]
    case(
        "batchwrite-item-over-400kb",
        lambda d, r, t: d.batch_write_item(
            RequestItems={t.h: [{"PutRequest": {"Item": {"pk": S("big"), "b": S("x" * 410_000)}}}]}
        ),
        VALIDATION,
        "Item size has exceeded the maximum allowed size",
    ),
    # -- numbers -----------------------------------------------------------------------
    # [parity] valueLayers.test.ts: PutItem is enveloped (us-east-1, 2026-10-09)
    case(
        "putitem-number-not-numeric",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("num"), "v": N("abc")}),
        VALIDATION,
        ENVELOPE + NOT_NUMERIC + ": abc",
    ),
    case(
        "putitem-number-overflow",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("num"), "v": N("1e126")}),
        VALIDATION,
        ENVELOPE + OVERFLOW,
    ),
    case(
        "putitem-number-underflow",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("num"), "v": N("1e-131")}),
        VALIDATION,
        ENVELOPE + UNDERFLOW,
    ),
    case(
        "putitem-number-39-significant-digits",
        lambda d, r, t: d.put_item(
            TableName=t.h, Item={"pk": S("num"), "v": N("123456789012345678901234567890123456789")}
        ),
        VALIDATION,
        ENVELOPE + "Attempting to store more than 38 significant digits in a Number",
    ),
    # [parity] valueLayers.test.ts: GetItem and Query answer bare, current wording
    case(
        "getitem-number-key-not-numeric",
        lambda d, r, t: d.get_item(TableName=t.n, Key={"pk": N("abc")}),
        VALIDATION,
        NOT_NUMERIC + ": abc",
    ),
    case(
        "query-filter-value-overflow",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk = :p",
            FilterExpression="n = :v",
            ExpressionAttributeValues={":p": S("exists"), ":v": N("1e126")},
        ),
        VALIDATION,
        OVERFLOW,
    ),
    # -- sets (note AWS's doubled space in "set  may") ------------------------------------
    # [parity] capture b_put_empty_ss / b_put_empty_ns (us-east-1), esm_put_bs_empty_set
    case(
        "putitem-empty-string-set",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("set"), "v": {"SS": []}}),
        VALIDATION,
        ENVELOPE + INVALID + "An string set  may not be empty",
    ),
    case(
        "putitem-empty-number-set",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("set"), "v": {"NS": []}}),
        VALIDATION,
        ENVELOPE + INVALID + "An number set  may not be empty",
    ),
    case(
        "putitem-empty-binary-set",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("set"), "v": {"BS": []}}),
        VALIDATION,
        ENVELOPE + INVALID + "Binary sets should not be empty",
    ),
    # [parity] valueLayers.test.ts DUPE_CURRENT: members quoted, in byte order up to the
    # first repeat, then the repeat, then the rest as sent; numbers are not listed
    case(
        "putitem-duplicate-string-set-members",
        lambda d, r, t: d.put_item(
            TableName=t.h, Item={"pk": S("set"), "v": {"SS": ["b", "a", "b"]}}
        ),
        VALIDATION,
        ENVELOPE + INVALID + 'Input collection ["a", "b", "b"] contains duplicates.',
    ),
    case(
        "putitem-duplicate-number-set-members",
        lambda d, r, t: d.put_item(
            TableName=t.h, Item={"pk": S("set"), "v": {"NS": ["2", "1", "2"]}}
        ),
        VALIDATION,
        ENVELOPE + INVALID + "Input collection contains duplicates.",
    ),
    # -- AttributeValue shape ----------------------------------------------------------
    # [report] ap-northeast-1 PutItem log 2026-09-02 (bare); dynoxide *_bare (eu-west-2)
    case(
        "putitem-attribute-value-no-type",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("shape"), "v": {}}),
        VALIDATION,
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
    ),
    # [dynalite] putItem 'multiple types'; dynoxide test_put_item_multi_datatype_*_bare
    case(
        "putitem-attribute-value-two-types",
        lambda d, r, t: d.put_item(
            TableName=t.h, Item={"pk": S("shape"), "v": {"S": "a", "N": "1"}}
        ),
        VALIDATION,
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
        "of the supported datatypes",
    ),
    # -- conditions ----------------------------------------------------------------------
    # [parity] conditionalCheck.test.ts (toBe)
    case(
        "putitem-condition-failed",
        lambda d, r, t: d.put_item(
            TableName=t.h,
            Item={"pk": S("exists"), "s": S("other")},
            ConditionExpression="attribute_not_exists(pk)",
        ),
        "ConditionalCheckFailedException",
        "The conditional request failed",
    ),
    # [report] truora/minidyn#21 quoting AWS for this exact shape (token/near); enveloped
    # on PutItem per [parity]
    case(
        "putitem-condition-syntax-error",
        lambda d, r, t: d.put_item(
            TableName=t.h,
            Item={"pk": S("cond")},
            ConditionExpression="attribute_exists(pk) AND NOT #n",
            ExpressionAttributeNames={"#n": "n"},
        ),
        VALIDATION,
        ENVELOPE + 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "#n"',
    ),
    # [parity] capture b_put_redundant_parens (us-east-1)
    case(
        "putitem-condition-redundant-parentheses",
        lambda d, r, t: d.put_item(
            TableName=t.h,
            Item={"pk": S("cond")},
            ConditionExpression="((attribute_not_exists(pk)))",
        ),
        VALIDATION,
        ENVELOPE + "Invalid ConditionExpression: The expression has redundant parentheses;",
    ),
    # [parity] capture b_put_mix_expr (us-east-1)
    case(
        "putitem-mixed-expected-and-condition-expression",
        lambda d, r, t: d.put_item(
            TableName=t.h,
            Item={"pk": S("cond")},
            Expected={"pk": {"Exists": False}},
            ConditionExpression="attribute_not_exists(pk)",
        ),
        VALIDATION,
        ENVELOPE + "Can not use both expression and non-expression parameters in the same "
        "request: Non-expression parameters: {Expected} Expression parameters: "
        "{ConditionExpression}",
    ),
    # [parity] capture u_upd_mix (us-east-1)
    case(
        "updateitem-mixed-attributeupdates-and-update-expression",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("upd")},
            UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": S("x")},
            AttributeUpdates={"a": {"Value": S("x"), "Action": "PUT"}},
        ),
        VALIDATION,
        ENVELOPE + "Can not use both expression and non-expression parameters in the same "
        "request: Non-expression parameters: {AttributeUpdates} Expression parameters: "
        "{UpdateExpression}",
    ),
    # -- expression attribute names and values -----------------------------------------------
    # [parity] capture u_upd_missing_eav (us-east-1)
    case(
        "updateitem-undefined-value",
        lambda d, r, t: d.update_item(
            TableName=t.h, Key={"pk": S("upd")}, UpdateExpression="SET a = :v"
        ),
        VALIDATION,
        ENVELOPE
        + "Invalid UpdateExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :v",
    ),
    # Scan keeps the older bare wording [parity]; text as Query's FilterExpression below
    case(
        "scan-filter-undefined-value",
        lambda d, r, t: d.scan(TableName=t.h, FilterExpression="a = :missing"),
        VALIDATION,
        "Invalid FilterExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :missing",
    ),
    # [parity] query.test.ts 'filter references undefined ExpressionAttributeNames' (toBe)
    case(
        "query-filter-undefined-name",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk = :pk",
            FilterExpression="#missing = :fv",
            ExpressionAttributeValues={":pk": S("exists"), ":fv": S("x")},
        ),
        VALIDATION,
        "Invalid FilterExpression: An expression attribute name used in the document path is "
        "not defined; attribute name: #missing",
    ),
    # [parity] capture proj_get_undef (us-east-1)
    case(
        "getitem-projection-undefined-name",
        lambda d, r, t: d.get_item(
            TableName=t.h, Key={"pk": S("exists")}, ProjectionExpression="#undef"
        ),
        VALIDATION,
        "Invalid ProjectionExpression: An expression attribute name used in the document path "
        "is not defined; attribute name: #undef",
    ),
    # [parity] capture u_upd_unused_eav (us-east-1)
    case(
        "updateitem-unused-value",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("upd")},
            UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": S("x"), ":unused": S("y")},
        ),
        VALIDATION,
        ENVELOPE + "Value provided in ExpressionAttributeValues unused in expressions: "
        "keys: {:unused}",
    ),
    # [parity] query.test.ts 'unused ExpressionAttributeNames' (toBe, bare)
    case(
        "query-unused-name",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk = :v",
            ExpressionAttributeValues={":v": S("exists")},
            ExpressionAttributeNames={"#unused": "someattr"},
        ),
        VALIDATION,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
    ),
    # Reserved words are echoed as written. [dynalite] conditionParser; an AWS-parity
    # emulator's captures ("reserved keyword: COMMENT" bare for Scan and GetItem)
    case(
        "scan-filter-reserved-keyword",
        lambda d, r, t: d.scan(
            TableName=t.h,
            FilterExpression="name = :v",
            ExpressionAttributeValues={":v": S("x")},
        ),
        VALIDATION,
        "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: name",
    ),
    case(
        "getitem-projection-reserved-keyword",
        lambda d, r, t: d.get_item(
            TableName=t.h, Key={"pk": S("exists")}, ProjectionExpression="status"
        ),
        VALIDATION,
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; "
        "reserved keyword: status",
    ),
    # -- expression syntax ------------------------------------------------------------------
    # [parity] getItem.test.ts 'invalid ProjectionExpression syntax' (toBe)
    case(
        "getitem-projection-syntax-error",
        lambda d, r, t: d.get_item(
            TableName=t.h, Key={"pk": S("exists")}, ProjectionExpression="!!! INVALID !!!"
        ),
        VALIDATION,
        'Invalid ProjectionExpression: Syntax error; token: "!", near: "!!"',
    ),
    # [parity] capture u_upd_syntax (us-east-1)
    case(
        "updateitem-syntax-error",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("upd")},
            UpdateExpression="INVALID SYNTAX HERE",
            ExpressionAttributeValues={":v": S("x")},
        ),
        VALIDATION,
        ENVELOPE
        + 'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"',
    ),
    # -- update expressions ----------------------------------------------------------------
    # [parity] capture u_upd_hashkey / u_upd_rangekey (us-east-1, bare)
    case(
        "updateitem-set-hash-key",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("exists")},
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": S("new")},
        ),
        VALIDATION,
        INVALID + "Cannot update attribute pk. This attribute is part of the key",
    ),
    case(
        "updateitem-set-range-key",
        lambda d, r, t: d.update_item(
            TableName=t.c,
            Key={"pk": S("a"), "sk": N("1")},
            UpdateExpression="SET sk = :v",
            ExpressionAttributeValues={":v": N("2")},
        ),
        VALIDATION,
        INVALID + "Cannot update attribute sk. This attribute is part of the key",
    ),
    # [moto] test_update_item_with_duplicate_expressions (path lists); enveloped like every
    # UpdateExpression validation error in the us-east-1 capture
    case(
        "updateitem-overlapping-paths",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("upd")},
            UpdateExpression="SET a = :v, a.b = :w",
            ExpressionAttributeValues={":v": S("x"), ":w": S("y")},
        ),
        VALIDATION,
        ENVELOPE + "Invalid UpdateExpression: Two document paths overlap with each other; "
        "must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
    ),
    # [report] application tests quoting AWS ("operand type: MAP, typeSet:
    # ALLOWED_FOR_ADD_OPERAND"); Dynamoid's spec for STRING; enveloped as above
    case(
        "updateitem-add-string-operand",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("upd")},
            UpdateExpression="ADD s :v",
            ExpressionAttributeValues={":v": S("x")},
        ),
        VALIDATION,
        ENVELOPE + "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND",
    ),
    # ADD a number to a stored string: checked against the item, so not enveloped.
    # [moto] IncorrectDataType; Dynamoid spec; listed in the UpdateItem API reference
    case(
        "updateitem-add-number-to-string-attribute",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("exists")},
            UpdateExpression="ADD s :one",
            ExpressionAttributeValues={":one": N("1")},
        ),
        VALIDATION,
        "An operand in the update expression has an incorrect data type",
    ),
    # [moto] AttributeDoesNotExist; dynoxide test_update_item_nonexistent_attribute_*_bare
    case(
        "updateitem-arithmetic-on-missing-attribute",
        lambda d, r, t: d.update_item(
            TableName=t.h,
            Key={"pk": S("exists")},
            UpdateExpression="SET n = nope + :one",
            ExpressionAttributeValues={":one": N("1")},
        ),
        VALIDATION,
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    # -- ReturnValues ------------------------------------------------------------------------
    # [parity] deleteItem.test.ts 'ReturnValues ALL_NEW or UPDATED_NEW' (us-east-1, toBe)
    case(
        "deleteitem-returnvalues-all-new",
        lambda d, r, t: d.delete_item(
            TableName=t.h, Key={"pk": S("nothing")}, ReturnValues="ALL_NEW"
        ),
        VALIDATION,
        ENVELOPE + "ReturnValues can only be ALL_OLD or NONE",
    ),
    # [dynalite] putItem 'incorrect ReturnValues'; dynoxide (eu-west-2) for the envelope
    case(
        "putitem-returnvalues-updated-new",
        lambda d, r, t: d.put_item(TableName=t.h, Item={"pk": S("rv")}, ReturnValues="UPDATED_NEW"),
        VALIDATION,
        ENVELOPE + "ReturnValues can only be ALL_OLD or NONE",
    ),
    # -- Query -------------------------------------------------------------------------------
    # [parity] query.test.ts 'missing hash key in KeyConditionExpression' (toBe)
    case(
        "query-key-condition-missing-hash-key",
        lambda d, r, t: d.query(
            TableName=t.c,
            KeyConditionExpression="sk = :v",
            ExpressionAttributeValues={":v": N("1")},
        ),
        VALIDATION,
        "Query condition missed key schema element: pk",
    ),
    # [report] Surge (Elixir) test against DynamoDB; users quoting ": IN"; [dynalite]
    case(
        "query-key-condition-or",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk = :a OR pk = :b",
            ExpressionAttributeValues={":a": S("a"), ":b": S("b")},
        ),
        VALIDATION,
        "Invalid operator used in KeyConditionExpression: OR",
    ),
    # [dynalite] validations/index.js checkExpr ('<>' is listed with OR/NOT/IN)
    case(
        "query-key-condition-not-equal",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk <> :a",
            ExpressionAttributeValues={":a": S("a")},
        ),
        VALIDATION,
        "Invalid operator used in KeyConditionExpression: <>",
    ),
    # [moto] test_hash_key_can_only_use_equals_operations
    case(
        "query-hash-key-range-operator",
        lambda d, r, t: d.query(
            TableName=t.h,
            KeyConditionExpression="pk < :a",
            ExpressionAttributeValues={":a": S("a")},
        ),
        VALIDATION,
        "Query key condition not supported",
    ),
    # [report] many users quoting "The table does not have the specified index: <name>"
    case(
        "query-missing-index",
        lambda d, r, t: d.query(
            TableName=t.c,
            IndexName="nope",
            KeyConditionExpression="gpk = :v",
            ExpressionAttributeValues={":v": S("a")},
        ),
        VALIDATION,
        "The table does not have the specified index: nope",
    ),
    # [parity] indexReads.test.ts (toBe), Query and Scan
    case(
        "query-consistent-read-on-gsi",
        lambda d, r, t: d.query(
            TableName=t.c,
            IndexName="gsi1",
            KeyConditionExpression="gpk = :v",
            ExpressionAttributeValues={":v": S("a")},
            ConsistentRead=True,
        ),
        VALIDATION,
        "Consistent reads are not supported on global secondary indexes",
    ),
    case(
        "scan-consistent-read-on-gsi",
        lambda d, r, t: d.scan(TableName=t.c, IndexName="gsi1", ConsistentRead=True),
        VALIDATION,
        "Consistent reads are not supported on global secondary indexes",
    ),
    # [parity] query.test.ts 'Limit of 0' (current layer: no value echo, field 'Limit')
    case(
        "query-limit-zero",
        lambda d, r, t: r.query(
            TableName=t.h,
            KeyConditionExpression="pk = :v",
            ExpressionAttributeValues={":v": S("a")},
            Limit=0,
        ),
        VALIDATION,
        "1 validation error detected: Value at 'Limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    # [parity] scan.test.ts 'Limit of 0' (older layer: value echoed, field 'limit')
    case(
        "scan-limit-zero",
        lambda d, r, t: r.scan(TableName=t.h, Limit=0),
        VALIDATION,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    # -- batches and transactions ------------------------------------------------------------
    # [parity] batchGetItem.test.ts 'duplicate keys in one Keys array' (toBe)
    case(
        "batchget-duplicate-keys",
        lambda d, r, t: d.batch_get_item(
            RequestItems={t.h: {"Keys": [{"pk": S("dup")}, {"pk": S("dup")}]}}
        ),
        VALIDATION,
        "Provided list of item keys contains duplicates",
    ),
    # [parity] transactWriteItems.test.ts 'duplicate target keys' (toBe)
    case(
        "transactwrite-two-operations-on-one-item",
        lambda d, r, t: d.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t.h, "Item": {"pk": S("tx-dup")}}},
                {"Put": {"TableName": t.h, "Item": {"pk": S("tx-dup"), "v": S("2")}}},
            ]
        ),
        VALIDATION,
        "Transaction request cannot include multiple operations on one item",
    ),
    # -- required members missing: the path to the member, as AWS's framework names it
    # [dynalite] getItem.js 'key' missing (top level)
    case(
        "getitem-no-key",
        lambda d, r, t: r.get_item(TableName=t.h),
        VALIDATION,
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: "
        "Member must not be null",
    ),
    # [report] 'tags.2.member.key' (list positions from 1, then 'member')
    case(
        "tagresource-tag-without-key",
        lambda d, r, t: r.tag_resource(
            ResourceArn=d.describe_table(TableName=t.h)["Table"]["TableArn"],
            Tags=[{"Key": "k", "Value": "v"}, {"Value": "v"}],
        ),
        VALIDATION,
        "1 validation error detected: Value null at 'tags.2.member.key' failed to satisfy "
        "constraint: Member must not be null",
    ),
    # [moto] 'requestItems.<table>.member.keys' (a map value: its key, then 'member')
    case(
        "batchget-table-without-keys",
        lambda d, r, t: r.batch_get_item(RequestItems={t.h: {}}),
        VALIDATION,
        lambda t: (
            f"1 validation error detected: Value null at 'requestItems.{t.h}.member.keys' "
            "failed to satisfy constraint: Member must not be null"
        ),
    ),
]


@pytest.mark.parametrize(("call", "code", "message"), CASES)
def test_error(ddb, raw, t, call, code, message):
    with pytest.raises(ClientError) as exc:
        call(ddb, raw, t)
    assert_error(exc, code, message(t) if callable(message) else message)


def test_rejected_writes_store_nothing(ddb, t):
    """The invalid PutItem cases above wrote nothing, and the condition-failed one left
    the stored item as it was."""
    for pk in ("num", "set", "shape", "cond", "rv", "big"):
        assert "Item" not in ddb.get_item(TableName=t.h, Key={"pk": S(pk)}, ConsistentRead=True)
    item = ddb.get_item(TableName=t.h, Key={"pk": S("exists")}, ConsistentRead=True)["Item"]
    assert item == {"pk": S("exists"), "s": S("str"), "n": N("1")}
    assert ddb.describe_table(TableName=t.protected)["Table"]["TableStatus"] == "ACTIVE"


@pytest.mark.parametrize(
    ("operation", "member", "limit"),
    [
        ("transact_write_items", "transactItems", 100),
        ("transact_get_items", "transactItems", 100),
        ("execute_transaction", "transactStatements", 100),
        ("batch_execute_statement", "statements", 25),
    ],
)
def test_lists_over_their_limit_are_echoed(ddb, t, operation, member, limit):
    # [nubo] transactWriteItems.test.ts / transactGetItems.test.ts '> 100 ...': AWS echoes
    # the list as a Java toString ("Same ... dump shape as BatchWriteItem"), matched with an
    # anchored regex around the dump; PartiQL's lists are bounded the same way.
    n = limit + 1
    kwargs = {
        "transact_write_items": lambda: {
            "TransactItems": [
                {"Put": {"TableName": t.h, "Item": {"pk": S(f"tx-{i}")}}} for i in range(n)
            ]
        },
        "transact_get_items": lambda: {
            "TransactItems": [
                {"Get": {"TableName": t.h, "Key": {"pk": S(f"tx-{i}")}}} for i in range(n)
            ]
        },
        "execute_transaction": lambda: {
            "TransactStatements": [
                {"Statement": f"INSERT INTO \"{t.h}\" VALUE {{'pk': 'tx-{i}'}}"} for i in range(n)
            ]
        },
        "batch_execute_statement": lambda: {
            "Statements": [
                {"Statement": f"INSERT INTO \"{t.h}\" VALUE {{'pk': 'tx-{i}'}}"} for i in range(n)
            ]
        },
    }[operation]()
    with pytest.raises(ClientError) as exc:
        getattr(ddb, operation)(**kwargs)
    error = exc.value.response["Error"]
    assert error["Code"] == VALIDATION
    pattern = (
        rf"1 validation error detected: Value '\[.+\]' at '{member}' failed to satisfy "
        rf"constraint: Member must have length less than or equal to {limit}"
    )
    assert re.fullmatch(pattern, error["Message"], re.S), error["Message"][:300]
    assert "Item" not in ddb.get_item(TableName=t.h, Key={"pk": S("tx-0")}, ConsistentRead=True)


def test_batch_write_over_25_requests(ddb, t):
    # AWS echoes the request list as a Java toString whose rendering differs by region
    # (capture c_bw_over25, eu-west-2 and us-east-1), so the dump is matched loosely and
    # everything around it exactly. [parity] batchWriteItem.test.ts uses the same regex.
    requests = [{"PutRequest": {"Item": {"pk": S(f"bw-{i}")}}} for i in range(26)]
    with pytest.raises(ClientError) as exc:
        ddb.batch_write_item(RequestItems={t.h: requests})
    error = exc.value.response["Error"]
    assert error["Code"] == VALIDATION
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    pattern = (
        r"1 validation error detected: Value '\{"
        + re.escape(t.h)
        + r"=\[.+\]\}' at 'requestItems' failed to satisfy constraint: Map value must satisfy "
        r"constraint: \[Member must have length less than or equal to 25, "
        r"Member must have length greater than or equal to 1\]"
    )
    assert re.fullmatch(pattern, error["Message"], re.S), error["Message"]
    assert "Item" not in ddb.get_item(TableName=t.h, Key={"pk": S("bw-0")}, ConsistentRead=True)


def test_transaction_cancelled_by_a_failing_condition(ddb, t):
    # [parity] transactWriteItems.test.ts 'one passing, one failing': codes are
    # positional ('None' for the action that would have succeeded).
    fresh = f"tx-{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t.h,
                        "Item": {"pk": S(fresh)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": t.h,
                        "Item": {"pk": S("exists"), "s": S("clobbered")},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert_error(
        exc,
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]",
    )
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Message"] == "The conditional request failed"
    # Nothing of the transaction was applied.
    assert "Item" not in ddb.get_item(TableName=t.h, Key={"pk": S(fresh)}, ConsistentRead=True)
    item = ddb.get_item(TableName=t.h, Key={"pk": S("exists")}, ConsistentRead=True)["Item"]
    assert item["s"] == S("str")
