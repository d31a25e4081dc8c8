"""UpdateTable: what it checks, in AWS's order and with AWS's texts, and how it applies.

Why it is built this way:

- **All or nothing, as on AWS.** The update is worked out on a copy of the
  definition and the live table takes it only when every check passed, so a refused
  request cannot leave a table half-changed in memory (and different after a
  restart) or an index stuck in ``CREATING``. Adding a global secondary index starts
  a real backfill (``Engine.reindex``), run in steps by the service while the index
  reports ``CREATING``.
- **A request must ask for something, checked before the table is looked up**: AWS
  answers an UpdateTable with nothing to change (only TableName, or an empty
  GlobalSecondaryIndexUpdates) with a ValidationException even for a missing table.
  A member re-sent with the value it has is another matter, decided per member as AWS
  does: BillingMode and DeletionProtectionEnabled pass as no-ops, while throughput,
  stream and encryption re-sends are refused ("will not change", "already has an
  enabled stream", "already encrypted ...").
- **No transitional statuses.** AWS takes seconds to minutes for these changes;
  cloudlet applies them at once and answers ACTIVE.

The texts come from lab captures of live DynamoDB (ack-api-quirks, verified
2026-10): finding ids are cited where each rule is applied, the error-message
catalogue is DDB-TABLE-442.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import encryption, errors, multiaccount, replicas, strong
from cloudlet.services.dynamodb.describe import describe
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.table_syntax import (
    check_capacity_units,
    check_schema_syntax,
    check_table_enums,
    check_table_reference,
)
from cloudlet.services.dynamodb.tableops import refuse_while_creating
from cloudlet.services.dynamodb.tables import (
    MAX_GSI,
    ON_DEMAND_UNITS,
    Index,
    Table,
    check_throughput,
    merge_units,
    new_stream,
    parse_attribute_definitions,
    parse_index,
)
from cloudlet.services.dynamodb.throughput import record_change
from cloudlet.services.dynamodb.warm import WARM_UNITS, check_warm_increase, warm_floor

Result = dict[str, Any]

CHANGES = (
    "ProvisionedThroughput",
    "BillingMode",
    "StreamSpecification",
    "GlobalSecondaryIndexUpdates",
    "SSESpecification",
    "DeletionProtectionEnabled",
    "OnDemandThroughput",
    "WarmThroughput",
    "TableClass",
    "GlobalTableSettingsReplicationMode",
)
"""The members that make an UpdateTable a change of the table itself; ReplicaUpdates
is ``replicas.py``'s, MultiRegionConsistency and GlobalTableWitnessUpdates
``strong.py``'s."""
NOTHING_TO_CHANGE = (
    "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
    "GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, "
    "ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, "
    "OnDemandThroughput, WarmThroughput or TableClass is required"
)
"""AWS's text (DDB-TABLE-015, DDB-TABLE-442 'val_update_only_name')."""


@dataclass
class Outcome:
    """What an update did beyond the new definition: the GSIs created (to backfill) and
    deleted (rows to drop), and the answer's SSEDescription when encryption went off."""

    created: list[Index] = field(default_factory=list)
    deleted: list[Index] = field(default_factory=list)
    sse_off: dict[str, Any] | None = None


def check_update_request(params: dict[str, Any]) -> None:
    """What AWS checks before it looks the table up: the request's syntax (TableName,
    enums, key schemas, capacity values: a ValidationException even for a missing table,
    DDB-TABLE-070 and dynalite's updateTable.js), then that it names something to change.
    An empty GlobalSecondaryIndexUpdates counts as absent for that check and is refused
    itself next to another change (DDB-TABLE-015, DDB-TABLE-359)."""
    check_table_reference(params["TableName"])
    check_table_enums(params)
    check_schema_syntax(params)
    _check_capacity_values(params)
    strong.check_request(params, CHANGES)
    replicas.check_request(params, CHANGES)
    empty_gsi_list = params.get("GlobalSecondaryIndexUpdates") == []
    present = [m for m in CHANGES if params.get(m) is not None]
    if params.get("ReplicaUpdates"):
        present.append("ReplicaUpdates")
    if empty_gsi_list:
        present.remove("GlobalSecondaryIndexUpdates")
    if not present:
        raise errors.validation(NOTHING_TO_CHANGE)
    if empty_gsi_list:
        raise errors.invalid_parameter("List of GlobalSecondaryIndexUpdates is empty")
    for upd in params.get("GlobalSecondaryIndexUpdates") or []:
        _check_gsi_update_entry(upd)
    _check_combination(params)


_ALONE = (
    ("DeletionProtectionEnabled", "DeletionProtection modification must be the only operation"),
    ("SSESpecification", "Server-Side Encryption modification must be the only operation"),
    ("TableClass", "TableClass modification must be the only operation"),
)
CONCERNS = (
    "ProvisionedThroughput",
    "BillingMode",
    "OnDemandThroughput",
    "StreamSpecification",
    "DeletionProtectionEnabled",
    "SSESpecification",
    "TableClass",
    "WarmThroughput",
    "GlobalSecondaryIndexUpdates",
)
"""The members one UpdateTable may not freely combine (``_check_combination``)."""


def _check_combination(params: dict[str, Any]) -> None:
    """UpdateTable changes one concern at a time (lab captures DDB-TABLE-382, the pairwise
    matrix on idle tables, and DDB-TABLE-174, an index Create beside each member;
    DDB-TABLE-156, BillingMode beside DeletionProtectionEnabled): deletion protection,
    encryption, table class and warm throughput go alone; OnDemandThroughput goes with
    BillingMode only; a stream change or an index Create or Delete does not go with
    provisioned capacity, nor an index Create or Delete with a stream change. What
    combines: BillingMode with ProvisionedThroughput, GSI Updates, a stream change
    (to PAY_PER_REQUEST) or OnDemandThroughput, and an index Create with GSI Updates or a
    switch to PAY_PER_REQUEST. Which text a pair of two go-alone members gets follows the
    order above (the captures give each against the others, not their precedence)."""
    present = [m for m in CONCERNS if params.get(m) not in (None, [])]
    if len(present) < 2:
        return
    for member, text in _ALONE:
        if member in present:
            raise errors.invalid_parameter(f"{text} in the request")
    if "OnDemandThroughput" in present and set(present) - {"OnDemandThroughput", "BillingMode"}:
        raise errors.invalid_parameter(
            "OnDemandThroughput can only be combined with BillingMode in an UpdateTable request"
        )
    gsi = params.get("GlobalSecondaryIndexUpdates") or []
    indexes = any(u.get("Create") is not None or u.get("Delete") is not None for u in gsi)
    if "WarmThroughput" in present:
        if any(u.get("Create") is not None for u in gsi):
            raise errors.invalid_parameter(
                "Create global secondary index cannot be specified when updating WarmThroughput"
            )
        raise errors.invalid_parameter("WarmThroughput must be the only operation in the request")
    capacity = "ProvisionedThroughput" in present or params.get("BillingMode") == "PROVISIONED"
    if "StreamSpecification" in present and capacity:
        raise errors.invalid_parameter("You cannot modify stream status while updating table IOPS")
    if indexes and "ProvisionedThroughput" in present:
        raise errors.invalid_parameter(
            "You cannot create or delete index while updating table IOPS"
        )
    if indexes and "StreamSpecification" in present:
        raise errors.invalid_parameter(
            "You cannot create or delete index while changing stream status"
        )


def _check_capacity_values(params: dict[str, Any]) -> None:
    """The table's and each GSI update's ProvisionedThroughput values (``check_capacity_units``)."""
    check_capacity_units(params.get("ProvisionedThroughput"))
    for j, upd in enumerate(params.get("GlobalSecondaryIndexUpdates") or [], 1):
        for action in ("Update", "Create"):
            spec = upd.get(action) or {}
            check_capacity_units(
                spec.get("ProvisionedThroughput"),
                f"globalSecondaryIndexUpdates.{j}.member.{action.lower()}.provisionedThroughput",
                spec.get("IndexName") or "",
            )


def _check_gsi_update_entry(upd: dict[str, Any]) -> None:
    """A GlobalSecondaryIndexUpdates entry holds exactly one of Create, Update and Delete
    (error catalogue DDB-TABLE-442 and DDB-TABLE-160: an empty entry, one with two actions)."""
    actions = [a for a in ("Update", "Create", "Delete") if upd.get(a) is not None]
    if not actions:
        raise errors.invalid_parameter(
            "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
            "GlobalSecondaryIndexUpdate.Delete must not be null"
        )
    if len(actions) > 1:
        raise errors.invalid_parameter(
            "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate "
            "object"
        )


@dataclass
class Applied:
    """UpdateTable's answer and the work it leaves to run in the background: new indexes
    to backfill (of the table and of its replicas), new replicas to copy, and the
    replicas removed (whose resource policies go with them)."""

    result: Result
    backfills: list[tuple[Table, Index]]
    copies: list[Table]
    removed: list[Table]


def update_table(engine: Engine, table: Table, params: dict[str, Any]) -> Applied:
    """Apply UpdateTable to ``table`` and what AWS keeps aligned of it to its replicas
    (``replicas.aligned``), then its ReplicaUpdates.

    A request that fails changes nothing (see the module's docstring); the index rows of
    a deleted index are left to the store's purge, scheduled in the transaction that
    saves the new definition.
    """
    check_update_request(params)
    refuse_while_creating(table)
    if params.get("ReplicaUpdates"):
        multiaccount.refuse_replica_updates(table)
    peers = replicas.others(engine, table)
    replicas.check_update(table, peers, params)
    plans = [(table, params)]
    aligned = replicas.aligned(params)
    if aligned:
        plans += [(peer, aligned) for peer in peers]
    changes = []
    for target, asked in plans:
        if any(asked.get(m) is not None for m in CHANGES):
            new = copy.deepcopy(target)
            changes.append((target, new, _apply_update(engine, new, asked)))
    copies: list[Table] = []
    removed: list[Table] = []
    with engine.store.transaction():
        for target, new, outcome in changes:
            for ix in outcome.deleted:
                engine.store.schedule_purge("index", ix.iid)
            for ix in outcome.created:
                ix.iid = engine.store.next_counter("index")
            _adopt(target, new)
            engine.save(target)
        if params.get("ReplicaUpdates"):
            copies, removed = replicas.apply(engine, table, params)
    if any(outcome.deleted for _, _, outcome in changes):
        engine.purge_soon()
    desc = describe(
        table, engine.counts(table), engine.clock(), peers=replicas.others(engine, table)
    )
    outcome = changes[0][2] if changes and changes[0][0] is table else Outcome()
    if outcome.sse_off is not None:
        desc["SSEDescription"] = outcome.sse_off
    backfills = [(target, ix) for target, _, done in changes for ix in done.created]
    return Applied({"TableDescription": desc}, backfills, copies, removed)


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


def _apply_update(engine: Engine, table: Table, params: dict[str, Any]) -> Outcome:
    """UpdateTable's checks and changes on ``table`` (a copy: it may be left half-changed
    by an error), member by member in the order AWS checks them."""
    now = engine.clock()
    defs = parse_attribute_definitions(params.get("AttributeDefinitions"))
    # Capacity bookkeeping follows changes of a table that stays PROVISIONED; a billing
    # switch sets the capacity rather than raising or lowering it.
    steady = table.billing == "PROVISIONED" and params.get("BillingMode") in (
        None,
        "PROVISIONED",
    )
    _update_billing(table, params, now)
    outcome = _update_indexes(table, params.get("GlobalSecondaryIndexUpdates") or [], defs)
    _update_gsi_capacity(table, params.get("GlobalSecondaryIndexUpdates") or [], steady, now)
    _update_stream(table, params.get("StreamSpecification"), now)
    if params.get("DeletionProtectionEnabled") is not None:
        table.deletion_protection = bool(params["DeletionProtectionEnabled"])
    _update_table_class(table, params.get("TableClass"), now)
    if params.get("GlobalTableSettingsReplicationMode") is not None:
        multiaccount.set_mode(table, params["GlobalTableSettingsReplicationMode"])
    outcome.sse_off = _update_sse(table, params.get("SSESpecification"))
    # A request with only WarmThroughput (or OnDemandThroughput) is a whole request: it is
    # what the Terraform AWS provider sends for a warm_throughput block.
    if params.get("WarmThroughput"):
        floor = warm_floor(table.billing, table.throughput)
        check_warm_increase(table.warm, floor, params["WarmThroughput"], "table")
        table.warm = merge_units(table.warm, params["WarmThroughput"], WARM_UNITS)
    if params.get("OnDemandThroughput"):
        table.on_demand = merge_units(
            table.on_demand, params["OnDemandThroughput"], ON_DEMAND_UNITS
        )
    return outcome


def _update_table_class(table: Table, table_class: str | None, now: float) -> None:
    """TableClass: shown from now on, with the time of the last change (Alternator's
    test_tableclass.py::test_tableclass_update_table_last_update_datetime)."""
    if table_class is None:
        return
    if table_class != table.table_class:
        table.table_class_updated = now
    table.table_class = table_class
    table.table_class_set = True


# --------------------------------------------------------------------------- capacity


def _update_billing(table: Table, params: dict[str, Any], now: float) -> None:
    """BillingMode and the table's ProvisionedThroughput.

    BillingMode=PROVISIONED needs ProvisionedThroughput, switching or not (DDB-TABLE-152,
    DDB-TABLE-164); BillingMode re-sent with the mode the table has is a no-op that keeps
    BillingModeSummary as it was (DDB-TABLE-018 'billing_ppr_resend': 200).
    """
    billing = params.get("BillingMode")
    spec = params.get("ProvisionedThroughput")
    if billing == "PROVISIONED" and spec is None:
        raise errors.invalid_parameter(
            "ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
        )
    if billing is not None and billing != table.billing:
        _switch_billing(table, billing, spec, now)
    elif spec is not None:
        tp = check_throughput(table.billing, spec)
        if tp == table.throughput:
            raise _will_not_change("the table", "the table", tp)
        table.throughput_log = record_change(table.throughput_log, table.throughput, tp, now)
        table.throughput = tp


def _switch_billing(table: Table, billing: str, spec: dict[str, Any] | None, now: float) -> None:
    table.billing = billing
    if billing == "PAY_PER_REQUEST":
        table.on_demand_since = now
    table.throughput = check_throughput(billing, spec)
    for ix in table.indexes:
        if ix.kind == "GSI":
            ix.throughput = (
                {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
                if billing == "PAY_PER_REQUEST"
                else dict(table.throughput)
            )


def _will_not_change(subject: str, holder: str, tp: dict[str, int]) -> ServiceError:
    """AWS's answer to a ProvisionedThroughput equal to the current one; ``subject`` is
    "the table" or "the index <name>", ``holder`` "the table" or "index <name>".

    The table's text is complete in the error catalogue (DDB-TABLE-442); the index's is
    captured up to "Current WriteCapacityUnits ..." (DDB-TABLE-164) and continues as the
    table's does.
    """
    r, w = tp["ReadCapacityUnits"], tp["WriteCapacityUnits"]
    return errors.validation(
        f"The provisioned throughput for {subject} will not change. The requested value "
        f"equals the current value. Current ReadCapacityUnits provisioned for {holder}: {r}. "
        f"Requested ReadCapacityUnits: {r}. Current WriteCapacityUnits provisioned for "
        f"{holder}: {w}. Requested WriteCapacityUnits: {w}. Refer to the Amazon DynamoDB "
        "Developer Guide for current limits and how to request higher limits."
    )


# --------------------------------------------------------------------------- indexes


def _update_indexes(table: Table, updates: list[dict[str, Any]], defs: dict[str, str]) -> Outcome:
    """GlobalSecondaryIndexUpdates' Create and Delete actions: one per request, and none
    while an index is still being built, but for deleting that one (which cancels it, as
    the API reference allows while the index is backfilling)."""
    changes = [upd for upd in updates if upd.get("Create") or upd.get("Delete")]
    building = {ix.name for ix in table.indexes if ix.status == "CREATING"}
    if len(changes) > 1 or (
        changes
        and building
        and not (changes[0].get("Delete") and changes[0]["Delete"].get("IndexName") in building)
    ):
        raise errors.limit_exceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted "
            "simultaneously per table"
        )
    outcome = Outcome()
    for upd in updates:
        if upd.get("Create"):
            outcome.created.append(_create_gsi(table, upd["Create"], defs))
        elif upd.get("Update"):
            _gsi(table, upd["Update"]["IndexName"])
        elif upd.get("Delete"):
            outcome.deleted.append(_delete_gsi(table, upd["Delete"]["IndexName"]))
    return outcome


def _create_gsi(table: Table, spec: dict[str, Any], defs: dict[str, str]) -> Index:
    """A new GSI (CREATING, index id 0 until committed).

    The name is checked before the index's own definition (DDB-TABLE-442 catalogue text;
    an AWS-parity emulator's probe: "Existing-index check beats schema validation"), the
    per-table limit after it: LimitExceededException here, where CreateTable answers
    ValidationException (DDB-TABLE-169). Its key attributes must be defined in this
    request's AttributeDefinitions, even those the table has already (DDB-TABLE-162;
    Alternator's test_gsi_backfill_with_lsi); definitions it does not use are ignored.
    """
    if any(ix.name == spec["IndexName"] for ix in table.indexes):
        raise errors.validation("Attempting to create an index which already exists")
    if not defs:
        raise errors.invalid_parameter(
            f"AttributeDefinitions is not specified for index: {spec['IndexName']}"
        )
    ix = parse_index(spec, "GSI", defs, table.billing, set())
    _check_redefinitions(table, ix)
    if sum(1 for other in table.indexes if other.kind == "GSI") >= MAX_GSI:
        raise errors.limit_exceeded(
            "Subscriber limit exceeded: Number of global secondary indexes exceeds per-table "
            f"limit of {MAX_GSI}"
        )
    ix.status = "CREATING"
    table.indexes.append(ix)
    for name in ix.key_names():
        table.attributes[name] = defs[name]
    return ix


def _check_redefinitions(table: Table, ix: Index) -> None:
    """A new GSI's key attributes keep the types the table's keys and indexes gave them.

    The text is AWS's (quoted in Alternator's test_gsi_updatetable.py::
    test_gsi_key_type_conflict_on_update); the existing schema shown is the first key
    schema (the table's, then each index's) using the attribute, and several elements are
    joined as Java lists are: a judgement call, the quote shows one-element schemas only.
    """
    for name, kind in ix.hash_keys() + ix.range_keys():
        known = table.attributes.get(name)
        if known is None or known == kind:
            continue
        schemas = _key_schemas(table)
        existing = next((k for k in schemas if any(n == name for n, _, _ in k)), schemas[0])
        raise errors.invalid_parameter(
            "Attributes cannot be redefined. Please check that your attribute has the same "
            f"type as previously defined. Existing schema: {_schema_text(existing)} "
            f"New schema: {_schema_text(_index_schema(ix))}"
        )


def _key_schemas(table: Table) -> list[list[tuple[str, str, str]]]:
    """The table's key schema, then each index's, as (name, type, HASH|RANGE) lists."""
    own = [(*table.hash, "HASH")] + ([(*table.range, "RANGE")] if table.range else [])
    return [own] + [_index_schema(ix) for ix in table.indexes]


def _index_schema(ix: Index) -> list[tuple[str, str, str]]:
    return [(*attr, "HASH") for attr in ix.hash_keys()] + [
        (*attr, "RANGE") for attr in ix.range_keys()
    ]


def _schema_text(schema: list[tuple[str, str, str]]) -> str:
    """A key schema as AWS prints it: ``Schema:[SchemaElement: key{xyz:S:HASH}]``."""
    elements = ", ".join(f"SchemaElement: key{{{n}:{t}:{k}}}" for n, t, k in schema)
    return f"Schema:[{elements}]"


def _delete_gsi(table: Table, name: str) -> Index:
    """Drop a GSI; attribute definitions only it used go with it (DDB-TABLE-151)."""
    ix = _gsi(table, name)
    table.indexes.remove(ix)
    used = set(table.key_names)
    for other in table.indexes:
        used.update(other.key_names())
    table.attributes = {k: v for k, v in table.attributes.items() if k in used}
    return ix


def _update_gsi_capacity(
    table: Table, updates: list[dict[str, Any]], steady: bool, now: float
) -> None:
    """GlobalSecondaryIndexUpdates' Update actions: a GSI's capacity, warm and on-demand
    throughput. Runs after the billing switch, whose new mode they are checked against."""
    for upd in updates:
        spec = upd.get("Update")
        if not spec:
            continue
        ix = _gsi(table, spec["IndexName"])
        # Terraform and CDK send an Update with only WarmThroughput or OnDemandThroughput.
        if spec.get("ProvisionedThroughput") is not None or not (
            spec.get("WarmThroughput") or spec.get("OnDemandThroughput")
        ):
            _set_gsi_throughput(table, ix, spec.get("ProvisionedThroughput"), steady, now)
        floor = warm_floor(table.billing, ix.throughput)
        check_warm_increase(ix.warm, floor, spec.get("WarmThroughput"), f"index {ix.name}")
        ix.warm = merge_units(ix.warm, spec.get("WarmThroughput"), WARM_UNITS)
        ix.on_demand = merge_units(ix.on_demand, spec.get("OnDemandThroughput"), ON_DEMAND_UNITS)


def _set_gsi_throughput(
    table: Table, ix: Index, spec: dict[str, Any] | None, steady: bool, now: float
) -> None:
    """A GSI's new capacity; on a table that stays PROVISIONED an unchanged one is refused
    (DDB-TABLE-164) and a change is recorded like the table's."""
    tp = check_throughput(table.billing, spec, index=ix.name)
    if not steady:
        ix.throughput = tp
        return
    if tp == ix.throughput:
        raise _will_not_change(f"the index {ix.name}", f"index {ix.name}", tp)
    ix.throughput_log = record_change(ix.throughput_log, ix.throughput or {}, tp, now)
    ix.throughput = tp


def _gsi(table: Table, name: str) -> Index:
    for ix in table.indexes:
        if ix.name == name and ix.kind == "GSI":
            return ix
    # DDB-TABLE-375: "Requested resource not found: Index gsi1 for table <table>"
    raise errors.resource_not_found(
        f"Requested resource not found: Index {name} for table {table.name}"
    )


# --------------------------------------------------------------------------- stream, SSE


def _update_stream(table: Table, stream: dict[str, Any] | None, now: float) -> None:
    """StreamSpecification: the view type is required to enable and refused to disable
    (checked first), and enabling an enabled stream (same view type or another) or
    disabling none is refused (DDB-TABLE-050, DDB-TABLE-018)."""
    if stream is None:
        return
    view = stream.get("StreamViewType")
    enabled = table.stream is not None and table.stream["enabled"]
    if stream.get("StreamEnabled"):
        if view is None:
            raise errors.invalid_parameter(
                "If stream is being enabled then UpdateViewType is required"
            )
        if enabled:
            raise errors.validation(f"Table already has an enabled stream: TableName: {table.name}")
        if table.stream is not None and now <= table.stream["created"] + 0.001:
            now = table.stream["created"] + 0.001  # labels are per millisecond: keep them apart
        table.stream = new_stream(table, view, now)
        return
    if view is not None:
        raise errors.invalid_parameter(
            "If stream is being disabled, then UpdateViewType must not be specified"
        )
    if not enabled:
        raise errors.validation(f"Table has no stream to disable: TableName: {table.name}")
    table.stream = {**table.stream, "enabled": False, "disabled": now}


def _update_sse(table: Table, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """SSESpecification; returns the answer's SSEDescription when it turns KMS off (the
    table itself has none then, see ``encryption.disabled_answer``)."""
    if spec is None:
        return None
    previous = table.sse
    table.sse = encryption.updated(table.account, table.region, previous, spec)
    if table.sse is None and previous is not None:
        return encryption.disabled_answer(previous)
    return None
