"""Query key conditions, from a KeyConditionExpression or legacy KeyConditions.

A key condition is parsed and checked like any condition (so its syntax and
placeholder errors read ``Invalid KeyConditionExpression: ...``), then reduced
to at most one comparison per key: ``=`` on the partition key, and ``=``, ``<``,
``<=``, ``>``, ``>=``, BETWEEN or ``begins_with`` on the sort key. What cannot
be reduced gets DynamoDB's own messages, which carry no ``Invalid ...`` prefix
(``Invalid operator used in KeyConditionExpression: OR``). A literal on the
left (``:lo <= sk``) is turned around, as DynamoDB accepts it.

Given the key's attribute types, ``reduce_key_condition`` also refuses a value of another
type, where AWS does: before the partition key's operator (``:n > pk`` with a number against
a string key is a type mismatch, not an unsupported condition: dynalite's query.js
"mismatching param type"). A Query's ExclusiveStartKey checks run key attribute by key
attribute between these (``before``), which is AWS's order (dynalite's query.js: a bad
start key is refused before "Query condition missed key schema element").

The work comes in two halves because AWS answers in that order: ``parse_key_conditions``
and ``legacy_key_conditions`` need no table (a Query to a missing table still gets
their ValidationExceptions: dynalite's query.js), ``reduce_key_condition`` needs the
schema. The table-less half runs after ``check_unused``: AWS reports an unused
``#name`` before a condition naming two attributes (moto's AWS-verified
test_query_unused_attribute_name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.conditions import check_condition
from cloudlet.services.dynamodb.expressions.context import ExpressionContext
from cloudlet.services.dynamodb.expressions.legacy import checked_conditions
from cloudlet.services.dynamodb.expressions.parser import (
    Between,
    Compare,
    Func,
    In,
    Logic,
    Node,
    Path,
    Value,
    unwrap,
)
from cloudlet.services.dynamodb.values import AV

_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_INVALID_OPERATOR = "Invalid operator used in KeyConditionExpression: "
_INVALID_CONDITION = "Invalid condition in KeyConditionExpression: "


@dataclass
class KeyCondition:
    hash_value: AV
    range_op: str | None = None  # "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"
    range_values: list[AV] = field(default_factory=list)


Conditions = dict[str, tuple[str, list[AV]]]
"""Key attribute name -> (operator, values), in the order written."""


def compile_key_condition(
    text: str, ctx: ExpressionContext, hash_name: str, range_name: str | None
) -> KeyCondition:
    node = check_condition(text, ctx, "KeyConditionExpression")
    return reduce_key_condition(parse_key_conditions(node), hash_name, range_name, legacy=False)


def parse_key_conditions(node: Node) -> Conditions:
    """The conditions of a KeyConditionExpression ``check_condition`` compiled, checked as
    far as they can be without the key schema."""
    conditions: Conditions = {}
    collect_conditions(node, conditions)
    return conditions


def collect_conditions(node: Node, out: dict[str, tuple[str, list[AV]]]) -> None:
    """Every condition of ``node`` (ANDs of comparisons) as ``out[name] = (op, values)``,
    in the order written."""
    node = unwrap(node)
    t = type(node)
    if t is Logic:
        if node.op != "AND":
            raise errors.validation(_INVALID_OPERATOR + node.op)
        collect_conditions(node.left, out)
        collect_conditions(node.right, out)
        return
    if t is In:
        raise errors.validation(_INVALID_OPERATOR + "IN")
    if t is Compare and node.op == "<>":
        raise errors.validation(_INVALID_OPERATOR + "<>")
    if t is Func:
        name = node.name.text
        if name != "begins_with":
            if name == "size":
                raise errors.validation("KeyConditionExpressions cannot contain nested operations")
            raise errors.validation(_INVALID_OPERATOR + name)
        operands = [unwrap(a) for a in node.args]
        if type(operands[0]) is not Path:
            raise errors.validation(
                _INVALID_CONDITION + "begins_with operator must have the key attribute as its "
                "first operand"
            )
        op = "begins_with"
    elif t is Between:
        operands = [unwrap(n) for n in (node.operand, node.low, node.high)]
        if type(operands[0]) is not Path:
            raise errors.validation(
                _INVALID_CONDITION + "BETWEEN operator must have the key attribute as its "
                "first operand"
            )
        op = "BETWEEN"
    else:
        operands = [unwrap(node.left), unwrap(node.right)]
        op = node.op
    name = None
    values: list[AV] = []
    for i, operand in enumerate(operands):
        if type(operand) is Func:
            raise errors.validation("KeyConditionExpressions cannot contain nested operations")
        if type(operand) is Path:
            if name is not None:
                raise errors.validation(
                    _INVALID_CONDITION + "Multiple attribute names used in one condition"
                )
            if len(operand.path) > 1:
                raise errors.validation(
                    "KeyConditionExpressions cannot have conditions on nested attributes"
                )
            name = operand.path[0]
            if i == 1:
                op = _FLIP[op]
        elif type(operand) is Value:
            values.append(operand.av)
    if name is None:
        raise errors.validation(_INVALID_CONDITION + "No key attribute specified")
    if name in out:
        raise errors.validation(
            "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one "
            "condition per key"
        )
    out[name] = (op, values)


def reduce_key_condition(
    conditions: Conditions,
    hash_name: str,
    range_name: str | None,
    legacy: bool,
    *,
    types: dict[str, str] | None = None,
    before: Callable[[str], None] | None = None,
) -> KeyCondition:
    """The conditions against a single-attribute key schema (``legacy``: they came from
    KeyConditions, whose messages differ). ``types`` (key attribute name -> type) has the
    values' types checked; ``before`` is called with each key attribute's name before its
    conditions are checked."""
    if before is not None:
        before(hash_name)
    if len(conditions) > 2:
        if legacy:
            raise errors.validation("Conditions can be of length 1 or 2 only")
        raise errors.validation(
            f"The number of query conditions ({len(conditions)}) exceeds the number of key "
            f"attributes defined in the schema ({1 if range_name is None else 2})"
        )
    if range_name is None and len(conditions) > 1:
        raise errors.validation("Query key condition not supported")
    hash_cond = conditions.get(hash_name)
    if hash_cond is None:
        raise errors.validation(f"Query condition missed key schema element: {hash_name}")
    _check_operand(hash_name, hash_cond, legacy, types)
    if hash_cond[0] != "=":
        raise errors.validation("Query key condition not supported")
    result = KeyCondition(hash_value=hash_cond[1][0])
    if range_name is None:
        return result
    if before is not None:
        before(range_name)
    range_cond = conditions.get(range_name)
    if range_cond is None:
        if len(conditions) > 1:
            raise errors.validation(f"Query condition missed key schema element: {range_name}")
        return result
    _check_operand(range_name, range_cond, legacy, types)
    result.range_op, result.range_values = range_cond
    return result


def _check_operand(
    name: str, cond: tuple[str, list[AV]], legacy: bool, types: dict[str, str] | None
) -> None:
    """One key attribute's condition: an operator a key condition can use (KeyConditions
    can name others) and values of the attribute's type."""
    op, values = cond
    if legacy and op in NOT_INDEXABLE:
        raise errors.validation("Attempted conditional constraint is not an indexable operation")
    want = types.get(name) if types is not None else None
    if want is not None and any(want not in v for v in values):
        raise errors.invalid_parameter("Condition parameter type does not match schema type")


NOT_INDEXABLE = frozenset(("NULL", "NOT_NULL", "NE", "CONTAINS", "NOT_CONTAINS", "IN"))
LEGACY_OPS = {
    "EQ": "=",
    "LT": "<",
    "LE": "<=",
    "GT": ">",
    "GE": ">=",
    "BETWEEN": "BETWEEN",
    "BEGINS_WITH": "begins_with",
}


def legacy_key_condition(
    key_conditions: dict, hash_name: str, range_name: str | None
) -> KeyCondition:
    """Query's legacy ``KeyConditions`` (ComparisonOperator + AttributeValueList per key)."""
    conditions = legacy_key_conditions(key_conditions)
    return reduce_key_condition(conditions, hash_name, range_name, legacy=True)


def legacy_key_conditions(key_conditions: dict) -> Conditions:
    """KeyConditions checked as far as they can be without the key schema, with the
    expression operators."""
    checked = checked_conditions(key_conditions, "keyConditions")
    return {name: (LEGACY_OPS.get(op, op), values) for name, (op, values) in checked.items()}
