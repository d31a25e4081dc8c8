"""EC2 operations on an instance's attributes: its type, user data, shutdown
behaviour, security groups and metadata options.

Mixed into ``Ec2Service`` beside ``instance_ops`` (which finds instances for
it); every public method is an operation of botocore's ``ec2`` model.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from cloudlet.services.ec2 import catalog, errors, imds
from cloudlet.services.ec2.instances import Instance, InstanceEngine
from cloudlet.services.ec2.security_groups import SecurityGroups

Result = dict[str, Any]


def metadata_options(given: dict[str, Any]) -> dict[str, Any]:
    """The settable MetadataOptions in ``given``, validated as EC2 does."""
    out: dict[str, Any] = {}
    choices = {
        "HttpTokens": ("optional", "required"),
        "HttpEndpoint": ("enabled", "disabled"),
        "HttpProtocolIpv6": ("enabled", "disabled"),
        "InstanceMetadataTags": ("enabled", "disabled"),
    }
    for name, allowed in choices.items():
        value = given.get(name)
        if value is not None:
            if value not in allowed:
                raise errors.invalid_value(name, value)
            out[name] = value
    hops = given.get("HttpPutResponseHopLimit")
    if hops is not None:
        if not 1 <= int(hops) <= 64:
            raise errors.invalid_value("HttpPutResponseHopLimit", hops)
        out["HttpPutResponseHopLimit"] = int(hops)
    return out


class InstanceAttributeOps:
    engine: InstanceEngine
    groups: SecurityGroups
    _find: Callable[[Any, list[str]], list[Instance]]

    def modify_instance_attribute(self, ctx: Any, params: dict[str, Any]) -> Result:
        (inst,) = self._find(ctx, [params["InstanceId"]])
        attribute, value = params.get("Attribute"), params.get("Value")
        instance_type = (params.get("InstanceType") or {}).get("Value")
        user_data = (params.get("UserData") or {}).get("Value")
        behavior = (params.get("InstanceInitiatedShutdownBehavior") or {}).get("Value")
        if attribute == "instanceType":
            instance_type = value
        elif attribute == "userData":
            user_data = (value or "").encode()
        elif attribute == "instanceInitiatedShutdownBehavior":
            behavior = value
        elif attribute is not None and attribute != "groupSet":
            raise errors.invalid_value("Attribute", attribute)
        if instance_type is not None or user_data is not None:
            if inst.state != "stopped":
                raise errors.incorrect_state(inst.id, "is not in the 'stopped' state.")
        if instance_type is not None and instance_type not in catalog.INSTANCE_TYPES:
            raise errors.instance_type_invalid(instance_type)
        if behavior is not None and behavior not in ("stop", "terminate"):
            raise errors.invalid_value("InstanceInitiatedShutdownBehavior", behavior)
        group_ids = params.get("Groups") or []
        groups = [self.groups.find(ctx.account_id, ctx.region, g, None) for g in group_ids]
        for group in groups:
            if group["VpcId"] != inst.vpc_id:
                raise errors.ServiceError(
                    "InvalidGroup.NotFound",
                    f"The security group '{group['GroupId']}' does not exist in VPC "
                    f"'{inst.vpc_id}'",
                )
        if instance_type is not None:
            inst.instance_type = instance_type
        if user_data is not None:
            raw = user_data if isinstance(user_data, bytes) else str(user_data).encode()
            inst.user_data = base64.b64encode(raw).decode() if raw else None
        if behavior is not None:
            inst.shutdown_behavior = behavior
        if groups:
            inst.groups = [{"GroupName": g["GroupName"], "GroupId": g["GroupId"]} for g in groups]
        self.engine.save(inst)
        if groups:  # what it may send and who may reach it (``guard``)
            self.engine.vpc_maps.refresh(inst.vpc_id)
        return {}

    def describe_instance_attribute(self, ctx: Any, params: dict[str, Any]) -> Result:
        (inst,) = self._find(ctx, [params["InstanceId"]])
        attribute = params["Attribute"]
        out: Result = {"InstanceId": inst.id}
        if attribute == "instanceType":
            out["InstanceType"] = {"Value": inst.instance_type}
        elif attribute == "userData":
            out["UserData"] = {"Value": inst.user_data} if inst.user_data else {}
        elif attribute == "instanceInitiatedShutdownBehavior":
            out["InstanceInitiatedShutdownBehavior"] = {"Value": inst.shutdown_behavior}
        elif attribute == "groupSet":
            out["Groups"] = [dict(g) for g in inst.groups]
        elif attribute == "disableApiTermination":
            out["DisableApiTermination"] = {"Value": False}
        else:
            raise errors.invalid_value("Attribute", attribute)
        return out

    def modify_instance_metadata_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        (inst,) = self._find(ctx, [params["InstanceId"]])
        changes = metadata_options(params)
        if not changes:
            raise errors.missing("HttpTokens, HttpPutResponseHopLimit or HttpEndpoint")
        inst.metadata_options = {**(inst.metadata_options or {}), **changes}
        self.engine.save(inst)
        return {
            "InstanceId": inst.id,
            "InstanceMetadataOptions": {"State": "pending", **imds.options(inst)},
        }
