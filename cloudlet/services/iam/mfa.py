"""Virtual MFA devices: real TOTP seeds, checked with real codes.

CreateVirtualMFADevice makes a random 40-byte seed (its Base32 form is what an
authenticator app takes); EnableMFADevice assigns the device to a user only for
two consecutive codes of that seed (RFC 6238: HMAC-SHA1, 30-second steps, six
digits), as AWS does, so a program's MFA set-up is tested for real.
ResyncMFADevice finds the pair further away and remembers the device's clock
drift; ``verify_token`` (STS's ``SerialNumber`` + ``TokenCode``) accepts a code of
the step before, the step of, or the step after now (drift included), each once
(``identities`` answers STS with it).

No QR code PNG is made (``QRCodePNG``): that needs a QR encoder the project does
not depend on; the Base32 seed carries the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_path, dt, merge_tags, page, tag_page
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
STEP = 30
DIGITS = 6
ENABLE_WINDOW = 2
"""Steps either side of now in which EnableMFADevice looks for its two codes."""
RESYNC_WINDOW = 20
"""Steps either side in which ResyncMFADevice looks (ten minutes of drift)."""
MAX_DEVICES_PER_USER = 8
_NAME = re.compile(r"[\w+=,.@-]{1,226}")
_BAD_CODE = "Authentication code for device is not valid."


def totp(seed: bytes, counter: int) -> str:
    """The RFC 6238 code of ``seed`` for time step ``counter``."""
    mac = hmac.new(seed, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**DIGITS
    return f"{value:0{DIGITS}d}"


def _seed(device: Doc) -> bytes:
    return base64.b32decode(device["Seed"])


def find_pair(seed: bytes, code1: str, code2: str, around: int, window: int) -> int | None:
    """The step ``t`` nearest ``around`` (within ``window``) whose code is ``code1`` and
    whose next step's is ``code2``."""
    for delta in sorted(range(-window, window + 1), key=abs):
        step = around + delta
        if hmac.compare_digest(totp(seed, step), code1) and hmac.compare_digest(
            totp(seed, step + 1), code2
        ):
            return step
    return None


def _codes(params: dict[str, Any]) -> tuple[str, str]:
    """AuthenticationCode1 and 2, if each is six digits (ValidationError otherwise)."""
    codes = params["AuthenticationCode1"], params["AuthenticationCode2"]
    for n, code in enumerate(codes, 1):
        if len(code) != DIGITS or not code.isdigit():
            raise errors.validation(
                f"1 validation error detected: Value '{code}' at 'authenticationCode{n}' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: [\\d]+"
            )
    return codes


def _now_step() -> int:
    return int(clock.time()) // STEP


def verify_token(store: Any, account: str, user: str | None, serial: str, code: str) -> bool:
    """Whether ``code`` is a current code of the MFA device ``serial`` assigned to IAM
    user ``user`` (STS's MFA-protected sessions). A code is good once."""
    device = store.get("mfa_device", key(account, serial))
    if device is None or user is None or device.get("User") != user:
        return False
    seed, now = _seed(device), _now_step() + device.get("Drift", 0)
    for step in (now, now - 1, now + 1):
        if step > device.get("LastStep", -1) and hmac.compare_digest(totp(seed, step), code):
            device["LastStep"] = step
            store.save("mfa_device", device)
            return True
    return False


class MfaHandlers:
    store: Any
    _entity: Callable[[str, str, str], Doc]
    _now: Callable[[], float]
    _caller_user: Callable[[Any], Doc | None]
    _key_owner: Callable[[Any, dict[str, Any]], str]
    _public_user: Callable[..., Result]

    # -- helpers -----------------------------------------------------------------------

    def _device(self, account: str, serial: str) -> Doc:
        doc = self.store.get("mfa_device", key(account, serial))
        if doc is None:
            raise errors.no_such_entity(
                f"VirtualMFADevice with serial number {serial} doesn't exist."
            )
        return doc

    def _assigned(self, ctx: Any, params: dict[str, Any]) -> Doc:
        """The device ``SerialNumber`` names, which must be the user's (the named user,
        else the caller)."""
        user = self._key_owner(ctx, params)
        device = self.store.get("mfa_device", key(ctx.account_id, params["SerialNumber"]))
        if device is None or device.get("User") != user:
            raise errors.no_such_entity(
                f"MFA Device with serial number {params['SerialNumber']} does not exist."
            )
        return device

    @staticmethod
    def _public_mfa(device: Doc) -> Result:
        return {
            "UserName": device["User"],
            "SerialNumber": device["SerialNumber"],
            "EnableDate": dt(device["EnableDate"]),
        }

    # -- devices ------------------------------------------------------------------------

    def create_virtual_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["VirtualMFADeviceName"]
        if not _NAME.fullmatch(name):
            raise errors.validation(
                f"1 validation error detected: Value '{name}' at 'virtualMFADeviceName' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\w+=,.@-]+"
            )
        path = check_path(params.get("Path"))
        serial = f"arn:aws:iam::{account}:mfa{path}{name}"
        if any(d["Name"] == name for d in self.store.all("mfa_device", account)):
            raise errors.entity_already_exists(
                "MFADevice entity at the same path and name already exists."
            )
        seed = base64.b32encode(secrets.token_bytes(40)).decode()
        doc: Doc = {"SerialNumber": serial, "Name": name, "Path": path, "Seed": seed, "Tags": {}}
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("mfa_device", key(account, serial), doc)
        out: Result = {"SerialNumber": serial, "Base32StringSeed": seed.encode()}
        if doc["Tags"]:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in doc["Tags"].items()]
        return {"VirtualMFADevice": out}

    def enable_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        user = self._entity("user", account, params["UserName"])
        device = self._device(account, params["SerialNumber"])
        code1, code2 = _codes(params)
        if device.get("User"):
            raise errors.entity_already_exists("MFA Device is already in use.")
        owned = [
            d for d in self.store.all("mfa_device", account) if d.get("User") == user["UserName"]
        ]
        if len(owned) >= MAX_DEVICES_PER_USER:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}"
            )
        step = find_pair(_seed(device), code1, code2, _now_step(), ENABLE_WINDOW)
        if step is None:
            raise errors.invalid_authentication_code(_BAD_CODE)
        device.update(User=user["UserName"], EnableDate=self._now(), LastStep=step + 1, Drift=0)
        self.store.save("mfa_device", device)
        return {}

    def resync_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._entity("user", ctx.account_id, params["UserName"])
        device = self._assigned(ctx, params)
        code1, code2 = _codes(params)
        now = _now_step()
        step = find_pair(_seed(device), code1, code2, now + device.get("Drift", 0), RESYNC_WINDOW)
        if step is None:
            raise errors.invalid_authentication_code(_BAD_CODE)
        device.update(Drift=step + 1 - now, LastStep=step + 1)
        self.store.save("mfa_device", device)
        return {}

    def deactivate_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        device = self._assigned(ctx, params)
        for field in ("User", "EnableDate", "LastStep", "Drift"):
            device.pop(field, None)
        self.store.save("mfa_device", device)
        return {}

    def delete_virtual_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        device = self._device(ctx.account_id, params["SerialNumber"])
        if device.get("User"):
            raise errors.delete_conflict("MFA VirtualDevice in use. Must deactivate first.")
        self.store.delete("mfa_device", device["_key"])
        return {}

    def get_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        device = self._assigned(ctx, params)
        return self._public_mfa(device)

    def list_mfa_devices(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("UserName"):
            user: str | None = self._entity("user", ctx.account_id, params["UserName"])["UserName"]
        else:
            me = self._caller_user(ctx)
            user = me["UserName"] if me is not None else None  # the root has no IAM devices
        devices = [d for d in self.store.all("mfa_device", ctx.account_id) if d.get("User") == user]
        devices.sort(key=lambda d: d["EnableDate"])
        listed = [self._public_mfa(d) for d in devices] if user else []
        return page(listed, params, "MFADevices")

    def list_virtual_mfa_devices(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        status = params.get("AssignmentStatus") or "Any"
        if status not in ("Assigned", "Unassigned", "Any"):
            raise errors.validation(
                f"1 validation error detected: Value '{status}' at 'assignmentStatus' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Assigned, Unassigned, Any]"
            )
        listed = []
        for device in sorted(
            self.store.all("mfa_device", account), key=lambda d: d["SerialNumber"]
        ):
            assigned = bool(device.get("User"))
            if status != "Any" and assigned != (status == "Assigned"):
                continue
            out: Result = {"SerialNumber": device["SerialNumber"]}
            user = self.store.get("user", key(account, device["User"])) if assigned else None
            if user is not None:
                out["User"] = self._public_user(user)
                out["EnableDate"] = dt(device["EnableDate"])
            listed.append(out)
        return page(listed, params, "VirtualMFADevices")

    # -- tags ---------------------------------------------------------------------------

    def tag_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        device = self._device(ctx.account_id, params["SerialNumber"])
        merge_tags(device["Tags"], params["Tags"])
        self.store.save("mfa_device", device)
        return {}

    def untag_mfa_device(self, ctx: Any, params: dict[str, Any]) -> Result:
        device = self._device(ctx.account_id, params["SerialNumber"])
        for tag_key in params["TagKeys"]:
            device["Tags"].pop(tag_key, None)
        self.store.save("mfa_device", device)
        return {}

    def list_mfa_device_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        return tag_page(self._device(ctx.account_id, params["SerialNumber"])["Tags"], params)
