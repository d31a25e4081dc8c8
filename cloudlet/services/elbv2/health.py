"""Targets of one target group, their real health checks, and target choice.

A ``TargetPool`` is the live side of a target group: the registered targets
with their health state, one probe task per target while the group is used by
a load balancer, and the choice of a target for a request (round robin or
least outstanding requests; only healthy targets, except that when none is
healthy an application load balancer "fails open" and uses every registered
target, as AWS documents). States and reason codes are AWS's: ``initial``
(``Elb.RegistrationInProgress`` then ``Elb.InitialHealthChecking``),
``healthy``, ``unhealthy`` (``Target.ResponseCodeMismatch``,
``Target.Timeout``, ``Target.FailedHealthChecks``), ``unused``
(``Target.NotInUse``) and ``draining`` (``Target.DeregistrationInProgress``).
A sticky binding holds while its target is ``usable``; ``pick_for`` keeps a
source address on its target (NLB ``source_ip`` stickiness); ``pick_hashed``
chooses a UDP flow's target by the hash of its tuple, and ``carries`` says
whether an open flow may stay where it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.elbv2.tls import target_context

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [{code}]",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
}


@dataclass
class HealthCheck:
    path: str = "/"
    port: str = "traffic-port"
    interval: float = 30.0
    timeout: float = 5.0
    healthy: int = 5
    unhealthy: int = 2
    matcher: str = "200"
    enabled: bool = True
    protocol: str = "HTTP"
    """``HTTP`` and ``HTTPS`` check the status code; ``TCP`` only needs the connection,
    ``SSL`` (classic) a completed TLS handshake."""

    def matches(self, status: int) -> bool:
        for part in self.matcher.split(","):
            low, _, high = part.strip().partition("-")
            if low and int(low) <= status <= int(high or low):
                return True
        return False


@dataclass(eq=False)
class Target:
    id: str
    port: int
    ip: str
    zone: str = "all"
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = None
    ok: int = 0
    failed: int = 0
    outstanding: int = 0
    probe: asyncio.Task | None = None
    drain: asyncio.Task | None = None
    last_code: int = 0

    def describe(self, in_use: bool) -> dict[str, Any]:
        state, reason = self.state, self.reason
        if not in_use and state != "draining":
            state, reason = "unused", "Target.NotInUse"
        out: dict[str, Any] = {"State": state}
        if reason:
            out["Reason"] = reason
            out["Description"] = DESCRIPTIONS.get(reason, "").format(code=self.last_code)
        return out


async def probe(ip: str, port: int, check: HealthCheck) -> tuple[bool, str | None, int]:
    """One HTTP health check: (passed, failure reason, status code)."""
    writer = None
    try:
        async with asyncio.timeout(check.timeout):
            secure = check.protocol in ("HTTPS", "SSL")
            reader, writer = await asyncio.open_connection(
                ip, port, ssl=target_context() if secure else None
            )
            if check.protocol in ("TCP", "SSL"):
                return True, None, 0
            writer.write(
                f"GET {check.path} HTTP/1.1\r\nHost: {ip}:{port}\r\n"
                "User-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            line = await reader.readline()
        parts = line.split()
        status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
        if check.matches(status):
            return True, None, status
        return False, "Target.ResponseCodeMismatch", status
    except TimeoutError:
        return False, "Target.Timeout", 0
    except OSError:
        return False, "Target.FailedHealthChecks", 0
    finally:
        if writer is not None:
            writer.close()


@dataclass(eq=False)
class TargetPool:
    """The live targets of one target group."""

    arn: str
    check: HealthCheck
    algorithm: Callable[[], str] = lambda: "round_robin"
    targets: dict[tuple[str, int], Target] = field(default_factory=dict)
    in_use: bool = False
    fail_open: bool = True
    """ALBs use every target when none is healthy; classic load balancers answer 503."""
    tls: bool = False
    """The targets speak TLS (an HTTPS or TLS target group)."""
    sticky: Any = None
    """The group's ``sticky.Stickiness`` when enabled (read by the proxies)."""
    sources: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Source IP -> target, for ``source_ip`` stickiness (network load balancers)."""
    _turn: int = 0

    def add(self, target_id: str, port: int, ip: str, zone: str = "all") -> None:
        key = (target_id, port)
        old = self.targets.get(key)
        if old is not None and old.state != "draining":
            return
        if old is not None:
            self._stop(old)
        target = Target(target_id, port, ip, zone)
        self.targets[key] = target
        if self.in_use:
            self._watch(target)

    def remove(self, target_id: str, port: int, delay: float) -> None:
        """Deregister: drain for ``delay`` seconds, then forget the target."""
        target = self.targets.get((target_id, port))
        if target is None or target.state == "draining":
            return
        self._stop(target)
        if delay <= 0 or not self.in_use:
            del self.targets[(target_id, port)]
            return
        target.state, target.reason = "draining", "Target.DeregistrationInProgress"
        target.drain = asyncio.get_running_loop().create_task(self._forget(target, delay))

    async def _forget(self, target: Target, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.targets.get((target.id, target.port)) is target:
            del self.targets[(target.id, target.port)]

    def use(self, in_use: bool) -> None:
        """Start or stop health checks as load balancers start or stop using the group."""
        if in_use == self.in_use:
            return
        self.in_use = in_use
        for target in list(self.targets.values()):
            if target.state == "draining":
                continue
            if in_use:
                target.state, target.reason, target.ok, target.failed = (
                    "initial",
                    "Elb.RegistrationInProgress",
                    0,
                    0,
                )
                self._watch(target)
            else:
                self._stop(target)

    def restart_checks(self) -> None:
        """The health check settings changed: probe with the new ones from now on."""
        if self.in_use:
            for target in self.targets.values():
                if target.state != "draining":
                    self._stop(target)
                    self._watch(target)

    def _watch(self, target: Target) -> None:
        target.probe = asyncio.get_running_loop().create_task(
            self._probe_loop(target), name=f"elbv2-health-{target.id}"
        )

    def _stop(self, target: Target) -> None:
        for task in (target.probe, target.drain):
            if task is not None:
                task.cancel()
        target.probe = target.drain = None

    async def _probe_loop(self, target: Target) -> None:
        check = self.check
        while True:
            if check.enabled:
                port = target.port if check.port == "traffic-port" else int(check.port)
                passed, reason, code = await probe(target.ip, port, check)
                self._record(target, passed, reason, code)
            await asyncio.sleep(check.interval)

    def _record(self, target: Target, passed: bool, reason: str | None, code: int) -> None:
        check = self.check
        target.last_code = code
        if passed:
            target.ok, target.failed = target.ok + 1, 0
            if target.state != "healthy" and target.ok >= check.healthy:
                target.state, target.reason = "healthy", None
            elif target.state == "initial":
                target.reason = "Elb.InitialHealthChecking"
        else:
            target.ok, target.failed = 0, target.failed + 1
            if target.state == "unhealthy":
                target.reason = reason
            elif target.failed >= check.unhealthy:
                target.state, target.reason = "unhealthy", reason
            elif target.state == "initial":
                target.reason = "Elb.InitialHealthChecking"

    def pick(self) -> Target | None:
        """The target for the next request, or None when no target is registered."""
        live = [t for t in self.targets.values() if t.state != "draining"]
        healthy = [t for t in live if t.state == "healthy"]
        choices = healthy or (live if self.fail_open else [])
        if not choices:
            return None
        if self.algorithm() == "least_outstanding_requests":
            least = min(t.outstanding for t in choices)
            choices = [t for t in choices if t.outstanding == least]
        self._turn += 1
        return choices[self._turn % len(choices)]

    def usable(self, target: Target) -> bool:
        """Whether a sticky binding to ``target`` still holds: registered and healthy
        (or, failing open, any live target while none is healthy)."""
        if target.state == "healthy":
            return self.targets.get((target.id, target.port)) is target
        if target.state == "draining" or not self.fail_open:
            return False
        return self.healthy_count() == 0 and self.targets.get((target.id, target.port)) is target

    def pick_for(self, source: str) -> Target | None:
        """``source_ip`` stickiness: a client address keeps its target while usable."""
        key = self.sources.get(source)
        target = self.targets.get(key) if key is not None else None
        if target is None or not self.usable(target):
            target = self.pick()
            if target is not None:
                if len(self.sources) >= 65536:
                    self.sources.clear()
                self.sources[source] = (target.id, target.port)
        return target

    def pick_hashed(self, flow: bytes) -> Target | None:
        """The target of a new flow by the hash of its tuple, as an NLB node picks one:
        among healthy targets (all live ones while none is healthy, failing open)."""
        live = [t for t in self.targets.values() if t.state != "draining"]
        choices = [t for t in live if t.state == "healthy"] or (live if self.fail_open else [])
        if not choices:
            return None
        choices.sort(key=lambda t: (t.ip, t.port, t.id))
        digest = hashlib.blake2b(flow, digest_size=8).digest()
        return choices[int.from_bytes(digest) % len(choices)]

    def carries(self, target: Target) -> bool:
        """Whether an open flow stays on ``target``: still registered (draining ones keep
        their flows through the deregistration delay) and not unhealthy while another
        target is healthy."""
        if self.targets.get((target.id, target.port)) is not target:
            return False
        return target.state != "unhealthy" or self.healthy_count() == 0

    def healthy_count(self) -> int:
        return sum(1 for t in self.targets.values() if t.state == "healthy")

    def close(self) -> None:
        for target in self.targets.values():
            self._stop(target)
