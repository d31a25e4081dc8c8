"""IAM's errors with AWS's codes, statuses and wording, in one place."""

from __future__ import annotations

from cloudlet.core.errors import ServiceError

_KIND_WORDS = {
    "user": "user",
    "group": "group",
    "role": "role",
    "instance_profile": "Instance Profile",
}


def no_such_entity(message: str) -> ServiceError:
    return ServiceError("NoSuchEntity", message, 404)


def not_found(kind: str, name: str) -> ServiceError:
    if kind == "instance_profile":
        return no_such_entity(f"Instance Profile {name} cannot be found.")
    if kind == "policy":
        return no_such_entity(f"Policy {name} does not exist or is not attachable.")
    return no_such_entity(f"The {_KIND_WORDS[kind]} with name {name} cannot be found.")


def already_exists(kind: str, name: str) -> ServiceError:
    words = {
        "user": "User",
        "group": "Group",
        "role": "Role",
        "instance_profile": "Instance Profile",
    }
    return ServiceError(
        "EntityAlreadyExists", f"{words[kind]} with name {name} already exists.", 409
    )


def entity_already_exists(message: str) -> ServiceError:
    return ServiceError("EntityAlreadyExists", message, 409)


def delete_conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message, 409)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 409)


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


def invalid_input(message: str) -> ServiceError:
    return ServiceError("InvalidInput", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def invalid_user_type(message: str) -> ServiceError:
    return ServiceError("InvalidUserType", message, 400)


def password_policy_violation() -> ServiceError:
    return ServiceError(
        "PasswordPolicyViolation", "Password does not conform to the account password policy.", 400
    )


def invalid_authentication_code(message: str) -> ServiceError:
    return ServiceError("InvalidAuthenticationCode", message, 403)


def malformed_certificate(message: str) -> ServiceError:
    return ServiceError("MalformedCertificate", message, 400)


def key_pair_mismatch(message: str) -> ServiceError:
    return ServiceError("KeyPairMismatch", message, 400)


def invalid_public_key(message: str) -> ServiceError:
    return ServiceError("InvalidPublicKey", message, 400)


def unrecognized_public_key_encoding(message: str) -> ServiceError:
    return ServiceError("UnrecognizedPublicKeyEncoding", message, 400)


def duplicate_ssh_public_key(message: str) -> ServiceError:
    return ServiceError("DuplicateSSHPublicKey", message, 400)


def invalid_certificate(message: str) -> ServiceError:
    return ServiceError("InvalidCertificate", message, 400)


def duplicate_certificate(message: str) -> ServiceError:
    return ServiceError("DuplicateCertificate", message, 409)


def not_supported_service(message: str) -> ServiceError:
    return ServiceError("NotSupportedService", message, 404)
