"""Table-level differences from DynamoDB that ScyllaDB Alternator's test suite found.

Alternator's tests (scylladb/scylladb ``test/alternator``) were written and validated
against real DynamoDB; each test here names the one it follows. The texts AWS answers
come from those tests' quotes or from the ack-api-quirks lab captures of live DynamoDB
(error catalogue DDB-TABLE-442), as the code that raises them cites.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import S, assert_error, client, make_table, scan_all, tname

VALIDATION = "ValidationException"
INVALID = "One or more parameter values were invalid: "
PATTERN = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server, validate=False)


def create_gsi(ddb, table: str, name: str, keys: list[tuple[str, str]], types: dict) -> None:
    """Add GSI ``name`` keyed ``keys`` ((attribute, HASH|RANGE) ...) and wait until it is
    ACTIVE; ``types`` is the request's AttributeDefinitions."""
    ddb.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in types.items()],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": name,
                    "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k in keys],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    deadline = time.monotonic() + 20
    while True:
        gsis = ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
        status = next(g["IndexStatus"] for g in gsis if g["IndexName"] == name)
        if status == "ACTIVE":
            return
        assert time.monotonic() < deadline, f"index {name} still {status}"
        time.sleep(0.05)


def index_sizes(ddb, table: str) -> dict[str, int]:
    gsis = ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    return {g["IndexName"]: g["ItemCount"] for g in gsis}


# --------------------------------------------------------------------------- 1: backfill


def test_backfill_skips_empty_and_oversized_keys(ddb):
    """test_gsi_updatetable.py::test_gsi_backfill_empty_string, ::test_gsi_backfill_key_limits:
    an item whose new index key is empty or over the key size limits (2048 bytes for a
    partition key, 1024 for a sort key) is left out of the index being filled."""
    table = make_table(ddb, tname("alt-bf"), range=("c", "S"))
    lengths = [5, 0, 1024, 1025, 2048, 2049]
    for i, n in enumerate(lengths):
        ddb.put_item(TableName=table, Item={"pk": S(f"p{i}"), "c": S("c"), "x": S("a" * n)})
    ddb.put_item(TableName=table, Item={"pk": S("pb"), "c": S("c"), "x": {"B": b""}})
    create_gsi(ddb, table, "by-x", [("x", "HASH")], {"x": "S"})
    create_gsi(ddb, table, "by-c-x", [("c", "HASH"), ("x", "RANGE")], {"c": "S", "x": "S"})
    as_hash = sorted(len(i["x"]["S"]) for i in scan_all(ddb, table, IndexName="by-x"))
    as_range = sorted(len(i["x"]["S"]) for i in scan_all(ddb, table, IndexName="by-c-x"))
    assert as_hash == [5, 1024, 1025, 2048]
    assert as_range == [5, 1024]
    assert index_sizes(ddb, table) == {"by-x": 4, "by-c-x": 2}
    # The skipped items stay in the table; deleting one leaves the indexes as they are.
    ddb.delete_item(TableName=table, Key={"pk": S("p1"), "c": S("c")})
    ddb.delete_item(TableName=table, Key={"pk": S("p5"), "c": S("c")})
    assert index_sizes(ddb, table) == {"by-x": 4, "by-c-x": 2}


def test_backfill_of_multi_attribute_key_skips_empty_part(ddb):
    """A multi-attribute GSI key is skipped when any one part could not be a key."""
    table = make_table(ddb, tname("alt-bfm"))
    ddb.put_item(TableName=table, Item={"pk": S("a"), "g1": S("x"), "g2": S("y")})
    ddb.put_item(TableName=table, Item={"pk": S("b"), "g1": S("x"), "g2": S("")})
    create_gsi(ddb, table, "multi", [("g1", "HASH"), ("g2", "HASH")], {"g1": "S", "g2": "S"})
    assert [i["pk"] for i in scan_all(ddb, table, IndexName="multi")] == [S("a")]


# --------------------------------------------------------------------------- 2: entries


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {},
            "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
            "GlobalSecondaryIndexUpdate.Delete must not be null",
        ),
        (
            {
                "Create": {
                    "IndexName": "ind",
                    "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                },
                "Delete": {"IndexName": "xyz"},
            },
            "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate "
            "object",
        ),
    ],
    ids=["empty", "create-and-delete"],
)
def test_gsi_update_entry_takes_one_action(ddb, entry, message):
    """test_gsi_updatetable.py::test_gsi_updatetable_errors."""
    table = make_table(ddb, tname("alt-ent"))
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "N"}],
            GlobalSecondaryIndexUpdates=[entry],
        )
    assert_error(exc, VALIDATION, INVALID + message)
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=table)["Table"]


# --------------------------------------------------------------------------- 3, 5: definitions


def test_new_gsi_needs_its_attribute_definitions(ddb):
    """test_gsi_updatetable.py::test_gsi_backfill_with_lsi: a GSI Create must define its key
    attributes in the request, "even if it's redundant" (x is an LSI key already)."""
    table = make_table(
        ddb,
        tname("alt-def"),
        range=("c", "S"),
        lsis=[{"name": "lsi", "hash": ("pk", "S"), "range": ("x", "S"), "projection": "ALL"}],
    )
    create = {
        "IndexName": "gsi2",
        "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Create": create}])
    assert_error(exc, VALIDATION, INVALID + "AttributeDefinitions is not specified for index: gsi2")
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "y", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": create}],
        )
    assert_error(
        exc,
        VALIDATION,
        INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
        "Keys: [x], AttributeDefinitions: [y]",
    )
    create_gsi(ddb, table, "gsi2", [("x", "HASH")], {"x": "S"})


def test_gsi_key_type_conflict_on_update(ddb):
    """test_gsi_updatetable.py::test_gsi_key_type_conflict_on_update, whose comment quotes
    AWS's text."""
    table = make_table(
        ddb,
        tname("alt-redef"),
        gsis=[{"name": "index1", "hash": ("xyz", "S"), "range": None, "projection": "ALL"}],
    )
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "xyz", "AttributeType": "N"}],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "index2",
                        "KeySchema": [{"AttributeName": "xyz", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                }
            ],
        )
    assert_error(
        exc,
        VALIDATION,
        INVALID + "Attributes cannot be redefined. Please check that your attribute has the "
        "same type as previously defined. Existing schema: Schema:[SchemaElement: "
        "key{xyz:S:HASH}] New schema: Schema:[SchemaElement: key{xyz:N:HASH}]",
    )
    # A conflicting definition no new index uses is ignored (ack-api-quirks DDB-TABLE-162).
    ddb.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "N"}],
        DeletionProtectionEnabled=False,
    )
    defs = ddb.describe_table(TableName=table)["Table"]["AttributeDefinitions"]
    assert {d["AttributeName"]: d["AttributeType"] for d in defs} == {"pk": "S", "xyz": "S"}


# --------------------------------------------------------------------------- 4: projection


def test_duplicate_non_key_attributes(ddb):
    """test_gsi.py::test_gsi_projection_error_duplicate, for CreateTable's GSIs and LSIs and
    UpdateTable's Create."""
    message = INVALID + "Duplicate element in NonKeyAttributes: a"
    include = {"projection": "INCLUDE", "non_key": ["a", "b", "a"]}
    for kind in ("gsis", "lsis"):
        spec = {
            "name": "hello",
            "hash": ("x", "S") if kind == "gsis" else ("pk", "S"),
            "range": None if kind == "gsis" else ("x", "S"),
            **include,
        }
        name = tname("alt-dup")
        with pytest.raises(ClientError) as exc:
            make_table(ddb, name, range=("c", "S"), **{kind: [spec]})
        assert_error(exc, VALIDATION, message)
        assert name not in ddb.list_tables()["TableNames"]
    table = make_table(ddb, tname("alt-dup"))
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "hello",
                        "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", "a"]},
                    }
                }
            ],
        )
    assert_error(exc, VALIDATION, message)


# --------------------------------------------------------------------------- 6: table names


def _name_error(name: str, *rules: str) -> str:
    count = "1 validation error" if len(rules) == 1 else f"{len(rules)} validation errors"
    return f"{count} detected: " + "; ".join(
        f"Value '{name}' at 'tableName' failed to satisfy constraint: {rule}" for rule in rules
    )


CALLS = {
    "put_item": lambda d, n: d.put_item(TableName=n, Item={"a": S("b")}),
    "get_item": lambda d, n: d.get_item(TableName=n, Key={"a": S("b")}),
    "update_item": lambda d, n: d.update_item(TableName=n, Key={"a": S("b")}),
    "delete_item": lambda d, n: d.delete_item(TableName=n, Key={"a": S("b")}),
    "query": lambda d, n: d.query(
        TableName=n, KeyConditionExpression="a = :a", ExpressionAttributeValues={":a": S("b")}
    ),
    "scan": lambda d, n: d.scan(TableName=n),
    "describe_table": lambda d, n: d.describe_table(TableName=n),
    "update_table": lambda d, n: d.update_table(TableName=n, DeletionProtectionEnabled=False),
    "delete_table": lambda d, n: d.delete_table(TableName=n),
}
SHORT = "Member must have length greater than or equal to 3"


@pytest.mark.parametrize("operation", CALLS)
@pytest.mark.parametrize(
    ("name", "rules"),
    [
        ("non!existent!table", (PATTERN,)),
        ("xx", (SHORT,)),
        ("x!", (SHORT, PATTERN)),
        ("n" * 256, ("Member must have length less than or equal to 255",)),
    ],
    ids=["pattern", "short", "both", "long"],
)
def test_improper_table_name_is_a_validation_error(ddb, operation, name, rules):
    """test_item.py::test_item_operations_improper_named_table (and its comment's quote):
    a name no table can have is refused, not looked up."""
    with pytest.raises(ClientError) as exc:
        CALLS[operation](ddb, name)
    assert_error(exc, VALIDATION, _name_error(name, *rules))


def test_table_arn_and_unknown_names_still_look_up(ddb):
    table = make_table(ddb, tname("alt-arn"))
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.put_item(TableName=arn, Item={"pk": S("a")})
    assert ddb.get_item(TableName=arn, Key={"pk": S("a")})["Item"] == {"pk": S("a")}
    for missing in ("non_existent_table", arn + "-gone"):
        with pytest.raises(ClientError) as exc:
            ddb.put_item(TableName=missing, Item={"pk": S("a")})
        assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_create_table_reports_both_name_rules(ddb):
    with pytest.raises(ClientError) as exc:
        make_table(ddb, "x!")
    assert_error(exc, VALIDATION, _name_error("x!", SHORT, PATTERN))
