"""Who holds which access key: the seam between signature checks and IAM.

The authenticator only ever asks this store "what is the secret (and the
identity) behind this access key id?". Today the store knows the root keys the
server was started with; the IAM service will register users' keys here
(``add_key``/``remove_key``) and STS will add temporary keys with their session
token. Policy evaluation is ``cloudlet.auth.authorizer``; the IAM service
plugs its policies in as ``policies``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cloudlet.core.ids import DEFAULT_ACCOUNT, account_for_access_key

if TYPE_CHECKING:
    from cloudlet.auth.authorizer import PolicySource

PrincipalKind = Literal["root", "user", "assumed-role", "anonymous"]

ROOT_ACCESS_KEY_ENV = "CLOUDLET_ROOT_ACCESS_KEY"
ROOT_SECRET_KEY_ENV = "CLOUDLET_ROOT_SECRET_KEY"


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a request acts as."""

    access_key: str | None
    account_id: str
    arn: str
    kind: PrincipalKind
    user_id: str = ""
    """AWS's unique id (``AIDA...`` for a user, ``AROA...:session`` for a role session)."""
    session_policies: tuple[str, ...] = ()
    """Session policies (AssumeRole ``Policy``/``PolicyArns``): they bound what the
    role's policies allow."""
    mfa_time: float | None = None
    """When the MFA code that opened this session was checked (STS's ``SerialNumber``
    and ``TokenCode``): ``aws:MultiFactorAuthPresent`` and ``aws:MultiFactorAuthAge``."""
    federated_by: str | None = None
    """A federated user's (STS GetFederationToken) IAM user name, whose policies bounded
    by ``session_policies`` are its permissions; ``""`` when the account root made it."""

    def to_doc(self) -> dict[str, Any]:
        """The principal as JSON, for a service that keeps temporary keys across restarts
        (STS's sessions, S3's directory-bucket sessions); ``from_doc`` reads it back."""
        return {
            "account": self.account_id,
            "arn": self.arn,
            "kind": self.kind,
            "user_id": self.user_id,
            "session_policies": list(self.session_policies),
            "mfa_time": self.mfa_time,
            "federated_by": self.federated_by,
        }

    @classmethod
    def from_doc(cls, access_key: str | None, doc: dict[str, Any]) -> Principal:
        return cls(
            access_key,
            doc["account"],
            doc["arn"],
            doc["kind"],
            doc["user_id"],
            tuple(doc.get("session_policies", ())),
            doc.get("mfa_time"),
            doc.get("federated_by"),
        )

    @property
    def name(self) -> str:
        """The user's name, or the role's name of an assumed-role session."""
        if self.kind == "assumed-role":
            return self.arn.split("/")[-2]
        return self.arn.rsplit("/", 1)[-1]

    @classmethod
    def root(cls, account_id: str, access_key: str | None = None) -> Principal:
        return cls(access_key, account_id, f"arn:aws:iam::{account_id}:root", "root", account_id)

    @classmethod
    def user(
        cls,
        account_id: str,
        user_name: str,
        access_key: str | None,
        path: str = "/",
        user_id: str = "",
    ) -> Principal:
        arn = f"arn:aws:iam::{account_id}:user{path}{user_name}"
        return cls(access_key, account_id, arn, "user", user_id)

    @classmethod
    def assumed_role(
        cls, account_id: str, role: str, session: str, access_key: str | None, role_id: str = ""
    ) -> Principal:
        arn = f"arn:aws:sts::{account_id}:assumed-role/{role}/{session}"
        return cls(access_key, account_id, arn, "assumed-role", f"{role_id}:{session}")


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
    expires: float | None = None
    """Epoch seconds after which a temporary key is refused (``ExpiredToken``)."""


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
        self.strict = False
        """Set by the ``Authenticator`` in strict mode (STS checks trust policies then)."""
        self.policies: PolicySource | None = None
        """The IAM service, once it runs: the identity policies of a principal."""
        self.last_used: dict[str, tuple[float, str, str]] = {}
        """Access key -> (epoch, service, region) of its last signed request."""

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
        expires: float | None = None,
    ) -> None:
        """Register (or replace) a key pair for ``principal``."""
        with self._lock:
            self._keys[access_key] = AccessKey(
                access_key, secret_key, principal, session_token, expires
            )

    def remove_key(self, access_key: str) -> bool:
        """Forget a key; True if it was known. The root key cannot be removed."""
        with self._lock:
            if access_key == self.root.access_key:
                raise ValueError("the root access key cannot be removed")
            return self._keys.pop(access_key, None) is not None

    def sweep(self, now: float) -> None:
        """Forget temporary keys that expired."""
        with self._lock:
            for name, entry in list(self._keys.items()):
                if entry.expires is not None and entry.expires <= now:
                    del self._keys[name]

    # -- authorization --------------------------------------------------------------

    def authorize(self, principal: Principal, action: str, resource: str) -> None:
        """Raise ``AccessDenied`` unless ``principal``'s identity policies allow
        ``action`` (``"sqs:SendMessage"``) on ``resource`` (an ARN).

        For in-process checks; requests are evaluated by ``Authenticator.authorize``,
        which adds resource policies and the request's context keys. Principals IAM
        does not govern (the root; any principal before IAM runs) are allowed.
        """
        from cloudlet.auth.authorizer import check_identity

        check_identity(self, principal, action, resource)
