"""BatchExecuteStatement and ExecuteTransaction over the batch and transaction engine.

A batch is up to 25 independent statements, all reads or all writes. A read
must name one item by its whole primary key and nothing else (AWS runs batch
reads as BatchGetItem). Each statement gets its own response: the item, or an
``Error`` with a ``Code`` from DynamoDB's BatchStatementErrorCodeEnum, while
the others still run; only request-wide faults (too many statements, reads
mixed with writes, one item twice) fail the whole call.

A transaction is up to 100 statements, all reads (TransactGetItems) or all
writes plus ``EXISTS`` checks (TransactWriteItems): all or nothing, with
``TransactionCanceledException`` and one reason per statement, and
``ClientRequestToken`` idempotency from the same engine. A statement that is
not valid fails the request as ``Validation failed in TransactStatements[i]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import batch, errors, items
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.partiql.bind import Binder
from cloudlet.services.dynamodb.partiql.execute import (
    Lookup,
    Result,
    duplicate_item,
    merge_capacity,
    parse_statement,
    project,
    run_write,
)
from cloudlet.services.dynamodb.partiql.nodes import (
    Delete,
    Exists,
    Insert,
    Select,
    Statement,
    Update,
)
from cloudlet.services.dynamodb.partiql.plan import ReadPlan, WritePlan, plan_select, plan_write

MAX_BATCH = 25
MAX_TRANSACTION = 100

_CODES = {
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "DuplicateItemException": "DuplicateItem",
    "ValidationException": "ValidationError",
    "ResourceNotFoundException": "ResourceNotFound",
    "TransactionConflictException": "TransactionConflict",
    "ProvisionedThroughputExceededException": "ProvisionedThroughputExceeded",
    "ItemCollectionSizeLimitExceededException": "ItemCollectionSizeLimitExceeded",
    "RequestLimitExceeded": "RequestLimitExceeded",
    "ThrottlingException": "ThrottlingError",
    "AccessDeniedException": "AccessDenied",
}
_BATCH_KEY = (
    "Select statements within BatchExecuteStatement must specify the primary key in the where "
    "clause."
)
_TX_KEY = (
    "Select statements within ExecuteTransaction must specify the primary key in the where clause."
)


def _error(exc: ServiceError) -> dict[str, Any]:
    error: dict[str, Any] = {"Code": _CODES.get(exc.code, "InternalServerError")}
    error["Message"] = exc.message
    if exc.fields.get("Item") is not None:
        error["Item"] = exc.fields["Item"]
    return error


def _table_of(stmt: Statement) -> str:
    if isinstance(stmt, Exists):
        return stmt.select.table
    assert isinstance(stmt, Select | Insert | Update | Delete)
    return stmt.table


def _keyed_read(plan: ReadPlan, message: str) -> dict[str, Any]:
    if plan.index is not None or plan.key is None or plan.conditions:
        raise errors.validation(message)
    return plan.key


def _add_capacity(caps: dict[str, Any], res: dict[str, Any]) -> None:
    cap = res.get("ConsumedCapacity")
    if cap is not None:
        caps[cap["TableName"]] = merge_capacity(caps.get(cap["TableName"]), cap)


# --------------------------------------------------------------------------- batch


def batch_execute_statement(engine: Engine, lookup: Lookup, params: dict[str, Any]) -> Result:
    statements = params["Statements"]
    errors.check_return_options(params)
    errors.check_not_empty(statements, "statements", "[]")
    for i, entry in enumerate(statements, 1):
        errors.check_return_options(entry, f"statements.{i}.member.")
    if len(statements) > MAX_BATCH:
        raise errors.list_too_long("statements", statements, "BatchStatementRequest", MAX_BATCH)
    parsed: list[tuple[Statement, Binder] | ServiceError] = []
    kinds = set()
    for entry in statements:
        try:
            p, binder = parse_statement(entry["Statement"], entry.get("Parameters"))
            if isinstance(p.statement, Exists):
                raise errors.validation(
                    "EXISTS can only be used in ExecuteTransaction write requests."
                )
        except ServiceError as exc:
            parsed.append(exc)
            continue
        kinds.add(isinstance(p.statement, Select))
        parsed.append((p.statement, binder))
    if len(kinds) > 1:
        raise errors.validation(
            "Read and write requests together in the same batch is not supported."
        )
    plans: list[tuple[ReadPlan | WritePlan | None, ServiceError | None, str | None]] = []
    seen = set()
    for entry in parsed:
        if isinstance(entry, ServiceError):
            plans.append((None, entry, None))
            continue
        stmt, binder = entry
        name = _table_of(stmt)
        try:
            table = lookup(name)
            plan: ReadPlan | WritePlan
            if isinstance(stmt, Select):
                plan = plan_select(stmt, table, binder)
                key = _keyed_read(plan, _BATCH_KEY)
            else:
                plan = plan_write(stmt, table, binder)
                key = plan.key or {}
        except ServiceError as exc:
            plans.append((None, exc, name if exc.code != "ResourceNotFoundException" else None))
            continue
        mark = (table.tid, tuple(sorted((k, repr(v)) for k, v in key.items())))
        if len(key) == len(table.key_names) and mark in seen:
            raise errors.validation("Provided list of item keys contains duplicates")
        seen.add(mark)
        plans.append((plan, None, name))
    responses = []
    caps: dict[str, Any] = {}
    for (plan, failure, name), entry in zip(plans, statements, strict=True):
        response: dict[str, Any] = {}
        if name is not None:
            response["TableName"] = name
        try:
            if failure is not None:
                raise failure
            response.update(_batch_one(engine, plan, entry, params, caps))
        except ServiceError as exc:
            response["Error"] = _error(exc)
        responses.append(response)
    out: Result = {"Responses": responses}
    if caps:
        out["ConsumedCapacity"] = list(caps.values())
    return out


def _batch_one(
    engine: Engine,
    plan: ReadPlan | WritePlan | None,
    entry: dict[str, Any],
    params: dict[str, Any],
    caps: dict[str, Any],
) -> dict[str, Any]:
    options = {"ReturnConsumedCapacity": params.get("ReturnConsumedCapacity")}
    if isinstance(plan, ReadPlan):
        req = {"TableName": plan.table.name, "Key": plan.key, **options}
        if entry.get("ConsistentRead"):
            req["ConsistentRead"] = True
        res = items.get_item(engine, plan.table, req)
        _add_capacity(caps, res)
        return {"Item": project(res["Item"], plan.projection)} if "Item" in res else {}
    assert isinstance(plan, WritePlan)
    options["ReturnValuesOnConditionCheckFailure"] = entry.get(
        "ReturnValuesOnConditionCheckFailure"
    )
    res = run_write(engine, plan, options)
    _add_capacity(caps, res)
    return {"Item": res["Items"][0]} if res["Items"] else {}


# --------------------------------------------------------------------------- transaction


def execute_transaction(
    engine: Engine,
    tokens: batch.Tokens,
    account: str,
    region: str,
    lookup: Lookup,
    params: dict[str, Any],
) -> Result:
    statements = params["TransactStatements"]
    errors.check_return_options(params)
    errors.check_not_empty(statements, "transactStatements", "[]")
    for i, entry in enumerate(statements, 1):
        errors.check_return_options(entry, f"transactStatements.{i}.member.")
    batch.check_client_token(params)
    if len(statements) > MAX_TRANSACTION:
        raise errors.list_too_long(
            "transactStatements", statements, "ParameterizedStatement", MAX_TRANSACTION
        )
    parsed: list[tuple[Statement, Binder]] = []
    for i, entry in enumerate(statements):
        with _in_statement(i):
            p, binder = parse_statement(entry["Statement"], entry.get("Parameters"))
            if isinstance(p.statement, Update | Delete) and p.statement.returning:
                raise errors.validation("RETURNING clause is not supported in ExecuteTransaction.")
            parsed.append((p.statement, binder))
    reads = {isinstance(stmt, Select) for stmt, _ in parsed}
    if len(reads) > 1:
        raise errors.validation(
            "ExecuteTransaction API does not support both read and write operations in the same "
            "request."
        )
    rcc = params.get("ReturnConsumedCapacity")
    if reads == {True}:
        return _transact_reads(engine, account, region, lookup, parsed, rcc)
    entries = []
    kinds = []
    for i, ((stmt, binder), entry) in enumerate(zip(parsed, statements, strict=True)):
        table = lookup(_table_of(stmt))
        with _in_statement(i):
            plan = plan_write(stmt, table, binder)
        op = dict(plan.request)
        if entry.get("ReturnValuesOnConditionCheckFailure") is not None:
            op["ReturnValuesOnConditionCheckFailure"] = entry["ReturnValuesOnConditionCheckFailure"]
        entries.append({plan.kind: op})
        kinds.append(plan.kind)
    request: dict[str, Any] = {"TransactItems": entries, "ReturnConsumedCapacity": rcc}
    if params.get("ClientRequestToken"):
        request["ClientRequestToken"] = params["ClientRequestToken"]
    try:
        res = batch.transact_write_items(engine, tokens, account, region, request)
    except ServiceError as exc:
        if exc.code != "TransactionCanceledException":
            raise
        reasons = []
        for kind, reason in zip(kinds, exc.fields["CancellationReasons"], strict=True):
            if kind == "Put" and reason.get("Code") == "ConditionalCheckFailed":
                reason = {"Code": "DuplicateItem", "Message": duplicate_item().message}
            reasons.append(reason)
        raise errors.transaction_canceled(reasons) from None
    out: Result = {"Responses": []}
    if res.get("ConsumedCapacity"):
        out["ConsumedCapacity"] = res["ConsumedCapacity"]
    return out


def _transact_reads(
    engine: Engine,
    account: str,
    region: str,
    lookup: Lookup,
    parsed: list[tuple[Statement, Binder]],
    rcc: str | None,
) -> Result:
    plans = []
    gets = []
    for i, (stmt, binder) in enumerate(parsed):
        assert isinstance(stmt, Select)
        table = lookup(stmt.table)
        with _in_statement(i):
            if stmt.index is not None:
                raise errors.validation("Reads on indices are not supported within transactions.")
            plan = plan_select(stmt, table, binder)
            key = _keyed_read(plan, _TX_KEY)
        plans.append(plan)
        gets.append({"Get": {"TableName": table.name, "Key": key}})
    res = batch.transact_get_items(
        engine, account, region, {"TransactItems": gets, "ReturnConsumedCapacity": rcc}
    )
    responses = [
        {"Item": project(r["Item"], plan.projection)} if "Item" in r else {}
        for plan, r in zip(plans, res["Responses"], strict=True)
    ]
    out: Result = {"Responses": responses}
    if res.get("ConsumedCapacity"):
        out["ConsumedCapacity"] = res["ConsumedCapacity"]
    return out


@contextmanager
def _in_statement(index: int) -> Iterator[None]:
    """Re-raise a statement's ValidationException as ``Validation failed in TransactStatements[i]``."""
    try:
        yield
    except ServiceError as exc:
        if exc.code != "ValidationException":
            raise
        raise errors.validation(
            f"Validation failed in TransactStatements[{index}]: {exc.message}"
        ) from None
