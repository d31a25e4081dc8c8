"""Log groups and log streams: create, describe, delete, tags, retention, KMS.

A mixin of ``LogsService``: the operations that manage containers, not events.
``_group``/``_stream`` are the lookups every other operation starts with.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.logs import errors
from cloudlet.services.logs.store import Row, Store

Result = dict[str, Any]
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
_GROUP_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]+$")
_STREAM_BAD = re.compile(r"[:*]")


def now_ms() -> int:
    return int(clock.time() * 1000)


def page(items: list, token: str | None, limit: int) -> tuple[list, str | None]:
    """A slice of a sorted list; the token is the (opaque) offset of the next item."""
    start = 0
    if token:
        try:
            start = int(base64.b64decode(token, validate=True).decode().split("/")[1])
        except (binascii.Error, ValueError, IndexError, UnicodeDecodeError):
            raise errors.invalid("The specified nextToken is invalid.") from None
    end = start + limit
    nxt = base64.b64encode(f"o/{end}".encode()).decode() if end < len(items) else None
    return items[start:end], nxt


def _limit(params: dict, default: int, most: int) -> int:
    limit = params.get("limit")
    if limit is None:
        return default
    if not 1 <= int(limit) <= most:
        raise errors.constraint(
            limit, "limit", f"Member must have value less than or equal to {most}"
        )
    return int(limit)


def group_arn(ctx: Any, name: str) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name}"


def name_from_identifier(identifier: str) -> str:
    """A log group name from a name or an ARN (``...:log-group:NAME[:*]``)."""
    if identifier.startswith("arn:"):
        rest = identifier.split(":log-group:", 1)[-1]
        return rest[:-2] if rest.endswith(":*") else rest
    return identifier


class GroupsMixin:
    """Needs ``_forget_filters`` (FiltersMixin)."""

    store: Store
    _forget_filters: Callable[[], None]

    # --- lookups ---------------------------------------------------------------------

    def _group(self, ctx: Any, params: dict[str, Any]) -> Row:
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        if params.get("logGroupName") and params.get("logGroupIdentifier"):
            raise errors.invalid(
                "LogGroup name and LogGroup ARN are mutually exclusive parameters."
            )
        if not name:
            raise errors.invalid("Either logGroupName or logGroupIdentifier must be specified.")
        group = self.store.group(ctx.account_id, ctx.region, name_from_identifier(name))
        if group is None:
            raise errors.group_not_found()
        return group

    def _stream(self, group: Row, name: str) -> Row:
        stream = self.store.stream(group["id"], name)
        if stream is None:
            raise errors.stream_not_found()
        return stream

    def _group_by_arn(self, ctx: Any, arn: str) -> Row:
        if ":log-group:" not in arn:
            raise errors.invalid(f"Invalid resource arn: {arn}")
        group = self.store.group(ctx.account_id, ctx.region, name_from_identifier(arn))
        if group is None:
            raise errors.not_found(f"The specified resource does not exist: {arn}")
        return group

    def _group_shape(self, ctx: Any, g: Row) -> Result:
        arn = group_arn(ctx, g["name"])
        out: Result = {
            "logGroupName": g["name"],
            "creationTime": g["created"],
            "metricFilterCount": self.store.filter_count(g["id"], "metric"),
            "arn": arn + ":*",
            "logGroupArn": arn,
            "storedBytes": self.store.group_bytes(g["id"]),
            "logGroupClass": g["class"],
        }
        if g["retention"]:
            out["retentionInDays"] = g["retention"]
        if g["kms"]:
            out["kmsKeyId"] = g["kms"]
        return out

    # --- log groups ------------------------------------------------------------------

    def create_log_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["logGroupName"]
        if not 1 <= len(name) <= 512 or not _GROUP_NAME.match(name):
            raise errors.constraint(
                name,
                "logGroupName",
                "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
            )
        cls = params.get("logGroupClass") or "STANDARD"
        if cls not in ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
            raise errors.constraint(
                cls,
                "logGroupClass",
                "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]",
            )
        if self.store.group(ctx.account_id, ctx.region, name) is not None:
            raise errors.group_exists()
        self.store.create_group(
            ctx.account_id,
            ctx.region,
            name,
            now_ms(),
            kms=params.get("kmsKeyId"),
            cls=cls,
            tags=params.get("tags"),
        )
        return {}

    def delete_log_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.store.delete_group(self._group(ctx, params)["id"])
        self._forget_filters()
        return {}

    def describe_log_groups(self, ctx: Any, params: dict[str, Any]) -> Result:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix and pattern:
            raise errors.invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        groups = self.store.groups(ctx.account_id, ctx.region, prefix or "")
        if pattern:
            groups = [g for g in groups if pattern.lower() in g["name"].lower()]
        if params.get("logGroupClass"):
            groups = [g for g in groups if g["class"] == params["logGroupClass"]]
        wanted = params.get("logGroupIdentifiers")
        if wanted:
            names = {name_from_identifier(w) for w in wanted}
            groups = [g for g in groups if g["name"] in names]
        chunk, token = page(groups, params.get("nextToken"), _limit(params, 50, 50))
        out: Result = {"logGroups": [self._group_shape(ctx, g) for g in chunk]}
        if token:
            out["nextToken"] = token
        return out

    def list_log_groups(self, ctx: Any, params: dict[str, Any]) -> Result:
        groups = self.store.groups(ctx.account_id, ctx.region)
        pattern = params.get("logGroupNamePattern")
        if pattern:
            try:
                rx = re.compile(pattern)
                groups = [g for g in groups if rx.search(g["name"])]
            except re.error:
                groups = [g for g in groups if pattern in g["name"]]
        if params.get("logGroupClass"):
            groups = [g for g in groups if g["class"] == params["logGroupClass"]]
        chunk, token = page(groups, params.get("nextToken"), _limit(params, 50, 1000))
        out: Result = {
            "logGroups": [
                {
                    "logGroupName": g["name"],
                    "logGroupArn": group_arn(ctx, g["name"]),
                    "logGroupClass": g["class"],
                }
                for g in chunk
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    def put_retention_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise errors.constraint(
                days,
                "retentionInDays",
                "Member must satisfy enum value set: "
                f"[{', '.join(str(d) for d in RETENTION_DAYS)}]",
            )
        self.store.update_group(self._group(ctx, params)["id"], retention=days)
        return {}

    def delete_retention_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.store.update_group(self._group(ctx, params)["id"], retention=None)
        return {}

    def associate_kms_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        if not params.get("logGroupName"):
            raise errors.invalid("logGroupName is required.")
        self.store.update_group(self._group(ctx, params)["id"], kms=params["kmsKeyId"])
        return {}

    def disassociate_kms_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        if not params.get("logGroupName"):
            raise errors.invalid("logGroupName is required.")
        self.store.update_group(self._group(ctx, params)["id"], kms=None)
        return {}

    # --- tags ------------------------------------------------------------------------

    def _retag(self, group: Row, add: dict | None = None, remove: list | None = None) -> None:
        tags = dict(group["tags"])
        tags.update(add or {})
        for key in remove or []:
            tags.pop(key, None)
        if len(tags) > 50:
            raise errors.invalid("A resource can have no more than 50 tags.")
        self.store.update_group(group["id"], tags=tags)

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._retag(self._group_by_arn(ctx, params["resourceArn"]), add=params["tags"])
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._retag(self._group_by_arn(ctx, params["resourceArn"]), remove=params["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"tags": self._group_by_arn(ctx, params["resourceArn"])["tags"]}

    def tag_log_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._retag(self._group(ctx, params), add=params["tags"])
        return {}

    def untag_log_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._retag(self._group(ctx, params), remove=params["tags"])
        return {}

    def list_tags_log_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"tags": self._group(ctx, params)["tags"]}

    # --- log streams -----------------------------------------------------------------

    def create_log_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["logStreamName"]
        if not 1 <= len(name) <= 512 or _STREAM_BAD.search(name):
            raise errors.constraint(
                name, "logStreamName", "Member must satisfy regular expression pattern: [^:*]*"
            )
        group = self._group(ctx, params)
        if self.store.stream(group["id"], name) is not None:
            raise errors.stream_exists()
        self.store.create_stream(group["id"], name, now_ms())
        return {}

    def delete_log_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        self.store.delete_stream(self._stream(group, params["logStreamName"])["id"])
        return {}

    def describe_log_streams(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy") or "LogStreamName"
        if order not in ("LogStreamName", "LastEventTime"):
            raise errors.constraint(
                order,
                "orderBy",
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            )
        if prefix and order == "LastEventTime":
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = self.store.streams(group["id"], prefix or "")
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s["last_ts"] or 0, s["name"]))
        if params.get("descending"):
            streams.reverse()
        chunk, token = page(streams, params.get("nextToken"), _limit(params, 50, 50))
        arn = group_arn(ctx, group["name"])
        out: Result = {"logStreams": [_stream_shape(arn, s) for s in chunk]}
        if token:
            out["nextToken"] = token
        return out


def _stream_shape(group_arn_: str, s: Row) -> Result:
    out: Result = {
        "logStreamName": s["name"],
        "creationTime": s["created"],
        "arn": f"{group_arn_}:log-stream:{s['name']}",
        "storedBytes": s["bytes"],
    }
    if s["first_ts"] is not None:
        out["firstEventTimestamp"] = s["first_ts"]
        out["lastEventTimestamp"] = s["last_ts"]
    if s["last_ingest"] is not None:
        out["lastIngestionTime"] = s["last_ingest"]
        out["uploadSequenceToken"] = sequence_token(s["id"], s["seq"])
    return out


def sequence_token(sid: int, seq: int) -> str:
    """AWS's sequence tokens are long decimal strings; ours encode the batch count."""
    return f"{sid:028d}{seq:028d}"
