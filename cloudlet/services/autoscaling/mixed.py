"""Mixed instances policies: which instance type, template and weight a launch uses.

Why: a group with a ``MixedInstancesPolicy`` launches from a list of launch
template overrides, not from one template, and may count instances in
capacity units. This module turns a validated policy into an ordered list of
*choices* (template, instance type, image, weight) that the loop tries in
order (``launching``): the first is what AWS would launch; when EC2 refuses it
the next one is tried, as AWS moves on to the next priority when a pool cannot
be fulfilled.

- ``prioritized`` (the default without ``InstanceRequirements``) keeps the
  overrides' order; ``lowest-price`` (the default, and the only strategy, with
  ``InstanceRequirements``) orders by price per capacity unit, using AWS's
  published us-east-1 Linux On-Demand hourly prices (``PRICES``) for the
  types cloudlet's EC2 catalogue has; a choice whose type comes from its
  launch template has no known price and goes last.
- Weights: ``WeightedCapacity`` (all overrides or none, 1-999), or with
  ``InstanceRequirements`` the ``DesiredCapacityType`` (``vcpu``: the type's
  vCPUs, ``memory-mib``: its memory).
- ``InstanceRequirements`` are matched against the EC2 catalogue's own
  attributes (vCPUs, memory, memory per vCPU, generation, burstable, bare
  metal, instance storage, network interfaces, allowed/excluded type patterns;
  the catalogue has no accelerators). Attributes the catalogue does not
  describe (CPU manufacturers, bandwidths, storage sizes, price protection)
  answer 501 rather than being ignored.
- Spot: cloudlet's EC2 has no Spot market (RunInstances has no
  ``InstanceMarketOptions``), so only distributions that ask for 100 %
  On-Demand above the base are built; a Spot percentage answers 501.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from typing import Any

from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.autoscaling import errors

MAX_OVERRIDES = 40
CAPACITY_TYPES = ("units", "vcpu", "memory-mib")
ON_DEMAND_STRATEGIES = ("prioritized", "lowest-price")
SPOT_STRATEGIES = (
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
)
PRICES: dict[str, float] = {
    "t1.micro": 0.02, "m1.small": 0.044,
    "t2.nano": 0.0058, "t2.micro": 0.0116, "t2.small": 0.023, "t2.medium": 0.0464,
    "t2.large": 0.0928, "t2.xlarge": 0.1856, "t2.2xlarge": 0.3712,
    "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416,
    "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
    "m4.large": 0.10, "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384,
    "m5.4xlarge": 0.768, "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34,
    "r5.large": 0.126, "r5.xlarge": 0.252,
}  # fmt: skip
"""USD per hour, us-east-1, Linux On-Demand (AWS's price list); only used to rank."""

_MATCHED = {
    "VCpuCount",
    "MemoryMiB",
    "MemoryGiBPerVCpu",
    "AllowedInstanceTypes",
    "ExcludedInstanceTypes",
    "InstanceGenerations",
    "BurstablePerformance",
    "BareMetal",
    "LocalStorage",
    "NetworkInterfaceCount",
    "AcceleratorCount",
}


def distribution(raw: dict[str, Any] | None, attribute_based: bool) -> dict[str, Any]:
    """InstancesDistribution with AWS's defaults; AWS's errors; 501 for Spot."""
    raw = raw or {}
    default = "lowest-price" if attribute_based else "prioritized"
    out: dict[str, Any] = {
        "OnDemandAllocationStrategy": raw.get("OnDemandAllocationStrategy") or default,
        "OnDemandBaseCapacity": raw.get("OnDemandBaseCapacity") or 0,
        "OnDemandPercentageAboveBaseCapacity": raw.get("OnDemandPercentageAboveBaseCapacity"),
        "SpotAllocationStrategy": raw.get("SpotAllocationStrategy") or "lowest-price",
    }
    if out["OnDemandPercentageAboveBaseCapacity"] is None:
        out["OnDemandPercentageAboveBaseCapacity"] = 100
    strategy = out["OnDemandAllocationStrategy"]
    if strategy not in ON_DEMAND_STRATEGIES:
        raise errors.validation(
            f"Invalid OnDemandAllocationStrategy: {strategy}. Valid values are "
            "lowest-price and prioritized."
        )
    if attribute_based and strategy == "prioritized":
        raise errors.validation(
            "The prioritized On-Demand allocation strategy can't be used with InstanceRequirements."
        )
    if out["SpotAllocationStrategy"] not in SPOT_STRATEGIES:
        raise errors.validation(f"Invalid SpotAllocationStrategy: {out['SpotAllocationStrategy']}")
    if out["OnDemandBaseCapacity"] < 0:
        raise errors.validation("OnDemandBaseCapacity must be greater than or equal to 0.")
    above = out["OnDemandPercentageAboveBaseCapacity"]
    if not 0 <= above <= 100:
        raise errors.validation("OnDemandPercentageAboveBaseCapacity must be between 0 and 100.")
    if above < 100:
        raise NotImplementedOperation(
            "autoscaling",
            "Spot Instances in a MixedInstancesPolicy (OnDemandPercentageAboveBaseCapacity "
            "below 100: cloudlet's EC2 has no Spot market)",
        )
    if out["SpotAllocationStrategy"] == "lowest-price":
        out["SpotInstancePools"] = raw.get("SpotInstancePools") or 2
    if raw.get("SpotMaxPrice") not in (None, ""):
        out["SpotMaxPrice"] = raw["SpotMaxPrice"]
    return out


def check_overrides(overrides: list[dict[str, Any]], capacity_type: str) -> bool:
    """Validate the overrides list; whether instances are weighted."""
    if len(overrides) > MAX_OVERRIDES:
        raise errors.validation(
            f"The number of instance types in the overrides list can't exceed {MAX_OVERRIDES}."
        )
    attribute_based = any(o.get("InstanceRequirements") for o in overrides)
    for o in overrides:
        if o.get("InstanceType") and o.get("InstanceRequirements"):
            raise errors.validation(
                "You can specify either InstanceType or InstanceRequirements in an override, "
                "not both."
            )
        if (
            not o.get("InstanceType")
            and not o.get("InstanceRequirements")
            and not o.get("LaunchTemplateSpecification")
        ):
            raise errors.validation(
                "Each override must specify an InstanceType or InstanceRequirements."
            )
    if attribute_based and any(o.get("InstanceType") for o in overrides):
        raise errors.validation(
            "You can't mix overrides with InstanceType and overrides with InstanceRequirements."
        )
    given = [o.get("WeightedCapacity") for o in overrides]
    if any(w is not None for w in given):
        if attribute_based:
            raise errors.validation(
                "WeightedCapacity can't be used with InstanceRequirements; use "
                "DesiredCapacityType instead."
            )
        if any(w is None for w in given):
            raise errors.validation(
                "If you specify a value for WeightedCapacity for one instance type, you must "
                "specify a value for WeightedCapacity for all of them."
            )
        for w in given:
            if not str(w).isdigit() or not 1 <= int(w) <= 999:
                raise errors.validation(f"WeightedCapacity {w} must be in the range of 1-999.")
    if capacity_type not in CAPACITY_TYPES:
        raise errors.validation(f"Invalid DesiredCapacityType: {capacity_type}")
    if capacity_type != "units" and not attribute_based:
        raise errors.validation(
            f"DesiredCapacityType {capacity_type} is supported for attribute-based instance "
            "type selection (InstanceRequirements) only."
        )
    return capacity_type != "units" or any(w is not None for w in given)


def _within(value: float, bounds: dict[str, Any] | None, name: str) -> bool:
    bounds = bounds or {}
    lo, hi = bounds.get("Min"), bounds.get("Max")
    if lo is not None and hi is not None and hi < lo:
        raise errors.validation(f"{name}: Max must be greater than or equal to Min.")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _choice(setting: str | None, default: str, has: bool, name: str) -> bool:
    setting = setting or default
    if setting not in ("included", "excluded", "required"):
        raise errors.validation(f"Invalid {name}: {setting}")
    return setting == "included" or (setting == "required") == has


def matching(requirements: dict[str, Any], types: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The catalogue's instance types (DescribeInstanceTypes items) that satisfy
    ``requirements``; 501 for attributes the catalogue does not describe."""
    unknown = sorted(k for k, v in requirements.items() if v is not None and k not in _MATCHED)
    if unknown:
        raise NotImplementedOperation(
            "autoscaling",
            f"InstanceRequirements {', '.join(unknown)} (cloudlet's instance type catalogue "
            "does not describe it)",
        )
    allowed = requirements.get("AllowedInstanceTypes") or []
    excluded = requirements.get("ExcludedInstanceTypes") or []
    if allowed and excluded:
        raise errors.validation(
            "You can specify AllowedInstanceTypes or ExcludedInstanceTypes, but not both."
        )
    generations = requirements.get("InstanceGenerations") or []
    out = []
    for info in types:
        name = info["InstanceType"]
        vcpus = info["VCpuInfo"]["DefaultVCpus"]
        memory = info["MemoryInfo"]["SizeInMiB"]
        ok = (
            _within(vcpus, requirements.get("VCpuCount"), "VCpuCount")
            and _within(memory, requirements.get("MemoryMiB"), "MemoryMiB")
            and _within(
                memory / 1024 / vcpus, requirements.get("MemoryGiBPerVCpu"), "MemoryGiBPerVCpu"
            )
            and _within(
                info["NetworkInfo"]["MaximumNetworkInterfaces"],
                requirements.get("NetworkInterfaceCount"),
                "NetworkInterfaceCount",
            )
            and _within(0, requirements.get("AcceleratorCount"), "AcceleratorCount")
            and (not allowed or any(fnmatch.fnmatchcase(name, p) for p in allowed))
            and not any(fnmatch.fnmatchcase(name, p) for p in excluded)
            and (
                not generations
                or ("current" if info.get("CurrentGeneration") else "previous") in generations
            )
            and _choice(
                requirements.get("BurstablePerformance"),
                "excluded",
                bool(info.get("BurstablePerformanceSupported")),
                "BurstablePerformance",
            )
            and _choice(
                requirements.get("BareMetal"), "excluded", bool(info.get("BareMetal")), "BareMetal"
            )
            and _choice(
                requirements.get("LocalStorage"),
                "included",
                bool(info.get("InstanceStorageSupported")),
                "LocalStorage",
            )
        )
        if ok:
            out.append(info)
    return out


def _per_unit(choice: dict[str, Any]) -> float:
    price = PRICES.get(choice.get("type") or "")
    return float("inf") if price is None else price / choice["weight"]


def choices(
    overrides: list[dict[str, Any]],
    base: dict[str, Any],
    templates: list[dict[str, Any] | None],
    matched: list[list[dict[str, Any]]],
    strategy: str,
    capacity_type: str,
) -> list[dict[str, Any]]:
    """The launch choices in the order the loop tries them. ``templates[i]`` is
    override ``i``'s own (resolved) template, ``matched[i]`` the catalogue types
    its InstanceRequirements select."""
    out: list[dict[str, Any]] = []
    for o, lt, types in zip(overrides, templates, matched, strict=True):
        common = {"lt": lt or base, **({"image": o["ImageId"]} if o.get("ImageId") else {})}
        if not o.get("InstanceRequirements"):
            weight = int(o.get("WeightedCapacity") or 1)
            out.append({**common, "type": o.get("InstanceType"), "weight": weight})
            continue
        expanded = []
        for info in types:
            weight = 1
            if capacity_type == "vcpu":
                weight = info["VCpuInfo"]["DefaultVCpus"]
            elif capacity_type == "memory-mib":
                weight = info["MemoryInfo"]["SizeInMiB"]
            expanded.append({**common, "type": info["InstanceType"], "weight": weight})
        out.extend(sorted(expanded, key=_per_unit))
    if not out:
        out.append({"lt": base, "type": None, "weight": 1})
    if strategy == "lowest-price":
        out.sort(key=_per_unit)
    return out


def policy_id(policy: dict[str, Any]) -> str:
    """A stable name for a shaped policy: which instances were launched from it."""
    return hashlib.sha1(json.dumps(policy, sort_keys=True).encode()).hexdigest()[:16]


def shaped(mixed: dict[str, Any] | None) -> dict[str, Any] | None:
    """The MixedInstancesPolicy as DescribeAutoScalingGroups shows it."""
    return None if not mixed else json.loads(json.dumps(mixed["policy"]))
