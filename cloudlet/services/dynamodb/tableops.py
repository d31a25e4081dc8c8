"""Table-level operations: UpdateTable, DeleteTable, ListTables, tags, TTL settings.

CreateTable's parsing lives in ``tables.py``; these are the operations that
change or list existing tables. Adding a global secondary index starts a real
backfill (``Engine.reindex``), run in steps by the service while the index
reports ``CREATING``; queries on it are refused until it is ``ACTIVE``.

UpdateTable is all or nothing, as on AWS: it works out the new definition on a
copy and the live table takes it only when every check passed, so a refused
request cannot leave a table half-changed in memory (and different after a
restart) or an index stuck in ``CREATING``.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from typing import Any

from cloudlet.services.dynamodb import errors, streams
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.tables import (
    MAX_GSI,
    ON_DEMAND_UNITS,
    WARM_UNITS,
    Index,
    Table,
    check_table_enums,
    check_tags,
    check_throughput,
    describe,
    merge_units,
    new_stream,
    parse_attribute_definitions,
    parse_index,
    sse_description,
)

Result = dict[str, Any]


def update_table(
    engine: Engine, table: Table, params: dict[str, Any]
) -> tuple[Result, list[Index]]:
    """Apply UpdateTable; returns the description and the new indexes to backfill.

    As on AWS, a request that fails changes nothing: the update is worked out on a copy
    of the definition, and only once every check passed does the live table take it
    (with the index rows of a deleted index dropped, in one transaction).
    """
    refuse_while_creating(table)
    check_table_enums(params)
    new = copy.deepcopy(table)
    created, deleted = _apply_update(engine, new, params)
    with engine.store.transaction() as conn:
        for ix in deleted:
            conn.execute("DELETE FROM index_items WHERE iid = ?", (ix.iid,))
        for ix in created:
            ix.iid = engine.store.next_counter("index")
        _adopt(table, new)
        engine.save(table)
    return {"TableDescription": describe(table, engine.counts(table))}, created


def _adopt(table: Table, new: Table) -> None:
    """Make ``table`` (the live object every request and backfill holds) what ``new`` is.

    An index that survives the update keeps its object, updated in place: a running
    backfill holds it and marks that very object ACTIVE when done.
    """
    live = {(ix.name, ix.iid): ix for ix in table.indexes}
    indexes = []
    for ix in new.indexes:
        kept = live.get((ix.name, ix.iid))
        if kept is not None:
            for f in fields(Index):
                setattr(kept, f.name, getattr(ix, f.name))
            ix = kept
        indexes.append(ix)
    for f in fields(Table):
        if f.name != "indexes":
            setattr(table, f.name, getattr(new, f.name))
    table.indexes = indexes


def _apply_update(
    engine: Engine, table: Table, params: dict[str, Any]
) -> tuple[list[Index], list[Index]]:
    """UpdateTable's checks and changes on ``table`` (a copy: it may be left half-changed
    by an error). Returns the GSIs created (index id 0 until committed) and deleted."""
    changed = False
    added = parse_attribute_definitions(params.get("AttributeDefinitions"))
    for name, kind in added.items():
        known = table.attributes.get(name)
        if known is not None and known != kind:
            raise errors.invalid_parameter(f"Cannot change the type of attribute {name}")
    defs = {**table.attributes, **added}
    billing = params.get("BillingMode")
    if billing is not None and billing != table.billing:
        table.billing = billing
        if billing == "PAY_PER_REQUEST":
            table.on_demand_since = engine.clock()
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
    created: list[Index] = []
    deleted: list[Index] = []
    gsi_updates = params.get("GlobalSecondaryIndexUpdates") or []
    if sum(1 for upd in gsi_updates if upd.get("Create") or upd.get("Delete")) > 1:
        raise errors.limit_exceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted "
            "simultaneously per table"
        )
    for upd in gsi_updates:
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
            ix.status = "CREATING"
            table.indexes.append(ix)
            for name, t in defs.items():
                if name in ix.key_names():
                    table.attributes[name] = t
            created.append(ix)
            changed = True
        elif upd.get("Update"):
            spec = upd["Update"]
            ix = _gsi(table, spec["IndexName"])
            # Terraform and CDK send an Update with only WarmThroughput or OnDemandThroughput.
            if spec.get("ProvisionedThroughput") is not None or not (
                spec.get("WarmThroughput") or spec.get("OnDemandThroughput")
            ):
                ix.throughput = check_throughput(table.billing, spec.get("ProvisionedThroughput"))
            ix.warm = merge_units(ix.warm, spec.get("WarmThroughput"), WARM_UNITS)
            ix.on_demand = merge_units(
                ix.on_demand, spec.get("OnDemandThroughput"), ON_DEMAND_UNITS
            )
            changed = True
        elif upd.get("Delete"):
            ix = _gsi(table, upd["Delete"]["IndexName"])
            table.indexes.remove(ix)
            deleted.append(ix)
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
    # An UpdateTable with only WarmThroughput (or OnDemandThroughput) is a whole request:
    # it is what the Terraform AWS provider sends for a warm_throughput block.
    if params.get("WarmThroughput"):
        table.warm = merge_units(table.warm, params["WarmThroughput"], WARM_UNITS)
        changed = True
    if params.get("OnDemandThroughput"):
        table.on_demand = merge_units(
            table.on_demand, params["OnDemandThroughput"], ON_DEMAND_UNITS
        )
        changed = True
    if not changed:
        raise errors.validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
            "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
        )
    return created, deleted


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
    engine.drop(table, keep_changes=streams.retire(engine, table))
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
    if len(merged) > 50:  # AWS counts before it checks the tags themselves
        raise errors.limit_exceeded("The number of tags exceeds the limit of 50 per resource")
    check_tags(tags)
    table.tags = merged
    engine.save(table)


def untag_resource(engine: Engine, table: Table, keys: list[str]) -> None:
    table.tags = {k: v for k, v in table.tags.items() if k not in set(keys)}
    engine.save(table)


def list_tags(table: Table, params: dict[str, Any]) -> Result:
    items = [{"Key": k, "Value": v} for k, v in table.tags.items()]
    token = params.get("NextToken")
    start = 0
    if token:
        # Our own tokens are offsets; anything else is the client's error, not ours.
        if not (token.isascii() and token.isdigit() and len(token) < 10):
            raise errors.validation(f"Invalid NextToken: {token}")
        start = int(token)
    page = items[start : start + 100]
    out: Result = {"Tags": page}
    if start + 100 < len(items):
        out["NextToken"] = str(start + 100)
    return out
