"""IAM users' SSH public keys, signing certificates and service-specific credentials
with real boto3: parsing and fingerprints, encodings, statuses, limits, AWS's errors,
DeleteUser's conflicts, the credential report's cert columns, a restart."""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import io
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def error(call, **kw) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def openssh(key, comment: str = " me@laptop") -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return raw.decode() + comment


def pem(key) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return raw.decode()


def md5_fingerprint(ssh_text: str) -> str:
    digest = hashlib.md5(base64.b64decode(ssh_text.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def certificate(key=None, *, days: int = 30, start_days: int = -1, signer=None) -> str:
    key = key or rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, unique("signer"))])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=start_days))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(signer or key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def iam(cloudlet_server):
    return cloudlet_server.client("iam")


def new_user(iam) -> str:
    name = unique("keys")
    iam.create_user(UserName=name)
    return name


def test_ssh_public_keys(iam):
    user = new_user(iam)
    key = rsa_key()
    body = openssh(key)
    uploaded = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)["SSHPublicKey"]
    key_id = uploaded["SSHPublicKeyId"]
    assert key_id.startswith("APKA") and len(key_id) == 20
    assert uploaded["Fingerprint"] == md5_fingerprint(body)
    assert uploaded["Status"] == "Active" and uploaded["UserName"] == user

    as_pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="PEM")
    assert as_pem["SSHPublicKey"]["SSHPublicKeyBody"] == pem(key).strip()
    as_ssh = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")
    assert as_ssh["SSHPublicKey"]["SSHPublicKeyBody"] == body

    # the same key in PEM is the same key
    assert error(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=pem(key)) == (
        "DuplicateSSHPublicKey",
        400,
    )
    other = rsa_key()
    second = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem(other))["SSHPublicKey"]
    converted = iam.get_ssh_public_key(
        UserName=user, SSHPublicKeyId=second["SSHPublicKeyId"], Encoding="SSH"
    )["SSHPublicKey"]
    assert converted["SSHPublicKeyBody"] == openssh(other, "")
    assert converted["Fingerprint"] == md5_fingerprint(openssh(other, ""))

    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Inactive")
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [
        (key_id, "Inactive"),
        (second["SSHPublicKeyId"], "Active"),
    ]

    ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJxWDQL1F5o2Gqs1bTO0hUmc0jNXfb7vq2nqOqEjWhq x"
    short = openssh(rsa_key(1024))
    ecdsa = ec.generate_private_key(ec.SECP256R1())
    for bad in (ed25519, short, pem(ecdsa), "ssh-rsa AAAAnotbase64!!"):
        assert error(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=bad) == (
            "InvalidPublicKey",
            400,
        )
    assert error(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody="hello world") == (
        "UnrecognizedPublicKeyEncoding",
        400,
    )
    for _ in range(3):
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(rsa_key()))
    assert error(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=openssh(rsa_key())) == (
        "LimitExceeded",
        409,
    )
    missing = "APKA" + "A" * 16
    assert error(iam.get_ssh_public_key, UserName=user, SSHPublicKeyId=missing, Encoding="SSH") == (
        "NoSuchEntity",
        404,
    )
    assert error(iam.get_ssh_public_key, UserName=user, SSHPublicKeyId=key_id, Encoding="DER") == (
        "ValidationError",
        400,
    )
    assert error(
        iam.update_ssh_public_key, UserName=user, SSHPublicKeyId=key_id, Status="Expired"
    ) == ("InvalidInput", 400)
    assert error(iam.upload_ssh_public_key, UserName="nobody-x", SSHPublicKeyBody=body) == (
        "NoSuchEntity",
        404,
    )

    assert error(iam.delete_user, UserName=user) == ("DeleteConflict", 409)
    for k in iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]:
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=k["SSHPublicKeyId"])
    iam.delete_user(UserName=user)


def test_signing_certificates_and_the_credential_report(iam):
    user = new_user(iam)
    body = certificate()
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    cert_id = cert["CertificateId"]
    assert len(cert_id) == 32 and cert_id.isalnum() and cert_id.upper() == cert_id
    assert cert["CertificateBody"] == body.strip() and cert["Status"] == "Active"

    other = new_user(iam)
    assert error(iam.upload_signing_certificate, UserName=other, CertificateBody=body) == (
        "DuplicateCertificate",
        409,
    )
    expired = certificate(days=-1, start_days=-10)
    future = certificate(start_days=5)
    forged = certificate(signer=rsa_key())
    two = certificate() + certificate()
    cases = (
        ("not a certificate", "MalformedCertificate"),
        (expired, "MalformedCertificate"),
        (future, "MalformedCertificate"),
        (forged, "InvalidCertificate"),
        (two, "InvalidCertificate"),
    )
    for bad, expected in cases:
        assert error(iam.upload_signing_certificate, UserName=user, CertificateBody=bad) == (
            expected,
            400,
        )
    second = iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    assert error(iam.upload_signing_certificate, UserName=user, CertificateBody=certificate()) == (
        "LimitExceeded",
        409,
    )
    iam.update_signing_certificate(UserName=user, CertificateId=cert_id, Status="Inactive")
    listed = iam.list_signing_certificates(UserName=user)["Certificates"]
    assert [(c["CertificateId"], c["Status"]) for c in listed] == [
        (cert_id, "Inactive"),
        (second["Certificate"]["CertificateId"], "Active"),
    ]
    assert error(
        iam.update_signing_certificate, UserName=other, CertificateId=cert_id, Status="Active"
    ) == ("NoSuchEntity", 404)

    iam.generate_credential_report()
    deadline = time.monotonic() + 15
    while True:
        try:
            content = iam.get_credential_report()["Content"].decode()
            break
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ReportInProgress"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    row = {r["user"]: r for r in csv.DictReader(io.StringIO(content))}[user]
    assert row["cert_1_active"] == "false" and row["cert_2_active"] == "true"
    uploaded = cert["UploadDate"].astimezone(datetime.UTC).replace(microsecond=0)
    assert row["cert_1_last_rotated"] == uploaded.isoformat()

    assert error(iam.delete_user, UserName=user) == ("DeleteConflict", 409)
    for c in listed:
        iam.delete_signing_certificate(UserName=user, CertificateId=c["CertificateId"])
    iam.delete_user(UserName=user)


def test_service_specific_credentials(cloudlet_server, iam):
    user = new_user(iam)
    created = iam.create_service_specific_credential(
        UserName=user, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    assert created["ServiceUserName"] == f"{user}-at-{ACCOUNT}"
    assert len(created["ServicePassword"]) == 44
    assert created["ServiceSpecificCredentialId"].startswith("ACCA")
    assert created["Status"] == "Active" and "ExpirationDate" not in created
    cred_id = created["ServiceSpecificCredentialId"]

    reset = iam.reset_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=cred_id
    )
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != created["ServicePassword"]

    key = iam.create_service_specific_credential(
        UserName=user, ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert key["ServiceCredentialSecret"].startswith("ABSK")
    assert key["ServiceCredentialAlias"].startswith(user)
    assert "ServicePassword" not in key
    assert (key["ExpirationDate"] - key["CreateDate"]).days == 30

    iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=cred_id, Status="Inactive"
    )
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert [(c["ServiceName"], c["Status"]) for c in listed] == [
        ("codecommit.amazonaws.com", "Inactive"),
        ("bedrock.amazonaws.com", "Active"),
    ]
    assert all("ServicePassword" not in c and "ServiceCredentialSecret" not in c for c in listed)
    only = iam.list_service_specific_credentials(
        UserName=user, ServiceName="bedrock.amazonaws.com"
    )["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in only] == [key["ServiceSpecificCredentialId"]]
    everyone = iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"]
    assert {c["ServiceSpecificCredentialId"] for c in listed} <= {
        c["ServiceSpecificCredentialId"] for c in everyone
    }

    create = iam.create_service_specific_credential
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert error(create, UserName=user, ServiceName="codecommit.amazonaws.com") == (
        "LimitExceeded",
        409,
    )
    assert error(create, UserName=user, ServiceName="s3.amazonaws.com") == (
        "NotSupportedService",
        404,
    )
    assert error(
        create, UserName=user, ServiceName="cassandra.amazonaws.com", CredentialAgeDays=5
    ) == ("InvalidInput", 400)
    unchecked = cloudlet_server.client("iam", config=Config(parameter_validation=False))
    assert error(
        unchecked.create_service_specific_credential,
        UserName=user,
        ServiceName="bedrock.amazonaws.com",
        CredentialAgeDays=0,
    ) == ("ValidationError", 400)
    assert error(iam.list_service_specific_credentials, UserName=user, AllUsers=True) == (
        "InvalidInput",
        400,
    )
    assert error(
        iam.reset_service_specific_credential,
        UserName=user,
        ServiceSpecificCredentialId="ACCA" + "B" * 17,
    ) == ("NoSuchEntity", 404)

    assert error(iam.delete_user, UserName=user) == ("DeleteConflict", 409)
    for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"]
        )
    iam.delete_user(UserName=user)


def test_keys_certificates_and_credentials_survive_a_restart(tmp_path):
    first = CloudletServer.start(data_dir=tmp_path)
    try:
        iam = first.client("iam")
        iam.create_user(UserName="holder")
        ssh = iam.upload_ssh_public_key(UserName="holder", SSHPublicKeyBody=openssh(rsa_key()))
        cert = iam.upload_signing_certificate(UserName="holder", CertificateBody=certificate())
        cred = iam.create_service_specific_credential(
            UserName="holder", ServiceName="cassandra.amazonaws.com"
        )
        iam.update_user(UserName="holder", NewUserName="renamed")
    finally:
        first.stop()
    second = CloudletServer.start(data_dir=tmp_path)
    try:
        iam = second.client("iam")
        (key,) = iam.list_ssh_public_keys(UserName="renamed")["SSHPublicKeys"]
        assert key["SSHPublicKeyId"] == ssh["SSHPublicKey"]["SSHPublicKeyId"]
        got = iam.get_ssh_public_key(
            UserName="renamed", SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH"
        )["SSHPublicKey"]
        assert got["Fingerprint"] == ssh["SSHPublicKey"]["Fingerprint"]
        (kept,) = iam.list_signing_certificates(UserName="renamed")["Certificates"]
        assert kept["CertificateBody"] == cert["Certificate"]["CertificateBody"]
        (held,) = iam.list_service_specific_credentials(UserName="renamed")[
            "ServiceSpecificCredentials"
        ]
        ssc = cred["ServiceSpecificCredential"]
        assert held["ServiceSpecificCredentialId"] == ssc["ServiceSpecificCredentialId"]
        assert held["UserName"] == "renamed"
    finally:
        second.stop()
