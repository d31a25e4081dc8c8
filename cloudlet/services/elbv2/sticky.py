"""Sticky sessions: the cookies that bind a client to one target (or target group).

Why: servers that keep session state in memory need every request of a session
on the same target, and programs written for AWS rely on the load balancer's
own cookies for it. The cookies are AWS's:

- ALB duration-based (``stickiness.type`` ``lb_cookie``): ``AWSALB`` and its
  ``AWSALBCORS`` twin (``SameSite=None; Secure``, for cross-origin requests;
  clients get both), set on every response so the stickiness duration starts
  again with each request.
- ALB application-based (``app_cookie``): ``AWSALBAPP-0``, set when the target's
  response sets the application cookie named in the target group (and renewed
  while the session is sticky); a request sticks only while it carries both.
- Weighted forwards with ``TargetGroupStickinessConfig``: ``AWSALBTG`` and
  ``AWSALBTGCORS`` keep a client on one target group.
- Classic ``AWSELB`` (and ``AWSELBCORS``): an LB-cookie policy inserts it when a
  target is chosen anew and neither renews it nor checks its age (AWS's
  documented behaviour); an app-cookie policy inserts it only when the
  application sets its cookie, with that cookie's lifetime and flags.

The ALB cookies expire after 7 days as AWS's do; the stickiness duration
(``stickiness.*.duration_seconds``, ``DurationSeconds``) is kept inside the
value. Values are opaque: AES-GCM with a key of the load balancer's own, so a
client can neither read nor forge a binding (AWS encrypts with a rotating key;
here the key is fixed for the load balancer's life, so cookies survive
restarts). A binding to a target that is deregistered, draining or unhealthy
is ignored: the request gets a target anew and a new cookie.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloudlet.core.clock import clock
from cloudlet.core.ids import token_hex

COOKIE_AGE = 7 * 86400
"""Expiry of the cookies an ALB generates (AWS's, not configurable)."""
APP_PREFIX = "AWSALBAPP-"
RESERVED = ("AWSALB", "AWSALBAPP", "AWSALBTG")
"""Prefixes an application cookie name may not start with."""
Entries = dict[str, tuple[str, int, int]]
"""group -> (target id, target port, stale after: epoch seconds, 0 never)."""


@dataclass(frozen=True)
class Stickiness:
    kind: str
    """``lb_cookie``, ``app_cookie`` or ``source_ip`` (NLB, chosen in ``TargetPool``)."""
    duration: int = 0
    """Seconds a binding stays valid (ALB), or the classic cookie's MAX-AGE; 0: unlimited."""
    app_cookie: str = ""
    classic: bool = False


def of_target_group(attrs: dict[str, str]) -> Stickiness | None:
    """A target group's stickiness from its attributes (None when disabled)."""
    if attrs.get("stickiness.enabled") != "true":
        return None
    kind = attrs.get("stickiness.type", "lb_cookie")
    if kind == "app_cookie":
        return Stickiness(
            kind,
            int(attrs.get("stickiness.app_cookie.duration_seconds", "86400")),
            attrs.get("stickiness.app_cookie.cookie_name", ""),
        )
    return Stickiness(kind, int(attrs.get("stickiness.lb_cookie.duration_seconds", "86400")))


class Sealer:
    """Encrypts and authenticates cookie values with one load balancer's key."""

    def __init__(self, key_hex: str) -> None:
        self._aead = AESGCM(bytes.fromhex(key_hex))

    @staticmethod
    def new_key() -> str:
        return token_hex(16)

    def seal(self, entries: Entries) -> str:
        text = "\n".join(f"{g}\t{t}\t{p}\t{s}" for g, (t, p, s) in entries.items())
        nonce = bytes.fromhex(token_hex(12))
        raw = nonce + self._aead.encrypt(nonce, text.encode(), None)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def open(self, value: str | None) -> Entries:
        if not value:
            return {}
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            text = self._aead.decrypt(raw[:12], raw[12:], None).decode()
            out: Entries = {}
            for line in text.split("\n"):
                g, t, p, s = line.split("\t")
                out[g] = (t, int(p), int(s))
            return out
        except (ValueError, InvalidTag, binascii.Error):
            return {}  # forged, damaged or another load balancer's: as if absent


def request_cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    jar: dict[str, str] = {}
    for k, v in headers:
        if k.lower() == "cookie":
            for part in v.split(";"):
                name, sep, value = part.strip().partition("=")
                if sep:
                    jar.setdefault(name, value)
    return jar


def _set_cookie(headers: list[tuple[str, str]], name: str) -> list[str] | None:
    """The attributes of the response's ``Set-Cookie`` for ``name`` (None: not set)."""
    for k, v in headers:
        if k.lower() == "set-cookie" and v.split("=", 1)[0].strip() == name:
            return [a.strip() for a in v.split(";")[1:] if a.strip()]
    return None


def _alb_pair(name: str, value: str, now: float) -> list[str]:
    expires = formatdate(now + COOKIE_AGE, usegmt=True)
    return [
        f"{name}={value}; Expires={expires}; Path=/",
        f"{name}CORS={value}; Expires={expires}; Path=/; SameSite=None; Secure",
    ]


class Binding:
    """What stickiness decided for one request; ``cookies`` gives its Set-Cookie values."""

    def __init__(
        self, policy: Stickiness, sealer: Any, entries: Entries, group: str, kept: bool
    ) -> None:
        self.policy, self.sealer, self.entries = policy, sealer, entries
        self.group, self.kept = group, kept
        self.target: tuple[str, int] | None = None

    def cookies(self, response: list[tuple[str, str]], now: float) -> list[str]:
        policy = self.policy
        if self.target is None:
            return []
        if policy.classic:
            return self._classic(response)
        if policy.kind == "app_cookie" and not self.kept:
            if _set_cookie(response, policy.app_cookie) is None:
                return []  # sticky only once the application has its session cookie
        stale = int(now + policy.duration) if policy.duration else 0
        entries = {g: e for g, e in self.entries.items() if not e[2] or e[2] >= now}
        entries[self.group] = (*self.target, stale)
        value = self.sealer.seal(entries)
        if policy.kind == "app_cookie":
            expires = formatdate(now + COOKIE_AGE, usegmt=True)
            return [f"{APP_PREFIX}0={value}; Expires={expires}; Path=/"]
        return _alb_pair("AWSALB", value, now)

    def _classic(self, response: list[tuple[str, str]]) -> list[str]:
        policy = self.policy
        if policy.kind == "app_cookie":
            attrs = _set_cookie(response, policy.app_cookie)
            if attrs is None:
                return []  # AWSELB is inserted only with a new application cookie
            keep = [a for a in attrs if a.split("=", 1)[0].lower() in ("expires", "max-age")]
            flags = [a.upper() for a in attrs if a.lower() in ("secure", "httponly")]
        elif self.kept:
            return []  # duration-based AWSELB is never renewed
        else:
            keep = [f"MAX-AGE={policy.duration}"] if policy.duration else []
            flags = []
        value = self.sealer.seal({self.group: (*self.target, 0)})
        tail = ";".join(["PATH=/", *keep, *flags])
        cors = ";".join(["PATH=/", *keep, *[f for f in flags if f != "SECURE"], "SECURE"])
        return [f"AWSELB={value};{tail}", f"AWSELBCORS={value};{cors};SAMESITE=None"]


def choose(
    policy: Stickiness, pool: Any, headers: list[tuple[str, str]], sealer: Any, group: str
) -> tuple[Any, Binding]:
    """The target for a request under ``policy``: the one its cookie names while it is
    usable, else the pool's next pick."""
    jar = request_cookies(headers)
    if policy.classic:
        value = jar.get("AWSELB") or jar.get("AWSELBCORS")
    elif policy.kind == "app_cookie":
        value = jar.get(f"{APP_PREFIX}0")
    else:
        value = jar.get("AWSALB") or jar.get("AWSALBCORS")
    entries = sealer.open(value)
    target = None
    entry = entries.get(group)
    valid = entry is not None and (policy.classic or not entry[2] or entry[2] >= clock.time())
    if valid and policy.kind == "app_cookie" and policy.app_cookie not in jar:
        valid = False  # the application's cookie expired or was removed
    if valid:
        assert entry is not None
        found = pool.targets.get((entry[0], entry[1]))
        if found is not None and pool.usable(found):
            target = found
    binding = Binding(policy, sealer, entries, group, target is not None)
    if target is None:
        target = pool.pick()
    if target is not None:
        binding.target = (target.id, target.port)
    return target, binding


class GroupBinding:
    """``AWSALBTG``: which target group of a weighted forward a client stays on."""

    def __init__(self, sealer: Any, key: str, group: str, ttl: int) -> None:
        self.sealer, self.key, self.group, self.ttl = sealer, key, group, ttl

    def cookies(self, response: list[tuple[str, str]], now: float) -> list[str]:
        value = self.sealer.seal({self.key: (self.group, 0, int(now + self.ttl))})
        return _alb_pair("AWSALBTG", value, now)


def choose_group(
    headers: list[tuple[str, str]],
    key: str,
    groups: list[tuple[Any, int]],
    ttl: int,
    sealer: Any,
    weighted: Callable[[], Any],
) -> tuple[Any, GroupBinding]:
    """The target group of a sticky weighted forward (rule ``key``): the cookie's while
    it is one of the action's groups with weight and not stale, else a weighted pick."""
    jar = request_cookies(headers)
    entry = sealer.open(jar.get("AWSALBTG") or jar.get("AWSALBTGCORS")).get(key)
    pool = None
    if entry is not None and entry[2] >= clock.time():
        pool = next((p for p, _ in groups if p.arn == entry[0]), None)
    if pool is None:
        pool = weighted()
    return pool, GroupBinding(sealer, key, pool.arn, ttl)
