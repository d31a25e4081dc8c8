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
from cloudlet.services.ec2 import catalog, errors, filters, imds
from cloudlet.services.ec2.images import Images
from cloudlet.services.ec2.instance_attributes import metadata_options
from cloudlet.services.ec2.instance_network import dns, interface, interface_id, placement
from cloudlet.services.ec2.instances import STATE_CODES, Instance, InstanceEngine
from cloudlet.services.ec2.keypairs import KeyPairs
from cloudlet.services.ec2.launch_templates import LaunchTemplates, template_params
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.tags import Tags, tag_list
from cloudlet.services.ec2.vpcs import Network

Result = dict[str, Any]
_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
MAX_PER_CALL = 100
_INSTANCE_FILTERS: dict[str, Any] = {
    "instance-id": lambda i: i.id,
    "instance-state-name": lambda i: i.state,
    "instance-state-code": lambda i: str(STATE_CODES[i.state]),
    "private-ip-address": lambda i: i.address if i.state != "terminated" else None,
    "ip-address": lambda i: i.private_ip if _public(i, i.state) else None,
    "network-interface.addresses.private-ip-address": lambda i: i.address,
    "network-interface.network-interface-id": lambda i: interface_id(i),
    "network-interface.subnet-id": lambda i: i.subnet_id,
    "network-interface.vpc-id": lambda i: i.vpc_id,
    "association.public-ip": lambda i: i.private_ip if _public(i, i.state) else None,
    "tenancy": lambda i: i.tenancy,
    "placement-tenancy": lambda i: i.tenancy,
    "image-id": lambda i: i.image_id,
    "instance-type": lambda i: i.instance_type,
    "availability-zone": lambda i: i.zone,
    "placement-availability-zone": lambda i: i.zone,
    "key-name": lambda i: i.key_name,
    "reservation-id": lambda i: i.reservation_id,
    "subnet-id": lambda i: i.subnet_id,
    "vpc-id": lambda i: i.vpc_id,
    "private-dns-name": lambda i: dns(i)[0],
    "dns-name": lambda i: dns(i)[1] if _public(i, i.state) else None,
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


def _public(inst: Instance, state: str) -> bool:
    """A public address exists while the instance runs, if it has one at all."""
    return inst.public and state in ("pending", "running")


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


class InstanceOps:
    engine: InstanceEngine
    network: Network
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
        private_dns, public_dns = dns(inst)
        live = state != "terminated"
        public = _public(inst, state)
        if not self._dns_hostnames(inst):
            public_dns = ""
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
            "Placement": {"AvailabilityZone": inst.zone, "GroupName": "", "Tenancy": inst.tenancy},
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
            out["PrivateIpAddress"] = inst.address
            out["NetworkInterfaces"] = [interface(inst, public, public_dns)]
            # Not in EC2's model, so never on the wire: the address the instance really
            # listens on, for cloudlet's load balancers (``env.call`` hands them this dict).
            out["CloudletHostAddress"] = inst.private_ip
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

    def _dns_hostnames(self, inst: Instance) -> bool:
        vpc = self.network.vpcs.by_id.get(inst.vpc_id)
        return vpc is None or bool(vpc["_attributes"]["EnableDnsHostnames"])

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
        meta_options = metadata_options(params.get("MetadataOptions") or {})
        where = placement(self.network, self.groups, ctx, params, min_count, max_count)
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
        launched = []
        for index, address in enumerate(where.addresses[:MAX_PER_CALL]):
            inst = self.engine.new_instance(
                account=ctx.account_id,
                region=ctx.region,
                reservation_id=reservation_id,
                image_id=image_id,
                instance_type=instance_type,
                zone=where.zone,
                subnet_id=where.subnet["SubnetId"],
                vpc_id=where.vpc_id,
                launch_time=clock.time(),
                ami_launch_index=index,
                key_name=key_name,
                groups=where.groups,
                user_data=user_data,
                shutdown_behavior=behavior,
                iam_profile=profile,
                client_token=token,
                metadata_options=meta_options or None,
                vpc_ip=address,
                public=where.public,
                tenancy=where.tenancy,
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
