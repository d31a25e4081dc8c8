"""Listener rules: does a request match a rule's conditions, and what its actions say.

Conditions are AWS's: ``path-pattern`` (case-sensitive glob with ``*`` and
``?`` on the path), ``host-header`` (case-insensitive glob), ``http-header``,
``query-string`` (key/value globs), ``http-request-method`` and
``source-ip`` (CIDRs). Values of one condition are alternatives; all
conditions of a rule must match. Rules are tried by priority, the listener's
default rule last. Redirects fill in AWS's ``#{host}``, ``#{path}``,
``#{port}``, ``#{protocol}`` and ``#{query}`` placeholders.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import Any
from urllib.parse import parse_qsl

from cloudlet.services.elbv2.proxy import Reply, Request

Doc = dict[str, Any]


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    regex = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


def _values(cond: Doc, config: str, key: str = "Values") -> list:
    return (cond.get(config) or {}).get(key) or cond.get("Values") or []


def condition_matches(cond: Doc, req: Request) -> bool:
    field = cond.get("Field")
    if field == "path-pattern":
        return any(_glob(p, req.path, case=True) for p in _values(cond, "PathPatternConfig"))
    if field == "host-header":
        return any(_glob(p, req.host, case=False) for p in _values(cond, "HostHeaderConfig"))
    if field == "http-header":
        config = cond.get("HttpHeaderConfig") or {}
        value = req.header(config.get("HttpHeaderName", ""))
        return value is not None and any(
            _glob(p, value, case=False) for p in config.get("Values") or []
        )
    if field == "http-request-method":
        methods = _values(cond, "HttpRequestMethodConfig")
        return req.method in methods
    if field == "query-string":
        pairs = parse_qsl(req.query, keep_blank_values=True)
        for want in (cond.get("QueryStringConfig") or {}).get("Values") or []:
            for key, value in pairs:
                if ("Key" not in want or _glob(want["Key"], key, case=False)) and _glob(
                    want.get("Value", "*"), value, case=False
                ):
                    return True
        return False
    if field == "source-ip":
        try:
            ip = ipaddress.ip_address(req.client_ip)
        except ValueError:
            return False
        return any(
            ip in ipaddress.ip_network(c, strict=False) for c in _values(cond, "SourceIpConfig")
        )
    return False


def rule_matches(rule: Doc, req: Request) -> bool:
    return all(condition_matches(c, req) for c in rule.get("Conditions") or [])


def redirect(config: Doc, req: Request, port: int) -> Reply:
    values = {
        "protocol": req.scheme,
        "host": req.host,
        "port": str(port),
        "path": req.path.lstrip("/"),
        "query": req.query,
    }

    def fill(text: str) -> str:
        return re.sub(r"#\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)

    protocol = fill(config.get("Protocol", "#{protocol}")).lower()
    host = fill(config.get("Host", "#{host}"))
    out_port = fill(config.get("Port", "#{port}"))
    path = fill(config.get("Path", "/#{path}"))
    query = fill(config.get("Query", "#{query}"))
    default = {"http": "80", "https": "443"}.get(protocol)
    location = f"{protocol}://{host}" + ("" if out_port == default else f":{out_port}") + path
    if query:
        location += f"?{query}"
    status = 301 if config.get("StatusCode") == "HTTP_301" else 302
    return Reply(status, [("Location", location)])


def fixed(config: Doc) -> Reply:
    body = (config.get("MessageBody") or "").encode()
    headers = [("Content-Type", config.get("ContentType") or "text/plain; charset=utf-8")]
    return Reply(int(config.get("StatusCode", "200")), headers, body)


def forward_groups(action: Doc) -> list[tuple[str, int]]:
    """(target group ARN, weight) pairs of a forward action."""
    config = action.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if groups:
        return [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
    return [(action["TargetGroupArn"], 1)] if action.get("TargetGroupArn") else []


def group_stickiness(action: Doc) -> int | None:
    """A forward's ``TargetGroupStickinessConfig`` duration when enabled, else None."""
    config = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
    if not config.get("Enabled"):
        return None
    return int(config.get("DurationSeconds") or 0) or None
