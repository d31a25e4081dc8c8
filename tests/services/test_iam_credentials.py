"""IAM users' other credentials with real boto3: login profiles checked against the
account's password policy (and AWS's default one), ChangePassword with the old password,
reuse prevention, and virtual MFA devices enabled, resynchronised and deactivated with
real RFC 6238 codes computed here, and STS sessions opened with one (strict mode)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique

ACCOUNT = "000000000000"


def totp(seed_b32: bytes, step: int) -> str:
    """RFC 6238 (HMAC-SHA1, six digits) for time step ``step``."""
    key = base64.b32decode(seed_b32)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def now_step() -> int:
    return int(time.time()) // 30


def error(exc) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


@pytest.fixture
def user(iam):
    name = unique("user")
    iam.create_user(UserName=name)
    return name


def test_login_profiles_and_the_default_password_policy(iam, user):
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName=user)
    assert error(exc) == (
        "NoSuchEntity",
        404,
        f"Login Profile for User {user} cannot be found.",
    )
    # AWS's default policy: 8+ characters of at least three kinds.
    for weak in ("Ab1!", "alllowercase", "lowercase123"):
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName=user, Password=weak)
        assert error(exc) == (
            "PasswordPolicyViolation",
            400,
            "Password does not conform to the account password policy.",
        )
    profile = iam.create_login_profile(
        UserName=user, Password="Lower-and-UPPER", PasswordResetRequired=True
    )["LoginProfile"]
    assert profile["UserName"] == user and profile["PasswordResetRequired"] is True
    assert "Password" not in profile
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=user, Password="Lower-and-UPPER")
    assert error(exc)[:2] == ("EntityAlreadyExists", 409)
    iam.update_login_profile(UserName=user, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert error(exc)[2] == "Cannot delete entity, must delete login profile first."
    iam.delete_login_profile(UserName=user)
    iam.delete_user(UserName=user)


def test_account_password_policy_and_change_password(iam, aws_client, user):
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert error(exc)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        iam.update_account_password_policy(MinimumPasswordLength=200)
    assert error(exc)[:2] == ("ValidationError", 400)
    iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        PasswordReusePrevention=2,
        MaxPasswordAge=90,
    )
    try:
        policy = iam.get_account_password_policy()["PasswordPolicy"]
        assert policy["MinimumPasswordLength"] == 12 and policy["ExpirePasswords"] is True
        assert policy["RequireSymbols"] and not policy["RequireUppercaseCharacters"]
        assert policy["PasswordReusePrevention"] == 2 and policy["MaxPasswordAge"] == 90
        for weak in ("short1!", "longenough-nodigits", "longenough12345"):
            with pytest.raises(ClientError) as exc:
                iam.create_login_profile(UserName=user, Password=weak)
            assert error(exc)[0] == "PasswordPolicyViolation"
        iam.create_login_profile(UserName=user, Password="first-pass-01")
        key = iam.create_access_key(UserName=user)["AccessKey"]
        mine = aws_client(
            "iam",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        with pytest.raises(ClientError) as exc:
            mine.change_password(OldPassword="wrong-pass-01", NewPassword="second-pass-02")
        assert error(exc)[:2] == ("AccessDenied", 403)
        mine.change_password(OldPassword="first-pass-01", NewPassword="second-pass-02")
        with pytest.raises(ClientError) as exc:  # reused within the last two
            mine.change_password(OldPassword="second-pass-02", NewPassword="first-pass-01")
        assert error(exc)[0] == "PasswordPolicyViolation"
        mine.change_password(OldPassword="second-pass-02", NewPassword="third-pass-03")
        with pytest.raises(ClientError) as exc:  # the root has no IAM password
            iam.change_password(OldPassword="x", NewPassword="fourth-pass-04")
        assert error(exc)[:2] == ("InvalidUserType", 400)
    finally:
        iam.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        iam.delete_account_password_policy()
    assert error(exc)[0] == "NoSuchEntity"


def test_virtual_mfa_devices_with_real_codes(iam, user):
    name = unique("device")
    device = iam.create_virtual_mfa_device(
        VirtualMFADeviceName=name, Tags=[{"Key": "team", "Value": "a"}]
    )["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"]
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/{name}"
    assert len(seed) == 64 and base64.b32decode(seed)
    with pytest.raises(ClientError) as exc:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name)
    assert error(exc)[:2] == ("EntityAlreadyExists", 409)
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in listed]
    step = now_step()
    with pytest.raises(ClientError) as exc:  # not consecutive
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp(seed, step),
            AuthenticationCode2=totp(seed, step + 2),
        )
    assert error(exc) == (
        "InvalidAuthenticationCode",
        403,
        "Authentication code for device is not valid.",
    )
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step),
        AuthenticationCode2=totp(seed, step + 1),
    )
    mine = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in mine] == [(user, serial)]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    entry = next(d for d in assigned if d["SerialNumber"] == serial)
    assert entry["User"]["UserName"] == user and "EnableDate" in entry
    assert iam.get_mfa_device(SerialNumber=serial, UserName=user)["UserName"] == user
    # A device whose clock drifted ten steps is resynchronised.
    iam.resync_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step + 10),
        AuthenticationCode2=totp(seed, step + 11),
    )
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "team", "Value": "a"}]
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["team"])
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error(exc)[:2] == ("DeleteConflict", 409)
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert error(exc)[2] == "Cannot delete entity, must delete MFA device first."
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["MFADevicesInUse"] >= 1 and summary["MFADevices"] >= summary["MFADevicesInUse"]
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error(exc)[:2] == ("NoSuchEntity", 404)
    iam.delete_user(UserName=user)


def fresh_step() -> int:
    """The current time step, once at least three seconds remain in it (so the server
    sees the same step)."""
    deadline = time.time() + 5
    while time.time() % 30 > 27 and time.time() < deadline:
        time.sleep(0.2)
    return now_step()


def test_mfa_protected_sessions_in_strict_mode(strict_server):
    iam = strict_server.client("iam")
    user = unique("mfa-user")
    iam.create_user(UserName=user)
    mfa_only = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    iam.put_user_policy(
        UserName=user,
        PolicyName="mfa",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sqs:*", "Resource": "*", "Condition": mfa_only},
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]

    def client(service, creds):
        return strict_server.client(
            service,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
        )

    with pytest.raises(ClientError) as exc:
        client("sqs", key).list_queues()
    assert error(exc)[:2] == ("AccessDenied", 403)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("dev"))["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"]
    step = fresh_step()
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 2),
        AuthenticationCode2=totp(seed, step - 1),
    )
    sts = client("sts", key)
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step - 1))  # used
    assert error(exc) == (
        "AccessDenied",
        403,
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
    )
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step))["Credentials"]
    client("sqs", creds).list_queues()
    plain = sts.get_session_token()["Credentials"]
    with pytest.raises(ClientError):
        client("sqs", plain).list_queues()
    # A role whose trust policy asks for MFA.
    role = unique("mfa-role")
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": mfa_only,
    }
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=arn, RoleSessionName="no-mfa")
    assert error(exc)[:2] == ("AccessDenied", 403)
    assumed = sts.assume_role(
        RoleArn=arn, RoleSessionName="mfa", SerialNumber=serial, TokenCode=totp(seed, step + 1)
    )
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/mfa")


def test_allow_users_to_change_password_grants_it(strict_server):
    iam = strict_server.client("iam")
    user = unique("pw-user")
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password="Initial-Pass-1")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = strict_server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    with pytest.raises(ClientError) as exc:
        mine.change_password(OldPassword="Initial-Pass-1", NewPassword="Second-Pass-2")
    assert error(exc)[:2] == ("AccessDenied", 403)
    iam.update_account_password_policy(AllowUsersToChangePassword=True)
    try:
        mine.change_password(OldPassword="Initial-Pass-1", NewPassword="Second-Pass-2")
        assert mine.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"]
        with pytest.raises(ClientError):  # only their own password, nothing else
            mine.update_login_profile(UserName=user, Password="Third-Pass-3")
    finally:
        iam.delete_account_password_policy()
    with pytest.raises(ClientError):
        mine.change_password(OldPassword="Second-Pass-2", NewPassword="Third-Pass-3")
