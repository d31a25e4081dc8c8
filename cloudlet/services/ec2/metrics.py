"""``AWS/EC2`` CPUUtilization measured from each instance's real processes.

Why: alarms and scaling policies on CPU only mean something if the figure is
the instance's actual load. Every ``CLOUDLET_EC2_METRICS_INTERVAL`` seconds
(default 5, at most 10) the sampler sums the CPU time of every process in each
running instance's process group or session (user + system, plus the time of
children they have reaped, so short-lived commands count too), takes the delta since
the previous sample over the wall time elapsed, and divides by the instance
type's vCPUs: 100 means every vCPU busy. A new process group's baseline is
zero CPU at the moment its leader started, so the first figure comes with the
first tick after boot.

The figures go to CloudWatch through the internal client (``PutMetricData`` in
the ``AWS/EC2`` namespace, 1-second storage resolution) per ``InstanceId``, and
aggregated (as statistic sets, so Average/Minimum/Maximum stay right) per
``ImageId``, per ``InstanceType``, per ``AutoScalingGroupName`` (instances
tagged ``aws:autoscaling:groupName``) and with no dimension. Nothing is
published when CloudWatch is not running.

NetworkIn/NetworkOut are not published: per-process network counters do not
exist (psutil gives them per interface only, and instance traffic shares the
loopback interface).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import psutil

from cloudlet.core.environ import seconds_setting
from cloudlet.services.ec2 import catalog
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.tags import Tags

log = logging.getLogger(__name__)

INTERVAL_ENV = "CLOUDLET_EC2_METRICS_INTERVAL"
DEFAULT_INTERVAL = 5.0
MAX_INTERVAL = 10.0
MIN_INTERVAL = 0.2
ASG_TAG = "aws:autoscaling:groupName"


def interval_from_env(environ: dict[str, str] | None = None) -> float:
    """The sampling interval: ``CLOUDLET_EC2_METRICS_INTERVAL`` clamped to 0.2-10 s."""
    return seconds_setting(
        INTERVAL_ENV, DEFAULT_INTERVAL, low=MIN_INTERVAL, high=MAX_INTERVAL, environ=environ
    )


def group_cpu_seconds(pgids: set[int]) -> dict[int, float]:
    """CPU seconds used so far by each process group in ``pgids`` (live processes'
    user + system time, plus their reaped children's). An instance's group leader
    also leads its session, so processes that moved to a group of their own within
    that session still count."""
    totals: dict[int, float] = dict.fromkeys(pgids, 0.0)
    if not pgids:
        return totals
    for proc in psutil.process_iter():
        try:
            pgid = os.getpgid(proc.pid)
            if pgid not in totals:
                # Still the instance's if it left the group but not the session
                # (``timeout`` and job-control shells start their own groups).
                pgid = os.getsid(proc.pid)
                if pgid not in totals:
                    continue
            t = proc.cpu_times()
            totals[pgid] += (
                t.user
                + t.system
                + getattr(t, "children_user", 0)
                + getattr(t, "children_system", 0)
            )
        except (psutil.Error, OSError):
            continue
    return totals


class CpuSampler:
    """Samples every running instance's CPU and publishes it to CloudWatch."""

    def __init__(self, engine: InstanceEngine, tags: Tags, env: Any) -> None:
        self.engine = engine
        self.tags = tags
        self.env = env
        self.interval = interval_from_env()
        # (instance id, pgid) -> (cpu seconds, wall time) at the previous sample
        self._last: dict[tuple[str, int], tuple[float, float]] = {}

    def running(self) -> dict[str, tuple[Any, Any]]:
        """Running instances with a process group: id -> (instance, group)."""
        out = {}
        for inst_id, group in self.engine.groups.items():
            inst = self.engine.instances.get(inst_id)
            if inst is not None and inst.state == "running":
                out[inst_id] = (inst, group)
        return out

    def sample(
        self, running: dict[str, tuple[Any, Any]], totals: dict[int, float]
    ) -> dict[str, float]:
        """CPUUtilization (0-100) of each of ``running`` from its group's CPU ``totals``."""
        now = time.time()
        out: dict[str, float] = {}
        seen: set[tuple[str, int]] = set()
        for inst_id, (inst, group) in running.items():
            key = (inst_id, group.pgid)
            seen.add(key)
            cpu = totals.get(group.pgid, 0.0)
            previous = self._last.get(key)
            if previous is None and inst.leader_started:
                previous = (0.0, inst.leader_started)
            self._last[key] = (cpu, now)
            if previous is None or now - previous[1] <= 0.05:
                continue
            vcpus = catalog.INSTANCE_TYPES.get(inst.instance_type, (1, 0, ""))[0] or 1
            share = max(0.0, cpu - previous[0]) / ((now - previous[1]) * vcpus)
            out[inst_id] = round(min(100.0, share * 100.0), 4)
        for key in list(self._last):
            if key not in seen:
                del self._last[key]
        return out

    def datums(self, figures: dict[str, float]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """MetricData per (account, region): per instance and aggregated."""
        stamp = datetime.now(UTC)
        groups: dict[tuple[str, str], dict[tuple[str, str] | None, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        per_instance: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for inst_id, value in figures.items():
            inst = self.engine.instances.get(inst_id)
            if inst is None:
                continue
            where = (inst.account, inst.region)
            per_instance[where].append(self._datum([("InstanceId", inst_id)], stamp, value=value))
            agg = groups[where]
            agg[("ImageId", inst.image_id)].append(value)
            agg[("InstanceType", inst.instance_type)].append(value)
            asg = self.tags.of(inst_id).get(ASG_TAG)
            if asg:
                agg[("AutoScalingGroupName", asg)].append(value)
            agg[None].append(value)
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for where, data in per_instance.items():
            for dim, values in groups[where].items():
                stats = {
                    "SampleCount": float(len(values)),
                    "Sum": sum(values),
                    "Minimum": min(values),
                    "Maximum": max(values),
                }
                data.append(self._datum([dim] if dim else [], stamp, stats=stats))
            out[where] = data
        return out

    @staticmethod
    def _datum(
        dims: list[tuple[str, str]],
        stamp: datetime,
        *,
        value: float | None = None,
        stats: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        datum: dict[str, Any] = {
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            "Timestamp": stamp,
            "Unit": "Percent",
            "StorageResolution": 1,
        }
        if stats is not None:
            datum["StatisticValues"] = stats
        else:
            datum["Value"] = value
        return datum

    async def tick(self) -> None:
        """One sample of every running instance, published to CloudWatch."""
        if not self.engine.groups:
            self._last.clear()
            return
        running = self.running()
        pgids = {group.pgid for _, group in running.values()}
        totals = await asyncio.to_thread(group_cpu_seconds, pgids)
        figures = self.sample(running, totals)
        if not figures or "cloudwatch" not in self.env.services:
            return
        for (account, region), data in self.datums(figures).items():
            await self.env.put_metric_data("AWS/EC2", data, account=account, region=region)
