"""Event bus operations: Create/Describe/List/Update/DeleteEventBus, and tags of buses
and rules (TagResource, UntagResource, ListTagsForResource).

The ``default`` bus exists in every account and region and cannot be created or
deleted; custom buses are named without ``/`` (names with one are partner buses, fed
by partner event sources, which cloudlet has none of). Deleting a bus deletes its
rules. A bus's policy (``Policy``, shown by Describe/ListEventBuses) is PutPermission's
(``permissions.py``); partner sources are not built (501).
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.events import errors
from cloudlet.services.events.common import (
    BUS_ARN,
    DEFAULT_BUS,
    RULE_ARN,
    bus_arn,
    bus_ref,
    check_length,
    page,
    tag_list,
    tag_map,
)
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
MAX_BUSES = 100
MAX_TAGS = 50


def bus_view(bus: Doc) -> Result:
    out: Result = {"Name": bus["Name"], "Arn": bus["Arn"]}
    for key in ("Description", "DeadLetterConfig", "Policy"):
        if bus.get(key):
            out[key] = bus[key]
    out["CreationTime"] = bus["CreationTime"]
    out["LastModifiedTime"] = bus["LastModifiedTime"]
    return out


class BusHandlers:
    store: EventsStore

    def _bus(self, ctx: Any, name_or_arn: str | None, member: str = "eventBusName") -> Doc:
        account, region, name = bus_ref(ctx, name_or_arn, member)
        bus = self.store.bus(account, region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        return bus

    def create_event_bus(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["Name"]
        bus_ref(ctx, name, "name")
        check_length(params.get("Description"), "description", 512)
        if "/" in name:
            if params.get("EventSourceName"):
                raise errors.not_found(f"Event source {params['EventSourceName']} does not exist.")
            raise errors.validation("Event bus name must not contain '/'.")
        if params.get("EventSourceName"):
            raise errors.validation(
                "Parameter EventSourceName is not valid. Reason: a partner event bus is named "
                "after its event source."
            )
        if self.store.bus(ctx.account_id, ctx.region, name) is not None:
            raise errors.already_exists(f"Event bus {name} already exists.")
        if len(self.store.buses_of(ctx.account_id, ctx.region)) >= MAX_BUSES:
            raise errors.limit_exceeded()
        now = clock.time()
        bus: Doc = {
            "Name": name,
            "Arn": bus_arn(ctx.region, ctx.account_id, name),
            "Account": ctx.account_id,
            "Region": ctx.region,
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tags": _checked_tags(params.get("Tags")),
        }
        for key in ("Description", "DeadLetterConfig", "KmsKeyIdentifier"):
            if params.get(key):
                bus[key] = params[key]
        self.store.save_bus(bus)
        out: Result = {"EventBusArn": bus["Arn"]}
        for key in ("Description", "DeadLetterConfig", "KmsKeyIdentifier"):
            if bus.get(key):
                out[key] = bus[key]
        return out

    def describe_event_bus(self, ctx: Any, params: dict[str, Any]) -> Result:
        return bus_view(self._bus(ctx, params.get("Name"), "name"))

    def list_event_buses(self, ctx: Any, params: dict[str, Any]) -> Result:
        prefix = params.get("NamePrefix") or ""
        buses = [
            b
            for b in self.store.buses_of(ctx.account_id, ctx.region)
            if b["Name"].startswith(prefix)
        ]
        shown, token = page(buses, params)
        out: Result = {"EventBuses": [bus_view(b) for b in shown]}
        if token:
            out["NextToken"] = token
        return out

    def update_event_bus(self, ctx: Any, params: dict[str, Any]) -> Result:
        bus = self._bus(ctx, params.get("Name"), "name")
        check_length(params.get("Description"), "description", 512)
        for key in ("Description", "DeadLetterConfig", "KmsKeyIdentifier"):
            if key in params:
                bus[key] = params[key]
        bus["LastModifiedTime"] = clock.time()
        self.store.save_bus(bus)
        out: Result = {"Arn": bus["Arn"], "Name": bus["Name"]}
        for key in ("Description", "DeadLetterConfig", "KmsKeyIdentifier"):
            if bus.get(key):
                out[key] = bus[key]
        return out

    def delete_event_bus(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Deleting a bus that does not exist succeeds, as on AWS."""
        account, region, name = bus_ref(ctx, params["Name"], "name")
        if name == DEFAULT_BUS:
            raise errors.validation("Cannot delete event bus default.")
        bus = self.store.bus(account, region, name)
        if bus is not None:
            self.store.delete_bus(bus)
        return {}

    # -- tags of buses and rules --------------------------------------------------------

    def _tagged(self, ctx: Any, arn: str) -> Doc:
        """The bus or rule ``arn`` names; AWS's not-found error for either."""
        m = BUS_ARN.fullmatch(arn)
        if m is not None:
            return self._bus(ctx, arn)
        m = RULE_ARN.fullmatch(arn)
        if m is None:
            raise errors.validation(f"Parameter ResourceARN is not valid. Reason: {arn}")
        region, account, path = m.groups()
        bus_name, _, name = path.rpartition("/")
        bus = self.store.bus(account, region, bus_name or DEFAULT_BUS)
        if bus is None:
            raise errors.bus_not_found(bus_name)
        rule = self.store.rule(bus, name)
        if rule is None:
            raise errors.rule_not_found(name, bus["Name"])
        return rule

    def _save_tagged(self, doc: Doc) -> None:
        if "BusArn" in doc:
            self.store.save_rule(doc)
        else:
            self.store.save_bus(doc)

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged(ctx, params["ResourceARN"])
        tags = {**doc.get("Tags", {}), **_checked_tags(params["Tags"])}
        if len(tags) > MAX_TAGS:
            raise errors.limit_exceeded()
        doc["Tags"] = tags
        self._save_tagged(doc)
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged(ctx, params["ResourceARN"])
        gone = set(params["TagKeys"])
        doc["Tags"] = {k: v for k, v in doc.get("Tags", {}).items() if k not in gone}
        self._save_tagged(doc)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"Tags": tag_list(self._tagged(ctx, params["ResourceARN"]).get("Tags", {}))}


def _checked_tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """Tags as a map, checked against the model's lengths and AWS's limit of 50."""
    for n, tag in enumerate(tags or [], 1):
        check_length(tag["Key"], f"tags.{n}.member.key", 128)
        check_length(tag.get("Value"), f"tags.{n}.member.value", 256)
        if not tag["Key"]:
            raise errors.constraint(
                "", f"tags.{n}.member.key", "Member must have length greater than or equal to 1"
            )
    out = tag_map(tags)
    if len(out) > MAX_TAGS:
        raise errors.limit_exceeded()
    return out
