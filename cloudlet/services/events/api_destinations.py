"""API destination operations: Create/Describe/List/Update/DeleteApiDestination.

An API destination is an HTTP endpoint a rule's target invokes (``http_target.py``):
its ``InvocationEndpoint`` (``*`` in its path stands for a target's
``PathParameterValues``), ``HttpMethod`` (any but CONNECT and TRACE), the connection
that authorizes it, and ``InvocationRateLimitPerSecond`` (default 300, AWS's default
quota per destination, so more is refused with ``LimitExceededException``). AWS takes
HTTPS endpoints only; cloudlet also takes ``http://`` to a loopback host
(``common.endpoint_ok``). Its ``ApiDestinationState`` follows its connection:
``ACTIVE``, or ``INACTIVE`` while the connection is de-authorized or deleted. At most
3,000 per account and Region (AWS's quota). Errors carry AWS's "Failed to <action> the
api-destination(s)." wording.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.ids import fast_uuid
from cloudlet.services.events import errors
from cloudlet.services.events.common import (
    CONNECTION_ARN,
    api_destination_arn,
    check_length,
    check_rule_name,
    endpoint_ok,
    page,
)
from cloudlet.services.events.http_target import ApiDestinationInvoker
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
MAX_DESTINATIONS = 3000
DEFAULT_RATE = 300
METHODS = ("POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")
INACTIVE_WHEN = ("DEAUTHORIZED", "DEAUTHORIZING", "DELETING")
_SHOWN = (
    "ApiDestinationArn",
    "Name",
    "Description",
    "ApiDestinationState",
    "ConnectionArn",
    "InvocationEndpoint",
    "HttpMethod",
    "InvocationRateLimitPerSecond",
    "CreationTime",
    "LastModifiedTime",
)


def destination_state(store: EventsStore, destination: Doc) -> str:
    connection = store.connections.get(destination["ConnectionArn"])
    if connection is None or connection["ConnectionState"] in INACTIVE_WHEN:
        return "INACTIVE"
    return "ACTIVE"


def destination_view(store: EventsStore, destination: Doc, full: bool = False) -> Result:
    """An API destination as ListApiDestinations (``full``: Describe) shows it."""
    doc = {**destination, "ApiDestinationState": destination_state(store, destination)}
    return {k: doc[k] for k in _SHOWN if doc.get(k) is not None and (full or k != "Description")}


def _summary(store: EventsStore, destination: Doc) -> Result:
    """What Create and UpdateApiDestination answer."""
    return {
        "ApiDestinationArn": destination["ApiDestinationArn"],
        "ApiDestinationState": destination_state(store, destination),
        "CreationTime": destination["CreationTime"],
        "LastModifiedTime": destination["LastModifiedTime"],
    }


def _check(params: dict[str, Any], action: str) -> None:
    """The members Create and UpdateApiDestination share."""
    check_length(params.get("Description"), "description", 512)
    endpoint = params.get("InvocationEndpoint")
    if endpoint is not None and not endpoint_ok(endpoint):
        raise errors.validation(
            f"Failed to {action} the api-destination(s). Parameter InvocationEndpoint is not "
            f"valid. Reason: Endpoint '{endpoint}' is invalid, please provide a valid HTTPS "
            "endpoint URL."
        )
    method = params.get("HttpMethod")
    if method is not None and method not in METHODS:
        raise errors.constraint(
            method, "httpMethod", f"Member must satisfy enum value set: [{', '.join(METHODS)}]"
        )
    rate = params.get("InvocationRateLimitPerSecond")
    if rate is not None and rate < 1:
        raise errors.constraint(
            rate,
            "invocationRateLimitPerSecond",
            "Member must have value greater than or equal to 1",
        )
    if rate is not None and rate > DEFAULT_RATE:
        raise errors.limit_exceeded(
            f"Failed to {action} the api-destination(s). Invalid Invocation Rate Limit: Rate "
            f"specified '{rate}' for '{params['Name']}' exceeds maximum allowed of "
            f"'{DEFAULT_RATE}'."
        )


class ApiDestinationHandlers:
    store: EventsStore
    api_targets: ApiDestinationInvoker

    def _api_destination(self, ctx: Any, name: str, action: str) -> Doc:
        check_rule_name(name, "name", 64)
        found = self.store.api_destination_named(ctx.account_id, ctx.region, name)
        if found is None:
            raise errors.not_found(
                f"Failed to {action} the api-destination(s). An api-destination '{name}' "
                "does not exist."
            )
        return found

    def _destination_connection(self, ctx: Any, arn: str, action: str) -> Doc:
        """The caller's connection ``arn`` names, or AWS's not-found error."""
        if not CONNECTION_ARN.fullmatch(arn):
            raise errors.constraint(
                arn,
                "connectionArn",
                r"Member must satisfy regular expression pattern: ^arn:aws([a-z]|\-)*:events:"
                r"([a-z]|\d|\-)*:([0-9]{12})?:connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$",
            )
        found = self.store.connections.get(arn)
        region, account = arn.split(":")[3:5]
        if found is None or (region, account) != (ctx.region, ctx.account_id):
            raise errors.not_found(
                f"Failed to {action} the api-destination(s). Connection '{arn}' does not exist."
            )
        return found

    def create_api_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["Name"]
        check_rule_name(name, "name", 64)
        _check(params, "create")
        if self.store.api_destination_named(ctx.account_id, ctx.region, name) is not None:
            raise errors.already_exists(
                f"Failed to create the api-destination(s). An api-destination with name "
                f"'{name}' already exists."
            )
        self._destination_connection(ctx, params["ConnectionArn"], "create")
        start = api_destination_arn(ctx.region, ctx.account_id, "", "")[:-1]
        if sum(a.startswith(start) for a in self.store.api_destinations) >= MAX_DESTINATIONS:
            raise errors.limit_exceeded()
        now = clock.time()
        destination: Doc = {
            "Name": name,
            "ApiDestinationArn": api_destination_arn(ctx.region, ctx.account_id, name, fast_uuid()),
            "ConnectionArn": params["ConnectionArn"],
            "InvocationEndpoint": params["InvocationEndpoint"],
            "HttpMethod": params["HttpMethod"],
            "InvocationRateLimitPerSecond": params.get("InvocationRateLimitPerSecond")
            or DEFAULT_RATE,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if params.get("Description"):
            destination["Description"] = params["Description"]
        self.store.save_api_destination(destination)
        return _summary(self.store, destination)

    def describe_api_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        found = self._api_destination(ctx, params["Name"], "describe")
        return destination_view(self.store, found, True)

    def list_api_destinations(self, ctx: Any, params: dict[str, Any]) -> Result:
        prefix, connection = params.get("NamePrefix") or "", params.get("ConnectionArn")
        start = api_destination_arn(ctx.region, ctx.account_id, "", "")[:-1]
        mine = sorted(
            (
                d
                for arn, d in self.store.api_destinations.items()
                if arn.startswith(start)
                and d["Name"].startswith(prefix)
                and connection in (None, d["ConnectionArn"])
            ),
            key=lambda d: d["Name"],
        )
        shown, token = page(mine, params)
        out: Result = {"ApiDestinations": [destination_view(self.store, d) for d in shown]}
        if token:
            out["NextToken"] = token
        return out

    def update_api_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        destination = self._api_destination(ctx, params["Name"], "update")
        _check(params, "update")
        if params.get("ConnectionArn"):
            self._destination_connection(ctx, params["ConnectionArn"], "update")
        for key in (
            "Description",
            "ConnectionArn",
            "InvocationEndpoint",
            "HttpMethod",
            "InvocationRateLimitPerSecond",
        ):
            if params.get(key) is not None:
                destination[key] = params[key]
        destination["LastModifiedTime"] = clock.time()
        self.store.save_api_destination(destination)
        return _summary(self.store, destination)

    def delete_api_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        destination = self._api_destination(ctx, params["Name"], "delete")
        self.store.delete_api_destination(destination)
        self.api_targets.forget(destination["ApiDestinationArn"])
        return {}
