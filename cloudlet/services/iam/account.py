"""The account's own IAM settings: its alias, GetAccountSummary's counts and the STS
token version of the global endpoint.

Everything lives in one ``account`` document per account (the password policy,
``logins``, too). An alias is unique across the accounts this server holds, as
it is across AWS: it names the account's sign-in URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.common import page
from cloudlet.services.iam.store import Doc

Result = dict[str, Any]
_ALIAS = re.compile(r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}
QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "ServerCertificatesQuota": 20,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
    "PolicySizeQuota": 6144,
    "GroupsPerUserQuota": 10,
    "SigningCertificatesPerUserQuota": 2,
    "AccessKeysPerUserQuota": 2,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "PolicyVersionsInUseQuota": 10000,
    "VersionsPerPolicyQuota": 5,
}
"""AWS's default IAM quotas, as GetAccountSummary reports them."""


class AccountHandlers:
    store: Any
    _changed: Callable[[], None]

    # -- the account document ----------------------------------------------------------

    def _account_doc(self, account: str) -> Doc:
        """The account's settings document (a fresh one, unsaved, if it has none)."""
        return self.store.get("account", account) or {"_key": account}

    def _save_account(self, doc: Doc) -> None:
        self.store.put("account", doc["_key"], doc)

    # -- aliases -----------------------------------------------------------------------

    def create_account_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        alias = params["AccountAlias"]
        if not 3 <= len(alias) <= 63 or not _ALIAS.match(alias):
            raise errors.validation(
                f"1 validation error detected: Value '{alias}' at 'accountAlias' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$"
            )
        for other in self.store.data["account"].values():
            if other.get("Alias") == alias and other["_key"] != ctx.account_id:
                raise errors.entity_already_exists(f"The account alias {alias} already exists.")
        doc = self._account_doc(ctx.account_id)
        doc["Alias"] = alias  # an account has one alias: a new one replaces it
        self._save_account(doc)
        return {}

    def delete_account_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        alias = params["AccountAlias"]
        doc = self._account_doc(ctx.account_id)
        if doc.get("Alias") != alias:
            raise errors.no_such_entity(f"The account alias {alias} cannot be found.")
        del doc["Alias"]
        self._save_account(doc)
        return {}

    def list_account_aliases(self, ctx: Any, params: dict[str, Any]) -> Result:
        alias = self._account_doc(ctx.account_id).get("Alias")
        return page([alias] if alias else [], params, "AccountAliases")

    # -- the STS global endpoint -----------------------------------------------------------

    def set_security_token_service_preferences(self, ctx: Any, params: dict[str, Any]) -> Result:
        version = params["GlobalEndpointTokenVersion"]
        if version not in _TOKEN_VERSIONS:
            raise errors.validation(
                f"1 validation error detected: Value '{version}' at 'globalEndpointTokenVersion' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[v1Token, v2Token]"
            )
        doc = self._account_doc(ctx.account_id)
        doc["GlobalEndpointTokenVersion"] = version
        self._save_account(doc)
        return {}

    # -- the summary --------------------------------------------------------------------

    def get_account_summary(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        store = self.store
        devices = store.all("mfa_device", account)
        policies = store.all("policy", account)
        settings = self._account_doc(account)
        counts = {
            "Users": len(store.all("user", account)),
            "Groups": len(store.all("group", account)),
            "Roles": len(store.all("role", account)),
            "Policies": len(policies),
            "PolicyVersionsInUse": sum(len(p["Versions"]) for p in policies),
            "InstanceProfiles": len(store.all("instance_profile", account)),
            "ServerCertificates": len(store.all("server_certificate", account)),
            "MFADevices": len(devices),
            "MFADevicesInUse": sum(1 for d in devices if d.get("User")),
            "Providers": len(store.all("oidc_provider", account)),
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 1,  # the root keys the server was started with
            "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": 0,
            "GlobalEndpointTokenVersion": _TOKEN_VERSIONS[
                settings.get("GlobalEndpointTokenVersion", "v1Token")
            ],
        }
        return {"SummaryMap": {**counts, **QUOTAS}}
