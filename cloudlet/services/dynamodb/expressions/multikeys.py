"""Query key conditions on a GSI whose key has several HASH or RANGE attributes.

Why a reduction of its own: with a multi-attribute key (AWS, November 2025) a key
condition names every partition attribute with ``=`` and then a run of sort attributes
from the first one on, all ``=`` but the last, which may also be ``<``, ``<=``, ``>``,
``>=``, BETWEEN or ``begins_with`` (developer guide, GSI.DesignPattern.MultiAttributeKeys:
"Query Global Secondary Index sort keys left-to-right", "Use inequality conditions on
Global Secondary Index sort keys"). The clauses may come in any order
(paritysuite/dynamodb-conformance, tests/tier1/query/multiAttributeGsiKey.test.ts,
verified against AWS in October 2026).

Texts: a gap in the sort attributes, or a range condition before the last one named, is
AWS's "RANGE key attributes <a> must have equality conditions specified in the query
because a condition is present on key attribute <b>" (the same conformance test; the
guide's example output still reads "Query key condition not supported"). A missing
partition attribute, a partition attribute compared other than with ``=`` and a condition
on an attribute outside the key keep the single-attribute texts ("Query condition missed
key schema element: <name>", "Query key condition not supported"): AWS's wording for
those on a multi-attribute key is not captured, and neither is the list AWS gives when
several sort attributes are missing (here: all of them, comma-separated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.conditions import check_condition
from cloudlet.services.dynamodb.expressions.context import ExpressionContext
from cloudlet.services.dynamodb.expressions.keys import (
    NOT_INDEXABLE,
    Conditions,
    legacy_key_conditions,
    parse_key_conditions,
)
from cloudlet.services.dynamodb.values import AV


@dataclass
class MultiKeyCondition:
    """A key condition reduced against a multi-attribute key."""

    hash_values: list[AV]
    """One value per HASH attribute, in KeySchema order."""
    prefix: list[AV] = field(default_factory=list)
    """Equalities on the RANGE attributes before the last one conditioned."""
    range_op: str | None = None
    """The last RANGE attribute's operator (``=`` too); None: no sort condition."""
    range_values: list[AV] = field(default_factory=list)


def compile_multi_key_condition(
    text: str, ctx: ExpressionContext, hash_names: list[str], range_names: list[str]
) -> MultiKeyCondition:
    """A KeyConditionExpression against a multi-attribute key."""
    node = check_condition(text, ctx, "KeyConditionExpression")
    return reduce_multi_key_condition(parse_key_conditions(node), hash_names, range_names)


def reduce_multi_key_condition(
    conditions: Conditions, hash_names: list[str], range_names: list[str], legacy: bool = False
) -> MultiKeyCondition:
    """Conditions (``parse_key_conditions``, or ``legacy_key_conditions`` with ``legacy``)
    against a multi-attribute key."""
    if legacy:
        return _reduce(conditions, hash_names, range_names, legacy=True)
    total = len(hash_names) + len(range_names)
    if len(conditions) > total:
        raise errors.validation(
            f"The number of query conditions ({len(conditions)}) exceeds the number of key "
            f"attributes defined in the schema ({total})"
        )
    return _reduce(conditions, hash_names, range_names, legacy=False)


def legacy_multi_key_condition(
    key_conditions: dict, hash_names: list[str], range_names: list[str]
) -> MultiKeyCondition:
    """Query's legacy ``KeyConditions`` against a multi-attribute key."""
    conditions = legacy_key_conditions(key_conditions)
    return reduce_multi_key_condition(conditions, hash_names, range_names, legacy=True)


def _reduce(
    conditions: Conditions, hash_names: list[str], range_names: list[str], legacy: bool
) -> MultiKeyCondition:
    _check_operators(conditions, hash_names, range_names, legacy)
    for name in hash_names:
        if name not in conditions:
            raise errors.validation(f"Query condition missed key schema element: {name}")
    keys = {*hash_names, *range_names}
    if any(name not in keys for name in conditions):
        raise errors.validation("Query key condition not supported")
    named = _check_left_to_right(conditions, range_names)
    result = MultiKeyCondition(hash_values=[conditions[n][1][0] for n in hash_names])
    if named:
        result.prefix = [conditions[n][1][0] for n in named[:-1]]
        result.range_op, result.range_values = conditions[named[-1]]
    return result


def _check_operators(
    conditions: Conditions, hash_names: list[str], range_names: list[str], legacy: bool
) -> None:
    """In the order written: a partition attribute takes ``=`` only; legacy operators that
    no key condition can use are refused on any key attribute."""
    for name, (op, _values) in conditions.items():
        if name not in hash_names and name not in range_names:
            continue
        if legacy and op in NOT_INDEXABLE:
            raise errors.validation(
                "Attempted conditional constraint is not an indexable operation"
            )
        if name in hash_names and op != "=":
            raise errors.validation("Query key condition not supported")


def _check_left_to_right(conditions: Conditions, range_names: list[str]) -> list[str]:
    """The RANGE attributes conditioned, which must be a leading run of the sort key with
    ``=`` on all but the last (AWS's text for the first attribute that breaks the rule)."""
    for j, later in enumerate(range_names):
        if later not in conditions:
            continue
        missing = [n for n in range_names[:j] if conditions.get(n, ("",))[0] != "="]
        if missing:
            raise errors.validation(
                f"RANGE key attributes {', '.join(missing)} must have equality conditions "
                f"specified in the query because a condition is present on key attribute {later}"
            )
    return [n for n in range_names if n in conditions]
