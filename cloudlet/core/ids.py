"""Identifiers: request ids, resource ids, ARNs. Randomness comes from here only."""

from __future__ import annotations

import secrets
import uuid

DEFAULT_ACCOUNT = "000000000000"


def request_id() -> str:
    return str(uuid.uuid4())


def new_uuid() -> str:
    return str(uuid.uuid4())


def fast_uuid() -> str:
    """A random (version 4) UUID string, about half the cost of ``str(uuid.uuid4())``."""
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def token_hex(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def random_bits(bits: int = 63) -> int:
    """A non-negative random integer below ``2**bits`` (nonces, receipt tokens)."""
    return secrets.randbits(bits)


def arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def account_for_access_key(access_key: str | None) -> str:
    """AWS-style: a 12-digit access key id names the account; else the default one."""
    if access_key and len(access_key) == 12 and access_key.isdigit():
        return access_key
    return DEFAULT_ACCOUNT
