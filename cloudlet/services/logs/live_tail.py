"""Live Tail: StartLiveTail's event stream of the log events ingested while it is open.

A mixin of ``LogsService``. Why it works this way (the StartLiveTail reference):

- **The stream**: one ``sessionStart`` (request and session ids, the groups, stream
  filters and pattern asked for), then a ``sessionUpdate`` every second, empty when
  nothing new arrived, each with at most ``MAX_RESULTS`` (500) events, sampled down
  (``sessionMetadata.sampled``) when more arrived. Events wait in a buffer of at most
  ``BUFFER_EVENTS`` (5,000) for a client that reads slower than they come, the oldest
  dropped first. Each event is the one stored (transformed and masked), with its stream,
  its group as ``<account>:<name>`` (what AWS's Live Tail results name), timestamp and
  ingestion time. PutLogEvents hands each accepted batch to the open sessions
  (``_tail``); nothing is read back from the store.
- **Limits and errors**: 1 to 10 log groups, by ARN (not ending in ``*``) or by name, each
  of which must exist; ``logStreamNames`` or ``logStreamNamePrefixes`` (not both) only
  with one group; ``logEventFilterPattern`` is the filter-pattern syntax of
  FilterLogEvents; at most ``MAX_SESSIONS`` open sessions per account and Region
  (``LimitExceededException``; ``CLOUDLET_LOGS_LIVE_TAIL_SESSION_LIMIT``, default 15,
  cloudlet's figure). A session lasts three hours, then ends with
  ``SessionTimeoutException`` (``CLOUDLET_LOGS_LIVE_TAIL_SECONDS`` shortens it for tests);
  a failure while streaming ends it with ``SessionStreamingException``. A client that
  closes the stream ends its session at once; stopping the server ends every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid
from cloudlet.protocols.eventstream import StreamError
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import name_from_identifier
from cloudlet.services.logs.patterns import Pattern, compile_pattern
from cloudlet.services.logs.store import Row, Store

log = logging.getLogger(__name__)
Result = dict[str, Any]
SESSION_SECONDS = seconds_setting(
    "CLOUDLET_LOGS_LIVE_TAIL_SECONDS", 10_800.0, low=0.1, high=10_800.0
)
UPDATE_SECONDS = 1.0
MAX_GROUPS = 10
MAX_RESULTS = 500
BUFFER_EVENTS = 5000
MAX_SESSIONS = int(os.environ.get("CLOUDLET_LOGS_LIVE_TAIL_SESSION_LIMIT") or 15)


@dataclass(eq=False)
class Session:
    id: str
    account: str
    region: str
    groups: dict[str, str]
    """Log group name to the identifier its results carry (``<account>:<name>``)."""
    streams: frozenset[str] | None
    prefixes: tuple[str, ...] | None
    pattern: Pattern
    buffer: deque[Result] = field(default_factory=lambda: deque(maxlen=BUFFER_EVENTS))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    def wants(self, account: str, region: str, group: str, stream: str) -> bool:
        if (account, region) != (self.account, self.region) or group not in self.groups:
            return False
        if self.streams is not None:
            return stream in self.streams
        if self.prefixes is not None:
            return stream.startswith(self.prefixes)
        return True

    def take(self) -> tuple[list[Result], bool]:
        """What arrived since the last update, sampled down to ``MAX_RESULTS``."""
        events = list(self.buffer)
        self.buffer.clear()
        if len(events) <= MAX_RESULTS:
            return events, False
        step = len(events) / MAX_RESULTS
        return [events[int(i * step)] for i in range(MAX_RESULTS)], True


def _check_names(params: dict[str, Any], groups: int) -> None:
    names, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
    if names and prefixes:
        raise errors.invalid(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters."
        )
    if (names or prefixes) and groups != 1:
        raise errors.invalid(
            "logStreamNames and logStreamNamePrefixes can be specified only with exactly "
            "one log group."
        )


class LiveTailMixin:
    """Needs ``store``."""

    store: Store

    def _start_live_tail(self) -> None:
        self._sessions: set[Session] = set()

    def _end_live_tails(self) -> None:
        for session in self._sessions:
            session.stopping = True
            session.wake.set()

    def start_live_tail(self, ctx: Any, params: dict[str, Any]) -> Result:
        identifiers = params.get("logGroupIdentifiers") or []
        if not 1 <= len(identifiers) <= MAX_GROUPS:
            raise errors.invalid(f"logGroupIdentifiers must name 1 to {MAX_GROUPS} log groups.")
        for ident in identifiers:
            if ident.endswith("*"):
                raise errors.invalid(f"A log group ARN cannot end with an asterisk (*): {ident}")
            if ident.startswith("arn:") and (ident.count(":") < 6 or ":log-group:" not in ident):
                raise errors.invalid(f"Invalid log group ARN: {ident}")
        _check_names(params, len(identifiers))
        groups: dict[str, str] = {}
        for ident in identifiers:
            name = name_from_identifier(ident)
            if ident.startswith("arn:") and ident.split(":")[4] != ctx.account_id:
                raise errors.not_found(f"The specified log group does not exist: {ident}")
            if self.store.group(ctx.account_id, ctx.region, name) is None:
                raise errors.not_found(f"The specified log group does not exist: {ident}")
            groups[name] = f"{ctx.account_id}:{name}"
        try:
            pattern = compile_pattern(params.get("logEventFilterPattern"))
        except ServiceError as exc:
            raise errors.invalid(exc.message) from None
        open_here = [
            s for s in self._sessions if (s.account, s.region) == (ctx.account_id, ctx.region)
        ]
        if len(open_here) >= MAX_SESSIONS:
            raise errors.limit_exceeded(
                f"The account has {len(open_here)} Live Tail sessions open, the most it can have."
            )
        names, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
        session = Session(
            id=new_uuid(),
            account=ctx.account_id,
            region=ctx.region,
            groups=groups,
            streams=frozenset(names) if names else None,
            prefixes=tuple(prefixes) if prefixes else None,
            pattern=pattern,
        )
        self._sessions.add(session)
        start: Result = {
            "requestId": ctx.request_id,
            "sessionId": session.id,
            "logGroupIdentifiers": list(identifiers),
            "logEventFilterPattern": params.get("logEventFilterPattern") or "",
        }
        if names:
            start["logStreamNames"] = list(names)
        if prefixes:
            start["logStreamNamePrefixes"] = list(prefixes)
        return {"responseStream": self._live(session, start)}

    async def _live(self, session: Session, start: Result) -> AsyncIterator[Result]:
        loop = asyncio.get_running_loop()
        end = loop.time() + SESSION_SECONDS
        try:
            yield {"sessionStart": start}
            while True:
                left = end - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.wake.wait(), min(UPDATE_SECONDS, max(left, 0)))
                if session.stopping:
                    return
                if loop.time() >= end:
                    raise StreamError(
                        "SessionTimeoutException",
                        f"The Live Tail session {session.id} timed out after "
                        f"{SESSION_SECONDS:g} seconds.",
                    )
                results, sampled = session.take()
                yield {
                    "sessionUpdate": {
                        "sessionMetadata": {"sampled": sampled},
                        "sessionResults": results,
                    }
                }
        except (StreamError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception:  # noqa: BLE001 - the stream ends with AWS's exception event
            log.exception("live tail session %s failed", session.id)
            raise StreamError(
                "SessionStreamingException", "The Live Tail session failed on the server."
            ) from None
        finally:
            self._sessions.discard(session)

    def _tail(
        self, ctx: Any, group: Row, stream: Row, events: list[tuple[int, int, str]], ingest: int
    ) -> None:
        """Hand a stored batch to the open sessions that watch its stream."""
        for session in self._sessions:
            if not session.wants(ctx.account_id, ctx.region, group["name"], stream["name"]):
                continue
            ident = session.groups[group["name"]]
            for _rid, ts, message in events:
                if session.pattern.matches(message):
                    session.buffer.append(
                        {
                            "logStreamName": stream["name"],
                            "logGroupIdentifier": ident,
                            "message": message,
                            "timestamp": ts,
                            "ingestionTime": ingest,
                        }
                    )
