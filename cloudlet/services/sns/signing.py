"""Message signatures that subscribers verify as they verify real SNS.

One RSA key and a self-signed certificate per data dir (made on first use,
kept as PEM files next to the service's database; in memory when
ephemeral). ``SigningCertURL`` serves the certificate from this server, so a
subscriber following AWS's verification recipe (fetch the cert, rebuild the
canonical string, check SHA1withRSA for SignatureVersion 1 or SHA256withRSA
for 2) accepts our messages.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cloudlet.core.certificates import self_signed

CERT_PATH = "/_cloudlet/sns/SimpleNotificationService.pem"

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def string_to_sign(message: dict[str, Any]) -> str:
    """AWS's canonical form: ``name\\nvalue\\n`` for each signed key present, sorted."""
    keys = _NOTIFICATION_KEYS if message.get("Type") == "Notification" else _CONFIRMATION_KEYS
    return "".join(f"{k}\n{message[k]}\n" for k in keys if message.get(k) is not None)


class Signer:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._cert_pem = b""
        self._lock = threading.Lock()

    @property
    def cert_pem(self) -> bytes:
        self._load()
        return self._cert_pem

    def sign(self, message: dict[str, Any], version: str = "1") -> str:
        self._load()
        assert self._key is not None
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 - AWS's v1
        raw = self._key.sign(string_to_sign(message).encode(), padding.PKCS1v15(), digest)
        return base64.b64encode(raw).decode()

    def _load(self) -> None:
        """Load or make the key (``SnsService.start`` does it in a thread: RSA
        generation takes a while, and must not stall the event loop)."""
        if self._key is not None:
            return
        with self._lock:
            if self._key is None:
                self._load_locked()

    def _load_locked(self) -> None:
        key_file = cert_file = None
        if self.directory is not None:
            key_file = self.directory / "sns-signing-key.pem"
            cert_file = self.directory / "sns-signing-cert.pem"
            if key_file.exists() and cert_file.exists():
                key = serialization.load_pem_private_key(key_file.read_bytes(), None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._key, self._cert_pem = key, cert_file.read_bytes()
                return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        cert = self_signed(key, name, 3650)
        self._key, self._cert_pem = key, cert.public_bytes(serialization.Encoding.PEM)
        if key_file is not None and cert_file is not None:
            self.directory.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            key_file.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_file.chmod(0o600)
            cert_file.write_bytes(self._cert_pem)
