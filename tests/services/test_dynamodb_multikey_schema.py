"""Multi-attribute GSI keys with real boto3: what CreateTable accepts, and a restart.

The KeySchema rules and texts are AWS's, captured live (ack-api-quirks DDB-TABLE-123, error
catalogue DDB-TABLE-442): a GSI key takes up to 4 HASH then up to 4 RANGE attributes and
DescribeTable echoes them in the order given; tables and LSIs keep 1 HASH + at most 1
RANGE ("Member must have length less than or equal to 2"). Which check AWS applies first
to a KeySchema breaking several rules is not captured, so each case here breaks one.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import N, S, client, tname

INVALID = "One or more parameter values were invalid: "


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


def schema(hashes: str, ranges: str = "") -> list[dict[str, str]]:
    return [{"AttributeName": n, "KeyType": "HASH"} for n in hashes] + [
        {"AttributeName": n, "KeyType": "RANGE"} for n in ranges
    ]


def create(ddb, gsi_schema: list[dict], table_schema=None, lsi_schema=None, types=None) -> str:
    """A table keyed ``id`` (or ``table_schema``) with one GSI of ``gsi_schema``; every
    attribute named is defined, as S unless ``types`` says otherwise."""
    name = tname("mkschema")
    table_schema = table_schema or schema("i")
    named = [e["AttributeName"] for e in table_schema + gsi_schema + (lsi_schema or [])]
    types = types or {}
    params = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": types.get(n, "S")} for n in dict.fromkeys(named)
        ],
        "KeySchema": table_schema,
        "GlobalSecondaryIndexes": [
            {"IndexName": "gsi", "KeySchema": gsi_schema, "Projection": {"ProjectionType": "ALL"}}
        ],
    }
    if lsi_schema is not None:
        params["LocalSecondaryIndexes"] = [
            {"IndexName": "lsi", "KeySchema": lsi_schema, "Projection": {"ProjectionType": "ALL"}}
        ]
    ddb.create_table(**params)
    return name


def refused(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    return exc.value.response["Error"]["Message"]


def test_four_hash_and_four_range_attributes_are_accepted_in_order(ddb):
    gsi_schema = schema("dcba", "hgfe")  # not alphabetical: the order given is kept
    name = create(ddb, gsi_schema)
    gsi = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert gsi["KeySchema"] == gsi_schema


TOO_MANY = INVALID + "The KeySchema exceeds the maximum allowed number of {} key attributes"


@pytest.mark.parametrize(
    ("gsi_schema", "expected"),
    [
        (schema("abcde"), TOO_MANY.format("HASH")),
        (schema("a", "bcdef"), TOO_MANY.format("RANGE")),
        (
            schema("a", "b") + schema("c"),
            INVALID + "All HASH key attributes must precede RANGE key attributes in the KeySchema",
        ),
        (schema("ab", "a"), "The KeySchema contains multiple key attributes with the same name"),
        (
            schema("a", "b")[::-1],
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
    ],
)
def test_gsi_key_schemas_aws_refuses(ddb, gsi_schema, expected):
    assert refused(lambda: create(ddb, gsi_schema)) == expected


def test_tables_and_lsis_keep_two_key_attributes(ddb):
    too_long = "Member must have length less than or equal to 2"
    assert too_long in refused(lambda: create(ddb, schema("g"), table_schema=schema("ij", "k")))
    assert too_long in refused(
        lambda: create(
            ddb, schema("g"), table_schema=schema("i", "k"), lsi_schema=schema("i", "lm")
        )
    )


ALL = {"ProjectionType": "ALL"}


def settled(ddb, name: str) -> list[dict]:
    """The table's GSIs once none is CREATING (or after 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        gsis = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
        if all(g["IndexStatus"] == "ACTIVE" for g in gsis) or time.monotonic() > deadline:
            return gsis
        time.sleep(0.05)


def test_the_indexes_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = client(server)
        gsi_schema = schema("ab", "cd")
        name = create(ddb, gsi_schema, types={"b": "N", "d": "B"})
        for i, (c, d) in enumerate([("y", b"\x02"), ("x", b"\x09"), ("x", b"\x01")]):
            ddb.put_item(
                TableName=name,
                Item={"i": S(f"k{i}"), "a": S("p"), "b": N("7"), "c": S(c), "d": {"B": d}},
            )
        added = {"IndexName": "added", "KeySchema": schema("c", "di"), "Projection": ALL}
        defs = [{"AttributeName": n, "AttributeType": t} for n, t in ["cS", "dB", "iS"]]
        ddb.update_table(
            TableName=name,
            AttributeDefinitions=defs,
            GlobalSecondaryIndexUpdates=[{"Create": added}],
        )
    finally:
        server.stop()  # the added index may still be backfilling: the restart resumes it
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = client(server)
        gsis = {g["IndexName"]: g for g in settled(ddb, name)}
        assert (gsis["gsi"]["KeySchema"], gsis["gsi"]["ItemCount"]) == (gsi_schema, 3)
        assert gsis["added"]["KeySchema"] == schema("c", "di")
        out = ddb.query(
            TableName=name,
            IndexName="added",
            KeyConditionExpression="c = :c AND d >= :d",
            ExpressionAttributeValues={":c": S("x"), ":d": {"B": b"\x02"}},
        )
        assert [i["i"]["S"] for i in out["Items"]] == ["k1"]
        ddb.put_item(
            TableName=name,
            Item={"i": S("k3"), "a": S("p"), "b": N("7"), "c": S("x"), "d": {"B": b"\x05"}},
        )
        out = ddb.query(
            TableName=name,
            IndexName="gsi",
            KeyConditionExpression="a = :a AND b = :b AND c = :c",
            ExpressionAttributeValues={":a": S("p"), ":b": N("7"), ":c": S("x")},
        )
        assert [i["i"]["S"] for i in out["Items"]] == ["k2", "k3", "k1"]
    finally:
        server.stop()
