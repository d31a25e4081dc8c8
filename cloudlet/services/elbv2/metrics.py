"""Load balancer metrics in CloudWatch: ``AWS/ApplicationELB``, ``AWS/NetworkELB``, ``AWS/ELB``.

Why: dashboards and alarms on a load balancer (request rate, latency, 5xx
counts, healthy hosts) are how people watch and scale what sits behind it, so
the figures are counted from the traffic the proxy really carried. The proxy
tells a ``Meter`` of every finished request (``proxy.Meter``); every
``CLOUDLET_ELB_METRICS_INTERVAL`` seconds (default 60, AWS's period for load
balancers) the service takes the tallies and publishes them through the
internal client, with the healthy and unhealthy target counts of every target
group a load balancer uses.

Metric names and dimensions are AWS's:

- ``AWS/ApplicationELB`` (dimensions ``LoadBalancer`` = ``app/<name>/<id>``,
  and ``LoadBalancer`` + ``TargetGroup`` = ``targetgroup/<name>/<id>``):
  RequestCount, TargetResponseTime (seconds, as a statistic set),
  HTTPCode_Target_{2,3,4,5}XX_Count, HTTPCode_ELB_{3,4,5}XX_Count,
  HTTPCode_ELB_{502,503,504}_Count, HealthyHostCount, UnHealthyHostCount.
- ``AWS/NetworkELB`` (``LoadBalancer`` = ``net/<name>/<id>``, and with
  ``AvailabilityZone``): ActiveFlowCount, NewFlowCount, ProcessedBytes,
  TCP_Client_Reset_Count, TCP_Target_Reset_Count, counted per connection by
  the TCP proxy (``Flows``), and TCP_ELB_Reset_Count, the resets the load
  balancer itself sends (two, one to each side, when a flow's idle timeout
  passes: ``tcp.py``); HealthyHostCount and UnHealthyHostCount with
  ``LoadBalancer`` + ``TargetGroup`` (and ``AvailabilityZone``). Every local
  connection goes through one node, so the zone is the load balancer's first.
  ActiveFlowCount is the most flows open at once in the interval.
- ``AWS/ELB`` (dimension ``LoadBalancerName``): RequestCount, Latency,
  HTTPCode_Backend_{2,3,4,5}XX, HTTPCode_ELB_{4,5}XX, HealthyHostCount,
  UnHealthyHostCount.

As in AWS, counts are published only for intervals with traffic; host counts
and ActiveFlowCount every interval.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.elbv2.proxy import Request

log = logging.getLogger(__name__)

INTERVAL_ENV = "CLOUDLET_ELB_METRICS_INTERVAL"
DEFAULT_INTERVAL = 60.0
Dims = list[tuple[str, str]]
Datum = dict[str, Any]


def interval_from_env() -> float:
    """``CLOUDLET_ELB_METRICS_INTERVAL`` seconds, at least 0.2 (default 60)."""
    return seconds_setting(INTERVAL_ENV, DEFAULT_INTERVAL, low=0.2)


@dataclass
class Tally:
    """What one load balancer (and one of its target groups) carried in an interval."""

    requests: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    timed: int = 0
    """Requests answered by a target, whose response times make up the statistics."""
    total: float = 0.0
    low: float = float("inf")
    high: float = 0.0


@dataclass
class Flows:
    """One network load balancer's flows (``tcp.py`` and ``udp.py`` count them): all
    of them, or (``suffix`` ``_TCP``, ``_TLS``, ``_UDP``) one protocol's, which also
    count in their ``parent``, the load balancer's total."""

    active: int = 0
    peak: int = 0
    new: int = 0
    bytes: int = 0
    client_resets: int = 0
    target_resets: int = 0
    elb_resets: int = 0
    suffix: str = ""
    parent: Flows | None = None

    def opened(self) -> None:
        self.new += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        if self.parent is not None:
            self.parent.opened()

    def closed(self) -> None:
        self.active -= 1
        if self.parent is not None:
            self.parent.closed()

    def carried(self, size: int) -> None:
        self.bytes += size
        if self.parent is not None:
            self.parent.carried(size)

    def reset(self, side: str) -> None:
        if side == "client":
            self.client_resets += 1
        else:
            self.target_resets += 1
        if self.parent is not None:
            self.parent.reset(side)

    def elb_reset(self, count: int = 1) -> None:
        """``count`` RST packets the load balancer itself sent."""
        self.elb_resets += count
        if self.parent is not None:
            self.parent.elb_reset(count)

    def take(self) -> Flows:
        """This interval's figures; the counts start again from zero."""
        taken = replace(self)
        self.peak, self.new, self.bytes = self.active, 0, 0
        self.client_resets = self.target_resets = self.elb_resets = 0
        return taken

    def datums(self, dims: Dims) -> list[Datum]:
        """ActiveFlowCount is reported always, its per-protocol forms only when not zero,
        as AWS does; the TCP reset counts belong to the total only."""
        out = []
        if self.peak or not self.suffix:
            out.append(_datum("ActiveFlowCount" + self.suffix, dims, self.peak, "Count"))
        figures = [
            ("NewFlowCount" + self.suffix, self.new, "Count"),
            ("ProcessedBytes" + self.suffix, self.bytes, "Bytes"),
        ]
        if not self.suffix:
            figures += [
                ("TCP_Client_Reset_Count", self.client_resets, "Count"),
                ("TCP_Target_Reset_Count", self.target_resets, "Count"),
                ("TCP_ELB_Reset_Count", self.elb_resets, "Count"),
            ]
        for name, value, unit in figures:
            if value:
                out.append(_datum(name, dims, value, unit))
        return out


FLOW_PROTOCOLS = ("TCP", "TLS", "UDP")
"""The protocols NLB counts flows of separately (``ActiveFlowCount_TCP`` and so on)."""


NETWORK = "AWS/NetworkELB"


@dataclass
class Dialect:
    """How one namespace names things."""

    namespace: str
    latency: str
    target_code: str
    """Format for a target's status class, ``{c}`` the class digit."""
    elb_class: str
    """Format for the load balancer's own answers by status class."""
    elb_status: str | None = None
    """Format for its own 502/503/504 answers, ``{s}`` the status, if the namespace has it."""


APPLICATION = Dialect(
    "AWS/ApplicationELB",
    "TargetResponseTime",
    "HTTPCode_Target_{c}XX_Count",
    "HTTPCode_ELB_{c}XX_Count",
    "HTTPCode_ELB_{s}_Count",
)
CLASSIC = Dialect("AWS/ELB", "Latency", "HTTPCode_Backend_{c}XX", "HTTPCode_ELB_{c}XX")
ELB_STATUSES = {502, 503, 504}


class Meter:
    """Tallies per (load balancer key, target group key or None)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.tallies: dict[tuple[str, str | None], Tally] = {}
        self.flows: dict[str, Flows] = {}
        """Network load balancers' flows, by load balancer key."""

    def flows_of(self, lb: str, protocol: str | None = None) -> Flows:
        """Load balancer ``lb``'s flows: all, or one of ``FLOW_PROTOCOLS``' (which count
        in the total too)."""
        key = lb if protocol is None else f"{lb} {protocol}"
        flows = self.flows.get(key)
        if flows is None:
            if protocol is None:
                flows = Flows()
            else:
                flows = Flows(suffix=f"_{protocol}", parent=self.flows_of(lb))
            self.flows[key] = flows
        return flows

    def flow_datums(self, lb: str, dim_sets: list[Dims]) -> list[Datum]:
        """The interval's flow figures of ``lb`` (total and per protocol), one copy per
        dimension set; the counts start again from zero."""
        taken = [self.flows_of(lb).take()]
        taken += [self.flows[k].take() for p in FLOW_PROTOCOLS if (k := f"{lb} {p}") in self.flows]
        return [d for flows in taken for dims in dim_sets for d in flows.datums(dims)]

    def forget(self, lb: str) -> None:
        """A deleted load balancer's flow counts."""
        for key in [lb, *(f"{lb} {p}" for p in FLOW_PROTOCOLS)]:
            self.flows.pop(key, None)

    def record(self, lb: str, req: Request) -> None:
        """One finished request through load balancer ``lb`` (hot path: small)."""
        self._add((lb, None), req)
        if req.group is not None:
            self._add((lb, req.group), req)

    def _add(self, key: tuple[str, str | None], req: Request) -> None:
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally()
        tally.requests += 1
        if req.status:
            tally.codes[("e" if req.by_elb else "t") + str(req.status // 100)] += 1
            if req.by_elb and req.status in ELB_STATUSES and self.dialect.elb_status:
                tally.codes[f"s{req.status}"] += 1
        if (t := req.target_time) is not None:
            tally.timed += 1
            tally.total += t
            tally.low = min(tally.low, t)
            tally.high = max(tally.high, t)

    def take(self) -> dict[tuple[str, str | None], Tally]:
        taken, self.tallies = self.tallies, {}
        return taken

    def datums(
        self, dims: Dims, tally: Tally | None, healthy: int | None, unhealthy: int | None
    ) -> list[Datum]:
        """MetricData for one dimension set."""
        d = self.dialect
        out: list[Datum] = []
        if tally is not None and tally.requests:
            out.append(_datum("RequestCount", dims, tally.requests, "Count"))
            for code, n in sorted(tally.codes.items()):
                if code.startswith("s"):
                    out.append(_datum(d.elb_status.format(s=code[1:]), dims, n, "Count"))
                elif code[0] == "t":
                    out.append(_datum(d.target_code.format(c=code[1]), dims, n, "Count"))
                elif code[1] in "345":
                    out.append(_datum(d.elb_class.format(c=code[1]), dims, n, "Count"))
            if tally.timed:
                out.append(_stats(d.latency, dims, tally))
        if healthy is not None:
            out.append(_datum("HealthyHostCount", dims, healthy, "Count"))
        if unhealthy is not None:
            out.append(_datum("UnHealthyHostCount", dims, unhealthy, "Count"))
        return out


def _datum(name: str, dims: Dims, value: float, unit: str) -> Datum:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
        "Timestamp": datetime.now(UTC),
        "Value": float(value),
        "Unit": unit,
        "StorageResolution": 1,
    }


def _stats(name: str, dims: Dims, tally: Tally) -> Datum:
    datum = _datum(name, dims, 0, "Seconds")
    del datum["Value"]
    datum["StatisticValues"] = {
        "SampleCount": float(tally.timed),
        "Sum": tally.total,
        "Minimum": tally.low,
        "Maximum": tally.high,
    }
    return datum


def host_counts(pool: Any) -> tuple[int, int]:
    """(healthy, unhealthy) targets of a ``TargetPool``."""
    healthy = unhealthy = 0
    for target in pool.targets.values():
        if target.state == "healthy":
            healthy += 1
        elif target.state == "unhealthy":
            unhealthy += 1
    return healthy, unhealthy
