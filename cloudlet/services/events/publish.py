"""PutEvents, the internal PutServiceEvents, and matching events to rules.

PutEvents checks each entry as AWS does and reports each outcome in order: an entry
without ``Source``, ``DetailType`` or ``Detail`` fails with ``InvalidArgument``, a
``Detail`` that is not a JSON object with ``MalformedDetail``, a source of AWS's own
(``aws.*``) with ``NotAuthorizedForSourceException``; more than 10 entries, or entries
over 256 KB together (AWS's size rule: the UTF-8 bytes of source, detail type, detail
and resources, and 14 for a ``Time``), refuse the whole call. An accepted entry
becomes the envelope AWS delivers::

    {"version": "0", "id", "detail-type", "source", "account", "time", "region",
     "resources", "detail"}

and is kept in each archive of its bus whose pattern it matches (``archives.py``), then
matched against every enabled rule of its bus with a pattern; each match's targets are
sent it after the response (``delivery.py``). An entry for a bus that does
not exist is accepted and goes nowhere, as on AWS.

``put_service_events`` is how another cloudlet service (S3's EventBridge notifications)
puts an AWS service's event (``aws.s3`` ...) on an account's default bus: not a
botocore operation, so no client can call it, and the ``aws.`` rule does not apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation
from cloudlet.core.ids import fast_uuid
from cloudlet.services.events import errors
from cloudlet.services.events.common import BUS_ARN, bus_ref, epoch, event_time
from cloudlet.services.events.delivery import Deliverer
from cloudlet.services.events.patterns import compiled, matches
from cloudlet.services.events.rules import enabled
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
MAX_ENTRIES = 10
MAX_SIZE = 256 * 1024


def envelope(
    account: str,
    region: str,
    source: str,
    detail_type: str,
    detail: Any,
    resources: list[str],
    when: float,
) -> Doc:
    """An event as EventBridge delivers it, its keys in AWS's order."""
    return {
        "version": "0",
        "id": fast_uuid(),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": event_time(when),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }


def entry_size(entry: dict[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len((entry.get(key) or "").encode())
    return size + sum(len(r.encode()) for r in entry.get("Resources") or [])


def _failure(code: str, message: str) -> Result:
    return {"ErrorCode": code, "ErrorMessage": message}


def _entry_error(entry: dict[str, Any]) -> Result | None:
    for key in ("Source", "DetailType", "Detail"):
        if not entry.get(key):
            return _failure(
                "InvalidArgument",
                f"Parameter {key} is not valid. Reason: {key} is a required argument.",
            )
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return _failure("MalformedDetail", "Detail is malformed.")
    if entry["Source"].startswith("aws."):
        return _failure("NotAuthorizedForSourceException", "Not authorized for the source.")
    return None


def _when(value: Any) -> float:
    return clock.time() if value is None else epoch(value)


class PublishHandlers:
    store: EventsStore
    delivery: Deliverer
    _archive: Callable[[Doc, Doc], None]
    """``ArchiveHandlers._archive``: keep an event in the archives of its bus."""

    def put_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        entries = params["Entries"]
        if not 1 <= len(entries) <= MAX_ENTRIES:
            raise errors.constraint(
                "[...]", "entries", f"Member must have length less than or equal to {MAX_ENTRIES}"
            )
        if params.get("EndpointId"):
            raise NotImplementedOperation("events", "PutEvents through a global endpoint")
        if sum(entry_size(e) for e in entries) > MAX_SIZE:
            raise errors.validation("Total size of the entries in the request is over the limit.")
        out: list[Result] = []
        for n, entry in enumerate(entries, 1):
            failure = _entry_error(entry)
            if failure is not None:
                out.append(failure)
                continue
            account, region, name = bus_ref(
                ctx, entry.get("EventBusName"), f"entries.{n}.member.eventBusName"
            )
            event = envelope(
                ctx.account_id,
                region,
                entry["Source"],
                entry["DetailType"],
                json.loads(entry["Detail"]),
                entry.get("Resources") or [],
                _when(entry.get("Time")),
            )
            bus = self.store.bus(account, region, name)
            if bus is not None:
                self._dispatch(bus, event)
            out.append({"EventId": event["id"]})
        failed = sum(1 for e in out if "ErrorCode" in e)
        return {"FailedEntryCount": failed, "Entries": out}

    def put_service_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Internal: ``Entries`` of ``source``, ``detail-type``, ``detail`` (a dict),
        ``resources`` and ``time`` (epoch seconds or ISO text, default now), put on the
        default bus of the caller's account and region (or ``EventBusName``)."""
        out: list[Result] = []
        for entry in params.get("Entries") or []:
            account, region, name = bus_ref(ctx, entry.get("EventBusName"))
            event = envelope(
                account,
                region,
                entry["source"],
                entry["detail-type"],
                entry.get("detail") or {},
                entry.get("resources") or [],
                _when(entry.get("time")),
            )
            bus = self.store.bus(account, region, name)
            if bus is not None:
                self._dispatch(bus, event)
            out.append({"EventId": event["id"]})
        return {"FailedEntryCount": 0, "Entries": out}

    def _dispatch(
        self, bus: Doc, event: Doc, hops: int = 0, only: frozenset[str] | None = None
    ) -> int:
        """Keep ``event`` in the archives of ``bus`` (a replayed one, which carries
        ``replay-name``, is not archived again, as on AWS), then send it to the targets
        of every enabled rule of ``bus`` it matches (of those ``only`` names, when a
        replay names some); the number of rules matched."""
        if "replay-name" not in event:
            self._archive(bus, event)
        matched = 0
        for rule in list(self.store.rules.get(bus["Arn"], {}).values()):
            if only is not None and rule["Arn"] not in only:
                continue
            pattern = rule.get("EventPattern")
            if not pattern or not enabled(rule) or not matches(compiled(pattern), event):
                continue
            matched += 1
            for target in rule["Targets"]:
                self.delivery.send(rule, target, event, hops)
        return matched

    def _forward(self, arn: str, event: Doc, hops: int) -> None:
        """An event bus target: the event, as it is, on the bus ``arn`` names."""
        m = BUS_ARN.fullmatch(arn)
        if m is None:
            raise errors.validation(f"Parameter {arn} is not valid.")
        region, account, name = m.groups()
        bus = self.store.bus(account, region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        self._dispatch(bus, event, hops)
