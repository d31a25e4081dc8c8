"""Statements to DynamoDB requests, once the table's key schema is known.

This is where PartiQL meets the one engine: every statement becomes the
parameters of an ordinary operation, so conditions, updates, sizes, indexes,
streams and capacity behave exactly as they do through the item API.

- INSERT: PutItem with ``attribute_not_exists(<hash key>)`` (a clash becomes
  ``DuplicateItemException``).
- UPDATE: UpdateItem with ``attribute_exists(<hash key>)`` and the rest of the
  WHERE as the condition (an UPDATE never creates an item).
- DELETE: DeleteItem with the rest of the WHERE as the condition.
- EXISTS(SELECT ...): a ConditionCheck (transactions only).
- SELECT: a Query when the WHERE pins the partition key with ``=`` (or ``IN``,
  or an ``OR`` of ``=``; one Query per value), the first sort-key condition
  DynamoDB can use as its key condition, the rest as FilterExpression;
  otherwise a Scan with the whole WHERE as filter, as AWS does. On ``"t"."index"``
  the index's projection decides what it may ask for and filter on, and an LSI reads
  the table for the rest (``_index_reads``).

Writes must name the whole primary key with ``=`` in the WHERE, as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from cloudlet.services.dynamodb import errors, paths
from cloudlet.services.dynamodb.partiql.bind import Binder, is_value
from cloudlet.services.dynamodb.partiql.nodes import (
    AV,
    And,
    Between,
    Call,
    Compare,
    Delete,
    Exists,
    In,
    Insert,
    Node,
    Or,
    Path,
    Select,
    Statement,
    Update,
)
from cloudlet.services.dynamodb.partiql.render import Builder
from cloudlet.services.dynamodb.tables import Index, Table
from cloudlet.services.dynamodb.values import key_bytes

Item = dict[str, AV]

RETURN_VALUES = {
    "ALL OLD": "ALL_OLD",
    "MODIFIED OLD": "UPDATED_OLD",
    "ALL NEW": "ALL_NEW",
    "MODIFIED NEW": "UPDATED_NEW",
}
_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
OVERLAPPING = "Overlapping conditions with range keys are not supported in where clause"


@dataclass
class WritePlan:
    """One item write (or condition check) as the parameters of the item operation."""

    kind: str  # "Put", "Update", "Delete", "ConditionCheck"
    table: Table
    request: dict[str, Any]
    key: Item | None


@dataclass
class ReadPlan:
    """A SELECT as a Scan, or as one Query per partition-key value."""

    table: Table
    index: Index | None
    projection: tuple[Path, ...] | None
    request: dict[str, Any]
    hash_values: list[AV] | None = None
    """None: a Scan; else Query ``request`` once per value, in this order."""
    post_filter: tuple[str, dict[str, str], dict[str, AV]] | None = None
    """A filter the request cannot carry, evaluated by the expression engine on the items
    it reads: one that names a key attribute (a Query's FilterExpression may not), or an
    attribute the index of an unkeyed read does not hold."""
    held: set[str] | None = None
    """The attributes ``post_filter`` may see (None: all the items read hold): an index
    row's, when an LSI's items were read from the table for the projection."""
    key: Item | None = None
    """The primary key, when the WHERE is exactly ``=`` on every key attribute of the table."""
    conditions: bool = False
    """Whether the WHERE holds anything beyond equalities on the key."""

    def query(self, i: int) -> dict[str, Any]:
        req = dict(self.request)
        if self.hash_values is not None:
            values = dict(req["ExpressionAttributeValues"])
            values[":k0"] = self.hash_values[i]
            req["ExpressionAttributeValues"] = values
        return req


def conjuncts(where: Node | None) -> list[Node]:
    if where is None:
        return []
    if isinstance(where, And):
        out: list[Node] = []
        for item in where.items:
            out += conjuncts(item)
        return out
    return [where]


def _top(node: Node, names: tuple[str, ...]) -> str | None:
    if isinstance(node, Path) and len(node.steps) == 1 and node.name in names:
        return node.name
    return None


def key_equality(node: Node, names: tuple[str, ...]) -> tuple[str, Node] | None:
    """``key = value`` (either way round, or ``key IN [value]``) on one of ``names``."""
    if isinstance(node, Compare) and node.op == "=":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            name = _top(a, names)
            if name is not None and is_value(b):
                return name, b
    if isinstance(node, In) and not node.negated and isinstance(node.items, tuple):
        name = _top(node.value, names)
        if name is not None and len(node.items) == 1 and is_value(node.items[0]):
            return name, node.items[0]
    return None


def check_key_type(table: Table, name: str, value: AV) -> None:
    if table.attributes.get(name) not in value:
        raise errors.validation(
            f"Key attribute's data type should match its data type in table's schema: Key {name}"
        )


def split_key(
    table: Table, where: Node | None, binder: Binder
) -> tuple[Item, list[Node], str | None]:
    """The table key a WHERE pins with ``=``, the other conjuncts, and a key pinned twice
    to different values (that conjunct stays among the others)."""
    pinned: Item = {}
    rest: list[Node] = []
    conflict = None
    for node in conjuncts(where):
        eq = key_equality(node, table.key_names)
        if eq is None:
            rest.append(node)
            continue
        name, value_node = eq
        value = binder.value(value_node)
        check_key_type(table, name, value)
        if name in pinned:
            if pinned[name] != value:
                conflict = conflict or name
                rest.append(node)
            continue
        pinned[name] = value
    return pinned, rest, conflict


def write_key(table: Table, where: Node | None, binder: Binder) -> tuple[Item, list[Node]]:
    key, rest, conflict = split_key(table, where, binder)
    if conflict is not None:
        raise errors.validation(
            f"Multiple conditions on same key {conflict}. Only single item "
            "Update/Insert/Delete are supported"
        )
    if len(key) != len(table.key_names):
        raise errors.validation(
            "Where clause does not contain a mandatory equality on all key attributes"
        )
    return key, rest


def _condition(builder: Builder, guard: str | None, rest: list[Node]) -> str | None:
    parts = [guard] if guard else []
    if rest:
        parts.append(builder.condition(And(tuple(rest)), "and" if guard else "top"))
    return " AND ".join(parts) if parts else None


# --------------------------------------------------------------------------- writes


def plan_write(stmt: Statement, table: Table, binder: Binder) -> WritePlan:
    """INSERT, UPDATE, DELETE or EXISTS as item-operation parameters."""
    b = Builder(binder)
    req: dict[str, Any] = {"TableName": table.name}
    if isinstance(stmt, Insert):
        item = binder.item(stmt.item)
        req["Item"] = item
        req["ConditionExpression"] = f"attribute_not_exists({b.name(table.hash[0])})"
        key = {n: item[n] for n in table.key_names if n in item}
        return WritePlan("Put", table, b.into(req), key)
    if isinstance(stmt, Update):
        key, rest = write_key(table, stmt.where, binder)
        req["Key"] = key
        req["UpdateExpression"] = b.update(stmt.actions)
        guard = f"attribute_exists({b.name(table.hash[0])})"
        req["ConditionExpression"] = _condition(b, guard, rest)
        if stmt.returning:
            req["ReturnValues"] = RETURN_VALUES[stmt.returning]
        return WritePlan("Update", table, b.into(req), key)
    if isinstance(stmt, Delete):
        key, rest = write_key(table, stmt.where, binder)
        req["Key"] = key
        cond = _condition(b, None, rest)
        if cond is not None:
            req["ConditionExpression"] = cond
        if stmt.returning:
            req["ReturnValues"] = "ALL_OLD"
        return WritePlan("Delete", table, b.into(req), key)
    if isinstance(stmt, Exists):
        select = stmt.select
        if select.index is not None:
            raise errors.validation("Operations on indices are not supported in transactions")
        key, rest, _ = split_key(table, select.where, binder)
        if len(key) != len(table.key_names) or not rest:
            raise errors.validation(
                "EXISTS() must contain a single item read with additional condition"
            )
        req["Key"] = key
        req["ConditionExpression"] = _condition(
            b, f"attribute_exists({b.name(table.hash[0])})", rest
        )
        return WritePlan("ConditionCheck", table, b.into(req), key)
    raise errors.validation(
        "Invalid operation. Only select, insert, update and delete operations are valid"
    )


# --------------------------------------------------------------------------- reads


def _hash_values(node: Node, name: str) -> list[Node] | None:
    """The partition-key values ``node`` allows: ``= v``, ``IN [..]`` or ``= a OR = b``."""
    eq = key_equality(node, (name,))
    if eq is not None:
        return [eq[1]]
    if isinstance(node, In) and not node.negated and isinstance(node.items, tuple):
        if _top(node.value, (name,)) and node.items and all(is_value(n) for n in node.items):
            return list(node.items)
    if isinstance(node, Or):
        out: list[Node] = []
        for item in node.items:
            vals = _hash_values(item, name)
            if vals is None:
                return None
            out += vals
        return out
    return None


def _range_condition(node: Node, name: str, kb: Builder) -> tuple[str, list[Node]] | None:
    """Key-condition text for a sort-key condition DynamoDB accepts there, and its values."""
    if isinstance(node, Compare) and node.op in _FLIP:
        for a, b, op in ((node.left, node.right, node.op), (node.right, node.left, _FLIP[node.op])):
            if _top(a, (name,)) and is_value(b):
                return f"{kb.name(name)} {op} {kb.operand(b)}", [b]
    if isinstance(node, Between) and not node.negated and _top(node.value, (name,)):
        if is_value(node.low) and is_value(node.high):
            text = f"{kb.name(name)} BETWEEN {kb.operand(node.low)} AND {kb.operand(node.high)}"
            return text, [node.low, node.high]
    if isinstance(node, Call) and node.name == "begins_with" and len(node.args) == 2:
        target, prefix = node.args
        if _top(target, (name,)) and is_value(prefix):
            return f"begins_with({kb.name(name)}, {kb.operand(prefix)})", [prefix]
    return None


def _mentions(node: Node, names: set[str]) -> bool:
    """Whether any path in ``node`` starts at one of ``names``."""
    heads: list[str] = []
    _heads(node, heads)
    return not names.isdisjoint(heads)


def _heads(node: Node, out: list[str]) -> None:
    """Append the attribute each path in ``node`` starts at."""
    if isinstance(node, Path):
        out.append(node.name)
        return
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        for c in value if isinstance(value, tuple) else (value,):
            if isinstance(c, Node):
                _heads(c, out)


MULTI_ATTRIBUTE_INDEX = (
    "PartiQL statements cannot be executed on tables with multi-attribute HASH keys or "
    "multi-attribute RANGE keys."
)
"""AWS's answer to a SELECT on a GSI whose key has several HASH or RANGE attributes: the
refusal follows the index (the table, its other indexes and its writes still run), whatever
its wording says (paritysuite/dynamodb-conformance,
tests/tier3/error-messages/partiqlMultiAttributeIndex.test.ts, verified against AWS in
October 2026)."""


def _index(table: Table, name: str) -> Index:
    """The index a ``"table"."index"`` names; unlike Query's, AWS's PartiQL message for an
    unknown one does not name it."""
    for ix in table.indexes:
        if ix.name == name:
            return ix
    raise errors.validation("The table does not have the specified index")


def plan_select(stmt: Select, table: Table, binder: Binder) -> ReadPlan:
    labels = [p.label() for p in stmt.projection or ()]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise errors.validation(f"Duplicate identifiers in select clause: {label}")
    index = _index(table, stmt.index) if stmt.index is not None else None
    if index is not None and index.multi:
        raise errors.validation(MULTI_ATTRIBUTE_INDEX)
    target = index if index is not None else table
    hash_name = target.hash[0]
    range_name = target.range[0] if target.range else None
    parts = conjuncts(stmt.where)

    req: dict[str, Any] = {"TableName": table.name}
    if index is not None:
        req["IndexName"] = index.name
    plan = ReadPlan(table, index, stmt.projection, req)

    key, rest, conflict = split_key(table, stmt.where, binder) if index is None else ({}, [], None)
    if index is None and conflict is None and len(key) == len(table.key_names):
        plan.key = key
        plan.conditions = bool(rest)
    else:
        plan.conditions = True

    hash_at = None
    hash_nodes: list[Node] | None = None
    for i, node in enumerate(parts):
        hash_nodes = _hash_values(node, hash_name)
        if hash_nodes is not None:
            hash_at = i
            break
    used = {hash_at}
    descending = False
    if hash_nodes is not None:
        values = [binder.value(n) for n in hash_nodes]
        for v in values:
            check_target_type(target, hash_name, v)
        if any(values.index(v) != i for i, v in enumerate(values)):
            raise errors.validation(OVERLAPPING)
        kb = Builder(binder, "k")
        key_text = f"{kb.name(hash_name)} = {kb.value(values[0])}"
        if range_name is not None:
            for i, node in enumerate(parts):
                if i in used:
                    continue
                found = _range_condition(node, range_name, kb)
                if found is not None:
                    text, value_nodes = found
                    for v in value_nodes:
                        check_target_type(target, range_name, binder.value(v))
                    key_text += f" AND {text}"
                    used.add(i)
                    break
        req["KeyConditionExpression"] = key_text
        kb.into(req)
        descending, values = _order(stmt, target, values)
        plan.hash_values = values
        if descending:
            req["ScanIndexForward"] = False
    elif stmt.order_by:
        _order(stmt, target, None)

    filters = [node for i, node in enumerate(parts) if i not in used]
    unprojected = _index_reads(plan, filters, binder) if index is not None else False
    if filters:
        fb = Builder(binder)
        text = fb.condition(And(tuple(filters)) if len(filters) > 1 else filters[0])
        key_attrs = {hash_name} | ({range_name} if range_name else set())
        keyed = plan.hash_values is not None
        if unprojected or (keyed and any(_mentions(f, key_attrs) for f in filters)):
            plan.post_filter = (text, fb.names, fb.values)
        else:
            req["FilterExpression"] = text
            fb.into(req)
    return plan


def _index_reads(plan: ReadPlan, filters: list[Node], binder: Binder) -> bool:
    """Check what a SELECT on an index asks for and filters on, as AWS does; True when
    its filter names an attribute the index does not hold, which only the expression
    engine can then evaluate (a Scan on a GSI would refuse it, one on an LSI would read
    the table for it).

    A GSI refuses to be asked for such an attribute, keyed or not; an LSI reads it from
    the table, charged there, as Query does, so the request then names what the SELECT
    uses. The filter is refused only on a read keyed on the index partition key (a
    Query); unkeyed, it filters the index's rows, which lack the attribute."""
    table, index = plan.table, plan.index
    assert index is not None
    filtered: list[str] = []
    for node in filters:
        _heads(node, filtered)
    asked = [p.name for p in plan.projection] if plan.projection is not None else []
    keyed = plan.hash_values is not None
    gsi = index.kind == "GSI"
    paths.check_index_reads(table, index, asked if gsi else None, filtered if keyed else None)
    if not gsi and paths.unprojected(table, index, asked):
        pb = Builder(binder, "p")
        names = dict.fromkeys(asked + filtered)
        plan.request["ProjectionExpression"] = ", ".join(pb.name(n) for n in names)
        pb.into(plan.request)
    if keyed or not paths.unprojected(table, index, filtered):
        return False
    plan.held = paths.projected(table, index)
    return True


def check_target_type(target: Table | Index, name: str, value: AV) -> None:
    kinds = dict([target.hash, *([target.range] if target.range else [])])
    if kinds.get(name) not in value:
        raise errors.validation(
            f"Key attribute's data type should match its data type in table's schema: Key {name}"
        )


def _order(stmt: Select, target: Table | Index, values: list[AV] | None) -> tuple[bool, list[AV]]:
    """Check ORDER BY; the sort direction and the partition values in the order to query."""
    if not stmt.order_by:
        return False, values or []
    if stmt.where is None:
        raise errors.validation(
            "Must have WHERE clause in the statement when using ORDER BY clause."
        )
    if values is None:
        raise errors.validation(
            "Must have at least one non-optional hash key condition in WHERE clause when using "
            "ORDER BY clause."
        )
    hash_name = target.hash[0]
    range_name = target.range[0] if target.range else None
    directions: dict[str, bool] = {}
    for item in stmt.order_by:
        if not isinstance(item.expr, Path):
            raise errors.validation(
                "Argument to ORDER BY must be of type VariableReference. Type: "
                f"{type(item.expr).__name__}"
            )
        name = str(item.expr)
        if name not in (hash_name, range_name):
            raise errors.validation(
                f"Variable reference {name} in ORDER BY clause must be part of the primary key"
            )
        directions.setdefault(name, item.descending)
    if len(values) > 1:
        if hash_name not in directions:
            raise errors.validation(
                "Must have hash key in ORDER BY clause when more than one hash key condition "
                "specified in WHERE clause."
            )
        values = sorted(values, key=key_bytes, reverse=directions[hash_name])
    return directions.get(range_name or "", False), values
