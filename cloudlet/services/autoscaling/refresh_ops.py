"""Instance refresh operations: StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh and RollbackInstanceRefresh.

Why here: the operations validate as AWS documents (RefreshPreferences' defaults
and bounds, one active refresh per group, rollback only with a desired
configuration and a numbered launch template version), work out which instances
the refresh replaces (SkipMatching compares the ``aws:ec2launchtemplate:*``
tags EC2 put on each instance with the desired template version; protected
instances are ignored or waited for) and hand the refresh to the loop
(``refresh``). A desired configuration may be a launch template or a mixed
instances policy (validated as CreateAutoScalingGroup does, ``mixed_ops``).
The ReplaceRootVolume strategy answers 501: cloudlet's EC2 cannot replace an
instance's root volume in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.autoscaling import errors, mixed
from cloudlet.services.autoscaling.capacity import leaving, matches, on_standby
from cloudlet.services.autoscaling.refresh import new_run

Result = dict[str, Any]
PROTECTED_CHOICES = ("Refresh", "Ignore", "Wait")
STANDBY_CHOICES = ("Terminate", "Ignore", "Wait")
DEFAULT_CHECKPOINT_DELAY = 3600


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def preferences(raw: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
    """RefreshPreferences with AWS's defaults filled in, as DescribeInstanceRefreshes
    reports them; ValidationError for what AWS refuses."""
    lo, hi = raw.get("MinHealthyPercentage"), raw.get("MaxHealthyPercentage")
    if hi is not None and lo is None:
        raise errors.validation(
            "If you specify MaxHealthyPercentage, you must also specify MinHealthyPercentage."
        )
    lo = 90 if lo is None else lo
    hi = 100 if hi is None else hi
    if not 0 <= lo <= 100:
        raise errors.validation("MinHealthyPercentage must be between 0 and 100.")
    if not 100 <= hi <= 200:
        raise errors.validation("MaxHealthyPercentage must be between 100 and 200.")
    if hi - lo > 100:
        raise errors.validation(
            "The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be "
            "greater than 100."
        )
    warmup = raw.get("InstanceWarmup")
    if warmup is None:
        warmup = group.get("warmup") if group.get("warmup") is not None else group["grace"]
    out: dict[str, Any] = {
        "MinHealthyPercentage": lo,
        "InstanceWarmup": warmup,
        "SkipMatching": bool(raw.get("SkipMatching")),
        "AutoRollback": bool(raw.get("AutoRollback")),
        "ScaleInProtectedInstances": raw.get("ScaleInProtectedInstances") or "Wait",
        "StandbyInstances": raw.get("StandbyInstances") or "Wait",
        "MaxHealthyPercentage": hi,
    }
    if out["ScaleInProtectedInstances"] not in PROTECTED_CHOICES:
        raise errors.validation(
            f"Invalid ScaleInProtectedInstances: {out['ScaleInProtectedInstances']}"
        )
    if out["StandbyInstances"] not in STANDBY_CHOICES:
        raise errors.validation(f"Invalid StandbyInstances: {out['StandbyInstances']}")
    points = list(raw.get("CheckpointPercentages") or [])
    delay = raw.get("CheckpointDelay")
    if delay is not None and not points:
        raise errors.validation(
            "CheckpointDelay can only be specified together with CheckpointPercentages."
        )
    if points:
        if any(not 1 <= p <= 100 for p in points) or points != sorted(set(points)):
            raise errors.validation(
                "CheckpointPercentages must be unique values between 1 and 100 in ascending order."
            )
        out["CheckpointPercentages"] = points
        out["CheckpointDelay"] = DEFAULT_CHECKPOINT_DELAY if delay is None else delay
    alarms = (raw.get("AlarmSpecification") or {}).get("Alarms")
    if alarms:
        if len(alarms) > 10:
            raise errors.validation("You can specify up to 10 alarms.")
        out["AlarmSpecification"] = {"Alarms": list(alarms)}
    if raw.get("BakeTime") is not None:
        out["BakeTime"] = raw["BakeTime"]
    return out


def numbered(lt: dict[str, Any] | None) -> bool:
    """Whether a template spec names a fixed version (what a rollback can return to)."""
    version = str((lt or {}).get("Version") or "$Default")
    return version not in ("$Latest", "$Default")


def reversible(previous: dict[str, Any]) -> bool:
    """Whether a rollback can return to ``previous`` (no ``$Latest``/``$Default`` template)."""
    if previous.get("mixed"):
        base = previous["mixed"]["policy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        return numbered(base) and all(numbered(c["lt"]) for c in previous["mixed"]["choices"])
    return not previous.get("lt") or numbered(previous["lt"])


class RefreshOps:
    """Needs ``_group`` and ``_template`` from ``GroupOps``."""

    engine: Any
    _group: Any
    _template: Any
    _mixed_policy: Any

    async def _version_of(self, ctx: Any, lt: dict[str, Any]) -> tuple[str, int] | None:
        """(template id, version number) a template spec names today."""
        try:
            res = await self.engine.env.call(
                "ec2",
                "DescribeLaunchTemplates",
                {"LaunchTemplateIds": [lt["LaunchTemplateId"]]},
                account=ctx.account_id,
                region=ctx.region,
            )
        except Exception:  # noqa: BLE001 - no template: nothing can match it
            return None
        found = (res.get("LaunchTemplates") or [{}])[0]
        version = str(lt.get("Version") or "$Default")
        if version == "$Latest":
            number = found.get("LatestVersionNumber")
        elif version == "$Default":
            number = found.get("DefaultVersionNumber")
        else:
            number = int(version) if version.isdigit() else None
        return None if number is None else (lt["LaunchTemplateId"], int(number))

    async def _launched_from(self, ctx: Any, ids: list[str]) -> dict[str, tuple[str, int]]:
        """The template id and version EC2 launched each instance from (its tags)."""
        if not ids:
            return {}
        try:
            res = await self.engine.env.call(
                "ec2",
                "DescribeInstances",
                {"Filters": [{"Name": "instance-id", "Values": ids}]},
                account=ctx.account_id,
                region=ctx.region,
            )
        except Exception:  # noqa: BLE001 - unknown origin: replace it
            return {}
        out = {}
        for r in res.get("Reservations", []):
            for i in r["Instances"]:
                tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                lt_id = tags.get("aws:ec2launchtemplate:id")
                version = tags.get("aws:ec2launchtemplate:version") or ""
                if lt_id and version.isdigit():
                    out[i["InstanceId"]] = (lt_id, int(version))
        return out

    async def _to_replace(
        self, ctx: Any, group: dict[str, Any], prefs: dict[str, Any], target: dict[str, Any]
    ) -> tuple[list[str], int]:
        """The instances the refresh replaces, and how many it covers (the base of its
        percentage): protected ones are left out with ``Ignore``; matching ones are
        covered but not replaced with SkipMatching."""
        members = [i for i in group["instances"] if not leaving(i)]
        if prefs["ScaleInProtectedInstances"] == "Ignore":
            members = [i for i in members if not i.get("ProtectedFromScaleIn")]
        if prefs["StandbyInstances"] == "Ignore":
            members = [i for i in members if not on_standby(i)]
        ids = [i["InstanceId"] for i in members]
        if not prefs["SkipMatching"]:
            return ids, len(ids)
        if target.get("mixed"):
            todo = [i["InstanceId"] for i in members if not matches(i, target)]
        elif target.get("lt"):
            wanted = await self._version_of(ctx, target["lt"])
            origins = await self._launched_from(ctx, ids)
            todo = [iid for iid in ids if wanted is None or origins.get(iid) != wanted]
        else:
            todo = [
                i["InstanceId"]
                for i in members
                if i.get("LaunchConfigurationName") != target.get("lc")
            ]
        return todo, len(ids)

    # -- operations ----------------------------------------------------------------

    async def start_instance_refresh(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        if self.engine.refresh.active(group) is not None:
            raise errors.refresh_in_progress()
        strategy = params.get("Strategy") or "Rolling"
        if strategy not in ("Rolling", "ReplaceRootVolume"):
            raise errors.validation(
                f"Invalid Strategy: {strategy}. Valid values are Rolling and ReplaceRootVolume."
            )
        if strategy != "Rolling":
            raise NotImplementedOperation(
                "autoscaling",
                f"StartInstanceRefresh with the {strategy} strategy (cloudlet's EC2 cannot "
                "replace a root volume in place)",
            )
        wanted = params.get("DesiredConfiguration") or {}
        prefs = preferences(params.get("Preferences") or {}, group)
        previous = {"lc": group.get("lc"), "lt": group.get("lt"), "mixed": group.get("mixed")}
        target, desired_config = previous, None
        if wanted.get("LaunchTemplate") and wanted.get("MixedInstancesPolicy"):
            raise errors.validation(
                "Specify either a LaunchTemplate or a MixedInstancesPolicy in the desired "
                "configuration, not both."
            )
        if wanted.get("LaunchTemplate"):
            lt = await self._template(ctx, wanted["LaunchTemplate"])
            target = {"lc": None, "lt": lt, "mixed": None}
            desired_config = {"LaunchTemplate": dict(lt)}
        elif wanted.get("MixedInstancesPolicy"):
            if group.get("warm_pool"):
                raise errors.validation(
                    "You can't use a mixed instances policy with an Auto Scaling group that has "
                    "a warm pool."
                )
            doc = await self._mixed_policy(
                ctx,
                wanted["MixedInstancesPolicy"],
                group.get("mixed"),
                group.get("capacity_type") or "units",
            )
            target = {"lc": None, "lt": None, "mixed": doc}
            desired_config = {"MixedInstancesPolicy": mixed.shaped(doc)}
        if prefs["AutoRollback"]:
            if desired_config is None:
                raise errors.validation(
                    "AutoRollback requires a desired configuration for the instance refresh."
                )
            if not reversible(previous):
                raise errors.irreversible()
        if prefs["SkipMatching"] and desired_config is None and not previous["lt"]:
            raise errors.validation(
                "SkipMatching can't be used with a launch configuration unless a launch "
                "template is specified in the desired configuration."
            )
        todo, total = await self._to_replace(ctx, group, prefs, target)
        doc = {
            "AutoScalingGroupName": group["name"],
            "Status": "Pending",
            "StatusReason": None,
            "StartTime": clock.time(),
            "EndTime": None,
            "Strategy": strategy,
            "Preferences": prefs,
            "DesiredConfiguration": desired_config,
            "previous": previous,
            "run": new_run(group, target, todo, total, prefs["InstanceWarmup"]),
            "checkpoints": [],
        }
        self.engine.refresh.progress(doc)
        doc = self.engine.refresh.add(group, doc)
        return {"InstanceRefreshId": doc["InstanceRefreshId"]}

    def describe_instance_refreshes(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        ids = params.get("InstanceRefreshIds") or []
        found = [
            d for d in self.engine.refresh.of(group) if not ids or d["InstanceRefreshId"] in ids
        ]
        size = min(params.get("MaxRecords") or 50, 100)
        token = str(params.get("NextToken") or "0")
        if not token.isdigit():
            raise errors.validation("The token provided is not valid.")
        start = int(token)
        out: Result = {"InstanceRefreshes": [_shape(d) for d in found[start : start + size]]}
        if start + size < len(found):
            out["NextToken"] = str(start + size)
        return out

    def cancel_instance_refresh(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        doc = self.engine.refresh.active(group)
        if doc is None:
            raise errors.no_active_refresh(group["name"])
        wait = params.get("WaitForTransitioningInstances")
        doc["wait_transitions"] = True if wait is None else bool(wait)
        doc["Status"], doc["StatusReason"] = "Cancelling", None
        self.engine.refresh.save(doc)
        return {"InstanceRefreshId": doc["InstanceRefreshId"]}

    def rollback_instance_refresh(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        doc = self.engine.refresh.active(group)
        if doc is None or doc["Status"] not in ("Pending", "InProgress", "Baking"):
            raise errors.no_active_refresh(group["name"])
        previous = doc["previous"]
        if not doc.get("DesiredConfiguration") or not reversible(previous):
            raise errors.irreversible()
        self.engine.refresh.begin_rollback(doc, "Rollback initiated by user request.")
        return {"InstanceRefreshId": doc["InstanceRefreshId"]}


def _shape(doc: dict[str, Any]) -> Result:
    out: Result = {
        "InstanceRefreshId": doc["InstanceRefreshId"],
        "AutoScalingGroupName": doc["AutoScalingGroupName"],
        "Status": doc["Status"],
        "StartTime": _when(doc["StartTime"]),
        "PercentageComplete": doc["PercentageComplete"],
        "InstancesToUpdate": doc["InstancesToUpdate"],
        "ProgressDetails": {
            "LivePoolProgress": {
                "PercentageComplete": doc["PercentageComplete"],
                "InstancesToUpdate": doc["InstancesToUpdate"],
            }
        },
        "Preferences": dict(doc["Preferences"]),
        "Strategy": doc["Strategy"],
    }
    if doc.get("StatusReason"):
        out["StatusReason"] = doc["StatusReason"]
    if doc.get("EndTime") is not None:
        out["EndTime"] = _when(doc["EndTime"])
    if doc.get("DesiredConfiguration"):
        out["DesiredConfiguration"] = doc["DesiredConfiguration"]
    rollback = doc.get("rollback")
    if rollback:
        out["RollbackDetails"] = {
            "RollbackReason": rollback["RollbackReason"],
            "RollbackStartTime": _when(rollback["RollbackStartTime"]),
            "PercentageCompleteOnRollback": rollback["PercentageCompleteOnRollback"],
            "InstancesToUpdateOnRollback": rollback["InstancesToUpdateOnRollback"],
            "ProgressDetailsOnRollback": {
                "LivePoolProgress": {
                    "PercentageComplete": rollback["PercentageCompleteOnRollback"],
                    "InstancesToUpdate": rollback["InstancesToUpdateOnRollback"],
                }
            },
        }
    return out
