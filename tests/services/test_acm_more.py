"""ACM's RevokeCertificate, SearchCertificates, managed renewal, account configuration and
expiry events against a real server with boto3.

Revoking a private certificate revokes it in its Private CA, whose CRL in S3 then lists
it; an exported public certificate is revoked in the server's own CA, whose CRL is
served at ``/_cloudlet/acm/crl``. Managed renewal and expiry events run on a server of
their own whose certificates are valid for 30 days (``CLOUDLET_ACM_VALIDITY_DAYS``), so
they are inside the renewal window and the expiry-event window from the start.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import eventually
from tests.services.names import unique
from tests.services.test_acmpca import _root
from tests.services.test_elb_tls import _served_serial, self_signed


def _refused(code: str, operation, **params) -> None:
    """``operation(**params)`` fails with AWS's error ``code``."""
    with pytest.raises(ClientError) as err:
        operation(**params)
    assert err.value.response["Error"]["Code"] == code


def _serial(acm, arn: str) -> int:
    pem = acm.get_certificate(CertificateArn=arn)["Certificate"]
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def _tls_listener(elbv2, cert_arn: str, port: int) -> dict:
    """A network load balancer whose TLS listener on ``port`` serves ``cert_arn``."""
    tg = elbv2.create_target_group(
        Name=unique("tg"), Protocol="TCP", Port=9, VpcId="vpc-1", TargetType="ip"
    )["TargetGroups"][0]
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")
    lb = lb["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TLS",
        Port=port,
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return lb


def _import_expiring(acm, name: str, days: int) -> str:
    """Import a self-signed certificate for ``name`` that expires in ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return acm.import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM), PrivateKey=pem
    )["CertificateArn"]


# -- RevokeCertificate ----------------------------------------------------------------


def test_revoking_a_private_certificate_revokes_it_in_its_ca(aws_client):
    acm, pca, s3 = aws_client("acm"), aws_client("acm-pca"), aws_client("s3")
    bucket = unique("acm-crl")
    s3.create_bucket(Bucket=bucket)
    ca = _root(
        pca, RevocationConfiguration={"CrlConfiguration": {"Enabled": True, "S3BucketName": bucket}}
    )
    arn = acm.request_certificate(DomainName="revoke.corp.internal", CertificateAuthorityArn=ca)[
        "CertificateArn"
    ]
    serial = _serial(acm, arn)
    _refused(
        "ValidationException",
        acm.revoke_certificate,
        CertificateArn=arn,
        RevocationReason="CERTIFICATE_HOLD",
    )
    out = acm.revoke_certificate(CertificateArn=arn, RevocationReason="KEY_COMPROMISE")
    assert out["CertificateArn"] == arn
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert detail["Status"] == "REVOKED" and detail["RevocationReason"] == "KEY_COMPROMISE"
    assert abs(detail["RevokedAt"].timestamp() - time.time()) < 120
    assert detail["RenewalEligibility"] == "INELIGIBLE"
    ca_id = ca.rsplit("/", 1)[1]
    crl = x509.load_der_x509_crl(
        s3.get_object(Bucket=bucket, Key=f"crl/{ca_id}.crl")["Body"].read()
    )
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    invalid = "ValidationException"
    _refused(invalid, acm.revoke_certificate, CertificateArn=arn, RevocationReason="UNSPECIFIED")
    _refused(invalid, acm.renew_certificate, CertificateArn=arn)
    _refused(invalid, acm.export_certificate, CertificateArn=arn, Passphrase=b"secret-pass")
    revoked = acm.list_certificates(CertificateStatuses=["REVOKED"])["CertificateSummaryList"]
    assert arn in [c["CertificateArn"] for c in revoked]


def test_revoking_public_certificates_and_what_cannot_be_revoked(aws_client, cloudlet_server):
    acm, pca, elbv2 = aws_client("acm"), aws_client("acm-pca"), aws_client("elbv2")
    cert, key = self_signed("imported.example.com")
    imported = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    plain = acm.request_certificate(DomainName="plain.example.com")["CertificateArn"]
    exportable = acm.request_certificate(
        DomainName="export.example.com", Options={"Export": "ENABLED"}
    )["CertificateArn"]
    for arn in (imported, plain, exportable):  # exportable, but never exported
        _refused(
            "ValidationException",
            acm.revoke_certificate,
            CertificateArn=arn,
            RevocationReason="SUPERSEDED",
        )
    _refused(
        "ValidationException",
        acm.export_certificate,
        CertificateArn=plain,
        Passphrase=b"pass-word",
    )
    resend = acm.resend_validation_email
    _refused(
        "InvalidStateException",  # validated at once: never PENDING_VALIDATION
        resend,
        CertificateArn=plain,
        Domain="plain.example.com",
        ValidationDomain="example.com",
    )
    _refused(
        "InvalidDomainValidationOptionsException",
        resend,
        CertificateArn=plain,
        Domain="other.example.com",
        ValidationDomain="example.com",
    )
    exported = acm.export_certificate(CertificateArn=exportable, Passphrase=b"pass-word")
    leaf = x509.load_pem_x509_certificate(exported["Certificate"].encode())
    summary = next(
        c
        for c in acm.list_certificates()["CertificateSummaryList"]
        if c["CertificateArn"] == exportable
    )
    assert summary["Exported"] is True and summary["ExportOption"] == "ENABLED"
    _refused(
        "ValidationException",
        acm.revoke_certificate,
        CertificateArn=exportable,
        RevocationReason="KEY_COMPROMISE",
    )
    acm.revoke_certificate(CertificateArn=exportable, RevocationReason="SUPERSEDED")
    assert acm.describe_certificate(CertificateArn=exportable)["Certificate"]["Status"] == "REVOKED"
    points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    crl_url = points[0].full_name[0].value
    assert crl_url == f"{cloudlet_server.endpoint}/_cloudlet/acm/crl"
    crl = x509.load_der_x509_crl(urllib.request.urlopen(crl_url).read())
    ca = x509.load_pem_x509_certificate(exported["CertificateChain"].encode())
    assert crl.is_signature_valid(ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None

    # a certificate a load balancer serves cannot be revoked
    ca_arn = _root(pca)
    served = acm.request_certificate(
        DomainName="served.corp.internal", CertificateAuthorityArn=ca_arn
    )["CertificateArn"]
    lb = _tls_listener(elbv2, served, 8731)
    _refused(
        "ResourceInUseException",
        acm.revoke_certificate,
        CertificateArn=served,
        RevocationReason="UNSPECIFIED",
    )
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    _refused(
        "ResourceNotFoundException",
        acm.revoke_certificate,
        CertificateArn=plain[:-4] + "0000",
        RevocationReason="UNSPECIFIED",
    )


# -- SearchCertificates ---------------------------------------------------------------


def test_search_certificates_with_filter_statements(aws_client):
    acm, pca = aws_client("acm"), aws_client("acm-pca")
    tag = unique("srch")
    cert, key = self_signed(f"a.{tag}.example")
    imported = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    public = acm.request_certificate(
        DomainName=f"www.{tag}.example",
        SubjectAlternativeNames=[f"api.{tag}.example"],
        Options={"Export": "ENABLED"},
    )["CertificateArn"]
    private = acm.request_certificate(
        DomainName=f"z.{tag}.example",
        CertificateAuthorityArn=_root(pca),
        KeyAlgorithm="EC_secp384r1",
    )["CertificateArn"]
    mine = {
        "Filter": {
            "X509AttributeFilter": {
                "Subject": {"CommonName": {"Value": tag.upper(), "ComparisonOperator": "CONTAINS"}}
            }
        }
    }

    def search(statement, **kw) -> list[str]:
        out = acm.search_certificates(FilterStatement={"And": [mine, statement]}, **kw)
        return [r["CertificateArn"] for r in out["Results"]]

    everything = acm.search_certificates(FilterStatement=mine, SortBy="COMMON_NAME")["Results"]
    assert [r["CertificateArn"] for r in everything] == [imported, public, private]
    first = everything[1]
    x509_attrs = first["X509Attributes"]
    assert x509_attrs["Subject"] == {"CommonName": f"www.{tag}.example"}
    assert x509_attrs["Issuer"]["CommonName"] == "cloudlet local CA"
    assert {"DnsName": f"api.{tag}.example"} in x509_attrs["SubjectAlternativeNames"]
    assert x509_attrs["KeyAlgorithm"] == "RSA_2048"
    meta = first["CertificateMetadata"]["AcmCertificateMetadata"]
    assert meta["Type"] == "AMAZON_ISSUED" and meta["Status"] == "ISSUED"
    assert meta["ExportOption"] == "ENABLED" and meta["ValidationMethod"] == "DNS"
    assert meta["InUse"] is False and meta["Exported"] is False

    ec = {"Filter": {"X509AttributeFilter": {"KeyAlgorithm": "EC_secp384r1"}}}
    assert search(ec) == [private]
    types = {
        "Or": [
            {"Filter": {"AcmCertificateMetadataFilter": {"Type": t}}}
            for t in ("IMPORTED", "PRIVATE")
        ]
    }
    assert set(search(types)) == {imported, private}
    assert set(
        search({"Not": {"Filter": {"AcmCertificateMetadataFilter": {"Type": "AMAZON_ISSUED"}}}})
    ) == {
        imported,
        private,
    }
    dns = {
        "Filter": {
            "X509AttributeFilter": {
                "SubjectAlternativeName": {
                    "DnsName": {"Value": f"api.{tag}.example", "ComparisonOperator": "EQUALS"}
                }
            }
        }
    }
    assert search(dns) == [public]
    serial = x509_attrs["SerialNumber"]
    assert search({"Filter": {"X509AttributeFilter": {"SerialNumber": serial}}}) == [public]
    assert search({"Filter": {"CertificateArn": private}}) == [private]
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    expiring = {"Filter": {"X509AttributeFilter": {"NotAfter": {"End": soon}}}}
    assert search(expiring) == [imported]  # the imported one expires in 30 days
    none = {"Filter": {"X509AttributeFilter": {"ExtendedKeyUsage": "NONE"}}}
    assert search(none) == [imported]
    assert search({"Filter": {"AcmCertificateMetadataFilter": {"ExportOption": "ENABLED"}}}) == [
        public,
        private,
    ]
    assert search({"Filter": {"AcmCertificateMetadataFilter": {"ManagedBy": "CLOUDFRONT"}}}) == []

    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        out = acm.search_certificates(
            FilterStatement=mine, MaxResults=1, SortBy="COMMON_NAME", SortOrder="DESCENDING", **kw
        )
        pages += [r["CertificateArn"] for r in out["Results"]]
        token = out.get("NextToken")
        if not token:
            break
    assert pages == [private, public, imported]

    loose = aws_client("acm", config=Config(parameter_validation=False))
    two = {
        "Filter": {"CertificateArn": public, "AcmCertificateMetadataFilter": {"Type": "PRIVATE"}}
    }
    bad_serial = {"Filter": {"X509AttributeFilter": {"SerialNumber": "XYZ"}}}
    for params in (
        {"FilterStatement": two},
        {"FilterStatement": {"And": []}},
        {"FilterStatement": bad_serial},
        {"MaxResults": 501},
        {"NextToken": "not-a-token"},
    ):
        _refused("ValidationException", loose.search_certificates, **params)


# -- managed renewal and expiry events (a server of their own) -----------------------------


@pytest.fixture(scope="module")
def short_lived():
    server = CloudletServer.start(
        env={"CLOUDLET_ACM_VALIDITY_DAYS": "30", "CLOUDLET_ACM_RENEWAL_INTERVAL": "0.3"}
    )
    try:
        yield server
    finally:
        server.stop()


def test_account_configuration_and_expiry_events(short_lived):
    acm, events, sqs = (short_lived.client(s) for s in ("acm", "events", "sqs"))
    assert acm.get_account_configuration()["ExpiryEvents"] == {"DaysBeforeExpiry": 45}
    url = sqs.create_queue(QueueName=unique("acm-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique("acm-expiry")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.acm"], "detail-type": ["ACM Certificate Approaching Expiration"]}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    arn = acm.request_certificate(DomainName="expiring.example.com")["CertificateArn"]
    seen: list[dict] = []

    def events_of(cert_arn: str) -> list[dict]:
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(msg["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        return [e for e in seen if e["resources"] == [cert_arn]]

    (event,) = eventually(lambda: events_of(arn), timeout=10)
    assert event["source"] == "aws.acm"
    assert event["detail"] == {"DaysToExpiry": 29, "CommonName": "expiring.example.com"}
    # a later certificate's event means later passes ran: still one event a day
    later = _import_expiring(acm, "later.example.com", days=20)
    eventually(lambda: events_of(later), timeout=10)
    assert len(events_of(arn)) == 1

    acm.put_account_configuration(ExpiryEvents={"DaysBeforeExpiry": 10}, IdempotencyToken="t1")
    assert acm.get_account_configuration()["ExpiryEvents"] == {"DaysBeforeExpiry": 10}
    put = acm.put_account_configuration
    _refused("ConflictException", put, ExpiryEvents={"DaysBeforeExpiry": 11}, IdempotencyToken="t1")
    loose = short_lived.client("acm", config=Config(parameter_validation=False))
    for days in (0, 46):
        _refused(
            "ValidationException",
            loose.put_account_configuration,
            ExpiryEvents={"DaysBeforeExpiry": days},
            IdempotencyToken="t2",
        )
    quiet = acm.request_certificate(DomainName="quiet.example.com")["CertificateArn"]
    marker = _import_expiring(acm, "marker.example.com", days=5)
    (event,) = eventually(lambda: events_of(marker), timeout=10)
    assert event["detail"]["DaysToExpiry"] == 4
    assert not events_of(quiet)  # 30 days left: outside the 10 days asked for


def test_managed_renewal_of_eligible_certificates(short_lived):
    acm, elbv2, pca = (short_lived.client(s) for s in ("acm", "elbv2", "acm-pca"))
    trust = urllib.request.urlopen(f"{short_lived.endpoint}/_cloudlet/acm/ca.pem").read().decode()
    idle = acm.request_certificate(DomainName="idle.example.com")["CertificateArn"]
    exportable = acm.request_certificate(
        DomainName="exported.example.com", Options={"Export": "ENABLED"}
    )["CertificateArn"]
    detail = acm.describe_certificate(CertificateArn=exportable)["Certificate"]
    assert detail["RenewalEligibility"] == "INELIGIBLE"  # neither in use nor exported
    acm.export_certificate(CertificateArn=exportable, Passphrase=b"pass-word")
    assert (
        acm.describe_certificate(CertificateArn=exportable)["Certificate"]["RenewalEligibility"]
        == "ELIGIBLE"
    )
    first = _serial(acm, exportable)

    def renewed(arn: str, status: str = "SUCCESS") -> dict:
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        return cert if cert.get("RenewalSummary", {}).get("RenewalStatus") == status else {}

    cert = eventually(lambda: renewed(exportable), timeout=10)
    assert cert["RenewalSummary"]["DomainValidationOptions"][0]["ValidationStatus"] == "SUCCESS"
    assert _serial(acm, exportable) != first
    new = x509.load_pem_x509_certificate(
        acm.get_certificate(CertificateArn=exportable)["Certificate"].encode()
    )
    new.verify_directly_issued_by(x509.load_pem_x509_certificate(trust.encode()))
    assert "RenewalSummary" not in acm.describe_certificate(CertificateArn=idle)["Certificate"]

    served = acm.request_certificate(DomainName="served.example.com")["CertificateArn"]
    lb = _tls_listener(elbv2, served, 8732)
    before = _served_serial(lb["DNSName"], 8732, "served.example.com", trust)
    assert before == _serial(acm, served)
    eventually(lambda: renewed(served), timeout=10)
    eventually(
        lambda: _served_serial(lb["DNSName"], 8732, "served.example.com", trust) != before,
        timeout=15,
    )
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])

    ca = _root(pca)
    private = acm.request_certificate(
        DomainName="private.corp.internal", CertificateAuthorityArn=ca
    )["CertificateArn"]
    pca.update_certificate_authority(CertificateAuthorityArn=ca, Status="DISABLED")
    cert = eventually(lambda: renewed(private, "FAILED"), timeout=10)
    assert cert["RenewalSummary"]["RenewalStatusReason"] == "PCA_INVALID_STATE"
    pca.update_certificate_authority(CertificateAuthorityArn=ca, Status="ACTIVE")
    eventually(lambda: renewed(private), timeout=10)


def test_revocation_export_and_configuration_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as srv:
        acm, pca = srv.client("acm"), srv.client("acm-pca")
        ca = _root(pca)
        private = acm.request_certificate(
            DomainName="keep.corp.internal", CertificateAuthorityArn=ca
        )["CertificateArn"]
        acm.revoke_certificate(CertificateArn=private, RevocationReason="AFFILIATION_CHANGED")
        public = acm.request_certificate(
            DomainName="keep.example.com", Options={"Export": "ENABLED"}
        )["CertificateArn"]
        acm.export_certificate(CertificateArn=public, Passphrase=b"pass-word")
        acm.put_account_configuration(
            ExpiryEvents={"DaysBeforeExpiry": 20}, IdempotencyToken="keep"
        )
    with CloudletServer.start(data_dir=tmp_path) as srv:
        acm = srv.client("acm")
        detail = acm.describe_certificate(CertificateArn=private)["Certificate"]
        assert detail["Status"] == "REVOKED" and detail["RevocationReason"] == "AFFILIATION_CHANGED"
        results = acm.search_certificates(
            FilterStatement={"Filter": {"AcmCertificateMetadataFilter": {"Exported": True}}}
        )
        assert [r["CertificateArn"] for r in results["Results"]] == [public]
        assert acm.get_account_configuration()["ExpiryEvents"] == {"DaysBeforeExpiry": 20}
