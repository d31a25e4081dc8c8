"""Amazon EventBridge operations (botocore model ``events``, json 1.1).

One method per operation, named as botocore names it, split by operation group into
mixins: ``buses`` (event buses, tags), ``rules`` (rules, TestEventPattern),
``targets`` (PutTargets ...), ``publish`` (PutEvents and matching), ``archives``
(archives, and keeping events in them), ``replays`` (replays, run in the background),
``connections`` (connections and their authorization, with ``oauth``),
``api_destinations`` and ``permissions`` (bus policies: PutPermission,
RemovePermission). This class wires the store, the deliverer (with the API
destination invoker, ``http_target``) and the schedule book together and runs the
periodic work: the once-a-second check that fires scheduled rules and the archives'
retention sweep. Everything is durable (the service's own SQLite database) but OAuth
tokens, which are fetched again. What is not built here (global endpoints, partner
sources) has no method, so it answers 501.

``put_service_events`` is internal (``internal_operations``): other services put AWS
service events (S3's ``aws.s3`` notifications) on a default bus through
``ServiceEnv.call``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.events.api_destinations import ApiDestinationHandlers
from cloudlet.services.events.archives import SWEEP_SECONDS, ArchiveHandlers
from cloudlet.services.events.buses import BusHandlers
from cloudlet.services.events.common import bus_arn, bus_ref, rule_arn
from cloudlet.services.events.connections import ConnectionHandlers
from cloudlet.services.events.delivery import Deliverer
from cloudlet.services.events.http_target import ApiDestinationInvoker
from cloudlet.services.events.oauth import OAuthTokens
from cloudlet.services.events.permissions import PermissionHandlers
from cloudlet.services.events.publish import PublishHandlers
from cloudlet.services.events.replays import ReplayHandlers
from cloudlet.services.events.rules import RuleHandlers
from cloudlet.services.events.scheduler import ScheduleBook
from cloudlet.services.events.store import Doc, EventsStore
from cloudlet.services.events.targets import TargetHandlers

SCHEDULE_CHECK = 1.0
"""Seconds between two checks for due scheduled rules (their times are whole minutes)."""
_RULE_OPERATIONS = frozenset(
    (
        "PutRule",
        "DescribeRule",
        "DeleteRule",
        "EnableRule",
        "DisableRule",
        "PutTargets",
        "RemoveTargets",
        "ListTargetsByRule",
    )
)


class EventsService(
    BusHandlers,
    RuleHandlers,
    TargetHandlers,
    PublishHandlers,
    ArchiveHandlers,
    ReplayHandlers,
    ConnectionHandlers,
    ApiDestinationHandlers,
    PermissionHandlers,
    Service,
):
    name = "events"
    internal_operations = frozenset({"put_service_events"})
    """Handlers only other services call (``ServiceEnv.call``): not in botocore's model,
    so no request reaches them."""

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = EventsStore(env.database("events"))
        self.tokens = OAuthTokens(self.store)
        self.api_targets = ApiDestinationInvoker(self.store, self.tokens)
        self.delivery = Deliverer(env, self._forward, self.api_targets.invoke)
        self.schedules = ScheduleBook(self.store, self.delivery.send)
        self.replays = Background()

    async def start(self) -> None:
        self.schedules.load()
        self._interrupted_replays()
        self.tokens.resume()
        self.env.every(SCHEDULE_CHECK, self.schedules.fire_due, "events-schedule")
        self.env.every(SWEEP_SECONDS, self._sweep_archives, "events-archive-retention")

    async def stop(self) -> None:
        await self.replays.stop()
        await self.delivery.stop()
        await self.tokens.stop()
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "buses": len(self.store.buses),
            "rules": len(self.store.all_rules()),
            "scheduled": len(self.schedules.due),
            "archives": len(self.store.archives),
            "replaying": len(self.replays),
            "connections": len(self.store.connections),
            "api_destinations": len(self.store.api_destinations),
        }

    def _schedule_rule(self, rule: Doc) -> None:
        self.schedules.update(rule)

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the rule's ARN for rule and target operations, the bus's for bus
        operations, the permission operations and PutEvents (its first entry's, with the
        bus's policy: ``permissions.py``), the named ARN for tags."""
        if params.get("ResourceARN"):
            return params["ResourceARN"], None
        try:
            if operation in _RULE_OPERATIONS:
                account, region, bus = bus_ref(ctx, params.get("EventBusName"))
                return rule_arn(region, account, bus, params.get("Name") or params["Rule"]), None
            if operation == "PutEvents":
                entries = params.get("Entries") or [{}]
                account, region, bus = bus_ref(ctx, entries[0].get("EventBusName"))
                found = self.store.buses.get(bus_arn(region, account, bus))
                return bus_arn(region, account, bus), (found or {}).get("Policy")
            if "EventBus" in operation:
                account, region, bus = bus_ref(ctx, params.get("Name"))
                return bus_arn(region, account, bus), None
            if operation in ("PutPermission", "RemovePermission"):
                account, region, bus = bus_ref(ctx, params.get("EventBusName"))
                return bus_arn(region, account, bus), None
        except ServiceError:  # a malformed name is the handler's to refuse
            return "*", None
        return "*", None
