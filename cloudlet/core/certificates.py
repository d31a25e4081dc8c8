"""Self-signed X.509 certificates and key pairs for the things this server signs.

Why here: ACM's local CA and SNS's message-signing certificate are both a key
certifying itself for years, and ACM and AWS Private CA both make key pairs by
AWS's algorithm names; one builder each, so they cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEY_ALGORITHMS: dict[str, tuple[str, Any]] = {
    "RSA_1024": ("rsa", 1024),
    "RSA_2048": ("rsa", 2048),
    "RSA_3072": ("rsa", 3072),
    "RSA_4096": ("rsa", 4096),
    "EC_prime256v1": ("ec", ec.SECP256R1()),
    "EC_secp384r1": ("ec", ec.SECP384R1()),
    "EC_secp521r1": ("ec", ec.SECP521R1()),
}
"""AWS's key algorithm names (ACM's ``KeyAlgorithm``, Private CA's) and what they make."""


def new_key(algorithm: str = "RSA_2048") -> Any:
    """A new private key of one of ``KEY_ALGORITHMS``."""
    kind, size = KEY_ALGORITHMS[algorithm]
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    return ec.generate_private_key(size)


def self_signed(
    key: Any,
    subject: x509.Name,
    days: int,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> x509.Certificate:
    """A certificate of ``key`` for ``subject`` signed by itself (SHA-256), valid from
    a few minutes ago for ``days``; ``extensions`` are ``(extension, critical)``."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())
