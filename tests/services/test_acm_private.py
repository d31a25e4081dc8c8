"""ACM's private certificates against a real server with boto3: requested from an AWS
Private CA, exported with their key, renewed with a new certificate from the same CA."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.services.test_acmpca import _root


def test_private_certificate_request_export_renew(aws_client):
    pca, acm = aws_client("acm-pca"), aws_client("acm")
    ca_arn = _root(pca)
    root = x509.load_pem_x509_certificate(
        pca.get_certificate_authority_certificate(CertificateAuthorityArn=ca_arn)[
            "Certificate"
        ].encode()
    )
    arn = acm.request_certificate(
        DomainName="api.corp.internal",
        SubjectAlternativeNames=["www.corp.internal"],
        CertificateAuthorityArn=ca_arn,
    )["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Type"] == "PRIVATE" and cert["Status"] == "ISSUED"
    assert cert["RenewalEligibility"] == "ELIGIBLE"
    assert cert["CertificateAuthorityArn"] == ca_arn
    exported = acm.export_certificate(CertificateArn=arn, Passphrase=b"secret-pass")
    leaf = x509.load_pem_x509_certificate(exported["Certificate"].encode())
    leaf.verify_directly_issued_by(root)
    key = serialization.load_pem_private_key(exported["PrivateKey"].encode(), b"secret-pass")
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "api.corp.internal",
        "www.corp.internal",
    }

    acm.renew_certificate(CertificateArn=arn)
    renewed = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert renewed["RenewalSummary"]["RenewalStatus"] == "SUCCESS"
    new_pem = acm.get_certificate(CertificateArn=arn)["Certificate"]
    new_leaf = x509.load_pem_x509_certificate(new_pem.encode())
    assert new_leaf.serial_number != leaf.serial_number
    new_leaf.verify_directly_issued_by(root)

    public = acm.request_certificate(DomainName="pub.example.com")["CertificateArn"]
    for call, code in [
        (lambda: acm.renew_certificate(CertificateArn=public), "ValidationException"),
        (
            lambda: acm.export_certificate(CertificateArn=public, Passphrase=b"secret-pass"),
            "ValidationException",
        ),
        (
            lambda: acm.request_certificate(
                DomainName="x.corp.internal",
                CertificateAuthorityArn=ca_arn[:-4] + "0000",
            ),
            "ResourceNotFoundException",
        ),
    ]:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code
