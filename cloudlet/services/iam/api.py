"""The IAM service: handlers by operation group, plus what strict mode asks of IAM.

IAM is global: every entity belongs to the caller's account whatever region
the request was signed for. Handlers live in ``users`` (users, groups, access
keys), ``roles`` (roles, instance profiles), ``policies`` (managed
policies, versions, attachments, inline policies), ``boundaries`` (permissions
boundaries), ``oidc`` (OpenID Connect identity providers, which STS's
AssumeRoleWithWebIdentity trusts), ``logins`` (login profiles, ChangePassword, the
password policy), ``mfa`` (virtual MFA devices), ``certificates`` (server
certificates), ``account`` (alias, summary, STS preferences), ``details``
(GetAccountAuthorizationDetails), ``simulator`` (the policy simulator) and
``reports`` (credential reports), ``service_roles`` (service-linked roles),
``ssh_keys``, ``signing`` (signing certificates), ``service_credentials``
(service-specific credentials), ``advisor`` (service last accessed reports) and
``granting`` (ListPoliciesGrantingServiceAccess).

Strict mode asks IAM one question per request (``identities.Identities``):
the principal's compiled identity policies, cached per principal and dropped on
every IAM change, so a request costs a dict read.
Access keys are registered in the server's ``CredentialStore`` when created and
again at start-up from the durable state; inactive keys are not registered, so
strict mode refuses them as unknown (``InvalidClientTokenId``).

Each principal's identity also carries access advisor's recorder (``tracking``): the
authorizer tells it every action it evaluates, a dict write; a background pass writes
what was recorded to the store, as does ``stop``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.auth.credentials import Principal
from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.iam import errors
from cloudlet.services.iam.account import AccountHandlers
from cloudlet.services.iam.advisor import AdvisorHandlers
from cloudlet.services.iam.boundaries import BoundaryHandlers, boundary_view
from cloudlet.services.iam.certificates import CertificateHandlers
from cloudlet.services.iam.common import dt
from cloudlet.services.iam.details import DetailHandlers
from cloudlet.services.iam.granting import GrantingHandlers
from cloudlet.services.iam.identities import Identities
from cloudlet.services.iam.logins import LoginHandlers
from cloudlet.services.iam.managed import AWS_MANAGED
from cloudlet.services.iam.mfa import MfaHandlers
from cloudlet.services.iam.oidc import OidcHandlers, provider_id
from cloudlet.services.iam.policies import PolicyHandlers
from cloudlet.services.iam.reports import ReportHandlers
from cloudlet.services.iam.roles import RoleHandlers
from cloudlet.services.iam.service_credentials import ServiceCredentialHandlers
from cloudlet.services.iam.service_roles import ServiceRoleHandlers
from cloudlet.services.iam.signing import SigningCertificateHandlers
from cloudlet.services.iam.simulator import SimulatorHandlers
from cloudlet.services.iam.ssh_keys import SshKeyHandlers
from cloudlet.services.iam.store import Doc, IamStore, key
from cloudlet.services.iam.tracking import AccessTracker
from cloudlet.services.iam.users import UserHandlers

Result = dict[str, Any]
REPORT_PASS_SECONDS = 1.0
ADVISOR_PASS_SECONDS = 0.5
FLUSH_SETTING = "CLOUDLET_IAM_ACCESS_FLUSH_INTERVAL"
_TARGETS = (
    ("user", "UserName", "user"),
    ("role", "RoleName", "role"),
    ("group", "GroupName", "group"),
    ("instance_profile", "InstanceProfileName", "instance-profile"),
)
# Operations that act on the caller when no UserName is given.
_SELF_OPERATIONS = frozenset(
    {
        "GetUser",
        "CreateAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "ChangePassword",
        "CreateLoginProfile",
        "GetLoginProfile",
        "DeleteLoginProfile",
        "ListMFADevices",
        "DeactivateMFADevice",
        "GetMFADevice",
        "ListSSHPublicKeys",
        "UploadSigningCertificate",
        "ListSigningCertificates",
        "UpdateSigningCertificate",
        "DeleteSigningCertificate",
        "ListServiceSpecificCredentials",
        "ResetServiceSpecificCredential",
        "UpdateServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
    }
)
# Operations whose resource is the user, group, role or policy their ``Arn`` names.
_ARN_OPERATIONS = frozenset(
    {"GenerateServiceLastAccessedDetails", "ListPoliciesGrantingServiceAccess"}
)
# The operations AWS documents the iam:PermissionsBoundary key for (the Service
# Authorization Reference): the boundary asked for, or the one the user or role has.
_BOUNDARY_KEY_OPERATIONS = frozenset(
    {
        "CreateUser",
        "CreateRole",
        "PutUserPermissionsBoundary",
        "PutRolePermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "AttachUserPolicy",
        "AttachRolePolicy",
        "DetachUserPolicy",
        "DetachRolePolicy",
        "PutUserPolicy",
        "PutRolePolicy",
        "DeleteUserPolicy",
        "DeleteRolePolicy",
    }
)
_POLICY_ARN_KEY_OPERATIONS = frozenset(
    {
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "AttachRolePolicy",
        "DetachUserPolicy",
        "DetachGroupPolicy",
        "DetachRolePolicy",
    }
)


class IamService(
    UserHandlers,
    RoleHandlers,
    PolicyHandlers,
    BoundaryHandlers,
    OidcHandlers,
    LoginHandlers,
    MfaHandlers,
    CertificateHandlers,
    AccountHandlers,
    DetailHandlers,
    SimulatorHandlers,
    ReportHandlers,
    ServiceRoleHandlers,
    SshKeyHandlers,
    SigningCertificateHandlers,
    ServiceCredentialHandlers,
    AdvisorHandlers,
    GrantingHandlers,
    Service,
):
    name = "iam"
    internal_error = (  # the modelled ServiceFailureException
        "ServiceFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
    )

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = IamStore(env.database("iam"))
        self.tracker = AccessTracker(self.store)
        self.identities = Identities(self.store, self.tracker)

    async def start(self) -> None:
        self.env.every(REPORT_PASS_SECONDS, self._complete_reports, "iam-credential-reports")
        self.env.every(ADVISOR_PASS_SECONDS, self._complete_access_jobs, "iam-access-advisor")
        flush = seconds_setting(FLUSH_SETTING, 5.0, low=0.05)
        self.env.every(flush, self.tracker.flush, "iam-access-tracking")
        credentials = self.env.credentials
        if credentials is None:
            return
        credentials.policies = self.identities
        for doc in self.store.data["access_key"].values():
            if doc["Status"] == "Active":
                self._register_key(doc)

    async def stop(self) -> None:
        if self.env.credentials is not None and self.env.credentials.policies is self.identities:
            self.env.credentials.policies = None
        self.tracker.flush()
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {"state": "running", "users": len(self.store.data["user"])}

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the ARN of the user, group, role, policy or profile acted on."""
        account = ctx.account_id
        if "OpenIDConnectProviderArn" in params:
            return params["OpenIDConnectProviderArn"], None
        if operation == "CreateOpenIDConnectProvider":
            return f"arn:aws:iam::{account}:oidc-provider/{provider_id(params['Url'])}", None
        if "PolicyArn" in params and "UserName" not in params and "RoleName" not in params:
            return params["PolicyArn"], None
        if "PolicySourceArn" in params:
            return params["PolicySourceArn"], None
        if operation in _ARN_OPERATIONS:
            return params["Arn"], None
        for kind, member, word in _TARGETS:
            name = params.get(member)
            if name:
                doc = self.store.get(kind, key(account, name))
                path = doc["Path"] if doc is not None else "/"
                return f"arn:aws:iam::{account}:{word}{path}{name}", None
        if "ServerCertificateName" in params:
            name = params["ServerCertificateName"]
            cert = self.store.get("server_certificate", key(account, name))
            path = cert["Path"] if cert is not None else params.get("Path") or "/"
            return f"arn:aws:iam::{account}:server-certificate{path}{name}", None
        if operation == "CreateVirtualMFADevice":
            path = params.get("Path") or "/"
            return f"arn:aws:iam::{account}:mfa{path}{params['VirtualMFADeviceName']}", None
        if "SerialNumber" in params and operation not in _SELF_OPERATIONS:
            return params["SerialNumber"], None
        if operation in _SELF_OPERATIONS:
            principal = getattr(ctx, "principal", None)
            if principal is not None:
                return principal.arn, None
        return "*", None

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """Strict mode: ``iam:PermissionsBoundary`` and ``iam:PolicyARN`` where AWS has them."""
        operation, params = ctx.operation.name, ctx.params
        if operation in _BOUNDARY_KEY_OPERATIONS:
            boundary = params.get("PermissionsBoundary")
            if boundary is None:
                kind, member = (
                    ("user", "UserName") if "UserName" in params else ("role", "RoleName")
                )
                holder = self.store.get(kind, key(ctx.account_id, params.get(member) or ""))
                boundary = holder.get("PermissionsBoundary") if holder is not None else None
            if boundary:
                context["iam:PermissionsBoundary"] = boundary
        if operation in _POLICY_ARN_KEY_OPERATIONS and params.get("PolicyArn"):
            context["iam:PolicyARN"] = params["PolicyArn"]

    # -- shared helpers ------------------------------------------------------------------

    def _changed(self) -> None:
        """Any change to IAM: strict mode recompiles identities on next use."""
        self.identities.clear()

    def _entity(self, kind: str, account: str, name: str) -> Doc:
        doc = self.store.get(kind, key(account, name))
        if doc is None:
            raise errors.not_found(kind, name)
        return doc

    def _managed_policy(self, account: str, arn: str) -> Doc:
        doc = AWS_MANAGED.get(arn) or self.store.get("policy", key(account, arn))
        if doc is None:
            raise errors.not_found("policy", arn)
        return doc

    def _register_key(self, doc: Doc) -> None:
        credentials = self.env.credentials
        if credentials is None:
            return
        account = doc["_key"].split("|", 1)[0]
        user = self.store.get("user", key(account, doc["UserName"]))
        path, user_id = (user["Path"], user["UserId"]) if user else ("/", "")
        principal = Principal.user(
            account, doc["UserName"], doc["AccessKeyId"], path, user_id=user_id
        )
        credentials.add_key(doc["AccessKeyId"], doc["SecretAccessKey"], principal)

    def _unregister_key(self, access_key: str) -> None:
        if self.env.credentials is not None:
            self.env.credentials.remove_key(access_key)

    def _caller_user(self, ctx: Any) -> Doc | None:
        """The IAM user who signed this request (None for the root or a role)."""
        principal = getattr(ctx, "principal", None)
        if principal is None or principal.kind != "user" or ":user/" not in principal.arn:
            return None
        return self.store.get("user", key(principal.account_id, principal.name))

    @staticmethod
    def _public_user(doc: Doc, tags: bool = False) -> Result:
        out = {
            "Path": doc["Path"],
            "UserName": doc["UserName"],
            "UserId": doc["UserId"],
            "Arn": doc["Arn"],
            "CreateDate": dt(doc["CreateDate"]),
        }
        if tags:
            boundary = boundary_view(doc)
            if boundary is not None:
                out["PermissionsBoundary"] = boundary
        if tags and doc.get("Tags"):
            out["Tags"] = [{"Key": k, "Value": v} for k, v in doc["Tags"].items()]
        return out

    def _now(self) -> float:
        return clock.time()
