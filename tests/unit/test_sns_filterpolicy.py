"""SNS filter policies compiled and matched without HTTP: every operator, both
scopes, ``$or``, String.Array attributes and AWS's validation and limits."""

from __future__ import annotations

import json

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.sns.filterpolicy import compile_policy


def attrs(**values) -> dict:
    out = {}
    for name, value in values.items():
        if isinstance(value, list):
            out[name] = {"Type": "String.Array", "Value": json.dumps(value)}
        elif isinstance(value, int | float):
            out[name] = {"Type": "Number", "Value": str(value)}
        else:
            out[name] = {"Type": "String", "Value": value}
    return out


def match(policy: dict, attributes: dict | None = None, body: object = None, scope=None) -> bool:
    compiled = compile_policy(json.dumps(policy), scope or "MessageAttributes")
    return compiled.matches(attributes or {}, json.dumps(body) if body is not None else "text")


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"),
    [
        ({"color": ["red", "blue"]}, attrs(color="red"), True),
        ({"color": ["red", "blue"]}, attrs(color="green"), False),
        ({"color": ["red"]}, attrs(size="red"), False),
        ({"price": [100]}, attrs(price=100.0), True),
        ({"price": [100]}, attrs(price="100"), False),
        ({"color": [{"prefix": "re"}]}, attrs(color="red"), True),
        ({"color": [{"prefix": "re"}]}, attrs(color="bred"), False),
        ({"color": [{"suffix": "ed"}]}, attrs(color="red"), True),
        ({"color": [{"equals-ignore-case": "RED"}]}, attrs(color="Red"), True),
        ({"color": [{"anything-but": ["red", "blue"]}]}, attrs(color="green"), True),
        ({"color": [{"anything-but": ["red", "blue"]}]}, attrs(color="red"), False),
        ({"color": [{"anything-but": "red"}]}, {}, False),
        ({"color": [{"anything-but": {"prefix": "r"}}]}, attrs(color="red"), False),
        ({"color": [{"anything-but": {"prefix": "r"}}]}, attrs(color="blue"), True),
        ({"color": [{"anything-but": {"suffix": "e"}}]}, attrs(color="blue"), False),
        ({"price": [{"anything-but": [100, 200]}]}, attrs(price=150), True),
        ({"price": [{"numeric": [">", 0, "<=", 150]}]}, attrs(price=150), True),
        ({"price": [{"numeric": [">", 0, "<=", 150]}]}, attrs(price=150.5), False),
        ({"price": [{"numeric": ["=", 3.5]}]}, attrs(price=3.5), True),
        ({"price": [{"numeric": [">=", 10]}]}, attrs(price=9), False),
        ({"color": [{"exists": True}]}, attrs(color="x"), True),
        ({"color": [{"exists": True}]}, {}, False),
        ({"color": [{"exists": False}]}, {}, True),
        ({"color": [{"exists": False}]}, attrs(color="x"), False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, attrs(ip="10.0.0.7"), True),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, attrs(ip="10.0.1.7"), False),
        ({"tags": ["b"]}, attrs(tags=["a", "b"]), True),
        ({"tags": ["c"]}, attrs(tags=["a", "b"]), False),
        ({"tags": [3]}, attrs(tags=[1, 3]), True),
        ({"color": ["red"], "size": ["L"]}, attrs(color="red", size="L"), True),
        ({"color": ["red"], "size": ["L"]}, attrs(color="red", size="M"), False),
        ({"$or": [{"color": ["red"]}, {"size": ["L"]}]}, attrs(size="L"), True),
        ({"$or": [{"color": ["red"]}, {"size": ["L"]}]}, attrs(size="S"), False),
        (
            {"kind": ["x"], "$or": [{"color": ["red"]}, {"size": ["L"]}]},
            attrs(kind="x", color="red"),
            True,
        ),
        (
            {"kind": ["y"], "$or": [{"color": ["red"]}, {"size": ["L"]}]},
            attrs(kind="x", color="red"),
            False,
        ),
    ],
)
def test_attribute_scope(policy, attributes, expected):
    assert match(policy, attributes) is expected


def test_binary_attributes_only_count_for_exists():
    binary = {"blob": {"Type": "Binary", "Value": "AAE="}}
    assert match({"blob": [{"exists": True}]}, binary)
    assert not match({"blob": ["AAE="]}, binary)


@pytest.mark.parametrize(
    ("policy", "body", "expected"),
    [
        ({"store": ["example"]}, {"store": "example"}, True),
        (
            {"customer": {"interests": ["baseball"]}},
            {"customer": {"interests": ["a", "baseball"]}},
            True,
        ),
        (
            {"customer": {"interests": ["golf"]}},
            {"customer": {"interests": ["a", "baseball"]}},
            False,
        ),
        ({"order": {"total": [{"numeric": [">", 10]}]}}, {"order": {"total": 12.5}}, True),
        ({"items": {"sku": [{"prefix": "A"}]}}, {"items": [{"sku": "B1"}, {"sku": "A2"}]}, True),
        ({"flag": [True]}, {"flag": True}, True),
        ({"flag": [True]}, {"flag": "true"}, False),
        ({"missing": [None]}, {"missing": None}, True),
        ({"a": {"b": [{"exists": False}]}}, {"a": {"c": 1}}, True),
        ({"a": {"b": [{"exists": True}]}}, {"a": {"c": 1}}, False),
        ({"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}, {"b": {"c": "2"}}, True),
    ],
)
def test_message_body_scope(policy, body, expected):
    assert match(policy, body=body, scope="MessageBody") is expected


def test_message_body_scope_needs_a_json_object():
    policy = compile_policy(json.dumps({"a": ["1"]}), "MessageBody")
    assert not policy.matches({}, "not json")
    assert not policy.matches({}, "[1, 2]")


@pytest.mark.parametrize(
    ("policy", "scope", "message"),
    [
        ("{", "MessageAttributes", "failed to parse JSON"),
        ('["a"]', "MessageAttributes", "must be a JSON object"),
        ('{"a": "x"}', "MessageAttributes", '"a" must be an object or an array'),
        ('{"a": {"b": ["x"]}}', "MessageAttributes", "does not support nested filter policy"),
        ('{"a": []}', "MessageAttributes", "Empty arrays are not allowed"),
        ('{"a": [{"wildcard": "x"}]}', "MessageAttributes", "Unrecognized match type wildcard"),
        ('{"a": [{"prefix": 1}]}', "MessageAttributes", "prefix match pattern must be a string"),
        ('{"a": [{"exists": "yes"}]}', "MessageAttributes", "exists match pattern must be"),
        ('{"a": [{"numeric": [">", "x"]}]}', "MessageAttributes", "Value of > must be numeric"),
        ('{"a": [{"numeric": ["~", 1]}]}', "MessageAttributes", "Unrecognized numeric range"),
        ('{"a": [{"numeric": ["<", 5, ">", 1]}]}', "MessageAttributes", "Bad numeric range"),
        ('{"a": [{"cidr": "10.0.0.0"}]}', "MessageAttributes", "Malformed CIDR"),
        ('{"a": [{"anything-but": {"x": 1}}]}', "MessageAttributes", "Unsupported anything-but"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "MessageAttributes", "Only one key"),
        ('{"$or": [{"a": ["1"]}]}', "MessageAttributes", "$or"),
    ],
)
def test_invalid_policies(policy, scope, message):
    with pytest.raises(ServiceError) as exc:
        compile_policy(policy, scope)
    assert exc.value.code == "InvalidParameter"
    assert exc.value.message.startswith("Invalid parameter: ")
    assert message in exc.value.message


def test_complexity_limits():
    six_keys = {f"k{i}": ["v"] for i in range(6)}
    with pytest.raises(ServiceError) as exc:
        compile_policy(json.dumps(six_keys))
    assert exc.value.message == (
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    )
    compile_policy(json.dumps({f"k{i}": ["v"] for i in range(5)}))
    # 10 * 10 * 2 = 200 combinations > 150
    big = {"a": [str(i) for i in range(10)], "b": [str(i) for i in range(10)], "c": ["x", "y"]}
    with pytest.raises(ServiceError) as exc:
        compile_policy(json.dumps(big))
    assert exc.value.message == "Invalid parameter: FilterPolicy: Filter policy is too complex"
    compile_policy(json.dumps({"a": [str(i) for i in range(10)], "b": [str(i) for i in range(15)]}))
    # $or branches add up: 2 branches of 80 each = 160 > 150
    branch = lambda k: {k: [str(i) for i in range(8)], k + "2": [str(i) for i in range(10)]}  # noqa: E731
    with pytest.raises(ServiceError):
        compile_policy(json.dumps({"$or": [branch("a"), branch("b")]}))
    # keys of an $or branch add to the siblings' keys
    with pytest.raises(ServiceError):
        compile_policy(
            json.dumps(
                {
                    "a": ["1"],
                    "b": ["1"],
                    "c": ["1"],
                    "$or": [{"d": ["1"], "e": ["1"], "f": ["1"]}, {"g": ["1"]}],
                }
            )
        )
