"""DynamoDB behaviours a probe against real AWS found cloudlet getting wrong, now fixed.

Each test drives the server with boto3 and asserts AWS's error code and exact message
(or AWS's answer) as the sources give them: AWS's API reference and developer guide,
captures against real DynamoDB (paritysuite/dynamodb-conformance, moto's
``aws_verified`` tests, architect/dynalite) and real error logs quoted in public issues.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import (
    ENVELOPE,
    OVERFLOW,
    UNDERFLOW,
    N,
    S,
    client,
    index,
    make_table,
    tname,
)
from tests.services.test_dynamodb_bad_input_more import TOO_DEEP

VALIDATION = "ValidationException"
INVALID = "One or more parameter values were invalid: "
CANCELLED = "Transaction cancelled, please refer cancellation reasons for specific reasons "
SCALARS = (
    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: "
)
TOO_BIG = "Item size has exceeded the maximum allowed size"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def loose(cloudlet_server):
    """A client that lets values botocore would refuse ("" tokens, empty keys) through."""
    return client(cloudlet_server, validate=False)


def error(exc: Any) -> tuple[str, str]:
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    return response["Error"]["Code"], response["Error"]["Message"]


def reasons(exc: Any) -> list[dict[str, Any]]:
    return exc.value.response["CancellationReasons"]


def deep(wraps: int) -> dict:
    """A string wrapped in ``wraps`` single-key maps (the attribute is nesting level 1)."""
    value: dict = S("leaf")
    for _ in range(wraps):
        value = {"M": {"n": value}}
    return value


# --------------------------------------------------------------------------- 1: table ARNs


def test_a_table_arn_works_wherever_its_name_does(ddb):
    name = make_table(ddb, tname("arn"), gsis=[index("by-g", ("g", "S"))])
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    total = {"ReturnConsumedCapacity": "TOTAL"}

    put = ddb.put_item(TableName=arn, Item={"pk": S("a"), "g": S("G"), "v": N("1")}, **total)
    # "If you had specified the ARN of a table in the input, you'll see the table ARN in
    # the response" (API reference, ConsumedCapacity.TableName).
    assert put["ConsumedCapacity"]["TableName"] == arn
    got = ddb.get_item(TableName=arn, Key={"pk": S("a")}, **total)
    assert got["Item"]["v"] == N("1")
    assert got["ConsumedCapacity"]["TableName"] == arn
    ddb.update_item(
        TableName=arn,
        Key={"pk": S("a")},
        UpdateExpression="SET v = v + :one",
        ExpressionAttributeValues={":one": N("1")},
    )
    query = ddb.query(
        TableName=arn,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": S("G")},
        **total,
    )
    assert [i["v"] for i in query["Items"]] == [N("2")]
    assert query["ConsumedCapacity"]["TableName"] == arn
    assert ddb.scan(TableName=arn)["Count"] == 1

    # Batch responses are keyed as the request named the table.
    written = ddb.batch_write_item(
        RequestItems={arn: [{"PutRequest": {"Item": {"pk": S("b")}}}]}, **total
    )
    assert written["UnprocessedItems"] == {}
    assert [c["TableName"] for c in written["ConsumedCapacity"]] == [arn]
    fetched = ddb.batch_get_item(RequestItems={arn: {"Keys": [{"pk": S("b")}]}}, **total)
    assert fetched["Responses"] == {arn: [{"pk": S("b")}]}
    assert [c["TableName"] for c in fetched["ConsumedCapacity"]] == [arn]

    done = ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": arn, "Item": {"pk": S("c")}}},
            {"Delete": {"TableName": arn, "Key": {"pk": S("b")}}},
        ],
        **total,
    )
    assert [c["TableName"] for c in done["ConsumedCapacity"]] == [arn]
    gets = ddb.transact_get_items(
        TransactItems=[{"Get": {"TableName": arn, "Key": {"pk": S("c")}}}]
    )
    assert gets["Responses"] == [{"Item": {"pk": S("c")}}]
    ddb.delete_item(TableName=arn, Key={"pk": S("c")})
    assert ddb.scan(TableName=name)["Count"] == 1


def test_a_table_arn_works_for_table_operations(ddb):
    name = make_table(ddb, tname("arn-t"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == name
    ddb.update_table(TableName=arn, DeletionProtectionEnabled=False)
    ddb.update_table(TableName=arn, TableClass="STANDARD")
    ddb.update_time_to_live(
        TableName=arn, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    assert ddb.describe_time_to_live(TableName=arn)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "ttl",
    }
    backup = ddb.create_backup(TableName=arn, BackupName="by-arn")["BackupDetails"]
    assert backup["BackupStatus"] == "AVAILABLE"
    assert ddb.delete_table(TableName=arn)["TableDescription"]["TableName"] == name
    assert name not in ddb.list_tables()["TableNames"]


def test_an_arn_of_another_account_or_region_is_not_found(ddb):
    name = make_table(ddb, tname("arn-x"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    region, account = arn.split(":")[3:5]
    for other in (
        arn.replace(f":{account}:", ":999999999999:"),
        arn.replace(f":{region}:", ":eu-west-3:"),
        arn + "/index/nope",
    ):
        with pytest.raises(ClientError) as exc:
            ddb.get_item(TableName=other, Key={"pk": S("a")})
        assert error(exc) == ("ResourceNotFoundException", "Requested resource not found")
        with pytest.raises(ClientError) as exc:
            ddb.describe_table(TableName=other)
        assert error(exc) == (
            "ResourceNotFoundException",
            f"Requested resource not found: Table: {other} not found",
        )


# --------------------------------------------------------------------------- 2: warm throughput


def test_warm_and_on_demand_throughput_are_kept_and_described(ddb):
    name = tname("warm")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "h", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        WarmThroughput={"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 5000},
        OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "WarmThroughput": {"ReadUnitsPerSecond": 14000, "WriteUnitsPerSecond": 6000},
                "OnDemandThroughput": {"MaxReadRequestUnits": 10, "MaxWriteRequestUnits": 5},
            },
            {
                "IndexName": "by-h",
                "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000,
        "WriteUnitsPerSecond": 5000,
        "Status": "ACTIVE",
    }
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
    by_g, by_h = sorted(table["GlobalSecondaryIndexes"], key=lambda ix: ix["IndexName"])
    assert by_g["WarmThroughput"] == {
        "ReadUnitsPerSecond": 14000,
        "WriteUnitsPerSecond": 6000,
        "Status": "ACTIVE",
    }
    assert by_g["OnDemandThroughput"] == {"MaxReadRequestUnits": 10, "MaxWriteRequestUnits": 5}
    # Every table and GSI has a warm throughput: 12,000 reads and 4,000 writes a second.
    assert by_h["WarmThroughput"] == {
        "ReadUnitsPerSecond": 12000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }
    assert "OnDemandThroughput" not in by_h


def test_a_table_nobody_warmed_reports_the_baseline(ddb):
    name = make_table(ddb, tname("warm-d"))
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 12000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }


def test_update_table_with_only_warm_or_on_demand_throughput(ddb):
    """The request shape Terraform's warm_throughput block sends."""
    name = make_table(ddb, tname("warm-u"), gsis=[index("by-g", ("g", "S"))])
    desc = ddb.update_table(
        TableName=name, WarmThroughput={"ReadUnitsPerSecond": 12240, "WriteUnitsPerSecond": 4080}
    )["TableDescription"]
    assert desc["WarmThroughput"]["ReadUnitsPerSecond"] == 12240
    ddb.update_table(TableName=name, WarmThroughput={"WriteUnitsPerSecond": 4200})
    ddb.update_table(TableName=name, OnDemandThroughput={"MaxReadRequestUnits": 200})
    ddb.update_table(
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {
                "Update": {
                    "IndexName": "by-g",
                    "WarmThroughput": {"ReadUnitsPerSecond": 15000},
                }
            }
        ],
    )
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["WarmThroughput"] == {
        "ReadUnitsPerSecond": 12240,
        "WriteUnitsPerSecond": 4200,
        "Status": "ACTIVE",
    }
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 200}
    assert table["GlobalSecondaryIndexes"][0]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 15000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }


# --------------------------------------------------------------------------- 3: GSI projections


@pytest.fixture(scope="module")
def projected(ddb):
    name = make_table(
        ddb,
        tname("proj"),
        gsis=[index("keys", ("g", "S"), projection="KEYS_ONLY")],
        range=("sk", "S"),
        lsis=[index("local", ("pk", "S"), ("l", "S"), projection="KEYS_ONLY")],
    )
    item = {"pk": S("a"), "sk": S("1"), "g": S("G"), "l": S("L"), "big": S("v")}
    ddb.put_item(TableName=name, Item=item)
    return name


def test_a_gsi_read_cannot_ask_for_what_it_does_not_project(ddb, projected):
    on_gsi = {"TableName": projected, "IndexName": "keys"}
    key = {"KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": S("G")}}
    refused = INVALID + "Global secondary index keys does not project [big, qq]"
    with pytest.raises(ClientError) as exc:
        ddb.query(**on_gsi, **key, ProjectionExpression="pk, big, qq.x")
    assert error(exc) == (VALIDATION, refused)
    with pytest.raises(ClientError) as exc:
        ddb.scan(**on_gsi, AttributesToGet=["g", "big", "qq"])
    assert error(exc) == (VALIDATION, refused)
    with pytest.raises(ClientError) as exc:
        ddb.query(
            **on_gsi,
            KeyConditions={"g": {"ComparisonOperator": "EQ", "AttributeValueList": [S("G")]}},
            AttributesToGet=["big", "qq"],
        )
    assert error(exc) == (VALIDATION, refused)
    # Filters too (real AWS log quoted in sensedeep/dynamodb-onetable#93 and #377).
    with pytest.raises(ClientError) as exc:
        ddb.query(
            **on_gsi,
            **{**key, "ExpressionAttributeValues": {":g": S("G"), ":v": S("v")}},
            FilterExpression="big = :v",
        )
    assert error(exc) == (
        VALIDATION,
        INVALID + "Secondary index keys does not project one or more filter attributes: [big]",
    )
    with pytest.raises(ClientError) as exc:
        ddb.scan(**on_gsi, ScanFilter={"big": {"ComparisonOperator": "NOT_NULL"}})
    assert error(exc) == (
        VALIDATION,
        INVALID + "Secondary index keys does not project one or more filter attributes: [big]",
    )
    # What it projects (its keys and the table's) is fine.
    got = ddb.query(**on_gsi, **key, ProjectionExpression="pk, sk, g")
    assert got["Items"] == [{"pk": S("a"), "sk": S("1"), "g": S("G")}]


def test_a_local_index_read_fetches_what_it_does_not_project(ddb, projected):
    """An LSI can read the table: DynamoDB fetches the attributes it does not hold."""
    on_lsi = {
        "TableName": projected,
        "IndexName": "local",
        "KeyConditionExpression": "pk = :p",
    }
    got = ddb.query(
        **on_lsi, ExpressionAttributeValues={":p": S("a")}, ProjectionExpression="l, big"
    )
    assert got["Items"] == [{"l": S("L"), "big": S("v")}]
    got = ddb.query(
        **on_lsi,
        ExpressionAttributeValues={":p": S("a"), ":v": S("v")},
        FilterExpression="big = :v",
    )
    assert got["Items"] == [{"pk": S("a"), "sk": S("1"), "l": S("L")}]  # still the index's item


# --------------------------------------------------------------------------- 4: Select


def test_select_contradicting_the_projection(ddb, projected):
    """moto's aws_verified test_dynamodb_select.py: Query's messages carry the envelope."""
    query = {
        "TableName": projected,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": S("a")},
    }
    for op, kw, prefix in ((ddb.query, query, ENVELOPE), (ddb.scan, {"TableName": projected}, "")):
        for extra, message in (
            (
                {"Select": "SPECIFIC_ATTRIBUTES"},
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                "SPECIFIC_ATTRIBUTES",
            ),
            (
                {"Select": "COUNT", "ProjectionExpression": "pk"},
                "Cannot specify the ProjectionExpression when choosing to get only the Count",
            ),
            (
                {"Select": "ALL_ATTRIBUTES", "ProjectionExpression": "pk"},
                "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
            ),
            (
                {"Select": "ALL_PROJECTED_ATTRIBUTES"},
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            ),
        ):
            with pytest.raises(ClientError) as exc:
                op(**kw, **extra)
            assert error(exc) == (VALIDATION, prefix + message)
    with pytest.raises(ClientError) as exc:
        ddb.scan(TableName=projected, Select="COUNT", AttributesToGet=["pk"])
    assert error(exc) == (
        VALIDATION,
        "Cannot specify the AttributesToGet when choosing to get only the Count",
    )


# --------------------------------------------------------------------------- 5: nesting depth


def test_31_wraps_are_the_deepest_value(ddb):
    name = make_table(ddb, tname("deep"))
    ddb.put_item(TableName=name, Item={"pk": S("p"), "data": deep(31)})
    ddb.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": S("b"), "data": deep(31)}}}]}
    )
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": {"pk": S("t"), "data": deep(31)}}}]
    )
    assert ddb.scan(TableName=name)["Count"] == 3

    too_deep = {"pk": S("x"), "data": deep(32)}
    for call in (
        lambda: ddb.put_item(TableName=name, Item=too_deep),
        lambda: ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": too_deep}}]}),
        lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": name, "Item": too_deep}}]
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == (VALIDATION, TOO_DEEP)

    condition = {
        "TableName": name,
        "Key": {"pk": S("p")},
        "UpdateExpression": "SET touched = :t",
        "ConditionExpression": "#d = :deep",
        "ExpressionAttributeNames": {"#d": "other"},
    }
    with pytest.raises(ClientError) as exc:  # accepted, so the condition ran
        ddb.update_item(**condition, ExpressionAttributeValues={":t": S("y"), ":deep": deep(31)})
    assert error(exc)[0] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as exc:
        ddb.update_item(**condition, ExpressionAttributeValues={":t": S("y"), ":deep": deep(32)})
    assert error(exc)[0] == VALIDATION
    assert TOO_DEEP in error(exc)[1]


# --------------------------------------------------------------------------- 6: number sizes


@pytest.mark.parametrize(
    "literal, cost",
    [("-27", 3), ("3.14159", 5), ("100.5", 4), ("-1", 3), ("0.0000001", 2), ("123456", 4)],
)
def test_a_number_costs_what_aws_counts(ddb, literal, cost):
    """paritysuite numberByteSize (eu-west-2): one item at exactly 400 KB by AWS's count
    is stored, one byte more is refused."""
    name = make_table(ddb, tname("nsize"))

    def item(key: str, total: int) -> dict:
        # names pk, n, p (4 bytes) + the key value + the number + padding
        padding = total - 4 - len(key) - cost
        return {"pk": S(key), "n": N(literal), "p": S("z" * padding)}

    ddb.put_item(TableName=name, Item=item("k", 409600))
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=name, Item=item("k", 409601))
    assert error(exc) == (VALIDATION, TOO_BIG)


def test_capacity_follows_the_number_cost(ddb):
    name = make_table(ddb, tname("ncap"))
    # 1024 bytes with "-27" at 3 bytes: one write unit; one byte more is two.
    for total, units in ((1024, 1.0), (1025, 2.0)):
        padding = total - 4 - 1 - 3
        got = ddb.put_item(
            TableName=name,
            Item={"pk": S("k"), "n": N("-27"), "p": S("z" * padding)},
            ReturnConsumedCapacity="TOTAL",
        )
        assert got["ConsumedCapacity"]["CapacityUnits"] == units
        ddb.delete_item(TableName=name, Key={"pk": S("k")})


# --------------------------------------------------------------------------- 7: transactions


def test_transaction_actions_with_bad_keys_cancel(ddb, loose):
    """paritysuite transactWriteItems/transactGetItems (4 regions): a wrong-typed or
    non-scalar key cancels the transaction with a ValidationError reason."""
    name = make_table(ddb, tname("tx"))
    mismatch = "The provided key element does not match the schema"
    for action, message in (
        ({"Put": {"TableName": name, "Item": {"pk": N("5")}}}, "N"),
        ({"Put": {"TableName": name, "Item": {"pk": {"L": [S("x")]}}}}, "L"),
        ({"Delete": {"TableName": name, "Key": {"pk": N("5")}}}, mismatch),
        ({"Delete": {"TableName": name, "Key": {"pk": {"L": [S("x")]}}}}, mismatch),
        (
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": N("5")},
                    "UpdateExpression": "SET a = :v",
                    "ExpressionAttributeValues": {":v": S("x")},
                }
            },
            mismatch,
        ),
        (
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": {"pk": N("5")},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            mismatch,
        ),
    ):
        if len(message) == 1:
            message = INVALID + f"Type mismatch for key pk expected: S actual: {message}"
        with pytest.raises(ClientError) as exc:
            ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": name, "Item": {"pk": S("ok")}}}, action]
            )
        assert error(exc) == ("TransactionCanceledException", CANCELLED + "[None, ValidationError]")
        assert reasons(exc) == [
            {"Code": "None"},
            {"Code": "ValidationError", "Message": message},
        ]
    assert ddb.scan(TableName=name)["Count"] == 0

    with pytest.raises(ClientError) as exc:
        loose.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {}}}])
    assert error(exc) == ("TransactionCanceledException", CANCELLED + "[ValidationError]")
    assert reasons(exc) == [{"Code": "ValidationError", "Message": mismatch}]

    # An empty string key is refused up front, as AWS does.
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[{"Delete": {"TableName": name, "Key": {"pk": S("")}}}]
        )
    assert error(exc) == (
        VALIDATION,
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk",
    )


# --------------------------------------------------------------------------- 8: key paths


@pytest.fixture(scope="module")
def keyed(ddb):
    name = make_table(ddb, tname("kp"), gsis=[index("by-g", ("g", "S"))])
    ddb.put_item(TableName=name, Item={"pk": S("k"), "g": S("G"), "a": {"L": []}})
    return name


def test_document_paths_into_keys_are_refused(ddb, keyed):
    """architect/dynalite (written against DynamoDB): Key: for the table's keys,
    IndexKey: for an index's."""
    key = {"TableName": keyed, "Key": {"pk": S("k")}}
    cases = [
        (lambda: ddb.get_item(**key, ProjectionExpression="pk.x"), "Key: pk"),
        (
            lambda: ddb.get_item(
                **key, ProjectionExpression="#g[0]", ExpressionAttributeNames={"#g": "g"}
            ),
            "IndexKey: g",
        ),
        (lambda: ddb.scan(TableName=keyed, FilterExpression="attribute_exists(pk.b.c)"), "Key: pk"),
        (lambda: ddb.scan(TableName=keyed, ProjectionExpression="a, g.x"), "IndexKey: g"),
        (
            lambda: ddb.query(
                TableName=keyed,
                KeyConditionExpression="pk = :p",
                FilterExpression="g.x = :b",
                ExpressionAttributeValues={":p": S("k"), ":b": S("b")},
            ),
            "IndexKey: g",
        ),
        (
            lambda: ddb.update_item(
                **key, UpdateExpression="SET g.y = :v", ExpressionAttributeValues={":v": S("v")}
            ),
            "IndexKey: g",
        ),
        (
            lambda: ddb.update_item(**key, UpdateExpression="SET e = list_append(a, a), f = g[1]"),
            "IndexKey: g",
        ),
        (lambda: ddb.update_item(**key, UpdateExpression="SET e = pk.x"), "Key: pk"),
        (
            lambda: ddb.put_item(
                TableName=keyed,
                Item={"pk": S("k")},
                ConditionExpression="attribute_exists(pk.x)",
            ),
            "Key: pk",
        ),
        (
            lambda: ddb.delete_item(
                **key,
                ConditionExpression="size(g[0]) > :n",
                ExpressionAttributeValues={":n": N("1")},
            ),
            "IndexKey: g",
        ),
        (
            lambda: ddb.batch_get_item(
                RequestItems={keyed: {"Keys": [{"pk": S("k")}], "ProjectionExpression": "pk[1]"}}
            ),
            "Key: pk",
        ),
    ]
    for call, tail in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == (VALIDATION, SCALARS + tail)
    # A path into a table key being written is still "part of the key".
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            **key, UpdateExpression="SET pk.x = :v", ExpressionAttributeValues={":v": S("v")}
        )
    assert error(exc) == (
        VALIDATION,
        INVALID + "Cannot update attribute pk. This attribute is part of the key",
    )


# --------------------------------------------------------------------------- 9-11: CreateTable


def test_create_table_messages(ddb):
    def create(**kw: Any) -> tuple[str, str]:
        params: dict[str, Any] = {
            "TableName": tname("ct"),
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        params.update(kw)
        with pytest.raises(ClientError) as exc:
            ddb.create_table(**params)
        return error(exc)

    gsi = {
        "IndexName": "idx1",
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    # 9: a real CloudFormation log (AWS request id) lists the definitions as sent.
    assert create(
        AttributeDefinitions=[
            {"AttributeName": "zz", "AttributeType": "S"},
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[gsi],
    ) == (
        VALIDATION,
        INVALID + "Some AttributeDefinitions are not used. AttributeDefinitions: [zz, pk, g], "
        "keys used: [pk, g]",
    )
    # 10: bchew/dynamodump#266.
    throughput = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    assert create(GlobalSecondaryIndexes=[{**gsi, "ProvisionedThroughput": throughput}]) == (
        VALIDATION,
        INVALID + "ProvisionedThroughput should not be specified for index: idx1 when "
        "BillingMode is PAY_PER_REQUEST",
    )
    # 11: nubo-db/dynoxide#116 (Parity Suite against live AWS).
    assert create(
        GlobalSecondaryIndexes=[{**gsi, "Projection": {"ProjectionType": "INCLUDE"}}]
    ) == (VALIDATION, INVALID + "ProjectionType is INCLUDE, but NonKeyAttributes is not specified")


# --------------------------------------------------------------------------- 12: batch limits


def test_batch_size_limit_messages(ddb):
    one, two = make_table(ddb, tname("bl1")), make_table(ddb, tname("bl2"))
    keys = [{"pk": S(str(i))} for i in range(101)]
    with pytest.raises(ClientError) as exc:
        ddb.batch_get_item(RequestItems={one: {"Keys": keys}})
    assert error(exc) == (
        VALIDATION,
        f"1 validation error detected: Value at 'RequestItems.{one}.member.Keys' failed to "
        "satisfy constraint: Member must have length less than or equal to 100",
    )
    with pytest.raises(ClientError) as exc:
        ddb.batch_get_item(RequestItems={one: {"Keys": keys[:60]}, two: {"Keys": keys[:60]}})
    assert error(exc) == (VALIDATION, "Too many items requested for the BatchGetItem call")

    puts = [{"PutRequest": {"Item": {"pk": S(str(i))}}} for i in range(13)]
    with pytest.raises(ClientError) as exc:
        ddb.batch_write_item(RequestItems={one: puts, two: puts})
    assert error(exc) == (VALIDATION, "Too many items requested for the BatchWriteItem call")
    assert ddb.scan(TableName=one)["Count"] == 0


# --------------------------------------------------------------------------- 13: list_append


def test_nested_list_append_is_refused(ddb):
    name = make_table(ddb, tname("la"))
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=name,
            Key={"pk": S("k")},
            UpdateExpression="SET l2 = list_append(list_append(:a, :b), :a)",
            ExpressionAttributeValues={":a": {"L": [N("1")]}, ":b": {"L": [N("2")]}},
        )
    assert error(exc) == (
        VALIDATION,
        ENVELOPE + "Invalid UpdateExpression: The function is not allowed to be used this way "
        "in an expression; function: list_append",
    )
    # list_append over if_not_exists is fine.
    ddb.update_item(
        TableName=name,
        Key={"pk": S("k")},
        UpdateExpression="SET l = list_append(if_not_exists(l, :a), :b)",
        ExpressionAttributeValues={":a": {"L": [N("1")]}, ":b": {"L": [N("2")]}},
    )
    assert ddb.get_item(TableName=name, Key={"pk": S("k")})["Item"]["l"] == {"L": [N("1"), N("2")]}


# --------------------------------------------------------------------------- 14: exponents


def test_zero_exponents_and_huge_exponents(ddb):
    """paritysuite numberExponent (eu-west-2): zero is range-checked by its exponent; an
    exponent past a 64-bit integer cannot be converted at all."""
    name = make_table(ddb, tname("exp"))
    for text, message in (
        ("0e126", OVERFLOW),
        ("0E+1000", OVERFLOW),
        ("0e-131", UNDERFLOW),
        ("1e9223372036854775807", OVERFLOW),
        (
            "1e9223372036854775808",
            "The parameter cannot be converted to a numeric value: 1e9223372036854775808",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            ddb.put_item(TableName=name, Item={"pk": S("x"), "v": N(text)})
        assert error(exc) == (VALIDATION, ENVELOPE + message)
    ddb.put_item(TableName=name, Item={"pk": S("z"), "v": N("0e125"), "w": N("0e-130")})
    item = ddb.get_item(TableName=name, Key={"pk": S("z")})["Item"]
    assert (item["v"], item["w"]) == (N("0"), N("0"))


# --------------------------------------------------------------------------- 16: tokens


def test_client_request_token_is_1_to_36_characters(ddb, loose):
    name = make_table(ddb, tname("tok"))
    put = [{"Put": {"TableName": name, "Item": {"pk": S("a")}}}]
    statement = [{"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'b'}}"}]
    for token, bound in (
        ("y" * 37, "less than or equal to 36"),
        ("", "greater than or equal to 1"),
    ):
        expected = (
            VALIDATION,
            f"1 validation error detected: Value '{token}' at 'clientRequestToken' failed to "
            f"satisfy constraint: Member must have length {bound}",
        )
        with pytest.raises(ClientError) as exc:
            loose.transact_write_items(TransactItems=put, ClientRequestToken=token)
        assert error(exc) == expected
        with pytest.raises(ClientError) as exc:
            loose.execute_transaction(TransactStatements=statement, ClientRequestToken=token)
        assert error(exc) == expected
    assert ddb.scan(TableName=name)["Count"] == 0
    ddb.transact_write_items(TransactItems=put, ClientRequestToken="y" * 36)
    assert ddb.scan(TableName=name)["Count"] == 1


# --------------------------------------------------------------------------- 17-18: messages


def test_key_condition_messages(ddb):
    """paritysuite queryKeyConditionOperands (eu-west-2)."""
    name = make_table(ddb, tname("kc"), range=("sk", "N"))
    values = {":p": S("q"), ":a": N("1"), ":b": N("5")}
    for expression, message in (
        (
            "pk = :p AND sk > :a AND sk < :b",
            "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one "
            "condition per key",
        ),
        (
            "pk = :p AND sk > :a AND extra = :b",
            "The number of query conditions (3) exceeds the number of key attributes defined "
            "in the schema (2)",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            ddb.query(
                TableName=name, KeyConditionExpression=expression, ExpressionAttributeValues=values
            )
        assert error(exc) == (VALIDATION, message)


def test_partiql_unknown_index_is_not_named(ddb):
    """paritysuite indexReads (eu-west-1): Query/Scan name the index, PartiQL does not."""
    name = make_table(ddb, tname("pq"))
    for consistent in (False, True):
        with pytest.raises(ClientError) as exc:
            ddb.execute_statement(
                Statement=f'SELECT * FROM "{name}"."no-such-index"', ConsistentRead=consistent
            )
        assert error(exc) == (VALIDATION, "The table does not have the specified index")


def test_scan_start_key_must_come_from_its_segment(ddb, loose):
    """architect/dynalite ``test/scan.js``: a parallel Scan refuses an ExclusiveStartKey of
    another segment, and an empty ExclusiveStartKey names no key of the schema."""
    name = make_table(ddb, tname("seg"))
    for i in range(40):
        ddb.put_item(TableName=name, Item={"pk": S(f"k{i}")})
    other = ddb.scan(TableName=name, Segment=1, TotalSegments=2)["Items"]
    assert other
    with pytest.raises(ClientError) as exc:
        ddb.scan(TableName=name, Segment=0, TotalSegments=2, ExclusiveStartKey=other[0])
    assert error(exc) == (
        VALIDATION,
        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
        "ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 0",
    )
    # Its own segment's key pages on; so does any key in an unsegmented Scan.
    page = ddb.scan(TableName=name, Segment=1, TotalSegments=2, ExclusiveStartKey=other[0])
    assert len(page["Items"]) == len(other) - 1
    assert len(ddb.scan(TableName=name, ExclusiveStartKey=other[0])["Items"]) < 40
    query = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S("k1")}}
    for op, extra in (("scan", {}), ("query", query)):
        with pytest.raises(ClientError) as exc:
            getattr(loose, op)(TableName=name, ExclusiveStartKey={}, **extra)
        # A Query's is AWS's plain text (dynalite's query.js "ExclusiveStartKey is invalid").
        assert error(exc) == (
            VALIDATION,
            "The provided starting key is invalid"
            + (": The provided key element does not match the schema" if op == "scan" else ""),
        ), op


def test_every_answer_carries_the_crc32_of_its_body(cloudlet_server, ddb):
    """``x-amz-crc32`` on successes and errors, DynamoDB's and DynamoDB Streams' (the
    JavaScript v2, Go and Java SDKs check it only when it is there)."""
    import zlib

    seen: list[tuple[str | None, int]] = []

    def record(http_response: Any, **_: Any) -> None:
        seen.append((http_response.headers.get("x-amz-crc32"), zlib.crc32(http_response.content)))

    streams = cloudlet_server.client("dynamodbstreams")
    for c in (ddb, streams):
        c.meta.events.register("after-call", record)
    table = make_table(ddb, tname("crc"))
    ddb.put_item(TableName=table, Item={"pk": S("a"), "text": S("ü" * 3000)})
    ddb.get_item(TableName=table, Key={"pk": S("a")})
    with pytest.raises(ClientError):
        ddb.describe_table(TableName=tname("crc-missing"))
    streams.list_streams()
    assert len(seen) >= 4
    assert all(header == str(crc) for header, crc in seen), seen
