"""The DynamoDB expression engine, driven directly (no HTTP).

Expected error texts are DynamoDB's own, as reported by clients against AWS
(issue threads quoting them, dynalite's and moto's AWS-checked suites).
"""

from __future__ import annotations

import copy

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb.expressions import (
    RESERVED_WORDS,
    ExpressionContext,
    compare,
    compile_condition,
    compile_key_condition,
    compile_projection,
    compile_update,
    equals,
    legacy_condition,
    legacy_filter,
    legacy_key_condition,
    legacy_projection,
    legacy_update,
)

S = lambda s: {"S": s}  # noqa: E731
N = lambda n: {"N": n}  # noqa: E731


def ctx(values: dict | None = None, names: dict | None = None) -> ExpressionContext:
    return ExpressionContext(names, values)


def message(fn, *args) -> str:
    with pytest.raises(ServiceError) as exc:
        fn(*args)
    assert exc.value.code == "ValidationException"
    return exc.value.message


def cond(text: str, values: dict | None = None, names: dict | None = None):
    return compile_condition(text, ctx(values, names))


ITEM = {
    "pk": S("k"),
    "s": S("hello"),
    "u": S("héllo"),
    "e": S("a\U0001f600"),
    "n": N("10"),
    "f": N("1.5"),
    "b": {"B": b"\x01\x02\x03"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "l": {"L": [S("x"), N("2"), {"M": {"k": S("v"), "m": {"M": {"deep": N("7")}}}}]},
    "m": {"M": {"a": S("1"), "b": {"L": [N("1"), N("2")]}}},
}


# --------------------------------------------------------------------------- context


@pytest.mark.parametrize(
    "names, values, expected",
    [
        ({}, None, "ExpressionAttributeNames must not be empty"),
        (None, {}, "ExpressionAttributeValues must not be empty"),
        ({}, {}, "ExpressionAttributeNames must not be empty"),
        ({"a": "a"}, None, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"'),
        ({"#": "a"}, None, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "#"'),
        (
            {"#a-b": "a"},
            None,
            'ExpressionAttributeNames contains invalid key: Syntax error; key: "#a-b"',
        ),
        (
            None,
            {"b": S("a")},
            'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"',
        ),
        (
            None,
            {":b": {}},
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, "
            "must contain exactly one of the supported datatypes for key :b",
        ),
        (
            None,
            {":b": {"SS": []}},
            "ExpressionAttributeValues contains invalid value: One or more parameter values were "
            "invalid: An string set  may not be empty for key :b",
        ),
        (
            None,
            {":b": N("1e126")},
            # a number error is reported bare (us-east-1 capture, 2026)
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            "range",
        ),
    ],
)
def test_context_rejects_bad_maps(names, values, expected) -> None:
    assert message(ExpressionContext, names, values) == expected


def test_context_normalizes_numbers() -> None:
    c = ctx({":v": N("1.50")})
    assert cond("f = :v", {":v": N("1.50")})(ITEM)
    assert c.values[":v"] == N("1.5")


def test_unused_names_and_values_are_reported_in_given_order() -> None:
    c = ctx({":a": S("a"), ":b": S("b"), ":c": S("c")}, {"#a": "a", "#b": "b"})
    compile_condition("x = :b", c)
    assert message(c.check_unused) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    )
    compile_update("SET #a = :a, #b = :b", c)
    assert message(c.check_unused) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:c}"
    )
    compile_projection("#a", c)
    compile_condition("y <> :c", c)
    c.check_unused()


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    "compile_, text, token, near",
    [
        ("condition", "a = ", "<EOF>", "= "),
        ("condition", "a-b", "-", "a-b"),
        ("condition", "()", ")", "()"),
        ("condition", "__typename <> :x", "_", "__"),
        ("condition", "_type = :x", "_", "_type"),
        ("condition", "a = :x b", "b", ":x b"),
        ("condition", "a = 1", "1", "= 1"),
        ("condition", "a BETWEEN :x", "<EOF>", ":x"),
        ("condition", "attribute_exists(a", "<EOF>", "a"),
        ("condition", "a = :x AND", "<EOF>", "AND"),
        ("condition", "a = :x AND _sortKey = :x", "_", "AND _sortKey"),
        ("condition", "tenantAgent:abc123-", ":abc123", "tenantAgent:abc123-"),
        ("update", "INVALID SYNTAX HERE", "INVALID", "INVALID SYNTAX"),
        ("update", "set _something = :x", "_", "set _something"),
        ("update", "SET #a = :x, #b = :x,", "<EOF>", ","),
        ("update", "ADD hits : incr", ":", "hits : incr"),
        ("update", "set a=set", "set", "=set"),
        ("update", "remove a = b", "=", "a = b"),
        ("update", "delete a b", "b", "a b"),
        ("update", "set a = b + c + d", "+", "c + d"),
        ("update", "set a[1] = 1", "1", "= 1"),
        ("update", "SET if_not_exists(a, b) = a", "(", "if_not_exists(a"),
        ("update", "set a = b / c", "/", "b / c"),
        ("update", "set :a = b", ":a", "set :a ="),
        ("update", "set a = (b.c).d + e", ".", ").d"),
        ("projection", "!!", "!", "!!"),
        ("projection", "a,", "<EOF>", ","),
        ("projection", "a.b-c", "-", "b-c"),
        ("projection", "a[-1]", "-", "[-1"),
    ],
)
def test_syntax_errors_name_the_token_and_its_neighbours(compile_, text, token, near) -> None:
    kinds = {
        "condition": ("ConditionExpression", lambda: compile_condition(text, ctx({":x": S("1")}))),
        "update": ("UpdateExpression", lambda: compile_update(text, ctx({":x": S("1")}))),
        "projection": ("ProjectionExpression", lambda: compile_projection(text, ctx())),
    }
    kind, fn = kinds[compile_]
    assert message(fn) == f'Invalid {kind}: Syntax error; token: "{token}", near: "{near}"'


def test_filter_and_key_kinds_frame_their_messages() -> None:
    assert message(compile_condition, "a-b", ctx(), "FilterExpression") == (
        'Invalid FilterExpression: Syntax error; token: "-", near: "a-b"'
    )
    values = {":pk": S("a"), ":sk": S("b")}
    assert message(
        compile_key_condition, "pk=:pk AND begins_with sk, :sk ", ctx(values), "pk", "sk"
    ) == ('Invalid KeyConditionExpression: Syntax error; token: "sk", near: "begins_with sk,"')


@pytest.mark.parametrize(
    "fn, kind",
    [
        (lambda c: compile_condition("", c), "ConditionExpression"),
        (lambda c: compile_update("", c), "UpdateExpression"),
        (lambda c: compile_projection("", c), "ProjectionExpression"),
        (lambda c: compile_key_condition("", c, "pk", None), "KeyConditionExpression"),
    ],
)
def test_empty_expressions(fn, kind) -> None:
    assert message(fn, ctx()) == f"Invalid {kind}: The expression can not be empty;"


@pytest.mark.parametrize(
    "text",
    [
        "set a[1] = b",
        "set a.b = b",
        "SET a = if_not_exists(a, :x) + :x",
        "SET a = if_not_exists(a, if_not_exists(b, :x))",
        "set a = (b + c)",
        "set a = ((b.c.d)+(e))",
        "SET a = (if_not_exists(a, :x) - :x)",
        "set a = (b) + (c)",
        "SET a = :x REMOVE b ADD c :n DELETE d :ss",
        "set   a.b [ 1 ] . c=:x",
    ],
)
def test_update_syntax_accepted(text) -> None:
    compile_update(text, ctx({":x": N("1"), ":n": N("1"), ":ss": {"SS": ["a"]}}))


def test_keywords_and_function_names() -> None:
    assert cond("a = :x and b = :x Or not c = :x", {":x": S("1")})({"c": S("2")})
    assert message(cond, "SIZE(a) = :x", {":x": N("1")}) == (
        "Invalid ConditionExpression: Invalid function name; function: SIZE"
    )


def test_size_and_operator_limits() -> None:
    long = "a = :x AND " * 400 + "a = :x"
    assert message(cond, long, {":x": S("1")}).startswith(
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; "
        "expression size: "
    )
    many = " OR ".join(["a = :x"] * 200)
    assert message(cond, many, {":x": S("1")}) == (
        "Invalid ConditionExpression: The expression contains too many operators; "
        "operator count: 301"
    )
    deep = ".".join(["a"] * 33)
    assert message(cond, f"attribute_exists({deep})") == (
        "Invalid ConditionExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )


# --------------------------------------------------------------------------- condition checks


@pytest.mark.parametrize(
    "text, values, names, expected",
    [
        (
            "status = :v",
            {":v": S("a")},
            None,
            "Attribute name is a reserved keyword; reserved keyword: status",
        ),
        (
            "a.Size = :v",
            {":v": S("a")},
            None,
            "Attribute name is a reserved keyword; reserved keyword: Size",
        ),
        (
            "#absent = :v",
            {":v": S("a")},
            None,
            "An expression attribute name used in the document path is not defined; attribute name: #absent",
        ),
        (
            "a = :absent",
            None,
            None,
            "An expression attribute value used in expression is not defined; attribute value: :absent",
        ),
        ("foo(a)", None, None, "Invalid function name; function: foo"),
        (
            "if_not_exists(a, :v) = :v",
            {":v": S("a")},
            None,
            "The function is not allowed in a condition expression; function: if_not_exists",
        ),
        (
            "list_append(a, :v) = :v",
            {":v": {"L": []}},
            None,
            "The function is not allowed in a condition expression; function: list_append",
        ),
        (
            "a < :ss",
            {":ss": {"SS": ["a"]}},
            None,
            "Incorrect operand type for operator or function; operator or function: <, operand type: SS",
        ),
        (
            ":m >= a",
            {":m": {"M": {}}},
            None,
            "Incorrect operand type for operator or function; operator or function: >=, operand type: M",
        ),
        (
            "a BETWEEN :t AND :t",
            {":t": {"BOOL": True}},
            None,
            "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: BOOL",
        ),
        (
            "size(a) > size(:v)",
            {":v": {"NULL": True}},
            None,
            "Incorrect operand type for operator or function; operator or function: size, operand type: NULL",
        ),
        (
            "a BETWEEN :x AND a",
            {":x": N("1")},
            None,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: BETWEEN, first operand: [a]",
        ),
        (
            "a IN (:x, b, a)",
            {":x": N("1")},
            None,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: IN, first operand: [a]",
        ),
        (
            "attribute_exists(a, b)",
            None,
            None,
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "begins_with(a)",
            None,
            None,
            "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
        ),
        (
            "attribute_exists(:v)",
            {":v": S("a")},
            None,
            "Operator or function requires a document path; operator or function: attribute_exists",
        ),
        (
            "attribute_not_exists(size(a))",
            None,
            None,
            "Operator or function requires a document path; operator or function: attribute_not_exists",
        ),
        (
            "begins_with(a, :n)",
            {":n": N("1")},
            None,
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "begins_with(:l, a)",
            {":l": {"L": []}},
            None,
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: L",
        ),
        (
            "attribute_type(a, :n)",
            {":n": N("1")},
            None,
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
        ),
        (
            "attribute_type(a, b)",
            None,
            None,
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
        ),
        (
            "attribute_type(a, :t)",
            {":t": S("STRING")},
            None,
            "Invalid attribute type name found; type: STRING, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
        (
            "size(:n) = :n",
            {":n": N("1")},
            None,
            "Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
        (
            "size(:t) = :n",
            {":t": {"BOOL": True}, ":n": N("1")},
            None,
            "Incorrect operand type for operator or function; operator or function: size, operand type: BOOL",
        ),
        (
            "attribute_exists(a) = :v",
            {":v": {"BOOL": True}},
            None,
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "a IN (:v, contains(a, :v))",
            {":v": S("a")},
            None,
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        (
            "size(a)",
            None,
            None,
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "NOT size(a) AND a = :v",
            {":v": S("a")},
            None,
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "a = a",
            None,
            None,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            "a.b[1] <> a.b[1]",
            None,
            None,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: <>, first operand: [a, b, [1]]",
        ),
        (
            "contains(#a, #a)",
            None,
            {"#a": "data"},
            "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [data]",
        ),
        (
            "a BETWEEN :n AND :s",
            {":n": N("1"), ":s": S("a")},
            None,
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}",
        ),
        (
            "a BETWEEN :hi AND :lo",
            {":hi": N("5"), ":lo": N("1")},
            None,
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}",
        ),
        ("((a = :v))", {":v": S("a")}, None, "The expression has redundant parentheses;"),
        ("((attribute_not_exists(pk)))", None, None, "The expression has redundant parentheses;"),
        ("((a)) = :v", {":v": S("a")}, None, "The expression has redundant parentheses;"),
        (
            "b = :v AND ((a = :v))",
            {":v": S("a")},
            None,
            "The expression has redundant parentheses;",
        ),
    ],
)
def test_condition_errors(text, values, names, expected) -> None:
    assert message(cond, text, values, names) == f"Invalid ConditionExpression: {expected}"


def test_in_takes_at_most_100_operands() -> None:
    values = {f":v{i}": N(str(i)) for i in range(101)}
    text = f"a IN ({', '.join(values)})"
    assert message(cond, text, values) == (
        "Invalid ConditionExpression: The IN operator is provided with too many operands; "
        "number of operands: 101"
    )
    del values[":v100"]
    assert cond(f"a IN ({', '.join(values)})", values)({"a": N("99")})


@pytest.mark.parametrize(
    "text, expected",
    [
        # parentheses before everything else
        ("((a = :x)) AND foo(b) AND status = :nope", "The expression has redundant parentheses;"),
        # then an unknown function, then a misused one, then a reserved word
        ("status = :x AND foo(b)", "Invalid function name; function: foo"),
        (
            "status = :x AND attribute_exists(b) = :x",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "a = :nope AND status = :x",
            "Attribute name is a reserved keyword; reserved keyword: status",
        ),
        # the first comparison with a fault decides, whatever comes later
        (
            "a = :nope AND begins_with(b, :n)",
            "An expression attribute value used in expression is not defined; attribute value: :nope",
        ),
        (
            "begins_with(b, :n) AND a = :nope",
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        # within one comparison: undefined, count, distinct, type
        (
            "begins_with(#nope, :n)",
            "An expression attribute name used in the document path is not defined; attribute name: #nope",
        ),
    ],
)
def test_condition_error_ranking(text, expected) -> None:
    values = {":x": S("1"), ":n": N("1")}
    assert message(cond, text, values) == f"Invalid ConditionExpression: {expected}"


@pytest.mark.parametrize(
    "text",
    [
        "(a = :x) AND ((b = :x) OR (c = :x))",
        "(a = :x AND b = :x)",
        "(a = :x AND (b = :x))",
        "(NOT (a = :x))",
        "(a) = :x",
        "(size(a)) > :n",
        "size((a)) > :n",
        "NOT NOT a = :x",
    ],
)
def test_parentheses_accepted(text) -> None:
    cond(text, {":x": S("1"), ":n": N("1")})


# --------------------------------------------------------------------------- condition semantics


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("s = :v", {":v": S("hello")}, True),
        ("s = :v", {":v": S("Hello")}, False),
        ("n = :v", {":v": N("10.0")}, True),
        ("f = :v", {":v": N("1.50")}, True),
        ("n = :v", {":v": S("10")}, False),
        ("ss = :v", {":v": {"SS": ["b", "a"]}}, True),
        ("ns = :v", {":v": {"NS": ["2.50", "1"]}}, True),
        ("l[2].k = :v", {":v": S("v")}, True),
        ("m = :v", {":v": {"M": {"b": {"L": [N("1"), N("2")]}, "a": S("1")}}}, True),
        ("m.b = :v", {":v": {"L": [N("2"), N("1")]}}, False),
        ("t = :v", {":v": {"BOOL": True}}, True),
        ("z = :v", {":v": {"NULL": True}}, True),
        ("absent = :v", {":v": S("x")}, False),
        ("s <> :v", {":v": S("x")}, True),
        ("s <> :v", {":v": S("hello")}, False),
        ("absent <> :v", {":v": S("x")}, True),
        ("n <> :v", {":v": S("10")}, True),
        ("n < :v", {":v": N("9.99")}, False),
        ("n <= :v", {":v": N("10")}, True),
        ("n > :v", {":v": N("-20")}, True),
        ("n >= :v", {":v": N("10.5")}, False),
        ("s < :v", {":v": S("help")}, True),
        ("s > :v", {":v": S("Z")}, True),
        ("b > :v", {":v": {"B": b"\x01\x02"}}, True),
        ("b < :v", {":v": {"B": b"\x01\x02\x03\x00"}}, True),
        ("n < :v", {":v": S("z")}, False),
        ("ss < :v", {":v": S("z")}, False),
        ("ss = :v", {":v": {"NS": ["1"]}}, False),
        ("absent < :v", {":v": N("1")}, False),
        ("n BETWEEN :a AND :b", {":a": N("10"), ":b": N("11")}, True),
        ("n BETWEEN :a AND :b", {":a": N("1"), ":b": N("9")}, False),
        ("s BETWEEN :a AND :b", {":a": S("h"), ":b": S("i")}, True),
        ("absent BETWEEN :a AND :b", {":a": N("1"), ":b": N("9")}, False),
        ("n IN (:a, :b)", {":a": N("1"), ":b": N("10.0")}, True),
        ("s IN (:a, :b)", {":a": S("x"), ":b": S("y")}, False),
        ("ss IN (:a, :b)", {":a": S("x"), ":b": {"SS": ["b", "a"]}}, True),
        ("n IN (:a, f)", {":a": N("1")}, False),
        ("attribute_exists(l[2].m.deep)", None, True),
        ("attribute_exists(l[3])", None, False),
        ("attribute_not_exists(m.c)", None, True),
        ("attribute_exists(s.x)", None, False),
        ("attribute_type(ss, :t)", {":t": S("SS")}, True),
        ("attribute_type(z, :t)", {":t": S("NULL")}, True),
        ("attribute_type(m, :t)", {":t": S("L")}, False),
        ("begins_with(s, :p)", {":p": S("he")}, True),
        ("begins_with(s, :p)", {":p": S("lo")}, False),
        ("begins_with(b, :p)", {":p": {"B": b"\x01\x02"}}, True),
        ("begins_with(b, :p)", {":p": S("a")}, False),
        ("begins_with(n, :p)", {":p": S("1")}, False),
        ("contains(s, :p)", {":p": S("ell")}, True),
        ("contains(s, :p)", {":p": S("xyz")}, False),
        ("contains(ss, :p)", {":p": S("b")}, True),
        ("contains(ns, :p)", {":p": N("2.50")}, True),
        ("contains(ns, :p)", {":p": S("1")}, False),
        ("contains(bs, :p)", {":p": {"B": b"\x02"}}, True),
        ("contains(b, :p)", {":p": {"B": b"\x02\x03"}}, True),
        ("contains(l, :p)", {":p": N("2")}, True),
        ("contains(l, :p)", {":p": S("2")}, False),
        ("contains(m, :p)", {":p": S("a")}, False),
        ("contains(absent, :p)", {":p": S("a")}, False),
        ("size(s) = :n", {":n": N("5")}, True),
        ("size(u) = :n", {":n": N("5")}, True),
        ("size(e) = :n", {":n": N("3")}, True),
        ("size(b) = :n", {":n": N("3")}, True),
        ("size(ss) = :n", {":n": N("2")}, True),
        ("size(l) > :n", {":n": N("2")}, True),
        ("size(m) = :n", {":n": N("2")}, True),
        ("size(n) = :n", {":n": N("2")}, False),
        ("size(absent) < :n", {":n": N("2")}, False),
        ("size(s) > size(ss)", None, True),
        ("s = s.x", None, False),
        ("n > f", None, True),
        ("NOT s = :v", {":v": S("hello")}, False),
        ("NOT contains(absent, :v)", {":v": S("x")}, True),
        ("s = :x OR s = :y AND n = :y", {":x": S("hello"), ":y": S("no")}, True),
        ("(s = :x OR s = :y) AND n = :y", {":x": S("hello"), ":y": S("no")}, False),
        ("NOT s = :y AND n = :n", {":y": S("no"), ":n": N("10")}, True),
        ("#l[0] = :v", {":v": S("x")}, True),
    ],
)
def test_condition_semantics(text, values, expected) -> None:
    names = {"#l": "l"} if "#l" in text else None
    assert cond(text, values, names)(ITEM) is expected


def test_condition_on_no_item() -> None:
    assert cond("attribute_not_exists(pk)")(None)
    assert not cond("attribute_exists(pk)")(None)
    assert cond("pk <> :v", {":v": S("x")})(None)
    assert not cond("pk = :v", {":v": S("x")})(None)


def test_expression_attribute_names_reach_reserved_and_dotted_names() -> None:
    item = {"status": S("on"), "a.b": N("1"), "a": {"M": {"b": N("2")}}}
    assert cond("#s = :v", {":v": S("on")}, {"#s": "status"})(item)
    assert cond("#ab = :one", {":one": N("1")}, {"#ab": "a.b"})(item)
    assert cond("a.b = :two", {":two": N("2")})(item)


# --------------------------------------------------------------------------- key conditions


def key(text: str, values: dict, range_name: str | None = "sk", names: dict | None = None):
    return compile_key_condition(text, ctx(values, names), "pk", range_name)


@pytest.mark.parametrize(
    "text, op, range_values",
    [
        ("pk = :p", None, []),
        ("pk = :p AND sk = :a", "=", [S("a")]),
        ("sk < :a AND pk = :p", "<", [S("a")]),
        ("pk = :p AND sk <= :a", "<=", [S("a")]),
        ("pk = :p AND sk > :a", ">", [S("a")]),
        ("pk = :p AND sk >= :a", ">=", [S("a")]),
        ("pk = :p AND :a <= sk", ">=", [S("a")]),
        ("pk = :p AND :a > sk", "<", [S("a")]),
        (":p = pk AND sk = :a", "=", [S("a")]),
        ("pk = :p AND sk BETWEEN :a AND :b", "BETWEEN", [S("a"), S("b")]),
        ("pk = :p AND begins_with(sk, :a)", "begins_with", [S("a")]),
        ("(pk = :p) AND (sk = :a)", "=", [S("a")]),
        ("(pk = :p AND sk = :a)", "=", [S("a")]),
        ("(pk = :p AND (sk = :a))", "=", [S("a")]),
    ],
)
def test_key_conditions(text, op, range_values) -> None:
    kc = key(text, {":p": S("p"), ":a": S("a"), ":b": S("b")})
    assert kc.hash_value == S("p")
    assert kc.range_op == op
    assert kc.range_values == range_values


def test_key_condition_with_names() -> None:
    kc = key(
        "#pk = :pk AND :lo <= #sk", {":pk": S("p"), ":lo": S("a")}, names={"#pk": "pk", "#sk": "sk"}
    )
    assert (kc.range_op, kc.range_values) == (">=", [S("a")])


@pytest.mark.parametrize(
    "text, range_name, expected",
    [
        ("sk = :a", "sk", "Query condition missed key schema element: pk"),
        ("attr1 = :a", "sk", "Query condition missed key schema element: pk"),
        ("pk = :p AND wrong = :a", "sk", "Query condition missed key schema element: sk"),
        (
            "pk = :p AND begins_with(wrong, :a)",
            "sk",
            "Query condition missed key schema element: sk",
        ),
        ("pk = :p AND x = :a", None, "Query key condition not supported"),
        ("pk < :p", "sk", "Query key condition not supported"),
        ("begins_with(pk, :p)", None, "Query key condition not supported"),
        (
            "pk = :p AND sk = :a AND x = :b",
            "sk",
            "The number of query conditions (3) exceeds the number of key attributes defined in "
            "the schema (2)",
        ),
        ("pk = :p OR sk = :a", "sk", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :p", "sk", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk IN (:p)", "sk", "Invalid operator used in KeyConditionExpression: IN"),
        ("pk <> :p", "sk", "Invalid operator used in KeyConditionExpression: <>"),
        (
            "pk = :p AND attribute_exists(sk)",
            "sk",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "pk = :p AND contains(sk, :a)",
            "sk",
            "Invalid operator used in KeyConditionExpression: contains",
        ),
        ("size(pk) = :p", "sk", "KeyConditionExpressions cannot contain nested operations"),
        (
            "pk = :p AND sk.foo = :a",
            "sk",
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        (
            "pk = :p AND sk[0] = :a",
            "sk",
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        (
            "pk = :p AND pk = :a",
            "sk",
            "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one "
            "condition per key",
        ),
        (
            "pk = sk",
            "sk",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            ":p = :a",
            "sk",
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ),
        (
            "pk = :p AND begins_with(:a, sk)",
            "sk",
            "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
        ),
        (
            "pk = :p AND :a BETWEEN sk AND :b",
            "sk",
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
        ),
        (
            "pk = :p AND begins_with(sk, :n)",
            "sk",
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "((pk = :p)) AND ((sk = :a))",
            "sk",
            "Invalid KeyConditionExpression: The expression has redundant parentheses;",
        ),
        (
            "pk = :p AND date = :a",
            "sk",
            "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: date",
        ),
        (
            "pk = :nope",
            "sk",
            "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope",
        ),
    ],
)
def test_key_condition_errors(text, range_name, expected) -> None:
    values = {":p": S("p"), ":a": S("a"), ":b": S("b"), ":n": N("1")}
    assert message(key, text, values, range_name) == expected


# --------------------------------------------------------------------------- update semantics

VALUES = {
    ":s": S("new"),
    ":n": N("5"),
    ":l": {"L": [S("z")]},
    ":ss": {"SS": ["b", "c"]},
    ":ns": {"NS": ["2"]},
    ":m": {"M": {}},
    ":zero": N("0"),
    ":big": N("1E+125"),
    ":negbig": N("-1E+125"),
    ":tiny": N("1.5E-130"),
}


def update(text: str, item: dict, names: dict | None = None) -> dict:
    u = compile_update(text, ctx(VALUES, names))
    before = copy.deepcopy(item)
    after = u.apply(item)
    assert item == before, "apply must not mutate its input"
    return after


BASE = {
    "pk": S("k"),
    "a": N("10"),
    "s": S("old"),
    "l": {"L": [S("0"), S("1"), S("2"), S("3")]},
    "tags": {"SS": ["a", "b"]},
    "nums": {"NS": ["1", "2"]},
    "m": {"M": {"x": N("1"), "inr": {"M": {"y": S("y")}}, "lst": {"L": [{"M": {"k": S("v")}}]}}},
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SET s = :s", {"s": S("new")}),
        ("SET created = :s", {"created": S("new")}),
        ("SET m.x = :s", {"m": {"M": {**BASE["m"]["M"], "x": S("new")}}}),
        (
            "SET m.inr.z = :n",
            {"m": {"M": {**BASE["m"]["M"], "inr": {"M": {"y": S("y"), "z": N("5")}}}}},
        ),
        (
            "SET m.lst[0].k = :s",
            {"m": {"M": {**BASE["m"]["M"], "lst": {"L": [{"M": {"k": S("new")}}]}}}},
        ),
        ("SET l[1] = :s", {"l": {"L": [S("0"), S("new"), S("2"), S("3")]}}),
        ("SET l[10] = :s", {"l": {"L": [S("0"), S("1"), S("2"), S("3"), S("new")]}}),
        (
            "SET l[9] = :n, l[7] = :s",
            {"l": {"L": [S("0"), S("1"), S("2"), S("3"), S("new"), N("5")]}},
        ),
        ("SET a = a + :n", {"a": N("15")}),
        ("SET a = a - :n", {"a": N("5")}),
        ("SET a = :n - a", {"a": N("-5")}),
        ("SET b = if_not_exists(b, :zero) + :n", {"b": N("5")}),
        ("SET a = if_not_exists(a, :zero) + :n", {"a": N("15")}),
        ("SET s = if_not_exists(s, :s)", {}),
        ("SET t = if_not_exists(s, :s)", {"t": S("old")}),
        ("SET l = list_append(l, :l)", {"l": {"L": [S("0"), S("1"), S("2"), S("3"), S("z")]}}),
        ("SET l = list_append(:l, l)", {"l": {"L": [S("z"), S("0"), S("1"), S("2"), S("3")]}}),
        ("SET nl = list_append(if_not_exists(nl, :l), :l)", {"nl": {"L": [S("z"), S("z")]}}),
        ("SET a = s, s = a", {"a": S("old"), "s": N("10")}),
        ("SET dup = m.inr", {"dup": {"M": {"y": S("y")}}}),
        ("REMOVE s", {"s": None}),
        ("REMOVE nothing", {}),
        (
            "REMOVE m.x, m.nothing",
            {"m": {"M": {k: v for k, v in BASE["m"]["M"].items() if k != "x"}}},
        ),
        ("REMOVE l[1]", {"l": {"L": [S("0"), S("2"), S("3")]}}),
        ("REMOVE l[0], l[2]", {"l": {"L": [S("1"), S("3")]}}),
        ("REMOVE l[9]", {}),
        ("REMOVE l[0] SET l[1] = :s", {"l": {"L": [S("new"), S("2"), S("3")]}}),
        ("ADD a :n", {"a": N("15")}),
        ("ADD ctr :n", {"ctr": N("5")}),
        ("ADD m.x :n", {"m": {"M": {**BASE["m"]["M"], "x": N("6")}}}),
        ("ADD tags :ss", {"tags": {"SS": ["a", "b", "c"]}}),
        ("ADD newset :ss", {"newset": {"SS": ["b", "c"]}}),
        ("ADD nums :ns", {}),
        ("DELETE tags :ss", {"tags": {"SS": ["a"]}}),
        ("DELETE nums :ns", {"nums": {"NS": ["1"]}}),
        ("DELETE nothing :ss", {}),
        ("DELETE tags :ss DELETE", None),
    ],
)
def test_update_semantics(text, expected) -> None:
    if expected is None:
        with pytest.raises(ServiceError):
            update(text, BASE)
        return
    want = dict(BASE)
    for k, v in expected.items():
        if v is None:
            del want[k]
        else:
            want[k] = v
    assert update(text, BASE) == want


def test_update_removes_emptied_sets_and_builds_new_items() -> None:
    u = compile_update("DELETE tags :t", ctx({":t": {"SS": ["b", "c"]}}))
    assert u.apply({"pk": S("k"), "tags": {"SS": ["c", "b"]}}) == {"pk": S("k")}
    u = compile_update("SET a = :s, l[0] = :s ADD n :n", ctx(VALUES))
    with pytest.raises(ServiceError):
        u.apply({})
    u = compile_update("SET a = :s ADD n :n, ss :ss", ctx(VALUES))
    assert u.apply({}) == {"a": S("new"), "n": N("5"), "ss": {"SS": ["b", "c"]}}
    assert u.paths == [("a",), ("n",), ("ss",)]


def test_update_paths_and_nested_list_of_list() -> None:
    u = compile_update("SET l[0][1] = :s REMOVE m.#k", ctx(VALUES, {"#k": "x.y"}))
    assert u.paths == [("l", 0, 1), ("m", "x.y")]
    item = {"l": {"L": [{"L": [N("1"), N("2")]}]}, "m": {"M": {"x.y": N("1"), "x": N("2")}}}
    assert u.apply(item) == {"l": {"L": [{"L": [N("1"), S("new")]}]}, "m": {"M": {"x": N("2")}}}


def test_set_on_empty_list_index_zero() -> None:
    u = compile_update("SET l[0] = :s", ctx(VALUES))
    assert u.apply({"l": {"L": []}}) == {"l": {"L": [S("new")]}}


@pytest.mark.parametrize(
    "text, item, expected",
    [
        (
            "SET c = b",
            {},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET c = b + :n",
            {},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET e = list_append(b, :l)",
            {},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET e = if_not_exists(a, b)",
            {"a": N("1")},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET e = s + :n",
            {"s": S("x")},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET e = :n - s",
            {"s": S("x")},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET e = list_append(d, if_not_exists(f, :l))",
            {"d": {"NS": ["1"]}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET e = list_append(:l, s)",
            {"s": S("x")},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD d :n",
            {"d": {"NS": ["1"]}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD b :ns",
            {"b": {"SS": ["1"]}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "DELETE d :ss",
            {"d": {"NS": ["1"]}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "DELETE c :ns",
            {"c": N("1")},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET b.a = :s",
            {},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET b[1] = :s",
            {"b": S("x")},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET c[1] = :s",
            {"c": {"M": {"1": S("a")}}},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET d.x = :s",
            {"d": {"L": [S("a")]}},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET d[5].x = :s",
            {"d": {"L": [S("a")]}},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE y.a",
            {},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE b.a",
            {"b": S("x")},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE c[1]",
            {"c": {"M": {}}},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "ADD y.a :n",
            {},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "DELETE y[1] :ss",
            {},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET a = a + :big",
            {"a": N("9.9999999999999999999999999999999999999E+125")},
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
        (
            "ADD a :negbig",
            {"a": N("-9.9999999999999999999999999999999999999E+125")},
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
        (
            "SET a = a - :tiny",
            {"a": N("2E-130")},
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        ),
        ("SET a = a + :n", {"a": N("12345678901234567890123456789012345678")}, None),
        (
            "SET a = a + :n",
            {"a": N("0.12345678901234567890123456789012345678")},
            # DynamoDB calls an inexact sum an overflow (Alternator's
            # test_update_expression_plus_imprecise quotes it).
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
    ],
)
def test_update_apply_errors(text, item, expected) -> None:
    u = compile_update(text, ctx(VALUES))
    if expected is None:
        u.apply(item)
    else:
        assert message(u.apply, item) == expected


def test_update_arithmetic_is_exact_decimal() -> None:
    u = compile_update("SET a = a - :v", ctx({":v": N("0.1")}))
    assert u.apply({"a": N("0.3")}) == {"a": N("0.2")}
    u = compile_update("SET a = a - :v", ctx({":v": N("1")}))
    assert u.apply({"a": N("100000000000000000000.00000001")}) == {
        "a": N("99999999999999999999.00000001")
    }
    u = compile_update("ADD a :v", ctx({":v": N("-10")}))
    assert u.apply({"a": N("10")}) == {"a": N("0")}


# --------------------------------------------------------------------------- update compile errors


@pytest.mark.parametrize(
    "text, names, expected",
    [
        (
            "set a = :s set c = :s",
            None,
            'The "SET" section can only be used once in an update expression;',
        ),
        (
            "remove d set a = :s remove e",
            None,
            'The "REMOVE" section can only be used once in an update expression;',
        ),
        (
            "add d :n set a = :s add e :n",
            None,
            'The "ADD" section can only be used once in an update expression;',
        ),
        (
            "delete d :ss set a = :s delete e :ss",
            None,
            'The "DELETE" section can only be used once in an update expression;',
        ),
        (
            " set #c = :s set abOrt = true ",
            None,
            "Attribute name is a reserved keyword; reserved keyword: abOrt",
        ),
        (
            " remove Absolute ",
            None,
            "Attribute name is a reserved keyword; reserved keyword: Absolute",
        ),
        (
            "set #c = if_not_exist(:s) set c = d",
            None,
            "Invalid function name; function: if_not_exist",
        ),
        (
            "set a = size(b)",
            None,
            "The function is not allowed in an update expression; function: size",
        ),
        (
            "set a = attribute_exists(b)",
            None,
            "The function is not allowed in an update expression; function: attribute_exists",
        ),
        ("set a = foo(b)", None, "Invalid function name; function: foo"),
        (
            "set b = if_not_exists(a, a)",
            None,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: if_not_exists, first operand: [a]",
        ),
        (
            "set a = list_append(a, :l) + :n",
            None,
            "Incorrect operand type for operator or function; operator or function: +, operand type: L",
        ),
        (
            "SET #c = if_not_exists(:c)",
            {"#a": "a"},
            "An expression attribute name used in the document path is not defined; attribute name: #c",
        ),
        (
            "SET #a = if_not_exists(:c)",
            {"#a": "a"},
            "An expression attribute value used in expression is not defined; attribute value: :c",
        ),
        (
            "SET a = :nope, #nope = :s",
            None,
            "An expression attribute name used in the document path is not defined; attribute name: #nope",
        ),
        (
            "set example_column = :s, example_column = :s",
            None,
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [example_column], path two: [example_column]",
        ),
        (
            "SET a = :s REMOVE a.b",
            None,
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
        (
            "set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)",
            {"#c": "c"},
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [c, [1], a], path two: [c]",
        ),
        (
            "set #c[3].#d = a, #c[3] = a",
            {"#c": "c", "#d": "[3]"},
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [c, [3], [3]], path two: [c, [3]]",
        ),
        (
            "set #c[3].#d = a, #c.#d[3] = if_not_exists(a)",
            {"#c": "c", "#d": "[3]"},
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [c, [3], [3]], path two: [c, [3], [3]]",
        ),
        (
            "remove a.#c set a[1] = #d",
            {"#c": "c", "#d": "[3]"},
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, c], path two: [a, [1]]",
        ),
        (
            "set b = list_append(:s, a), c = if_not_exists(a) add a.b :s",
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "delete a.b :s",
            None,
            "Incorrect operand type for operator or function; operator: DELETE, operand type: STRING, typeSet: ALLOWED_FOR_DELETE_OPERAND",
        ),
        ("add a.b :n", None, None),
        (
            "delete a.b :n",
            None,
            "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND",
        ),
        (
            "add a.b :l",
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: LIST, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "delete a.b :m",
            None,
            "Incorrect operand type for operator or function; operator: DELETE, operand type: MAP, typeSet: ALLOWED_FOR_DELETE_OPERAND",
        ),
        (
            "add a :t",
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: BOOLEAN, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "add a :z",
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: NULL, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "add a :b",
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: BINARY, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "set a = if_not_exists(c)",
            None,
            "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1",
        ),
        (
            "set a = list_append(c)",
            None,
            "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1",
        ),
        (
            "set a = if_not_exists(:s, c)",
            None,
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            "set a = if_not_exists(if_not_exists(a, b), c)",
            None,
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            "set a = list_append(:s, a)",
            None,
            "Incorrect operand type for operator or function; operator or function: list_append, operand type: S",
        ),
        (
            "set a = list_append(a, :n)",
            None,
            "Incorrect operand type for operator or function; operator or function: list_append, operand type: N",
        ),
        (
            "set a = list_append(:m, a)",
            None,
            "Incorrect operand type for operator or function; operator or function: list_append, operand type: M",
        ),
        (
            "set a = a + :s",
            None,
            "Incorrect operand type for operator or function; operator or function: +, operand type: S",
        ),
        (
            "set a = :b + a",
            None,
            "Incorrect operand type for operator or function; operator or function: +, operand type: B",
        ),
        (
            "set a = a - :ss",
            None,
            "Incorrect operand type for operator or function; operator or function: -, operand type: SS",
        ),
        (
            "set a = a - :l",
            None,
            "Incorrect operand type for operator or function; operator or function: -, operand type: L",
        ),
    ],
)
def test_update_compile_errors(text, names, expected) -> None:
    values = {**VALUES, ":t": {"BOOL": False}, ":z": {"NULL": True}, ":b": {"B": b"a"}}
    if expected is None:
        compile_update(text, ctx(values, names))
        return
    assert (
        message(compile_update, text, ctx(values, names)) == f"Invalid UpdateExpression: {expected}"
    )


# --------------------------------------------------------------------------- projections

DOC = {
    "pk": S("k"),
    "a": {
        "M": {
            "b": {"L": [{"M": {"c": S("c0"), "d": S("d0")}}, {"M": {"c": S("c1"), "d": S("d1")}}]},
            "e": N("1"),
        }
    },
    "l": {"L": [S("l0"), S("l1"), S("l2")]},
    "s": S("s"),
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("pk, s, nothing", {"pk": S("k"), "s": S("s")}),
        ("a.e", {"a": {"M": {"e": N("1")}}}),
        ("a.b[1].c", {"a": {"M": {"b": {"L": [{"M": {"c": S("c1")}}]}}}}),
        (
            "a.b[1].c, a.b[0].d",
            {"a": {"M": {"b": {"L": [{"M": {"d": S("d0")}}, {"M": {"c": S("c1")}}]}}}},
        ),
        ("#l[2], #l[0]", {"l": {"L": [S("l0"), S("l2")]}}),
        ("l[7]", {}),
        ("a.zz, s.x, l.x, n[0]", {}),
        ("a.b[0], a.e", {"a": {"M": {"b": {"L": [DOC["a"]["M"]["b"]["L"][0]]}, "e": N("1")}}}),
    ],
)
def test_projection(text, expected) -> None:
    names = {"#l": "l"} if "#l" in text else None
    p = compile_projection(text, ctx(None, names))
    assert p.apply(DOC) == expected


@pytest.mark.parametrize(
    "text, names, expected",
    [
        ("pk, status", None, "Attribute name is a reserved keyword; reserved keyword: status"),
        (
            "#undef",
            None,
            "An expression attribute name used in the document path is not defined; attribute name: #undef",
        ),
        (
            "#a, #a.#b",
            {"#a": "a", "#b": "b"},
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
        (
            "#a, #a",
            {"#a": "a"},
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
        ),
        (
            "a[0], a.b",
            None,
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]",
        ),
        (
            "a[0], a.b, a.b.c",
            None,
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, b, c]",
        ),
    ],
)
def test_projection_errors(text, names, expected) -> None:
    assert message(compile_projection, text, ctx(None, names)) == (
        f"Invalid ProjectionExpression: {expected}"
    )


def test_legacy_projection() -> None:
    p = legacy_projection(["s", "a.e", "absent"])
    assert p.apply({**DOC, "a.e": N("2")}) == {"s": S("s"), "a.e": N("2")}
    assert message(legacy_projection, ["a", "b", "a"]) == (
        "One or more parameter values were invalid: Duplicate value in attribute name: a"
    )


# --------------------------------------------------------------------------- legacy conditions


@pytest.mark.parametrize(
    "expected, item, result",
    [
        ({"s": {"Value": S("hello")}}, ITEM, True),
        ({"s": {"Value": S("nope")}}, ITEM, False),
        ({"s": {"Exists": True, "Value": S("hello")}}, ITEM, True),
        ({"absent": {"Exists": False}}, ITEM, True),
        ({"s": {"Exists": False}}, ITEM, False),
        ({"pk": {"Exists": False}}, None, True),
        ({"n": {"ComparisonOperator": "GT", "AttributeValueList": [N("5")]}}, ITEM, True),
        ({"n": {"ComparisonOperator": "EQ", "Value": N("10")}}, ITEM, True),
        ({"n": {"ComparisonOperator": "NOT_NULL"}}, ITEM, True),
        ({"n": {"ComparisonOperator": "NULL"}}, ITEM, False),
        ({"s": {"Value": S("nope")}, "n": {"Value": N("10")}}, ITEM, False),
        ({}, None, True),
    ],
)
def test_legacy_expected(expected, item, result) -> None:
    assert legacy_condition(expected, None)(item) is result


def test_legacy_expected_or() -> None:
    expected = {"s": {"Value": S("nope")}, "n": {"Value": N("10")}}
    assert legacy_condition(expected, "OR")(ITEM)
    assert not legacy_condition(expected, "AND")(ITEM)


@pytest.mark.parametrize(
    "expected, message_",
    [
        (
            {"a": {"Value": S("a"), "AttributeValueList": [S("a")]}},
            "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: a",
        ),
        (
            {"a": {"Exists": True, "ComparisonOperator": "NULL"}},
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a",
        ),
        (
            {"a": {"ComparisonOperator": "EQ"}},
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a",
        ),
        (
            {"a": {"ComparisonOperator": "EQ", "AttributeValueList": [S("a"), S("b")]}},
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
        (
            {"a": {"ComparisonOperator": "NULL", "AttributeValueList": [S("a")]}},
            "One or more parameter values were invalid: Invalid number of argument(s) for the NULL ComparisonOperator",
        ),
        (
            {"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N("1"), S("a")]}},
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            {"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N("5"), N("1")]}},
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ),
        (
            {"a": {"AttributeValueList": [S("a")]}},
            "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: a",
        ),
        (
            {"a": {}},
            "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a",
        ),
        (
            {"a": {"Exists": True}},
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a",
        ),
        (
            {"a": {"Exists": False, "Value": S("a")}},
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a",
        ),
        (
            {"a": {"ComparisonOperator": "LIKE"}},
            "1 validation error detected: Value 'LIKE' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
        ),
    ],
)
def test_legacy_expected_errors(expected, message_) -> None:
    assert message(legacy_condition, expected, None) == message_


@pytest.mark.parametrize(
    "op, values, attr, result",
    [
        ("EQ", [S("hello")], "s", True),
        ("EQ", [{"SS": ["b", "a"]}], "ss", True),
        ("NE", [S("hello")], "s", False),
        ("NE", [S("x")], "absent", True),
        ("LE", [N("10")], "n", True),
        ("LT", [N("10")], "n", False),
        ("GE", [S("hello")], "s", True),
        ("GT", [{"B": b"\x01"}], "b", True),
        ("GT", [N("1")], "s", False),
        ("NOT_NULL", [], "s", True),
        ("NULL", [], "absent", True),
        ("CONTAINS", [S("ell")], "s", True),
        ("CONTAINS", [S("a")], "ss", True),
        ("CONTAINS", [N("2")], "l", True),
        ("CONTAINS", [S("a")], "absent", False),
        ("NOT_CONTAINS", [S("z")], "ss", True),
        ("NOT_CONTAINS", [S("a")], "ss", False),
        ("BEGINS_WITH", [S("he")], "s", True),
        ("BEGINS_WITH", [{"B": b"\x01"}], "b", True),
        ("IN", [N("1"), N("10")], "n", True),
        ("IN", [S("x"), S("y")], "s", False),
        ("BETWEEN", [N("1"), N("10")], "n", True),
        ("BETWEEN", [S("a"), S("b")], "s", False),
    ],
)
def test_legacy_filter(op, values, attr, result) -> None:
    filt = {attr: {"ComparisonOperator": op, "AttributeValueList": values}}
    assert legacy_filter(filt, None)(ITEM) is result


def test_legacy_filter_joins() -> None:
    filt = {
        "s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("he")]},
        "n": {"ComparisonOperator": "GT", "AttributeValueList": [N("20")]},
    }
    assert not legacy_filter(filt, "AND")(ITEM)
    assert legacy_filter(filt, "OR")(ITEM)


@pytest.mark.parametrize(
    "filt, message_",
    [
        (
            {"a": {"ComparisonOperator": "EQ", "AttributeValueList": []}},
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
        (
            {"a": {"ComparisonOperator": "IN", "AttributeValueList": []}},
            "One or more parameter values were invalid: Invalid number of argument(s) for the IN ComparisonOperator",
        ),
        (
            {"a": {"ComparisonOperator": "IN", "AttributeValueList": [S("a"), N("1")]}},
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            {"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [N("1")]}},
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
        ),
        (
            {"a": {"ComparisonOperator": "LT", "AttributeValueList": [{"SS": ["a"]}]}},
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type",
        ),
        (
            {"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [S("b"), S("a")]}},
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ),
        (
            {"a": {"AttributeValueList": [S("b")]}},
            "1 validation error detected: Value null at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
        ),
    ],
)
def test_legacy_filter_errors(filt, message_) -> None:
    assert message(legacy_filter, filt, None) == message_


def test_conditional_operator_enum() -> None:
    assert message(legacy_filter, {}, "XOR") == (
        "1 validation error detected: Value 'XOR' at 'conditionalOperator' failed to satisfy "
        "constraint: Member must satisfy enum value set: [OR, AND]"
    )


def test_legacy_key_conditions() -> None:
    kc = legacy_key_condition(
        {
            "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N("1"), N("5")]},
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
        },
        "pk",
        "sk",
    )
    assert (kc.hash_value, kc.range_op, kc.range_values) == (S("p"), "BETWEEN", [N("1"), N("5")])
    kc = legacy_key_condition(
        {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
            "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("x")]},
        },
        "pk",
        "sk",
    )
    assert kc.range_op == "begins_with"


@pytest.mark.parametrize(
    "conditions, range_name, expected",
    [
        (
            {"pk": {"ComparisonOperator": "NE", "AttributeValueList": [S("p")]}},
            "sk",
            "Attempted conditional constraint is not an indexable operation",
        ),
        (
            {
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
                "sk": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [S("p")]},
            },
            "sk",
            "Attempted conditional constraint is not an indexable operation",
        ),
        (
            {"pk": {"ComparisonOperator": "GT", "AttributeValueList": [S("p")]}},
            "sk",
            "Query key condition not supported",
        ),
        (
            {"sk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]}},
            "sk",
            "Query condition missed key schema element: pk",
        ),
        (
            {
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
                "x": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
            },
            None,
            "Query key condition not supported",
        ),
        (
            {
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
                "x": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]},
            },
            "sk",
            "Query condition missed key schema element: sk",
        ),
        (
            {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": []}},
            "sk",
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
    ],
)
def test_legacy_key_condition_errors(conditions, range_name, expected) -> None:
    assert message(legacy_key_condition, conditions, "pk", range_name) == expected


def test_legacy_update() -> None:
    u = legacy_update(
        {
            "s": {"Action": "PUT", "Value": S("new")},
            "plain": {"Value": N("1")},
            "a": {"Action": "ADD", "Value": N("5")},
            "tags": {"Action": "ADD", "Value": {"SS": ["c"]}},
            "l": {"Action": "ADD", "Value": {"L": [S("x")]}},
            "nums": {"Action": "DELETE", "Value": {"NS": ["1", "2"]}},
            "gone": {"Action": "DELETE"},
        }
    )
    item = {
        "a": N("1"),
        "tags": {"SS": ["a"]},
        "l": {"L": []},
        "nums": {"NS": ["1", "2"]},
        "gone": S("x"),
    }
    assert u.apply(item) == {
        "s": S("new"),
        "plain": N("1"),
        "a": N("6"),
        "tags": {"SS": ["a", "c"]},
        "l": {"L": [S("x")]},
    }
    assert u.paths[0] == ("s",)
    assert legacy_update({"n": {"Action": "ADD", "Value": N("2")}}).apply({}) == {"n": N("2")}


@pytest.mark.parametrize(
    "updates, expected",
    [
        (
            {"a": {"Action": "PUT"}},
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            {"a": {"Action": "DELETE", "Value": S("x")}},
            "One or more parameter values were invalid: DELETE action with value is not supported for the type S",
        ),
        (
            {"a": {"Action": "ADD", "Value": S("x")}},
            "One or more parameter values were invalid: ADD action is not supported for the type S",
        ),
        (
            {"a": {"Action": "ADD", "Value": {"M": {}}}},
            "One or more parameter values were invalid: ADD action is not supported for the type M",
        ),
        (
            {"a": {"Action": "MERGE", "Value": S("x")}},
            "1 validation error detected: Value 'MERGE' at 'attributeUpdates.a.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]",
        ),
    ],
)
def test_legacy_update_errors(updates, expected) -> None:
    assert message(legacy_update, updates) == expected


@pytest.mark.parametrize(
    "updates, item",
    [
        ({"b": {"Action": "DELETE", "Value": {"NS": ["1"]}}}, {"b": {"SS": ["1"]}}),
        ({"c": {"Action": "DELETE", "Value": {"NS": ["1"]}}}, {"c": N("1")}),
        ({"b": {"Action": "ADD", "Value": {"NS": ["1"]}}}, {"b": {"SS": ["1"]}}),
        ({"d": {"Action": "ADD", "Value": N("1")}}, {"d": {"NS": ["1"]}}),
    ],
)
def test_legacy_update_type_mismatch(updates, item) -> None:
    assert message(legacy_update(updates).apply, item) == "Type mismatch for attribute to update"


# --------------------------------------------------------------------------- ordering helpers


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (S("a"), S("b"), -1),
        (S("é"), S("z"), 1),  # UTF-8 byte order, not locale order
        (S("\uffff"), S("\U0001f600"), -1),
        (N("10"), N("9"), 1),
        (N("-1"), N("-1.0"), 0),
        (N("1E-130"), N("0"), 1),
        ({"B": b"\x01"}, {"B": b"\xff"}, -1),
        ({"B": b"\x01"}, {"B": b"\x01\x00"}, -1),
        (S("1"), N("1"), None),
        ({"SS": ["a"]}, {"SS": ["a"]}, None),
        ({"BOOL": True}, {"BOOL": False}, None),
    ],
)
def test_compare(a, b, expected) -> None:
    assert compare(a, b) == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (N("1"), N("1.0"), True),
        ({"NS": ["1", "2"]}, {"NS": ["2.0", "1"]}, True),
        ({"SS": ["a"]}, {"SS": ["a", "b"]}, False),
        ({"BS": [b"a", b"b"]}, {"BS": [b"b", b"a"]}, True),
        ({"L": [N("1"), S("a")]}, {"L": [S("a"), N("1")]}, False),
        ({"M": {"a": {"L": [N("1")]}}}, {"M": {"a": {"L": [N("1.00")]}}}, True),
        ({"NULL": True}, {"NULL": True}, True),
        ({"BOOL": True}, {"BOOL": False}, False),
        (S("1"), N("1"), False),
    ],
)
def test_equals(a, b, expected) -> None:
    assert equals(a, b) is expected


def test_reserved_words_list() -> None:
    assert len(RESERVED_WORDS) == 573
    assert {"STATUS", "NAME", "DATA", "COUNT", "ITEMS", "TTL", "ZONE"} <= RESERVED_WORDS
    assert "ATTRIBUTE_EXISTS" not in RESERVED_WORDS
    assert cond("attribute_exists(contains_x)")({"contains_x": S("1")})
