"""More differences from DynamoDB that ScyllaDB Alternator's test suite found: Streams
request validation, attribute name lengths, TableClass, DeleteTable's answer,
transactions and duplicate AttributeDefinitions.

Alternator's tests (scylladb/scylladb ``test/alternator``) were written and validated
against real DynamoDB; each test here names the one it follows. Where no AWS text is on
record the code that raises the error says so.
"""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import (
    ENVELOPE,
    N,
    S,
    assert_error,
    client,
    index,
    make_table,
    tname,
)

VALIDATION = "ValidationException"
NAME_TOO_LARGE = "Attribute name is too large, must be less than 65536 bytes"
BAD_CLASS = (
    "Invalid table-class parameter provided. Please try again with a valid table-class "
    "value: [STANDARD, STANDARD_INFREQUENT_ACCESS]."
)
NOT_AN_ARN = "sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def streams(cloudlet_server):
    from botocore.config import Config

    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return cloudlet_server.client("dynamodbstreams", config=config)


def stream_table(ddb, streams) -> tuple[str, str, dict]:
    """A KEYS_ONLY stream's table, ARN and shard."""
    name = make_table(
        ddb,
        tname("alt-st"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    return name, arn, shard


# --------------------------------------------------------------------------- 1: streams


def test_malformed_stream_arn_is_a_validation_error(ddb, streams):
    """test_streams.py::test_describe_nonexistent_stream and
    ::test_get_shard_iterator_for_nonexistent_stream: a StreamArn that is no stream ARN is
    a ValidationException (aws-sdk-js's integration test: "Invalid StreamArn"); a
    well-formed ARN of no stream stays ResourceNotFoundException."""
    _, arn, shard = stream_table(ddb, streams)
    with pytest.raises(ClientError) as exc:
        streams.describe_stream(StreamArn=NOT_AN_ARN)
    assert_error(exc, VALIDATION, "Invalid StreamArn")
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=NOT_AN_ARN, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )
    assert_error(exc, VALIDATION, "Invalid StreamArn")
    missing = arn.replace(":table/", ":table/x")
    with pytest.raises(ClientError) as exc:
        streams.describe_stream(StreamArn=missing)
    assert_error(
        exc,
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {missing} not found",
    )


def test_list_streams_refuses_a_malformed_start_arn(ddb, streams):
    """test_streams.py::test_list_streams_with_nonexistent_last_stream: ValidationException
    instead of every stream."""
    name, _, _ = stream_table(ddb, streams)
    with pytest.raises(ClientError) as exc:
        streams.list_streams(
            TableName=name, ExclusiveStartStreamArn="kossaapaaasdafsdaasdasdasdasasdasfadfadfas"
        )
    assert_error(exc, VALIDATION, "Invalid ExclusiveStartStreamArn")


def test_describe_stream_after_an_unknown_shard_lists_none(ddb, streams):
    """test_streams.py::test_describe_stream_with_nonexistent_last_shard: no shard follows
    an ExclusiveStartShardId the stream does not have."""
    _, arn, _ = stream_table(ddb, streams)
    desc = streams.describe_stream(
        StreamArn=arn, ExclusiveStartShardId="zzzzzzzzzzzzzzzzzzzzzzzzsfasdgagadfadfgagkjsdfsfs"
    )["StreamDescription"]
    assert desc["Shards"] == []


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_trim_horizon_and_latest_take_no_sequence_number(ddb, streams, kind):
    """test_streams.py::test_get_shard_iterator: TRIM_HORIZON and LATEST with a
    SequenceNumber are a ValidationException; AT/AFTER_SEQUENCE_NUMBER take it."""
    _, arn, shard = stream_table(ddb, streams)
    seq = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind, SequenceNumber=seq
        )
    assert_error(
        exc, VALIDATION, f"SequenceNumber must not be specified for ShardIteratorType {kind}"
    )
    assert streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind
    )["ShardIterator"]


# --------------------------------------------------------------------------- 2: name lengths


def test_attribute_name_of_64_kb_is_refused(ddb):
    """test_limits.py::test_limit_attribute_length_nonkey_bad (and _good): 65535 bytes is the
    longest name, in an item, a nested map, AttributesToGet, AttributeUpdates and the
    names an expression uses. AWS's text: ExtendDB issue #365's captures."""
    table = make_table(ddb, tname("alt-nm"))
    long = "x" * 65535
    too_long = "é" * 32768  # 65536 bytes in 32768 characters: bytes count
    ddb.put_item(TableName=table, Item={"pk": S("a"), long: N("1")})
    got = ddb.get_item(TableName=table, Key={"pk": S("a")}, AttributesToGet=[long])
    assert got["Item"] == {long: N("1")}
    writes = [
        lambda: ddb.put_item(TableName=table, Item={"pk": S("a"), too_long: N("1")}),
        lambda: ddb.put_item(TableName=table, Item={"pk": S("a"), "m": {"M": {too_long: N("1")}}}),
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": S("a")},
            AttributeUpdates={too_long: {"Value": N("2"), "Action": "PUT"}},
        ),
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": S("a")},
            UpdateExpression="SET #name = :val",
            ExpressionAttributeNames={"#name": too_long},
            ExpressionAttributeValues={":val": N("3")},
        ),
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": S("a")},
            UpdateExpression="SET a = :val",
            ConditionExpression="#name = :val",
            ExpressionAttributeNames={"#name": too_long},
            ExpressionAttributeValues={":val": N("1")},
        ),
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": S("a")},
            UpdateExpression="SET doc = :val",
            ExpressionAttributeValues={":val": {"M": {too_long: N("1")}}},
        ),
    ]
    for call in writes:
        with pytest.raises(ClientError) as exc:
            call()
        assert_error(exc, VALIDATION, ENVELOPE + NAME_TOO_LARGE)
    reads = [
        lambda: ddb.get_item(
            TableName=table,
            Key={"pk": S("a")},
            ProjectionExpression="#name",
            ExpressionAttributeNames={"#name": too_long},
        ),
        lambda: ddb.get_item(TableName=table, Key={"pk": S("a")}, AttributesToGet=[too_long]),
    ]
    for call in reads:
        with pytest.raises(ClientError) as exc:
            call()
        assert_error(exc, VALIDATION, NAME_TOO_LARGE)
    assert ddb.get_item(TableName=table, Key={"pk": S("a")})["Item"] == {
        "pk": S("a"),
        long: N("1"),
    }


def _too_long_key(member: str, name: str) -> str:
    return (
        f"1 validation error detected: Value '{name}' at '{member}.attributeName' failed to "
        "satisfy constraint: Member must have length less than or equal to 255"
    )


def test_key_attribute_names_over_255_are_refused(ddb):
    """test_limits.py::test_limit_attribute_length_key_bad, ::_gsi_lsi_bad and their
    ``_incoherent_names`` variants: key attribute names (and their AttributeDefinitions)
    longer than 255 characters are refused as the model's constraint, before AWS looks at
    whether the definitions and schemas agree. 255 is fine (::_key_good)."""
    long, too_long = "k" * 255, "k" * 256
    ok = make_table(ddb, tname("alt-kn"), (long, "S"), ("r" * 255, "S"))
    ddb.put_item(TableName=ok, Item={long: S("a"), "r" * 255: S("b")})
    keys = [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}]
    defs = [
        {"AttributeName": "a", "AttributeType": "S"},
        {"AttributeName": "b", "AttributeType": "S"},
    ]
    cases = [
        (
            {
                "KeySchema": [{"AttributeName": too_long, "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "short", "AttributeType": "S"}],
            },
            _too_long_key("keySchema.1.member", too_long),
        ),
        (
            {
                "KeySchema": [{"AttributeName": "short", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": too_long, "AttributeType": "S"}],
            },
            _too_long_key("attributeDefinitions.1.member", too_long),
        ),
        (
            {
                "KeySchema": keys,
                "AttributeDefinitions": defs,
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "gsi",
                        "KeySchema": [{"AttributeName": too_long, "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
            _too_long_key("globalSecondaryIndexes.1.member.keySchema.1.member", too_long),
        ),
        (
            {
                "KeySchema": keys,
                "AttributeDefinitions": defs,
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "lsi",
                        "KeySchema": [
                            {"AttributeName": "a", "KeyType": "HASH"},
                            {"AttributeName": too_long, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
            _too_long_key("localSecondaryIndexes.1.member.keySchema.2.member", too_long),
        ),
    ]
    for params, message in cases:
        with pytest.raises(ClientError) as exc:
            ddb.create_table(TableName=tname("alt-kn"), BillingMode="PAY_PER_REQUEST", **params)
        assert_error(exc, VALIDATION, message)
    # Both long: every broken constraint at once.
    with pytest.raises(ClientError) as exc:
        ddb.create_table(
            TableName=tname("alt-kn"),
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": too_long, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": too_long, "AttributeType": "S"}],
        )
    assert exc.value.response["Error"]["Message"].startswith("2 validation errors detected: ")


@pytest.mark.parametrize(
    ("helper", "member"), [("gsis", "globalSecondaryIndexes"), ("lsis", "localSecondaryIndexes")]
)
def test_projected_names_over_255_are_refused(ddb, helper, member):
    """test_limits.py::test_limit_attribute_length_gsi_lsi_projection_bad: NonKeyAttributes
    names are NonKeyAttributeName, at most 255 characters; the rest of the request is valid."""
    too_long = "n" * 256
    spec = index("idx", ("a", "S"), ("c", "S"), projection="INCLUDE", non_key=[too_long])
    with pytest.raises(ClientError) as exc:
        make_table(ddb, tname("alt-pj"), ("a", "S"), ("b", "S"), **{helper: [spec]})
    assert_error(
        exc,
        VALIDATION,
        f"1 validation error detected: Value '[{too_long}]' at "
        f"'{member}.1.member.projection.nonKeyAttributes' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 255, Member must have length greater than or equal to 1]",
    )


@pytest.mark.parametrize("long_in", ["definitions", "schema"])
def test_new_gsi_key_name_over_255_is_refused(ddb, long_in):
    """test_limits.py::test_limit_gsiu_key_len_bad and ::_incoherent_names: UpdateTable's
    GSI Create too, the length before the undefined key attribute."""
    table = make_table(ddb, tname("alt-gu"))
    too_long = "g" * 256
    defined, keyed = (too_long, "short") if long_in == "definitions" else ("short", too_long)
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": defined, "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "hello",
                        "KeySchema": [{"AttributeName": keyed, "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                }
            ],
        )
    member = (
        "attributeDefinitions.1.member"
        if long_in == "definitions"
        else "globalSecondaryIndexUpdates.1.member.create.keySchema.1.member"
    )
    assert_error(exc, VALIDATION, _too_long_key(member, too_long))


# --------------------------------------------------------------------------- 3: TableClass


def test_table_class_summary(ddb):
    """test_tableclass.py: a class CreateTable names is shown, STANDARD too
    (::test_tableclass_describe_table_explicit_standard); none without one
    (::_default); LastUpdateDateTime only once UpdateTable changed it
    (::test_tableclass_update_table_last_update_datetime)."""
    default = make_table(ddb, tname("alt-tc"))
    assert "TableClassSummary" not in ddb.describe_table(TableName=default)["Table"]
    standard = make_table(ddb, tname("alt-tc"), TableClass="STANDARD")
    assert ddb.describe_table(TableName=standard)["Table"]["TableClassSummary"] == {
        "TableClass": "STANDARD"
    }
    ia = make_table(ddb, tname("alt-tc"), TableClass="STANDARD_INFREQUENT_ACCESS")
    assert ddb.describe_table(TableName=ia)["Table"]["TableClassSummary"] == {
        "TableClass": "STANDARD_INFREQUENT_ACCESS"
    }
    answer = ddb.update_table(TableName=standard, TableClass="STANDARD_INFREQUENT_ACCESS")
    summary = answer["TableDescription"]["TableClassSummary"]
    assert summary["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert "LastUpdateDateTime" in summary
    ddb.update_table(TableName=standard, TableClass="STANDARD")
    summary = ddb.describe_table(TableName=standard)["Table"]["TableClassSummary"]
    assert summary["TableClass"] == "STANDARD"
    assert "LastUpdateDateTime" in summary


@pytest.mark.parametrize("table_class", ["junk", "standard"])
def test_bad_table_class_is_refused_in_aws_words(ddb, table_class):
    """test_tableclass.py::test_tableclass_create_table_bad_tableclass and
    ::test_tableclass_update_table: AWS's own text, not the enum constraint's."""
    with pytest.raises(ClientError) as exc:
        make_table(ddb, tname("alt-tc"), TableClass=table_class)
    assert_error(exc, VALIDATION, BAD_CLASS)
    table = make_table(ddb, tname("alt-tc"))
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=table, TableClass=table_class)
    assert_error(exc, VALIDATION, BAD_CLASS)


# --------------------------------------------------------------------------- 4: DeleteTable


def test_delete_table_description_leaves_out_the_schema(ddb):
    """test_table.py::test_delete_table_description and ::_with_si: no CreationDateTime,
    KeySchema, AttributeDefinitions or secondary indexes; the rest as DescribeTable has it."""
    table = make_table(
        ddb,
        tname("alt-dt"),
        range=("c", "S"),
        gsis=[index("hello", ("x", "S"))],
        lsis=[index("hithere", ("pk", "S"), ("x", "S"))],
    )
    described = ddb.describe_table(TableName=table)["Table"]
    got = ddb.delete_table(TableName=table)["TableDescription"]
    for member in (
        "CreationDateTime",
        "KeySchema",
        "AttributeDefinitions",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
    ):
        assert member in described
        assert member not in got
    assert got["TableName"] == table
    assert got["TableStatus"] == "DELETING"
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", got["TableId"]
    )
    assert got["TableArn"] == described["TableArn"]
    assert got["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert got["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"]
    assert got["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0
    assert got["ItemCount"] == 0 and got["TableSizeBytes"] == 0


# --------------------------------------------------------------------------- 5: transactions


def test_transaction_over_4_mb_says_size_cannot_exceed(ddb):
    """test_transact.py::test_transact_write_items_put_5MB: 'ValidationException.*size cannot
    exceed'."""
    table = make_table(ddb, tname("alt-tx"))
    long = "x" * 100_000
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": S(f"p{i}"), "x": S(long)}}}
                for i in range(50)
            ]
        )
    assert exc.value.response["Error"]["Code"] == VALIDATION
    assert re.search("size cannot exceed", exc.value.response["Error"]["Message"])


def test_only_the_first_invalid_action_is_reported(ddb):
    """test_transact.py::test_transact_write_cancellation_reasons_validationerror: AWS stops
    at the first invalid action; the others, a second invalid one and a false condition
    included, are None."""
    table = make_table(ddb, tname("alt-tx"))
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": N("7")}}},
                {"Put": {"TableName": table, "Item": {"pk": N("8")}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": S("p")},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    response = exc.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ValidationError", "None", "None"]
    assert "Message" in reasons[0]
    assert "Message" not in reasons[1] and "Message" not in reasons[2]


# --------------------------------------------------------------------------- 6: definitions


def test_duplicate_attribute_definition_is_named(ddb):
    """test_table.py::test_create_table_duplicate_attribute_name: AWS's text, quoted in
    scylladb issue #13870."""
    with pytest.raises(ClientError) as exc:
        ddb.create_table(
            TableName=tname("alt-dup"),
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "xyz", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "xyz", "AttributeType": "S"},
                {"AttributeName": "xyz", "AttributeType": "N"},
            ],
        )
    assert_error(exc, VALIDATION, "Attribute Name is duplicated: xyz")


# --------------------------------------------------------------------------- deep expressions

DEEP_CONDITIONS = [
    ("(" * 4096, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "("'),
    (
        "a<b " + "or (a<b " * 454 + ")" * 454,
        "Invalid ConditionExpression: The expression contains too many operators; "
        "operator count: 301",
    ),
    (
        "(" * 2046 + "a<b" + ")" * 2046,
        "Invalid ConditionExpression: The expression has redundant parentheses;",
    ),
    (
        "not " * 1000 + "a<b",
        "Invalid ConditionExpression: The expression contains too many "
        "operators; operator count: 301",
    ),
    (
        "a < " + "size(" * 680 + "b" + ")" * 680,
        "Invalid ConditionExpression: The expression "
        "contains too many operators; operator count: 301",
    ),
]


@pytest.mark.parametrize(
    "condition,message", DEEP_CONDITIONS, ids=["open", "or", "parens", "not", "size"]
)
def test_deeply_nested_conditions_get_the_expressions_own_answer(ddb, condition, message):
    """test_limits.py::test_deeply_nested_expression_1 to _5 (under 4 KiB, nested past
    what a recursive parser goes): DynamoDB answers each as an invalid ConditionExpression."""
    name = make_table(ddb, tname("alt-deep"), ("p", "S"))
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=name,
            Key={"p": S("k")},
            UpdateExpression="SET z = :v",
            ConditionExpression=condition,
            ExpressionAttributeValues={":v": N("1")},
        )
    assert_error(exc, VALIDATION, ENVELOPE + message)


def test_a_condition_nested_149_deep_with_its_operators_runs(ddb):
    """The same test's passing case: 149 levels, 299 operators."""
    name = make_table(ddb, tname("alt-deep"), ("p", "S"))
    ddb.put_item(TableName=name, Item={"p": S("k"), "a": N("1"), "b": N("2")})
    ddb.update_item(
        TableName=name,
        Key={"p": S("k")},
        UpdateExpression="SET z = :v",
        ConditionExpression="a<b " + "or (a<b " * 149 + ")" * 149,
        ExpressionAttributeValues={":v": N("1")},
    )
    assert ddb.get_item(TableName=name, Key={"p": S("k")})["Item"]["z"] == N("1")
