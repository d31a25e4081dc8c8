"""Self-signed X.509 certificates for the things this server signs itself.

Why here: ACM's local CA and SNS's message-signing certificate are both a key
certifying itself for years; one builder, so they cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes


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
