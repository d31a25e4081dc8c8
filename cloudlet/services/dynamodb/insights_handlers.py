"""UpdateContributorInsights, DescribeContributorInsights and ListContributorInsights, and
the loop that keeps CloudWatch's rules and contributions in step (``insights.py`` says
why), for ``DynamoDBService``."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.dynamodb import errors, insights
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.table_syntax import check_table_name, check_table_reference
from cloudlet.services.dynamodb.tables import Table

log = logging.getLogger(__name__)
Result = dict[str, Any]
MAX_PENDING = 200_000
"""Contributions held between two passes at most; more are dropped (metrics never slow or
fail the requests they measure)."""
BATCH = 1000


class InsightsHandlers:
    """Mixed into ``DynamoDBService`` (which provides ``engine`` and ``env``)."""

    engine: Engine
    env: Any

    def _start_insights(self) -> None:
        self._contributions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._pending = 0
        self._doomed: list[tuple[str, str, list[str]]] = []
        self.env.every(insights.INTERVAL, self._insights_tick, "dynamodb-contributor-insights")

    # --- operations -----------------------------------------------------------------

    def _insights_target(self, ctx: Any, params: dict[str, Any]) -> tuple[Table, str]:
        check_table_reference(params["TableName"])
        index = params.get("IndexName")
        if index is not None:
            check_table_name(index, "indexName")
        table = self.engine.find(ctx.account_id, ctx.region, params["TableName"])
        if table is None:
            raise errors.table_not_found(params["TableName"])
        return table, insights.resolve_index(table, index)

    def update_contributor_insights(self, ctx: Any, params: dict[str, Any]) -> Result:
        insights.check_request(params)
        table, index = self._insights_target(ctx, params)
        out = insights.update(table, index, params, self.engine.clock())
        self.engine.save(table)
        return out

    def describe_contributor_insights(self, ctx: Any, params: dict[str, Any]) -> Result:
        table, index = self._insights_target(ctx, params)
        return insights.describe(table, index)

    def list_contributor_insights(self, ctx: Any, params: dict[str, Any]) -> Result:
        size = errors.check_limit(params.get("MaxResults"), 100, "maxResults")
        name = params.get("TableName")
        if name is not None:
            tables = [self._insights_target(ctx, {"TableName": name})[0]]
        else:
            tables = sorted(
                (t for t in self.engine.by_id.values() if t.insights),
                key=lambda t: t.name,
            )
            tables = [t for t in tables if (t.account, t.region) == (ctx.account_id, ctx.region)]
        entries = [e for t in tables for e in insights.listed(t)]
        token = params.get("NextToken")
        start = 0
        if token:
            if not token.isdigit():
                raise errors.validation("Invalid NextToken")
            start = int(token)
        out: Result = {"ContributorInsightsSummaries": entries[start : start + size]}
        if start + size < len(entries):
            out["NextToken"] = str(start + size)
        return out

    # --- contributions --------------------------------------------------------------

    def _contribute(
        self, table: Table, index: str, item: dict[str, Any] | None, units: float
    ) -> None:
        """Count an access to ``item`` (a key or an item) of ``table`` (``index``: "" or
        a GSI's name) worth ``units`` ConsumedThroughputUnits."""
        pk_rule, sk_rule = insights.recording_rules(table, index)
        if pk_rule is None or not item or self._pending >= MAX_PENDING:
            return
        hash_name, range_name = insights.key_attributes(table, index)
        pk = item.get(hash_name)
        if pk is None:
            return
        now = self.engine.clock()
        keys = [insights.key_text(pk)]
        batch = self._contributions[(table.account, table.region)]
        batch.append({"RuleName": pk_rule, "Timestamp": now, "Keys": keys, "Value": units})
        self._pending += 1
        sk = item.get(range_name) if range_name else None
        if sk_rule is not None and sk is not None:
            keys = [*keys, insights.key_text(sk)]
            batch.append({"RuleName": sk_rule, "Timestamp": now, "Keys": keys, "Value": units})
            self._pending += 1

    @contextmanager
    def _counting_index_writes(self, tables: list[Table | None], factor: float) -> Iterator[None]:
        """Around a write request: when one of ``tables`` has insights on a GSI, each
        index entry the request writes or removes counts toward its index's rules,
        ``factor`` ConsumedThroughputUnits per write unit (3; twice that in a
        transaction). A request that fails wrote nothing and counts nothing."""
        if not any(index for t in tables if t is not None for index in t.insights):
            yield
            return
        self.engine.index_writes = writes = []
        try:
            yield
        finally:
            self.engine.index_writes = None
        for table, index, entry, units in writes:
            if any(table is t for t in tables):  # not a global table's other replicas
                self._contribute(table, index, entry, factor * units)

    def _forget_insights(self, table: Table) -> None:
        """DeleteTable: the table's rules and its indexes' go from CloudWatch."""
        names = [r for entry in table.insights.values() for r in entry["rules"]]
        if names:
            self._doomed.append((table.account, table.region, names))

    # --- the loop -------------------------------------------------------------------

    async def _insights_tick(self) -> None:
        for account, region, names in self._doomed[:]:
            await self._cloudwatch(
                "DeleteManagedContributorRules", {"RuleNames": names}, account, region
            )
            self._doomed.remove((account, region, names))
        for table in list(self.engine.by_id.values()):
            for index, entry in list(table.insights.items()):
                if index and not any(ix.name == index for ix in table.indexes):
                    self._doomed.append((table.account, table.region, entry["rules"]))
                    del table.insights[index]
                    self.engine.save(table)
                elif entry["status"] in insights.SETTLING:
                    await self._settle(table, index, entry)
        batches, self._contributions = self._contributions, defaultdict(list)
        self._pending = 0
        for (account, region), entries in batches.items():
            for start in range(0, len(entries), BATCH):
                await self._cloudwatch(
                    "RecordContributions",
                    {"Contributions": entries[start : start + BATCH]},
                    account,
                    region,
                )

    async def _settle(self, table: Table, index: str, entry: insights.Entry) -> None:
        """Make CloudWatch hold exactly the rules ``entry`` wants, then settle its status."""
        drop = [r for r in entry["rules"] if r not in entry["want"]]
        if drop:
            await self._cloudwatch(
                "DeleteManagedContributorRules", {"RuleNames": drop}, table.account, table.region
            )
            entry["rules"] = [r for r in entry["rules"] if r in entry["want"]]
        add = [r for r in entry["want"] if r not in entry["rules"]]
        if add:
            rules = [
                {
                    "RuleName": name,
                    "Definition": insights.definition(table, index, name),
                    "ResourceARN": f"{table.arn}/index/{index}" if index else table.arn,
                }
                for name in add
            ]
            try:
                await self.env.call(
                    "cloudwatch",
                    "PutManagedContributorRules",
                    {"Rules": rules},
                    account=table.account,
                    region=table.region,
                )
            except ServiceError as exc:  # the quota; or a rule CloudWatch refuses (a name
                # past its 128 characters, from a long table name): FAILED, saying why
                limit = exc.code == "LimitExceededException"
                entry.update(
                    status="FAILED",
                    want=[],
                    updated=self.engine.clock(),
                    failure={
                        "ExceptionName": exc.code,
                        "ExceptionDescription": insights.LIMIT_TEXT if limit else exc.message,
                    },
                )
                self.engine.save(table)
                return
            entry["rules"] = list(entry["want"])
        if entry["status"] == "ENABLING":
            entry["status"] = "ENABLED"
        else:
            entry.update(status="DISABLED", failure=None, updated=self.engine.clock())
        self.engine.save(table)

    async def _cloudwatch(self, operation: str, params: Result, account: str, region: str) -> None:
        try:
            await self.env.call("cloudwatch", operation, params, account=account, region=region)
        except (NotImplementedOperation, ServiceError):
            log.debug("contributor insights: %s failed", operation, exc_info=True)
