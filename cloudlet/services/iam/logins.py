"""Console passwords: users' login profiles, ChangePassword, and the account's password
policy that every new password must meet.

cloudlet has no console to sign in to, but programs manage passwords (Terraform's
``aws_iam_user_login_profile``, onboarding scripts) and expect IAM's answers: a
password that breaks the account's policy is refused (``PasswordPolicyViolation``),
ChangePassword needs the right old password, reused passwords are refused as the
policy's ``PasswordReusePrevention`` says. Passwords are kept only as salted
scrypt hashes (the standard library's ``hashlib.scrypt``) and never returned; a hash
costs tens of milliseconds, so hashing and comparing run in a worker thread, off the
event loop.

Without a password policy of its own an account has AWS's default: 8 to 128
characters, with at least three of uppercase letters, lowercase letters,
numbers and symbols.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_range, dt
from cloudlet.services.iam.store import Doc

Result = dict[str, Any]
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
"""What the password policy counts as symbols (UpdateAccountPasswordPolicy's
``RequireSymbols``)."""
HISTORY = 24
"""Previous passwords kept per user: the most ``PasswordReusePrevention`` allows."""
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_POLICY_FLAGS = (
    "RequireSymbols",
    "RequireNumbers",
    "RequireUppercaseCharacters",
    "RequireLowercaseCharacters",
    "AllowUsersToChangePassword",
    "HardExpiry",
)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)  # type: ignore[arg-type]
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        ours = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)  # type: ignore[arg-type]
    except ValueError:
        return False
    return hmac.compare_digest(ours.hex(), digest)


def _hash_unless_reused(password: str, recent: list[str]) -> str | None:
    """A new hash of ``password``, or None when it is one of the ``recent`` ones."""
    if any(password_matches(password, old) for old in recent):
        return None
    return hash_password(password)


def _classes(password: str) -> dict[str, bool]:
    return {
        "RequireUppercaseCharacters": any(c in string.ascii_uppercase for c in password),
        "RequireLowercaseCharacters": any(c in string.ascii_lowercase for c in password),
        "RequireNumbers": any(c in string.digits for c in password),
        "RequireSymbols": any(c in SYMBOLS for c in password),
    }


def meets_policy(password: str, policy: Doc | None) -> bool:
    """Whether ``password`` meets the account's ``policy`` (AWS's default when None)."""
    found = _classes(password)
    if policy is None:
        return 8 <= len(password) <= 128 and sum(found.values()) >= 3
    if len(password) < policy["MinimumPasswordLength"]:
        return False
    return all(found[flag] for flag in found if policy[flag])


class LoginHandlers:
    store: Any
    _entity: Callable[[str, str, str], Doc]
    _changed: Callable[[], None]
    _now: Callable[[], float]
    _caller_user: Callable[[Any], Doc | None]
    _key_owner: Callable[[Any, dict[str, Any]], str]
    _account_doc: Callable[[str], Doc]
    _save_account: Callable[[Doc], None]

    # -- helpers -----------------------------------------------------------------------

    def _password_policy(self, account: str) -> Doc | None:
        return self._account_doc(account).get("PasswordPolicy")

    async def _set_password(self, account: str, user: Doc, password: str) -> str:
        """The hash of ``password`` for ``user`` once the account's policy allows it."""
        policy = self._password_policy(account)
        if not meets_policy(password, policy):
            raise errors.password_policy_violation()
        reuse = policy["PasswordReusePrevention"] if policy else 0
        recent = list(user.get("PasswordHistory", []))[:reuse]
        hashed = await asyncio.to_thread(_hash_unless_reused, password, recent)
        if hashed is None:
            raise errors.password_policy_violation()
        history: list[str] = user.setdefault("PasswordHistory", [])
        history.insert(0, hashed)
        del history[HISTORY:]
        return hashed

    @staticmethod
    def _public_login(user: Doc) -> Result:
        profile = user["LoginProfile"]
        return {
            "UserName": user["UserName"],
            "CreateDate": dt(profile["CreateDate"]),
            "PasswordResetRequired": profile["PasswordResetRequired"],
        }

    def _profile_owner(self, ctx: Any, params: dict[str, Any]) -> Doc:
        """The named user (else the calling user) and its login profile."""
        user = self._entity("user", ctx.account_id, self._key_owner(ctx, params))
        if not user.get("LoginProfile"):
            raise errors.no_such_entity(
                f"Login Profile for User {user['UserName']} cannot be found."
            )
        return user

    # -- login profiles ----------------------------------------------------------------

    async def create_login_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        user = self._entity("user", account, self._key_owner(ctx, params))
        if user.get("LoginProfile"):
            raise errors.entity_already_exists(
                f"Login Profile for user {user['UserName']} already exists."
            )
        password = params.get("Password")
        if not password:
            raise errors.validation(
                "1 validation error detected: Value null at 'password' failed to satisfy "
                "constraint: Member must not be null"
            )
        hashed = await self._set_password(account, user, password)
        if user.get("LoginProfile"):  # made by a request that ran while this one hashed
            raise errors.entity_already_exists(
                f"Login Profile for user {user['UserName']} already exists."
            )
        user["LoginProfile"] = {
            "Password": hashed,
            "CreateDate": self._now(),
            "PasswordResetRequired": bool(params.get("PasswordResetRequired")),
        }
        self.store.save("user", user)
        return {"LoginProfile": self._public_login(user)}

    def get_login_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"LoginProfile": self._public_login(self._profile_owner(ctx, params))}

    async def update_login_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        user = self._profile_owner(ctx, params)
        if params.get("Password"):
            hashed = await self._set_password(ctx.account_id, user, params["Password"])
            user = self._profile_owner(ctx, params)  # still there after hashing
            user["LoginProfile"]["Password"] = hashed
            user["LoginProfile"]["PasswordLastChanged"] = self._now()
        profile = user["LoginProfile"]
        if params.get("PasswordResetRequired") is not None:
            profile["PasswordResetRequired"] = bool(params["PasswordResetRequired"])
        self.store.save("user", user)
        return {}

    def delete_login_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        user = self._profile_owner(ctx, params)
        del user["LoginProfile"]
        self.store.save("user", user)
        return {}

    async def change_password(self, ctx: Any, params: dict[str, Any]) -> Result:
        user = self._caller_user(ctx)
        if user is None:
            raise errors.invalid_user_type(
                "ChangePassword changes the password of the IAM user who calls it; "
                "the root user and roles have no IAM user password."
            )
        profile = user.get("LoginProfile")
        if not profile:
            raise errors.no_such_entity(
                f"Login Profile for User {user['UserName']} cannot be found."
            )
        matches = await asyncio.to_thread(
            password_matches, params["OldPassword"], profile["Password"]
        )
        if not matches:
            raise ServiceError("AccessDenied", "The old password is incorrect.", 403)
        hashed = await self._set_password(ctx.account_id, user, params["NewPassword"])
        profile = user.get("LoginProfile")
        if not profile:  # deleted while this request hashed
            raise errors.no_such_entity(
                f"Login Profile for User {user['UserName']} cannot be found."
            )
        profile.update(Password=hashed, PasswordResetRequired=False)
        profile["PasswordLastChanged"] = self._now()
        self.store.save("user", user)
        return {}

    # -- the account's password policy ---------------------------------------------------

    def update_account_password_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_range(params.get("MinimumPasswordLength"), "minimumPasswordLength", 6, 128)
        check_range(params.get("MaxPasswordAge"), "maxPasswordAge", 1, 1095)
        check_range(params.get("PasswordReusePrevention"), "passwordReusePrevention", 1, 24)
        policy: Doc = {flag: bool(params.get(flag)) for flag in _POLICY_FLAGS}
        policy["MinimumPasswordLength"] = params.get("MinimumPasswordLength") or 6
        policy["MaxPasswordAge"] = params.get("MaxPasswordAge") or 0
        policy["PasswordReusePrevention"] = params.get("PasswordReusePrevention") or 0
        doc = self._account_doc(ctx.account_id)
        doc["PasswordPolicy"] = policy
        self._save_account(doc)
        self._changed()  # AllowUsersToChangePassword grants users iam:ChangePassword
        return {}

    def get_account_password_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        policy = self._password_policy(ctx.account_id)
        if policy is None:
            raise errors.no_such_entity(
                f"The Password Policy with domain name {ctx.account_id} cannot be found."
            )
        out: Result = {flag: policy[flag] for flag in _POLICY_FLAGS}
        out["MinimumPasswordLength"] = policy["MinimumPasswordLength"]
        out["ExpirePasswords"] = policy["MaxPasswordAge"] > 0
        if policy["MaxPasswordAge"]:
            out["MaxPasswordAge"] = policy["MaxPasswordAge"]
        if policy["PasswordReusePrevention"]:
            out["PasswordReusePrevention"] = policy["PasswordReusePrevention"]
        return {"PasswordPolicy": out}

    def delete_account_password_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._account_doc(ctx.account_id)
        if doc.pop("PasswordPolicy", None) is None:
            raise errors.no_such_entity(
                f"The Password Policy with domain name {ctx.account_id} cannot be found."
            )
        self._save_account(doc)
        self._changed()
        return {}
