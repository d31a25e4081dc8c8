"""STS: GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken,
GetAccessKeyInfo (GetFederationToken in ``federation``, trust policies in ``trust``).

Temporary credentials are real key pairs registered in the server's
``CredentialStore`` with their session token and expiry, so strict mode
verifies them (a request without the token is refused) and refuses them once
expired. They are also kept durably, so a restart does not invalidate
credentials handed out before it.

Roles and trust policies are IAM's: STS reads them through the IAM service's
``identities.role_by_arn`` (the two are one service family in AWS).

AssumeRole:

- a client call needs the role to exist (``AccessDenied`` otherwise, as AWS);
  in strict mode the gateway has already evaluated ``sts:AssumeRole`` against
  the caller's identity policies and the trust policy as the role's resource
  policy (``policy_resource``), and the handler checks that the trust policy
  names the caller or its account (a trust naming only a service refuses a user
  even with ``sts:AssumeRole`` on ``*``).
- an internal call (``ServiceEnv.call`` from Lambda; no HTTP request) acts as
  the service principal ``lambda.amazonaws.com`` (or the context's
  ``caller_service``): when the role exists its trust policy must allow that
  service. When the role does not exist in IAM, open mode still issues
  credentials acting as the account root (programs often pass a made-up role
  ARN locally); strict mode refuses with ``AccessDenied``.
- session policies (``Policy``, ``PolicyArns``) travel with the session's
  principal and bound what the role's policies allow.
- ``SerialNumber`` + ``TokenCode`` (here and in GetSessionToken) are checked against
  the calling IAM user's MFA device (IAM's ``identities.verify_mfa``); the session
  then carries ``aws:MultiFactorAuthPresent``/``aws:MultiFactorAuthAge``.

AssumeRoleWithWebIdentity is unsigned, as on AWS (the authenticator lets it through
in strict mode and ``public_access`` admits it): the token is the credential, so it
is verified in every mode (``web_identity``: the issuer's published keys, times),
its ``iss`` must be an OpenID Connect provider IAM knows in the role's account and
its ``aud`` one of the provider's client ids; then the role's trust policy must
allow ``sts:AssumeRoleWithWebIdentity`` to ``Federated: <provider ARN>`` with the
token's claims as ``<provider>:aud``, ``:sub``, ``:amr``, ``:azp`` condition keys.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from cloudlet.auth import policy
from cloudlet.auth.credentials import Principal
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import account_for_access_key
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.sts import trust, web_identity
from cloudlet.services.sts.federation import FederationHandlers, is_session
from cloudlet.state.documents import DocumentStore

Result = dict[str, Any]
SWEEP_SECONDS = 60.0
DEFAULT_SERVICE_PRINCIPAL = "lambda.amazonaws.com"
_KEY_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"
_SESSION_NAME = set(string.ascii_letters + string.digits + "=,.@-_")
WEB_IDENTITY = trust.WEB_IDENTITY
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def _check_session_name(session: str) -> None:
    if not 2 <= len(session) <= 64 or not _SESSION_NAME.issuperset(session):
        raise _validation(
            f"1 validation error detected: Value '{session}' at 'roleSessionName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class StsService(FederationHandlers, Service):
    name = "sts"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.sessions = DocumentStore(env.database("sts"), "sessions")
        self.key_sets = web_identity.KeySets()

    async def start(self) -> None:
        now = clock.time()
        credentials = self.env.credentials
        for doc in self.sessions.load("session"):
            if doc["expires"] <= now:
                self.sessions.delete("session", doc["access_key"])
            elif credentials is not None:
                principal = Principal.from_doc(doc["access_key"], doc["principal"])
                credentials.add_key(
                    doc["access_key"],
                    doc["secret_key"],
                    principal,
                    session_token=doc["token"],
                    expires=doc["expires"],
                )
        self.env.every(SWEEP_SECONDS, self._sweep, "sts-expiry")

    async def stop(self) -> None:
        self.sessions.close()

    def _sweep(self) -> None:
        now = clock.time()
        if self.env.credentials is not None:
            self.env.credentials.sweep(now)
        for doc in self.sessions.load("session"):
            if doc["expires"] <= now:
                self.sessions.delete("session", doc["access_key"])

    # -- the authorization seam ------------------------------------------------------------

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        if operation == "GetFederationToken":
            return f"arn:aws:sts::{ctx.account_id}:federated-user/{params.get('Name')}", None
        if operation != "AssumeRole":
            return "*", None
        role = self._role(ctx.account_id, params.get("RoleArn", ""))
        arn = params.get("RoleArn", "*")
        return arn, role["AssumeRolePolicyDocument"] if role is not None else None

    def public_access(self, ctx: Any, action: str, *, granted: bool) -> bool:
        """Strict mode, unsigned: only AssumeRoleWithWebIdentity, whose token the handler
        verifies (the authenticator's ``UNSIGNED_ACTIONS``)."""
        return action == WEB_IDENTITY

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """An MFA code given with the request counts for its own evaluation (the handler
        refuses a wrong one)."""
        if ctx.params.get("SerialNumber") and ctx.params.get("TokenCode"):
            context["aws:MultiFactorAuthPresent"] = "true"
            context["aws:MultiFactorAuthAge"] = "0"

    def _mfa(self, ctx: Any, principal: Principal | None, params: dict[str, Any]) -> float | None:
        """When the request's MFA code was checked (None without one); ``AccessDenied``
        for a code that is not a current one of the calling IAM user's device."""
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if not serial and not code:
            return None
        identities = getattr(self.env.services.get("iam"), "identities", None)
        user = principal.name if principal is not None and principal.kind == "user" else None
        if not (serial and code and identities is not None) or not identities.verify_mfa(
            ctx.account_id, user, serial, code
        ):
            raise ServiceError(
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
                403,
            )
        return clock.time()

    def _role(self, account: str, arn: str) -> dict[str, Any] | None:
        iam = self.env.services.get("iam")
        if iam is None:
            return None
        return iam.identities.role_by_arn(account, arn)  # type: ignore[attr-defined]

    # -- operations ---------------------------------------------------------------------

    def get_caller_identity(self, ctx: Any, params: dict[str, Any]) -> Result:
        principal: Principal | None = getattr(ctx, "principal", None)
        if principal is None or principal.kind == "anonymous":
            principal = Principal.root(ctx.account_id)
        user_id = principal.user_id
        if not user_id and principal.kind == "root":
            user_id = principal.account_id
        if not user_id and ":assumed-role/" in principal.arn:
            # EC2 instance credentials: the role's id when IAM knows the role.
            _, role_name, session = principal.arn.rsplit(":", 1)[1].split("/", 2)
            arn = f"arn:aws:iam::{principal.account_id}:role/{role_name}"
            role = self._role(principal.account_id, arn)
            user_id = f"{role['RoleId'] if role else 'AROA' + role_name.upper()[:17]}:{session}"
        return {"UserId": user_id, "Account": principal.account_id, "Arn": principal.arn}

    def get_access_key_info(self, ctx: Any, params: dict[str, Any]) -> Result:
        access_key = params["AccessKeyId"]
        credentials = self.env.credentials
        entry = credentials.key(access_key) if credentials is not None else None
        account = entry.principal.account_id if entry else account_for_access_key(access_key)
        return {"Account": account}

    def assume_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        role_arn = params["RoleArn"]
        session = params["RoleSessionName"]
        internal = getattr(ctx, "request", None) is None
        if internal:  # our own services name sessions after functions: make them valid
            session = "".join(c if c in _SESSION_NAME else "-" for c in session)[:64].ljust(2, "-")
        _check_session_name(session)
        role = self._role(account, role_arn)
        strict = bool(self.env.credentials is not None and self.env.credentials.strict)
        if role is None:
            if not internal or strict:
                raise trust.denied(ctx, role_arn)
            duration = self._duration(params, 43200)
            principal = Principal.root(account)
            return self._issue(principal, duration, role_arn, session, "AROA" + "X" * 17)
        mfa = None if internal else self._mfa(ctx, ctx.principal, params)
        if internal:
            service = getattr(ctx, "caller_service", None) or DEFAULT_SERVICE_PRINCIPAL
            caller = policy.Caller(service, account, "service", service=service)
            if not trust.trusts(role, caller):
                raise trust.denied(ctx, role_arn, service)
        elif strict and not trust.trusts(role, trust.caller_of(ctx.principal), mfa):
            raise trust.denied(ctx, role_arn)
        duration = self._duration(params, role["MaxSessionDuration"])
        name = role["RoleName"]
        principal = Principal.assumed_role(account, name, session, None, role["RoleId"])
        texts = self._session_policies(account, params)
        principal = dataclasses.replace(principal, session_policies=texts, mfa_time=mfa)
        result = self._issue(principal, duration, role["Arn"], session, role["RoleId"])
        result["PackedPolicySize"] = min(100, sum(len(t) for t in texts) * 100 // 2048)
        return result

    async def assume_role_with_web_identity(self, ctx: Any, params: dict[str, Any]) -> Result:
        role_arn, session = params["RoleArn"], params["RoleSessionName"]
        _check_session_name(session)
        parts = role_arn.split(":")
        account = parts[4] if len(parts) > 5 and parts[4].isdigit() else ctx.account_id
        token = web_identity.decode(params["WebIdentityToken"])
        claims = token.claims
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise web_identity.invalid_token("Missing a required claim: iss")
        iam = self.env.services.get("iam")
        provider = iam.identities.oidc_provider(account, issuer) if iam is not None else None  # type: ignore[attr-defined]
        if provider is None:
            raise web_identity.invalid_token(
                f"No OpenIDConnect provider found in your account for {issuer}"
            )
        await self.key_sets.verify(token, provider["Url"])
        web_identity.check_times(claims, clock.time())
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud] if isinstance(aud, str) else []
        if not audiences:
            raise web_identity.invalid_token("Missing a required claim: aud")
        audience = next((a for a in audiences if a in provider["ClientIDList"]), None)
        if audience is None:
            raise web_identity.invalid_token("Incorrect token audience")
        role = self._role(account, role_arn)
        if role is None or not trust.trusts_token(role, provider, claims, audience, session):
            raise ServiceError("AccessDenied", f"Not authorized to perform {WEB_IDENTITY}", 403)
        duration = self._duration(params, role["MaxSessionDuration"])
        principal = Principal.assumed_role(account, role["RoleName"], session, None, role["RoleId"])
        texts = self._session_policies(account, params)
        principal = dataclasses.replace(principal, session_policies=texts)
        result = self._issue(principal, duration, role["Arn"], session, role["RoleId"])
        result["PackedPolicySize"] = min(100, sum(len(t) for t in texts) * 100 // 2048)
        result["SubjectFromWebIdentityToken"] = str(claims.get("sub", ""))
        result["Provider"] = provider["Arn"]
        result["Audience"] = audience
        source = claims.get(SOURCE_IDENTITY_CLAIM)
        if isinstance(source, str) and source:
            result["SourceIdentity"] = source
        return result

    def get_session_token(self, ctx: Any, params: dict[str, Any]) -> Result:
        principal: Principal | None = getattr(ctx, "principal", None)
        if principal is None or principal.kind == "anonymous":
            principal = Principal.root(ctx.account_id)
        if is_session(principal):
            raise ServiceError(
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
                403,
            )
        limit = 3600 if principal.kind == "root" else 129600
        duration = params.get("DurationSeconds") or min(43200, limit)
        if not 900 <= duration <= limit:
            raise _validation(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                f"satisfy constraint: Member must have value less than or equal to {limit}"
            )
        mfa = self._mfa(ctx, principal, params)
        creds, _ = self._credentials(dataclasses.replace(principal, mfa_time=mfa), duration)
        return {"Credentials": creds}

    # -- helpers ------------------------------------------------------------------------

    def _session_policies(self, account: str, params: dict[str, Any]) -> tuple[str, ...]:
        """AssumeRole's ``Policy`` and ``PolicyArns``: they bound the session."""
        texts: list[str] = []
        inline = params.get("Policy")
        if inline:
            try:
                policy.parse(inline, "identity")
            except policy.MalformedPolicy as exc:
                raise ServiceError("MalformedPolicyDocument", str(exc), 400) from None
            if len(inline) > 2048:
                raise ServiceError(
                    "PackedPolicyTooLarge",
                    "Packed size of the session policies exceeds the limit.",
                    400,
                )
            texts.append(inline)
        iam = self.env.services.get("iam")
        for item in params.get("PolicyArns") or []:
            arn = item.get("arn", "")
            text = iam.identities.managed_document(account, arn) if iam is not None else None  # type: ignore[attr-defined]
            if text is None:
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Policy {arn} does not exist or is not attachable.",
                    400,
                )
            texts.append(text)
        return tuple(texts)

    @staticmethod
    def _duration(params: dict[str, Any], maximum: int) -> int:
        duration = params.get("DurationSeconds") or 3600
        if duration < 900:
            raise _validation(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                "satisfy constraint: Member must have value greater than or equal to 900"
            )
        if duration > maximum:
            raise _validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        return duration

    def _issue(
        self, principal: Principal, duration: int, role_arn: str, session: str, role_id: str
    ) -> Result:
        creds, principal = self._credentials(principal, duration)
        user = {"AssumedRoleId": f"{role_id}:{session}", "Arn": principal.arn}
        if principal.kind == "root":
            role_name = role_arn.rsplit("/", 1)[-1]
            user["Arn"] = f"arn:aws:sts::{principal.account_id}:assumed-role/{role_name}/{session}"
        return {"Credentials": creds, "AssumedRoleUser": user, "PackedPolicySize": 0}

    def _credentials(self, principal: Principal, duration: int) -> tuple[Result, Principal]:
        access_key = "ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))
        secret = "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))
        token = "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(180)
        expires = clock.time() + duration
        principal = dataclasses.replace(principal, access_key=access_key)
        if self.env.credentials is not None:
            self.env.credentials.add_key(
                access_key, secret, principal, session_token=token, expires=expires
            )
        self.sessions.put(
            "session",
            access_key,
            {
                "access_key": access_key,
                "secret_key": secret,
                "token": token,
                "expires": expires,
                "principal": principal.to_doc(),
            },
        )
        creds = {
            "AccessKeyId": access_key,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": _dt(expires),
        }
        return creds, principal
