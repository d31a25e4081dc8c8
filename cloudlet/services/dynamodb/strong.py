"""Multi-Region strong consistency (MRSC): global tables with ``MultiRegionConsistency`` STRONG.

Why this module is mostly rules: cloudlet already writes a global table's replicas in the
transaction of the write that causes them (``replicas.py``, ``Engine.write``), so once a
write is acknowledged every replica holds it. That is what MRSC promises and eventual
global tables do not: a strongly consistent read in any region returns the latest item,
and a condition is evaluated against it. Writes to one item from two regions are
serialised by the one engine, so the ``ReplicatedWriteConflictException`` AWS answers to
concurrent ones never arises here. What is left is the shape AWS gives MRSC groups:

- **Born complete**: three regions in the one UpdateTable that makes the group, two
  replica Creates or one and a witness (``GlobalTableWitnessUpdates``), from an empty
  table without TTL or local secondary indexes, in regions that offer MRSC. A witness
  is a region that helps AWS reach a quorum and serves nothing: it has no table here.
- **Frozen**: no replica added, no MultiRegionConsistency on an existing group, no
  DeleteTable of one replica; one UpdateTable deleting every other replica and the
  witness dissolves the group, leaving a table of one region.
- **No TTL and no transactions** on a member. Streams are each replica's own: MRSC does
  not replicate through them, so none is turned on and one may be turned off.

AWS's texts are the lab captures of live DynamoDB (ack-api-quirks DDB-TABLE-202, -257 to
-261, 2026-10-09). The refusals of a non-empty table, of LSIs, TTL and transactions are
not on record: those texts are judgement calls worded like the recorded ones.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.tables import Table

STRONG = "STRONG"
MODES = ("EVENTUAL", STRONG)
REGIONS = frozenset(
    """us-east-1 us-east-2 us-west-2 eu-west-1 eu-west-2 eu-west-3 eu-central-1
    ap-northeast-1 ap-northeast-2 ap-northeast-3""".split()
)
"""Where MRSC replicas and witnesses may be (the developer guide's US, EU and AP region
sets). Groups may span the sets: a eu-west-1 replica with a us-east-2 witness was accepted
in October 2026 (DDB-TABLE-257); us-west-1 was refused."""

_MODE = "with MultiRegionConsistency set to STRONG"
_COUNT = f"Unsupported replica count for global tables {_MODE}."
_CREATES_ONLY = (
    "Only Replica Create actions are supported when MultiRegionConsistency parameter is provided."
)
_EXISTING = "MultiRegionConsistency parameter is unsupported on existing global table"
_NO_ADDING = "Cannot add replicas to a global table with strong MultiRegionConsistency"
_ONE_REPLICA = f"Deletion of only one table replica is not supported for global tables {_MODE}."


def is_strong(table: Table) -> bool:
    return table.consistency == STRONG


def check_request(params: dict[str, Any], changes: tuple[str, ...]) -> None:
    """What AWS checks of MultiRegionConsistency and GlobalTableWitnessUpdates before the
    table is looked up. Witness updates do not count as a change: without ReplicaUpdates
    the request names nothing to change (``updatetable.NOTHING_TO_CHANGE``)."""
    mode = errors.check_enum(params.get("MultiRegionConsistency"), "multiRegionConsistency", MODES)
    witnesses = params.get("GlobalTableWitnessUpdates") or []
    updates = params.get("ReplicaUpdates")
    changing = any(params.get(m) is not None for m in changes)
    if witnesses and changing:
        raise errors.validation(
            "Requests that modify replicas or witnesses must not also modify other fields"
        )
    if mode is not None and changing and not updates:
        # Not on record: AWS takes the mode only with the Creates that make a global table.
        raise errors.invalid_parameter(
            "MultiRegionConsistency can only be given with the ReplicaUpdates that create a "
            "global table"
        )
    if not updates:
        return
    if len(witnesses) > 1:
        raise errors.list_too_long(
            "globalTableWitnessUpdates", witnesses, "GlobalTableWitnessGroupUpdate", 1
        )
    new_witnesses = [w["Create"].get("RegionName") for w in witnesses if w.get("Create")]
    if new_witnesses and mode != STRONG:
        raise errors.validation(
            "MultiRegionConsistency must be set as STRONG when GlobalTableWitnessUpdates "
            "parameter is present."
        )
    if mode != STRONG:
        return
    if any(u.get("Create") is None for u in updates):
        raise errors.validation(_CREATES_ONLY)
    regions = [u["Create"].get("RegionName") for u in updates] + new_witnesses
    if 1 + len(regions) != 3:
        raise errors.validation(_COUNT)
    _check_regions(regions)
    if len(set(regions)) < len(regions):
        raise errors.validation("Cannot target multiple regions with the same action")


def _check_regions(regions: list[str]) -> None:
    unsupported = [r for r in regions if r not in REGIONS]
    if unsupported:
        raise errors.validation(
            f"Unsupported Region(s) specified for global tables {_MODE}: "
            f"[{', '.join(unsupported)}]."
        )


def check_update(table: Table, group: dict[str, Table], params: dict[str, Any]) -> None:
    """The rules that need the table: what a new MRSC group needs of its first table, and
    what an existing one allows (only its dissolution, and replica overrides).
    ``group``: the current replicas by region, ``table``'s included."""
    mode = params.get("MultiRegionConsistency")
    updates = params["ReplicaUpdates"]
    witnesses = params.get("GlobalTableWitnessUpdates") or []
    if is_strong(table):
        if mode is not None:
            raise errors.validation(_EXISTING)
        if any(u.get("Create") is not None for u in updates):
            raise errors.validation(_NO_ADDING)
        _check_dissolution(table, group, updates, witnesses)
        return
    _check_witness_deletes(table, witnesses)
    if mode != STRONG:
        return
    if table.replicas:
        raise errors.validation(_EXISTING)
    _check_regions([table.region])
    if any(w["Create"].get("RegionName") == table.region for w in witnesses if w.get("Create")):
        raise errors.validation(
            "Cannot add a witness in the same region as an existing replica when creating a "
            f"global table {_MODE}."
        )
    if any(ix.kind == "LSI" for ix in table.indexes):
        raise errors.validation(
            f"Local secondary indexes are not supported for global tables {_MODE}."
        )
    if table.ttl and table.ttl.get("enabled"):
        raise errors.validation(f"Time to Live is not supported for global tables {_MODE}.")


def check_empty(table: Table, empty: bool) -> None:
    """A new MRSC group's table must hold no items (``empty``: the caller looked)."""
    if not empty:
        raise errors.validation(
            f"Table {table.name} must be empty to create a global table {_MODE}."
        )


def _check_witness_deletes(table: Table, witnesses: list[dict[str, Any]]) -> None:
    gone = [w["Delete"].get("RegionName") for w in witnesses if w.get("Delete")]
    strangers = [r for r in gone if r != table.witness]
    if strangers:
        raise errors.validation(
            "Update global table operation failed because one or more witnesses were not part "
            "of the global table. Please retry the request without these witnesses: "
            f"[{', '.join(strangers)}]."
        )


def _check_dissolution(
    table: Table,
    group: dict[str, Table],
    updates: list[dict[str, Any]],
    witnesses: list[dict[str, Any]],
) -> None:
    """Deleting from an MRSC group deletes all of it but ``table``: every other replica
    and the witness, in this one request."""
    deletes = {u["Delete"].get("RegionName") for u in updates if u.get("Delete") is not None}
    if not deletes:
        return
    _check_witness_deletes(table, witnesses)
    if table.witness is not None and not any(w.get("Delete") for w in witnesses):
        raise errors.validation("Update table delete operation does not include all witnesses.")
    if set(group) - {table.region} - deletes:
        raise errors.validation(_ONE_REPLICA)


def check_delete_table(table: Table) -> None:
    """DeleteTable of an MRSC member: refused (its group is dissolved by UpdateTable)."""
    if is_strong(table):
        raise errors.validation(_ONE_REPLICA)


def check_ttl(table: Table, spec: dict[str, Any]) -> None:
    """UpdateTimeToLive turning TTL on for an MRSC member: refused (MRSC has no TTL)."""
    if is_strong(table) and spec.get("Enabled"):
        raise errors.validation(f"Time to Live is not supported for global tables {_MODE}.")


def check_transaction(table: Table) -> Table:
    """A transaction (TransactWriteItems, TransactGetItems, ExecuteTransaction) naming an
    MRSC member: refused, as AWS's transaction APIs are on MRSC tables. Returns ``table``."""
    if is_strong(table):
        raise errors.validation(
            f"Transactions are not supported for global tables {_MODE}: table {table.name}."
        )
    return table
