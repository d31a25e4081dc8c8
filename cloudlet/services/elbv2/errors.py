"""The elbv2 errors cloudlet raises, with AWS's codes and messages in one place.

Codes are the botocore error shape names; the query codec writes their wire
codes (``LoadBalancerNotFoundException`` goes out as ``LoadBalancerNotFound``).
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def lb_not_found() -> ServiceError:
    return ServiceError("LoadBalancerNotFoundException", "One or more load balancers not found")


def tg_not_found() -> ServiceError:
    return ServiceError("TargetGroupNotFoundException", "One or more target groups not found")


def listener_not_found() -> ServiceError:
    return ServiceError("ListenerNotFoundException", "One or more listeners not found")


def rule_not_found() -> ServiceError:
    return ServiceError("RuleNotFoundException", "One or more rules not found")


def duplicate_lb() -> ServiceError:
    return ServiceError(
        "DuplicateLoadBalancerNameException", "A load balancer with the same name already exists"
    )


def duplicate_tg() -> ServiceError:
    return ServiceError(
        "DuplicateTargetGroupNameException", "A target group with the same name already exists"
    )


def duplicate_listener() -> ServiceError:
    return ServiceError("DuplicateListenerException", "A listener already exists on this port")


def priority_in_use(priority: int) -> ServiceError:
    return ServiceError("PriorityInUseException", f"Priority '{priority}' is currently in use")


def invalid_target(message: str) -> ServiceError:
    return ServiceError("InvalidTargetException", message)


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message)


def invalid_config(message: str) -> ServiceError:
    return ServiceError("InvalidConfigurationRequestException", message)


def subnet_not_found(subnet: str) -> ServiceError:
    return ServiceError("SubnetNotFoundException", f"The subnet ID '{subnet}' is not valid")


def incompatible_protocols(group: str, listener: str) -> ServiceError:
    return ServiceError(
        "IncompatibleProtocols",
        f"The target group protocol '{group}' is not compatible with the listener protocol"
        f" '{listener}'",
    )
