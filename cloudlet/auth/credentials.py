"""Who holds which access key: the seam between signature checks and IAM.

The authenticator only ever asks this store "what is the secret (and the
identity) behind this access key id?". Today the store knows the root keys the
server was started with; the IAM service will register users' keys here
(``add_key``/``remove_key``) and STS will add temporary keys with their session
token. ``authorize`` is where IAM policy evaluation will plug in; until then it
allows everything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cloudlet.core.ids import DEFAULT_ACCOUNT, account_for_access_key

PrincipalKind = Literal["root", "user", "anonymous"]

ROOT_ACCESS_KEY_ENV = "CLOUDLET_ROOT_ACCESS_KEY"
ROOT_SECRET_KEY_ENV = "CLOUDLET_ROOT_SECRET_KEY"


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a request acts as."""

    access_key: str | None
    account_id: str
    arn: str
    kind: PrincipalKind

    @classmethod
    def root(cls, account_id: str, access_key: str | None = None) -> Principal:
        return cls(access_key, account_id, f"arn:aws:iam::{account_id}:root", "root")

    @classmethod
    def user(cls, account_id: str, user_name: str, access_key: str, path: str = "/") -> Principal:
        return cls(
            access_key, account_id, f"arn:aws:iam::{account_id}:user{path}{user_name}", "user"
        )


ANONYMOUS = Principal(None, DEFAULT_ACCOUNT, "anonymous", "anonymous")


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key pair and who it belongs to.

    ``session_token`` is set for temporary (STS) credentials: a request signed
    with such a key must carry exactly this token.
    """

    access_key: str
    secret_key: str
    principal: Principal
    session_token: str | None = None


class CredentialStore:
    """Access keys known to this server (root keys now, IAM and STS keys later)."""

    def __init__(
        self,
        root_access_key: str = "test",
        root_secret_key: str = "test",
        *,
        account_id: str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, AccessKey] = {}
        account = account_id or account_for_access_key(root_access_key)
        self.root = Principal.root(account, root_access_key)
        self._keys[root_access_key] = AccessKey(root_access_key, root_secret_key, self.root)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CredentialStore:
        """Root keys from ``CLOUDLET_ROOT_ACCESS_KEY``/``CLOUDLET_ROOT_SECRET_KEY``."""
        env = os.environ if environ is None else environ
        return cls(env.get(ROOT_ACCESS_KEY_ENV, "test"), env.get(ROOT_SECRET_KEY_ENV, "test"))

    # -- lookups (hot path: plain dict reads, no lock) -----------------------------

    def key(self, access_key: str) -> AccessKey | None:
        return self._keys.get(access_key)

    def secret_for(self, access_key: str) -> tuple[str, Principal] | None:
        entry = self._keys.get(access_key)
        return None if entry is None else (entry.secret_key, entry.principal)

    def principal_for(self, access_key: str | None) -> Principal:
        """The identity behind a key without checking anything (open mode).

        A key we know keeps its identity; any other key is the root of the
        account it names (a 12-digit key) or of the default account.
        """
        if access_key is None:
            return ANONYMOUS
        entry = self._keys.get(access_key)
        if entry is not None:
            return entry.principal
        return Principal.root(account_for_access_key(access_key), access_key)

    # -- registration (the IAM and STS services) -----------------------------------

    def add_key(
        self,
        access_key: str,
        secret_key: str,
        principal: Principal,
        *,
        session_token: str | None = None,
    ) -> None:
        """Register (or replace) a key pair for ``principal``."""
        with self._lock:
            self._keys[access_key] = AccessKey(access_key, secret_key, principal, session_token)

    def remove_key(self, access_key: str) -> bool:
        """Forget a key; True if it was known. The root key cannot be removed."""
        with self._lock:
            if access_key == self.root.access_key:
                raise ValueError("the root access key cannot be removed")
            return self._keys.pop(access_key, None) is not None

    # -- authorization --------------------------------------------------------------

    def authorize(self, principal: Principal, action: str, resource: str) -> None:
        """Allow or refuse ``action`` (``"sqs:SendMessage"``) on ``resource`` (an ARN).

        IAM policy evaluation plugs in here: identity policies of the principal,
        resource policies (bucket, queue, key policies), permission boundaries,
        with an explicit Deny winning, and ``AccessDenied`` raised on refusal.
        Until the IAM service exists every principal may do everything.
        """
        return None
