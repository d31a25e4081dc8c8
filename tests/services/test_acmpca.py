"""AWS Private CA against a real server with boto3: a root CA signs its own CSR and
becomes ACTIVE, issues an end-entity certificate the test verifies, issues a
subordinate CA, revokes with the CRL written to S3, keeps its CA and key across a restart,
and AWS's errors."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloudlet.testing import CloudletServer
from tests.services.names import unique

TEMPLATE = "arn:aws:acm-pca:::template/"
FAST = {"Delay": 0.2, "MaxAttempts": 100}


@pytest.fixture
def pca(aws_client):
    return aws_client("acm-pca")


def _csr(name: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM), key


def _issue(pca, ca_arn: str, csr: bytes, template: str, days: int = 30) -> str:
    arn = pca.issue_certificate(
        CertificateAuthorityArn=ca_arn,
        Csr=csr,
        SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=TEMPLATE + template,
        Validity={"Value": days, "Type": "DAYS"},
    )["CertificateArn"]
    pca.get_waiter("certificate_issued").wait(
        CertificateAuthorityArn=ca_arn, CertificateArn=arn, WaiterConfig=FAST
    )
    return arn


def _new_ca(pca, ca_type: str = "ROOT", name: str = "Test Root", **extra) -> str:
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "EC_prime256v1",
            "SigningAlgorithm": "SHA256WITHECDSA",
            "Subject": {"CommonName": name, "Organization": "cloudlet tests"},
        },
        CertificateAuthorityType=ca_type,
        Tags=[{"Key": "team", "Value": "pki"}],
        **extra,
    )["CertificateAuthorityArn"]
    pca.get_waiter("certificate_authority_csr_created").wait(
        CertificateAuthorityArn=arn, WaiterConfig=FAST
    )
    return arn


def _root(pca, **extra) -> str:
    arn = _new_ca(pca, **extra)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = _issue(pca, arn, csr.encode(), "RootCACertificate/V1", days=3650)
    cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)
    pca.import_certificate_authority_certificate(
        CertificateAuthorityArn=arn, Certificate=cert["Certificate"].encode()
    )
    return arn


def test_root_ca_issues_verifiable_certificates(pca):
    arn = _new_ca(pca)
    described = pca.describe_certificate_authority(CertificateAuthorityArn=arn)
    assert described["CertificateAuthority"]["Status"] == "PENDING_CERTIFICATE"
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    assert x509.load_pem_x509_csr(csr.encode()).is_signature_valid
    root_arn = _issue(pca, arn, csr.encode(), "RootCACertificate/V1", days=3650)
    root_pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=root_arn)
    with pytest.raises(ClientError) as err:  # not yet ACTIVE
        _issue(pca, arn, _csr("early.example.com")[0], "EndEntityCertificate/V1")
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    pca.import_certificate_authority_certificate(
        CertificateAuthorityArn=arn, Certificate=root_pem["Certificate"].encode()
    )
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "ACTIVE" and ca["Type"] == "ROOT" and ca["Serial"]
    root = x509.load_pem_x509_certificate(
        pca.get_certificate_authority_certificate(CertificateAuthorityArn=arn)[
            "Certificate"
        ].encode()
    )
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    csr_pem, key = _csr("svc.internal.example")
    cert_arn = _issue(pca, arn, csr_pem, "EndEntityCertificate/V1")
    got = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)
    leaf = x509.load_pem_x509_certificate(got["Certificate"].encode())
    leaf.verify_directly_issued_by(root)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf.issuer == root.subject
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc < now < leaf.not_valid_after_utc
    assert leaf.not_valid_after_utc - now > dt.timedelta(days=29)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["svc.internal.example"]
    assert got["CertificateChain"].strip() == root_pem["Certificate"].strip()

    # a subordinate CA issued by the root
    sub = _new_ca(pca, "SUBORDINATE", "Test Sub")
    sub_csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub)["Csr"]
    sub_cert_arn = _issue(
        pca, arn, sub_csr.encode(), "SubordinateCACertificate_PathLen0/V1", days=365
    )
    sub_cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=sub_cert_arn)
    with pytest.raises(ClientError) as err:  # a subordinate needs its chain
        pca.import_certificate_authority_certificate(
            CertificateAuthorityArn=sub, Certificate=sub_cert["Certificate"].encode()
        )
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(ClientError) as err:  # another CA's certificate
        pca.import_certificate_authority_certificate(
            CertificateAuthorityArn=sub,
            Certificate=got["Certificate"].encode(),
            CertificateChain=root_pem["Certificate"].encode(),
        )
    assert err.value.response["Error"]["Code"] == "CertificateMismatchException"
    pca.import_certificate_authority_certificate(
        CertificateAuthorityArn=sub,
        Certificate=sub_cert["Certificate"].encode(),
        CertificateChain=sub_cert["CertificateChain"].encode(),
    )
    sub_ca = x509.load_pem_x509_certificate(sub_cert["Certificate"].encode())
    assert sub_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    leaf2_arn = _issue(pca, sub, _csr("deep.example")[0], "EndEntityCertificate/V1")
    leaf2 = pca.get_certificate(CertificateAuthorityArn=sub, CertificateArn=leaf2_arn)
    x509.load_pem_x509_certificate(leaf2["Certificate"].encode()).verify_directly_issued_by(sub_ca)
    assert len(x509.load_pem_x509_certificates(leaf2["CertificateChain"].encode())) == 2


def test_revocation_writes_crl_to_s3(pca, aws_client):
    s3 = aws_client("s3")
    bucket = unique("crl")
    s3.create_bucket(Bucket=bucket)
    arn = _root(
        pca,
        RevocationConfiguration={
            "CrlConfiguration": {"Enabled": True, "S3BucketName": bucket, "ExpirationInDays": 5}
        },
    )
    ca_id = arn.rsplit("/", 1)[1]
    cert_arn = _issue(pca, arn, _csr("gone.example")[0], "EndEntityCertificate/V1")
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    leaf = x509.load_pem_x509_certificate(pem.encode())
    points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value.endswith(f"/crl/{ca_id}.crl")
    serial = f"{leaf.serial_number:x}"
    pca.revoke_certificate(
        CertificateAuthorityArn=arn, CertificateSerial=serial, RevocationReason="KEY_COMPROMISE"
    )
    body = s3.get_object(Bucket=bucket, Key=f"crl/{ca_id}.crl")["Body"].read()
    crl = x509.load_der_x509_crl(body)
    root = x509.load_pem_x509_certificate(
        pca.get_certificate_authority_certificate(CertificateAuthorityArn=arn)[
            "Certificate"
        ].encode()
    )
    assert crl.is_signature_valid(root.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    with pytest.raises(ClientError) as err:
        pca.revoke_certificate(
            CertificateAuthorityArn=arn, CertificateSerial=serial, RevocationReason="SUPERSEDED"
        )
    assert err.value.response["Error"]["Code"] == "RequestAlreadyProcessedException"


def test_lifecycle_listing_tags_and_errors(pca):
    arn = _root(pca)
    with pytest.raises(ClientError) as err:
        pca.delete_certificate_authority(CertificateAuthorityArn=arn)
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="DISABLED")
    with pytest.raises(ClientError) as err:
        pca.issue_certificate(
            CertificateAuthorityArn=arn,
            Csr=_csr("x.example")[0],
            SigningAlgorithm="SHA256WITHECDSA",
            Validity={"Value": 1, "Type": "DAYS"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    pca.delete_certificate_authority(CertificateAuthorityArn=arn, PermanentDeletionTimeInDays=7)
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "DELETED" and ca["RestorableUntil"] > dt.datetime.now(dt.UTC)
    pca.restore_certificate_authority(CertificateAuthorityArn=arn)
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "DISABLED"
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="ACTIVE")

    pca.tag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "env", "Value": "t"}])
    pca.untag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "team"}])
    assert pca.list_tags(CertificateAuthorityArn=arn)["Tags"] == [{"Key": "env", "Value": "t"}]
    pca.create_permission(
        CertificateAuthorityArn=arn,
        Principal="acm.amazonaws.com",
        Actions=["IssueCertificate", "GetCertificate", "ListPermissions"],
    )
    with pytest.raises(ClientError) as err:
        pca.create_permission(
            CertificateAuthorityArn=arn, Principal="acm.amazonaws.com", Actions=["GetCertificate"]
        )
    assert err.value.response["Error"]["Code"] == "PermissionAlreadyExistsException"
    assert len(pca.list_permissions(CertificateAuthorityArn=arn)["Permissions"]) == 1

    second = _new_ca(pca, name="Second")
    seen, token = [], None
    while True:
        page = pca.list_certificate_authorities(
            MaxResults=1, **({"NextToken": token} if token else {})
        )
        seen += [c["Arn"] for c in page["CertificateAuthorities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert {arn, second} <= set(seen)
    assert (
        pca.list_certificate_authorities(ResourceOwner="OTHER_ACCOUNTS")["CertificateAuthorities"]
        == []
    )

    bad = [
        (
            lambda: pca.describe_certificate_authority(CertificateAuthorityArn="arn:nope"),
            "InvalidArnException",
        ),
        (
            lambda: pca.describe_certificate_authority(CertificateAuthorityArn=arn[:-4] + "0000"),
            "ResourceNotFoundException",
        ),
        (
            lambda: pca.issue_certificate(
                CertificateAuthorityArn=arn,
                Csr=b"not a csr",
                SigningAlgorithm="SHA256WITHECDSA",
                Validity={"Value": 1, "Type": "DAYS"},
            ),
            "MalformedCSRException",
        ),
        (
            lambda: pca.issue_certificate(
                CertificateAuthorityArn=arn,
                Csr=_csr("r.example")[0],
                SigningAlgorithm="SHA256WITHRSA",
                Validity={"Value": 1, "Type": "DAYS"},
            ),
            "InvalidArgsException",
        ),
        (
            lambda: pca.import_certificate_authority_certificate(
                CertificateAuthorityArn=second, Certificate=b"garbage"
            ),
            "MalformedCertificateException",
        ),
        (
            lambda: pca.get_certificate_authority_certificate(CertificateAuthorityArn=second),
            "InvalidStateException",
        ),
        (
            lambda: pca.create_certificate_authority(
                CertificateAuthorityConfiguration={
                    "KeyAlgorithm": "RSA_2048",
                    "SigningAlgorithm": "SHA256WITHECDSA",
                    "Subject": {"CommonName": "x"},
                },
                CertificateAuthorityType="ROOT",
            ),
            "InvalidArgsException",
        ),
        (lambda: pca.get_policy(ResourceArn=arn), "ResourceNotFoundException"),
    ]
    for call, code in bad:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code, code


def test_issue_answers_in_progress_then_issued(pca):
    arn = _root(pca)
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn,
        Csr=_csr("soon.example")[0],
        SigningAlgorithm="SHA384WITHECDSA",
        Validity={"Value": 1, "Type": "YEARS"},
        IdempotencyToken="tok1",
    )["CertificateArn"]
    again = pca.issue_certificate(
        CertificateAuthorityArn=arn,
        Csr=_csr("soon.example")[0],
        SigningAlgorithm="SHA384WITHECDSA",
        Validity={"Value": 1, "Type": "YEARS"},
        IdempotencyToken="tok1",
    )["CertificateArn"]
    assert again == cert_arn
    deadline = time.monotonic() + 10
    while True:
        try:
            pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)
            break
        except ClientError as err:
            assert err.response["Error"]["Code"] == "RequestInProgressException"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    leaf = x509.load_pem_x509_certificate(pem["Certificate"].encode())
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA384)


def test_a_restart_keeps_the_ca_its_key_and_its_certificates(tmp_path):
    """The CA's key lives in the service's database: after a restart the same CA is
    ACTIVE, serves the certificates it issued and signs new ones with the same key."""
    with CloudletServer.start(data_dir=tmp_path) as srv:
        pca = srv.client("acm-pca")
        ca = _root(pca)
        ca_cert = pca.get_certificate_authority_certificate(CertificateAuthorityArn=ca)
        before = _issue(pca, ca, _csr("before.example.com")[0], "EndEntityCertificate/V1")
        issued = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=before)
    with CloudletServer.start(data_dir=tmp_path) as srv:
        pca = srv.client("acm-pca")
        status = pca.describe_certificate_authority(CertificateAuthorityArn=ca)
        assert status["CertificateAuthority"]["Status"] == "ACTIVE"
        again = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=before)
        assert again["Certificate"] == issued["Certificate"]
        after = _issue(pca, ca, _csr("after.example.com")[0], "EndEntityCertificate/V1")
        pem = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=after)
    root = x509.load_pem_x509_certificate(ca_cert["Certificate"].encode())
    leaf = x509.load_pem_x509_certificate(pem["Certificate"].encode())
    leaf.verify_directly_issued_by(root)
