"""What strict mode checks for DynamoDB requests that touch more than one table or item.

Why: a batch, a transaction or a PartiQL statement names its tables inside its
parameters, and AWS authorizes each of them, not the request as a whole:

- **BatchGetItem / BatchWriteItem**: ``dynamodb:BatchGetItem`` /
  ``dynamodb:BatchWriteItem`` on every table of ``RequestItems`` (the Service
  Authorization Reference gives each the table resource). Checking only the first
  table let a policy scoped to one table write to any other named after it.
- **TransactWriteItems / TransactGetItems**: no action of their own; each item is
  its underlying action on its table: ``PutItem``, ``UpdateItem``, ``DeleteItem``,
  ``ConditionCheckItem``, ``GetItem`` ("Using IAM with DynamoDB transactions" in
  the developer guide, whose example policy allows just those on one table).
- **ExecuteStatement / BatchExecuteStatement / ExecuteTransaction**: each statement
  is ``dynamodb:PartiQLSelect`` / ``PartiQLInsert`` / ``PartiQLUpdate`` /
  ``PartiQLDelete`` on its table (its index, for a SELECT from one). A statement
  that does not parse is left to the operation, which refuses it with its own
  ValidationException.

Each check carries the table's resource policy, as a single-table request's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb.partiql.nodes import Delete, Exists, Insert, Select, Update
from cloudlet.services.dynamodb.partiql.parser import parse

Check = tuple[str, str, str | None]

_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
_PARTIQL_ACTIONS = {
    Select: "dynamodb:PartiQLSelect",
    Exists: "dynamodb:PartiQLSelect",
    Insert: "dynamodb:PartiQLInsert",
    Update: "dynamodb:PartiQLUpdate",
    Delete: "dynamodb:PartiQLDelete",
}


def checks(
    ctx: Any, operation: str, params: dict[str, Any], policy_text: Callable[[str], str | None]
) -> tuple[Check, ...] | None:
    """The checks ``operation`` needs (None: it is one action on one table, checked as
    such); ``policy_text`` gives a table's (index's) resource policy by ARN."""
    found: dict[tuple[str, str], None] = {}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        for name in params.get("RequestItems") or {}:
            found[(f"dynamodb:{operation}", _arn(ctx, name))] = None
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems") or []:
            for kind, spec in item.items():
                action = _TRANSACT_ACTIONS.get(kind)
                if action is not None and isinstance(spec, dict) and spec.get("TableName"):
                    found[(action, _arn(ctx, spec["TableName"]))] = None
    elif operation == "ExecuteStatement":
        _statement(ctx, params.get("Statement"), found)
    elif operation in ("BatchExecuteStatement", "ExecuteTransaction"):
        member = "Statements" if operation == "BatchExecuteStatement" else "TransactStatements"
        for entry in params.get(member) or []:
            _statement(ctx, entry.get("Statement"), found)
    else:
        return None
    return tuple((action, arn, policy_text(arn)) for action, arn in found)


def _statement(ctx: Any, text: Any, found: dict[tuple[str, str], None]) -> None:
    if not isinstance(text, str):
        return
    try:
        statement = parse(text).statement
    except ServiceError:
        return  # the operation answers its ValidationException
    action = _PARTIQL_ACTIONS.get(type(statement))
    if action is None:
        return
    target = statement.select if isinstance(statement, Exists) else statement
    arn = _arn(ctx, target.table)
    if isinstance(target, Select) and target.index:
        arn = f"{arn}/index/{target.index}"
    found[(action, arn)] = None


def _arn(ctx: Any, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"
