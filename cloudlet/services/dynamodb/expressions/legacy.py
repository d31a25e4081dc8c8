"""The legacy conditional parameters old clients (boto 2, early SDKs) still send.

``Expected``, ``QueryFilter``/``ScanFilter``, ``KeyConditions`` (see ``keys``),
``AttributeUpdates`` and ``AttributesToGet`` (see ``projection``) predate
expressions; DynamoDB still serves them, with a ComparisonOperator and an
AttributeValueList per top-level attribute, joined by ``ConditionalOperator``
(AND unless OR). They compile to the same ``Condition``/``Update`` objects as
expressions, and their validation messages are DynamoDB's.

Operators: EQ/NE on any type, lists, maps and BOOL included (a type mismatch is
unequal, a missing attribute is "not equal"); LE/LT/GE/GT/BETWEEN on S, N, B;
NULL/NOT_NULL test existence; CONTAINS/NOT_CONTAINS look for a substring, set
member or list element (both false for a missing attribute, as AWS answers
``Expected``); BEGINS_WITH a prefix; IN any of a list. An operand of another
type is a ValidationException in ``Expected`` as in the filters, never a failed
condition.
"""

from __future__ import annotations

from collections.abc import Callable

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.conditions import Condition
from cloudlet.services.dynamodb.expressions.ordering import (
    begins_with,
    compare,
    contains,
    equals,
    type_of,
)
from cloudlet.services.dynamodb.expressions.update import Update
from cloudlet.services.dynamodb.values import AV, TYPES, check_name, validate_value

OPERATORS = (
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
)
_ARGS = {"NULL": 0, "NOT_NULL": 0, "BETWEEN": 2, "IN": None}  # None: one or more; default 1
_SCALARS = ("S", "N", "B")
_ALLOWED = {"EQ": TYPES, "NE": TYPES, "BEGINS_WITH": ("S", "B")}
"""Operand types per operator (others take ``_SCALARS``). AWS's Condition reference lists
only scalars and sets for EQ's AttributeValueList, but DynamoDB matches lists, maps and
BOOL with EQ/NE too (ScyllaDB Alternator's test_query_filter_eq, run against AWS)."""
_ACTIONS = ("ADD", "PUT", "DELETE")


def _invalid(detail: str) -> Exception:
    return errors.invalid_parameter(detail)


def _enum(value: object, where: str, allowed: tuple[str, ...]) -> Exception:
    shown = "null" if value is None else f"'{value}'"
    constraint = (
        "Member must not be null"
        if value is None
        else f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    )
    return errors.validation(
        f"1 validation error detected: Value {shown} at '{where}' failed to satisfy constraint: "
        f"{constraint}"
    )


def _check_values(op: str, values: list[AV]) -> list[AV]:
    """Count, same-type and BETWEEN-range checks shared by every legacy condition."""
    checked = [validate_value(v) for v in values]
    wanted = _ARGS.get(op, 1)
    if (len(checked) == 0) if wanted is None else (len(checked) != wanted):
        raise _invalid(f"Invalid number of argument(s) for the {op} ComparisonOperator")
    if checked:
        first = type_of(checked[0])
        if any(type_of(v) != first for v in checked):
            raise _invalid("AttributeValues inside AttributeValueList must be of same type")
    return checked


def _check_between(op: str, values: list[AV]) -> None:
    if op == "BETWEEN" and (compare(values[0], values[1]) or 0) > 0:
        raise errors.validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than "
            "the upper bound"
        )


def _check_operands(op: str, values: list[AV]) -> None:
    allowed = _ALLOWED.get(op, _SCALARS)
    for value in values:
        if type_of(value) not in allowed:
            raise _invalid(
                f"ComparisonOperator {op} is not valid for {type_of(value)} AttributeValue type"
            )


def checked_conditions(conditions: dict, parameter: str) -> dict[str, tuple[str, list[AV]]]:
    """Validate a KeyConditions/QueryFilter/ScanFilter map: name -> (operator, values)."""
    out: dict[str, tuple[str, list[AV]]] = {}
    for name, condition in conditions.items():
        op = condition.get("ComparisonOperator")
        if op not in OPERATORS:
            raise _enum(op, f"{parameter}.{name}.member.comparisonOperator", OPERATORS)
        values = _check_values(op, list(condition.get("AttributeValueList") or []))
        _check_operands(op, values)
        _check_between(op, values)
        out[name] = (op, values)
    return out


def _checked_expected(expected: dict) -> dict[str, tuple[str, list[AV]]]:
    out: dict[str, tuple[str, list[AV]]] = {}
    for name, condition in expected.items():
        value = condition.get("Value")
        value_list = condition.get("AttributeValueList")
        if value is not None and value_list is not None:
            raise _invalid(
                f"Value and AttributeValueList cannot be used together for Attribute: {name}"
            )
        op = condition.get("ComparisonOperator")
        exists = condition.get("Exists")
        if op is not None:
            if op not in OPERATORS:
                raise _enum(op, f"expected.{name}.member.comparisonOperator", OPERATORS)
            if exists is not None:
                raise _invalid(
                    f"Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                )
            if op not in ("NULL", "NOT_NULL") and value is None and value_list is None:
                raise _invalid(
                    f"Value or AttributeValueList must be used with ComparisonOperator: {op} "
                    f"for Attribute: {name}"
                )
            values = _check_values(
                op,
                list(value_list)
                if value_list is not None
                else ([value] if value is not None else []),
            )
            _check_operands(op, values)
            _check_between(op, values)
            out[name] = (op, values)
        elif value_list is not None:
            raise _invalid(
                "AttributeValueList can only be used with a ComparisonOperator for "
                f"Attribute: {name}"
            )
        elif exists is None or exists:
            if value is None:
                shown = "null" if exists is None else "true"
                raise _invalid(
                    f"Value must be provided when Exists is {shown} for Attribute: {name}"
                )
            out[name] = ("EQ", [validate_value(value)])
        else:
            if value is not None:
                raise _invalid(f"Value cannot be used when Exists is false for Attribute: {name}")
            out[name] = ("NULL", [])
    return out


# --------------------------------------------------------------------------- evaluation

Test = Callable[[AV | None], bool]


def _test(op: str, values: list[AV]) -> Test:
    if op == "NULL":
        return lambda v: v is None
    if op == "NOT_NULL":
        return lambda v: v is not None
    if op == "IN":
        return lambda v: v is not None and any(equals(v, o) for o in values)
    if op == "BETWEEN":
        low, high = values

        def between(v: AV | None) -> bool:
            if v is None:
                return False
            a, b = compare(v, low), compare(v, high)
            return a is not None and b is not None and a >= 0 and b <= 0

        return between
    operand = values[0]
    if op == "EQ":
        return lambda v: v is not None and equals(v, operand)
    if op == "NE":
        return lambda v: v is None or not equals(v, operand)
    if op == "CONTAINS":
        return lambda v: v is not None and contains(v, operand)
    if op == "NOT_CONTAINS":
        return lambda v: v is not None and not contains(v, operand)
    if op == "BEGINS_WITH":
        return lambda v: v is not None and begins_with(v, operand)
    accept = {"LT": (-1,), "LE": (-1, 0), "GT": (1,), "GE": (1, 0)}[op]
    return lambda v: v is not None and compare(v, operand) in accept


def _joined(
    conditions: dict[str, tuple[str, list[AV]]], conditional_operator: str | None
) -> Condition:
    _check_conditional_operator(conditional_operator, len(conditions))
    tests = [(name, _test(op, values)) for name, (op, values) in conditions.items()]
    if conditional_operator == "OR" and tests:
        return Condition(lambda item: any(test(item.get(name)) for name, test in tests))
    return Condition(lambda item: all(test(item.get(name)) for name, test in tests))


def _check_conditional_operator(conditional_operator: str | None, count: int) -> None:
    """AWS's rules for ConditionalOperator: AND or OR, joining two or more conditions
    (the wording of AWS's DAX client validator and DynamoDB Local, which extenddb's
    tests assert against DynamoDB)."""
    if conditional_operator is None:
        return
    if conditional_operator not in ("AND", "OR"):
        raise _enum(conditional_operator, "conditionalOperator", ("OR", "AND"))
    if count == 0:
        raise errors.validation("ConditionalOperator cannot be used without Filter or Expected")
    if count == 1:
        raise errors.validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
        )


def legacy_condition(expected: dict, conditional_operator: str | None) -> Condition:
    """``Expected`` of PutItem/UpdateItem/DeleteItem (Value/Exists or ComparisonOperator form)."""
    return _joined(_checked_expected(expected), conditional_operator)


def legacy_filter(
    filters: dict, conditional_operator: str | None, parameter: str = "scanFilter"
) -> Condition:
    """``QueryFilter`` / ``ScanFilter`` (``parameter`` names it in enum errors)."""
    return _joined(checked_conditions(filters, parameter), conditional_operator)


def legacy_update(attribute_updates: dict) -> Update:
    """``AttributeUpdates`` of UpdateItem: PUT, ADD and DELETE per top-level attribute."""
    steps = []
    for name, update in attribute_updates.items():
        check_name(name)
        action = update.get("Action") or "PUT"
        if action not in _ACTIONS:
            raise _enum(action, f"attributeUpdates.{name}.member.action", _ACTIONS)
        value = update.get("Value")
        if value is not None:
            value = validate_value(value)
        if value is None and action != "DELETE":
            raise _invalid("Only DELETE action is allowed when no attribute value is specified")
        t = type_of(value) if value is not None else ""
        if action == "DELETE" and value is not None and t not in ("SS", "NS", "BS"):
            raise _invalid(f"DELETE action with value is not supported for the type {t}")
        if action == "ADD" and t not in ("L", "SS", "NS", "BS", "N"):
            raise _invalid(f"ADD action is not supported for the type {t}")
        if action == "PUT":
            steps.append(("PUT", (name,), _const(value)))
        elif action == "ADD":
            steps.append(("LEGACY_ADD", (name,), _const(value)))
        elif value is None:
            steps.append(("REMOVE", (name,), None))
        else:
            steps.append(("LEGACY_DELETE", (name,), _const(value)))
    return Update([(name,) for name in attribute_updates], steps)


def _const(value: AV) -> Callable[[dict], AV]:
    return lambda item: value
