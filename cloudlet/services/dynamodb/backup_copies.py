"""CreateBackup as a job: the backup is CREATING while the table's items are copied a
slice at a time, and it is still the table as it was when the request came.

Why: one ``INSERT ... SELECT`` of a 200,000-item table held the event loop 0.7 s. The
copy now runs in ``core/slices.py`` slices (the request works on it for up to ``WAIT``
seconds first, so a small table's backup answers AVAILABLE, as before), and the table
keeps taking writes meanwhile. What keeps the copy consistent:

- While a copy runs, ``Engine.write`` calls ``before(key, old)`` ahead of every write
  to the table (``Engine.copies``). The item's old image, or a tombstone (size -1)
  when it did not exist, goes into the backup with ``INSERT OR IGNORE``, in the
  write's own transaction: the first committed write after the backup began leaves
  the item as it was then, and a rolled-back one leaves nothing.
- Copy slices are ``INSERT OR IGNORE`` in key order, so a saved image is kept; each
  slice drops the tombstones of the range it covered. A table being copied takes no
  blind writes (``Engine.blind_writes``): the old images are needed.
- DeleteTable finishes a running copy before the table's rows go (``Engine.drop``).
- Where the copy has got to is saved with each slice (``backup_cursors``), so a
  restart finds the backup CREATING and carries on from there: every image and
  tombstone saved ahead of it was committed with its write, and behind it the
  backup is final.
- While CREATING, the backup cannot be restored, deleted or joined by another backup
  of the same table (``BackupInUseException``).
"""

from __future__ import annotations

from cloudlet.core.environ import seconds_setting
from cloudlet.services.dynamodb.engine import Engine, Key, Stored
from cloudlet.services.dynamodb.tables import Table

WAIT = seconds_setting("CLOUDLET_DYNAMODB_BACKUP_WAIT", 0.05)
"""Seconds a CreateBackup works on its copy before it answers (CREATING if not done)."""

TOMBSTONE = -1
"""``backup_items.size`` of an item that did not exist when the backup began."""

_SAVE = (
    "INSERT OR IGNORE INTO backup_items (bid, h, hk, rk, size, exp, body) "
    "VALUES (?, ?, ?, ?, ?, NULL, ?)"
)


class Copy:
    """The copy of ``table`` into backup ``bid``; ``step(n)`` copies ``n`` items and
    returns True when the backup is AVAILABLE."""

    def __init__(self, engine: Engine, table: Table, bid: int) -> None:
        self.engine = engine
        self.table = table
        self.bid = bid
        row = engine.store.conn.execute(
            "SELECT h, hk, rk FROM backup_cursors WHERE bid = ?", (bid,)
        ).fetchone()
        self.cursor: Key | None = None if row is None else (row[0], row[1], row[2])
        engine.copies[table.tid] = self

    def before(self, key: Key, old: Stored | None) -> None:
        """Called by ``Engine.write`` before it writes ``key`` (inside its transaction).
        Behind the copy (saved cursor included) the backup's row, or its absence, is
        final; ahead of it the first committed write saves what was there."""
        if self.cursor is not None and key <= self.cursor:
            return
        size, body = (TOMBSTONE, b"") if old is None else (old.size, old.body)
        self.engine.store.conn.execute(_SAVE, (self.bid, *key, size, body))

    def step(self, n: int) -> bool:
        store = self.engine.store
        conn = store.conn
        tid, bid = self.table.tid, self.bid
        after, lower = (
            ("", ()) if self.cursor is None else (" AND (h, hk, rk) > (?, ?, ?)", self.cursor)
        )
        row = conn.execute(
            f"SELECT h, hk, rk FROM items WHERE tid = ?{after} "  # noqa: S608 - fixed text
            "ORDER BY h, hk, rk LIMIT 1 OFFSET ?",
            (tid, *lower, n - 1),
        ).fetchone()
        upper: Key | None = None if row is None else (row[0], row[1], row[2])
        until = "" if upper is None else " AND (h, hk, rk) <= (?, ?, ?)"
        bounds = (*lower, *(upper or ()))
        with store.transaction():
            conn.execute(
                "INSERT OR IGNORE INTO backup_items (bid, h, hk, rk, size, exp, body) "
                f"SELECT ?, h, hk, rk, size, exp, body FROM items WHERE tid = ?{after}{until}",
                (bid, tid, *bounds),
            )
            conn.execute(
                f"DELETE FROM backup_items WHERE bid = ?{after}{until} AND size = ?",
                (bid, *bounds, TOMBSTONE),
            )
            if upper is None:
                self._finish()
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO backup_cursors (bid, h, hk, rk) VALUES (?, ?, ?, ?)",
                    (bid, *upper),
                )
        self.cursor = upper
        return upper is None

    def complete(self) -> None:
        """Copy the rest now (its table is about to be dropped)."""
        while not self.step(10_000):
            pass

    def _finish(self) -> None:
        conn = self.engine.store.conn
        conn.execute("DELETE FROM backup_cursors WHERE bid = ?", (self.bid,))
        conn.execute("UPDATE backups SET status = 'AVAILABLE' WHERE id = ?", (self.bid,))
        if self.engine.copies.get(self.table.tid) is self:
            del self.engine.copies[self.table.tid]
