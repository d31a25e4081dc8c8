"""PartiQL for DynamoDB with real boto3: ExecuteStatement, BatchExecuteStatement,
ExecuteTransaction, against the same items the item API sees."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import index, make_table, tname

MALFORMED = "Statement wasn't well formed, can't be processed: "


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def table(ddb):
    """A table keyed (pk S, sk N) with a GSI on (g S, sk N)."""
    return make_table(
        ddb, tname("pq"), ("pk", "S"), ("sk", "N"), gsis=[index("byg", ("g", "S"), ("sk", "N"))]
    )


def run(ddb, statement: str, *params, **kw) -> dict:
    if params:
        kw["Parameters"] = list(params)
    out = ddb.execute_statement(Statement=statement, **kw)
    out.pop("ResponseMetadata")
    return out


def items(ddb, statement: str, *params, **kw) -> list[dict]:
    return run(ddb, statement, *params, **kw)["Items"]


def fails(ddb, statement: str, *params, **kw) -> dict:
    with pytest.raises(ClientError) as exc:
        run(ddb, statement, *params, **kw)
    return exc.value.response


def code(resp: dict) -> str:
    return resp["Error"]["Code"]


def message(resp: dict) -> str:
    return resp["Error"]["Message"]


def fill(ddb, t: str, n: int = 5, pk: str = "a") -> None:
    for i in range(1, n + 1):
        run(
            ddb,
            f"INSERT INTO \"{t}\" VALUE {{'pk': ?, 'sk': ?, 'n': ?, 'g': 'G'}}",
            {"S": pk},
            {"N": str(i)},
            {"N": str(i * 10)},
        )


def sks(rows: list[dict]) -> list[int]:
    return [int(r["sk"]["N"]) for r in rows]


# --------------------------------------------------------------------------- INSERT / SELECT


def test_insert_every_literal_type_and_read_it_back(ddb, table):
    out = run(
        ddb,
        f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 1, 's': <<'x','y'>>, 'ns': <<1, 2.50>>, "
        "'l': [1, 'two', [3]], 'm': {'k': 'v', 'n': {'deep': true}}, 'b': false, 'z': null, "
        "'n': -1.50e1, 'q': 'it''s'}",
    )
    assert out == {"Items": []}
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item["s"] == {"SS": ["x", "y"]} or sorted(item["s"]["SS"]) == ["x", "y"]
    assert sorted(item["ns"]["NS"]) == ["1", "2.5"]
    assert item["l"] == {"L": [{"N": "1"}, {"S": "two"}, {"L": [{"N": "3"}]}]}
    assert item["m"] == {"M": {"k": {"S": "v"}, "n": {"M": {"deep": {"BOOL": True}}}}}
    assert item["b"] == {"BOOL": False} and item["z"] == {"NULL": True}
    assert item["n"] == {"N": "-15"} and item["q"] == {"S": "it's"}
    assert items(ddb, f"SELECT * FROM \"{table}\" WHERE pk = 'a' AND sk = 1") == [item]


def test_insert_of_an_existing_key_is_a_duplicate(ddb, table):
    run(ddb, f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 1, 'v': 1}}")
    resp = fails(ddb, f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 1, 'v': 2}}")
    assert code(resp) == "DuplicateItemException"
    assert message(resp) == "Duplicate primary key exists in table"
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item["v"] == {"N": "1"}
    resp = fails(ddb, f"INSERT INTO \"{table}\" VALUE {{'pk': 'b'}}")
    assert code(resp) == "ValidationException" and "sk" in message(resp)


def test_item_api_and_partiql_share_items(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "api"}, "sk": {"N": "7"}, "v": {"S": "x"}})
    assert items(ddb, f"SELECT v FROM \"{table}\" WHERE pk = 'api'") == [{"v": {"S": "x"}}]
    run(ddb, f"UPDATE \"{table}\" SET v = 'y' WHERE pk = 'api' AND sk = 7")
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "api"}, "sk": {"N": "7"}})["Item"]
    assert item["v"] == {"S": "y"}


def test_projection_of_nested_paths(ddb, table):
    run(
        ddb,
        f"INSERT INTO \"{table}\" VALUE {{'pk': 'p', 'sk': 1, 'm': {{'k': [10, 20]}}, "
        "'l': ['a', 'b'], 'top': 1}",
    )
    rows = items(ddb, f"SELECT top, m.k[1], l[0], absent FROM \"{table}\" WHERE pk = 'p'")
    assert rows == [{"top": {"N": "1"}, "k[1]": {"N": "20"}, "l[0]": {"S": "a"}}]
    assert items(ddb, f"SELECT absent FROM \"{table}\" WHERE pk = 'p'") == [{}]
    resp = fails(ddb, f'SELECT m.k, k FROM "{table}"')
    assert message(resp) == "Duplicate identifiers in select clause: k"


def test_query_with_sort_key_conditions_and_order(ddb, table):
    fill(ddb, table, 6)
    fill(ddb, table, 2, pk="other")
    t = f'"{table}"'
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a'")) == [1, 2, 3, 4, 5, 6]
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a' ORDER BY sk DESC")) == [
        6,
        5,
        4,
        3,
        2,
        1,
    ]
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND sk > 4")) == [5, 6]
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE 3 >= sk AND pk = 'a'")) == [1, 2, 3]
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND sk BETWEEN 2 AND 3")) == [2, 3]
    rows = items(
        ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND sk BETWEEN 2 AND 5 AND n <> 30 ORDER BY sk DESC"
    )
    assert sks(rows) == [5, 4, 2]
    # two conditions on the sort key: one is the key condition, the other filters
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND sk > 1 AND sk < 4")) == [2, 3]
    assert sks(items(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND sk <> 3 AND sk >= 5")) == [5, 6]


def test_begins_with_on_a_string_sort_key(ddb):
    t = make_table(ddb, tname("pqs"), ("pk", "S"), ("sk", "S"))
    for sk in ("order#1", "order#2", "user#1"):
        run(ddb, f"INSERT INTO \"{t}\" VALUE {{'pk': 'c', 'sk': ?}}", {"S": sk})
    rows = items(ddb, f"SELECT sk FROM \"{t}\" WHERE pk = 'c' AND begins_with(sk, 'order#')")
    assert rows == [{"sk": {"S": "order#1"}}, {"sk": {"S": "order#2"}}]


def test_partition_key_in_list_and_or(ddb, table):
    fill(ddb, table, 2, pk="a")
    fill(ddb, table, 2, pk="b")
    fill(ddb, table, 2, pk="c")
    t = f'"{table}"'
    rows = items(ddb, f"SELECT pk, sk FROM {t} WHERE pk IN ['c', 'a'] ORDER BY pk DESC")
    assert [(r["pk"]["S"], int(r["sk"]["N"])) for r in rows] == [
        ("c", 1),
        ("c", 2),
        ("a", 1),
        ("a", 2),
    ]
    rows = items(ddb, f"SELECT pk FROM {t} WHERE pk = 'a' OR pk = 'b'")
    assert sorted(r["pk"]["S"] for r in rows) == ["a", "a", "b", "b"]
    resp = fails(ddb, f"SELECT * FROM {t} WHERE pk IN ['a', 'a']")
    assert (
        message(resp) == "Overlapping conditions with range keys are not supported in where clause"
    )


def test_scan_filters_map_onto_condition_expressions(ddb, table):
    t = f'"{table}"'
    rows = [
        "{'pk': 'f', 'sk': 1, 'n': 5, 's': 'hello', 'l': [1, 2, 3], 'tags': <<'x', 'y'>>}",
        "{'pk': 'f', 'sk': 2, 'n': 15, 's': 'world', 'z': null}",
        "{'pk': 'g', 'sk': 3, 's': 'help', 'm': {'k': 1}}",
    ]
    for row in rows:
        run(ddb, f"INSERT INTO {t} VALUE {row}")

    def where(cond: str, *params) -> list[int]:
        return sorted(sks(items(ddb, f"SELECT sk FROM {t} WHERE {cond}", *params)))

    assert where("n IS MISSING") == [3]
    assert where("n IS NOT MISSING") == [1, 2]
    assert where("z IS NULL") == [2]
    assert where("s IS STRING AND m IS STRUCT") == [3]
    assert where("l IS LIST OR tags IS NOT MISSING") == [1]
    assert where("n IN [5, 7] OR s IN ('help')") == [1, 3]
    # as in any DynamoDB condition, <> holds for a missing attribute
    assert where("n <> 5") == [2, 3]
    assert where("n != 5 AND n IS NOT MISSING") == [2]
    assert where("n BETWEEN 1 AND 10") == [1]
    assert where("n NOT BETWEEN 1 AND 10") == [2, 3]
    assert where("begins_with(s, 'hel')") == [1, 3]
    assert where("contains(s, 'orl') OR contains(tags, 'y')") == [1, 2]
    assert where("attribute_type(n, 'N') AND NOT attribute_type(s, 'N')") == [1, 2]
    assert where("size(l) = 3 OR size(s) = 4") == [1, 3]
    assert where("NOT (n = 5 OR n = 15)") == [3]
    assert where("m.k = 1") == [3]
    assert where("attribute_exists(m) OR attribute_not_exists(s)") == [3]
    assert where("n > ? AND s = ?", {"N": "1"}, {"S": "world"}) == [2]
    assert where("n IN [?, ?]", {"N": "5"}, {"N": "15"}) == [1, 2]
    assert where("n = 2 + 3") == [1]
    resp = fails(ddb, f"SELECT * FROM {t} WHERE n = MISSING")
    assert message(resp) == "MISSING must be compared using IS operator"


def test_select_through_an_index(ddb, table):
    fill(ddb, table, 3)
    rows = items(ddb, f'SELECT pk, sk FROM "{table}"."byg" WHERE g = \'G\' AND sk >= 2')
    assert sks(rows) == [2, 3]
    resp = fails(ddb, f'SELECT * FROM "{table}"."byg" WHERE g = \'G\'', ConsistentRead=True)
    assert message(resp) == "Strongly consistent read is not supported on Global Secondary Indexes"
    resp = fails(ddb, f'SELECT * FROM "{table}"."nope"')
    assert code(resp) == "ValidationException"


def test_select_on_an_index_is_held_to_its_projection(ddb):
    """A PartiQL SELECT on a GSI cannot ask for an attribute the GSI does not project, and
    a read keyed on an index's partition key cannot filter on one (AWS's texts, pinned
    against real AWS in paritysuite/dynamodb-conformance's PartiQL messages); an LSI reads
    what it lacks from the table (test_dynamodb_partiql_indexes.py)."""
    t = make_table(
        ddb,
        tname("pq-proj"),
        range=("sk", "S"),
        gsis=[index("gsi-inc", ("g", "S"), projection="INCLUDE", non_key=["a"])],
        lsis=[index("lsi-keys", ("pk", "S"), ("l", "S"), projection="KEYS_ONLY")],
    )
    ddb.put_item(
        TableName=t,
        Item={k: {"S": k + "1"} for k in ("pk", "sk", "g", "a", "l", "np")},
    )
    assert items(ddb, f"SELECT a FROM \"{t}\".\"gsi-inc\" WHERE g = 'g1' AND a = 'a1'") == [
        {"a": {"S": "a1"}}
    ]
    invalid = "One or more parameter values were invalid: "
    for statement, text in (
        (
            f'SELECT np FROM "{t}"."gsi-inc" WHERE g = \'g1\'',
            "Global secondary index gsi-inc does not project [np]",
        ),
        (
            f"SELECT pk FROM \"{t}\".\"gsi-inc\" WHERE g = 'g1' AND np = 'np1'",
            "Secondary index gsi-inc does not project one or more filter attributes: [np]",
        ),
        (
            f"SELECT pk FROM \"{t}\".\"lsi-keys\" WHERE pk = 'pk1' AND np = 'np1'",
            "Secondary index lsi-keys does not project one or more filter attributes: [np]",
        ),
    ):
        resp = fails(ddb, statement)
        assert (code(resp), message(resp)) == ("ValidationException", invalid + text), statement


def test_parameters(ddb, table):
    t = f'"{table}"'
    run(
        ddb,
        f"INSERT INTO {t} VALUE {{'pk': ?, 'sk': ?, 'b': ?, 'm': {{'k': ?}}, 'bs': ?}}",
        {"S": "p"},
        {"N": "1"},
        {"B": b"\x00\xff"},
        {"L": [{"S": "x"}]},
        {"BS": [b"a", b"b"]},
    )
    row = items(ddb, f"SELECT b, m, bs FROM {t} WHERE pk = ? AND sk = ?", {"S": "p"}, {"N": "1"})
    assert row[0]["b"] == {"B": b"\x00\xff"}
    assert row[0]["m"] == {"M": {"k": {"L": [{"S": "x"}]}}}
    assert sorted(row[0]["bs"]["BS"]) == [b"a", b"b"]
    run(ddb, f"INSERT INTO {t} VALUE ?", {"M": {"pk": {"S": "p"}, "sk": {"N": "2"}}})
    assert sks(items(ddb, f"SELECT sk FROM {t} WHERE pk = 'p' AND sk = 2")) == [2]
    assert items(ddb, f"SELECT sk FROM {t} WHERE pk = '?'") == []
    resp = fails(ddb, f"SELECT * FROM {t} WHERE pk = ? AND sk = ?", {"S": "p"})
    assert message(resp) == "Number of parameters in request and statement don't match."
    resp = fails(ddb, f"SELECT * FROM {t} WHERE pk = ?", {"N": "1"})
    assert message(resp) == (
        "Key attribute's data type should match its data type in table's schema: Key pk"
    )


# --------------------------------------------------------------------------- paging


def test_limit_and_next_token_pages_a_query_and_a_scan(ddb, table):
    fill(ddb, table, 7)
    t = f'"{table}"'
    for statement in (f"SELECT sk FROM {t} WHERE pk = 'a'", f"SELECT sk FROM {t}"):
        seen, token, pages = [], None, 0
        while True:
            kw = {"NextToken": token} if token else {}
            page = run(ddb, statement, Limit=3, **kw)
            assert len(page["Items"]) <= 3
            seen += sks(page["Items"])
            pages += 1
            token = page.get("NextToken")
            if not token:
                break
        assert sorted(seen) == [1, 2, 3, 4, 5, 6, 7]
        assert pages == 3


def test_limit_counts_items_read_not_matched(ddb, table):
    fill(ddb, table, 6)
    page = run(ddb, f"SELECT sk FROM \"{table}\" WHERE pk = 'a' AND n > 40", Limit=2)
    assert page["Items"] == [] and "NextToken" in page
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = run(ddb, f"SELECT sk FROM \"{table}\" WHERE pk = 'a' AND n > 40", Limit=2, **kw)
        seen += sks(page["Items"])
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [5, 6]


def test_paging_across_partition_values(ddb, table):
    for pk in ("a", "b", "c"):
        fill(ddb, table, 3, pk=pk)
    statement = f"SELECT pk, sk FROM \"{table}\" WHERE pk IN ['a', 'b', 'c'] ORDER BY pk"
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = run(ddb, statement, Limit=2, **kw)
        seen += [(r["pk"]["S"], int(r["sk"]["N"])) for r in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [(pk, i) for pk in "abc" for i in (1, 2, 3)]


def test_a_page_ends_at_one_megabyte(ddb, table):
    blob = "x" * 4000
    for start in range(0, 300, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {"pk": {"S": "big"}, "sk": {"N": str(i)}, "b": {"S": blob}}
                        }
                    }
                    for i in range(start, start + 25)
                ]
            }
        )
    first = run(ddb, f"SELECT sk FROM \"{table}\" WHERE pk = 'big'")
    assert 0 < len(first["Items"]) < 300 and "NextToken" in first
    rest = run(ddb, f"SELECT sk FROM \"{table}\" WHERE pk = 'big'", NextToken=first["NextToken"])
    assert sks(first["Items"]) + sks(rest["Items"]) == list(range(300))
    assert "NextToken" not in rest


def test_comments_lower_case_and_a_final_semicolon(ddb, table):
    fill(ddb, table, 2)
    rows = items(
        ddb,
        f"select sk -- the sort key\n from \"{table}\" /* one partition */ where pk = 'a' "
        "order by sk desc;",
    )
    assert sks(rows) == [2, 1]


def test_next_token_belongs_to_its_statement(ddb, table):
    fill(ddb, table, 3)
    page = run(ddb, f"SELECT * FROM \"{table}\" WHERE pk = 'a'", Limit=1)
    resp = fails(ddb, f"SELECT * FROM \"{table}\" WHERE pk = 'b'", NextToken=page["NextToken"])
    assert message(resp) == "NextToken does not match request"
    resp = fails(ddb, f'SELECT * FROM "{table}"', NextToken="not-a-token")
    assert message(resp) == "Invalid NextToken"


def test_consumed_capacity(ddb, table):
    fill(ddb, table, 2)
    out = run(ddb, f"SELECT * FROM \"{table}\" WHERE pk = 'a'", ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["TableName"] == table
    assert out["ConsumedCapacity"]["CapacityUnits"] > 0
    out = run(
        ddb,
        f"UPDATE \"{table}\" SET v = 1 WHERE pk = 'a' AND sk = 1",
        ReturnConsumedCapacity="TOTAL",
    )
    assert out["ConsumedCapacity"]["CapacityUnits"] >= 1
    out = run(ddb, f"SELECT * FROM \"{table}\" WHERE pk = 'a'", ConsistentRead=True)
    assert len(out["Items"]) == 2


# --------------------------------------------------------------------------- UPDATE / DELETE


def test_update_set_remove_and_returning(ddb, table):
    t = f'"{table}"'
    run(
        ddb,
        f"INSERT INTO {t} VALUE {{'pk': 'u', 'sk': 1, 'n': 1, 'l': [1], 's': <<'a', 'b'>>, "
        "'gone': 'x', 'm': {'k': 'v'}}",
    )
    out = run(
        ddb,
        f"UPDATE {t} SET n = n + 2, new = 'y' SET l = list_append(l, [2, 3]) "
        "SET s = set_add(s, <<'c'>>) REMOVE gone SET m.k = 'w', m.j = if_not_exists(m.j, 0) "
        "WHERE pk = 'u' AND sk = 1 RETURNING ALL NEW *",
    )
    item = out["Items"][0]
    assert item["n"] == {"N": "3"} and item["new"] == {"S": "y"}
    assert item["l"] == {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}
    assert sorted(item["s"]["SS"]) == ["a", "b", "c"]
    assert "gone" not in item and item["m"] == {"M": {"k": {"S": "w"}, "j": {"N": "0"}}}
    out = run(
        ddb,
        f"UPDATE {t} SET n = n - 1 SET s = set_delete(s, <<'a'>>) "
        "WHERE pk = 'u' AND sk = 1 RETURNING MODIFIED OLD *",
    )
    assert out["Items"][0]["n"] == {"N": "3"} and sorted(out["Items"][0]["s"]["SS"]) == [
        "a",
        "b",
        "c",
    ]
    out = run(ddb, f"UPDATE {t} SET n = 10 WHERE pk = 'u' AND sk = 1 RETURNING MODIFIED NEW *")
    assert out["Items"] == [{"n": {"N": "10"}}]
    out = run(ddb, f"UPDATE {t} SET n = 11 WHERE pk = 'u' AND sk = 1 RETURNING ALL OLD *")
    assert out["Items"][0]["n"] == {"N": "10"} and out["Items"][0]["pk"] == {"S": "u"}
    assert run(ddb, f"UPDATE {t} SET n = 12 WHERE pk = 'u' AND sk = 1") == {"Items": []}


def test_update_needs_an_existing_item_and_its_conditions(ddb, table):
    t = f'"{table}"'
    resp = fails(ddb, f"UPDATE {t} SET v = 1 WHERE pk = 'ghost' AND sk = 1")
    assert code(resp) == "ConditionalCheckFailedException"
    assert (
        ddb.get_item(TableName=table, Key={"pk": {"S": "ghost"}, "sk": {"N": "1"}}).get("Item")
        is None
    )
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'u', 'sk': 1, 'v': 1}}")
    resp = fails(
        ddb,
        f"UPDATE {t} SET v = 2 WHERE pk = 'u' AND sk = 1 AND v = 5",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert code(resp) == "ConditionalCheckFailedException"
    assert resp["Item"] == {"pk": {"S": "u"}, "sk": {"N": "1"}, "v": {"N": "1"}}
    run(ddb, f"UPDATE {t} SET v = 2 WHERE pk = 'u' AND sk = 1 AND (v = 1 OR v IS MISSING)")
    resp = fails(ddb, f"UPDATE {t} SET v = 3 WHERE pk = 'u'")
    assert (
        message(resp) == "Where clause does not contain a mandatory equality on all key attributes"
    )
    resp = fails(ddb, f"UPDATE {t} SET sk = 3 WHERE pk = 'u' AND sk = 1")
    assert code(resp) == "ValidationException" and "part of the key" in message(resp)
    resp = fails(ddb, f"UPDATE {t} SET v = 3 WHERE pk = 'u' AND sk = 1 AND pk = 'w'")
    assert message(resp) == (
        "Multiple conditions on same key pk. Only single item Update/Insert/Delete are supported"
    )


def test_delete(ddb, table):
    t = f'"{table}"'
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'd', 'sk': 1, 'v': 1}}")
    resp = fails(ddb, f"DELETE FROM {t} WHERE pk = 'd' AND sk = 1 AND v = 2")
    assert code(resp) == "ConditionalCheckFailedException"
    out = run(ddb, f"DELETE FROM {t} WHERE pk = 'd' AND sk = 1 AND v = 1 RETURNING ALL OLD *")
    assert out["Items"] == [{"pk": {"S": "d"}, "sk": {"N": "1"}, "v": {"N": "1"}}]
    assert run(ddb, f"DELETE FROM {t} WHERE pk = 'd' AND sk = 1") == {"Items": []}
    assert run(ddb, f"DELETE FROM {t} WHERE pk = 'd' AND sk = 1 RETURNING ALL OLD *") == {
        "Items": []
    }
    resp = fails(ddb, f"DELETE FROM {t} WHERE pk = 'd' RETURNING MODIFIED OLD *")
    assert message(resp) == (
        "Invalid returning clause: RETURNING MODIFIED OLD *. Only RETURNING ALL OLD * is "
        "allowed in DELETE statements."
    )


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SLECT * FROM {t}", MALFORMED + "Expected data manipulation"),
        ("SELECT * FROM {t} WHERE", MALFORMED + "Unexpected end of statement"),
        ("SELECT * FROM {t} LIMIT 1", "Unsupported clause: LIMIT"),
        ("SELECT * FROM {t} AS x", "Aliasing is not supported"),
        (
            "SELECT * FROM {t} ORDER BY sk",
            "Must have WHERE clause in the statement when using ORDER BY clause.",
        ),
        (
            "INSERT INTO {t} VALUE {{'pk': 'a', 'sk': 1}} RETURNING ALL OLD *",
            "RETURNING is not supported in INSERT",
        ),
        (
            "EXISTS(SELECT * FROM {t} WHERE pk = 'a' AND sk = 1 AND v = 1)",
            "EXISTS can only be used in ExecuteTransaction write requests.",
        ),
    ],
)
def test_validation_errors(ddb, table, statement, expected):
    resp = fails(ddb, statement.format(t=f'"{table}"'))
    assert code(resp) == "ValidationException"
    assert message(resp) == expected


def test_unknown_table(ddb):
    resp = fails(ddb, f'SELECT * FROM "{tname("missing")}"')
    assert code(resp) == "ResourceNotFoundException"
    resp = fails(ddb, f"INSERT INTO \"{tname('missing')}\" VALUE {{'pk': 'a'}}")
    assert code(resp) == "ResourceNotFoundException"


# --------------------------------------------------------------------------- batch


def test_batch_reads_by_key(ddb, table):
    fill(ddb, table, 2)
    t = f'"{table}"'
    out = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"SELECT sk, n FROM {t} WHERE pk = 'a' AND sk = 1"},
            {
                "Statement": f"SELECT * FROM {t} WHERE pk = ? AND sk = ?",
                "Parameters": [{"S": "a"}, {"N": "9"}],
            },
            {"Statement": f"SELECT * FROM {t} WHERE pk = 'a'"},
            {"Statement": f"SELECT * FROM {t} WHERE pk = 'a' AND sk = 2 AND n = 20"},
            {"Statement": f"SELECT * FROM \"{tname('missing')}\" WHERE pk = 'a' AND sk = 1"},
            {"Statement": "SELEC nothing"},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    r = out["Responses"]
    assert r[0] == {"TableName": table, "Item": {"sk": {"N": "1"}, "n": {"N": "10"}}}
    assert r[1] == {"TableName": table}
    refused = (
        "Select statements within BatchExecuteStatement must specify the primary key in the "
        "where clause."
    )
    assert r[2]["Error"] == {"Code": "ValidationError", "Message": refused}
    assert r[3]["Error"]["Message"] == refused
    assert r[4]["Error"] == {"Code": "ResourceNotFound", "Message": "Requested resource not found"}
    assert r[5]["Error"]["Code"] == "ValidationError"
    assert r[5]["Error"]["Message"].startswith(MALFORMED)
    assert out["ConsumedCapacity"][0]["TableName"] == table


def test_batch_writes_fail_one_by_one(ddb, table):
    t = f'"{table}"'
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'w', 'sk': 1, 'v': 1}}")
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'w', 'sk': 6, 'v': 1}}")
    out = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'w', 'sk': 2}}"},
            {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'w', 'sk': 1}}"},
            {
                "Statement": f"UPDATE {t} SET v = 9 WHERE pk = 'w' AND sk = 6 AND v = 0",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            {"Statement": f"UPDATE {t} SET v = v + 1 WHERE pk = 'w' AND sk = 3"},
            {"Statement": f"DELETE FROM {t} WHERE pk = 'w' AND sk = 4"},
            {"Statement": f"UPDATE {t} SET v = 2 WHERE pk = 'w' AND sk = 5 RETURNING ALL OLD *"},
        ]
    )
    r = out["Responses"]
    assert r[0] == {"TableName": table}
    assert r[1]["Error"] == {
        "Code": "DuplicateItem",
        "Message": "Duplicate primary key exists in table",
    }
    assert r[2]["Error"]["Code"] == "ConditionalCheckFailed"
    assert r[2]["Error"]["Item"] == {"pk": {"S": "w"}, "sk": {"N": "6"}, "v": {"N": "1"}}
    assert r[3]["Error"]["Code"] == "ConditionalCheckFailed"
    assert r[4] == {"TableName": table}
    assert r[5]["Error"]["Code"] == "ConditionalCheckFailed"
    assert sks(items(ddb, f"SELECT sk FROM {t} WHERE pk = 'w'")) == [1, 2, 6]


def test_batch_request_wide_faults(ddb, table):
    t = f'"{table}"'
    with pytest.raises(ClientError) as exc:
        ddb.batch_execute_statement(
            Statements=[
                {"Statement": f"SELECT * FROM {t} WHERE pk = 'a' AND sk = 1"},
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'b', 'sk': 1}}"},
            ]
        )
    assert message(exc.value.response) == (
        "Read and write requests together in the same batch is not supported."
    )
    with pytest.raises(ClientError) as exc:
        ddb.batch_execute_statement(
            Statements=[
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'x', 'sk': {i}}}"} for i in range(26)
            ]
        )
    assert code(exc.value.response) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ddb.batch_execute_statement(
            Statements=[
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'x', 'sk': 1}}"},
                {"Statement": f"DELETE FROM {t} WHERE pk = 'x' AND sk = 1"},
            ]
        )
    assert message(exc.value.response) == "Provided list of item keys contains duplicates"
    assert items(ddb, f"SELECT * FROM {t} WHERE pk = 'x'") == []


# --------------------------------------------------------------------------- transactions


def test_transaction_of_writes_commits_together(ddb, table):
    t = f'"{table}"'
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'acct', 'sk': 1, 'bal': 100}}")
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'acct', 'sk': 2, 'bal': 0}}")
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'flag', 'sk': 1, 'active': true}}")
    out = ddb.execute_transaction(
        TransactStatements=[
            {
                "Statement": f"UPDATE {t} SET bal = bal - 30 WHERE pk = 'acct' AND sk = 1 AND bal >= 30"
            },
            {"Statement": f"UPDATE {t} SET bal = bal + 30 WHERE pk = 'acct' AND sk = 2"},
            {
                "Statement": f"INSERT INTO {t} VALUE {{'pk': 'log', 'sk': ?}}",
                "Parameters": [{"N": "1"}],
            },
            {
                "Statement": f"EXISTS(SELECT * FROM {t} WHERE pk = 'flag' AND sk = 1 AND active = true)"
            },
            {"Statement": f"DELETE FROM {t} WHERE pk = 'nothing' AND sk = 1"},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert out["Responses"] == []
    assert out["ConsumedCapacity"][0]["TableName"] == table
    rows = items(ddb, f"SELECT sk, bal FROM {t} WHERE pk = 'acct'")
    assert [r["bal"]["N"] for r in rows] == ["70", "30"]
    assert sks(items(ddb, f"SELECT sk FROM {t} WHERE pk = 'log'")) == [1]


def test_transaction_cancels_all_or_nothing(ddb, table):
    t = f'"{table}"'
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'tx', 'sk': 1, 'v': 1}}")
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'tx', 'sk': 4, 'v': 1}}")
    with pytest.raises(ClientError) as exc:
        ddb.execute_transaction(
            TransactStatements=[
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'tx', 'sk': 2}}"},
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'tx', 'sk': 1}}"},
                {"Statement": f"UPDATE {t} SET v = 2 WHERE pk = 'tx' AND sk = 3"},
                {
                    "Statement": f"EXISTS(SELECT * FROM {t} WHERE pk = 'tx' AND sk = 4 AND v = 9)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                },
            ]
        )
    resp = exc.value.response
    assert code(resp) == "TransactionCanceledException"
    reasons = resp["CancellationReasons"]
    assert [r["Code"] for r in reasons] == [
        "None",
        "DuplicateItem",
        "ConditionalCheckFailed",
        "ConditionalCheckFailed",
    ]
    assert reasons[1]["Message"] == "Duplicate primary key exists in table"
    assert reasons[3]["Item"] == {"pk": {"S": "tx"}, "sk": {"N": "4"}, "v": {"N": "1"}}
    assert sks(items(ddb, f"SELECT sk FROM {t} WHERE pk = 'tx'")) == [1, 4]


def test_transaction_of_reads(ddb, table):
    fill(ddb, table, 2)
    t = f'"{table}"'
    out = ddb.execute_transaction(
        TransactStatements=[
            {"Statement": f"SELECT sk, n FROM {t} WHERE pk = 'a' AND sk = 2"},
            {"Statement": f"SELECT * FROM {t} WHERE pk = 'a' AND sk = 99"},
        ]
    )
    assert out["Responses"] == [{"Item": {"sk": {"N": "2"}, "n": {"N": "20"}}}, {}]


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (
            [
                "SELECT * FROM {t} WHERE pk = 'a' AND sk = 1",
                "UPDATE {t} SET v = 1 WHERE pk = 'a' AND sk = 1",
            ],
            "ExecuteTransaction API does not support both read and write operations in the same request.",
        ),
        (
            ["SELECT * FROM {t} WHERE pk = 'a'"],
            "Validation failed in TransactStatements[0]: Select statements within ExecuteTransaction must specify the primary key in the where clause.",
        ),
        (
            [
                "UPDATE {t} SET v = 1 WHERE pk = 'a' AND sk = 1",
                "UPDATE {t} SET v = 1 WHERE pk = 'b' AND sk = 1 RETURNING ALL NEW *",
            ],
            "Validation failed in TransactStatements[1]: RETURNING clause is not supported in ExecuteTransaction.",
        ),
        (
            ["EXISTS(SELECT * FROM {t} WHERE pk = 'a' AND sk = 1)"],
            "Validation failed in TransactStatements[0]: EXISTS() must contain a single item read with additional condition",
        ),
        (
            [
                "UPDATE {t} SET v = 1 WHERE pk = 'a' AND sk = 1",
                "DELETE FROM {t} WHERE pk = 'a' AND sk = 1",
            ],
            "Transaction request cannot include multiple operations on one item",
        ),
    ],
)
def test_transaction_validation(ddb, table, statements, expected):
    t = f'"{table}"'
    with pytest.raises(ClientError) as exc:
        ddb.execute_transaction(
            TransactStatements=[{"Statement": s.format(t=t)} for s in statements]
        )
    assert code(exc.value.response) == "ValidationException"
    assert message(exc.value.response) == expected


def test_transaction_limits(ddb, table):
    t = f'"{table}"'
    with pytest.raises(ClientError) as exc:
        ddb.execute_transaction(
            TransactStatements=[
                {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'big', 'sk': {i}}}"}
                for i in range(101)
            ]
        )
    assert code(exc.value.response) == "ValidationException"
    statements = [
        {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'big', 'sk': {i}}}"} for i in range(100)
    ]
    ddb.execute_transaction(TransactStatements=statements)
    assert len(items(ddb, f"SELECT sk FROM {t} WHERE pk = 'big'")) == 100


def test_transaction_client_request_token(ddb, table):
    t = f'"{table}"'
    run(ddb, f"INSERT INTO {t} VALUE {{'pk': 'idem', 'sk': 1, 'n': 0}}")
    statements = [{"Statement": f"UPDATE {t} SET n = n + 1 WHERE pk = 'idem' AND sk = 1"}]
    token = tname("token")
    ddb.execute_transaction(TransactStatements=statements, ClientRequestToken=token)
    ddb.execute_transaction(TransactStatements=statements, ClientRequestToken=token)
    assert items(ddb, f"SELECT n FROM {t} WHERE pk = 'idem'") == [{"n": {"N": "1"}}]
    other = [{"Statement": f"UPDATE {t} SET n = n + 2 WHERE pk = 'idem' AND sk = 1"}]
    with pytest.raises(ClientError) as exc:
        ddb.execute_transaction(TransactStatements=other, ClientRequestToken=token)
    assert code(exc.value.response) == "IdempotentParameterMismatchException"


def test_empty_path_components_and_unordered_operands(ddb, table):
    """nubo-db/dynamodb-conformance partiql.test.ts (real DynamoDB): a quoted "" as table
    or index is refused before any table is looked up; a value that cannot be ordered
    compared with < is PartiQL's own text, without an expression kind."""
    t = f'"{table}"'
    for statement in (f'SELECT * FROM {t}.""', 'SELECT * FROM ""'):
        resp = fails(ddb, statement)
        assert (code(resp), message(resp)) == (
            "ValidationException",
            "Path component cannot be an empty string",
        ), statement
    for statement, params in (
        (f"SELECT pk FROM {t} WHERE pk = 'x' AND val < ?", [{"BOOL": True}]),
        (f"SELECT pk FROM {t} WHERE pk = 'x' AND val BETWEEN ? AND 3", [{"NULL": True}]),
    ):
        resp = fails(ddb, statement, *params)
        kind = next(iter(params[0]))
        op = "<" if "<" in statement else "BETWEEN"
        assert (code(resp), message(resp)) == (
            "ValidationException",
            "Incorrect operand type for operator or function; operator or function: "
            f"{op}, operand type: {kind}",
        ), statement
    assert items(ddb, f"SELECT pk FROM {t} WHERE pk = 'x' AND val < ?", {"N": "3"}) == []
