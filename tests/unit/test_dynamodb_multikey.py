"""Multi-attribute GSI keys without a server: the key encoding's order, the sort-key byte
ranges, the KeySchema rules and the key-condition reduction.

The end-to-end behaviour (boto3 against a real server) is in
tests/services/test_dynamodb_multikey.py; these pin the properties the encoding must have
(``multikey``'s docstring) over many random values, which a handful of items cannot.
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import multikey
from cloudlet.services.dynamodb.expressions import ExpressionContext
from cloudlet.services.dynamodb.expressions.multikeys import (
    compile_multi_key_condition,
    legacy_multi_key_condition,
)
from cloudlet.services.dynamodb.key_values import index_key_of
from cloudlet.services.dynamodb.tables import Index, Table, parse_gsi_key_schema
from cloudlet.services.dynamodb.values import key_bytes, number_key

_ALPHABET = [b"", b"\x00", b"\x01", b"\xff", b"a", b"\x00\xff", b"\x00\x01"]


def _value(rng: random.Random) -> bytes:
    """A short byte string built from the bytes the escaping must get right."""
    return b"".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 3)))


def _tuples(seed: int, width: int, count: int = 300) -> list[tuple[bytes, ...]]:
    rng = random.Random(seed)
    return [tuple(_value(rng) for _ in range(width)) for _ in range(count)]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_encoding_order_is_tuple_order(width):
    values = _tuples(width, width)
    assert sorted(values) == sorted(values, key=multikey.encode)
    # Equal tuples, and only they, encode alike.
    assert len({multikey.encode(v) for v in values}) == len(set(values))


def test_numbers_keep_numeric_order_inside_a_tuple():
    numbers = ["-100", "-1.5", "-1", "0", "0.001", "1", "1.5", "2", "10", "1E+20"]
    encoded = [multikey.encode([number_key(Decimal(n)), b"x"]) for n in numbers]
    assert encoded == sorted(encoded)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_prefix_of_the_attributes_is_a_byte_prefix(k):
    values = _tuples(10 + k, 4)
    for head in {v[:k] for v in values}:
        prefix = multikey.encode(head)
        matching = {v for v in values if v[:k] == head}
        assert matching == {v for v in values if multikey.encode(v).startswith(prefix)}


def test_one_attribute_keeps_its_own_bytes():
    # Single-attribute indexes store what they always stored.
    assert multikey.join([b"abc"]) == b"abc"
    assert multikey.join([]) == b""
    assert multikey.join([b"a", b"b"]) == b"a\x00\x01b\x00\x01"


def _selected(rows: list[tuple[bytes, ...]], conditions) -> list[tuple[bytes, ...]]:
    """The rows whose encoded ``rk`` passes ``sort_range``'s SQL conditions."""
    out = []
    for row in rows:
        rk = multikey.encode(row)
        ok = all(rk >= arg if sql == "rk >= ?" else rk < arg for sql, arg in conditions)
        if ok:
            out.append(row)
    return out


_OPS = {
    "=": lambda x, a: x == a[0],
    "<": lambda x, a: x < a[0],
    "<=": lambda x, a: x <= a[0],
    ">": lambda x, a: x > a[0],
    ">=": lambda x, a: x >= a[0],
    "BETWEEN": lambda x, a: a[0] <= x <= a[1],
    "begins_with": lambda x, a: x.startswith(a[0]),
}


@pytest.mark.parametrize("op", sorted(_OPS))
def test_sort_range_selects_what_the_condition_means(op):
    rows = _tuples(99, 3, 400)
    rng = random.Random(op)
    for _ in range(60):
        k = rng.randint(0, 2)
        prefix = list(rng.choice(rows)[:k])
        bounds = sorted([_value(rng), _value(rng)]) if op == "BETWEEN" else [_value(rng)]
        if op == "begins_with" and not bounds[0]:
            bounds = [b"a"]
        want = [r for r in rows if list(r[:k]) == prefix and _OPS[op](r[k], bounds)]
        got = _selected(rows, multikey.sort_range(prefix, op, bounds))
        assert sorted(got) == sorted(want), (prefix, op, bounds)


def test_sort_range_with_equalities_only():
    rows = _tuples(7, 3)
    head = list(rows[0][:2])
    got = _selected(rows, multikey.sort_range(head, None, []))
    assert sorted(got) == sorted(r for r in rows if list(r[:2]) == head)
    assert multikey.sort_range([], None, []) == []


def _index(hashes, ranges) -> Index:
    first_range = ranges[0] if ranges else None
    return Index(
        "gsi", 1, "GSI", hashes[0], first_range, more_hash=hashes[1:], more_range=ranges[1:]
    )


def test_an_item_is_indexed_only_with_every_key_attribute_of_its_type():
    ix = _index([("a", "S"), ("b", "N")], [("c", "S"), ("d", "B")])
    item = {"a": {"S": "x"}, "b": {"N": "1"}, "c": {"S": "y"}, "d": {"B": b"\x00"}}
    h, hk, rk = index_key_of(ix, item)
    assert hk == multikey.encode([b"x", key_bytes({"N": "1"})])
    assert rk == multikey.encode([b"y", b"\x00"])
    for name in item:
        assert index_key_of(ix, {k: v for k, v in item.items() if k != name}) is None
    assert index_key_of(ix, {**item, "d": {"S": "not binary"}}) is None


def test_the_definition_survives_its_saved_form():
    ix = _index([("a", "S"), ("b", "N")], [("c", "S"), ("d", "B"), ("e", "N")])
    single = Index("one", 2, "GSI", ("a", "S"), ("c", "S"))
    table = Table(1, "000000000000", "us-east-1", "tbl", ("id", "S"), None, {}, 0.0)
    table.indexes = [ix, single]
    meta = table.to_meta()
    back = Table.from_meta(1, meta)
    assert back.indexes[0].hash_keys() == [("a", "S"), ("b", "N")]
    assert back.indexes[0].range_keys() == [("c", "S"), ("d", "B"), ("e", "N")]
    assert back.indexes[0].multi and not back.indexes[1].multi
    # A single-attribute index is saved as before (an older definition loads as it is).
    assert '"more_hash"' not in meta.split('"name": "one"')[1]


# --------------------------------------------------------------------------- KeySchema


def _schema(*kinds: str, names: str = "abcdefghijk") -> list[dict[str, str]]:
    return [{"AttributeName": n, "KeyType": k} for n, k in zip(names, kinds, strict=False)]


def _parse(schema: list[dict[str, str]]):
    """A GSI KeySchema parsed as CreateTable does, every attribute defined as S."""
    return parse_gsi_key_schema(schema, {e["AttributeName"]: "S" for e in schema})


def _error(fn, *args) -> str:
    with pytest.raises(ServiceError) as exc:
        fn(*args)
    assert exc.value.code == "ValidationException"
    return exc.value.message


_INVALID = "One or more parameter values were invalid: "


@pytest.mark.parametrize(
    "schema",
    [
        _schema("HASH"),
        _schema("HASH", "HASH"),
        _schema("HASH", "RANGE", "RANGE"),
        _schema(*["HASH"] * 4, *["RANGE"] * 4),
    ],
)
def test_gsi_key_schemas_aws_accepts(schema):
    hashes, ranges = _parse(schema)
    assert [(n, "HASH") for n, _ in hashes] + [(n, "RANGE") for n, _ in ranges] == [
        (e["AttributeName"], e["KeyType"]) for e in schema
    ]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            _schema(*["HASH"] * 5),
            _INVALID + "The KeySchema exceeds the maximum allowed number of HASH key attributes",
        ),
        (
            _schema("HASH", *["RANGE"] * 5),
            _INVALID + "The KeySchema exceeds the maximum allowed number of RANGE key attributes",
        ),
        (
            _schema("HASH", "RANGE", "HASH"),
            _INVALID + "All HASH key attributes must precede RANGE key attributes in the KeySchema",
        ),
        (
            _schema("HASH", "HASH", "RANGE", names="aba"),
            "The KeySchema contains multiple key attributes with the same name",
        ),
        (
            _schema("HASH", "RANGE", names="aa"),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
        (
            _schema("RANGE", "HASH"),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
    ],
)
def test_gsi_key_schemas_aws_refuses(schema, expected):
    assert _error(_parse, schema) == expected


# --------------------------------------------------------------------------- key conditions

_H, _R = ["h1", "h2"], ["r1", "r2", "r3"]
_VALUES = {f":{n}": {"S": n} for n in ["h1", "h2", "r1", "r2", "r3", "x"]}


def _compile(text: str):
    used = {k: v for k, v in _VALUES.items() if k in text}
    return compile_multi_key_condition(text, ExpressionContext(None, used), _H, _R)


def test_conditions_in_any_order_reduce_to_a_prefix_and_a_last_comparison():
    kc = _compile("r2 > :r2 AND h2 = :h2 AND r1 = :r1 AND h1 = :h1")
    assert kc.hash_values == [{"S": "h1"}, {"S": "h2"}]
    assert kc.prefix == [{"S": "r1"}]
    assert (kc.range_op, kc.range_values) == (">", [{"S": "r2"}])
    kc = _compile("h1 = :h1 AND h2 = :h2")
    assert (kc.prefix, kc.range_op) == ([], None)


_GAP = (
    "RANGE key attributes {} must have equality conditions specified in the query because a "
    "condition is present on key attribute {}"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h1 = :h1 AND h2 = :h2 AND r2 = :r2", _GAP.format("r1", "r2")),
        ("h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r3 = :r3", _GAP.format("r2", "r3")),
        ("h1 = :h1 AND h2 = :h2 AND r1 > :r1 AND r2 = :r2", _GAP.format("r1", "r2")),
        ("h1 = :h1 AND h2 = :h2 AND begins_with(r1, :r1) AND r2 = :r2", _GAP.format("r1", "r2")),
        ("h1 = :h1 AND r1 = :r1", "Query condition missed key schema element: h2"),
        ("h1 = :h1 AND h2 > :h2", "Query key condition not supported"),
        ("h1 = :h1 AND h2 = :h2 AND x = :x", "Query key condition not supported"),
    ],
)
def test_key_conditions_aws_refuses(text, expected):
    assert _error(_compile, text) == expected


def test_legacy_key_conditions_follow_the_same_rules():
    def eq(v: str) -> dict:
        return {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": v}]}

    kc = legacy_multi_key_condition(
        {
            "h1": eq("a"),
            "h2": eq("b"),
            "r1": eq("c"),
            "r2": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "d"}]},
        },
        _H,
        _R,
    )
    assert (kc.prefix, kc.range_op) == ([{"S": "c"}], "begins_with")
    gap = {"h1": eq("a"), "h2": eq("b"), "r3": eq("c")}
    assert _error(legacy_multi_key_condition, gap, _H, _R) == _GAP.format("r1, r2", "r3")


def test_every_width_aws_allows_is_accepted():
    # 1-4 HASH x 0-4 RANGE attributes (DDB-TABLE-123).
    for nh, nr in itertools.product(range(1, 5), range(5)):
        names = [f"h{i}" for i in range(nh)] + [f"r{i}" for i in range(nr)]
        hashes, ranges = _parse(_schema(*["HASH"] * nh, *["RANGE"] * nr, names=names))
        assert (len(hashes), len(ranges)) == (nh, nr)
