"""What strict mode and STS ask of IAM: a principal's policies, a role by ARN, an
OpenID Connect provider by issuer.

``Identities`` is the ``PolicySource`` the IAM service plugs into the
server's ``CredentialStore``. It compiles a principal's identity policies once
(inline, attached managed, and its groups' policies for a user; the role's
for an assumed-role session) and keeps them until IAM changes (``clear``).
Principals IAM does not govern (role credentials for a role IAM does not know,
as EC2 instance profiles made up in open mode) get None: not evaluated.
"""

from __future__ import annotations

import dataclasses

from cloudlet.auth import policy
from cloudlet.auth.authorizer import Identity
from cloudlet.auth.credentials import Principal
from cloudlet.services.iam.managed import AWS_MANAGED
from cloudlet.services.iam.oidc import provider_id
from cloudlet.services.iam.store import Doc, IamStore, key


class Identities:
    def __init__(self, store: IamStore) -> None:
        self.store = store
        self._identities: dict[tuple[str, tuple[str, ...]], Identity | None] = {}
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

    def identity_for(self, principal: Principal) -> Identity | None:
        cache_key = (principal.arn, principal.session_policies)
        if cache_key in self._identities:
            return self._identities[cache_key]
        identity = self._build_identity(principal)
        if identity is not None and principal.session_policies:
            session = tuple(self._compile(t) for t in principal.session_policies)
            identity = dataclasses.replace(identity, session=session)
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[cache_key] = identity
        return identity

    def _build_identity(self, principal: Principal) -> Identity | None:
        account = principal.account_id
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
            return Identity(caller, self._policies_of(account, role))
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
        return Identity(caller, tuple(docs), user["UserName"])

    def _policies_of(self, account: str, entity: Doc) -> tuple[policy.Policy, ...]:
        texts = list(entity.get("Inline", {}).values())
        for arn in entity.get("Attached", []):
            managed = AWS_MANAGED.get(arn) or self.store.get("policy", key(account, arn))
            if managed is not None:
                texts.append(managed["Versions"][managed["DefaultVersionId"]]["Document"])
        return tuple(self._compile(t) for t in texts)

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
