"""EC2's error codes with AWS's messages, in one place.

EC2 errors are not modelled in botocore: the code is the literal string AWS
sends (``InvalidInstanceID.NotFound``) and every one is HTTP 400 except the
server-side ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudlet.core.errors import ServiceError


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def instance_not_found(ids: list[str]) -> ServiceError:
    if len(ids) == 1:
        return ServiceError(
            "InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist"
        )
    return ServiceError(
        "InvalidInstanceID.NotFound", f"The instance IDs '{_ids(ids)}' do not exist"
    )


def malformed(code: str, value: str, prefix: str) -> ServiceError:
    return ServiceError(code, f'Invalid id: "{value}" (expecting "{prefix}-...")')


def incorrect_state(instance_id: str, message: str) -> ServiceError:
    return ServiceError("IncorrectInstanceState", f"The instance '{instance_id}' {message}")


def key_not_found(name: str) -> ServiceError:
    return ServiceError("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")


def key_duplicate(name: str) -> ServiceError:
    return ServiceError("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")


def key_format(message: str = "Key is not in valid OpenSSH public key format") -> ServiceError:
    return ServiceError("InvalidKey.Format", message)


def group_not_found(ref: str, vpc_id: str | None = None) -> ServiceError:
    if vpc_id and not ref.startswith("sg-"):
        return ServiceError(
            "InvalidGroup.NotFound",
            f"The security group '{ref}' does not exist in default VPC '{vpc_id}'",
        )
    return ServiceError("InvalidGroup.NotFound", f"The security group '{ref}' does not exist")


def group_duplicate(name: str, vpc_id: str) -> ServiceError:
    return ServiceError(
        "InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc_id}'"
    )


def group_reserved(name: str) -> ServiceError:
    return ServiceError("InvalidGroup.Reserved", f"The security group '{name}' is reserved.")


def cannot_delete(group_id: str) -> ServiceError:
    return ServiceError(
        "CannotDelete",
        f'the specified group: "{group_id}" name: "default" cannot be deleted by a user',
    )


def group_in_use(group_id: str, instance_id: str) -> ServiceError:
    return ServiceError(
        "DependencyViolation",
        f"resource {group_id} has a dependent object",
    )


def permission_duplicate(group_id: str, rule: str) -> ServiceError:  # noqa: ARG001
    return ServiceError(
        "InvalidPermission.Duplicate",
        f'the specified rule "{rule}" already exists',
    )


def permission_not_found() -> ServiceError:
    return ServiceError(
        "InvalidPermission.NotFound",
        "The specified rule does not exist in this security group.",
    )


def missing(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}")


def invalid_value(name: str, value: object, why: str = "") -> ServiceError:
    message = f"Value ({value}) for parameter {name} is invalid."
    return ServiceError("InvalidParameterValue", f"{message} {why}".strip())


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message)


def ami_malformed(value: str) -> ServiceError:
    return ServiceError("InvalidAMIID.Malformed", f'Invalid id: "{value}" (expecting "ami-...")')


def ami_not_found(value: str) -> ServiceError:
    return ServiceError("InvalidAMIID.NotFound", f"The image id '[{value}]' does not exist")


def subnet_not_found(value: str) -> ServiceError:
    return ServiceError("InvalidSubnetID.NotFound", f"The subnet ID '{value}' does not exist")


def vpc_not_found(value: str) -> ServiceError:
    return ServiceError("InvalidVpcID.NotFound", f"The vpc ID '{value}' does not exist")


def instance_type_invalid(value: str) -> ServiceError:
    return invalid_value("InstanceType", value, f"The instance type '{value}' does not exist.")


def zone_invalid(value: str) -> ServiceError:
    return invalid_value("availabilityZone", value, f"Invalid availability zone: [{value}]")


def next_token_invalid(value: str) -> ServiceError:
    return ServiceError("InvalidNextToken", f"The token '{value}' is invalid.")


_NOT_FOUND_CODES = {
    "internetGateway": "InvalidInternetGatewayID.NotFound",
    "routeTable": "InvalidRouteTableID.NotFound",
    "networkAcl": "InvalidNetworkAclID.NotFound",
    "association": "InvalidAssociationID.NotFound",
    "natGateway": "InvalidNatGatewayID.NotFound",
    "networkInterface": "InvalidNetworkInterfaceID.NotFound",
    "vpcPeeringConnection": "InvalidVpcPeeringConnectionID.NotFound",
    "transitGateway": "InvalidTransitGatewayID.NotFound",
    "vpcEndpoint": "InvalidVpcEndpointId.NotFound",
    "egressOnlyInternetGateway": "InvalidGatewayID.NotFound",
    "carrierGateway": "InvalidCarrierGatewayID.NotFound",
    "localGateway": "InvalidLocalGatewayID.NotFound",
    "prefixList": "InvalidPrefixListID.NotFound",
    "dhcpOption": "InvalidDhcpOptionID.NotFound",
}


def not_found(kind: str, value: str) -> ServiceError:
    """``The routeTable ID 'rtb-...' does not exist``, under the kind's own code."""
    return ServiceError(_NOT_FOUND_CODES[kind], f"The {kind} ID '{value}' does not exist")


def dependency(kind: str, value: str) -> ServiceError:
    return ServiceError(
        "DependencyViolation", f"The {kind} '{value}' has dependencies and cannot be deleted."
    )


def no_default_vpc(what: str = "") -> ServiceError:
    """What EC2 answers where a call needs the default VPC and there is none."""
    message = "No default VPC for this user"
    return ServiceError("VPCIdNotSpecified", f"{message}. {what}" if what else message)


def state_transition(pcx_id: str, current: str, wanted: str) -> ServiceError:
    return ServiceError(
        "InvalidStateTransition",
        f"Invalid state transition for {pcx_id}, attempted to transition from {current} "
        f"to {wanted}",
    )


def not_permitted(message: str) -> ServiceError:
    return ServiceError("OperationNotPermitted", message)


def not_built(what: str) -> ServiceError:
    """A parameter value asking for something cloudlet does not do yet: 501, as unbuilt
    operations answer, never a success that does nothing."""
    return ServiceError("NotImplemented", f"{what} is not implemented in cloudlet yet", 501)
