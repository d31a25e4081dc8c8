"""PartiQL on secondary indexes with real boto3: what a SELECT on ``"table"."index"`` may
ask for and filter on, when an LSI reads the table, and how a write naming an index is
refused. The expectations are real DynamoDB's, captured in 2026 by
paritysuite/dynamodb-conformance (tests/tier2/partiql/indexQualifier.test.ts and
executeStatementIndex.test.ts)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import index, make_table, tname

INVALID = "One or more parameter values were invalid: "


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def table(ddb):
    """The suite's table: keyed (pk, sk), GSIs of every projection on gsiPk / gsiPk2,
    LSIs of every projection; ``np`` is projected by no index but the ALL ones."""
    t = make_table(
        ddb,
        tname("pq-idx"),
        range=("sk", "S"),
        gsis=[
            index("gsi-all", ("gsiPk", "S")),
            index("gsi-inc", ("gsiPk2", "S"), projection="INCLUDE", non_key=["projattr"]),
            index("gsi-keys", ("gsiPk2", "S"), projection="KEYS_ONLY"),
        ],
        lsis=[
            index("lsi-all", ("pk", "S"), ("lsiSk", "S")),
            index("lsi-keys", ("pk", "S"), ("lsiSk2", "S"), projection="KEYS_ONLY"),
            index(
                "lsi-inc", ("pk", "S"), ("lsiSk3", "S"), projection="INCLUDE", non_key=["projattr"]
            ),
        ],
    )
    full = ("gsiPk", "gsiPk2", "lsiSk", "lsiSk2", "lsiSk3", "projattr")
    rows = [
        ("s1", dict(zip(full, ("x", "y", "l1", "k1", "m1", "proj1"), strict=True))),
        ("s2", dict(zip(full, ("z", "y", "l2", "k2", "m2", "proj2"), strict=True))),
        ("s3", {}),
        ("s4", dict(zip(full, ("x", "y", "l4", "k4", "m4", "proj4"), strict=True))),
    ]
    for n, (sk, attrs) in enumerate(rows, 1):
        item = {"pk": "p", "sk": sk, "np": f"np{n}", **attrs}
        ddb.put_item(TableName=t, Item={k: {"S": v} for k, v in item.items()})
    item = {"pk": "q", "sk": "s5", "gsiPk2": "y2", "projattr": "proj5", "np": "np5"}
    ddb.put_item(TableName=t, Item={k: {"S": v} for k, v in item.items()})
    return t


def run(ddb, statement: str, **kw) -> dict:
    out = ddb.execute_statement(Statement=statement, **kw)
    out.pop("ResponseMetadata")
    return out


def sks(ddb, statement: str, **kw) -> list[str]:
    return sorted(r["sk"]["S"] for r in run(ddb, statement, **kw)["Items"])


def refused(ddb, statement: str, **kw) -> str:
    """The message of a ValidationException ``statement`` must raise."""
    with pytest.raises(ClientError) as exc:
        run(ddb, statement, **kw)
    assert exc.value.response["Error"]["Code"] == "ValidationException", statement
    return exc.value.response["Error"]["Message"]


def capacity(ddb, statement: str, **kw) -> dict:
    """(total, table arm, index arms) of ``statement`` with INDEXES capacity."""
    cc = run(ddb, statement, ReturnConsumedCapacity="INDEXES", **kw)["ConsumedCapacity"]
    arms = {**cc.get("GlobalSecondaryIndexes", {}), **cc.get("LocalSecondaryIndexes", {})}
    return {
        "total": cc["CapacityUnits"],
        "table": cc.get("Table", {}).get("CapacityUnits", 0),
        **{name: arm["CapacityUnits"] for name, arm in arms.items()},
    }


# --------------------------------------------------------------------------- filters


def test_an_unkeyed_filter_on_an_unprojected_attribute_sees_the_index_row(ddb, table):
    """Without the index partition key the SELECT scans the index and filters its rows,
    which lack the attribute: accepted, matching nothing (or everything, negated)."""
    t = f'"{table}"'
    assert sks(ddb, f"SELECT pk, sk FROM {t}.\"gsi-inc\" WHERE np = 'np1'") == []
    assert sks(ddb, f"SELECT pk, sk FROM {t}.\"lsi-keys\" WHERE np = 'np1'") == []
    assert sks(ddb, f"SELECT pk, sk FROM {t}.\"gsi-inc\" WHERE np = 'np1' AND np = 'np2'") == []
    assert sks(ddb, f"SELECT pk, sk FROM {t}.\"gsi-keys\" WHERE NOT np = 'np1'") == [
        "s1",
        "s2",
        "s4",
        "s5",
    ]
    either = "(gsiPk2 = 'y' AND np = 'np1') OR (gsiPk2 = 'y2')"
    assert sks(ddb, f'SELECT pk, sk FROM {t}."gsi-inc" WHERE {either}') == ["s5"]
    # The LSI still filters its own row when the projection reads the table.
    assert run(ddb, f"SELECT np FROM {t}.\"lsi-keys\" WHERE np = 'np1'")["Items"] == []


def test_a_keyed_filter_on_an_unprojected_attribute_is_refused(ddb, table):
    """Keyed on the index partition key (``=`` or ``IN``), the read refuses the filter on
    a GSI and an LSI alike, in AWS's words."""
    t = f'"{table}"'
    for statement, ix in (
        (f"SELECT pk FROM {t}.\"gsi-inc\" WHERE gsiPk2 = 'y' AND np = 'np1'", "gsi-inc"),
        (f"SELECT pk FROM {t}.\"gsi-inc\" WHERE gsiPk2 = 'y' AND NOT np = 'np1'", "gsi-inc"),
        (f"SELECT pk FROM {t}.\"gsi-inc\" WHERE gsiPk2 IN ['y', 'z'] AND np = 'np1'", "gsi-inc"),
        (f"SELECT pk FROM {t}.\"lsi-keys\" WHERE pk = 'p' AND np IS MISSING", "lsi-keys"),
    ):
        assert refused(ddb, statement) == (
            f"{INVALID}Secondary index {ix} does not project one or more filter attributes: [np]"
        )
    keyed = f"SELECT pk FROM {t}.\"gsi-inc\" WHERE gsiPk2 = 'y' AND projattr = 'proj1'"
    assert len(run(ddb, keyed)["Items"]) == 1


def test_a_gsi_refuses_an_unprojected_attribute_keyed_or_not(ddb, table):
    for where in (" WHERE gsiPk2 = 'y'", ""):
        assert refused(ddb, f'SELECT np FROM "{table}"."gsi-inc"{where}') == (
            f"{INVALID}Global secondary index gsi-inc does not project [np]"
        )


# --------------------------------------------------------------------------- LSI reach-back


def test_an_lsi_reads_an_unprojected_attribute_from_the_table(ddb, table):
    t = f'"{table}"'
    rows = run(ddb, f"SELECT np FROM {t}.\"lsi-keys\" WHERE pk = 'p'")["Items"]
    assert sorted(r["np"]["S"] for r in rows) == ["np1", "np2", "np4"]
    rows = run(ddb, f"SELECT sk, np FROM {t}.\"lsi-inc\" WHERE pk = 'p' AND projattr = 'proj2'")
    assert rows["Items"] == [{"sk": {"S": "s2"}, "np": {"S": "np2"}}]
    # Unkeyed too: the index is scanned and each row's item read.
    assert len(run(ddb, f'SELECT np FROM {t}."lsi-keys"')["Items"]) == 3


def test_an_lsi_read_of_the_table_is_charged_on_the_table_arm(ddb, table):
    t = f'"{table}"'
    reach = f"SELECT np FROM {t}.\"lsi-keys\" WHERE pk = 'p'"
    all_rows = capacity(ddb, reach)
    assert all_rows["table"] > 0 and all_rows["lsi-keys"] > 0
    assert all_rows["total"] == all_rows["table"] + all_rows["lsi-keys"]
    assert capacity(ddb, reach, Limit=1)["table"] < all_rows["table"]
    consistent = capacity(ddb, reach, ConsistentRead=True)
    assert consistent["table"] == 2 * all_rows["table"]
    assert consistent["lsi-keys"] == 2 * all_rows["lsi-keys"]
    # Charged on rows walked, not rows kept.
    kept = f"SELECT np FROM {t}.\"lsi-inc\" WHERE pk = 'p'"
    none = f"{kept} AND projattr = 'no-such-value'"
    assert capacity(ddb, none)["table"] == capacity(ddb, kept)["table"]
    # Projected attributes only, or *, read no table item.
    assert capacity(ddb, f"SELECT lsiSk2 FROM {t}.\"lsi-keys\" WHERE pk = 'p'")["table"] == 0
    assert capacity(ddb, f"SELECT * FROM {t}.\"lsi-keys\" WHERE pk = 'p'")["table"] == 0


# --------------------------------------------------------------------------- writes


def test_an_insert_into_an_index_is_refused_while_parsing(ddb, table):
    """INSERT's grammar has no room for an index: refused with where the table name sat
    (line:column:length as written), whether or not the index exists; UPDATE and DELETE
    refuse it in other words."""
    t = f'"{table}"'
    single = "FROM clause may only contain a single table name in data manipulation statements"
    item = "VALUE {'pk': 'w1', 'sk': 'w1'}"
    statement = f'INSERT INTO {t}."gsi-all" {item}'
    assert refused(ddb, statement) == f"{single} at 1:13:{len(t)}"
    statement = f'INSERT INTO\n  {t}."no-such-index" {item}'
    assert refused(ddb, statement) == f"{single} at 2:3:{len(t)}"
    on_index = "This operation is not supported on an index"
    assert refused(ddb, f"UPDATE {t}.\"gsi-all\" SET a = 1 WHERE pk = 'p' AND sk = 's1'") == (
        on_index
    )
    assert refused(ddb, f"DELETE FROM {t}.\"gsi-all\" WHERE pk = 'p' AND sk = 's1'") == on_index
    assert sks(ddb, f"SELECT pk, sk FROM {t} WHERE pk = 'p'") == ["s1", "s2", "s3", "s4"]


def test_operand_types_are_checked_before_the_table(ddb):
    # nubo-db dynamodb-conformance validation-ordering partiql.test.ts: "the operand-type
    # check fires ahead of table resolution"
    for statement in (
        'SELECT pk FROM "no_such_table_pq" WHERE pk = ? AND val < ?',
        'DELETE FROM "no_such_table_pq" WHERE pk = ? AND val BETWEEN ? AND ?',
    ):
        params = [{"S": "x"}, {"BOOL": True}, {"N": "1"}][: statement.count("?")]
        with pytest.raises(ClientError) as exc:
            ddb.execute_statement(Statement=statement, Parameters=params)
        error = exc.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"].startswith(
            "Incorrect operand type for operator or function; operator or function: "
        )
        assert error["Message"].endswith("operand type: BOOL")
