"""Table-level operations: UpdateTable, DeleteTable, ListTables, tags, TTL settings.

CreateTable's parsing lives in ``tables.py``; these are the operations that
change or list existing tables. Adding a global secondary index starts a real
backfill (``Engine.reindex``), run in steps by the service while the index
reports ``CREATING``; queries on it are refused until it is ``ACTIVE``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.tables import (
    MAX_GSI,
    Index,
    Table,
    check_throughput,
    describe,
    new_stream,
    parse_index,
    sse_description,
)

Result = dict[str, Any]


def update_table(
    engine: Engine, table: Table, params: dict[str, Any]
) -> tuple[Result, list[Index]]:
    """Apply UpdateTable; returns the description and the new indexes to backfill."""
    refuse_while_creating(table)
    changed = False
    for d in params.get("AttributeDefinitions") or []:
        known = table.attributes.get(d["AttributeName"])
        if known is not None and known != d["AttributeType"]:
            raise errors.invalid_parameter(
                f"Cannot change the type of attribute {d['AttributeName']}"
            )
    defs = dict(table.attributes)
    defs.update(
        {d["AttributeName"]: d["AttributeType"] for d in params.get("AttributeDefinitions") or []}
    )
    billing = params.get("BillingMode")
    if billing is not None and billing != table.billing:
        table.billing = billing
        table.throughput = check_throughput(billing, params.get("ProvisionedThroughput"))
        for ix in table.indexes:
            if ix.kind == "GSI":
                ix.throughput = (
                    {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
                    if billing == "PAY_PER_REQUEST"
                    else dict(table.throughput)
                )
        changed = True
    elif params.get("ProvisionedThroughput") is not None:
        tp = check_throughput(table.billing, params["ProvisionedThroughput"])
        if tp == table.throughput:
            raise errors.validation(
                "The provisioned throughput for the table will not change. The requested value "
                "equals the current value. Current ReadCapacityUnits provisioned for the table: "
                f"{tp['ReadCapacityUnits']}. Requested ReadCapacityUnits: "
                f"{tp['ReadCapacityUnits']}. Current WriteCapacityUnits provisioned for the "
                f"table: {tp['WriteCapacityUnits']}. Requested WriteCapacityUnits: "
                f"{tp['WriteCapacityUnits']}. Refer to the Amazon DynamoDB Developer Guide for "
                "current limits and how to request higher limits."
            )
        table.throughput = tp
        changed = True
    backfill: list[Index] = []
    for upd in params.get("GlobalSecondaryIndexUpdates") or []:
        if upd.get("Create"):
            spec = upd["Create"]
            if any(ix.name == spec["IndexName"] for ix in table.indexes):
                raise errors.invalid_parameter(
                    f"Index with name: {spec['IndexName']} already exists"
                )
            if sum(1 for ix in table.indexes if ix.kind == "GSI") >= MAX_GSI:
                raise errors.limit_exceeded(
                    f"Subscriber limit exceeded: The number of global secondary indexes per "
                    f"table is limited to {MAX_GSI}"
                )
            ix = parse_index(spec, "GSI", defs, table.billing, set())
            ix.iid = engine.store.next_counter("index")
            ix.status = "CREATING"
            table.indexes.append(ix)
            for name, t in defs.items():
                if name in ix.key_names():
                    table.attributes[name] = t
            backfill.append(ix)
            changed = True
        elif upd.get("Update"):
            spec = upd["Update"]
            ix = _gsi(table, spec["IndexName"])
            ix.throughput = check_throughput(table.billing, spec.get("ProvisionedThroughput"))
            changed = True
        elif upd.get("Delete"):
            ix = _gsi(table, upd["Delete"]["IndexName"])
            table.indexes.remove(ix)
            engine.store.conn.execute("DELETE FROM index_items WHERE iid = ?", (ix.iid,))
            used = set(table.key_names)
            for other in table.indexes:
                used.update(other.key_names())
            table.attributes = {k: v for k, v in table.attributes.items() if k in used}
            changed = True
    stream = params.get("StreamSpecification")
    if stream is not None:
        if stream.get("StreamEnabled"):
            if table.stream is not None and table.stream["enabled"]:
                raise errors.validation(
                    f"Table already has an enabled stream: {table.stream['arn']}"
                )
            view = stream.get("StreamViewType")
            if view is None:
                raise errors.validation(
                    "One or more parameter values were invalid: StreamViewType must be "
                    "specified when StreamEnabled is true"
                )
            now = engine.clock()
            if table.stream is not None and now <= table.stream["created"] + 0.001:
                now = table.stream["created"] + 0.001  # labels are per millisecond: keep them apart
            table.stream = new_stream(table, view, now)
        else:
            if table.stream is None or not table.stream["enabled"]:
                raise errors.validation("Table does not have an enabled stream")
            table.stream = {**table.stream, "enabled": False, "disabled": engine.clock()}
        changed = True
    if params.get("DeletionProtectionEnabled") is not None:
        table.deletion_protection = bool(params["DeletionProtectionEnabled"])
        changed = True
    if params.get("TableClass") is not None:
        table.table_class = params["TableClass"]
        changed = True
    sse = params.get("SSESpecification")
    if sse is not None:
        table.sse = sse_description(table, sse)
        changed = True
    if not changed:
        raise errors.validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
            "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
        )
    engine.save(table)
    return {"TableDescription": describe(table, engine.counts(table))}, backfill


def _gsi(table: Table, name: str) -> Index:
    for ix in table.indexes:
        if ix.name == name and ix.kind == "GSI":
            return ix
    raise errors.resource_not_found(f"Requested resource not found: Index: {name} not found")


def refuse_while_creating(table: Table) -> None:
    """UpdateTable and DeleteTable wait for a table an import is still loading."""
    if table.status == "CREATING":
        raise errors.resource_in_use(
            f"Attempt to change a resource which is still in use: Table is being created: "
            f"{table.name}"
        )


def delete_table(engine: Engine, table: Table) -> Result:
    refuse_while_creating(table)
    if table.deletion_protection:
        raise errors.validation(
            "Resource cannot be deleted as it is currently protected against deletion. "
            "Disable deletion protection first."
        )
    desc = describe(table, engine.counts(table))
    desc["TableStatus"] = "DELETING"
    engine.drop(table)
    return {"TableDescription": desc}


def list_tables(engine: Engine, account: str, region: str, params: dict[str, Any]) -> Result:
    limit = errors.check_limit(params.get("Limit"), 100)
    start = params.get("ExclusiveStartTableName")
    names = sorted(n for (a, r, n) in engine.tables if a == account and r == region)
    if start is not None:
        names = [n for n in names if n > start]
    out: Result = {"TableNames": names[:limit]}
    if len(names) > limit:
        out["LastEvaluatedTableName"] = names[limit - 1]
    return out


# --------------------------------------------------------------------------- tags


def table_for_arn(engine: Engine, account: str, region: str, arn: str) -> Table:
    prefix = f"arn:aws:dynamodb:{region}:{account}:table/"
    if arn.startswith(prefix):
        name = arn[len(prefix) :].split("/", 1)[0]
        table = engine.find(account, region, name)
        if table is not None:
            return table
    if not arn.startswith("arn:"):
        raise errors.validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
    raise errors.resource_not_found(f"Requested resource not found: ResourcArn: {arn} not found")


def tag_resource(engine: Engine, table: Table, tags: list[dict[str, str]]) -> None:
    merged = dict(table.tags)
    merged.update({t["Key"]: t["Value"] for t in tags})
    if len(merged) > 50:
        raise errors.limit_exceeded("The number of tags exceeds the limit of 50 per resource")
    table.tags = merged
    engine.save(table)


def untag_resource(engine: Engine, table: Table, keys: list[str]) -> None:
    table.tags = {k: v for k, v in table.tags.items() if k not in set(keys)}
    engine.save(table)


def list_tags(table: Table, params: dict[str, Any]) -> Result:
    items = [{"Key": k, "Value": v} for k, v in table.tags.items()]
    start = int(params.get("NextToken") or 0)
    page = items[start : start + 100]
    out: Result = {"Tags": page}
    if start + 100 < len(items):
        out["NextToken"] = str(start + 100)
    return out
