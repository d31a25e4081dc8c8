"""On-demand backups, point-in-time recovery and exports: the DynamoDB operations.

Why it is built this way:

- **A backup is a copy, not a reference.** CreateBackup copies the table's
  definition (``Table.to_meta``) into ``backups`` and every item row into
  ``backup_items`` of the same SQLite database, a slice at a time while the backup
  is CREATING, as the table was at the request (``backup_copies.py``): later
  writes, or deleting the table, do not touch it.
- **A restore is a new table built like any other.** The definition (from the
  backup, or the source table for PITR) becomes a fresh ``Table`` (new id, new
  index ids) through ``Engine.add_table``, CREATING while a job copies the rows
  and rebuilds every secondary index (``Engine.reindex``) a slice at a time
  (``restores.py``). A small table is done before the call answers (ACTIVE,
  ``RestoreInProgress`` false). As on AWS, streams, TTL, tags, PITR and
  deletion protection are not restored; the ``*Override`` parameters change
  billing, throughput, indexes (keep a subset) and encryption. TTL times are
  not copied (``exp`` NULL), so the TTL sweep never deletes restored items.
- **PITR is the change log.** With PITR on, ``Engine.write`` logs every change
  with its old image (``changes``). The table at time ``T`` is today's items
  with every change after ``T`` undone (``export.undo_after``). The restorable
  window is [max(enabled at, now - RecoveryPeriodInDays), now]: the log is
  written in the transaction of the change, so there is no five-minute lag as
  on AWS and LatestRestorableDateTime is "now".
- Exports (``export.py``) read the past the same way and write to our S3.
- What AWS refuses in these requests, and its texts, is ``backup_checks.py``.

The handlers are a mixin (``BackupHandlers``) of ``DynamoDBService``: they use
``self.engine`` and ``self.env``. Their tables are created on first use, so the
mixin needs no start-up call; ``_start_backups`` resumes exports a stopped
server left running, ``_stop_backups`` cancels running ones.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.core import ids
from cloudlet.core.errors import ServiceError
from cloudlet.core.slices import run_for, run_sliced
from cloudlet.services.dynamodb import backup_copies, errors, restores
from cloudlet.services.dynamodb.backup_checks import (
    BOTH_RESTORE_TIMES,
    CROSS_REGION_RESTORE,
    NO_RESTORE_TIME,
    check_backup_arn,
    check_export_arn,
    check_export_request,
    check_target_name,
    epoch,
    incremental_window,
    invalid_restore_time,
)
from cloudlet.services.dynamodb.describe import (
    describe,
    index_key_schema,
    key_schema_of,
    projection_description,
)
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.export import (
    Exports,
    describe_export,
    export_conflict,
    invalid_export_time,
)
from cloudlet.services.dynamodb.table_syntax import check_table_name
from cloudlet.services.dynamodb.tableops import refuse_while_creating
from cloudlet.services.dynamodb.tables import (
    Table,
    check_throughput,
    parse_index,
    sse_description,
)

Result = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    table_arn TEXT NOT NULL,
    table_id TEXT NOT NULL,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    size INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_by_account ON backups (account, region, created);
CREATE TABLE IF NOT EXISTS backup_items (
    bid INTEGER NOT NULL,
    h INTEGER NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL,
    size INTEGER NOT NULL,
    exp REAL,
    body BLOB NOT NULL,
    PRIMARY KEY (bid, h, hk, rk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backup_cursors (
    bid INTEGER PRIMARY KEY,
    h INTEGER NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL
);
"""

DEFAULT_RECOVERY_DAYS = 35
MAX_EXPORT_PAGE = 25
BACKUP_TYPES = ("USER", "SYSTEM", "AWS_BACKUP", "ALL")
DAY = 86400.0


# --------------------------------------------------------------------------- errors


def table_not_found(name: str) -> ServiceError:
    return ServiceError("TableNotFoundException", f"Table not found: {name}", 400)


def backup_in_use(what: str) -> ServiceError:
    """AWS's code; its message text is not recorded anywhere we found."""
    return ServiceError(
        "BackupInUseException",
        f"There is another ongoing conflicting backup control plane operation: {what}",
        400,
    )


def pitr_unavailable(name: str) -> ServiceError:
    return ServiceError(
        "PointInTimeRecoveryUnavailableException",
        f"Point in time recovery is not enabled for table '{name}'",
        400,
    )


# --------------------------------------------------------------------------- helpers


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def find_table(engine: Engine, account: str, region: str, name_or_arn: str) -> Table:
    """The table a ``TableName``/``TableArn`` member names (either form); TableNotFound."""
    name: str | None = name_or_arn
    if name_or_arn.startswith("arn:"):
        prefix = f"arn:aws:dynamodb:{region}:{account}:table/"
        name = name_or_arn[len(prefix) :] if name_or_arn.startswith(prefix) else None
    table = engine.find(account, region, name) if name else None
    if table is None:
        raise table_not_found(name_or_arn)
    return table


def pitr_window(table: Table, now: float) -> tuple[float, float]:
    """(earliest, latest) restorable time of a table with PITR enabled."""
    pitr = table.pitr or {}
    days = pitr.get("days") or DEFAULT_RECOVERY_DAYS
    return max(float(pitr.get("since", now)), now - days * DAY), now


def continuous_description(table: Table, now: float) -> Result:
    pitr: Result = {"PointInTimeRecoveryStatus": "DISABLED"}
    if table.pitr:
        earliest, latest = pitr_window(table, now)
        pitr = {
            "PointInTimeRecoveryStatus": "ENABLED",
            "RecoveryPeriodInDays": table.pitr.get("days") or DEFAULT_RECOVERY_DAYS,
            "EarliestRestorableDateTime": _dt(earliest),
            "LatestRestorableDateTime": _dt(latest),
        }
    return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pitr}


# --------------------------------------------------------------------------- backups


@dataclass(slots=True)
class Backup:
    bid: int
    arn: str
    name: str
    table: Table
    """The source table's definition when the backup was made (tid 0)."""
    created: float
    status: str
    size: int
    item_count: int

    def details(self) -> Result:
        return {
            "BackupArn": self.arn,
            "BackupName": self.name,
            "BackupSizeBytes": self.size,
            "BackupStatus": self.status,
            "BackupType": "USER",
            "BackupCreationDateTime": _dt(self.created),
        }

    def summary(self) -> Result:
        t = self.table
        return {
            "TableName": t.name,
            "TableId": t.table_id,
            "TableArn": t.arn,
            **self.details(),
        }

    def description(self) -> Result:
        t = self.table
        tp = t.throughput or {}
        source = {
            "TableName": t.name,
            "TableId": t.table_id,
            "TableArn": t.arn,
            "TableSizeBytes": self.size,
            "KeySchema": key_schema_of(t.hash, t.range),
            "TableCreationDateTime": _dt(t.created),
            "ProvisionedThroughput": {
                "ReadCapacityUnits": tp.get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": tp.get("WriteCapacityUnits", 0),
            },
            "ItemCount": self.item_count,
            "BillingMode": t.billing,
        }
        features: Result = {}
        lsis = [ix for ix in t.indexes if ix.kind == "LSI"]
        gsis = [ix for ix in t.indexes if ix.kind == "GSI"]
        if lsis:
            features["LocalSecondaryIndexes"] = [
                {
                    "IndexName": ix.name,
                    "KeySchema": index_key_schema(ix),
                    "Projection": projection_description(ix),
                }
                for ix in lsis
            ]
        if gsis:
            features["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": ix.name,
                    "KeySchema": index_key_schema(ix),
                    "Projection": projection_description(ix),
                    "ProvisionedThroughput": {
                        "ReadCapacityUnits": (ix.throughput or {}).get("ReadCapacityUnits", 0),
                        "WriteCapacityUnits": (ix.throughput or {}).get("WriteCapacityUnits", 0),
                    },
                }
                for ix in gsis
            ]
        if t.stream is not None and t.stream.get("enabled"):
            features["StreamDescription"] = {
                "StreamEnabled": True,
                "StreamViewType": t.stream["view"],
            }
        if t.ttl and t.ttl.get("enabled"):
            features["TimeToLiveDescription"] = {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": t.ttl["attribute"],
            }
        if t.sse is not None:
            features["SSEDescription"] = dict(t.sse)
        return {
            "BackupDetails": self.details(),
            "SourceTableDetails": source,
            "SourceTableFeatureDetails": features,
        }


_BACKUP_COLUMNS = "id, arn, name, created, status, size, item_count, meta"


def _backup(row: tuple[Any, ...]) -> Backup:
    bid, arn, name, created, status, size, count, meta = row
    return Backup(bid, arn, name, Table.from_meta(0, meta), created, status, size, count)


class Backups:
    """The ``backups`` and ``backup_items`` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = engine.store.conn
        self.conn.executescript(SCHEMA)

    def create(self, table: Table, name: str) -> Backup:
        """Record a CREATING backup of ``table``; its items are copied by a
        ``backup_copies.Copy``."""
        engine = self.engine
        now = engine.clock()
        arn = f"{table.arn}/backup/{int(now * 1000):014d}-{ids.token_hex(4)}"
        count, size = engine.counts(table)[""]
        with engine.store.transaction() as conn:
            conn.execute(
                "INSERT INTO backups (arn, account, region, name, table_name, table_arn, "
                "table_id, created, status, size, item_count, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'CREATING', ?, ?, ?)",
                (
                    arn,
                    table.account,
                    table.region,
                    name,
                    table.name,
                    table.arn,
                    table.table_id,
                    now,
                    size,
                    count,
                    table.to_meta(),
                ),
            )
        return self.get(table.account, table.region, arn)

    def creating(self) -> list[tuple[int, str]]:
        """(bid, table id) of every backup still being copied."""
        rows = self.conn.execute("SELECT id, table_id FROM backups WHERE status = 'CREATING'")
        return [(int(bid), str(table_id)) for bid, table_id in rows.fetchall()]

    def get(self, account: str, region: str, arn: str) -> Backup:
        row = self.conn.execute(
            f"SELECT {_BACKUP_COLUMNS} FROM backups WHERE arn = ? AND account = ? AND region = ?",
            (arn, account, region),
        ).fetchone()
        if row is None:
            raise errors.backup_not_found(arn)
        return _backup(row)

    def delete(self, backup: Backup) -> None:
        self.delete_by_id(backup.bid)

    def delete_by_id(self, bid: int) -> None:
        """Forget the backup; its items go to the background purge (one DELETE of a
        200,000-item backup held the event loop 0.4 s)."""
        store = self.engine.store
        with store.transaction() as conn:
            conn.execute("DELETE FROM backups WHERE id = ?", (bid,))
            store.schedule_purge("backup", bid)
        self.engine.purge_soon()

    def list(
        self,
        account: str,
        region: str,
        table: str | None,
        lower: float | None,
        upper: float | None,
    ) -> list[Backup]:
        sql = f"SELECT {_BACKUP_COLUMNS} FROM backups WHERE account = ? AND region = ?"
        args: list[Any] = [account, region]
        if table is not None:
            sql += " AND (table_name = ? OR table_arn = ?)"
            args += [table, table]
        if lower is not None:
            sql += " AND created >= ?"
            args.append(lower)
        if upper is not None:
            sql += " AND created < ?"
            args.append(upper)
        rows = self.conn.execute(sql + " ORDER BY created, id", args).fetchall()
        return [_backup(r) for r in rows]


# --------------------------------------------------------------------------- restores


def restored_definition(
    source: Table, target: str, account: str, region: str, params: dict[str, Any], now: float
) -> Table:
    """A new table (tid 0) with ``source``'s schema, the restore's overrides applied."""
    check_table_name(target)
    table = Table.from_meta(0, source.to_meta())
    table.name, table.account, table.region = target, account, region
    table.created = now
    table.table_id = ids.new_uuid()
    table.status = "ACTIVE"
    table.stream = None
    table.ttl = None
    table.tags = {}
    table.pitr = None
    table.deletion_protection = False
    table.restore = None  # the source may be a restored table itself
    table.replicas, table.sourced, table.replicating = [], {}, None  # one region's table
    table.consistency = table.witness = table.settings = None
    table.remote = {}
    table.kinesis = []
    table.insights = {}
    table.throughput_log = None
    for ix in table.indexes:
        ix.throughput_log = None
    _billing_override(table, params)
    table.on_demand_since = now if table.billing == "PAY_PER_REQUEST" else None
    for kind, member in (
        ("GSI", "GlobalSecondaryIndexOverride"),
        ("LSI", "LocalSecondaryIndexOverride"),
    ):
        if params.get(member) is not None:
            _index_override(table, kind, member, params[member])
    for ix in table.indexes:
        ix.status = "ACTIVE"
        if ix.kind == "GSI":
            if table.billing == "PAY_PER_REQUEST":
                ix.throughput = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
            elif not (ix.throughput or {}).get("ReadCapacityUnits"):
                ix.throughput = dict(table.throughput)
    sse = params.get("SSESpecificationOverride")
    if sse is not None:
        table.sse = sse_description(table, sse)  # CreateTable's rules for an SSESpecification
    used = set(table.key_names)
    for ix in table.indexes:
        used.update(ix.key_names())
    table.attributes = {k: v for k, v in table.attributes.items() if k in used}
    return table


def _billing_override(table: Table, params: dict[str, Any]) -> None:
    billing = params.get("BillingModeOverride") or table.billing
    throughput = params.get("ProvisionedThroughputOverride")
    if billing == "PAY_PER_REQUEST" or throughput is not None or table.billing != billing:
        # check_throughput gives AWS's messages: none allowed on demand, both required
        # when switching to PROVISIONED without an override.
        table.throughput = check_throughput(billing, throughput)
    table.billing = billing


def _index_override(table: Table, kind: str, member: str, specs: list[dict[str, Any]]) -> None:
    existing = {ix.name: ix for ix in table.indexes if ix.kind == kind}
    chosen = []
    seen: set[str] = set()
    for spec in specs:
        old = existing.get(spec["IndexName"])
        if old is None:
            raise errors.invalid_parameter(
                f"{member}: the backup has no {'global' if kind == 'GSI' else 'local'} "
                f"secondary index named {spec['IndexName']}; an override can only keep "
                "indexes of the source table"
            )
        spec = dict(spec)
        if (
            kind == "GSI"
            and table.billing == "PROVISIONED"
            and not spec.get("ProvisionedThroughput")
        ):
            current = old.throughput or {}
            spec["ProvisionedThroughput"] = (
                current if current.get("ReadCapacityUnits") else dict(table.throughput)
            )
        ix = parse_index(spec, kind, table.attributes, table.billing, seen)
        if index_key_schema(ix) != index_key_schema(old):
            raise errors.invalid_parameter(
                f"{member}: the key schema of index {ix.name} does not match the source table's"
            )
        chosen.append(ix)
    table.indexes = [ix for ix in table.indexes if ix.kind != kind] + chosen


def _restore_result(engine: Engine, table: Table) -> Result:
    """The answer of a restore: the new table's description, RestoreSummary included
    (``table.restore``, saved with the table, so DescribeTable reports it too, after
    restarts as well)."""
    return {"TableDescription": describe(table, engine.counts(table), engine.clock())}


def _fingerprint(params: dict[str, Any]) -> str:
    """An export request without its ClientToken, comparable across calls."""

    def plain(value: Any) -> Any:
        return value.timestamp() if isinstance(value, datetime) else str(value)

    rest = {k: v for k, v in params.items() if k != "ClientToken"}
    return json.dumps(rest, sort_keys=True, default=plain)


# --------------------------------------------------------------------------- handlers


class BackupHandlers:
    """CreateBackup ... ListExports, mixed into ``DynamoDBService``."""

    engine: Engine
    env: Any
    _backfills: set[asyncio.Handle]

    # ---- state (created on first use)

    def _backup_store(self) -> Backups:
        store = self.__dict__.get("_backups")
        if store is None:
            store = self.__dict__["_backups"] = Backups(self.engine)
        return store

    def _export_store(self) -> Exports:
        store = self.__dict__.get("_exports")
        if store is None:
            store = self.__dict__["_exports"] = Exports(self.engine, self.env)
        return store

    def _start_backups(self) -> None:
        """Create the tables; resume unfinished exports, backups and restores (call on
        the event loop)."""
        store = self._backup_store()
        self._export_store().resume()
        tables = {t.table_id: t for t in self.engine.by_id.values()}
        for bid, table_id in store.creating():
            table = tables.get(table_id)
            if table is None:  # gone while copied (cannot be: DeleteTable completes copies)
                store.delete_by_id(bid)
            else:
                self._copy(backup_copies.Copy(self.engine, table, bid))
        for table in list(self.engine.by_id.values()):
            if table.restoring is not None:
                self._resume_restore(table)

    def _stop_backups(self) -> None:
        """Cancel running exports (call before closing the database)."""
        exports = self.__dict__.get("_exports")
        if exports is not None:
            exports.stop()

    # ---- on-demand backups

    def create_backup(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_table_name(params["BackupName"], "backupName")  # the same rule as table names
        table = find_table(self.engine, ctx.account_id, ctx.region, params["TableName"])
        refuse_while_creating(table)
        if table.tid in self.engine.copies:
            raise backup_in_use(f"a backup of table {table.name} is being created")
        store = self._backup_store()
        backup = store.create(table, params["BackupName"])
        copy = backup_copies.Copy(self.engine, table, backup.bid)
        try:
            finished, size = run_for(copy.step, backup_copies.WAIT)
        except BaseException:
            self.engine.copies.pop(table.tid, None)
            store.delete(backup)
            raise
        if not finished:
            self._copy(copy, size)
        backup = store.get(ctx.account_id, ctx.region, backup.arn)
        return {"BackupDetails": backup.details()}

    def _copy(self, copy: backup_copies.Copy, size: int = 32) -> None:
        run_sliced(copy.step, self._backfills, name=f"backup of table {copy.table.name}", size=size)

    def describe_backup(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn, _region = check_backup_arn(params["BackupArn"], ctx.account_id, ctx.region)
        backup = self._backup_store().get(ctx.account_id, ctx.region, arn)
        return {"BackupDescription": backup.description()}

    def delete_backup(self, ctx: Any, params: dict[str, Any]) -> Result:
        store = self._backup_store()
        arn, _region = check_backup_arn(params["BackupArn"], ctx.account_id, ctx.region)
        backup = store.get(ctx.account_id, ctx.region, arn)
        if backup.status == "CREATING" or restores.restoring(self.engine, backup.bid):
            raise backup_in_use(backup.arn)
        store.delete(backup)
        backup.status = "DELETED"
        return {"BackupDescription": backup.description()}

    def list_backups(self, ctx: Any, params: dict[str, Any]) -> Result:
        limit = errors.check_limit(params.get("Limit"), 100)
        kind = params.get("BackupType") or "USER"
        errors.check_enum(kind, "backupType", BACKUP_TYPES)
        if kind not in ("USER", "ALL"):
            return {"BackupSummaries": []}  # cloudlet makes no SYSTEM or AWS_BACKUP backups
        lower, upper = params.get("TimeRangeLowerBound"), params.get("TimeRangeUpperBound")
        if lower is not None and upper is not None and epoch(lower) > epoch(upper):
            raise errors.validation(  # DDB-BACKUP-014
                "Time range lower bound must be less than or equal to upper bound"
            )
        found = self._backup_store().list(
            ctx.account_id,
            ctx.region,
            params.get("TableName"),
            None if lower is None else epoch(lower),
            None if upper is None else epoch(upper),
        )
        start = params.get("ExclusiveStartBackupArn")
        if start is not None:
            arns = [b.arn for b in found]
            found = found[arns.index(start) + 1 :] if start in arns else []
        out: Result = {"BackupSummaries": [b.summary() for b in found[:limit]]}
        if len(found) > limit:
            out["LastEvaluatedBackupArn"] = found[limit - 1].arn
        return out

    def restore_table_from_backup(self, ctx: Any, params: dict[str, Any]) -> Result:
        target = params["TargetTableName"]
        check_target_name(target)
        given = params["BackupArn"]
        _arn, arn_region = check_backup_arn(given, ctx.account_id, ctx.region)
        if arn_region != ctx.region and params.get("SSESpecificationOverride") is None:
            raise errors.validation(CROSS_REGION_RESTORE)  # DDB-TABLE-274
        backup = self._backup_store().get(ctx.account_id, ctx.region, given)
        if backup.status == "CREATING":
            raise backup_in_use(backup.arn)
        if self.engine.find(ctx.account_id, ctx.region, target) is not None:
            raise errors.table_already_exists(target)
        table = restored_definition(
            backup.table, target, ctx.account_id, ctx.region, params, self.engine.clock()
        )
        table.restore = {
            "SourceBackupArn": backup.arn,
            "SourceTableArn": backup.table.arn,
            "RestoreDateTime": backup.created,
        }
        return self._restore(table, {"backup": backup.bid})

    # ---- point-in-time recovery

    def update_continuous_backups(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = find_table(self.engine, ctx.account_id, ctx.region, params["TableName"])
        spec = params["PointInTimeRecoverySpecification"]
        days = spec.get("RecoveryPeriodInDays")
        if days is not None and not 1 <= days <= DEFAULT_RECOVERY_DAYS:
            bound = "greater than or equal to 1" if days < 1 else "less than or equal to 35"
            raise errors.validation(
                f"1 validation error detected: Value '{days}' at "
                "'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy "
                f"constraint: Member must have value {bound}"
            )
        now = self.engine.clock()
        if spec["PointInTimeRecoveryEnabled"]:
            prior = table.pitr or {}
            table.pitr = {
                "enabled": True,
                "since": prior.get("since", now),
                "days": days or prior.get("days") or DEFAULT_RECOVERY_DAYS,
            }
        else:
            table.pitr = None
        self.engine.save(table)
        return {"ContinuousBackupsDescription": continuous_description(table, now)}

    def describe_continuous_backups(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = find_table(self.engine, ctx.account_id, ctx.region, params["TableName"])
        return {"ContinuousBackupsDescription": continuous_description(table, self.engine.clock())}

    def restore_table_to_point_in_time(self, ctx: Any, params: dict[str, Any]) -> Result:
        # AWS's order (DDB-TABLE-100): the request's shape, then is PITR on, then the
        # time, and only then whether the target exists.
        engine = self.engine
        latest_wanted = bool(params.get("UseLatestRestorableTime"))
        given = params.get("RestoreDateTime")
        if latest_wanted and given is not None:
            raise errors.validation(BOTH_RESTORE_TIMES)
        if not latest_wanted and given is None:
            raise errors.validation(NO_RESTORE_TIME)
        target = params["TargetTableName"]
        check_table_name(target, "targetTableName")
        arn, name = params.get("SourceTableArn"), params.get("SourceTableName")
        if arn is None and name is None:
            raise errors.validation("Either SourceTableArn or SourceTableName must be specified")
        source = find_table(engine, ctx.account_id, ctx.region, arn or name)
        if arn is not None and name is not None and source.name != name:
            raise errors.validation("SourceTableArn and SourceTableName name different tables")
        if not source.pitr:
            raise pitr_unavailable(source.name)
        now = engine.clock()
        earliest, latest = pitr_window(source, now)
        when = latest if latest_wanted else epoch(given)
        if not earliest <= when <= latest:
            raise invalid_restore_time(given if given is not None else when, earliest, latest)
        if engine.find(ctx.account_id, ctx.region, target) is not None:
            raise errors.table_already_exists(target)
        table = restored_definition(source, target, ctx.account_id, ctx.region, params, now)
        table.restore = {"SourceTableArn": source.arn, "RestoreDateTime": when}
        return self._restore(table, {"table": source.tid, "when": when})

    def _restore(self, table: Table, job: dict[str, Any]) -> Result:
        """Start ``table``'s restore (``restores.py``): up to ``restores.WAIT`` seconds
        now, the rest a slice per event-loop turn; answer its description."""
        restores.begin(self.engine, table, job)
        step = restores.steps(self.engine, table)
        try:
            finished, size = run_for(step, restores.WAIT)
        except BaseException:
            if self.engine.by_id.get(table.tid) is table:
                self.engine.drop(table)
            raise
        if not finished:
            self._resume_restore(table, step, size)
        return _restore_result(self.engine, table)

    def _resume_restore(
        self, table: Table, step: restores.Step | None = None, size: int = 32
    ) -> None:
        run_sliced(
            step or restores.steps(self.engine, table),
            self._backfills,
            name=f"restore of table {table.name}",
            size=size,
        )

    # ---- exports

    def export_table_to_point_in_time(self, ctx: Any, params: dict[str, Any]) -> Result:
        engine = self.engine
        check_export_request(params)
        table = find_table(engine, ctx.account_id, ctx.region, params["TableArn"])
        exports = self._export_store()
        now = engine.clock()
        token = params.get("ClientToken")
        request = _fingerprint(params)
        if token:
            prior = exports.by_token(ctx.account_id, ctx.region, token, now)
            if prior is not None:
                if prior.get("request") != request:
                    raise export_conflict()
                return {"ExportDescription": describe_export(prior)}
        if not table.pitr:
            raise pitr_unavailable(table.name)
        if params.get("FilterSpecification"):
            raise errors.validation(
                "FilterSpecification is not supported by cloudlet: export the whole table"
            )
        earliest, latest = pitr_window(table, now)
        data: dict[str, Any] = {
            "request": request,
            "token": token,
            "bucket": params["S3Bucket"],
            "owner": params.get("S3BucketOwner"),
            "prefix": params.get("S3Prefix"),
            "sse": params.get("S3SseAlgorithm"),
            "kms": params.get("S3SseKmsKeyId"),
            "format": params.get("ExportFormat") or "DYNAMODB_JSON",
            "type": params.get("ExportType") or "FULL_EXPORT",
            "type_sent": params.get("ExportType") is not None,
        }
        if data["type"] == "FULL_EXPORT":
            if params.get("ExportTime") is not None:
                when = epoch(params["ExportTime"])
                if not earliest <= when <= latest:
                    raise invalid_export_time("Export Time is invalid")  # DDB-EXPORT-001
                data["time"] = when
        else:
            data.update(incremental_window(params, earliest, latest))
        data = exports.start(ctx.account_id, ctx.region, table, data)
        return {"ExportDescription": describe_export(data)}

    def describe_export(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_export_arn(params["ExportArn"], ctx.account_id, ctx.region)
        data = self._export_store().get(ctx.account_id, ctx.region, params["ExportArn"])
        return {"ExportDescription": describe_export(data)}

    def list_exports(self, ctx: Any, params: dict[str, Any]) -> Result:
        limit = errors.check_limit(params.get("MaxResults"), MAX_EXPORT_PAGE, "maxResults")
        found = self._export_store().list(ctx.account_id, ctx.region, params.get("TableArn"))
        token = params.get("NextToken")
        if token is not None:
            arns = [arn for arn, _status, _type in found]
            if token not in arns:
                raise errors.validation(f"Invalid NextToken: {token}")
            found = found[arns.index(token) + 1 :]
        page = found[:limit]
        out: Result = {
            "ExportSummaries": [
                {"ExportArn": arn, "ExportStatus": status, "ExportType": kind}
                for arn, status, kind in page
            ]
        }
        if len(found) > limit:
            out["NextToken"] = page[-1][0]
        return out
