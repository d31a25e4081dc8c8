"""What strict mode and STS ask of IAM: a principal's policies, a role by ARN, an
OpenID Connect provider by issuer.

``Identities`` is the ``PolicySource`` the IAM service plugs into the
server's ``CredentialStore``. It compiles a principal's identity policies once
(inline, attached managed, and its groups' policies for a user; the role's
for an assumed-role session), with its permissions boundary (the default version
of the boundary's managed policy), and keeps them until IAM changes (``clear``:
any change of a policy, a default version, an attachment or a boundary).
A user of an account whose password policy has ``AllowUsersToChangePassword`` may
also change its own password and read that policy, as AWS grants.
Other services ask it for an MFA code's validity (STS) and a server certificate
by ARN (HTTPS listeners).
Each user's or role session's ``Identity`` carries its ``record``: the access advisor's
tracker bound to the user's ARN, or to the role's ARN behind the session
(``tracking``); a federated user's attempts are not tracked.
Principals IAM does not govern (role credentials for a role IAM does not know,
as EC2 instance profiles made up in open mode) get None: not evaluated.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from cloudlet.auth import policy
from cloudlet.auth.authorizer import Identity
from cloudlet.auth.credentials import Principal
from cloudlet.services.iam.certificates import stored_certificate
from cloudlet.services.iam.managed import AWS_MANAGED
from cloudlet.services.iam.mfa import verify_token
from cloudlet.services.iam.oidc import provider_id
from cloudlet.services.iam.store import Doc, IamStore, key
from cloudlet.services.iam.tracking import AccessTracker


class Identities:
    def __init__(self, store: IamStore, tracker: AccessTracker | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self._identities: dict[tuple[str, tuple[str, ...], str | None], Identity | None] = {}
        self._compiled: dict[str, policy.Policy] = {}

    def clear(self) -> None:
        self._identities.clear()

    def role_by_arn(self, account: str, arn: str) -> Doc | None:
        """The role an ARN names (``arn:aws:iam::<acct>:role/<path><name>``), if it exists."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return None
        name = parts[5].rsplit("/", 1)[-1]
        doc = self.store.get("role", key(parts[4] or account, name))
        return doc if doc is not None and doc["Arn"] == arn else None

    def oidc_provider(self, account: str, issuer: str) -> Doc | None:
        """The OpenID Connect provider registered for a token's ``iss`` (scheme and a
        final ``/`` aside), if the account has one."""
        return self.store.get("oidc_provider", key(account, provider_id(issuer)))

    def managed_document(self, account: str, arn: str) -> str | None:
        """The default version's document of a managed policy (session PolicyArns)."""
        doc = AWS_MANAGED.get(arn) or self.store.get("policy", key(account, arn))
        return None if doc is None else doc["Versions"][doc["DefaultVersionId"]]["Document"]

    def verify_mfa(self, account: str, user: str | None, serial: str, code: str) -> bool:
        """Whether ``code`` is a current, unused code of the MFA device ``serial`` that IAM
        user ``user`` has enabled."""
        return verify_token(self.store, account, user, serial, code)

    def server_certificate(self, account: str, arn: str) -> Doc | None:
        """An IAM server certificate by ARN, with its private key and chain."""
        return stored_certificate(self.store, account, arn)

    def identity_for(self, principal: Principal) -> Identity | None:
        cache_key = (principal.arn, principal.session_policies, principal.federated_by)
        if cache_key in self._identities:
            return self._identities[cache_key]
        identity = self._build_identity(principal)
        if identity is not None and principal.federated_by is not None:
            # a federated user's session policies bound it even when there are none:
            # without one it has no permissions (STS's GetFederationToken)
            session = tuple(self._compile(t) for t in principal.session_policies)
            identity = dataclasses.replace(identity, session=session)
        elif identity is not None and principal.session_policies:
            session = tuple(self._compile(t) for t in principal.session_policies)
            identity = dataclasses.replace(identity, session=session)
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[cache_key] = identity
        return identity

    def _build_identity(self, principal: Principal) -> Identity | None:
        account = principal.account_id
        if principal.federated_by is not None:
            return self._federated_identity(principal)
        if ":assumed-role/" in principal.arn:
            _, role_name, _session = principal.arn.split(":", 5)[5].split("/", 2)
            role = self.store.get("role", key(account, role_name))
            if role is None:
                # EC2 instance credentials name the instance profile: use its role.
                profile = self.store.get("instance_profile", key(account, role_name))
                if profile is not None and profile["Roles"]:
                    role = self.store.get("role", key(account, profile["Roles"][0]))
            if role is None:
                return None  # a role IAM does not know (open-mode habits): not governed
            caller = policy.Caller(principal.arn, account, "assumed-role", role_arn=role["Arn"])
            boundary = self.boundary_of(account, role)
            return Identity(
                caller,
                self._policies_of(account, role),
                boundary=boundary,
                record=self._recorder(role["Arn"]),
            )
        if ":user/" not in principal.arn:
            return None
        caller = policy.Caller(principal.arn, account, "user")
        user = self.store.get("user", key(account, principal.name))
        if user is None:
            return Identity(caller, (), principal.name)  # deleted: nothing allowed
        docs = list(self._policies_of(account, user))
        for group in self.store.all("group", account):
            if user["UserName"] in group["Members"]:
                docs.extend(self._policies_of(account, group))
        settings = self.store.get("account", account) or {}
        if (settings.get("PasswordPolicy") or {}).get("AllowUsersToChangePassword"):
            docs.append(self._compile(_own_password(user["Arn"])))
        boundary = self.boundary_of(account, user)
        return Identity(
            caller,
            tuple(docs),
            user["UserName"],
            boundary=boundary,
            record=self._recorder(user["Arn"]),
        )

    def _federated_identity(self, principal: Principal) -> Identity:
        """A federated user (GetFederationToken): its IAM user's policies and boundary
        (everything for one the root made), never IAM or STS (the STS API reference)."""
        account = principal.account_id
        caller = policy.Caller(principal.arn, account, "federated-user")
        deny = (self._compile(_FEDERATED_DENY),)
        if not principal.federated_by:
            return Identity(caller, (*_ALL, *deny))
        user = self.store.get("user", key(account, principal.federated_by))
        if user is None:
            return Identity(caller, ())  # the IAM user was deleted: nothing allowed
        base = self._build_identity(Principal.user(account, user["UserName"], None, user["Path"]))
        assert base is not None
        return Identity(caller, (*base.policies, *deny), boundary=base.boundary)

    def _recorder(self, entity: str) -> Callable[[str, str], None] | None:
        return self.tracker.recorder(entity) if self.tracker is not None else None

    def sources_of(self, account: str, entity: Doc) -> list[tuple[str, str, str]]:
        """An entity's policies as (id, IAM's source type, document): its inline
        policies (typed by the entity's kind) and attached managed policies."""
        kind = "user" if "UserId" in entity else "group" if "GroupId" in entity else "role"
        out = [(name, kind, text) for name, text in entity.get("Inline", {}).items()]
        for arn in entity.get("Attached", []):
            found = self.managed_source(account, arn)
            if found is not None:
                out.append(found)
        return out

    def managed_source(self, account: str, arn: str) -> tuple[str, str, str] | None:
        """A managed policy as (name, ``aws-managed``/``user-managed``, default document)."""
        managed = AWS_MANAGED.get(arn) or self.store.get("policy", key(account, arn))
        if managed is None:
            return None
        kind = "aws-managed" if arn in AWS_MANAGED else "user-managed"
        text = managed["Versions"][managed["DefaultVersionId"]]["Document"]
        return managed["PolicyName"], kind, text

    def boundary_of(self, account: str, entity: Doc) -> policy.Policy | None:
        """The entity's permissions boundary, compiled (None without one)."""
        arn = entity.get("PermissionsBoundary")
        if not arn:
            return None
        text = self.managed_document(account, arn)
        return self._compile(text) if text is not None else policy.Policy(())

    def _policies_of(self, account: str, entity: Doc) -> tuple[policy.Policy, ...]:
        return tuple(self._compile(text) for _, _, text in self.sources_of(account, entity))

    def compile(self, text: str) -> policy.Policy:
        """A document compiled once per text (an empty policy if it does not parse)."""
        return self._compile(text)

    def _compile(self, text: str) -> policy.Policy:
        compiled = self._compiled.get(text)
        if compiled is None:
            try:
                compiled = policy.parse(text, "identity")
            except policy.MalformedPolicy:
                compiled = policy.Policy(())
            if len(self._compiled) > 10_000:
                self._compiled.clear()
            self._compiled[text] = compiled
        return compiled


_FEDERATED_DENY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": ["iam:*", "sts:*"], "Resource": "*"}],
    }
)
_ALL = (
    policy.parse(
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
        "identity",
    ),
)


def _own_password(user_arn: str) -> str:
    """What ``AllowUsersToChangePassword`` lets every IAM user do (the IAM user guide's
    "Permitting IAM users to change their own passwords")."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": user_arn},
                {"Effect": "Allow", "Action": "iam:GetAccountPasswordPolicy", "Resource": "*"},
            ],
        }
    )
