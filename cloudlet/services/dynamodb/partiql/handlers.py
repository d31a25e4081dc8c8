"""The PartiQL operations of DynamoDBService: ExecuteStatement, BatchExecuteStatement,
ExecuteTransaction.

A mixin so ``api.py`` stays one file of item and table operations: the
service class lists ``PartiqlHandlers`` among its bases and these handlers
reach the tables through its ``_table`` and the engine through ``engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.dynamodb import strong
from cloudlet.services.dynamodb.batch import Tokens
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.partiql import execute, multi
from cloudlet.services.dynamodb.tables import Table

Result = dict[str, Any]


class PartiqlHandlers:
    """Handlers for the three PartiQL operations; mixed into ``DynamoDBService``."""

    engine: Engine
    tokens: Tokens
    _table: Callable[[Any, str], Table]

    def _lookup(self, ctx: Any) -> Callable[[str], Table]:
        return lambda name: self._table(ctx, name)

    def execute_statement(self, ctx: Any, params: dict[str, Any]) -> Result:
        return execute.execute_statement(self.engine, self._lookup(ctx), params)

    def batch_execute_statement(self, ctx: Any, params: dict[str, Any]) -> Result:
        return multi.batch_execute_statement(self.engine, self._lookup(ctx), params)

    def execute_transaction(self, ctx: Any, params: dict[str, Any]) -> Result:
        lookup = self._lookup(ctx)
        return multi.execute_transaction(
            self.engine,
            self.tokens,
            ctx.account_id,
            ctx.region,
            lambda name: strong.check_transaction(lookup(name)),
            params,
        )
