"""Self-signed X.509 certificates and key pairs for the things this server signs.

Why here: ACM's local CA and SNS's message-signing certificate are both a key
certifying itself for years, and ACM and AWS Private CA both make key pairs by
AWS's algorithm names; one builder each, so they cannot drift apart. The same holds
for CRLs: ACM's own CA (exported public certificates it revoked) and each Private CA
publish a complete CRL (RFC 5280: issuer, updates, CRL number, authority key identifier,
and per certificate its serial, date and reason), differing only in reason names,
lifetime and digest, which callers pass in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
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


Revoked = tuple[int, float, "x509.ReasonFlags | None"]
"""(serial, revocation time in epoch seconds, reason code; None: no reason extension)."""


def complete_crl(
    ca_key: Any,
    ca_cert: x509.Certificate,
    revoked: Iterable[Revoked],
    number: int,
    days: float,
    digest: hashes.HashAlgorithm | None = None,
) -> bytes:
    """The CA's complete CRL (DER), valid for ``days``, listing ``revoked``."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for serial, when, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(dt.datetime.fromtimestamp(when, dt.UTC))
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    signed = builder.sign(ca_key, digest or hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.DER)
