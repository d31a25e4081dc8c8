"""IAM server certificates and account settings with real boto3: uploads checked as
IAM checks them (PEM, key pair, expiry), paths, renames and tags; the account alias,
GetAccountSummary, GetAccountAuthorizationDetails and the STS token preference; and
all of it, with login profiles and MFA devices, kept across a restart."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def certificate(key, days: int = 30, *, ca=None) -> str:
    """A PEM certificate for ``key`` valid for ``days`` (negative: expired), signed by
    ``ca`` (a (key, name) pair) or by itself."""
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, unique("site") + ".test")])
    issuer_key, issuer = ca or (key, subject)
    start, end = (now - dt.timedelta(days=1), now + dt.timedelta(days=days))
    if days < 0:
        start, end = now - dt.timedelta(days=10), now + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def error(exc) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


def test_server_certificates(iam):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_pem = certificate(ca_key)
    ca_name = x509.load_pem_x509_certificate(ca_pem.encode()).subject
    body = certificate(key, 90, ca=(ca_key, ca_name))
    name = unique("cert")
    meta = iam.upload_server_certificate(
        ServerCertificateName=name,
        Path="/cloudfront/",
        CertificateBody=body,
        PrivateKey=key_pem(key),
        CertificateChain=ca_pem,
        Tags=[{"Key": "env", "Value": "test"}],
    )["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{ACCOUNT}:server-certificate/cloudfront/{name}"
    assert meta["ServerCertificateId"].startswith("ASCA")
    expected = x509.load_pem_x509_certificate(body.encode()).not_valid_after_utc
    assert abs((meta["Expiration"] - expected).total_seconds()) < 1
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"] == body.strip() and got["CertificateChain"] == ca_pem.strip()
    assert "PrivateKey" not in got and got["Tags"] == [{"Key": "env", "Value": "test"}]
    listed = iam.list_server_certificates(PathPrefix="/cloudfront/")[
        "ServerCertificateMetadataList"
    ]
    assert name in [c["ServerCertificateName"] for c in listed]
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(
            ServerCertificateName=name, CertificateBody=body, PrivateKey=key_pem(key)
        )
    assert error(exc) == ("EntityAlreadyExists", 409)
    other = ec.generate_private_key(ec.SECP256R1())
    bad = [
        ("not a certificate at all", key_pem(key), "MalformedCertificate"),
        (body, key_pem(other), "KeyPairMismatch"),
        (certificate(key, -1), key_pem(key), "MalformedCertificate"),  # expired
    ]
    for cert_body, private_key, code in bad:
        with pytest.raises(ClientError) as exc:
            iam.upload_server_certificate(
                ServerCertificateName=unique("bad"),
                CertificateBody=cert_body,
                PrivateKey=private_key,
            )
        assert error(exc) == (code, 400)
    renamed = unique("renamed")
    iam.update_server_certificate(
        ServerCertificateName=name, NewServerCertificateName=renamed, NewPath="/web/"
    )
    moved = iam.get_server_certificate(ServerCertificateName=renamed)["ServerCertificate"]
    assert moved["ServerCertificateMetadata"]["Arn"].endswith(f":server-certificate/web/{renamed}")
    with pytest.raises(ClientError) as exc:
        iam.get_server_certificate(ServerCertificateName=name)
    assert error(exc) == ("NoSuchEntity", 404)
    iam.untag_server_certificate(ServerCertificateName=renamed, TagKeys=["env"])
    assert iam.list_server_certificate_tags(ServerCertificateName=renamed)["Tags"] == []
    iam.delete_server_certificate(ServerCertificateName=renamed)


def test_alias_summary_and_authorization_details(iam):
    with pytest.raises(ClientError) as exc:
        iam.create_account_alias(AccountAlias="Bad--Alias")
    assert error(exc) == ("ValidationError", 400)
    iam.create_account_alias(AccountAlias="cloudlet-test-one")
    iam.create_account_alias(AccountAlias="cloudlet-test-two")  # one alias: replaced
    assert iam.list_account_aliases()["AccountAliases"] == ["cloudlet-test-two"]
    with pytest.raises(ClientError) as exc:
        iam.delete_account_alias(AccountAlias="cloudlet-test-one")
    assert error(exc) == ("NoSuchEntity", 404)
    iam.delete_account_alias(AccountAlias="cloudlet-test-two")
    assert iam.list_account_aliases()["AccountAliases"] == []
    before = iam.get_account_summary()["SummaryMap"]
    user = unique("user")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    iam.put_user_policy(
        UserName=user,
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1 and after["UsersQuota"] == 5000
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    details = iam.get_account_authorization_details(Filter=["User", "AWSManagedPolicy"])
    mine = next(u for u in details["UserDetailList"] if u["UserName"] == user)
    assert mine["UserPolicyList"][0]["PolicyName"] == "inline"
    assert mine["AttachedManagedPolicies"][0]["PolicyName"] == "AmazonSQSFullAccess"
    names = [p["PolicyName"] for p in details["Policies"]]
    assert "AmazonSQSFullAccess" in names and "AmazonEC2FullAccess" not in names
    assert details["RoleDetailList"] == [] and details["GroupDetailList"] == []
    paginator = iam.get_paginator("get_account_authorization_details")
    pages = list(paginator.paginate(Filter=["User"], PaginationConfig={"PageSize": 1}))
    users = [u["UserName"] for p in pages for u in p["UserDetailList"]]
    assert user in users and len(pages) == len(users)


def test_credentials_and_settings_survive_a_restart(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        iam = server.client("iam")
        iam.create_user(UserName="keeper")
        iam.update_account_password_policy(MinimumPasswordLength=10)
        iam.create_login_profile(UserName="keeper", Password="Kept-Pass-1")
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="kept")["VirtualMFADevice"][
            "SerialNumber"
        ]
        iam.upload_server_certificate(
            ServerCertificateName="kept", CertificateBody=certificate(key), PrivateKey=key_pem(key)
        )
        iam.create_account_alias(AccountAlias="kept-alias")
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        iam = server.client("iam")
        assert iam.get_login_profile(UserName="keeper")["LoginProfile"]["UserName"] == "keeper"
        assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 10
        devices = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
        assert [d["SerialNumber"] for d in devices] == [serial]
        assert iam.get_server_certificate(ServerCertificateName="kept")["ServerCertificate"]
        assert iam.list_account_aliases()["AccountAliases"] == ["kept-alias"]
        with pytest.raises(ClientError) as exc:  # the policy still applies
            iam.update_login_profile(UserName="keeper", Password="Short-1")
        assert error(exc) == ("PasswordPolicyViolation", 400)
    finally:
        server.stop()
