"""AutoScaling's error codes with AWS's wording, in one place.

AutoScaling speaks the query protocol; its modelled faults carry literal codes
(``AlreadyExists``, ``ResourceInUse``, ``ScalingActivityInProgress``) and
everything else is ``ValidationError``.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def already_exists(message: str) -> ServiceError:
    return ServiceError("AlreadyExists", message)


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message)


def activity_in_progress(message: str) -> ServiceError:
    return ServiceError("ScalingActivityInProgress", message)


def group_not_found(name: str) -> ServiceError:
    return validation(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")


def config_not_found(name: str) -> ServiceError:
    return validation(
        f"Launch configuration name not found - Launch configuration {name} not found"
    )


def policy_not_found(name: str) -> ServiceError:
    return validation(f"No such policy: {name}")


def refresh_in_progress() -> ServiceError:
    return ServiceError(
        "InstanceRefreshInProgress",
        "An Instance Refresh is already in progress and blocks the execution of this "
        "Instance Refresh.",
    )


def no_active_refresh(name: str) -> ServiceError:
    return ServiceError(
        "ActiveInstanceRefreshNotFound",
        f"No in progress or pending Instance Refresh found for Auto Scaling group {name}",
    )


def irreversible() -> ServiceError:
    return ServiceError(
        "IrreversibleInstanceRefresh",
        "The request failed because a desired configuration was not found or an incompatible "
        "launch template (uses a Systems Manager parameter instead of an AMI ID) or launch "
        "template version ($Latest or $Default) is present on the Auto Scaling group.",
    )


def refresh_owns_configuration() -> ServiceError:
    return validation(
        "An active instance refresh with a desired configuration exists. All configuration "
        "options derived from the desired configuration are not available for update while "
        "the instance refresh is active."
    )
