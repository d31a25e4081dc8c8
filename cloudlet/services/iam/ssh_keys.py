"""IAM users' SSH public keys (what CodeCommit authenticates git over SSH with).

A key is taken as IAM documents it: an RSA key of 2048 bits or more, in OpenSSH
``ssh-rsa`` form or PEM (``BEGIN PUBLIC KEY`` or ``BEGIN RSA PUBLIC KEY``), parsed
with ``cryptography``. Text in neither form is ``UnrecognizedPublicKeyEncoding``; a
key in a known form that does not parse, is not RSA (``ssh-ed25519``, ECDSA) or is
too short is ``InvalidPublicKey``. The ``Fingerprint`` is the MD5 of the OpenSSH key
blob, colon-separated (what ``ssh-keygen -E md5 -l`` prints), so one key uploaded in
either form has one fingerprint: a user holds a key once (``DuplicateSSHPublicKey``)
and five at most (``LimitExceeded``). GetSSHPublicKey answers in the encoding asked
for, converting when the key was uploaded in the other. Ids are ``APKA`` and 16 more
characters, as AWS's.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_constraints, dt, page
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_KEYS_PER_USER = 5
MIN_BITS = 2048
_ID_CHARS = string.ascii_uppercase + "234567"
_OPENSSH_KEY = re.compile(r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s")


def parse_public_key(body: str) -> tuple[rsa.RSAPublicKey, str]:
    """The RSA key ``body`` holds and its encoding (``SSH`` or ``PEM``), as IAM takes it."""
    text = body.strip()
    try:
        if text.startswith("-----BEGIN"):
            encoding = "PEM"
            loaded: Any = serialization.load_pem_public_key(text.encode())
        elif _OPENSSH_KEY.match(text + " "):
            encoding = "SSH"
            loaded = serialization.load_ssh_public_key(text.encode())
        else:
            raise errors.unrecognized_public_key_encoding(
                "The public key encoding format is unsupported or unrecognized. "
                "Use ssh-rsa format or PEM format."
            )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise errors.invalid_public_key(
            "The public key is malformed or otherwise invalid."
        ) from None
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise errors.invalid_public_key("The public key must be an RSA key (ssh-rsa).")
    if loaded.key_size < MIN_BITS:
        raise errors.invalid_public_key(
            f"The public key is {loaded.key_size} bits long: the minimum is {MIN_BITS} bits."
        )
    return loaded, encoding


def _openssh(public: rsa.RSAPublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode()


def _pem(public: rsa.RSAPublicKey) -> str:
    raw = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return raw.decode().strip()


def fingerprint(public: rsa.RSAPublicKey) -> str:
    blob = base64.b64decode(_openssh(public).split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _metadata(doc: Doc) -> Result:
    return {
        "UserName": doc["UserName"],
        "SSHPublicKeyId": doc["SSHPublicKeyId"],
        "Status": doc["Status"],
        "UploadDate": dt(doc["UploadDate"]),
    }


def _full(doc: Doc, encoding: str) -> Result:
    body = doc["SSHPublicKeyBody"]
    if encoding != doc["Encoding"]:
        public, _ = parse_public_key(body)
        body = _openssh(public) if encoding == "SSH" else _pem(public)
    return {**_metadata(doc), "Fingerprint": doc["Fingerprint"], "SSHPublicKeyBody": body}


class SshKeyHandlers:
    store: Any
    _entity: Callable[[str, str, str], Doc]
    _key_owner: Callable[[Any, dict[str, Any]], str]
    _now: Callable[[], float]

    def _user_ssh_keys(self, account: str, user: str) -> list[Doc]:
        docs = [d for d in self.store.all("ssh_public_key", account) if d["UserName"] == user]
        return sorted(docs, key=lambda d: d["UploadDate"])

    def _ssh_key(self, ctx: Any, params: dict[str, Any]) -> Doc:
        user = self._entity("user", ctx.account_id, params["UserName"])["UserName"]
        key_id = params["SSHPublicKeyId"]
        doc = self.store.get("ssh_public_key", key(ctx.account_id, key_id))
        if doc is None or doc["UserName"] != user:
            raise errors.no_such_entity(f"The Public Key with id {key_id} cannot be found.")
        return doc

    def upload_ssh_public_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("UploadSSHPublicKey", params)
        account = ctx.account_id
        user = self._entity("user", account, params["UserName"])["UserName"]
        public, encoding = parse_public_key(params["SSHPublicKeyBody"])
        print_ = fingerprint(public)
        existing = self._user_ssh_keys(account, user)
        if any(d["Fingerprint"] == print_ for d in existing):
            raise errors.duplicate_ssh_public_key(
                f"The SSH public key with fingerprint {print_} is already associated "
                f"with the user {user}."
            )
        if len(existing) >= MAX_KEYS_PER_USER:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for PublicKeysPerUser: {MAX_KEYS_PER_USER}"
            )
        key_id = "APKA" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))
        doc: Doc = {
            "UserName": user,
            "SSHPublicKeyId": key_id,
            "Fingerprint": print_,
            "SSHPublicKeyBody": params["SSHPublicKeyBody"].strip(),
            "Encoding": encoding,
            "Status": "Active",
            "UploadDate": self._now(),
        }
        self.store.put("ssh_public_key", key(account, key_id), doc)
        return {"SSHPublicKey": _full(doc, encoding)}

    def get_ssh_public_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("GetSSHPublicKey", params)
        return {"SSHPublicKey": _full(self._ssh_key(ctx, params), params["Encoding"])}

    def list_ssh_public_keys(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("ListSSHPublicKeys", params)
        user = self._key_owner(ctx, params)
        docs = self._user_ssh_keys(ctx.account_id, user)
        return page([_metadata(d) for d in docs], params, "SSHPublicKeys")

    def update_ssh_public_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("UpdateSSHPublicKey", params)
        doc = self._ssh_key(ctx, params)
        if params["Status"] not in ("Active", "Inactive"):
            raise errors.invalid_input("The status of an SSH public key is Active or Inactive.")
        doc["Status"] = params["Status"]
        self.store.save("ssh_public_key", doc)
        return {}

    def delete_ssh_public_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("DeleteSSHPublicKey", params)
        doc = self._ssh_key(ctx, params)
        self.store.delete("ssh_public_key", doc["_key"])
        return {}
