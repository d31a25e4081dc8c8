"""PartiQL for DynamoDB without a server: tokens, the syntax tree, and the requests planned.

The planner's output is the contract with the engine (ordinary Query, Scan and
item-operation parameters), so these tests pin the generated expression text.
"""

from __future__ import annotations

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb.partiql.bind import Binder, check_count
from cloudlet.services.dynamodb.partiql.lexer import tokenize
from cloudlet.services.dynamodb.partiql.nodes import (
    And,
    BagLit,
    Between,
    Call,
    Compare,
    Delete,
    Exists,
    In,
    Insert,
    Is,
    ListLit,
    Literal,
    MapLit,
    Missing,
    Not,
    Or,
    Param,
    Path,
    RemoveAction,
    Select,
    SetAction,
    Update,
)
from cloudlet.services.dynamodb.partiql.parser import parse
from cloudlet.services.dynamodb.partiql.plan import plan_select, plan_write
from cloudlet.services.dynamodb.tables import Index, Table

MALFORMED = "Statement wasn't well formed, can't be processed: "


def table(range_key: bool = True) -> Table:
    return Table(
        1,
        "000000000000",
        "us-east-1",
        "T",
        ("pk", "S"),
        ("sk", "N") if range_key else None,
        {"pk": "S", "sk": "N", "g": "S", "gs": "N"},
        0.0,
        indexes=[Index("G", 2, "GSI", ("g", "S"), ("gs", "N"))],
    )


def error(text: str, params: list | None = None, *, write: bool | None = None) -> str:
    """The message of the ValidationException parsing and planning ``text`` raises."""
    with pytest.raises(ServiceError) as exc:
        plan(text, params)
    assert exc.value.code == "ValidationException"
    return exc.value.message


def plan(text: str, params: list | None = None, t: Table | None = None):
    parsed = parse(text)
    binder = Binder(check_count(parsed.params, params))
    stmt = parsed.statement
    if isinstance(stmt, Select):
        return plan_select(stmt, t or table(), binder)
    return plan_write(stmt, t or table(), binder)


def stmt(text: str):
    return parse(text).statement


# --------------------------------------------------------------------------- tokens


def test_tokens_quotes_comments_numbers_and_bags():
    toks = tokenize(
        "SELECT \"we\"\"ird\" -- comment\n FROM /* note */ t WHERE a = 'it''s' AND n = 1.5e3 "
        "AND s = <<'x'>> AND b <> 2 AND c != 3 AND ?"
    )
    kinds = [(t.kind, t.text) for t in toks]
    assert ("quoted", 'we"ird') in kinds
    assert ("string", "it's") in kinds
    assert ("number", "1.5e3") in kinds
    assert ("op", "<<") in kinds and ("op", ">>") in kinds
    assert ("op", "<>") in kinds and ("op", "!=") in kinds
    assert ("param", "?") in kinds
    assert not any(t.text in ("comment", "note") for t in toks)
    assert toks[-1].kind == "eof"


def test_unterminated_and_ion_literals():
    assert error("SELECT * FROM t WHERE a = 'x").startswith(MALFORMED)
    assert error('SELECT * FROM "t') == MALFORMED + "Unterminated quoted identifier"
    assert error("SELECT * FROM t WHERE a = `{}`") == "Ion Literals are not supported"


# --------------------------------------------------------------------------- syntax tree


def test_select_tree():
    s = stmt('select a, "b".c, d[0], e[\'k\'] from "T"."G" where pk = ? and x > 1 order by sk desc')
    assert s == Select(
        (Path(("a",)), Path(("b", "c")), Path(("d", 0)), Path(("e", "k"))),
        "T",
        "G",
        And(
            (
                Compare("=", Path(("pk",)), Param(0)),
                Compare(">", Path(("x",)), Literal({"N": "1"})),
            )
        ),
        s.order_by,
    )
    assert s.order_by[0].descending and s.order_by[0].expr == Path(("sk",))
    assert [p.label() for p in s.projection] == ["a", "c", "d[0]", "k"]
    assert Path(("m", "k", 1)).label() == "k[1]"


def test_select_star_and_semicolon():
    s = stmt("SELECT * FROM T;")
    assert s == Select(None, "T", None, None, ())


def test_precedence_and_predicates():
    s = stmt(
        "SELECT * FROM T WHERE a = 1 OR NOT b BETWEEN 1 AND 2 AND c IN [1, 'x'] "
        "AND d IS NOT MISSING AND e NOT IN (1) AND begins_with(f, 'p') AND size(g) > -2"
    )
    where = s.where
    assert isinstance(where, Or)
    left, right = where.items
    assert left == Compare("=", Path(("a",)), Literal({"N": "1"}))
    assert isinstance(right, And)
    assert right.items[0] == Not(Between(Path(("b",)), Literal({"N": "1"}), Literal({"N": "2"})))
    assert right.items[1] == In(Path(("c",)), (Literal({"N": "1"}), Literal({"S": "x"})))
    assert right.items[2] == Is(Path(("d",)), "MISSING", True)
    assert right.items[3] == In(Path(("e",)), (Literal({"N": "1"}),), True)
    assert right.items[4] == Call("begins_with", (Path(("f",)), Literal({"S": "p"})))
    assert right.items[5] == Compare(">", Call("size", (Path(("g",)),)), Literal({"N": "-2"}))


def test_literals():
    s = stmt(
        "INSERT INTO T VALUE {'pk': 'a', 'n': 1.50, 'e': 15E-1, 't': TRUE, 'f': false, "
        "'z': NULL, 'm': MISSING, 's': <<'x', 'y'>>, 'l': [1, [2]], 'o': {'k': ?}}"
    )
    assert isinstance(s, Insert) and s.table == "T"
    pairs = dict((k.value["S"], v) for k, v in s.item.pairs)
    assert pairs["n"] == Literal({"N": "1.5"}) and pairs["e"] == Literal({"N": "1.5"})
    assert pairs["t"] == Literal({"BOOL": True}) and pairs["f"] == Literal({"BOOL": False})
    assert pairs["z"] == Literal({"NULL": True}) and pairs["m"] == Missing()
    assert pairs["s"] == BagLit((Literal({"S": "x"}), Literal({"S": "y"})))
    assert pairs["l"] == ListLit((Literal({"N": "1"}), ListLit((Literal({"N": "2"}),))))
    assert pairs["o"] == MapLit(((Literal({"S": "k"}), Param(0)),))


def test_update_and_delete_trees():
    s = stmt(
        "UPDATE T SET a = 1, b = b + 2 SET c = list_append(c, [3]) REMOVE d, e.f "
        "WHERE pk = 'x' RETURNING MODIFIED NEW *"
    )
    assert isinstance(s, Update)
    assert [type(a) for a in s.actions] == [
        SetAction,
        SetAction,
        SetAction,
        RemoveAction,
        RemoveAction,
    ]
    assert s.actions[4] == RemoveAction(Path(("e", "f")))
    assert s.returning == "MODIFIED NEW"
    d = stmt("DELETE FROM T WHERE pk = 'x' RETURNING ALL OLD *")
    assert d == Delete("T", Compare("=", Path(("pk",)), Literal({"S": "x"})), "ALL OLD")
    e = stmt("EXISTS(SELECT * FROM T WHERE pk = 'x' AND a = 1)")
    assert isinstance(e, Exists) and e.select.table == "T"


def test_parameter_count():
    assert parse("SELECT * FROM T WHERE a = ? AND b IN [?, ?]").params == 3
    assert parse("SELECT * FROM T WHERE a = '?'").params == 0
    assert error("SELECT * FROM T WHERE a = ? AND b = ?", [{"S": "x"}]) == (
        "Number of parameters in request and statement don't match."
    )
    plan("SELECT * FROM T WHERE a = ?", [{"S": "x"}, {"S": "extra"}])  # too many is fine


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SLECT * FROM T", MALFORMED + "Expected data manipulation"),
        ("UPSERT INTO T VALUE {'pk': 'a'}", MALFORMED + "Expected data manipulation"),
        ("SELECT * FROM T WHERE", MALFORMED + "Unexpected end of statement"),
        ("SELECT * FROM T WHERE pad = 'x'", MALFORMED + "Unexpected keyword PAD at position 23"),
        ("SELECT * FROM T WHERE a = 1 b", MALFORMED + "Unexpected token after expression"),
        ("SELECT * FROM T LIMIT 5", "Unsupported clause: LIMIT"),
        ("SELECT * FROM T WHERE pk = 'a' ORDER BY sk LIMIT 5", "Unsupported clause: LIMIT"),
        ("SELECT * FROM T GROUP BY a", "Unsupported clause: GROUP BY"),
        ("SELECT * FROM T t", "Aliasing is not supported"),
        ("SELECT a AS b FROM T", "Aliasing is not supported"),
        (
            "SELECT *, a FROM T",
            "Other attributes should not be present in the projection when '*' is used.",
        ),
        ("SELECT VALUE a FROM T", "Select projection doesn't support value or pivot keywords"),
        ("SELECT * FROM T, U", "Only select from a single table or index is supported."),
        ('SELECT * FROM "a"."b"."c"', "A path may contain at most 2 components in the FROM clause"),
        ("SELECT a.b, c.b FROM T", "Duplicate identifiers in select clause: b"),
        (
            "SELECT * FROM T WHERE a[*].b = 1",
            "Wildcard path component like a[*].b are not supported",
        ),
        ("SELECT * FROM T WHERE a.*.b = 1", "Unpivot path component like a.*.b are not supported"),
        (
            "INSERT INTO T VALUES ({'pk': 'a'})",
            'Unsupported operation: Inserting multiple items in a single statement is not supported, use "INSERT INTO tableName VALUE item" instead',
        ),
        (
            "INSERT INTO T VALUE {'pk': 'a'} RETURNING ALL OLD *",
            "RETURNING is not supported in INSERT",
        ),
        (
            "INSERT INTO T VALUE 'a'",
            "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.",
        ),
        (
            "INSERT INTO \"T\".\"G\" VALUE {'pk': 'a'}",
            "FROM clause may only contain a single table name in data manipulation statements "
            "at 1:13:3",
        ),
        (
            "DELETE FROM T WHERE pk = 'a' RETURNING ALL NEW *",
            "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'a' RETURNING ALL NEW",
            "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'a' RETURNING ALL NEW *, ALL OLD *",
            "Invalid syntax with multiple returning elements in RETURNING clause",
        ),
        ("SELECT * FROM T; SELECT * FROM T", "Only one operation is allowed in a statement."),
        (
            "SELECT * FROM T WHERE a LIKE 'x%'",
            "Unsupported operator in Condition Expression. Operator: LIKE",
        ),
    ],
)
def test_refused_statements(text, message):
    assert error(text) == message


def test_quoted_reserved_words_are_names():
    s = stmt('SELECT "pad", "value" FROM "select" WHERE "count" = 1')
    assert s.projection == (Path(("pad",)), Path(("value",)))
    assert s.table == "select"


# --------------------------------------------------------------------------- binding


def test_bag_and_map_rules():
    assert error("INSERT INTO T VALUE {'pk': 'a', 's': <<>>}") == "Empty bags are not supported"
    assert error("INSERT INTO T VALUE {'pk': 'a', 's': <<1, 'x'>>}") == (
        "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags"
    )
    assert error("INSERT INTO T VALUE {'pk': 'a', 's': <<?>>}", [{"S": "x"}]).startswith(
        "Unsupported data type in Bag"
    )
    assert error("INSERT INTO T VALUE {'pk': 'a', 'pk': 'b'}") == (
        "Duplicate keys in tuple. Key: pk under root"
    )
    assert "contains duplicates" in error("INSERT INTO T VALUE {'pk': 'a', 's': <<1, 1.0>>}")


def test_insert_plan():
    p = plan(
        "INSERT INTO T VALUE {'pk': ?, 'sk': 1, 's': <<'x','y'>>, 'm': {'k': [1]}, 'gone': MISSING}",
        [{"S": "a"}],
    )
    assert p.kind == "Put"
    assert p.request == {
        "TableName": "T",
        "Item": {
            "pk": {"S": "a"},
            "sk": {"N": "1"},
            "s": {"SS": ["x", "y"]},
            "m": {"M": {"k": {"L": [{"N": "1"}]}}},
        },
        "ConditionExpression": "attribute_not_exists(#n0)",
        "ExpressionAttributeNames": {"#n0": "pk"},
    }
    assert p.key == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    p = plan("INSERT INTO T VALUE ?", [{"M": {"pk": {"S": "b"}, "sk": {"N": "2"}}}])
    assert p.request["Item"] == {"pk": {"S": "b"}, "sk": {"N": "2"}}


# --------------------------------------------------------------------------- writes


def test_update_plan():
    p = plan(
        "UPDATE T SET a = 1, b = b + 2 SET c = list_append(c, [3]) SET d.e[1] = if_not_exists(x, 'd') "
        "REMOVE f SET s = set_add(s, <<'v'>>) SET t = set_delete(t, <<1>>) SET n = 1 + 2 "
        "WHERE pk = 'x' AND sk = 1 AND (a = 1 OR a IS MISSING) RETURNING ALL NEW *"
    )
    assert p.kind == "Update"
    r = p.request
    assert r["Key"] == {"pk": {"S": "x"}, "sk": {"N": "1"}}
    assert r["UpdateExpression"] == (
        "SET #n0 = :v0, #n1 = #n1 + :v1, #n2 = list_append(#n2, :v2), "
        "#n3.#n4[1] = if_not_exists(#n5, :v3), #n9 = :v6 REMOVE #n6 ADD #n7 :v4 DELETE #n8 :v5"
    )
    assert r["ConditionExpression"] == (
        "attribute_exists(#n10) AND (#n0 = :v7 OR attribute_not_exists(#n0))"
    )
    assert r["ExpressionAttributeNames"]["#n10"] == "pk"
    assert r["ExpressionAttributeValues"][":v4"] == {"SS": ["v"]}
    assert r["ExpressionAttributeValues"][":v6"] == {"N": "3"}
    assert r["ReturnValues"] == "ALL_NEW"


@pytest.mark.parametrize(
    ("returning", "value"),
    [("ALL OLD", "ALL_OLD"), ("MODIFIED OLD", "UPDATED_OLD"), ("MODIFIED NEW", "UPDATED_NEW")],
)
def test_update_returning(returning, value):
    p = plan(f"UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 RETURNING {returning} *")
    assert p.request["ReturnValues"] == value


def test_delete_plan():
    p = plan("DELETE FROM T WHERE sk = 2 AND pk = 'x' AND a <> 'b' RETURNING ALL OLD *")
    assert p.kind == "Delete"
    assert p.request == {
        "TableName": "T",
        "Key": {"sk": {"N": "2"}, "pk": {"S": "x"}},
        "ConditionExpression": "#n0 <> :v0",
        "ReturnValues": "ALL_OLD",
        "ExpressionAttributeNames": {"#n0": "a"},
        "ExpressionAttributeValues": {":v0": {"S": "b"}},
    }
    p = plan("DELETE FROM T WHERE pk = 'x' AND 2 = sk")
    assert p.request == {"TableName": "T", "Key": {"pk": {"S": "x"}, "sk": {"N": "2"}}}


def test_exists_plan():
    p = plan("EXISTS(SELECT * FROM T WHERE pk = 'x' AND sk = 1 AND v >= 3)")
    assert p.kind == "ConditionCheck"
    assert p.request["ConditionExpression"] == "attribute_exists(#n0) AND #n1 >= :v0"
    assert error("EXISTS(SELECT * FROM T WHERE pk = 'x' AND sk = 1)") == (
        "EXISTS() must contain a single item read with additional condition"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "UPDATE T SET a = 1 WHERE pk = 'x'",
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "UPDATE T SET a = 1",
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "DELETE FROM T WHERE pk = 'x' OR sk = 1",
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "DELETE FROM T WHERE pk = 'x' AND sk > 1",
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 AND pk = 'y'",
            "Multiple conditions on same key pk. Only single item Update/Insert/Delete are supported",
        ),
        (
            "DELETE FROM T WHERE pk = 1 AND sk = 1",
            "Key attribute's data type should match its data type in table's schema: Key pk",
        ),
        (
            "UPDATE T SET a = b + 1 + 2 WHERE pk = 'x' AND sk = 1",
            "Unsupported operator in Update Expression. Operator: +",
        ),
        (
            "UPDATE T SET a = 'x' + 1 WHERE pk = 'x' AND sk = 1",
            "Incorrect operand type for operator or function; operator or function: +, operand type: S",
        ),
        (
            "UPDATE T SET a = set_add(b, <<1>>) WHERE pk = 'x' AND sk = 1",
            "The first argument to SET_ADD must equal the assignment value",
        ),
        (
            "UPDATE T SET a = set_delete(a, [1]) WHERE pk = 'x' AND sk = 1",
            "The second argument to SET_DELETE must be a value with type SET",
        ),
        (
            "UPDATE T SET a = set_add(a) WHERE pk = 'x' AND sk = 1",
            "SET_ADD must have exactly two arguments",
        ),
        ("UPDATE T SET a = nope(a) WHERE pk = 'x' AND sk = 1", "Unrecognized function: nope"),
        (
            "UPDATE T SET a = b IS MISSING WHERE pk = 'x' AND sk = 1",
            "IS operator is not supported in update expressions",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 AND b = MISSING",
            "MISSING must be compared using IS operator",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 AND b IS DATE",
            "Unsupported data type for IS operator: DATE. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 AND b",
            "WHERE clause must contain an expression that resolves to a boolean",
        ),
        (
            "UPDATE T SET a = 1 WHERE pk = 'x' AND sk = 1 AND 1 IN [1]",
            "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member",
        ),
        (
            "UPDATE T INSERT INTO a VALUE 1 WHERE pk = 'x'",
            "Only SET and REMOVE are supported in update expressions at this time",
        ),
    ],
)
def test_refused_writes(text, message):
    assert error(text) == message


def test_same_key_twice_with_one_value_is_fine():
    p = plan("UPDATE T SET a = 2 WHERE pk = 'x' AND sk = 1 AND pk = 'x'")
    assert p.request["Key"] == {"pk": {"S": "x"}, "sk": {"N": "1"}}
    assert p.request["ConditionExpression"] == "attribute_exists(#n1)"


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("a IS MISSING", "attribute_not_exists(#n0)"),
        ("a IS NOT MISSING", "attribute_exists(#n0)"),
        ("a IS NULL", "attribute_type(#n0, :v0)"),
        ("a IS NOT STRING", "NOT attribute_type(#n0, :v0)"),
        ("a != 1", "#n0 <> :v0"),
        ("a IN [1, 2]", "#n0 IN (:v0, :v1)"),
        ("a NOT IN [1]", "NOT (#n0 IN (:v0))"),
        ("a NOT BETWEEN 1 AND 2", "NOT (#n0 BETWEEN :v0 AND :v1)"),
        ("NOT (a = 1 OR b = 2)", "NOT (#n0 = :v0 OR #n1 = :v1)"),
        ("(a = 1 OR b = 2) AND c = 3", "(#n0 = :v0 OR #n1 = :v1) AND #n2 = :v2"),
        ("a = 1 OR (b = 2 AND c = 3)", "#n0 = :v0 OR #n1 = :v1 AND #n2 = :v2"),
        (
            "contains(a, 'x') AND begins_with(b.c, 'y')",
            "contains(#n0, :v0) AND begins_with(#n1.#n2, :v1)",
        ),
        (
            "attribute_type(a, 'N') AND attribute_exists(b[0])",
            "attribute_type(#n0, :v0) AND attribute_exists(#n1[0])",
        ),
        ("size(a) > 1 + 2", "size(#n0) > :v0"),
        ("1 < a", ":v0 < #n0"),
        ("a = b", "#n0 = #n1"),
    ],
)
def test_conditions(where, expected):
    p = plan(f"SELECT * FROM T WHERE {where}")
    assert p.hash_values is None
    assert p.request["FilterExpression"] == expected


def test_is_types():
    p = plan("SELECT * FROM T WHERE a IS BOOLEAN AND b IS TUPLE AND c IS LIST AND d IS BLOB")
    assert list(p.request["ExpressionAttributeValues"].values()) == [
        {"S": "BOOL"},
        {"S": "M"},
        {"S": "L"},
        {"S": "B"},
    ]


# --------------------------------------------------------------------------- reads


def test_query_when_partition_key_is_pinned():
    p = plan("SELECT * FROM T WHERE pk = 'a' AND sk BETWEEN 1 AND 5 AND x = 1 ORDER BY sk DESC")
    assert p.hash_values == [{"S": "a"}]
    assert p.request["KeyConditionExpression"] == "#k0 = :k0 AND #k1 BETWEEN :k1 AND :k2"
    assert p.request["FilterExpression"] == "#n0 = :v0"
    assert p.request["ScanIndexForward"] is False
    assert p.request["ExpressionAttributeNames"] == {"#k0": "pk", "#k1": "sk", "#n0": "x"}
    assert p.post_filter is None and p.key is None


@pytest.mark.parametrize(
    ("cond", "key"),
    [
        ("sk = 1", "#k1 = :k1"),
        ("sk < 1", "#k1 < :k1"),
        ("1 <= sk", "#k1 >= :k1"),
        ("sk > 1", "#k1 > :k1"),
        ("begins_with(sk, 1)", "begins_with(#k1, :k1)"),
    ],
)
def test_sort_key_conditions(cond, key):
    p = plan(f"SELECT * FROM T WHERE {cond} AND pk = 'a'")
    assert p.request["KeyConditionExpression"] == f"#k0 = :k0 AND {key}"
    assert "FilterExpression" not in p.request


def test_scan_otherwise():
    for where in ("sk = 1", "pk > 'a'", "pk = 'a' OR x = 1", "x = 1"):
        p = plan(f"SELECT * FROM T WHERE {where}")
        assert p.hash_values is None and "KeyConditionExpression" not in p.request
    p = plan("SELECT * FROM T")
    assert p.request == {"TableName": "T"}


def test_partition_key_in_and_or():
    p = plan("SELECT * FROM T WHERE pk IN ['b', 'a'] AND x = 1")
    assert p.hash_values == [{"S": "b"}, {"S": "a"}]
    assert p.query(1)["ExpressionAttributeValues"][":k0"] == {"S": "a"}
    p = plan("SELECT * FROM T WHERE (pk = 'b' OR pk = 'a') ORDER BY pk")
    assert p.hash_values == [{"S": "a"}, {"S": "b"}]
    p = plan("SELECT * FROM T WHERE pk IN ['b', 'a', 'c'] ORDER BY pk DESC, sk DESC")
    assert p.hash_values == [{"S": "c"}, {"S": "b"}, {"S": "a"}]
    assert p.request["ScanIndexForward"] is False
    assert error("SELECT * FROM T WHERE pk IN ['a', 'a']") == (
        "Overlapping conditions with range keys are not supported in where clause"
    )


def test_key_attribute_in_filter_is_evaluated_after_the_query():
    p = plan("SELECT * FROM T WHERE pk = 'a' AND sk > 1 AND sk <> 3")
    assert p.request["KeyConditionExpression"] == "#k0 = :k0 AND #k1 > :k1"
    assert "FilterExpression" not in p.request
    assert p.post_filter == ("#n0 <> :v0", {"#n0": "sk"}, {":v0": {"N": "3"}})


def test_index_query():
    p = plan('SELECT pk FROM "T"."G" WHERE g = \'x\' AND gs >= 2')
    assert p.request["IndexName"] == "G"
    assert p.request["KeyConditionExpression"] == "#k0 = :k0 AND #k1 >= :k1"
    assert p.key is None


def test_full_key_reads():
    p = plan("SELECT a FROM T WHERE pk = 'x' AND sk = 1")
    assert p.key == {"pk": {"S": "x"}, "sk": {"N": "1"}} and not p.conditions
    p = plan("SELECT a FROM T WHERE pk IN ['x'] AND sk = 1 AND y = 2")
    assert p.key == {"pk": {"S": "x"}, "sk": {"N": "1"}} and p.conditions
    assert plan("SELECT a FROM T WHERE pk = 'x'").key is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "SELECT * FROM T ORDER BY sk",
            "Must have WHERE clause in the statement when using ORDER BY clause.",
        ),
        (
            "SELECT * FROM T WHERE x = 1 ORDER BY sk",
            "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.",
        ),
        (
            "SELECT * FROM T WHERE pk = 'a' ORDER BY x",
            "Variable reference x in ORDER BY clause must be part of the primary key",
        ),
        (
            "SELECT * FROM T WHERE pk IN ['a', 'b'] ORDER BY sk",
            "Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause.",
        ),
        (
            "SELECT * FROM T WHERE pk = 1",
            "Key attribute's data type should match its data type in table's schema: Key pk",
        ),
        (
            "SELECT * FROM T WHERE pk = 'a' AND sk = 'b'",
            "Key attribute's data type should match its data type in table's schema: Key sk",
        ),
        ('SELECT * FROM "T"."nope"', "The table does not have the specified index"),
    ],
)
def test_refused_reads(text, message):
    assert error(text) == message
