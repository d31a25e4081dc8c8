"""Log events: PutLogEvents with AWS's batch rules, GetLogEvents with its
forward/backward tokens, FilterLogEvents over a whole group.

A mixin of ``LogsService``. Reads page through SQLite by ``(ts, id)`` cursor,
so neither a long stream nor a large group is ever loaded at once. A batch is
transformed and masked before it is stored (``ingest``); reads with ``unmask`` return
events as they were before masking.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import now_ms, sequence_token
from cloudlet.services.logs.patterns import compile_pattern
from cloudlet.services.logs.store import Row, Store

Result = dict[str, Any]
MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_RESPONSE_BYTES = 1_048_576
DAY_MS = 86_400_000
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * 3_600_000
SCAN_BUDGET = 50_000  # events one FilterLogEvents call examines before handing back a token


def event_id(ts: int, row_id: int) -> str:
    """A 56-digit id like AWS's: timestamp then insertion order."""
    return f"{ts:020d}{row_id:036d}"


def _cursor(token: str, prefix: str) -> tuple[int, int]:
    digits = token[len(prefix) :]
    if not token.startswith(prefix) or len(digits) != 56 or not digits.isdigit():
        raise errors.invalid("The specified nextToken is invalid.")
    return int(digits[:20]), int(digits[20:])


def _fit(rows: list, from_end: bool) -> list:
    """Trim a page to AWS's 1 MB response size."""
    total, keep = 0, []
    for row in reversed(rows) if from_end else rows:
        total += len(row[-1].encode()) + EVENT_OVERHEAD
        if total > MAX_RESPONSE_BYTES and keep:
            break
        keep.append(row)
    return keep[::-1] if from_end else keep


class EventsMixin:
    """Needs ``_group``/``_stream`` (GroupsMixin), ``_after_put`` (FiltersMixin),
    ``_prepare`` (IngestMixin), ``_tail`` (LiveTailMixin) and ``_index_batch``
    (FieldIndexesMixin)."""

    store: Store
    _prepare: Callable[[Any, Row, Row, list[tuple[int, str]]], tuple[list, list | None]]
    _tail: Callable[[Any, Row, Row, list[tuple[int, int, str]], int], None]
    _index_batch: Callable[[Row, Row, list, int], tuple | None]

    # --- PutLogEvents ----------------------------------------------------------------

    async def put_log_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        events = params.get("logEvents") or []
        if not events:
            raise errors.constraint(
                "[]", "logEvents", "Member must have length greater than or equal to 1"
            )
        if len(events) > MAX_EVENTS:
            raise errors.constraint(
                "[...]", "logEvents", "Member must have length less than or equal to 10000"
            )
        stamps = [int(e["timestamp"]) for e in events]
        if any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
            raise errors.invalid(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
        if size > MAX_BATCH_BYTES:
            raise errors.invalid(f"Upload too large: {size} bytes exceeds limit of 1048576")
        if stamps[-1] - stamps[0] > DAY_MS:
            raise errors.invalid(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours."
            )
        group = self._group(ctx, params)
        stream = self._stream(group, params["logStreamName"])
        now = now_ms()
        rejected: dict[str, int] = {}
        too_old = [i for i, ts in enumerate(stamps) if ts < now - TOO_OLD_MS]
        too_new = [i for i, ts in enumerate(stamps) if ts > now + TOO_NEW_MS]
        expired: list[int] = []
        if group["retention"]:
            cutoff = now - group["retention"] * DAY_MS
            expired = [i for i, ts in enumerate(stamps) if ts < cutoff]
        if too_old:
            rejected["tooOldLogEventEndIndex"] = too_old[-1]
        if too_new:
            rejected["tooNewLogEventStartIndex"] = too_new[0]
        if expired:
            rejected["expiredLogEventEndIndex"] = expired[-1]
        skip = set(too_old) | set(too_new) | set(expired)
        accepted = [(stamps[i], e["message"]) for i, e in enumerate(events) if i not in skip]
        out: Result = {}
        if accepted:
            rows, ingested = self._prepare(ctx, group, stream, accepted)
            ids = self.store.append(stream, rows, now, self._index_batch(group, stream, rows, now))
            stored = [(i, ts, m) for i, (ts, m, _) in zip(ids, rows, strict=True)]
            original = (
                [(i, ts, m) for i, (ts, m) in zip(ids, ingested, strict=True)]
                if ingested is not None
                else None
            )
            await self._after_put(ctx, group, stream, stored, original)
            self._tail(ctx, group, stream, stored, now)
        out["nextSequenceToken"] = sequence_token(stream["id"], stream["seq"] + 1)
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    # --- GetLogEvents ----------------------------------------------------------------

    def get_log_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        stream = self._stream(group, params["logStreamName"])
        limit = int(params.get("limit") or MAX_EVENTS)
        if not 1 <= limit <= MAX_EVENTS:
            raise errors.constraint(
                limit, "limit", "Member must have value less than or equal to 10000"
            )
        start, end = params.get("startTime"), params.get("endTime")
        token = params.get("nextToken")
        sid = stream["id"]
        unmask = bool(params.get("unmask"))
        if token and token.startswith("b/"):
            cursor = _cursor(token, "b/")
            rows = self.store.stream_page(sid, None, cursor, start, end, limit, True, unmask)
            rows = _fit(rows, True)
            empty_forward = "f/" + event_id(*cursor)
            empty_backward = token
        else:
            cursor = _cursor(token, "f/") if token else None
            backward = not token and not params.get("startFromHead")
            rows = self.store.stream_page(sid, cursor, None, start, end, limit, backward, unmask)
            rows = _fit(rows, backward)
            empty_forward = token or "f/" + event_id(0, 0)
            empty_backward = "b/" + event_id(*(cursor or (0, 0)))
        if rows:
            forward = "f/" + event_id(rows[-1][1], rows[-1][0])
            back = "b/" + event_id(rows[0][1], rows[0][0])
        else:
            forward, back = empty_forward, empty_backward
        return {
            "events": [
                {"timestamp": ts, "message": m, "ingestionTime": ing} for _, ts, ing, m in rows
            ],
            "nextForwardToken": forward,
            "nextBackwardToken": back,
        }

    # --- FilterLogEvents -------------------------------------------------------------

    def filter_log_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names and prefix:
            raise errors.invalid(
                "Cannot specify both logStreamNames and logStreamNamePrefix in the same request."
            )
        limit = int(params.get("limit") or MAX_EVENTS)
        if not 1 <= limit <= MAX_EVENTS:
            raise errors.constraint(
                limit, "limit", "Member must have value less than or equal to 10000"
            )
        try:
            pattern = compile_pattern(params.get("filterPattern"))
        except ServiceError as exc:
            raise errors.invalid(exc.message) from None
        streams = self.store.streams(group["id"], prefix or "")
        if names:
            streams = [s for s in streams if s["name"] in set(names)]
        by_id = {s["id"]: s["name"] for s in streams}
        sids = list(by_id) if (names or prefix) else None
        after = None
        if params.get("nextToken"):
            try:
                raw = base64.b64decode(params["nextToken"], validate=True).decode()
                ts, rid = raw.split("/")[1:3]
                after = (int(ts), int(rid))
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise errors.invalid("The specified nextToken is invalid.") from None
        found: list[Result] = []
        size, scanned, last = 0, 0, None
        more = False
        if sids is None or sids:
            for rid, sid, ts, ingest, message in self.store.scan(
                group["id"],
                sids,
                after,
                params.get("startTime"),
                params.get("endTime"),
                unmask=bool(params.get("unmask")),
            ):
                if len(found) >= limit or size >= MAX_RESPONSE_BYTES or scanned >= SCAN_BUDGET:
                    more = True
                    break
                scanned += 1
                last = (ts, rid)
                if not pattern.matches(message):
                    continue
                size += len(message.encode()) + EVENT_OVERHEAD
                found.append(
                    {
                        "logStreamName": by_id.get(sid) or self._stream_name(sid),
                        "timestamp": ts,
                        "message": message,
                        "ingestionTime": ingest,
                        "eventId": event_id(ts, rid),
                    }
                )
        out: Result = {
            "events": found,
            "searchedLogStreams": [
                {"logStreamName": s["name"], "searchedCompletely": not more} for s in streams
            ],
        }
        if more and last is not None:
            out["nextToken"] = base64.b64encode(f"c/{last[0]}/{last[1]}".encode()).decode()
        return out

    def _stream_name(self, sid: int) -> str:
        row = self.store.conn.execute("SELECT name FROM streams WHERE id = ?", (sid,)).fetchone()
        return row[0] if row else ""
