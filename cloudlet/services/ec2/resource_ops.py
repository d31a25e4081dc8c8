"""EC2 operations around instances: types, zones, keys, groups, tags.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.ec2 import catalog, errors, filters
from cloudlet.services.ec2.images import Images
from cloudlet.services.ec2.instance_ops import check_instance_ids
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.interface_ops import owned_interface
from cloudlet.services.ec2.keypairs import KeyPair, KeyPairs
from cloudlet.services.ec2.launch_templates import LaunchTemplates
from cloudlet.services.ec2.peerings import Peerings
from cloudlet.services.ec2.prefix_lists import PrefixLists
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.tags import Tags, resource_type, tag_list
from cloudlet.services.ec2.vpcs import Network

Result = dict[str, Any]

_TYPE_FILTERS: dict[str, Any] = {
    "instance-type": lambda t: t["InstanceType"],
    "current-generation": lambda t: str(t["CurrentGeneration"]).lower(),
    "free-tier-eligible": lambda t: str(t["FreeTierEligible"]).lower(),
    "vcpu-info.default-vcpus": lambda t: str(t["VCpuInfo"]["DefaultVCpus"]),
    "memory-info.size-in-mib": lambda t: str(t["MemoryInfo"]["SizeInMiB"]),
    "processor-info.supported-architecture": lambda t: t["ProcessorInfo"]["SupportedArchitectures"],
    "burstable-performance-supported": lambda t: str(t["BurstablePerformanceSupported"]).lower(),
}
_ZONE_FILTERS: dict[str, Any] = {
    "zone-name": lambda z: z["ZoneName"],
    "zone-id": lambda z: z["ZoneId"],
    "region-name": lambda z: z["RegionName"],
    "state": lambda z: z["State"],
    "zone-type": lambda z: z["ZoneType"],
}
_REGION_FILTERS: dict[str, Any] = {
    "region-name": lambda r: r["RegionName"],
    "endpoint": lambda r: r["Endpoint"],
    "opt-in-status": lambda r: r["OptInStatus"],
}
_KEY_FILTERS: dict[str, Any] = {
    "key-name": lambda k: k["KeyName"],
    "key-pair-id": lambda k: k["KeyPairId"],
    "fingerprint": lambda k: k["KeyFingerprint"],
    "key-type": lambda k: k["KeyType"],
}
_GROUP_FILTERS: dict[str, Any] = {
    "group-id": lambda g: g["GroupId"],
    "group-name": lambda g: g["GroupName"],
    "description": lambda g: g["Description"],
    "vpc-id": lambda g: g["VpcId"],
    "owner-id": lambda g: g["OwnerId"],
}
_TAG_FILTERS: dict[str, Any] = {
    "resource-id": lambda t: t["ResourceId"],
    "resource-type": lambda t: t["ResourceType"],
    "key": lambda t: t["Key"],
    "value": lambda t: t["Value"],
}


def _zones(region: str) -> list[Result]:
    return [
        {
            "ZoneName": name,
            "ZoneId": catalog.zone_id(region, index),
            "State": "available",
            "RegionName": region,
            "ZoneType": "availability-zone",
            "OptInStatus": "opt-in-not-required",
            "GroupName": region,
            "NetworkBorderGroup": region,
            "Messages": [],
        }
        for index, name in enumerate(catalog.zone_names(region))
    ]


def _select(items: list[Result], key: str, wanted: list[str] | None, missing: Any) -> list[Result]:
    """Keep ``items`` whose ``key`` is in ``wanted`` (all if not given); unknown ones fail."""
    if not wanted:
        return items
    by_key = {item[key]: item for item in items}
    absent = [w for w in wanted if w not in by_key]
    if absent:
        raise missing(absent[0])
    return [by_key[w] for w in dict.fromkeys(wanted)]


def _check_blocks(perm: dict[str, Any]) -> None:
    """A rule's CIDR blocks must parse (``guard`` matches addresses against them)."""
    for field, key, kind in (
        ("IpRanges", "CidrIp", ipaddress.IPv4Network),
        ("Ipv6Ranges", "CidrIpv6", ipaddress.IPv6Network),
    ):
        for item in perm.get(field) or []:
            try:
                kind(str(item.get(key)), strict=False)
            except ValueError:
                raise errors.ServiceError(
                    "InvalidParameterValue", f"CIDR block {item.get(key)} is malformed"
                ) from None


class ResourceOps:
    engine: InstanceEngine
    network: Network
    templates: LaunchTemplates
    images: Images
    tags: Tags
    groups: SecurityGroups
    keys: KeyPairs
    peerings: Peerings
    prefix_lists: PrefixLists

    def _with_tags(self, item: Result, resource_id: str) -> Result:
        tags = self.tags.of(resource_id)
        return {**item, "Tags": tag_list(tags)} if tags else item

    # -- types, regions, zones ------------------------------------------

    def describe_instance_types(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params.get("InstanceTypes") or list(catalog.INSTANCE_TYPES)
        for name in names:
            if name not in catalog.INSTANCE_TYPES:
                raise errors.instance_type_invalid(name)
        items = [catalog.instance_type_info(n) for n in dict.fromkeys(names)]
        items = filters.apply(items, params.get("Filters"), _TYPE_FILTERS)
        page, token = filters.page(items, params.get("MaxResults"), params.get("NextToken"), 5, 100)
        out: Result = {"InstanceTypes": page}
        if token:
            out["NextToken"] = token
        return out

    def describe_regions(self, ctx: Any, params: dict[str, Any]) -> Result:
        regions = [
            {
                "RegionName": r,
                "Endpoint": f"ec2.{r}.amazonaws.com",
                "OptInStatus": "opt-in-not-required",
            }
            for r in catalog.REGIONS
        ]
        wanted = params.get("RegionNames") or []
        for name in wanted:
            if name not in catalog.REGIONS:
                raise errors.invalid_value("RegionName", name, f"Invalid region: {name}")
        if wanted:
            regions = [r for r in regions if r["RegionName"] in wanted]
        return {"Regions": filters.apply(regions, params.get("Filters"), _REGION_FILTERS)}

    def describe_availability_zones(self, ctx: Any, params: dict[str, Any]) -> Result:
        zones = _zones(ctx.region)
        zones = _select(zones, "ZoneName", params.get("ZoneNames"), errors.zone_invalid)
        ids = params.get("ZoneIds") or []
        if ids:
            zones = [z for z in zones if z["ZoneId"] in ids]
        return {"AvailabilityZones": filters.apply(zones, params.get("Filters"), _ZONE_FILTERS)}

    # -- key pairs ---------------------------------------------------------------

    def _key_shape(self, pair: KeyPair, public: bool = False) -> Result:
        out = {k: v for k, v in pair.items() if not k.startswith("_") and k != "PublicKey"}
        out["CreateTime"] = datetime.fromtimestamp(pair["CreateTime"], UTC)
        if public:
            out["PublicKey"] = pair["PublicKey"]
        return self._with_tags(out, pair["KeyPairId"])

    def create_key_pair(self, ctx: Any, params: dict[str, Any]) -> Result:
        pair, private = self.keys.create(
            ctx.account_id,
            ctx.region,
            params["KeyName"],
            params.get("KeyType") or "rsa",
            params.get("KeyFormat") or "pem",
        )
        self._tag_new(pair["KeyPairId"], params, "key-pair")
        return {
            "KeyName": pair["KeyName"],
            "KeyFingerprint": pair["KeyFingerprint"],
            "KeyMaterial": private,
            "KeyPairId": pair["KeyPairId"],
            **(
                {"Tags": tag_list(self.tags.of(pair["KeyPairId"]))}
                if self.tags.of(pair["KeyPairId"])
                else {}
            ),
        }

    def import_key_pair(self, ctx: Any, params: dict[str, Any]) -> Result:
        material = params["PublicKeyMaterial"]
        if isinstance(material, str):
            material = material.encode()
        pair = self.keys.import_key(ctx.account_id, ctx.region, params["KeyName"], material)
        self._tag_new(pair["KeyPairId"], params, "key-pair")
        out = {
            "KeyName": pair["KeyName"],
            "KeyFingerprint": pair["KeyFingerprint"],
            "KeyPairId": pair["KeyPairId"],
        }
        return self._with_tags(out, pair["KeyPairId"])

    def describe_key_pairs(self, ctx: Any, params: dict[str, Any]) -> Result:
        pairs = self.keys.visible(ctx.account_id, ctx.region)
        names = params.get("KeyNames") or []
        ids = params.get("KeyPairIds") or []
        if names:
            pairs = _select(pairs, "KeyName", names, errors.key_not_found)
        if ids:
            pairs = _select(pairs, "KeyPairId", ids, errors.key_not_found)
        pairs = filters.apply(
            pairs, params.get("Filters"), _KEY_FILTERS, lambda k: self.tags.of(k["KeyPairId"])
        )
        public = bool(params.get("IncludePublicKey"))
        return {"KeyPairs": [self._key_shape(p, public) for p in pairs]}

    def delete_key_pair(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, pair_id = params.get("KeyName"), params.get("KeyPairId")
        if not name and not pair_id:
            raise errors.missing("KeyName")
        for pair in self.keys.visible(ctx.account_id, ctx.region):
            if pair["KeyName"] == name or pair["KeyPairId"] == pair_id:
                self.keys.delete(pair)
                self.tags.drop(pair["KeyPairId"])
                return {"Return": True, "KeyPairId": pair["KeyPairId"]}
        return {"Return": True}

    # -- security groups ---------------------------------------------------------

    def create_security_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc_id = params.get("VpcId") or self.network.default_vpc_id(ctx.account_id, ctx.region)
        if vpc_id is None:
            raise errors.no_default_vpc(
                "GroupName is only supported for EC2-Classic and default VPC."
            )
        vpc = self.network.vpc(ctx.account_id, ctx.region, vpc_id)
        group = self.groups.create(
            ctx.account_id,
            ctx.region,
            params.get("GroupName") or "",
            params.get("Description") or "",
            vpc["VpcId"],
        )
        self._tag_new(group["GroupId"], params, "security-group")
        out: Result = {"GroupId": group["GroupId"]}
        out["SecurityGroupArn"] = self.groups.describe(group, {})["SecurityGroupArn"]
        tags = self.tags.of(group["GroupId"])
        if tags:
            out["Tags"] = tag_list(tags)
        return out

    def describe_security_groups(self, ctx: Any, params: dict[str, Any]) -> Result:
        groups = self.groups.visible(ctx.account_id, ctx.region)
        ids = params.get("GroupIds") or []
        names = params.get("GroupNames") or []
        for group_id in ids:
            self.groups.find(ctx.account_id, ctx.region, group_id, None)
        for name in names:
            self.groups.find(ctx.account_id, ctx.region, None, name)
        if ids or names:
            groups = [g for g in groups if g["GroupId"] in ids or g["GroupName"] in names]
        groups = filters.apply(
            groups, params.get("Filters"), _GROUP_FILTERS, lambda g: self.tags.of(g["GroupId"])
        )
        page, token = filters.page(groups, params.get("MaxResults"), params.get("NextToken"))
        out: Result = {
            "SecurityGroups": [self.groups.describe(g, self.tags.of(g["GroupId"])) for g in page]
        }
        if token:
            out["NextToken"] = token
        return out

    def delete_security_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self.groups.find(
            ctx.account_id, ctx.region, params.get("GroupId"), params.get("GroupName")
        )
        if group["GroupName"] == "default":
            raise errors.cannot_delete(group["GroupId"])
        for inst in self.engine.instances.values():
            if inst.state != "terminated" and any(
                g["GroupId"] == group["GroupId"] for g in inst.groups
            ):
                raise errors.group_in_use(group["GroupId"], inst.id)
        self.groups.delete(group)
        self.tags.drop(group["GroupId"])
        return {"Return": True, "GroupId": group["GroupId"]}

    def _rules(self, ctx: Any, params: dict[str, Any], egress: bool, add: bool) -> Result:
        group = self.groups.find(
            ctx.account_id, ctx.region, params.get("GroupId"), params.get("GroupName")
        )
        permissions = list(params.get("IpPermissions") or [])
        if not permissions and not egress and (params.get("CidrIp") or params.get("IpProtocol")):
            legacy = {"IpProtocol": params.get("IpProtocol") or "-1"}
            for key in ("FromPort", "ToPort"):
                if params.get(key) is not None:
                    legacy[key] = params[key]
            if params.get("CidrIp"):
                legacy["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
            permissions = [legacy]
        if not permissions:
            raise errors.missing("IpPermissions")
        for perm in permissions:
            _check_blocks(perm)
            for pair in perm.get("UserIdGroupPairs") or []:
                # The account's own groups must exist; one named (the default VPC's way)
                # is recorded by id, which is what ``guard`` matches members by.
                if pair.get("UserId") not in (None, ctx.account_id):
                    continue
                if pair.get("GroupId") or pair.get("GroupName"):
                    found = self.groups.find(
                        ctx.account_id, ctx.region, pair.get("GroupId"), pair.get("GroupName")
                    )
                    pair["GroupId"] = found["GroupId"]
            for item in perm.get("PrefixListIds") or []:
                self.prefix_lists.find(
                    ctx.account_id, ctx.region, item.get("PrefixListId"), "InvalidPrefixListId"
                )
        if add:
            self.groups.authorize(group, permissions, egress)
        else:
            self.groups.revoke(group, permissions, egress)
        # Members' maps (egress) and those of instances mapping members (ingress): the
        # group's VPC and, through ``refresh``, its active peers.
        self.engine.vpc_maps.refresh(group["VpcId"])
        return {"Return": True}

    def authorize_security_group_ingress(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._rules(ctx, params, egress=False, add=True)

    def authorize_security_group_egress(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._rules(ctx, params, egress=True, add=True)

    def revoke_security_group_ingress(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._rules(ctx, params, egress=False, add=False)

    def revoke_security_group_egress(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._rules(ctx, params, egress=True, add=False)

    # -- tags --------------------------------------------------------------------

    def _tag_new(self, resource_id: str, params: dict[str, Any], kind: str) -> None:
        for spec in params.get("TagSpecifications") or []:
            if spec.get("ResourceType") == kind and spec.get("Tags"):
                self.tags.add(resource_id, spec["Tags"])

    def _owned(self, ctx: Any, resource_id: str) -> bool:
        kind = resource_type(resource_id)
        if kind == "instance":
            inst = self.engine.instances.get(resource_id)
            return inst is not None and inst.account == ctx.account_id and inst.region == ctx.region
        if kind == "security-group":
            group = self.groups.groups.get(resource_id)
            return (
                group is not None
                and group["OwnerId"] == ctx.account_id
                and group["_region"] == ctx.region
            )
        if kind == "key-pair":
            pair = self.keys.pairs.get(resource_id)
            return (
                pair is not None
                and pair["_account"] == ctx.account_id
                and pair["_region"] == ctx.region
            )
        if kind == "network-interface":
            return owned_interface(self.engine, ctx, resource_id)
        if kind == "vpc-peering-connection":
            seen = self.peerings.visible(ctx.account_id, ctx.region)
            return any(doc["VpcPeeringConnectionId"] == resource_id for doc, _ in seen)
        kinds = self.network.kinds()
        if kind in kinds:
            self.network.ensure_defaults(ctx.account_id, ctx.region)
            return kinds[kind].get(ctx.account_id, ctx.region, resource_id) is not None
        if kind == "launch-template":
            template = self.templates.by_id.get(resource_id)
            return (
                template is not None
                and template["_account"] == ctx.account_id
                and template["_region"] == ctx.region
            )
        if kind == "image" and resource_id in self.images.by_id:
            image = self.images.get(ctx, resource_id)
            return image is not None and image["State"] != "deregistered"
        return kind == "image" and catalog.well_formed_ami(resource_id)

    def _check_resources(self, ctx: Any, ids: list[str]) -> None:
        if not ids:
            raise errors.missing("ResourceId")
        for resource_id in ids:
            if resource_type(resource_id) == "instance":
                check_instance_ids([resource_id])
            if self._owned(ctx, resource_id):
                continue
            if resource_type(resource_id) == "instance":
                raise errors.instance_not_found([resource_id])
            raise errors.ServiceError("InvalidID", f'The ID "{resource_id}" is not valid')

    def create_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        ids = params.get("Resources") or []
        self._check_resources(ctx, ids)
        for resource_id in ids:
            self.tags.add(resource_id, params.get("Tags") or [])
        return {}

    def delete_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        ids = params.get("Resources") or []
        self._check_resources(ctx, ids)
        for resource_id in ids:
            self.tags.remove(resource_id, params.get("Tags"))
        return {}

    def describe_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        items = [t for t in self.tags.all() if self._owned(ctx, t["ResourceId"])]
        items = filters.apply(items, params.get("Filters"), _TAG_FILTERS)
        page, token = filters.page(items, params.get("MaxResults"), params.get("NextToken"))
        out: Result = {"Tags": page}
        if token:
            out["NextToken"] = token
        return out
