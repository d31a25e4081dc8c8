"""DescribeTable's TableDescription, built from a ``Table``.

Why its own module: CreateTable, UpdateTable, DeleteTable, DescribeTable, the restores
and backups all answer with (parts of) the same description, while ``tables.py`` owns
what a table is and how a CreateTable request becomes one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.dynamodb.tables import Index, Table
from cloudlet.services.dynamodb.throughput import describe_throughput
from cloudlet.services.dynamodb.warm import warm_description


def key_schema_of(h: tuple[str, str], r: tuple[str, str] | None) -> list[dict[str, str]]:
    out = [{"AttributeName": h[0], "KeyType": "HASH"}]
    if r is not None:
        out.append({"AttributeName": r[0], "KeyType": "RANGE"})
    return out


def index_key_schema(ix: Index) -> list[dict[str, str]]:
    """An index's KeySchema as created: every HASH element, then every RANGE element (the
    only order CreateTable accepts, so the order given; DDB-TABLE-123)."""
    return [{"AttributeName": n, "KeyType": "HASH"} for n, _ in ix.hash_keys()] + [
        {"AttributeName": n, "KeyType": "RANGE"} for n, _ in ix.range_keys()
    ]


def projection_description(ix: Index) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": ix.projection}
    if ix.non_key:
        out["NonKeyAttributes"] = list(ix.non_key)
    return out


def describe(
    table: Table,
    counts: dict[str, tuple[int, int]] | None = None,
    now: float | None = None,
    *,
    created: bool = False,
    peers: list[Table] | None = None,
) -> dict[str, Any]:
    """TableDescription; ``counts`` gives (items, bytes) for the table ("") and each index,
    ``now`` the time NumberOfDecreasesToday counts the day of (default: the clock).
    ``created``: CreateTable's answer, without what AWS fills in once the table exists
    (a warm throughput nobody configured, the on-demand timestamp: AWS-recorded
    create_table_response, 2025). ``peers``: a global table's other replicas
    (``replicas.others``)."""
    counts = counts or {}
    now = time.time() if now is None else now
    n, size = counts.get("", (table.item_count or 0, table.size_bytes or 0))
    out: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": k, "AttributeType": v} for k, v in table.attributes.items()
        ],
        "TableName": table.name,
        "KeySchema": key_schema_of(table.hash, table.range),
        "TableStatus": table.status,
        "CreationDateTime": datetime.fromtimestamp(table.created, UTC),
        "ProvisionedThroughput": describe_throughput(table.throughput, table.throughput_log, now),
        "TableSizeBytes": size,
        "ItemCount": n,
        "TableArn": table.arn,
        "TableId": table.table_id,
        "DeletionProtectionEnabled": table.deletion_protection,
    }
    since = table.on_demand_since
    if since is None and table.billing == "PAY_PER_REQUEST":
        since = table.created  # a table saved before on_demand_since was kept
    if since is not None:  # AWS: once a table has been on demand, in either mode
        out["BillingModeSummary"] = {"BillingMode": table.billing}
        if not created:
            out["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"] = datetime.fromtimestamp(
                since, UTC
            )
    lsis, gsis = [], []
    for ix in table.indexes:
        icount, isize = counts.get(ix.name, (0, 0))
        d: dict[str, Any] = {
            "IndexName": ix.name,
            "KeySchema": index_key_schema(ix),
            "Projection": projection_description(ix),
            "IndexSizeBytes": isize,
            "ItemCount": icount,
            "IndexArn": f"{table.arn}/index/{ix.name}",
        }
        if ix.kind == "LSI":
            lsis.append(d)
        else:
            d["IndexStatus"] = ix.status
            if ix.status == "CREATING":
                d["Backfilling"] = True
            d["ProvisionedThroughput"] = describe_throughput(ix.throughput, ix.throughput_log, now)
            warm = _warm(ix.warm, ix.throughput, created)
            if warm is not None:
                d["WarmThroughput"] = warm
            if ix.on_demand:
                d["OnDemandThroughput"] = dict(ix.on_demand)
            gsis.append(d)
    if lsis:
        out["LocalSecondaryIndexes"] = lsis
    if gsis:
        out["GlobalSecondaryIndexes"] = gsis
    if table.stream is not None:
        if table.stream["enabled"]:
            out["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": table.stream["view"],
            }
        out["LatestStreamLabel"] = table.stream["label"]
        out["LatestStreamArn"] = table.stream["arn"]
    if table.sse is not None:
        out["SSEDescription"] = dict(table.sse)
    if table.table_class != "STANDARD" or table.table_class_set:
        out["TableClassSummary"] = table_class_summary(table)
    warm = _warm(table.warm, table.throughput, created)
    if warm is not None:
        out["WarmThroughput"] = warm
    if table.on_demand:
        out["OnDemandThroughput"] = dict(table.on_demand)
    if table.restore is not None:
        out["RestoreSummary"] = restore_summary(table.restore, table.restoring is not None)
    if table.replicas:
        out["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
        out["Replicas"] = [replica_description(t) for t in peers or ()]
        out["GlobalTableSettingsReplicationMode"] = settings_mode(table)
        if table.consistency is not None:
            out["MultiRegionConsistency"] = table.consistency
        if table.witness is not None:
            out["GlobalTableWitnesses"] = [{"RegionName": table.witness, "WitnessStatus": "ACTIVE"}]
    elif table.settings is not None:
        out["GlobalTableSettingsReplicationMode"] = table.settings
    return out


GLOBAL_TABLE_VERSION = "2019.11.21"
SETTINGS_REPLICATION = "ENABLED_WITH_OVERRIDES"
"""What a global table of one account shows (lab captures DDB-TABLE-201/229, 2026-10)."""


def settings_mode(table: Table) -> str:
    """A replica's GlobalTableSettingsReplicationMode: ENABLED in a multi-account global
    table (``multiaccount.py``), ENABLED_WITH_OVERRIDES in one of a single account."""
    return "ENABLED" if table.remote else SETTINGS_REPLICATION


def replica_description(table: Table) -> dict[str, Any]:
    """A replica's entry in DescribeTable's Replicas: its region, status and warm
    throughput, and its class once one was set (DDB-TABLE-201/229). A member of a
    multi-account global table is also named by its ARN, as its account is not the
    reader's (an entry of one account has no ReplicaArn, DDB-TABLE-201/229)."""
    out: dict[str, Any] = {
        "RegionName": table.region,
        "ReplicaStatus": table.status,
        "WarmThroughput": warm_description(table.warm, table.throughput),
        "GlobalTableSettingsReplicationMode": settings_mode(table),
    }
    if table.remote:
        out["ReplicaArn"] = table.arn
    if table.table_class != "STANDARD" or table.table_class_set:
        out["ReplicaTableClassSummary"] = table_class_summary(table)
    return out


def _warm(
    warm: dict[str, int] | None, throughput: dict[str, int] | None, created: bool
) -> dict[str, Any] | None:
    """WarmThroughput of a table or GSI. CreateTable's answer has it only when the request
    configured it, then still ``UPDATING`` (Alternator's test_warm_throughput.py, run
    against DynamoDB); the baseline every table has appears once the table exists."""
    if not created:
        return warm_description(warm, throughput)
    return warm_description(warm, throughput, "UPDATING") if warm else None


def table_class_summary(table: Table) -> dict[str, Any]:
    """TableClassSummary: the class, and LastUpdateDateTime once UpdateTable changed it
    (not for the class CreateTable set)."""
    out: dict[str, Any] = {"TableClass": table.table_class}
    if table.table_class_updated is not None:
        out["LastUpdateDateTime"] = datetime.fromtimestamp(table.table_class_updated, UTC)
    return out


def restore_summary(restore: dict[str, Any], running: bool) -> dict[str, Any]:
    """RestoreSummary of a restored table: as RestoreTableFromBackup and
    RestoreTableToPointInTime answer it, and DescribeTable keeps reporting it (API
    reference, TableDescription.RestoreSummary); ``running`` while the table is CREATING."""
    out = {k: v for k, v in restore.items() if k != "RestoreDateTime"}
    out["RestoreDateTime"] = datetime.fromtimestamp(restore["RestoreDateTime"], UTC)
    out["RestoreInProgress"] = running
    return out
