"""CloudWatch Logs operations (botocore model ``logs``, json 1.1).

One method per operation, named as botocore names it, split by operation
group into mixins: ``groups`` (log groups, streams, tags, retention),
``events`` (Put/Get/FilterLogEvents), ``filters`` (metric and subscription
filters). Logs Insights queries live here: parsed at StartQuery (so a bad
query is refused at once), then run as a background task over the groups'
events, as AWS runs them (Scheduled ▸ Running ▸ Complete).

Every handler works for an internal call (``ctx.request`` is None): Lambda
writes its function logs through ``env.call("logs", ...)``. Export tasks to our
S3 are ``exports``'s; cross-account destinations ``destinations``'s, and the
Kinesis records of subscriptions ``kinesis_delivery``'s. Resource policies are
``resource_policies``'s, account policies ``account_policies``'s, data protection
``data_protection``'s, transformers ``transformers``'s (what they do to a batch,
``ingest``), Live Tail ``live_tail``'s, index policies and the field indexes that narrow
a query's scan ``field_indexes``'s. Operations not built here (deliveries, anomaly
detectors, import tasks...) do not exist as methods, so they answer 501.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.logs import errors
from cloudlet.services.logs.account_policies import AccountPoliciesMixin
from cloudlet.services.logs.data_protection import DataProtectionMixin
from cloudlet.services.logs.destinations import DestinationsMixin, destination_arn
from cloudlet.services.logs.events import DAY_MS, EventsMixin, event_id
from cloudlet.services.logs.exports import ExportsMixin
from cloudlet.services.logs.field_indexes import FieldIndexesMixin
from cloudlet.services.logs.filters import FiltersMixin
from cloudlet.services.logs.groups import GroupsMixin, name_from_identifier, now_ms, page
from cloudlet.services.logs.ingest import IngestMixin
from cloudlet.services.logs.insights import Query, Runner, parse_query, record, show
from cloudlet.services.logs.kinesis_delivery import RETRY_INTERVAL, KinesisSender
from cloudlet.services.logs.live_tail import LiveTailMixin
from cloudlet.services.logs.resource_policies import ResourcePoliciesMixin
from cloudlet.services.logs.store import Store
from cloudlet.services.logs.transformers import TransformersMixin

log = logging.getLogger(__name__)
Result = dict[str, Any]
RETENTION_INTERVAL = float(os.environ.get("CLOUDLET_LOGS_RETENTION_INTERVAL", "300"))
QUERY_LIFETIME_MS = 7 * DAY_MS
MAX_QUERY_GROUPS = 50


@dataclass
class InsightsQuery:
    id: str
    account: str
    region: str
    text: str
    query: Query
    groups: list[dict]
    start_ms: int
    end_ms: int
    limit: int
    created: int
    status: str = "Scheduled"
    rows: list[dict] = field(default_factory=list)
    stats: dict[str, int] = field(
        default_factory=lambda: {"recordsScanned": 0, "bytesScanned": 0, "recordsMatched": 0}
    )
    task: asyncio.Task | None = None


class LogsService(
    DestinationsMixin,
    GroupsMixin,
    EventsMixin,
    FiltersMixin,
    ExportsMixin,
    ResourcePoliciesMixin,
    AccountPoliciesMixin,
    DataProtectionMixin,
    TransformersMixin,
    IngestMixin,
    LiveTailMixin,
    FieldIndexesMixin,
    Service,
):
    name = "logs"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("logs"))
        self._compiled = {}
        self._deliveries = Background()
        self._kinesis = KinesisSender(env, self._deliveries)
        self._queries: dict[str, InsightsQuery] = {}
        self._start_destinations()
        self._start_resource_policies()
        self._start_account_policies()
        self._start_live_tail()

    async def start(self) -> None:
        self.env.every(RETENTION_INTERVAL, self._sweep, "logs-retention")
        self.env.every(RETRY_INTERVAL, self._kinesis.tick, "logs-kinesis-retries")
        self._start_exports()

    async def stop(self) -> None:
        self._end_live_tails()
        self._stop_exports()
        for q in self._queries.values():
            if q.task is not None and not q.task.done():
                q.task.cancel()
        await self._deliveries.stop()
        self.store.conn.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "queries": len(self._queries),
            "kinesis_records_waiting": len(self._kinesis),
            "live_tail_sessions": len(self._sessions),
        }

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the log stream's ARN for event reads and writes, a destination's
        for its operations, else the log group's (``:*`` form, as AWS's policies name it),
        with the statements of the resource policies that apply to the group for AWS
        service principals (``resource_policies``: the only callers they govern)."""
        if params.get("destinationName"):
            return destination_arn(ctx.region, ctx.account_id, params["destinationName"]), None
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        if not name and params.get("resourceArn"):
            name = params["resourceArn"]
        if not name:
            return "*", self._service_policy(ctx.account_id, ctx.region, None)
        group_name = name_from_identifier(name)
        text = self._service_policy(ctx.account_id, ctx.region, group_name)
        group = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group_name}"
        stream = params.get("logStreamName")
        if stream and operation in ("PutLogEvents", "GetLogEvents"):
            return f"{group}:log-stream:{stream}", text
        return group + ":*", text

    def dependent_actions(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """Reading events with ``unmask`` (or a query calling ``unmask``) also needs
        ``logs:Unmask`` on the group (each group of the query)."""
        if operation == "StartQuery":
            return self._query_unmasks(ctx, params)
        if not params.get("unmask"):
            return ()
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        if not name:  # GetLogRecord names its group only inside the record pointer
            return (("logs:Unmask", "*"),)
        group = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name_from_identifier(name)}"
        return (("logs:Unmask", group + ":*"),)

    @staticmethod
    def _query_unmasks(ctx: Any, params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        try:
            unmasks = parse_query(params.get("queryString") or "").unmasks
        except ServiceError:
            return ()  # StartQuery itself answers the malformed query
        if not unmasks:
            return ()
        names = [params["logGroupName"]] if params.get("logGroupName") else []
        names += params.get("logGroupNames") or []
        names += params.get("logGroupIdentifiers") or []
        prefix = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:"
        return tuple(
            ("logs:Unmask", f"{prefix}{name_from_identifier(n)}:*") for n in dict.fromkeys(names)
        )

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """StartLiveTail is ``logs:StartLiveTail`` on each log group it tails."""
        if operation != "StartLiveTail":
            return None
        prefix = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:"
        return tuple(
            ("logs:StartLiveTail", f"{prefix}{name_from_identifier(i)}:*", None)
            for i in params.get("logGroupIdentifiers") or []
        )

    def _sweep(self) -> None:
        """Retention: delete events older than each group's retention."""
        now = now_ms()
        for g in self.store.all_groups():
            if g["retention"]:
                n = self.store.expire(g["id"], now - g["retention"] * DAY_MS)
                if n:
                    log.debug("retention removed %d events from %s", n, g["name"])
        for qid, q in list(self._queries.items()):
            if q.created < now - QUERY_LIFETIME_MS:
                del self._queries[qid]

    # --- Logs Insights ---------------------------------------------------------------

    def start_query(self, ctx: Any, params: dict[str, Any]) -> Result:
        language = params.get("queryLanguage") or "CWLI"
        if language != "CWLI":
            raise errors.invalid(f"Query language {language} is not supported by cloudlet.")
        names = []
        if params.get("logGroupName"):
            names.append(params["logGroupName"])
        names += params.get("logGroupNames") or []
        names += [name_from_identifier(i) for i in params.get("logGroupIdentifiers") or []]
        if not names:
            raise errors.invalid(
                "One of logGroupName, logGroupNames or logGroupIdentifiers is required."
            )
        if len(names) > MAX_QUERY_GROUPS:
            raise errors.invalid("A query can search at most 50 log groups.")
        groups = []
        for name in dict.fromkeys(names):
            g = self.store.group(ctx.account_id, ctx.region, name)
            if g is None:
                raise errors.not_found(
                    f"Log group '{name}' does not exist for account ID '{ctx.account_id}'"
                )
            groups.append(g)
        start, end = int(params["startTime"]), int(params["endTime"])
        if end < start:
            raise errors.invalid("endTime must be greater than or equal to startTime.")
        query = parse_query(params["queryString"])
        limit = int(params.get("limit") or 1000)
        if not 1 <= limit <= 10000:
            raise errors.constraint(
                limit, "limit", "Member must have value less than or equal to 10000"
            )
        q = InsightsQuery(
            id=new_uuid(),
            account=ctx.account_id,
            region=ctx.region,
            text=params["queryString"],
            query=query,
            groups=groups,
            start_ms=start * 1000,
            end_ms=end * 1000 + 999,
            limit=limit,
            created=now_ms(),
        )
        self._queries[q.id] = q
        q.task = asyncio.get_running_loop().create_task(self._run_query(q))
        return {"queryId": q.id}

    async def _run_query(self, q: InsightsQuery) -> None:
        await asyncio.sleep(0)
        q.status = "Running"
        try:
            runner = Runner(q.query, q.limit, q.stats)
            chunk: list[dict] = []
            for rec in self._records(q):
                chunk.append(rec)
                if len(chunk) >= 1000:
                    if not runner.feed(chunk):
                        break
                    chunk = []
                    await asyncio.sleep(0)  # let requests through during a long scan
            runner.feed(chunk)
            q.rows = runner.finish()
            q.status = "Complete"
        except asyncio.CancelledError:
            q.status = "Cancelled"
        except Exception:  # noqa: BLE001 - a failed query reports Failed, as AWS does
            log.exception("insights query %s failed", q.id)
            q.status = "Failed"

    def _records(self, q: InsightsQuery) -> Iterator[dict]:
        for g in q.groups:
            names = {s["id"]: s["name"] for s in self.store.streams(g["id"])}
            label = f"{q.account}:{g['name']}"
            unmasks = q.query.unmasks
            for rid, sid, ts, ingest, message, *raw in self._scan_for_query(
                g, q.query, q.start_ms, q.end_ms, unmasks
            ):
                ptr = base64.b64encode(f"{g['id']}/{event_id(ts, rid)}".encode()).decode()
                stream = names.get(sid, "")
                yield record(ts, ingest, message, stream, label, ptr, raw[0] if raw else None)

    def _query(self, ctx: Any, query_id: str) -> InsightsQuery:
        q = self._queries.get(query_id)
        if q is None or (q.account, q.region) != (ctx.account_id, ctx.region):
            raise errors.not_found("Query does not exist.")
        return q

    def get_query_results(self, ctx: Any, params: dict[str, Any]) -> Result:
        q = self._query(ctx, params["queryId"])
        rows = q.rows if q.status == "Complete" else []
        return {
            "queryLanguage": "CWLI",
            "results": [[{"field": k, "value": show(v)} for k, v in row.items()] for row in rows],
            "statistics": {
                "recordsMatched": float(q.stats["recordsMatched"]),
                "recordsScanned": float(q.stats["recordsScanned"]),
                "bytesScanned": float(q.stats["bytesScanned"]),
                "logGroupsScanned": float(len(q.groups)),
            },
            "status": q.status,
        }

    def get_log_record(self, ctx: Any, params: dict[str, Any]) -> Result:
        try:
            gid_text, eid = base64.b64decode(params["logRecordPointer"]).decode().split("/")
            gid, row_id = int(gid_text), int(eid[20:])
        except ValueError:
            raise errors.invalid("The specified logRecordPointer is invalid.") from None
        group = next(
            (g for g in self.store.groups(ctx.account_id, ctx.region) if g["id"] == gid), None
        )
        unmask = bool(params.get("unmask"))
        found = self.store.event(gid, row_id, unmask) if group is not None else None
        if group is None or found is None:
            raise errors.not_found("The specified log record does not exist.")
        sid, ts, ingest, message = found
        names = {s["id"]: s["name"] for s in self.store.streams(gid)}
        rec = record(
            ts, ingest, message, names.get(sid, ""), f"{ctx.account_id}:{group['name']}", ""
        )
        rec.pop("@ptr")
        return {"logRecord": {k: show(v) for k, v in rec.items()}}

    def get_log_group_fields(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        until = params["time"] * 1000 + 8 * 60_000 if params.get("time") else None
        counts: dict[str, int] = {}
        rows = self.store.recent(group["id"], until, 1000)
        for _sid, ts, ingest, message in rows:
            for name in record(ts, ingest, message, "", "", ""):
                if name != "@ptr":
                    counts[name] = counts.get(name, 0) + 1
        return {
            "logGroupFields": [
                {"name": name, "percent": round(100 * n / len(rows))}
                for name, n in sorted(counts.items())
            ]
        }

    def stop_query(self, ctx: Any, params: dict[str, Any]) -> Result:
        q = self._query(ctx, params["queryId"])
        if q.status not in ("Scheduled", "Running"):
            return {"success": False}
        if q.task is not None:
            q.task.cancel()
        q.status = "Cancelled"
        return {"success": True}

    def describe_queries(self, ctx: Any, params: dict[str, Any]) -> Result:
        mine = [
            q
            for q in self._queries.values()
            if (q.account, q.region) == (ctx.account_id, ctx.region)
        ]
        if params.get("logGroupName"):
            mine = [q for q in mine if any(g["name"] == params["logGroupName"] for g in q.groups)]
        if params.get("status"):
            mine = [q for q in mine if q.status == params["status"]]
        mine.sort(key=lambda q: q.created, reverse=True)
        chunk, token = page(mine, params.get("nextToken"), int(params.get("maxResults") or 1000))
        out: Result = {
            "queries": [
                {
                    "queryLanguage": "CWLI",
                    "queryId": q.id,
                    "queryString": q.text,
                    "status": q.status,
                    "createTime": q.created,
                    "logGroupName": q.groups[0]["name"],
                }
                for q in chunk
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    # --- saved queries ---------------------------------------------------------------

    def put_query_definition(self, ctx: Any, params: dict[str, Any]) -> Result:
        parse_query(params["queryString"])
        def_id = params.get("queryDefinitionId")
        known = {d["queryDefinitionId"] for d in self.store.definitions(ctx.account_id, ctx.region)}
        if def_id and def_id not in known:
            raise errors.not_found("The specified query definition does not exist.")
        doc: Result = {
            "queryLanguage": params.get("queryLanguage") or "CWLI",
            "queryDefinitionId": def_id or new_uuid(),
            "name": params["name"],
            "queryString": params["queryString"],
            "lastModified": now_ms(),
            "logGroupNames": params.get("logGroupNames") or [],
        }
        if params.get("parameters"):
            doc["parameters"] = params["parameters"]
        self.store.put_definition(ctx.account_id, ctx.region, doc)
        return {"queryDefinitionId": doc["queryDefinitionId"]}

    def describe_query_definitions(self, ctx: Any, params: dict[str, Any]) -> Result:
        prefix = params.get("queryDefinitionNamePrefix") or ""
        found = [
            d
            for d in self.store.definitions(ctx.account_id, ctx.region)
            if d["name"].startswith(prefix)
        ]
        chunk, token = page(found, params.get("nextToken"), int(params.get("maxResults") or 1000))
        out: Result = {"queryDefinitions": chunk}
        if token:
            out["nextToken"] = token
        return out

    def delete_query_definition(self, ctx: Any, params: dict[str, Any]) -> Result:
        if not self.store.delete_definition(
            ctx.account_id, ctx.region, params["queryDefinitionId"]
        ):
            raise errors.not_found("The specified query definition does not exist.")
        return {"success": True}
