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
not exist is accepted and goes nowhere, as on AWS. In strict mode, entries for another
account's bus are refused as a whole (``AccessDeniedException``) unless that bus's
policy lets the caller's account (or the caller) put events there
(``permissions.py``); an event bus target in another account is put there only when its
policy allows the rule's account or the target's role, in every mode.

``put_service_events`` is how another cloudlet service (S3's EventBridge notifications)
puts an AWS service's event (``aws.s3`` ...) on an account's default bus: not a
botocore operation, so no client can call it, and the ``aws.`` rule does not apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.base import ServiceEnv
from cloudlet.services.events import errors
from cloudlet.services.events.common import BUS_ARN, bus_arn, bus_ref, epoch, event_time
from cloudlet.services.events.delivery import SESSION, Deliverer
from cloudlet.services.events.patterns import compiled, matches
from cloudlet.services.events.permissions import PUT_EVENTS, bus_grants, denied
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
    env: ServiceEnv
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
        self._check_cross_account(ctx, entries)
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

    def _check_cross_account(self, ctx: Any, entries: list[dict[str, Any]]) -> None:
        """Strict mode: refuse the call when an entry names another account's bus whose
        policy does not let the caller put events on it (checked before any is put)."""
        credentials = self.env.credentials
        principal = getattr(ctx, "principal", None)
        if credentials is None or not getattr(credentials, "strict", False) or principal is None:
            return
        for entry in entries:
            try:
                account, region, name = bus_ref(ctx, entry.get("EventBusName"))
            except ServiceError:
                continue  # refused entry by entry below
            if account == ctx.account_id:
                continue
            arn = bus_arn(region, account, name)
            bus = self.store.buses.get(arn)
            role = principal.arn if principal.kind == "assumed-role" else None
            if role is not None:  # the role's ARN, as resource policies name roles
                _, _, path = role.partition(":assumed-role/")
                role = f"arn:aws:iam::{principal.account_id}:role/{path.split('/')[0]}"
            text = (bus or {}).get("Policy")
            if not bus_grants(text, arn, principal.account_id, principal.arn, role):
                raise denied(principal.arn, arn)

    def _forward(self, rule: Doc, target: Doc, event: Doc, hops: int) -> None:
        """An event bus target: the event, as it is, on the bus the target names; another
        account's bus only as far as its policy lets the rule's account (or the target's
        role, which strict mode also holds to its own policies) put events there."""
        arn = target["Arn"]
        m = BUS_ARN.fullmatch(arn)
        if m is None:
            raise errors.validation(f"Parameter {arn} is not valid.")
        region, account, name = m.groups()
        bus = self.store.bus(account, region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        sender = rule["Arn"].split(":")[4]
        role = target.get("RoleArn")
        session = None
        if role:  # EventBridge puts the event as the role, of the role's account
            parts = role.split(":")
            sender = parts[4] if len(parts) > 5 and parts[4] else sender
            session = f"arn:aws:sts::{sender}:assumed-role/{role.rsplit('/', 1)[-1]}/{SESSION}"
        if account != sender:
            if not bus_grants(bus.get("Policy"), arn, sender, session, role):
                raise denied(session or f"arn:aws:iam::{sender}:root", arn)
            if role and not self.env.role_may(role, (PUT_EVENTS,), arn, session=SESSION):
                raise ServiceError(
                    "AccessDeniedException", f"the role {role} may not {PUT_EVENTS} on {arn}", 403
                )
        self._dispatch(bus, event, hops)
