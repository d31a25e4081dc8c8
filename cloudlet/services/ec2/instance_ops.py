"""EC2 instance operations: validate as AWS does, hand the work to the engine, shape.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. Batch operations validate every id (and every state) before
acting on any, so a failed call changes nothing, as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.ids import token_hex
from cloudlet.services.base import InternalContext
from cloudlet.services.ec2 import catalog, errors, filters, imds, network
from cloudlet.services.ec2.images import Images
from cloudlet.services.ec2.instances import STATE_CODES, Instance, InstanceEngine
from cloudlet.services.ec2.keypairs import KeyPairs
from cloudlet.services.ec2.launch_templates import LaunchTemplates, template_params
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.tags import Tags, tag_list

Result = dict[str, Any]
_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
MAX_PER_CALL = 100
_INSTANCE_FILTERS: dict[str, Any] = {
    "instance-id": lambda i: i.id,
    "instance-state-name": lambda i: i.state,
    "instance-state-code": lambda i: str(STATE_CODES[i.state]),
    "private-ip-address": lambda i: i.private_ip if i.state != "terminated" else None,
    "ip-address": lambda i: i.private_ip if i.state in ("pending", "running") else None,
    "network-interface.addresses.private-ip-address": lambda i: i.private_ip,
    "image-id": lambda i: i.image_id,
    "instance-type": lambda i: i.instance_type,
    "availability-zone": lambda i: i.zone,
    "placement-availability-zone": lambda i: i.zone,
    "key-name": lambda i: i.key_name,
    "reservation-id": lambda i: i.reservation_id,
    "subnet-id": lambda i: i.subnet_id,
    "vpc-id": lambda i: i.vpc_id,
    "private-dns-name": lambda i: _dns(i)[0],
    "dns-name": lambda i: _dns(i)[1],
    "instance.group-id": lambda i: [g["GroupId"] for g in i.groups],
    "instance.group-name": lambda i: [g["GroupName"] for g in i.groups],
    "group-id": lambda i: [g["GroupId"] for g in i.groups],
    "group-name": lambda i: [g["GroupName"] for g in i.groups],
    "iam-instance-profile.arn": lambda i: (i.iam_profile or {}).get("Arn"),
    "architecture": lambda i: catalog.ARCH,
    "owner-id": lambda i: i.account,
}
_STATUS_FILTERS: dict[str, Any] = {
    "instance-state-name": lambda i: i.state,
    "instance-state-code": lambda i: str(STATE_CODES[i.state]),
    "availability-zone": lambda i: i.zone,
    "instance-status.status": lambda i: _health(i),
    "system-status.status": lambda i: _health(i),
    "instance-status.reachability": lambda i: "passed" if i.state == "running" else None,
    "system-status.reachability": lambda i: "passed" if i.state == "running" else None,
}


def _dns(inst: Instance) -> tuple[str, str]:
    dashed = inst.private_ip.replace(".", "-")
    if inst.region == "us-east-1":
        return f"ip-{dashed}.ec2.internal", f"ec2-{dashed}.compute-1.amazonaws.com"
    return (
        f"ip-{dashed}.{inst.region}.compute.internal",
        f"ec2-{dashed}.{inst.region}.compute.amazonaws.com",
    )


def _health(inst: Instance) -> str:
    return "ok" if inst.state == "running" else "not-applicable"


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _state(name: str) -> Result:
    return {"Code": STATE_CODES[name], "Name": name}


def check_instance_ids(ids: list[str]) -> None:
    for instance_id in ids:
        if not _INSTANCE_ID.match(instance_id):
            raise errors.malformed("InvalidInstanceID.Malformed", instance_id, "i")


def _metadata_options(given: dict[str, Any]) -> dict[str, Any]:
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


class InstanceOps:
    engine: InstanceEngine
    templates: LaunchTemplates
    images: Images
    tags: Tags
    groups: SecurityGroups
    keys: KeyPairs

    # -- helpers (private: not operations) ---------------------------------------

    def _mine(self, ctx: Any) -> list[Instance]:
        return [
            i
            for i in self.engine.instances.values()
            if i.account == ctx.account_id and i.region == ctx.region
        ]

    def _find(self, ctx: Any, ids: list[str]) -> list[Instance]:
        check_instance_ids(ids)
        mine = {i.id: i for i in self._mine(ctx)}
        missing = [i for i in ids if i not in mine]
        if missing:
            raise errors.instance_not_found(missing)
        return [mine[i] for i in dict.fromkeys(ids)]

    def _shape(self, inst: Instance, state: str | None = None) -> Result:
        state = state or inst.state
        private_dns, public_dns = _dns(inst)
        live = state != "terminated"
        public = state in ("pending", "running")
        cpu = catalog.instance_type_info(inst.instance_type)["VCpuInfo"]
        out: Result = {
            "InstanceId": inst.id,
            "ImageId": inst.image_id,
            "State": _state(state),
            "PrivateDnsName": private_dns if live else "",
            "PublicDnsName": public_dns if public else "",
            "StateTransitionReason": inst.transition_reason,
            "AmiLaunchIndex": inst.ami_launch_index,
            "InstanceType": inst.instance_type,
            "LaunchTime": _when(inst.launch_time),
            "Placement": {"AvailabilityZone": inst.zone, "GroupName": "", "Tenancy": "default"},
            "Monitoring": {"State": "disabled"},
            "Architecture": catalog.ARCH,
            "RootDeviceType": "ebs",
            "RootDeviceName": "/dev/xvda",
            "BlockDeviceMappings": [],
            "VirtualizationType": "hvm",
            "Hypervisor": "xen",
            "EbsOptimized": False,
            "EnaSupport": True,
            "SourceDestCheck": True,
            "ClientToken": inst.client_token,
            "SecurityGroups": [dict(g) for g in inst.groups] if live else [],
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "CpuOptions": {
                "CoreCount": cpu["DefaultCores"],
                "ThreadsPerCore": cpu["DefaultThreadsPerCore"],
            },
            "MetadataOptions": {"State": "applied", **imds.options(inst)},
        }
        if live:
            out["SubnetId"] = inst.subnet_id
            out["VpcId"] = inst.vpc_id
            out["PrivateIpAddress"] = inst.private_ip
        if public:
            out["PublicIpAddress"] = inst.private_ip
        if inst.key_name:
            out["KeyName"] = inst.key_name
        if inst.iam_profile:
            out["IamInstanceProfile"] = dict(inst.iam_profile)
        if inst.state_reason and state not in ("pending", "running"):
            out["StateReason"] = dict(inst.state_reason)
        tags = self.tags.of(inst.id)
        if tags:
            out["Tags"] = tag_list(tags)
        return out

    def _reservations(self, instances: list[Instance]) -> list[Result]:
        out: dict[str, Result] = {}
        for inst in instances:
            res = out.get(inst.reservation_id)
            if res is None:
                res = out[inst.reservation_id] = {
                    "ReservationId": inst.reservation_id,
                    "OwnerId": inst.account,
                    "Groups": [],
                    "Instances": [],
                }
            res["Instances"].append(self._shape(inst))
        return list(out.values())

    def _launch_groups(self, ctx: Any, params: dict[str, Any]) -> list[dict[str, str]]:
        names = params.get("SecurityGroups") or []
        ids = params.get("SecurityGroupIds") or []
        found = []
        for name in names:
            found.append(self.groups.find(ctx.account_id, ctx.region, None, name))
        for group_id in ids:
            found.append(self.groups.find(ctx.account_id, ctx.region, group_id, None))
        if not found:
            found.append(self.groups.ensure_default(ctx.account_id, ctx.region))
        unique = {g["GroupId"]: g for g in found}
        return [{"GroupName": g["GroupName"], "GroupId": g["GroupId"]} for g in unique.values()]

    def _placement(self, ctx: Any, params: dict[str, Any]) -> tuple[str, str]:
        zone = (params.get("Placement") or {}).get("AvailabilityZone")
        subnet_id = params.get("SubnetId")
        if subnet_id:
            subnet = network.subnet(ctx.account_id, ctx.region, subnet_id)
            if subnet is None:
                raise errors.subnet_not_found(subnet_id)
            if zone and zone != subnet["AvailabilityZone"]:
                raise errors.invalid_value(
                    "availabilityZone", zone, "The subnet is in another availability zone."
                )
            return subnet["AvailabilityZone"], subnet_id
        zone = zone or catalog.zone_names(ctx.region)[0]
        subnet = network.subnet_for_zone(ctx.account_id, ctx.region, zone)
        if subnet is None:
            raise errors.zone_invalid(zone)
        return zone, subnet["SubnetId"]

    # -- operations --------------------------------------------------------------

    def run_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        system_tags: dict[str, str] = {}
        if params.get("LaunchTemplate"):
            params, system_tags = template_params(self.templates, ctx, params)
        image_id = params.get("ImageId")
        if not image_id:
            raise errors.missing("ImageId")
        if not catalog.well_formed_ami(image_id):
            raise errors.ami_malformed(image_id)
        self.images.check_launchable(ctx, image_id)
        min_count, max_count = params["MinCount"], params["MaxCount"]
        if min_count < 1:
            raise errors.invalid_value("MinCount", min_count, "MinCount must be at least 1.")
        if max_count < min_count:
            raise errors.invalid_value(
                "MaxCount", max_count, "MaxCount must be greater than or equal to MinCount."
            )
        if min_count > MAX_PER_CALL:
            raise errors.ServiceError(
                "InstanceLimitExceeded",
                f"You have requested more instances ({min_count}) than your current instance "
                f"limit of {MAX_PER_CALL} allows for the specified instance type.",
            )
        token = params.get("ClientToken") or ""
        if token:
            same = [i for i in self._mine(ctx) if i.client_token == token]
            if same:
                return self._reservations(same)[0]
        instance_type = params.get("InstanceType") or "m1.small"
        if instance_type not in catalog.INSTANCE_TYPES:
            raise errors.instance_type_invalid(instance_type)
        key_name = params.get("KeyName")
        if key_name and self.keys.by_name(ctx.account_id, ctx.region, key_name) is None:
            raise errors.key_not_found(key_name)
        behavior = params.get("InstanceInitiatedShutdownBehavior") or "stop"
        if behavior not in ("stop", "terminate"):
            raise errors.invalid_value("InstanceInitiatedShutdownBehavior", behavior)
        user_data = params.get("UserData") or None
        if user_data:
            try:
                base64.b64decode(user_data, validate=True)
            except (binascii.Error, ValueError):
                raise errors.invalid_value(
                    "UserData", "***", "Invalid BASE64 encoding of user data."
                ) from None
        metadata_options = _metadata_options(params.get("MetadataOptions") or {})
        groups = self._launch_groups(ctx, params)
        zone, subnet_id = self._placement(ctx, params)
        profile = params.get("IamInstanceProfile") or None
        if profile:
            name = profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1]
            profile = {
                "Arn": profile.get("Arn")
                or f"arn:aws:iam::{ctx.account_id}:instance-profile/{name}",
                "Id": "AIPA" + token_hex(8).upper()[:17],
            }
        tags: dict[str, str] = {}
        for spec in params.get("TagSpecifications") or []:
            if spec.get("ResourceType") == "instance":
                tags.update({t["Key"]: t.get("Value") or "" for t in spec.get("Tags") or []})
        # Other services (AutoScaling) launch with their ``aws:`` tags, as AWS does.
        self.tags.check(tag_list(tags), system=isinstance(ctx, InternalContext))
        tags.update(system_tags)
        reservation_id = "r-" + token_hex(9)[:17]
        count = min(max_count, MAX_PER_CALL)
        launched = []
        for index in range(count):
            inst = self.engine.new_instance(
                account=ctx.account_id,
                region=ctx.region,
                reservation_id=reservation_id,
                image_id=image_id,
                instance_type=instance_type,
                zone=zone,
                subnet_id=subnet_id,
                vpc_id=network.default_vpc_id(ctx.account_id, ctx.region),
                launch_time=clock.time(),
                ami_launch_index=index,
                key_name=key_name,
                groups=groups,
                user_data=user_data,
                shutdown_behavior=behavior,
                iam_profile=profile,
                client_token=token,
                metadata_options=metadata_options or None,
            )
            if tags:
                self.tags.add(inst.id, tag_list(tags), system=True)  # checked above
            launched.append(inst)
        for inst in launched:
            self.engine.boot(inst)
        return {
            "ReservationId": reservation_id,
            "OwnerId": ctx.account_id,
            "Groups": [],
            "Instances": [self._shape(i, "pending") for i in launched],
        }

    def describe_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        ids = params.get("InstanceIds") or []
        if ids and params.get("MaxResults") is not None:
            raise errors.invalid_combination(
                "The parameter instancesSet cannot be used with the parameter maxResults"
            )
        instances = self._find(ctx, ids) if ids else self._mine(ctx)
        instances = filters.apply(
            instances, params.get("Filters"), _INSTANCE_FILTERS, lambda i: self.tags.of(i.id)
        )
        page, token = filters.page(instances, params.get("MaxResults"), params.get("NextToken"))
        out: Result = {"Reservations": self._reservations(page)}
        if token:
            out["NextToken"] = token
        return out

    def describe_instance_status(self, ctx: Any, params: dict[str, Any]) -> Result:
        ids = params.get("InstanceIds") or []
        instances = self._find(ctx, ids) if ids else self._mine(ctx)
        if not params.get("IncludeAllInstances"):
            instances = [i for i in instances if i.state == "running"]
        instances = filters.apply(instances, params.get("Filters"), _STATUS_FILTERS)
        page, token = filters.page(instances, params.get("MaxResults"), params.get("NextToken"))
        statuses = []
        for inst in page:
            status = _health(inst)
            check = [{"Name": "reachability", "Status": "passed"}] if status == "ok" else []
            statuses.append(
                {
                    "InstanceId": inst.id,
                    "AvailabilityZone": inst.zone,
                    "InstanceState": _state(inst.state),
                    "InstanceStatus": {"Status": status, "Details": check},
                    "SystemStatus": {"Status": status, "Details": list(check)},
                }
            )
        out: Result = {"InstanceStatuses": statuses}
        if token:
            out["NextToken"] = token
        return out

    def _change(self, inst: Instance, previous: str) -> Result:
        return {
            "InstanceId": inst.id,
            "CurrentState": _state(inst.state),
            "PreviousState": _state(previous),
        }

    def start_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        instances = self._find(ctx, params.get("InstanceIds") or [])
        for inst in instances:
            if inst.state not in ("stopped", "pending", "running"):
                raise errors.incorrect_state(
                    inst.id, "is not in a state from which it can be started."
                )
        out = []
        for inst in instances:
            previous = inst.state
            if previous == "stopped":
                self.engine.start(inst)
                out.append({**self._change(inst, previous), "CurrentState": _state("pending")})
            else:
                out.append(self._change(inst, previous))
        return {"StartingInstances": out}

    def stop_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        instances = self._find(ctx, params.get("InstanceIds") or [])
        for inst in instances:
            if inst.state in ("shutting-down", "terminated"):
                raise errors.incorrect_state(
                    inst.id, "is not in a state from which it can be stopped."
                )
        out = []
        for inst in instances:
            previous = inst.state
            if previous in ("pending", "running"):
                self.engine.stop(inst)
            out.append(self._change(inst, previous))
        return {"StoppingInstances": out}

    def terminate_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        instances = self._find(ctx, params.get("InstanceIds") or [])
        out = []
        for inst in instances:
            previous = inst.state
            if previous != "terminated" and previous != "shutting-down":
                self.engine.terminate(inst)
            out.append(self._change(inst, previous))
        return {"TerminatingInstances": out}

    def reboot_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        instances = self._find(ctx, params.get("InstanceIds") or [])
        for inst in instances:
            if inst.state != "running":
                raise errors.incorrect_state(
                    inst.id, "is not in a state from which it can be rebooted."
                )
        for inst in instances:
            self.engine.reboot(inst)
        return {}

    def get_console_output(self, ctx: Any, params: dict[str, Any]) -> Result:
        (inst,) = self._find(ctx, [params["InstanceId"]])
        out: Result = {"InstanceId": inst.id, "Timestamp": _when(clock.time())}
        if inst.state == "terminated":
            return out
        path = self.engine.directory(inst) / "console.log"
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                data = f.read()
        except FileNotFoundError:
            return out
        out["Output"] = base64.b64encode(data).decode()
        return out

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
        changes = _metadata_options(params)
        if not changes:
            raise errors.missing("HttpTokens, HttpPutResponseHopLimit or HttpEndpoint")
        inst.metadata_options = {**(inst.metadata_options or {}), **changes}
        self.engine.save(inst)
        return {
            "InstanceId": inst.id,
            "InstanceMetadataOptions": {"State": "pending", **imds.options(inst)},
        }
