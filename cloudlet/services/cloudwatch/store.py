"""CloudWatch's SQLite schema and the metric data reads and writes.

Why these tables and indexes:

- ``metrics``: one row per distinct (namespace, name, dimension set) of an
  account and region; the dimension set is stored canonically (sorted by name,
  JSON) so "exact match on dimensions" is string equality and the UNIQUE index
  resolves a metric in one lookup. ``last_put`` answers ListMetrics'
  RecentlyActive (PT3H).
- ``datapoints(metric_id, ts)``: every statistic is a range read over one
  metric's rows in a time window, whatever the total data volume. Each row is
  a statistic set (count, sum, min, max); raw values keep ``value`` too, so
  percentiles are computed exactly from what was put.
- ``alarms``, ``alarm_history``, ``dashboards``, ``insight_rules``,
  ``anomaly_detectors``: small documents (JSON) keyed as AWS addresses them; the
  alarm, insights and anomaly engines keep their working copies in memory.
- ``metric_streams``: one document per stream, with the first minute it has yet
  to send and the newest datapoint (by rowid) it has seen (``metric_streams.py``),
  rewritten as each delivery goes out.
- ``insight_contributions``: Contributor Insights data pre-aggregated per
  (rule, minute, contributor keys) as a statistic set, so a burst of reads of
  one hot item is one row and a report is a range read over one rule's primary
  key (``WITHOUT ROWID``: the key is the table, no second b-tree to update).

Retention: raw datapoints are kept 15 days (AWS keeps 1-minute data 15 days; we
do not downsample into 5-minute and 1-hour data, so older data is dropped), and
so are contributions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

RETENTION_SECONDS = 15 * 86400

SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_put REAL NOT NULL,
    UNIQUE (account, region, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS datapoints (
    metric_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    unit TEXT NOT NULL,
    value REAL,
    count REAL NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS datapoints_by_time ON datapoints (metric_id, ts);
CREATE TABLE IF NOT EXISTS alarms (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS alarm_history (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    alarm_name TEXT NOT NULL,
    alarm_type TEXT NOT NULL,
    ts REAL NOT NULL,
    item_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_alarm ON alarm_history (account, region, alarm_name, ts);
CREATE TABLE IF NOT EXISTS dashboards (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    modified REAL NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS insight_rules (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS anomaly_detectors (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, region, key)
);
CREATE TABLE IF NOT EXISTS metric_streams (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS insight_contributions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    rule TEXT NOT NULL,
    minute INTEGER NOT NULL,
    keys TEXT NOT NULL,
    count REAL NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    PRIMARY KEY (account, region, rule, minute, keys)
) WITHOUT ROWID;
"""

_FIND_METRIC = (
    "SELECT id FROM metrics WHERE account=? AND region=? AND namespace=? AND name=? AND dims=?"
)
_NEW_METRIC = (
    "INSERT INTO metrics (account, region, namespace, name, dims, last_put) VALUES (?,?,?,?,?,?)"
)
_TOUCH = "UPDATE metrics SET last_put=? WHERE id=?"
_INSERT_POINT = (
    "INSERT INTO datapoints (metric_id, ts, unit, value, count, sum, min, max)"
    " VALUES (?,?,?,?,?,?,?,?)"
)
_ADD_CONTRIBUTION = (
    "INSERT INTO insight_contributions (account, region, rule, minute, keys, count, sum, min, max)"
    " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (account, region, rule, minute, keys) DO UPDATE SET"
    " count=count+excluded.count, sum=sum+excluded.sum, min=min(min, excluded.min),"
    " max=max(max, excluded.max)"
)
_BUCKETS = (
    "SELECT (minute-?)/? AS p, keys, SUM(count), SUM(sum), MIN(min), MAX(max)"
    " FROM insight_contributions WHERE account=? AND region=? AND rule=? AND minute>=? AND minute<?"
    " GROUP BY p, keys"
)
_MINUTE = (
    "SELECT m.namespace, m.name, m.dims, d.ts, d.unit, d.value, d.count, d.sum, d.min, d.max"
    " FROM metrics m JOIN datapoints d ON d.metric_id = m.id"
    " WHERE m.account=? AND m.region=? AND m.last_put>=? AND d.ts>=? AND d.ts<? AND d.rowid<=?"
)
_ARRIVED = (
    "SELECT d.rowid, m.account, m.region, m.namespace, m.name, m.dims, d.ts, d.unit, d.value,"
    " d.count, d.sum, d.min, d.max FROM datapoints d JOIN metrics m ON m.id = d.metric_id"
    " WHERE d.rowid>? AND d.rowid<=?"
)
FUTURE_SECONDS = 2 * 3600
"""How far ahead of its put a datapoint's timestamp may be (PutMetricData's rule): a
metric last put before ``start - FUTURE_SECONDS`` holds nothing from ``start`` on."""
_RANGE = (
    "SELECT ts, unit, value, count, sum, min, max FROM datapoints"
    " WHERE metric_id=? AND ts>=? AND ts<?"
)


def canonical_dims(dims: Iterable[dict] | None) -> str:
    """The stored form of a dimension set: sorted [name, value] pairs as JSON."""
    pairs = sorted((d["Name"], d["Value"]) for d in dims or ())
    return json.dumps(pairs, separators=(",", ":"))


@dataclass(slots=True)
class Row:
    """One stored datapoint: a statistic set, with the raw value when there was one."""

    ts: float
    unit: str
    value: float | None
    count: float
    sum: float
    min: float
    max: float


class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    # --- metric data ---------------------------------------------------------------

    def metric_id(
        self, account: str, region: str, namespace: str, name: str, dims: str, create_at: float
    ) -> int:
        row = self.conn.execute(_FIND_METRIC, (account, region, namespace, name, dims)).fetchone()
        if row:
            self.conn.execute(_TOUCH, (create_at, row[0]))
            return row[0]
        cur = self.conn.execute(_NEW_METRIC, (account, region, namespace, name, dims, create_at))
        return int(cur.lastrowid or 0)

    def find_metric(
        self, account: str, region: str, namespace: str, name: str, dims: str
    ) -> int | None:
        row = self.conn.execute(_FIND_METRIC, (account, region, namespace, name, dims)).fetchone()
        return row[0] if row else None

    def insert(self, rows: list[tuple]) -> None:
        self.conn.executemany(_INSERT_POINT, rows)

    def rows(self, metric_id: int, start: float, end: float) -> list[Row]:
        return [Row(*r) for r in self.conn.execute(_RANGE, (metric_id, start, end))]

    def window_rows(
        self, account: str, region: str, start: float, end: float, upto: int
    ) -> list[tuple[str, str, str, Row]]:
        """(namespace, name, dims, datapoint) of every metric of an account and region
        with datapoints in [start, end) put up to rowid ``upto``: what a metric stream
        sends for a minute. Metrics not put since ``start - FUTURE_SECONDS`` are passed
        over without reading them."""
        args = (account, region, start - FUTURE_SECONDS, start, end, upto)
        return [
            (ns, n, dims, Row(*rest)) for ns, n, dims, *rest in self.conn.execute(_MINUTE, args)
        ]

    def last_arrival(self) -> int:
        """The rowid of the newest datapoint (0 when none): rowids grow with each insert,
        so datapoints past a remembered rowid are those put since."""
        return int(self.conn.execute("SELECT max(rowid) FROM datapoints").fetchone()[0] or 0)

    def arrived(self, after: int, upto: int) -> list[tuple[int, str, str, str, str, str, Row]]:
        """(rowid, account, region, namespace, name, dims, datapoint) of the datapoints put
        after rowid ``after`` up to ``upto``: a range read of the table's own key."""
        return [
            (rid, a, r, ns, n, dims, Row(*rest))
            for rid, a, r, ns, n, dims, *rest in self.conn.execute(_ARRIVED, (after, upto))
        ]

    def list_metrics(
        self, account: str, region: str, namespace: str | None, name: str | None, since: float
    ) -> list[tuple[str, str, str]]:
        sql = (
            "SELECT namespace, name, dims FROM metrics WHERE account=? AND region=? AND last_put>=?"
        )
        args: list = [account, region, since]
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        if name is not None:
            sql += " AND name=?"
            args.append(name)
        return list(self.conn.execute(sql + " ORDER BY namespace, name, dims", args))

    def sweep(self, now: float) -> None:
        cutoff = now - RETENTION_SECONDS
        self.conn.execute("DELETE FROM datapoints WHERE ts<?", (cutoff,))
        # per rule, so each delete is a range of the primary key (contributions
        # never outlive their rule: deleting a rule deletes its data)
        rules = list(self.conn.execute("SELECT account, region, name FROM insight_rules"))
        self.conn.executemany(
            "DELETE FROM insight_contributions WHERE account=? AND region=? AND rule=?"
            " AND minute<?",
            [(*r, cutoff) for r in rules],
        )

    # --- documents -----------------------------------------------------------------

    def alarms(self) -> list[tuple[str, str, dict]]:
        return [
            (a, r, json.loads(b))
            for a, r, b in self.conn.execute("SELECT account, region, body FROM alarms")
        ]

    def save_alarm(self, account: str, region: str, alarm: dict) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO alarms (account, region, name, body) VALUES (?,?,?,?)",
            (account, region, alarm["AlarmName"], json.dumps(alarm)),
        )

    def delete_alarm(self, account: str, region: str, name: str) -> None:
        self.conn.execute(
            "DELETE FROM alarms WHERE account=? AND region=? AND name=?", (account, region, name)
        )

    def add_history(
        self, account: str, region: str, item: tuple[str, str, float, str, str, str]
    ) -> None:
        self.conn.execute(
            "INSERT INTO alarm_history (account, region, alarm_name, alarm_type, ts, item_type,"
            " summary, data) VALUES (?,?,?,?,?,?,?,?)",
            (account, region, *item),
        )

    def history(
        self, account: str, region: str, name: str | None, start: float, end: float
    ) -> list[tuple]:
        sql = (
            "SELECT alarm_name, alarm_type, ts, item_type, summary, data FROM alarm_history"
            " WHERE account=? AND region=? AND ts>=? AND ts<?"
        )
        args: list = [account, region, start, end]
        if name:
            sql += " AND alarm_name=?"
            args.append(name)
        return list(self.conn.execute(sql + " ORDER BY ts DESC, id DESC", args))

    def dashboards(self, account: str, prefix: str = "") -> list[tuple[str, str, float]]:
        return [
            r
            for r in self.conn.execute(
                "SELECT name, body, modified FROM dashboards WHERE account=? ORDER BY name",
                (account,),
            )
            if r[0].startswith(prefix)
        ]

    def put_dashboard(self, account: str, name: str, body: str, now: float) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO dashboards (account, name, body, modified) VALUES (?,?,?,?)",
            (account, name, body, now),
        )

    def delete_dashboards(self, account: str, names: list[str]) -> None:
        self.conn.executemany(
            "DELETE FROM dashboards WHERE account=? AND name=?", [(account, n) for n in names]
        )

    # --- metric streams ---------------------------------------------------------------

    def metric_streams(self) -> list[tuple[str, str, dict]]:
        return [
            (a, r, json.loads(b))
            for a, r, b in self.conn.execute("SELECT account, region, body FROM metric_streams")
        ]

    def save_metric_stream(self, account: str, region: str, body: dict) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO metric_streams (account, region, name, body) VALUES (?,?,?,?)",
            (account, region, body["Name"], json.dumps(body)),
        )

    def delete_metric_stream(self, account: str, region: str, name: str) -> None:
        self.conn.execute(
            "DELETE FROM metric_streams WHERE account=? AND region=? AND name=?",
            (account, region, name),
        )

    # --- anomaly detectors ----------------------------------------------------------

    def anomaly_detectors(self) -> list[tuple[str, str, dict]]:
        return [
            (a, r, json.loads(b))
            for a, r, b in self.conn.execute("SELECT account, region, body FROM anomaly_detectors")
        ]

    def save_anomaly_detector(self, account: str, region: str, key: str, body: dict) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO anomaly_detectors (account, region, key, body) VALUES (?,?,?,?)",
            (account, region, key, json.dumps(body)),
        )

    def delete_anomaly_detector(self, account: str, region: str, key: str) -> None:
        self.conn.execute(
            "DELETE FROM anomaly_detectors WHERE account=? AND region=? AND key=?",
            (account, region, key),
        )

    # --- Contributor Insights ------------------------------------------------------

    def insight_rules(self) -> list[tuple[str, str, dict]]:
        return [
            (a, r, json.loads(b))
            for a, r, b in self.conn.execute("SELECT account, region, body FROM insight_rules")
        ]

    def save_insight_rule(self, account: str, region: str, rule: dict) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO insight_rules (account, region, name, body) VALUES (?,?,?,?)",
            (account, region, rule["Name"], json.dumps(rule)),
        )

    def delete_insight_rule(self, account: str, region: str, name: str) -> None:
        """The rule and every contribution recorded for it."""
        key = (account, region, name)
        self.conn.execute("DELETE FROM insight_rules WHERE account=? AND region=? AND name=?", key)
        self.conn.execute(
            "DELETE FROM insight_contributions WHERE account=? AND region=? AND rule=?", key
        )

    def add_contributions(self, rows: list[tuple]) -> None:
        """Fold (account, region, rule, minute, keys, count, sum, min, max) rows into the
        stored statistic sets."""
        self.conn.executemany(_ADD_CONTRIBUTION, rows)

    def contribution_buckets(
        self, account: str, region: str, rule: str, origin: int, period: int, end: float
    ) -> list[tuple[int, str, float, float, float, float]]:
        """(period index from ``origin``, keys, count, sum, min, max) per contributor and
        period over minutes in [origin, end)."""
        return list(
            self.conn.execute(_BUCKETS, (origin, period, account, region, rule, origin, end))
        )
