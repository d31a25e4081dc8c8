"""AWS Private CA's OCSP responder and audit reports against a real server with boto3.

A CA with OCSP enabled issues certificates whose AIA extension names an OCSP URL on the
server's own port; real RFC 6960 requests (POST and GET, built with ``cryptography``,
and ``openssl ocsp`` where it is installed) get signed answers: good, revoked with time
and reason, unknown. Audit reports land in S3 as AWS lays them out, in JSON and CSV.
Both survive a restart.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from cloudlet.testing import CloudletServer
from tests.services.names import unique
from tests.services.test_acmpca import _csr, _issue, _root


def _ca_cert(pca, arn: str) -> x509.Certificate:
    pem = pca.get_certificate_authority_certificate(CertificateAuthorityArn=arn)["Certificate"]
    return x509.load_pem_x509_certificate(pem.encode())


def _leaf(pca, ca: str, name: str) -> x509.Certificate:
    arn = _issue(pca, ca, _csr(name)[0], "EndEntityCertificate/V1")
    pem = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=arn)["Certificate"]
    return x509.load_pem_x509_certificate(pem.encode())


def _ocsp_url(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    (url,) = [d.access_location.value for d in aia if d.access_method == x509.OID_OCSP]
    return url


def _ask(url: str, request: bytes, *, get: bool = False, host: str | None = None) -> bytes:
    if get:
        encoded = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
        req = urllib.request.Request(f"{url}/{encoded}")
    else:
        req = urllib.request.Request(
            url, data=request, headers={"Content-Type": "application/ocsp-request"}
        )
    if host:
        req.add_header("Host", host)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/ocsp-response"
        return resp.read()


def _request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes = b"") -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verified(body: bytes, issuer: x509.Certificate) -> ocsp.OCSPResponse:
    resp = ocsp.load_der_ocsp_response(body)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    issuer.public_key().verify(
        resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm)
    )
    return resp


def _ocsp_ca(pca, **ocsp_config) -> str:
    return _root(
        pca,
        RevocationConfiguration={"OcspConfiguration": {"Enabled": True, **ocsp_config}},
    )


def test_ocsp_answers_good_revoked_and_unknown(aws_client, tmp_path):
    pca = aws_client("acm-pca")
    ca = _ocsp_ca(pca)
    config = pca.describe_certificate_authority(CertificateAuthorityArn=ca)
    assert config["CertificateAuthority"]["RevocationConfiguration"]["OcspConfiguration"] == {
        "Enabled": True
    }
    root = _ca_cert(pca, ca)
    good, gone = _leaf(pca, ca, "good.example"), _leaf(pca, ca, "gone.example")
    url = _ocsp_url(good)
    assert url.endswith(f"/_cloudlet/acm-pca/ocsp/{ca.rsplit('/', 1)[1]}")
    pca.revoke_certificate(
        CertificateAuthorityArn=ca,
        CertificateSerial=f"{gone.serial_number:x}",
        RevocationReason="KEY_COMPROMISE",
    )

    resp = _verified(_ask(url, _request(good, root, b"nonce-123")), root)
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == good.serial_number
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"nonce-123"
    assert resp.next_update_utc > resp.this_update_utc

    resp = _verified(_ask(url, _request(gone, root), get=True), root)
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_reason == x509.ReasonFlags.key_compromise
    assert abs(resp.revocation_time_utc.timestamp() - time.time()) < 120

    unknown = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            resp.issuer_name_hash, resp.issuer_key_hash, 0x1234567, hashes.SHA1()
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    resp = _verified(_ask(url, unknown), root)
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN

    bad = ocsp.load_der_ocsp_response(_ask(url, b"not an OCSP request"))
    assert bad.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    plain = _root(pca)  # no OCSP: its certificates carry no URL, and it answers for none
    other = _leaf(pca, plain, "plain.example")
    with pytest.raises(x509.ExtensionNotFound):
        other.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    refused = ocsp.load_der_ocsp_response(_ask(url, _request(other, _ca_cert(pca, plain))))
    assert refused.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED

    if shutil.which("openssl"):
        paths = {}
        for name, cert in (("root", root), ("good", good), ("gone", gone)):
            paths[name] = tmp_path / f"{name}.pem"
            paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for name, status in (("good", "good"), ("gone", "revoked")):
            out = subprocess.run(
                ["openssl", "ocsp", "-issuer", paths["root"], "-cert", paths[name], "-url", url]
                + ["-CAfile", paths["root"]],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert f"{paths[name]}: {status}" in out.stdout, out.stdout + out.stderr
            assert "Response verify OK" in out.stderr


def test_ocsp_custom_cname_and_bad_configurations(aws_client, cloudlet_server):
    pca = aws_client("acm-pca")
    cname = f"{unique('ocsp')}.example.internal"
    ca = _ocsp_ca(pca, OcspCustomCname=cname)
    root, leaf = _ca_cert(pca, ca), _leaf(pca, ca, "cname.example")
    assert _ocsp_url(leaf) == f"http://{cname}"
    # a CNAME pointing at this server: requests whose Host is the name are answered
    for get in (False, True):
        body = _ask(cloudlet_server.endpoint, _request(leaf, root), get=get, host=cname)
        assert _verified(body, root).certificate_status == ocsp.OCSPCertStatus.GOOD

    for bad in ({"OcspCustomCname": "http://ocsp.example.com"}, {"OcspCustomCname": "a b"}):
        with pytest.raises(ClientError) as err:
            pca.update_certificate_authority(
                CertificateAuthorityArn=ca,
                RevocationConfiguration={"OcspConfiguration": {"Enabled": True, **bad}},
            )
        assert err.value.response["Error"]["Code"] == "InvalidArgsException"
    with pytest.raises(ClientError) as err:
        pca.update_certificate_authority(
            CertificateAuthorityArn=ca,
            RevocationConfiguration={
                "CrlConfiguration": {
                    "Enabled": True,
                    "S3BucketName": unique("nobucket"),
                    "CrlType": "COMPLETE",
                }
            },
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgsException"


def test_audit_reports_in_json_and_csv(aws_client):
    pca, s3 = aws_client("acm-pca"), aws_client("s3")
    bucket = unique("audit")
    s3.create_bucket(Bucket=bucket)
    ca = _root(pca)
    ca_id = ca.rsplit("/", 1)[1]
    kept, gone = _leaf(pca, ca, "kept.example"), _leaf(pca, ca, "gone.example")
    pca.revoke_certificate(
        CertificateAuthorityArn=ca,
        CertificateSerial=f"{gone.serial_number:x}",
        RevocationReason="SUPERSEDED",
    )
    with pytest.raises(ClientError) as err:
        pca.create_certificate_authority_audit_report(
            CertificateAuthorityArn=ca,
            S3BucketName=unique("missing"),
            AuditReportResponseFormat="JSON",
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgsException"

    made = pca.create_certificate_authority_audit_report(
        CertificateAuthorityArn=ca, S3BucketName=bucket, AuditReportResponseFormat="JSON"
    )
    report_id = made["AuditReportId"]
    assert made["S3Key"] == f"audit-report/{ca_id}/{report_id}.json"
    pca.get_waiter("audit_report_created").wait(
        CertificateAuthorityArn=ca,
        AuditReportId=report_id,
        WaiterConfig={"Delay": 0.2, "MaxAttempts": 50},
    )
    described = pca.describe_certificate_authority_audit_report(
        CertificateAuthorityArn=ca, AuditReportId=report_id
    )
    assert described["AuditReportStatus"] == "SUCCESS"
    assert (described["S3BucketName"], described["S3Key"]) == (bucket, made["S3Key"])
    rows = json.loads(s3.get_object(Bucket=bucket, Key=made["S3Key"])["Body"].read())
    by_serial = {int(r["serial"].replace(":", ""), 16): r for r in rows}
    assert len(rows) == 3  # the CA's own root certificate, and the two leaves
    row = by_serial[gone.serial_number]
    assert len(row["awsAccountId"]) == 12 and row["awsAccountId"].isdigit()
    assert row["certificateArn"].startswith(f"{ca}/certificate/")
    assert row["subject"] == "CN=gone.example"
    assert row["revocationReason"] == "SUPERSEDED" and row["revokedAt"].endswith("+0000")
    assert row["templateArn"] == "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
    assert row["notAfter"] == gone.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S+0000")
    assert "revokedAt" not in by_serial[kept.serial_number]

    with pytest.raises(ClientError) as err:  # one report every 30 minutes
        pca.create_certificate_authority_audit_report(
            CertificateAuthorityArn=ca, S3BucketName=bucket, AuditReportResponseFormat="CSV"
        )
    assert err.value.response["Error"]["Code"] == "RequestFailedException"
    with pytest.raises(ClientError) as err:
        pca.describe_certificate_authority_audit_report(
            CertificateAuthorityArn=ca, AuditReportId="11111111-2222-3333-4444-555555555555"
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"

    other = _root(pca)
    made = pca.create_certificate_authority_audit_report(
        CertificateAuthorityArn=other, S3BucketName=bucket, AuditReportResponseFormat="CSV"
    )
    assert made["S3Key"].endswith(".csv")
    pca.get_waiter("audit_report_created").wait(
        CertificateAuthorityArn=other,
        AuditReportId=made["AuditReportId"],
        WaiterConfig={"Delay": 0.2, "MaxAttempts": 50},
    )
    text = s3.get_object(Bucket=bucket, Key=made["S3Key"])["Body"].read().decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "awsAccountId",
        "requestedByServicePrincipal",
        "certificateArn",
        "serial",
        "subject",
        "notBefore",
        "notAfter",
        "issuedAt",
        "revokedAt",
        "revocationReason",
        "templateArn",
    ]
    assert table[1][-1] == "arn:aws:acm-pca:::template/RootCACertificate/V1"


def test_ocsp_and_audit_reports_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as srv:
        pca, s3 = srv.client("acm-pca"), srv.client("s3")
        s3.create_bucket(Bucket="audit-restart")
        ca = _ocsp_ca(pca)
        root = _ca_cert(pca, ca)
        leaf = _leaf(pca, ca, "restart.example")
        pca.revoke_certificate(
            CertificateAuthorityArn=ca,
            CertificateSerial=f"{leaf.serial_number:x}",
            RevocationReason="CESSATION_OF_OPERATION",
        )
        made = pca.create_certificate_authority_audit_report(
            CertificateAuthorityArn=ca,
            S3BucketName="audit-restart",
            AuditReportResponseFormat="JSON",
        )
        pca.get_waiter("audit_report_created").wait(
            CertificateAuthorityArn=ca,
            AuditReportId=made["AuditReportId"],
            WaiterConfig={"Delay": 0.2, "MaxAttempts": 50},
        )
    with CloudletServer.start(data_dir=tmp_path) as srv:
        pca = srv.client("acm-pca")
        described = pca.describe_certificate_authority_audit_report(
            CertificateAuthorityArn=ca, AuditReportId=made["AuditReportId"]
        )
        assert described["AuditReportStatus"] == "SUCCESS"
        url = srv.endpoint + urllib.parse.urlsplit(_ocsp_url(leaf)).path
        resp = _verified(_ask(url, _request(leaf, root)), root)
        assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_reason == x509.ReasonFlags.cessation_of_operation
