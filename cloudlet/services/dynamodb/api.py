"""DynamoDB operations: find the table, hand the work to the engine, shape the result.

One method per operation of botocore's ``dynamodb`` model. Item and query
work lives in ``items.py``, ``query.py`` and ``batch.py``; table definitions
in ``tables.py``, ``updatetable.py`` and ``tableops.py``; the one write path in ``engine.py``.
The mixins add TTL (``ttl.py``), backups, PITR and export (``backups.py``)
and PartiQL (``partiql/``), and the legacy global-table operations their answers
(``legacy_global.py``); the Streams API is its own service
(``streams.py``, botocore's ``dynamodbstreams``) over the same engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from cloudlet.core.errors import ServiceError
from cloudlet.core.slices import Job, run_for, run_sliced
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.dynamodb import (
    authorization,
    batch,
    errors,
    insights,
    items,
    multiaccount,
    query,
    replicas,
    tableops,
    updatetable,
)
from cloudlet.services.dynamodb.backups import BackupHandlers
from cloudlet.services.dynamodb.bodies import request_body
from cloudlet.services.dynamodb.capacity import read_units, write_units
from cloudlet.services.dynamodb.describe import describe
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.imports import ImportHandlers
from cloudlet.services.dynamodb.insights_handlers import InsightsHandlers
from cloudlet.services.dynamodb.kinesis_dest import KinesisDestinations
from cloudlet.services.dynamodb.legacy_global import LegacyGlobalTableHandlers
from cloudlet.services.dynamodb.partiql.handlers import PartiqlHandlers
from cloudlet.services.dynamodb.policies import PolicyHandlers
from cloudlet.services.dynamodb.table_syntax import (
    check_item_table_reference,
    check_schema_syntax,
    check_table_enums,
    check_table_name,
    check_table_reference,
    require_table_name,
)
from cloudlet.services.dynamodb.tables import Index, Table, parse_create
from cloudlet.services.dynamodb.ttl import StreamsAndTtlHandlers
from cloudlet.services.dynamodb.values import item_size

log = logging.getLogger(__name__)
Result = dict[str, Any]
T = TypeVar("T")


class DynamoDBService(
    StreamsAndTtlHandlers,
    BackupHandlers,
    ImportHandlers,
    PartiqlHandlers,
    PolicyHandlers,
    LegacyGlobalTableHandlers,
    InsightsHandlers,
    KinesisDestinations,
    Service,
):
    name = "dynamodb"
    internal_error = ("InternalServerError", "Internal server error")  # the modelled error
    auth_errors = errors.CORAL_AUTH_ERRORS  # the Coral front end's auth errors, all 400

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.engine = Engine(env.database("dynamodb"))
        self.tokens = batch.Tokens(self.engine.store.conn)
        self._backfills: set[asyncio.Handle] = set()
        self._purges = Job("purge of dropped tables", self._backfills)
        self._sweeps = Job("TTL sweep", self._backfills)
        self._trims = Job("stream retention sweep", self._backfills)
        self.engine.on_purge = self._purge

    async def start(self) -> None:
        self._start_background()
        self._start_insights()
        self._start_kinesis()
        self._start_backups()
        self._start_imports()
        for table in list(self.engine.tables.values()):
            if table.replicating is not None:
                self._copy_replica(table, wait=0)
                continue  # its indexes are built by the copy
            for ix in table.indexes:
                if ix.status == "CREATING":
                    self._backfill(table, ix)
        self._purge()  # what a stop or crash left of dropped tables

    async def stop(self) -> None:
        for handle in self._backfills:
            handle.cancel()
        self._stop_backups()
        self._stop_imports()
        self.engine.store.conn.close()

    def prepare_request(self, ctx: Any) -> None:
        """A gzip body inflated, one past 16 MiB refused (``bodies.py``); a CreateTable
        naming no table refused in CreateTable's own words, before the codec's generic
        required-member text (``require_table_name``)."""
        req = ctx.request
        req.body = request_body(req)
        if ctx.operation.name == "CreateTable":
            require_table_name(req.body)

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the table's (index's, stream's) ARN and its resource policy."""
        return self._policy_resource(ctx, operation, params)

    def dependent_actions(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        return self._dependent_actions(ctx, operation, params)

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """Batches, transactions and PartiQL: per table and item (``authorization.py``)."""
        return authorization.checks(ctx, operation, params, self._resource_policy_text)

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "tables": len(self.engine.tables),
            "purging": self._purges.running,
        }

    def _table(self, ctx: Any, name: str) -> Table:
        """The ACTIVE table ``name`` names (PartiQL's lookup too, whose statements have no
        TableName member to validate)."""
        return self.engine.table(ctx.account_id, ctx.region, name)

    def _item_table(
        self, ctx: Any, params: dict[str, Any], check: Callable[[dict[str, Any]], T]
    ) -> tuple[Table, T]:
        """The table an item operation's TableName names and ``check``'s result. AWS's
        order: the name first, then what needs no table (``check``), then the lookup."""
        check_item_table_reference(params["TableName"])
        checked = check(params)
        return self._table(ctx, params["TableName"]), checked

    def _described(self, ctx: Any, name: str) -> Table:
        check_table_reference(name)
        table = self.engine.find(ctx.account_id, ctx.region, name)
        if table is None:
            raise errors.table_not_found(name)
        return table

    def _backfill(self, table: Table, ix: Index) -> None:
        """Index existing items a slice per event-loop turn (``core/slices.py``), then
        mark the index ACTIVE. A failed slice leaves the index CREATING."""
        reindex = self.engine.reindex(table, ix)
        gone = [False]

        def step(batch: int) -> bool:
            gone[0] = ix not in table.indexes or table.tid not in self.engine.by_id
            return gone[0] or reindex(batch)

        def done() -> None:
            if not gone[0]:
                ix.status = "ACTIVE"
                self.engine.save(table)

        run_sliced(step, self._backfills, name=f"backfill of index {ix.name}", done=done)

    def _purge(self) -> None:
        """Delete dropped tables' and indexes' rows a slice per event-loop turn (DeleteTable
        answers DELETING at once, as AWS's does, and the rows go after)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not serving yet: start() purges
            return
        self._purges.start(lambda: self.engine.store.purge)

    # --- tables -------------------------------------------------------------------------

    def create_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("GlobalTableSourceArn") is not None:
            return self._create_member(ctx, params)
        table = parse_create(params, ctx.account_id, ctx.region, self.engine.clock())
        self._add_table(ctx, table, params)
        out = describe(table, self.engine.counts(table), self.engine.clock(), created=True)
        return {"TableDescription": out}

    def _create_member(self, ctx: Any, params: dict[str, Any]) -> Result:
        """CreateTable joining a multi-account global table (``multiaccount.py``)."""
        check_table_name(params["TableName"])
        check_table_enums(params)
        check_schema_syntax(params)
        now = self.engine.clock()
        replica, group = multiaccount.new_member(
            self.engine, ctx.account_id, ctx.region, params, now
        )
        with self.engine.store.transaction():
            self._add_table(ctx, replica, params)
            multiaccount.link(self.engine, replica, group, now)
        self._copy_replica(replica)
        peers = replicas.others(self.engine, replica)
        out = describe(replica, self.engine.counts(replica), now, created=True, peers=peers)
        return {"TableDescription": out}

    def describe_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self._described(ctx, params["TableName"])
        peers = replicas.others(self.engine, table)
        return {
            "Table": describe(table, self.engine.counts(table), self.engine.clock(), peers=peers)
        }

    def update_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        updatetable.check_update_request(params)  # before the table: AWS's order
        table = self._described(ctx, params["TableName"])
        applied = updatetable.update_table(self.engine, table, params)
        for target, ix in applied.backfills:
            self._backfill(target, ix)
        for replica in applied.copies:
            self._copy_replica(replica)
        for replica in applied.removed:
            self._drop_policies(replica)
        return applied.result

    def _copy_replica(self, replica: Table, wait: float = replicas.WAIT) -> None:
        """Copy a new replica's items (``replicas.steps``): up to ``wait`` seconds now,
        the rest a slice per event-loop turn."""
        step = replicas.steps(self.engine, replica)
        finished, size = run_for(step, wait)
        if not finished:
            name = f"copy of table {replica.name} to {replica.region}"
            run_sliced(step, self._backfills, name=name, size=size)

    def delete_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self._described(ctx, params["TableName"])
        result = tableops.delete_table(self.engine, table)
        self._drop_policies(table)
        self._forget_insights(table)
        return result

    def list_tables(self, ctx: Any, params: dict[str, Any]) -> Result:
        return tableops.list_tables(self.engine, ctx.account_id, ctx.region, params)

    def describe_limits(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }

    def describe_endpoints(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"Endpoints": [{"Address": ctx.host, "CachePeriodInMinutes": 1440}]}

    # --- tags ---------------------------------------------------------------------------

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        tableops.tag_resource(self.engine, ctx.account_id, ctx.region, params)
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        tableops.untag_resource(self.engine, ctx.account_id, ctx.region, params)
        return {}

    def list_tags_of_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ResourceArn"]
        name = tableops.resource_table_name(ctx.account_id, ctx.region, arn)
        table = tableops.table_for_arn(self.engine, ctx.account_id, ctx.region, arn, name)
        return tableops.list_tags(table, params)

    # --- items --------------------------------------------------------------------------

    def get_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        table, checked = self._item_table(ctx, params, items.check_get)
        return self._measured(
            table,
            "",
            params,
            params["Key"],
            "read",
            lambda p: items.get_item(self.engine, table, p, checked),
        )

    def put_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._item_write(ctx, params, items.check_put_item, items.put_item, "Item")

    def update_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._item_write(ctx, params, items.check_update_item, items.update_item, "Key")

    def delete_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._item_write(ctx, params, items.check_delete, items.delete_item, "Key")

    def _item_write(
        self,
        ctx: Any,
        params: dict[str, Any],
        check: Callable[[dict[str, Any]], Any],
        run: Callable[..., Result],
        key_member: str,
    ) -> Result:
        """PutItem, UpdateItem or DeleteItem: its request validation errors in the
        envelope AWS gives these three (``errors.enveloped``)."""
        try:
            table, checked = self._item_table(ctx, params, check)
            return self._measured(
                table,
                "",
                params,
                params[key_member],
                "write",
                lambda p: run(self.engine, table, p, checked),
            )
        except ServiceError as exc:
            raise errors.enveloped(exc) from None

    def query(self, ctx: Any, params: dict[str, Any]) -> Result:
        table, checked = self._item_table(ctx, params, query.check_query)
        index = params.get("IndexName") or ""
        key = None
        if table.insights and checked.keys:  # the partition its key condition names
            hash_name = insights.key_attributes(table, index)[0]
            op, values = checked.keys.get(hash_name) or ("", [])
            key = {hash_name: values[0]} if op == "=" and values else None
        return self._measured(
            table,
            index,
            params,
            key,
            "read",
            lambda p: query.query(self.engine, table, p, checked),
        )

    def _measured(
        self,
        table: Table,
        index: str,
        params: dict[str, Any],
        key: dict[str, Any] | None,
        kind: str,
        run: Callable[[dict[str, Any]], Result],
    ) -> Result:
        """Run an item operation or a Query (``run``); on a table with contributor
        insights, count its ConsumedThroughputUnits for ``key`` (a Query: the partition
        its key condition names, else its first item's), asking for the consumed capacity
        and dropping it again when the caller did not ask."""
        if not table.insights:
            return run(params)
        quiet = params.get("ReturnConsumedCapacity") in (None, "NONE")
        with self._counting_index_writes([table] if kind == "write" else [], 3.0):
            out = run({**params, "ReturnConsumedCapacity": "INDEXES"} if quiet else params)
        if key is None:  # a Query: one event, of its first item's partition key
            found = out.get("Items") or [{}]
            hash_name = insights.key_attributes(table, index)[0]
            key = {hash_name: found[0][hash_name]} if hash_name in found[0] else None
        units = insights.throughput_units(out.get("ConsumedCapacity"), kind, index)
        self._contribute(table, index, key, units)
        if quiet:
            out.pop("ConsumedCapacity", None)
        return out

    def scan(self, ctx: Any, params: dict[str, Any]) -> Result:
        table, checked = self._item_table(ctx, params, query.check_scan)
        out = query.scan(self.engine, table, params, checked)
        if table.insights:  # each item read counts its own read units
            index = params.get("IndexName") or ""
            consistent = bool(params.get("ConsistentRead"))
            for item in out.get("Items") or ():
                self._contribute(table, index, item, read_units(item_size(item), consistent))
        return out

    def batch_get_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = batch.batch_get_item(self.engine, ctx.account_id, ctx.region, params)
        for name, found in out.get("Responses", {}).items():
            table = self.engine.find(ctx.account_id, ctx.region, name)
            if table is not None and table.insights:
                consistent = bool(params["RequestItems"][name].get("ConsistentRead"))
                for item in found:
                    self._contribute(table, "", item, read_units(item_size(item), consistent))
        return out

    def batch_write_item(self, ctx: Any, params: dict[str, Any]) -> Result:
        named = [self._insights_table(ctx, name) for name in params.get("RequestItems") or ()]
        with self._counting_index_writes(named, 3.0):
            out = batch.batch_write_item(self.engine, ctx.account_id, ctx.region, params)
        for name, requests in params["RequestItems"].items():
            table = self.engine.find(ctx.account_id, ctx.region, name)
            if table is None or not table.insights or name in out.get("UnprocessedItems", {}):
                continue
            for request in requests:
                put = request.get("PutRequest")
                item = put["Item"] if put else request["DeleteRequest"]["Key"]
                units = write_units(item_size(item)) if put else 1.0
                self._contribute(table, "", item, 3 * units)
        return out

    def transact_get_items(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = batch.transact_get_items(self.engine, ctx.account_id, ctx.region, params)
        responses = out.get("Responses") or ()
        for entry, response in zip(params["TransactItems"], responses, strict=False):
            table = self._insights_table(ctx, entry["Get"]["TableName"])
            item = response.get("Item")
            if table is not None and item:  # a transactional read costs twice
                self._contribute(table, "", item, 2 * read_units(item_size(item), True))
        return out

    def transact_write_items(self, ctx: Any, params: dict[str, Any]) -> Result:
        named = [
            self._insights_table(ctx, spec.get("TableName", ""))
            for entry in params.get("TransactItems") or ()
            for spec in entry.values()
            if isinstance(spec, dict)
        ]
        with self._counting_index_writes(named, 3.0 * 2):
            out = batch.transact_write_items(
                self.engine, self.tokens, ctx.account_id, ctx.region, params
            )
        for entry in params["TransactItems"]:
            for kind, spec in entry.items():
                table = self._insights_table(ctx, spec.get("TableName", ""))
                if table is None:
                    continue
                # Transactional writes and reads cost twice (a ConditionCheck is a read).
                if kind == "Put":
                    units = 3 * 2 * write_units(item_size(spec["Item"]))
                else:
                    units = 2 * 1.0 if kind == "ConditionCheck" else 3 * 2 * 1.0
                self._contribute(table, "", spec.get("Item") or spec.get("Key"), units)
        return out

    def _insights_table(self, ctx: Any, name: str) -> Table | None:
        """The table ``name`` when its contributor insights are on, else None."""
        table = self.engine.find(ctx.account_id, ctx.region, name) if name else None
        return table if table is not None and table.insights else None
