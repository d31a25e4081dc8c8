"""Global tables, version 2019.11.21: a table's replicas in other regions, kept equal.

Why it is built this way:

- **One engine holds every region**, so a replica is the table of the same name in
  another region, and replication is a write to it in the transaction of the write
  that caused it (``Engine.write``). AWS replicates asynchronously, usually within a
  second, and resolves concurrent writes by last writer wins; here the replicas are
  equal once a write is acknowledged, which is the outcome AWS's replication reaches,
  without the lag. Replicated writes appear in each replica's stream, as on AWS.
- **Adding a replica copies the table** (``UpdateTable`` with ``ReplicaUpdates``):
  the new table is ``CREATING`` (no reads or writes there, as on AWS) while the items
  are copied in key order, a slice per event-loop turn. A write made meanwhile reaches
  the replica when its key is at or before the copy's cursor; a later key is copied
  from the live table when the copy gets there. The cursor is saved with the replica
  (``Table.replicating``), so a restart carries on. A small table is copied before
  the request answers (``WAIT``), as restores are.
- **What AWS keeps aligned across replicas is changed on all of them**: global
  secondary indexes, TTL, billing mode and capacity, the stream
  (``aligned``). Tags, deletion protection, point-in-time recovery and
  resource policies stay each replica's own.
- **A strongly consistent (MRSC) group is the same replicas under stricter rules**
  (``strong.py``): made whole by one request, frozen after it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.dynamodb import encryption, errors, streams, strong
from cloudlet.services.dynamodb.backup_checks import AWS_REGIONS
from cloudlet.services.dynamodb.engine import Engine, copy_cursor
from cloudlet.services.dynamodb.store import load
from cloudlet.services.dynamodb.tables import Table, new_stream

WAIT = seconds_setting("CLOUDLET_DYNAMODB_REPLICA_WAIT", 0.05)
"""Seconds an UpdateTable adding a replica copies before it answers (CREATING if not done)."""

Step = Callable[[int], bool]
ACTIONS = ("Create", "Update", "Delete")
SOURCE_DAYS = 86400.0
"""A table that sourced a new replica cannot leave the group for a day while that
replica exists."""
ALIGNED = (
    "AttributeDefinitions",
    "GlobalSecondaryIndexUpdates",
    "BillingMode",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "TableClass",
)
"""UpdateTable's members that change every replica: AWS keeps a global table's
indexes, capacity mode, capacity and class aligned (TTL too: ``ttl.py``)."""
NOT_ALONE = ("AttributeDefinitions",)
"""Members beside the table-changing ones that ReplicaUpdates may not come with."""

# AWS's texts (lab captures of live DynamoDB, 2026-10: DDB-TABLE-188/204/226/266/297/310).
_LOCAL = (
    "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
    "DeleteTable, or UpdateTable as required."
)
_SOURCE = (
    "Replica cannot be deleted because it has acted as a source region for new replica(s) "
    "being added to the table in the last 24 hours."
)
_NOT_AUTOSCALED = "Table write capacity should either be Pay-Per-Request or AutoScaled."


def check_request(params: dict[str, Any], changes: tuple[str, ...]) -> None:
    """ReplicaUpdates' shape, before the table is looked up: alone in the request
    (``changes``: the members that change the table), an action in each entry and one
    kind of action only, one replica added or removed per request (a Create repeated
    for the same region counts once). An MRSC group is made with two Creates, and
    dissolved with several Deletes, which only the table tells apart (``apply``)."""
    updates = params.get("ReplicaUpdates")
    if not updates:
        return
    if any(params.get(m) is not None for m in (*changes, *NOT_ALONE)):
        raise errors.invalid_parameter(
            "Replica modification must be the only operation in the request"
        )
    adds_or_removes = set()
    for upd in updates:
        actions = [a for a in ACTIONS if upd.get(a) is not None]
        if len(actions) > 1:
            raise errors.validation(
                "Update table operation with more than one type of replica actions not allowed."
            )
        action = actions[0] if actions else None
        spec = (upd.get(action) or {}) if action else {}
        if action is None or (action == "Update" and set(spec) <= {"RegionName"}):
            raise errors.validation(
                "There are no actions specified in the Replica Update Action of the request."
            )
        if action != "Update":
            adds_or_removes.add((action, spec.get("RegionName")))
    strong_creates = params.get("MultiRegionConsistency") == strong.STRONG
    only_deletes = {action for action, _ in adds_or_removes} == {"Delete"}
    if len(adds_or_removes) > 1 and not strong_creates and not only_deletes:
        raise errors.validation(_ONE_ACTION)


_ONE_ACTION = (
    "Update table operation with more than one create or delete replica actions not allowed"
)


def aligned(params: dict[str, Any]) -> dict[str, Any]:
    """The part of an UpdateTable every replica takes (nothing: ``{}``)."""
    out = {m: params[m] for m in ALIGNED if params.get(m) is not None}
    return out if set(out) - {"AttributeDefinitions"} else {}


def check_update(table: Table, peers: list[Table], params: dict[str, Any]) -> None:
    """What a global table refuses of an UpdateTable: its stream turned off (eventual
    replication reads it; enabling another is refused as for any table with a stream;
    an MRSC member's stream is its own), a switch to
    provisioned capacity, which would need auto scaling cloudlet does not have, and a
    change every replica takes while one is still being added (DDB-TABLE-310)."""
    if not table.replicas:
        return
    if aligned(params) and any(peer.replicating is not None for peer in peers):
        raise errors.resource_in_use("The resource which you are attempting to change is in use.")
    stream = params.get("StreamSpecification")
    if stream is not None and not stream.get("StreamEnabled") and not strong.is_strong(table):
        raise errors.invalid_parameter(
            "Disabling Stream is not allowed for a Global Table replica."
        )
    if params.get("BillingMode") == "PROVISIONED":
        raise errors.validation(_NOT_AUTOSCALED)


def members(engine: Engine, table: Table) -> list[Table]:
    """Every replica table of ``table``'s global table that exists, ``table`` included."""
    out = []
    for region in table.replicas or [table.region]:
        other = engine.tables.get(table.member_key(region))
        if other is not None and (other is table or other.replicas):
            out.append(other)
    return out


def others(engine: Engine, table: Table) -> list[Table]:
    return [t for t in members(engine, table) if t is not table]


def apply(engine: Engine, table: Table, params: dict[str, Any]) -> tuple[list[Table], list[Table]]:
    """Add, change and remove replicas of ``table`` as UpdateTable's ReplicaUpdates (and,
    for an MRSC group, MultiRegionConsistency and GlobalTableWitnessUpdates: ``strong.py``)
    ask; returns the new replicas, to be copied (``steps``), and the removed ones. Every
    check runs before anything changes."""
    updates = params["ReplicaUpdates"]
    group = {t.region: t for t in members(engine, table)}
    for t in group.values():
        if t.replicating is not None:
            raise errors.validation(
                "Create/Update/Delete of replica is not allowed while the replica is being "
                f"added to table with name: \u2018{table.name}\u2019 in region: "
                f"\u2018{t.region}\u2019."
            )
    strong.check_update(table, group, params)
    making_strong = params.get("MultiRegionConsistency") == strong.STRONG
    if making_strong:
        strong.check_empty(table, not engine.store.items_after(table.tid, None, 1))
    deleted_regions = {u["Delete"].get("RegionName") for u in updates if u.get("Delete")}
    if len(deleted_regions) > 1 and not strong.is_strong(table):
        raise errors.validation(_ONE_ACTION)
    creates: dict[str, dict[str, Any]] = {}
    changes: list[tuple[Table, dict[str, Any]]] = []
    deletes: list[Table] = []
    for upd in updates:
        if upd.get("Create") is not None:
            spec = upd["Create"]
            creates[spec.get("RegionName") or ""] = spec
            _check_create(engine, table, spec, group)
        elif upd.get("Delete") is not None:
            deletes.append(_check_delete(engine, table, upd["Delete"], group))
        else:
            spec = upd["Update"]
            target = _member(table, spec, group)
            _check_overrides(target, spec, create=False)
            changes.append((target, spec))
    now = engine.clock()
    regions = sorted((set(group) | set(creates)) - {t.region for t in deletes})
    together = len(regions) > 1
    consistency = strong.STRONG if making_strong or strong.is_strong(table) else None
    witness = _witness(table, params) if consistency else None
    created = []
    with engine.store.transaction():
        if creates and not consistency:  # MRSC does not replicate through streams
            enable_stream(table, now)
        for region, spec in creates.items():
            replica = replica_of(table, region, now, spec.get("KMSMasterKeyId"))
            _override(replica, spec, now)
            created.append(engine.add_table(replica))
            if not consistency:  # an MRSC group is dissolved whole, whenever
                table.sourced[region] = now
        for target, spec in changes:
            _override(target, spec, now)
        for t in deletes:
            drop_replica(engine, t)
        for t in [*(t for t in group.values() if t not in deletes), *created]:
            t.replicas = regions if together else []
            t.consistency = consistency if together else None
            t.witness = witness if together else None
            t.settings = None  # a same-account group's mode is ENABLED_WITH_OVERRIDES
            engine.save(t)
    return created, deletes


def _witness(table: Table, params: dict[str, Any]) -> str | None:
    """The MRSC group's witness region after the request (None: none, or deleted)."""
    for w in params.get("GlobalTableWitnessUpdates") or ():
        if w.get("Create"):
            return w["Create"].get("RegionName")
        if w.get("Delete"):
            return None
    return table.witness


def _check_create(
    engine: Engine, table: Table, spec: dict[str, Any], group: dict[str, Table]
) -> None:
    region = spec.get("RegionName") or ""
    if region == table.region:
        raise errors.validation(_LOCAL)
    if region not in AWS_REGIONS:
        raise errors.validation(
            f"Region {region} is not supported. The latest version of global tables are "
            f"only supported in the following regions: [{', '.join(sorted(AWS_REGIONS))}]."
        )
    if region in group or engine.tables.get((table.account, region, table.name)) is not None:
        raise errors.validation(
            "Failed to create a the new replica of table with name: "
            f"\u2018{table.name}\u2019 because one or more replicas already existed as tables."
        )
    if table.billing != "PAY_PER_REQUEST":
        raise errors.validation(_NOT_AUTOSCALED)
    if _customer_key(table) and not spec.get("KMSMasterKeyId"):
        raise errors.invalid_parameter("KMSMasterKeyId must be specified for each replica.")
    _check_overrides(table, spec, create=True)


def _check_overrides(table: Table, spec: dict[str, Any], *, create: bool) -> None:
    """A replica's own settings: an Update's provisioned read capacity means nothing to an
    on-demand table (a Create's is taken, as AWS takes it)."""
    if spec.get("ProvisionedThroughputOverride") is not None and not create:
        if table.billing == "PAY_PER_REQUEST":
            raise errors.invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )


def _member(table: Table, spec: dict[str, Any], group: dict[str, Table]) -> Table:
    """The replica an Update or Delete names."""
    region = spec.get("RegionName") or ""
    if region not in group:
        raise errors.validation(
            "Update global table operation failed because one or more replicas were not part "
            f"of the global table. Please retry the request without these replicas: [{region}]."
        )
    if spec.get("KMSMasterKeyId") is not None:
        raise errors.invalid_parameter("KMSMasterKeyId must be specified for each replica.")
    return group[region]


def _check_delete(
    engine: Engine, table: Table, spec: dict[str, Any], group: dict[str, Table]
) -> Table:
    if spec.get("RegionName") == table.region:
        raise errors.validation(_LOCAL)
    target = _member(table, spec, group)
    check_may_leave(engine, target)
    return target


def check_may_leave(engine: Engine, table: Table) -> None:
    """Whether a replica may be deleted: not while deletion protection is on, nor within
    a day of sourcing a replica that still exists."""
    if table.deletion_protection:
        raise errors.validation(
            f"Cannot delete table {table.name} in region {table.region} because it has "
            "deletion protection enabled. Disable deletion protection first."
        )
    now = engine.clock()
    for region, when in table.sourced.items():
        sourced = engine.tables.get(table.member_key(region))
        if now < when + SOURCE_DAYS and sourced is not None and table.region in sourced.replicas:
            raise errors.validation(_SOURCE)


def _customer_key(table: Table) -> bool:
    sse = table.sse
    return sse is not None and sse.get("KMSMasterKeyArn") != encryption.managed_key_arn(
        table.account, table.region
    )


def _override(replica: Table, spec: dict[str, Any], now: float) -> None:
    """A replica's own table class and on-demand read maximum (table and indexes)."""
    cls = spec.get("TableClassOverride")
    if cls is not None:
        if cls != replica.table_class:
            replica.table_class_updated = now
        replica.table_class, replica.table_class_set = cls, True
    reads = (spec.get("OnDemandThroughputOverride") or {}).get("MaxReadRequestUnits")
    if reads is not None:
        replica.on_demand = {**(replica.on_demand or {}), "MaxReadRequestUnits": int(reads)}
    for gsi in spec.get("GlobalSecondaryIndexes") or ():
        reads = (gsi.get("OnDemandThroughputOverride") or {}).get("MaxReadRequestUnits")
        for ix in replica.indexes:  # an unknown index name is taken and ignored, as on AWS
            if ix.name == gsi.get("IndexName") and reads is not None:
                ix.on_demand = {**(ix.on_demand or {}), "MaxReadRequestUnits": int(reads)}


def replica_of(
    table: Table,
    region: str,
    now: float,
    key: str | None = None,
    *,
    account: str | None = None,
    name: str | None = None,
) -> Table:
    """The new replica's definition: ``table``'s keys, indexes, billing, stream, TTL and
    encryption (``key``: its own customer-managed key), in ``region`` (and ``account``,
    named ``name``, for a multi-account replica), CREATING until its copy is done."""
    new = copy.deepcopy(table)
    new.tid = 0
    new.region = region
    new.account = account or table.account
    new.name = name or table.name
    new.created = now
    new.table_id = str(uuid.uuid4())
    new.tags = {}
    new.insights = {}  # each replica's own (developer guide, contributorinsights_HowItWorks)
    new.deletion_protection = False
    new.pitr = None
    new.restore = new.restoring = None
    new.throughput_log = None
    new.sourced = {}
    new.remote = {}
    new.kinesis = []  # each replica streams where it is told to
    new.item_count = new.size_bytes = None
    new.index_counts = None
    new.status = "CREATING"
    new.replicating = {"source": table.tid, "after": None}
    if new.ttl:
        new.ttl = {**new.ttl, "backfill": False}
    if table.stream is not None:
        new.stream = new_stream(new, table.stream["view"], now)
    if table.sse is not None:
        new.sse = encryption.description(
            new.account, region, {"SSEType": "KMS", "KMSMasterKeyId": key}
        )
    for ix in new.indexes:
        ix.status = "CREATING"
        ix.throughput_log = None
    return new


def enable_stream(table: Table, now: float) -> None:
    """A table gaining its first replica gets a NEW_AND_OLD_IMAGES stream if it has none
    enabled; one it has is kept, whatever its view type (DDB-TABLE-221/305)."""
    if table.stream is None or not table.stream["enabled"]:
        if table.stream is not None and now <= table.stream["created"] + 0.001:
            now = table.stream["created"] + 0.001
        table.stream = new_stream(table, "NEW_AND_OLD_IMAGES", now)


def steps(engine: Engine, replica: Table) -> Step:
    """The copy of a new replica's items: ``step(n)`` copies up to ``n`` items and returns
    True when the replica is ACTIVE (or gone)."""

    def step(n: int) -> bool:
        job = replica.replicating
        if engine.by_id.get(replica.tid) is not replica or job is None:
            return True
        source = engine.by_id.get(job["source"])
        if source is None or replica.region not in source.replicas:
            source = _another_source(engine, replica)
            if source is None:  # every other replica went: nothing to copy from
                _finish(engine, replica)
                return True
            job["source"] = source.tid
        return _copy(engine, source, replica, job, n)

    return step


def _another_source(engine: Engine, replica: Table) -> Table | None:
    for t in others(engine, replica):
        if t.replicating is None:
            return t
    return None


def _copy(engine: Engine, source: Table, replica: Table, job: dict[str, Any], n: int) -> bool:
    rows = engine.store.items_after(source.tid, copy_cursor(job), n)
    with engine.store.transaction():
        for h, hk, rk, size, _exp, body in rows:
            engine.write(
                replica, (h, hk, rk), None, load(body), size=size, replicate=False, log=False
            )
        if rows:
            h, hk, rk = rows[-1][:3]
            job["after"] = [h, hk.hex(), rk.hex()]
        if len(rows) < n:
            _finish(engine, replica)
            return True
        engine.save(replica)
    return False


def _finish(engine: Engine, replica: Table) -> None:
    replica.replicating = None
    replica.status = "ACTIVE"
    for ix in replica.indexes:
        ix.status = "ACTIVE"
    engine.save(replica)


def drop_replica(engine: Engine, table: Table) -> None:
    """Delete one replica's table (its stream stays readable for 24 hours)."""
    engine.drop(table, keep_changes=streams.retire(engine, table))


def leave(engine: Engine, table: Table) -> None:
    """``table`` is being deleted: the other replicas no longer count its region."""
    rest = others(engine, table)
    group = sorted(t.region for t in rest)
    for t in rest:
        t.replicas = group if len(group) > 1 else []
        t.remote = {r: a for r, a in t.remote.items() if r != table.region and t.replicas}
        engine.save(t)
