"""The DynamoDB engine: the table registry and the one place an item changes.

Every item write, from PutItem to a TTL deletion or a transaction, goes
through ``Engine.write``: it stores the new row (or deletes it), keeps every
secondary index in step, keeps the table's item count and size current, and
logs the change for streams and point-in-time recovery, all inside the
caller's transaction. Nothing else writes ``items``.

Plain Python over a SQLite connection: no HTTP, no protocol imports. Calls
come from the event-loop thread one at a time, so a read-check-write sequence
(a conditional update) is atomic without locks: eight concurrent clients
incrementing one counter never lose an update.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.capacity import write_units
from cloudlet.services.dynamodb.key_values import (
    base_numbers,
    index_base,
    index_key_of,
    number_partition,
)
from cloudlet.services.dynamodb.store import HASH_VERSION, Store, dump, load
from cloudlet.services.dynamodb.tables import Index, Table
from cloudlet.services.dynamodb.values import Item, item_size, to_decimal

Key = tuple[int, bytes, bytes]
ChangeHook = Callable[[Table, dict[str, Any]], None]

SERVICE_PRINCIPAL = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@dataclass(slots=True)
class Stored:
    """An item as read from the table: its size, raw body and (lazily) the decoded item."""

    size: int
    body: bytes
    _item: Item | None = None

    @property
    def item(self) -> Item:
        if self._item is None:
            self._item = load(self.body)
        return self._item


class ItemCopy(Protocol):
    """A copy of a table in progress (``backup_copies.Copy``)."""

    def before(self, key: Key, old: Stored | None) -> None: ...

    def complete(self) -> None: ...


class Engine:
    """Tables by (account, region, name) and the item write path."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self.store = Store(conn)
        self.clock = clock
        self.tables: dict[tuple[str, str, str], Table] = {}
        self.by_id: dict[int, Table] = {}
        self.change_hooks: list[ChangeHook] = []
        """Called after a logged change is written (stream consumers, e.g. Lambda mappings)."""
        self.copies: dict[int, ItemCopy] = {}
        """Backups being copied, by table id (``backup_copies.py``): told of every write."""
        self.on_purge: Callable[[], None] | None = None
        """Called when a dropped table's or index's rows are left to ``Store.purge``."""
        self.index_writes: list[tuple[Table, str, Item, float]] | None = None
        """While a request counts them for contributor insights: each index entry it wrote
        or removed, as (table, index name, entry, write units)."""
        self.store.rolled_back = self._forget_counts
        for tid, account, region, name, meta in self.store.load_tables():
            table = Table.from_meta(tid, meta)
            self.tables[(account, region, name)] = table
            self.by_id[tid] = table
        if self.store.hash_version() < HASH_VERSION:
            self._upgrade()
        # The retention sweep trims the log; its high-water mark keeps numbers rising.
        row = conn.execute("SELECT max(seq) FROM changes").fetchone()
        mark = conn.execute("SELECT value FROM counters WHERE name = 'change_seq'").fetchone()
        self.seq = max(int(row[0] or 0), int(mark[0]) if mark else 0)

    def _upgrade(self) -> None:
        """Bring an older database to ``HASH_VERSION`` (``Store.upgrade``): its partition
        hashes to ``hash_of``'s, else its items would not be found under the new ones, and
        its index entries to carry their table key's ``base_hash``."""
        items = {t.tid: number_partition([t.hash]) for t in self.by_id.values()}
        indexes = {
            ix.iid: number_partition(ix.hash_keys())
            for t in self.by_id.values()
            for ix in t.indexes
        }
        backups: dict[int, bool] = {}
        if self.store.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'backups'"
        ).fetchone():
            for bid, meta in self.store.conn.execute("SELECT id, meta FROM backups"):
                backups[bid] = number_partition([Table.from_meta(0, meta).hash])
        self.store.upgrade(
            {
                "items": items,
                "index_items": indexes,
                "backup_items": backups,
                "backup_cursors": backups,
            },
            {ix.iid: base_numbers(t) for t in self.by_id.values() for ix in t.indexes},
        )

    # ---- tables

    def find(self, account: str, region: str, name: str) -> Table | None:
        """The table ``name`` (a table name, or the table's ARN) names, or None."""
        table = self.tables.get((account, region, name))
        if table is None and name.startswith("arn:"):
            return self._by_arn(account, region, name)
        return table

    def _by_arn(self, account: str, region: str, arn: str) -> Table | None:
        """The table of ``arn:aws:dynamodb:<region>:<account>:table/<name>``: AWS takes a
        table's ARN wherever it takes its name. Another account's or region's ARN finds
        nothing, as an unknown name does."""
        prefix = f"arn:aws:dynamodb:{region}:{account}:table/"
        if not arn.startswith(prefix):
            return None
        name = arn[len(prefix) :]
        if not name or "/" in name:
            return None
        return self.tables.get((account, region, name))

    def table(self, account: str, region: str, name: str) -> Table:
        """The table an item operation names (by name or ARN); AWS's message for a missing
        one, and for one still CREATING (an import loading it): AWS reads and writes only
        ACTIVE tables."""
        table = self.tables.get((account, region, name))
        if table is None and name.startswith("arn:"):
            table = self._by_arn(account, region, name)
        if table is None or table.status == "CREATING":
            raise errors.resource_not_found()
        return table

    def add_table(self, table: Table) -> Table:
        key = (table.account, table.region, table.name)
        if key in self.tables:
            raise errors.resource_in_use(f"Table already exists: {table.name}")
        with self.store.transaction():
            for ix in table.indexes:
                ix.iid = self.store.next_counter("index")
            table.tid = self.store.insert_table(
                table.account, table.region, table.name, table.to_meta()
            )
        table.item_count = 0
        table.size_bytes = 0
        self.tables[key] = table
        self.by_id[table.tid] = table
        return table

    def save(self, table: Table) -> None:
        self.store.save_table(table.tid, table.to_meta())

    def drop(self, table: Table, keep_changes: bool = False) -> None:
        copy = self.copies.get(table.tid)
        if copy is not None:  # a backup being made of it gets the rest of its rows first
            copy.complete()
        self.store.drop_table(table.tid, [ix.iid for ix in table.indexes], keep_changes)
        self.tables.pop((table.account, table.region, table.name), None)
        self.by_id.pop(table.tid, None)
        self.purge_soon()

    def purge_soon(self) -> None:
        """Have the service purge dropped rows in the background (``on_purge``)."""
        if self.on_purge is not None:
            self.on_purge()

    def counts(self, table: Table) -> dict[str, tuple[int, int]]:
        """(items, bytes) of the table ("") and of each index: counted once, then kept
        current by the writes (a 60,000-entry index took 0.19 s to count, on every
        DescribeTable a waiter sent)."""
        if table.item_count is None or table.size_bytes is None:
            table.item_count, table.size_bytes = self.store.count(table.tid)
        out = {"": (table.item_count, table.size_bytes)}
        known = table.index_counts
        if known is None:
            known = table.index_counts = {}
        for ix in table.indexes:
            if ix.iid not in known:
                row = self.store.conn.execute(
                    "SELECT count(*), coalesce(sum(size), 0) FROM index_items WHERE iid = ?",
                    (ix.iid,),
                ).fetchone()
                known[ix.iid] = [int(row[0]), int(row[1])]
            n, size = known[ix.iid]
            out[ix.name] = (n, size)
        return out

    def _forget_counts(self) -> None:
        """A transaction rolled back: counts it moved in memory may be wrong."""
        for table in self.by_id.values():
            table.item_count = table.size_bytes = None
            table.index_counts = None

    # ---- items

    def read(self, table: Table, key: Key) -> Stored | None:
        row = self.store.get(table.tid, *key)
        return None if row is None else Stored(row[0], row[1])

    def blind_writes(self, table: Table) -> bool:
        """True when a put need not read the item it replaces: no index to update and no
        change log wanting the old image, and no backup being copied."""
        return (
            not table.indexes
            and not self._logging(table)
            and table.tid not in self.copies
            and not table.replicas
        )

    @staticmethod
    def _logging(table: Table) -> bool:
        """Whether the table's changes are logged: a stream, point-in-time recovery, or a
        Kinesis destination (whose records are made from the log, ``kinesis_dest.py``)."""
        return bool(
            table.stream is not None
            and table.stream["enabled"]
            or table.pitr
            or table.kinesis
            and any(d["status"] in ("ACTIVE", "UPDATING") for d in table.kinesis)
        )

    def put_blind(self, table: Table, key: Key, item: Item, size: int) -> None:
        """Store ``item`` whatever was there: one autocommitted statement. The table's
        counts become unknown (recounted by the next DescribeTable)."""
        self.store.put(table.tid, *key, size, self._expiry(table, item), dump(item))
        table.item_count = table.size_bytes = None

    def write(
        self,
        table: Table,
        key: Key,
        old: Stored | None,
        new: Item | None,
        *,
        size: int | None = None,
        user: dict[str, str] | None = None,
        replicate: bool = True,
        log: bool = True,
    ) -> dict[str, float]:
        """Store ``new`` (None deletes) over ``old``, inside the caller's transaction.

        Returns the write units each index was charged, by index name (for consumed
        capacity; an index the write left alone is not named). A global table's write
        reaches its other replicas in the same transaction (``replicate``: not a
        replicated write itself); ``log=False`` leaves it out of the change log (a new
        replica's copy of the items that were there before it).
        """
        store = self.store
        tid = table.tid
        if self.copies:
            copy = self.copies.get(tid)
            if copy is not None:
                copy.before(key, old)
        if new is None:
            store.delete(tid, *key)
        else:
            if size is None:
                size = item_size(new)
            store.put(tid, *key, size, self._expiry(table, new), dump(new))
        if table.item_count is not None and table.size_bytes is not None:
            if old is not None:
                table.item_count -= 1
                table.size_bytes -= old.size
            if new is not None:
                table.item_count += 1
                table.size_bytes += size or 0
        charged: dict[str, float] = {}
        if table.indexes:
            charged = self._write_indexes(table, key, old, new, size or 0)
        if log and self._logging(table):
            self._log(table, key, old, new, user)
        if replicate and table.replicas:
            self._replicate(table, key, new, size, user)
        return charged

    def _replicate(
        self, table: Table, key: Key, new: Item | None, size: int | None, user: Any
    ) -> None:
        """Write ``new`` to each other replica of a global table. A replica still being
        copied (``replicas.py``) takes the write only for a key its copy has passed: a
        later key is copied from this table when the copy gets there."""
        for region in table.replicas:
            if region == table.region:
                continue
            other = self.tables.get(table.member_key(region))
            if other is None or not other.replicas:
                continue
            job = other.replicating
            if job is not None and not copied_past(job, key):
                continue
            self.write(
                other, key, self.read(other, key), new, size=size, user=user, replicate=False
            )

    def _expiry(self, table: Table, item: Item) -> float | None:
        ttl = table.ttl
        if not ttl or not ttl.get("enabled"):
            return None
        v = item.get(ttl["attribute"])
        if v is None or "N" not in v:
            return None
        try:
            return float(to_decimal(v["N"]))
        except Exception:  # noqa: BLE001 - a stored number always parses; be safe
            return None

    def _write_indexes(
        self, table: Table, key: Key, old: Stored | None, new: Item | None, new_size: int
    ) -> dict[str, float]:
        """Keep each index in step; return the write units each was charged.

        An entry put or removed is one write, one moved to another index key two (a
        delete and a put), one whose projection changed one, and one whose projection
        did not change none, as DynamoDB charges them (developer guide, GSI.html,
        "Provisioned throughput considerations"; dynamodb-conformance's
        indexConsumedCapacity tests, characterised against DynamoDB): an unchanged
        entry is not rewritten either. Each write costs a unit per KB of its entry. An
        ALL projection's entry is the item, whose size the write already knows
        (``new_size``, ``old.size``), so only narrower projections are measured."""
        base = index_base(table, key)
        charged: dict[str, float] = {}
        counts = table.index_counts
        old_item = old.item if old is not None else None
        for ix in table.indexes:
            old_key = index_key_of(ix, old_item) if old_item is not None else None
            new_key = index_key_of(ix, new) if new is not None else None
            if old_key is None and new_key is None:
                continue
            whole = ix.projection == "ALL"
            old_view = (old_item if whole else project(table, ix, old_item)) if old_key else None
            new_view = (new if whole else project(table, ix, new)) if new_key else None
            if old_key == new_key and old_view == new_view:
                continue  # nothing the index holds changed
            counted = counts.get(ix.iid) if counts is not None else None
            spent = 0.0
            if old_view is not None and old is not None:
                old_entry = old.size if whole else item_size(old_view)
                if old_key != new_key:
                    self.store.index_delete(ix.iid, old_key, base)  # type: ignore[arg-type]
                    spent += write_units(old_entry)
                    if self.index_writes is not None:
                        self.index_writes.append((table, ix.name, old_view, write_units(old_entry)))
                if counted is not None:  # its entry goes
                    counted[0] -= 1
                    counted[1] -= old_entry
            if new_view is not None:
                size = new_size if whole else item_size(new_view)
                self.store.index_put(ix.iid, new_key, base, size, dump(new_view))  # type: ignore[arg-type]
                spent += write_units(size)
                if self.index_writes is not None:
                    self.index_writes.append((table, ix.name, new_view, write_units(size)))
                if counted is not None:
                    counted[0] += 1
                    counted[1] += size
            charged[ix.name] = spent
        return charged

    def _log(
        self,
        table: Table,
        key: Key,
        old: Stored | None,
        new: Item | None,
        user: dict[str, str] | None,
    ) -> None:
        if old is None and new is None:
            return
        if old is not None and new is not None and old.item == new:
            return  # AWS: a write that changes nothing writes no stream record
        self.seq += 1
        now = self.clock()
        source = new if new is not None else old.item  # type: ignore[union-attr]
        record: dict[str, Any] = {
            "op": "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY"),
            "keys": table.key_item(source),
            "old": old.item if old is not None else None,
            "new": new,
            "stream": table.stream["label"]
            if table.stream is not None and table.stream["enabled"]
            else None,
        }
        if user is not None:
            record["user"] = user
        self.store.log_change(table.tid, self.seq, now, record)
        for hook in self.change_hooks:
            hook(table, {**record, "seq": self.seq, "at": now})

    def reindex(self, table: Table, ix: Index) -> Callable[[int], bool]:
        """A backfill of index ``ix`` in steps: each call indexes up to ``batch`` items and
        returns True when the index is complete."""
        cursor: list[Any] = [None]

        def step(batch: int) -> bool:
            rows = self.store.items_after(table.tid, cursor[0], batch)
            table.index_counts = None  # recounted when next described
            with self.store.transaction():
                for h, hk, rk, _size, _exp, body in rows:
                    item = load(body)
                    ikey = index_key_of(ix, item)
                    if ikey is not None:
                        projected = project(table, ix, item)
                        self.store.index_put(
                            ix.iid,
                            ikey,
                            index_base(table, (h, hk, rk)),
                            item_size(projected),
                            dump(projected),
                        )
            if rows:
                cursor[0] = tuple(rows[-1][:3])
            return len(rows) < batch

        return step


def copy_cursor(job: dict[str, Any]) -> Key | None:
    """The last key a replica's copy (``Table.replicating``) wrote; None before the first."""
    after = job.get("after")
    return None if after is None else (after[0], bytes.fromhex(after[1]), bytes.fromhex(after[2]))


def copied_past(job: dict[str, Any], key: Key) -> bool:
    """Whether a replica's copy has passed ``key``."""
    after = copy_cursor(job)
    return after is not None and key <= after


def project(table: Table, ix: Index, item: Item) -> Item:
    """The attributes of ``item`` that index ``ix`` holds."""
    if ix.projection == "ALL":
        return item
    keep = set(table.key_names) | set(ix.key_names())
    if ix.projection == "INCLUDE":
        keep.update(ix.non_key)
    return {k: v for k, v in item.items() if k in keep}
