"""GetItem, PutItem, UpdateItem and DeleteItem: checks, conditions and return values.

Each operation validates its input as DynamoDB does (key shape, item rules,
expression parameters), then runs read ▸ condition ▸ write in one SQLite
transaction through ``Engine.write``. The pieces transactions and batches
reuse (``Request``, ``key_param``, ``condition_of``, ``prepare_put``,
``prepare_update``) are public here.

Validation comes in two halves because AWS answers in that order: what needs no
table (expressions, their names and values, attribute values, item size: the
``check_*`` functions) is checked before the table is looked up, so a bad request
to a missing table is a ValidationException, not a ResourceNotFoundException
(dynalite's getItem.js/deleteItem.js and moto's AWS-verified tests); then what
needs the table (key schema, key types, index key types, key paths). An operation
given no ``checked`` result runs both halves itself (PartiQL's callers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.capacity import consumed, read_units, write_units
from cloudlet.services.dynamodb.engine import Engine, Key, Stored
from cloudlet.services.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    Projection,
    Update,
    compile_condition,
    compile_projection,
    compile_update,
    legacy_condition,
    legacy_projection,
    legacy_update,
    project,
)
from cloudlet.services.dynamodb.key_values import check_index_types
from cloudlet.services.dynamodb.paths import check_key_paths
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import (
    MAX_ITEM_SIZE,
    Item,
    check_depth,
    item_size,
    validate_item,
)

Result = dict[str, Any]


@contextmanager
def request_validation() -> Iterator[None]:
    """Errors raised inside are of the request-validation family (see ``errors.enveloped``)."""
    try:
        yield
    except ServiceError as exc:
        raise errors.tag(exc) from None


def expression_context(
    params: dict[str, Any],
    expr: list[str],
    legacy: list[str],
    *,
    update: bool = False,
    name_takers: bool = True,
) -> ExpressionContext:
    """The request's names/values, after DynamoDB's rules on mixing the two styles
    (``check_expression_style``, which ``name_takers`` goes to). ``update``: an
    UpdateItem's, whose empty sets AWS reports unwrapped (``ExpressionContext``)."""
    if not check_expression_style(params, expr, legacy, name_takers=name_takers):
        return NO_EXPRESSIONS
    names = params.get("ExpressionAttributeNames")
    values = params.get("ExpressionAttributeValues")
    return ExpressionContext(names, values, update=update)


def check_expression_style(
    params: dict[str, Any], expr: list[str], legacy: list[str], *, name_takers: bool = True
) -> bool:
    """DynamoDB's rules on mixing expression and non-expression parameters; whether the
    request uses expressions. ``expr`` and ``legacy`` name the expression and
    non-expression parameters the operation may take; the ones present decide the style.
    ExpressionAttributeValues without an expression names the expressions that could have
    used them ("...: UpdateExpression and ConditionExpression are null": dynalite's
    updateItem.js, scan.js and query.js, and an AWS SDK exception quoted with its request
    id), unless ``name_takers`` is False: PutItem and DeleteItem (and the puts of batches
    and transactions, which share their checks) now name none (paritysuite/dynamodb-
    conformance putItem and deleteItem tests, eu-west-2 and us-east-1, 2026-10-09; no
    newer capture covers the other operations)."""
    used_expr = [p for p in expr if params.get(p) is not None]
    used_legacy = [p for p in legacy if params.get(p) is not None]
    if used_expr and used_legacy:
        raise errors.validation(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(used_legacy)}}} "
            f"Expression parameters: {{{', '.join(used_expr)}}}"
        )
    if not used_expr:
        if params.get("ExpressionAttributeNames") is not None:
            raise errors.validation(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if params.get("ExpressionAttributeValues") is not None:
            takers = [p for p in expr if p != "ProjectionExpression"] if name_takers else []
            verb = "is" if len(takers) == 1 else "are"
            null = f": {' and '.join(takers)} {verb} null" if takers else ""
            raise errors.validation(
                f"ExpressionAttributeValues can only be specified when using expressions{null}"
            )
    return bool(used_expr)


NO_EXPRESSIONS = ExpressionContext(None, None)
"""The context of a request without expressions: nothing to record, nothing unused."""

CONDITION_LEGACY = ["Expected", "ConditionalOperator"]
"""The non-expression parameters of a write's condition, in the order AWS lists them."""


def key_param(table: Table, key: Item) -> tuple[Item, Key]:
    """The validated Key parameter and its stored key."""
    key = validate_item(key)
    return key, table.key_of(key, is_key=True)


def condition_of(params: dict[str, Any], ctx: ExpressionContext) -> Condition | None:
    """The ConditionExpression or ``Expected`` condition; a ConditionalOperator without two
    or more ``Expected`` conditions is refused (``legacy_condition``), an empty one too."""
    text = params.get("ConditionExpression")
    if text is not None:
        return compile_condition(text, ctx, "ConditionExpression")
    expected = params.get("Expected")
    operator = params.get("ConditionalOperator")
    if expected or operator is not None:
        return legacy_condition(expected or {}, operator)
    return None


def projection_of(
    params: dict[str, Any], ctx: ExpressionContext, member: str = "attributesToGet"
) -> Projection | None:
    """The ProjectionExpression or AttributesToGet projection (``member`` names the latter in
    AWS's length message: an empty list is refused by the model, which asks for one name)."""
    text = params.get("ProjectionExpression")
    if text is not None:
        return compile_projection(text, ctx)
    names = params.get("AttributesToGet")
    if names is None:
        return None
    errors.check_not_empty(names, member, "[]")
    return legacy_projection(names)


def check_size(item: Item, message: str = "Item size has exceeded the maximum allowed size") -> int:
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise errors.validation(message)
    return size


def _return_values(params: dict[str, Any], allowed: tuple[str, ...]) -> str:
    """The ReturnValues in effect. One outside the enum is reported with the other return
    options' (``check_return_options``; UpdateItem, which takes them all, reports the
    first broken one alone), one the operation does not take after them."""
    errors.check_return_options(
        params,
        before=errors.enum_broken(params.get("ReturnValues"), "returnValues", errors.RETURN_VALUES),
        together=len(allowed) < len(errors.RETURN_VALUES),
    )
    rv = params.get("ReturnValues") or "NONE"
    if rv not in allowed:
        raise errors.request_validation("ReturnValues can only be ALL_OLD or NONE")
    return rv


def check_condition(
    condition: Condition | None, old: Stored | None, params: dict[str, Any]
) -> None:
    if condition is None:
        return
    if not condition(old.item if old is not None else None):
        on_fail = params.get("ReturnValuesOnConditionCheckFailure")
        item = old.item if old is not None and on_fail == "ALL_OLD" else None
        raise errors.conditional_check_failed(item)


def _write_capacity(
    engine: Engine,
    table: Table,
    params: dict[str, Any],
    old: Stored | None,
    size: int,
    indexes: dict[str, float],
) -> dict[str, Any] | None:
    """``indexes``: what each index was charged (``Engine.write``)."""
    mode = params.get("ReturnConsumedCapacity")
    if mode is None or mode == "NONE":
        return None
    units = write_units(max(size, old.size if old is not None else 0))
    return consumed(
        mode,
        params["TableName"],  # AWS echoes the name or ARN the request used
        units,
        kind="write",
        indexes=indexes,
        index_kinds={ix.name: ix.kind for ix in table.indexes} if indexes else None,
    )


def _collection_metrics(table: Table, params: dict[str, Any], item: Item) -> dict[str, Any] | None:
    if params.get("ReturnItemCollectionMetrics") != "SIZE":
        return None
    if not any(ix.kind == "LSI" for ix in table.indexes):
        return None
    h = table.hash[0]
    return {"ItemCollectionKey": {h: item[h]}, "SizeEstimateRangeGB": [0.0, 1.0]}


# --------------------------------------------------------------------------- GetItem


def check_get(params: dict[str, Any]) -> tuple[Item, Projection | None]:
    """What GetItem checks before it looks the table up: the validated Key and the
    projection."""
    errors.check_return_options(params)
    ctx = expression_context(params, ["ProjectionExpression"], ["AttributesToGet"])
    projection = projection_of(params, ctx)
    ctx.check_unused()
    return validate_item(params["Key"]), projection


def get_item(
    engine: Engine,
    table: Table,
    params: dict[str, Any],
    checked: tuple[Item, Projection | None] | None = None,
) -> Result:
    key_item, projection = checked if checked is not None else check_get(params)
    key = table.key_of(key_item, is_key=True)
    if projection is not None:
        check_key_paths(table, projection.paths)
    stored = engine.read(table, key)
    out: Result = {}
    if stored is not None:
        out["Item"] = projection.apply(stored.item) if projection else stored.item
    mode = params.get("ReturnConsumedCapacity")
    if mode is not None and mode != "NONE":
        units = read_units(stored.size if stored else 0, bool(params.get("ConsistentRead")))
        out["ConsumedCapacity"] = consumed(mode, params["TableName"], units, kind="read")
    return out


# --------------------------------------------------------------------------- PutItem


@dataclass(slots=True)
class PreparedPut:
    item: Item
    key: Key | None
    """None until ``prepare_put`` keys it against the table."""
    size: int
    condition: Condition | None
    rv: str = "NONE"


def check_put(params: dict[str, Any]) -> PreparedPut:
    """What a PutItem (a BatchWriteItem ``PutRequest``, a transaction's Put) checks
    before the table is looked up: its condition, its attribute values and its size."""
    with request_validation():
        ctx = expression_context(
            params, ["ConditionExpression"], CONDITION_LEGACY, name_takers=False
        )
        condition = condition_of(params, ctx)
        ctx.check_unused()
    item = validate_item(params["Item"])
    return PreparedPut(item, None, check_size(item), condition)


def check_put_item(params: dict[str, Any]) -> PreparedPut:
    """PutItem's checks before the table: its return options, then ``check_put``."""
    rv = _return_values(params, ("NONE", "ALL_OLD"))
    put = check_put(params)
    put.rv = rv
    return put


def prepare_put(
    table: Table,
    params: dict[str, Any],
    *,
    batch: bool = False,
    checked: PreparedPut | None = None,
) -> PreparedPut:
    """A PutItem (or a BatchWriteItem ``PutRequest`` with ``batch``) checked and keyed;
    ``checked``: the result of ``check_put`` when the caller already has it."""
    put = checked if checked is not None else check_put(params)
    put.key = table.key_of(put.item, batch=batch)
    if table.indexes:
        check_index_types(table, put.item)
    if put.condition is not None:
        check_key_paths(table, put.condition.paths)
    return put


def put_item(
    engine: Engine, table: Table, params: dict[str, Any], checked: PreparedPut | None = None
) -> Result:
    put = prepare_put(table, params, checked=checked or check_put_item(params))
    rv, key = put.rv, put.key
    assert key is not None
    if (
        put.condition is None
        and rv == "NONE"
        and params.get("ReturnConsumedCapacity", "NONE") == "NONE"
        and params.get("ReturnItemCollectionMetrics", "NONE") == "NONE"
        and engine.blind_writes(table)
    ):
        engine.put_blind(table, key, put.item, put.size)  # nothing needs the old item
        return {}
    with engine.store.transaction():
        old = engine.read(table, key)
        check_condition(put.condition, old, params)
        charged = engine.write(table, key, old, put.item, size=put.size)
    out: Result = {}
    if rv == "ALL_OLD" and old is not None:
        out["Attributes"] = old.item
    cap = _write_capacity(engine, table, params, old, put.size, charged)
    if cap is not None:
        out["ConsumedCapacity"] = cap
    metrics = _collection_metrics(table, params, put.item)
    if metrics is not None:
        out["ItemCollectionMetrics"] = metrics
    return out


# --------------------------------------------------------------------------- DeleteItem


def check_delete(params: dict[str, Any]) -> tuple[str, Item, Condition | None]:
    """What DeleteItem checks before it looks the table up: its ReturnValues, the
    validated Key and the condition."""
    rv = _return_values(params, ("NONE", "ALL_OLD"))
    with request_validation():
        ctx = expression_context(
            params, ["ConditionExpression"], CONDITION_LEGACY, name_takers=False
        )
        condition = condition_of(params, ctx)
        ctx.check_unused()
    return rv, validate_item(params["Key"]), condition


def delete_item(
    engine: Engine,
    table: Table,
    params: dict[str, Any],
    checked: tuple[str, Item, Condition | None] | None = None,
) -> Result:
    rv, key_item, condition = checked if checked is not None else check_delete(params)
    key = table.key_of(key_item, is_key=True)
    if condition is not None:
        check_key_paths(table, condition.paths)
    with engine.store.transaction():
        old = engine.read(table, key)
        check_condition(condition, old, params)
        charged = engine.write(table, key, old, None) if old is not None else {}
    out: Result = {}
    if rv == "ALL_OLD" and old is not None:
        out["Attributes"] = old.item
    cap = _write_capacity(engine, table, params, old, 0, charged)
    if cap is not None:
        out["ConsumedCapacity"] = cap
    metrics = _collection_metrics(table, params, key_item)
    if metrics is not None:
        out["ItemCollectionMetrics"] = metrics
    return out


# --------------------------------------------------------------------------- UpdateItem


@dataclass(slots=True)
class PreparedUpdate:
    key_item: Item
    key: Key | None
    """None until ``prepare_update`` keys it against the table."""
    update: Update | None
    condition: Condition | None
    rv: str = "NONE"


def check_update(params: dict[str, Any]) -> PreparedUpdate:
    """What an UpdateItem (a transaction's Update) checks before the table is looked up:
    its expressions or legacy parameters and the validated Key."""
    expr, legacy = (
        ["UpdateExpression", "ConditionExpression"],
        ["AttributeUpdates", *CONDITION_LEGACY],
    )
    with request_validation():
        check_expression_style(params, expr, legacy)
    # Then the Key, before the expressions and the legacy parameters (dynalite's
    # updateItem.js, against DynamoDB: "invalid values in Key" beat them all).
    key_item = validate_item(params["Key"])
    with request_validation():
        ctx = expression_context(params, expr, legacy, update=True)
        text = params.get("UpdateExpression")
        update: Update | None = None
        if text is not None:
            update = compile_update(text, ctx)
        elif params.get("AttributeUpdates"):
            update = legacy_update(params["AttributeUpdates"])
        condition = condition_of(params, ctx)
        ctx.check_unused()
    return PreparedUpdate(key_item, None, update, condition)


def check_update_item(params: dict[str, Any]) -> PreparedUpdate:
    """UpdateItem's checks before the table: its return options, then ``check_update``."""
    rv = _return_values(params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))
    prepared = check_update(params)
    prepared.rv = rv
    return prepared


def prepare_update(
    table: Table, params: dict[str, Any], checked: PreparedUpdate | None = None
) -> PreparedUpdate:
    """An update checked and keyed (``checked``: ``check_update``'s result, if at hand)."""
    prepared = checked if checked is not None else check_update(params)
    prepared.key = table.key_of(prepared.key_item, is_key=True)
    update, condition = prepared.update, prepared.condition
    if update is not None:
        for path in update.paths:
            if path and path[0] in table.key_names:
                raise errors.invalid_parameter(
                    f"Cannot update attribute {path[0]}. This attribute is part of the key"
                )
        check_key_paths(table, [*update.paths, *update.reads])
    if condition is not None:
        check_key_paths(table, condition.paths)
    return prepared


def apply_update(
    table: Table, prepared: PreparedUpdate, old: Stored | None
) -> tuple[Item | None, int]:
    """The updated item and its size; ``(None, 0)`` when nothing is to be written: an update
    that only removes, of an item that does not exist, does not create it (AWS; ScyllaDB
    issue #5862), nor fail on a nested path there is nothing under (``REMOVE a.b``)."""
    if old is None and prepared.update is not None and prepared.update.only_removes:
        return None, 0
    base = old.item if old is not None else prepared.key_item
    new = prepared.update.apply(base) if prepared.update is not None else dict(base)
    if old is None:
        new.update(prepared.key_item)
    if prepared.update is not None:
        check_depth(new)
    if table.indexes:
        check_index_types(table, new, update=prepared.update is not None)
    size = check_size(new, "Item size to update has exceeded the maximum allowed size")
    return new, size


def update_item(
    engine: Engine, table: Table, params: dict[str, Any], checked: PreparedUpdate | None = None
) -> Result:
    prepared = prepare_update(table, params, checked or check_update_item(params))
    rv = prepared.rv
    with engine.store.transaction():
        old = engine.read(table, prepared.key)
        check_condition(prepared.condition, old, params)
        new, size = apply_update(table, prepared, old)
        charged = engine.write(table, prepared.key, old, new, size=size) if new is not None else {}
    out: Result = {}
    attrs = _update_return_values(rv, prepared, old, new)
    if attrs:
        out["Attributes"] = attrs
    cap = _write_capacity(engine, table, params, old, size, charged)
    if cap is not None:
        out["ConsumedCapacity"] = cap
    metrics = _collection_metrics(table, params, new if new is not None else prepared.key_item)
    if metrics is not None:
        out["ItemCollectionMetrics"] = metrics
    return out


def _update_return_values(
    rv: str, prepared: PreparedUpdate, old: Stored | None, new: Item | None
) -> Item | None:
    """The ``Attributes`` ReturnValues asks for (None or empty: none to return)."""
    paths = prepared.update.paths if prepared.update is not None else []
    if rv == "ALL_OLD":
        return old.item if old is not None else None
    if rv == "ALL_NEW":
        return new
    if rv == "UPDATED_OLD":
        return project(old.item, paths) if old is not None else None
    if rv == "UPDATED_NEW":
        return project(new, paths) if new is not None else None
    return None
