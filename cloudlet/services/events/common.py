"""ARNs, names, endpoints, paging and times, as every EventBridge operation group uses
them.

A bus is named by its name or its ARN (``arn:aws:events:<region>:<account>:event-bus/
<name>``); a rule's ARN is ``rule/<name>`` on the default bus and ``rule/<bus>/<name>``
on a custom one; archives and replays are ``archive/<name>`` and ``replay/<name>``;
connections and API destinations are ``connection/<name>/<uuid>`` and
``api-destination/<name>/<uuid>`` (a new uuid each time one is created, so a deleted
and re-created one is another resource). Names are checked against the model's patterns
here, since the codec only checks that required members are present.

An HTTP endpoint (an API destination's, an OAuth authorization endpoint) must be HTTPS,
as AWS requires; cloudlet also takes ``http://`` to a loopback host (``localhost``,
127.0.0.0/8, ``::1``), where its users run the servers they test against.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cloudlet.core.http_client import is_loopback
from cloudlet.services.events import errors

DEFAULT_BUS = "default"
RULE_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
BUS_NAME = re.compile(r"[/\.\-_A-Za-z0-9]+")
BUS_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z]+-[a-z]+-[\w-]+):([0-9]{12}):event-bus/(.+)")
RULE_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z]+-[a-z]+-[\w-]+):([0-9]{12}):rule/(.+)")
ARCHIVE_ARN = re.compile(
    r"arn:aws[\w-]*:events:([a-z]+-[a-z]+-[\w-]+):([0-9]{12}):archive/([\.\-_A-Za-z0-9]+)"
)
CONNECTION_ARN = re.compile(
    r"arn:aws[a-z\-]*:events:([a-z0-9\-]*):([0-9]{12})?:connection/"
    r"([\.\-_A-Za-z0-9]+)/[\-A-Za-z0-9]+"
)
API_DESTINATION_ARN = re.compile(
    r"arn:aws[a-z\-]*:events:([a-z0-9\-]*):([0-9]{12})?:api-destination/"
    r"([\.\-_A-Za-z0-9]+)/[\-A-Za-z0-9]+"
)
_ENDPOINT = re.compile(r"((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@&=+$,A-Za-z0-9])+)([).!';/?:,])?")


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def rule_arn(region: str, account: str, bus: str, name: str) -> str:
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def archive_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:archive/{name}"


def replay_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:replay/{name}"


def connection_arn(region: str, account: str, name: str, uid: str) -> str:
    return f"arn:aws:events:{region}:{account}:connection/{name}/{uid}"


def api_destination_arn(region: str, account: str, name: str, uid: str) -> str:
    return f"arn:aws:events:{region}:{account}:api-destination/{name}/{uid}"


def endpoint_url(value: str) -> str:
    """An endpoint as it is called: one given without a scheme is HTTPS."""
    return value if "://" in value else f"https://{value}"


def endpoint_ok(value: str) -> bool:
    """Whether ``value`` is an endpoint EventBridge (and cloudlet) calls: the model's
    pattern, HTTPS (or HTTP to a loopback host), a host, no user or fragment."""
    if len(value) > 2048 or not _ENDPOINT.fullmatch(value):
        return False
    try:
        parts = urlsplit(endpoint_url(value))
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    host = parts.hostname or ""
    if not host or "*" in host or parts.username is not None or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))


def bus_ref(ctx: Any, value: str | None, member: str = "eventBusName") -> tuple[str, str, str]:
    """(account, region, name) of the bus ``value`` names (a name or an ARN; None: the
    default bus of the caller's account and region)."""
    if not value:
        return ctx.account_id, ctx.region, DEFAULT_BUS
    m = BUS_ARN.fullmatch(value)
    if m is not None:
        return m.group(2), m.group(1), m.group(3)
    if len(value) > 256 or not BUS_NAME.fullmatch(value):
        raise errors.constraint(
            value,
            member,
            "Member must satisfy regular expression pattern: "
            r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?"
            r"[/\.\-_A-Za-z0-9]+",
        )
    return ctx.account_id, ctx.region, value


def check_rule_name(name: str, member: str = "name", most: int = 64) -> None:
    """A rule's (archive's, replay's) name: ``most`` characters of ``[.-_A-Za-z0-9]``."""
    if len(name) > most:
        raise errors.constraint(
            name, member, f"Member must have length less than or equal to {most}"
        )
    if not RULE_NAME.fullmatch(name):
        raise errors.constraint(
            name, member, r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
        )


def check_length(value: str | None, member: str, most: int) -> None:
    if value is not None and len(value) > most:
        raise errors.constraint(
            value, member, f"Member must have length less than or equal to {most}"
        )


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of ``items`` (sorted by the caller) from ``NextToken``, ``Limit`` long
    (1 to 100; AWS's page when none is asked is as long as there are items, up to 100)."""
    limit = params.get("Limit")
    if limit is not None and not 1 <= limit <= 100:
        raise errors.constraint(limit, "limit", "Member must have value between 1 and 100")
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise errors.bad_token() from None
        if not 0 <= start <= len(items):
            raise errors.bad_token()
    end = start + (limit or 100)
    nxt = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], nxt


def filtered_page(
    operation: str,
    params: dict[str, Any],
    docs: dict[str, dict[str, Any]],
    arn_prefix: str,
    name_key: str,
    states: tuple[str, ...],
) -> tuple[list[dict[str, Any]], str | None]:
    """ListArchives' and ListReplays' page: the caller's ``docs`` (by ARN) under at most
    one of ``NamePrefix``, ``EventSourceArn`` and ``State``, with AWS's refusals."""
    prefix, source, state = (params.get(k) for k in ("NamePrefix", "EventSourceArn", "State"))
    if sum(v is not None for v in (prefix, source, state)) > 1:
        raise errors.validation(
            f"At most one filter is allowed for {operation}. "
            "Use either : State, EventSourceArn, or NamePrefix."
        )
    if state is not None and state not in states:
        raise errors.constraint(
            state, "state", f"Member must satisfy enum value set: [{', '.join(states)}]"
        )
    mine = [
        doc
        for arn, doc in sorted(docs.items())
        if arn.startswith(arn_prefix)
        and doc[name_key].startswith(prefix or "")
        and source in (None, doc["EventSourceArn"])
        and state in (None, doc["State"])
    ]
    return page(mine, params)


def epoch(value: Any) -> float:
    """Epoch seconds of a request's timestamp (a datetime, a number or ISO text)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


def event_seconds(event: dict[str, Any]) -> float:
    """An envelope's ``time`` back as epoch seconds."""
    return datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def event_time(seconds: float) -> str:
    """An event's ``time``: whole seconds in UTC (``2024-05-01T12:00:00Z``), as AWS's."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
