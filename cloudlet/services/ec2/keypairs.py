"""Key pairs with real key material.

CreateKeyPair generates a real RSA (2048-bit) or ED25519 key and returns the
private key once, as AWS does (PEM for RSA, OpenSSH for ED25519); only the
public key is kept. Fingerprints follow AWS's documented rules: a created RSA
key is the SHA-1 of its PKCS#8 private key, an imported RSA key the MD5 of its
public key (DER), and ED25519 keys the base64 SHA-256 of the OpenSSH public key.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from cloudlet.core.clock import clock
from cloudlet.core.ids import token_hex
from cloudlet.services.ec2 import errors
from cloudlet.services.ec2.store import Store

KeyPair = dict[str, Any]


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _ssh_public(key: Any) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _ed25519_fingerprint(public_key: ed25519.Ed25519PublicKey) -> str:
    blob = base64.b64decode(_ssh_public(public_key).split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def generate(key_type: str) -> tuple[str, str, str]:
    """(private key text, OpenSSH public key, fingerprint) for a new key."""
    if key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        return private, _ssh_public(key.public_key()), _ed25519_fingerprint(key.public_key())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private, _ssh_public(key.public_key()), _colon_hex(hashlib.sha1(pkcs8).digest())


def parse_public(material: bytes) -> tuple[str, str, str]:
    """(key type, OpenSSH public key, fingerprint) of imported public key material."""
    text = material.strip()
    key: Any
    try:
        if text.startswith((b"ssh-", b"ecdsa-")):
            key = serialization.load_ssh_public_key(b" ".join(text.split()[:2]))
        elif text.startswith(b"-----"):
            key = serialization.load_pem_public_key(text)
        else:
            key = serialization.load_der_public_key(material)
    except (ValueError, TypeError, IndexError):
        raise errors.key_format() from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", _ssh_public(key), _ed25519_fingerprint(key)
    if isinstance(key, rsa.RSAPublicKey):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "rsa", _ssh_public(key), _colon_hex(hashlib.md5(der).digest())  # noqa: S324
    raise errors.key_format("Key is not in valid OpenSSH public key format")


class KeyPairs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pairs: dict[str, KeyPair] = {doc["KeyPairId"]: doc for doc in store.load("key")}

    def visible(self, account: str, region: str) -> list[KeyPair]:
        return [
            p for p in self.pairs.values() if p["_account"] == account and p["_region"] == region
        ]

    def by_name(self, account: str, region: str, name: str) -> KeyPair | None:
        for pair in self.visible(account, region):
            if pair["KeyName"] == name:
                return pair
        return None

    def _check_new(self, account: str, region: str, name: str) -> None:
        if not name:
            raise errors.missing("KeyName")
        if len(name) > 255 or not name.isascii():
            raise errors.invalid_value("KeyName", name, "Length exceeds maximum of 255.")
        if self.by_name(account, region, name) is not None:
            raise errors.key_duplicate(name)

    def _add(
        self, account: str, region: str, name: str, key_type: str, public: str, fingerprint: str
    ) -> KeyPair:
        pair = {
            "KeyPairId": "key-" + token_hex(9)[:17],
            "KeyName": name,
            "KeyType": key_type,
            "KeyFingerprint": fingerprint,
            "PublicKey": public,
            "CreateTime": clock.time(),
            "_account": account,
            "_region": region,
        }
        self.pairs[pair["KeyPairId"]] = pair
        self.store.put("key", pair["KeyPairId"], pair)
        return pair

    def create(
        self, account: str, region: str, name: str, key_type: str, key_format: str
    ) -> tuple[KeyPair, str]:
        self._check_new(account, region, name)
        if key_type not in ("rsa", "ed25519"):
            raise errors.invalid_value("KeyType", key_type)
        if key_format != "pem":
            raise errors.invalid_value("KeyFormat", key_format, "Only pem is supported.")
        private, public, fingerprint = generate(key_type)
        return self._add(account, region, name, key_type, public, fingerprint), private

    def import_key(self, account: str, region: str, name: str, material: bytes) -> KeyPair:
        self._check_new(account, region, name)
        key_type, public, fingerprint = parse_public(material)
        return self._add(account, region, name, key_type, public, fingerprint)

    def delete(self, pair: KeyPair) -> None:
        self.pairs.pop(pair["KeyPairId"], None)
        self.store.delete("key", pair["KeyPairId"])
