"""EC2 operations that make the default VPC and its default subnets again.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. The default VPC's lifecycle is ``default_vpc``'s: once deleted,
calls that need it fail as on AWS until CreateDefaultVpc makes a new one (new
ids, a /20 default subnet per zone, internet gateway, route table, ACL and
security group); CreateDefaultSubnet puts a default subnet back in a zone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import default_vpc, errors
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result, vpc_limit
from cloudlet.services.ec2.subnet_ops import SUBNETS_PER_VPC
from cloudlet.services.ec2.vpc_docs import Doc, zone_of


class DefaultVpcOps(NetworkOpsBase):
    _vpc_out: Callable[..., Result]
    _subnet_out: Callable[[Doc], Result]

    def create_default_vpc(self, ctx: Any, params: dict[str, Any]) -> Result:
        if default_vpc.current(self.network, ctx.account_id, ctx.region) is not None:
            raise ServiceError(
                "DefaultVpcAlreadyExists",
                "A Default VPC already exists for this account in this region.",
            )
        if len(self.network.vpcs.mine(ctx.account_id, ctx.region)) >= vpc_limit():
            raise ServiceError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        vpc = default_vpc.create(self.network, ctx.account_id, ctx.region)
        return {"Vpc": self._vpc_out(vpc, "pending")}

    def create_default_subnet(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, zone_id = params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
        if not name and not zone_id:
            raise errors.missing("AvailabilityZone")
        if params.get("Ipv6Native"):
            raise errors.not_built("IPv6-only subnets")
        zone, zone_id = zone_of(ctx.region, name, zone_id)
        vpc = default_vpc.current(self.network, ctx.account_id, ctx.region)
        if vpc is None:
            raise ServiceError(
                "DefaultVpcDoesNotExist", "No default VPC exists for this account in this region."
            )
        existing = self.network.default_subnet(ctx.account_id, ctx.region, zone)
        if existing is not None:
            raise ServiceError(
                "DefaultSubnetAlreadyExistsInAvailabilityZone",
                f"'{existing['SubnetId']}' is already the default subnet in {zone}.",
            )
        if len(self.network.in_vpc(self.network.subnets, vpc["VpcId"])) >= SUBNETS_PER_VPC:
            raise ServiceError(
                "SubnetLimitExceeded", "The maximum number of subnets has been reached."
            )
        cidr = default_vpc.free_block(self.network, vpc)
        if cidr is None:
            raise ServiceError(
                "InvalidSubnet.Range",
                f"No /20 of {vpc['CidrBlock']} is free in the default VPC {vpc['VpcId']} for a "
                "default subnet.",
            )
        subnet = default_vpc.add_subnet(self.network, vpc, zone, zone_id, cidr)
        return {"Subnet": self._subnet_out(subnet)}
