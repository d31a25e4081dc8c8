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
