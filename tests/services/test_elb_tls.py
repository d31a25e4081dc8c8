"""HTTPS, TLS and SSL listeners with ACM (and IAM) certificates, and network load balancers.

Certificates come two ways, as on AWS: imported (a self-signed certificate
this test makes) or requested (issued by the server's own CA, whose PEM the
test fetches from ``/_cloudlet/acm/ca.pem`` and trusts). Clients check the
certificate and host name as a browser would.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services.ec2_helpers import eventually, launch, wait
from tests.services.elbv2_helpers import HEALTH, Backend, request
from tests.services.names import unique


def self_signed(name: str) -> tuple[bytes, bytes]:
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
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem


def https_get(ip: str, port: int, host: str, trust: bytes, path: str = "/") -> tuple[int, dict]:
    """GET over TLS to ``ip`` with SNI ``host``, verifying against ``trust`` (PEM)."""
    ctx = ssl.create_default_context(cadata=trust.decode())
    with socket.create_connection((ip, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls_sock:
            tls_sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            resp = http.client.HTTPResponse(tls_sock)
            resp.begin()
            body = resp.read()
    return resp.status, json.loads(body) if body.startswith(b"{") else {"raw": body}


TLS_SERVER = """
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"tls": isinstance(self.connection, ssl.SSLSocket)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("", int(sys.argv[1])), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain("cert.pem", "key.pem")
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()
"""
"""An HTTPS server for an instance's user data: answers whether it was reached over TLS."""


def tls_context(tmp_path, name: str) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate (targets' certificates
    are not checked by load balancers)."""
    cert, key = self_signed(name)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@pytest.fixture
def acm(aws_client):
    return aws_client("acm")


@pytest.fixture
def backend():
    b = Backend("tls-backend")
    yield b
    b.stop()


def _import(acm, name: str) -> tuple[str, bytes]:
    cert, key = self_signed(name)
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    return arn, cert


def test_acm_import_request_describe_and_errors(acm, cloudlet_server):
    arn, cert = _import(acm, "app.example.com")
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert detail["DomainName"] == "app.example.com"
    assert detail["Type"] == "IMPORTED" and detail["Status"] == "ISSUED"
    assert detail["KeyAlgorithm"] == "EC-prime256v1"
    assert acm.get_certificate(CertificateArn=arn)["Certificate"].strip() == cert.decode().strip()
    # EC keys are listed only when asked for, as ACM does
    assert arn not in [
        c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]
    ]
    listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
    assert arn in [c["CertificateArn"] for c in listed["CertificateSummaryList"]]

    acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "team", "Value": "web"}])
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]

    requested = acm.request_certificate(
        DomainName="www.example.com",
        SubjectAlternativeNames=["api.example.com"],
        ValidationMethod="DNS",
        IdempotencyToken="tok1",
    )["CertificateArn"]
    again = acm.request_certificate(DomainName="www.example.com", IdempotencyToken="tok1")
    assert again["CertificateArn"] == requested
    acm.get_waiter("certificate_validated").wait(
        CertificateArn=requested, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    detail = acm.describe_certificate(CertificateArn=requested)["Certificate"]
    assert detail["Type"] == "AMAZON_ISSUED"
    assert sorted(detail["SubjectAlternativeNames"]) == ["api.example.com", "www.example.com"]
    assert {o["ValidationStatus"] for o in detail["DomainValidationOptions"]} == {"SUCCESS"}
    assert detail["DomainValidationOptions"][0]["ResourceRecord"]["Type"] == "CNAME"
    ca = urllib.request.urlopen(f"{cloudlet_server.endpoint}/_cloudlet/acm/ca.pem").read()
    assert acm.get_certificate(CertificateArn=requested)["CertificateChain"].encode() == ca

    other_cert, other_key = self_signed("other.example.com")
    with pytest.raises(ClientError) as err:
        acm.import_certificate(Certificate=cert, PrivateKey=other_key)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        acm.import_certificate(Certificate=cert + other_cert, PrivateKey=other_key)
    assert "more than one certificate" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        acm.export_certificate(CertificateArn=arn, Passphrase=b"secret")
    assert err.value.response["Error"]["Code"] == "ValidationException"

    acm.delete_certificate(CertificateArn=arn)
    with pytest.raises(ClientError) as err:
        acm.describe_certificate(CertificateArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _ip_group(elbv2, protocol: str, port: int, label: str = "tls", **kw) -> dict:
    """A target group of ``protocol`` whose one target is 127.0.0.1:``port``."""
    tg = elbv2.create_target_group(
        Name=unique(label), Protocol=protocol, Port=port, VpcId="vpc-1", TargetType="ip", **kw
    )["TargetGroups"][0]
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": port}]
    )
    return tg


def _alb_with_group(elbv2, backend: Backend) -> tuple[dict, str]:
    tg = _ip_group(elbv2, "HTTP", backend.port)["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name=unique("tls"), Subnets=[])["LoadBalancers"][0]
    return lb, tg


def test_alb_https_listener_with_sni_and_a_requested_certificate(
    aws_client, acm, backend, cloudlet_server
):
    elbv2 = aws_client("elbv2")
    app_arn, app_cert = _import(acm, "app.example.com")
    other_arn, other_cert = _import(acm, "other.example.com")
    lb, tg = _alb_with_group(elbv2, backend)
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    with pytest.raises(ClientError) as err:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=8443,
            DefaultActions=forward,
        )
    assert "certificate must be specified" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=8443,
            Certificates=[{"CertificateArn": app_arn + "0"}],
            DefaultActions=forward,
        )
    assert err.value.response["Error"]["Code"] == "CertificateNotFound"

    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=8443,
        Certificates=[{"CertificateArn": app_arn}],
        DefaultActions=forward,
    )["Listeners"][0]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-2016-08"
    assert listener["Certificates"] == [{"CertificateArn": app_arn}]
    # ACM knows which load balancer serves it, and will not delete it meanwhile
    in_use = acm.describe_certificate(CertificateArn=app_arn)["Certificate"]["InUseBy"]
    assert in_use == [lb["LoadBalancerArn"]]
    listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
    flags = {c["CertificateArn"]: c["InUse"] for c in listed["CertificateSummaryList"]}
    assert flags[app_arn] is True and flags[other_arn] is False
    with pytest.raises(ClientError) as err:
        acm.delete_certificate(CertificateArn=app_arn)
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    assert err.value.response["Error"]["Message"].endswith("is in use.")
    ip = lb["DNSName"]
    status, echo = https_get(ip, 8443, "app.example.com", app_cert, "/hello")
    assert status == 200 and echo["name"] == "tls-backend" and echo["path"] == "/hello"
    assert echo["headers"]["X-Forwarded-Proto"] == "https"
    assert echo["headers"]["X-Forwarded-Port"] == "8443"

    # a second certificate, chosen by SNI; the first stays the default
    elbv2.add_listener_certificates(
        ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": other_arn}]
    )
    described = elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])
    assert {(c["CertificateArn"], c["IsDefault"]) for c in described["Certificates"]} == {
        (app_arn, True),
        (other_arn, False),
    }
    assert https_get(ip, 8443, "other.example.com", other_cert)[0] == 200
    other = acm.describe_certificate(CertificateArn=other_arn)["Certificate"]
    assert other["InUseBy"] == [lb["LoadBalancerArn"]]
    assert https_get(ip, 8443, "app.example.com", app_cert)[0] == 200
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(ip, 8443, "unknown.example.com", other_cert)  # default (app) cert served

    # a certificate ACM issued, trusted through the server's CA
    issued = acm.request_certificate(DomainName="shop.example.com")["CertificateArn"]
    elbv2.modify_listener(
        ListenerArn=listener["ListenerArn"],
        Certificates=[{"CertificateArn": issued}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
    )
    ca = urllib.request.urlopen(f"{cloudlet_server.endpoint}/_cloudlet/acm/ca.pem").read()
    assert https_get(ip, 8443, "shop.example.com", ca)[0] == 200
    policies = elbv2.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-2-2021-06"])
    assert policies["SslPolicies"][0]["SslProtocols"] == ["TLSv1.2", "TLSv1.3"]
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert acm.describe_certificate(CertificateArn=app_arn)["Certificate"]["InUseBy"] == []
    acm.delete_certificate(CertificateArn=app_arn)


def test_network_balancer_tcp_and_tls_listeners(aws_client, acm, backend):
    elbv2 = aws_client("elbv2")
    arn, cert = _import(acm, "nlb.example.com")
    tg = _ip_group(
        elbv2,
        "TCP",
        backend.port,
        "tcp",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
    )
    assert tg["HealthCheckProtocol"] == "TCP"
    tg_arn = tg["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")
    lb = lb["LoadBalancers"][0]
    assert lb["Type"] == "network" and ":loadbalancer/net/" in lb["LoadBalancerArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    with pytest.raises(ClientError) as err:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=8092,
            DefaultActions=forward,
        )
    assert "must be one of" in err.value.response["Error"]["Message"]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=8092, DefaultActions=forward
    )
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TLS",
        Port=8493,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=forward,
    )
    conn = http.client.HTTPConnection(lb["DNSName"], 8092, timeout=10)
    conn.request("GET", "/tcp")
    body = json.loads(conn.getresponse().read())
    conn.close()
    assert body["path"] == "/tcp" and "X-Forwarded-For" not in body["headers"]  # bytes only
    status, echo = https_get(lb["DNSName"], 8493, "nlb.example.com", cert, "/tls")
    assert status == 200 and echo["path"] == "/tls"
    _healthy(elbv2, tg_arn)
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_tls_listener_serves_an_iam_server_certificate(aws_client, backend):
    """IAM server certificates are what listeners used before ACM, and still may."""
    elbv2, iam = aws_client("elbv2"), aws_client("iam")
    cert, key = self_signed("iam.example.com")
    name = unique("iam-cert")
    meta = iam.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=cert.decode(), PrivateKey=key.decode()
    )["ServerCertificateMetadata"]
    tg_arn = _ip_group(elbv2, "TCP", backend.port, "tcp")["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")
    lb = lb["LoadBalancers"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    missing = meta["Arn"] + "-gone"
    with pytest.raises(ClientError) as err:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=8494,
            Certificates=[{"CertificateArn": missing}],
            DefaultActions=forward,
        )
    assert err.value.response["Error"]["Code"] == "CertificateNotFound"
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TLS",
        Port=8494,
        Certificates=[{"CertificateArn": meta["Arn"]}],
        DefaultActions=forward,
    )
    status, echo = https_get(lb["DNSName"], 8494, "iam.example.com", cert, "/iam")
    assert status == 200 and echo["path"] == "/iam"
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    iam.delete_server_certificate(ServerCertificateName=name)


def _served_serial(ip: str, port: int, host: str, trust: str) -> int:
    """The serial number of the certificate a TLS listener presents for ``host``."""
    ctx = ssl.create_default_context(cadata=trust)
    with socket.create_connection((ip, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls_sock:
            der = tls_sock.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def test_a_renewed_certificate_is_served_without_touching_the_listener(aws_client, backend):
    """As on AWS, RenewCertificate needs nothing of the load balancers serving it."""
    from tests.services.test_acmpca import _root

    elbv2, acm, pca = aws_client("elbv2"), aws_client("acm"), aws_client("acm-pca")
    ca = _root(pca)
    trust = pca.get_certificate_authority_certificate(CertificateAuthorityArn=ca)["Certificate"]
    arn = acm.request_certificate(DomainName="renew.example.com", CertificateAuthorityArn=ca)[
        "CertificateArn"
    ]
    tg_arn = _ip_group(elbv2, "TCP", backend.port, "tcp")["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")
    lb = lb["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TLS",
        Port=8495,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )
    first = _served_serial(lb["DNSName"], 8495, "renew.example.com", trust)
    acm.renew_certificate(CertificateArn=arn)
    renewed = int(
        acm.describe_certificate(CertificateArn=arn)["Certificate"]["Serial"].replace(":", ""), 16
    )
    assert renewed != first
    eventually(lambda: _served_serial(lb["DNSName"], 8495, "renew.example.com", trust) == renewed)
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_classic_https_and_ssl_listeners(aws_client, acm):
    elb, ec2 = aws_client("elb"), aws_client("ec2")
    arn, cert = _import(acm, "classic.example.com")
    other_arn, other_cert = _import(acm, "classic2.example.com")
    target_cert, target_key = self_signed("instance.internal")
    user_data = (
        "#!/bin/bash\nmkdir -p www && echo secure > www/index.html\n"
        f"cat > cert.pem <<'PEM'\n{target_cert.decode()}PEM\n"
        f"cat > key.pem <<'PEM'\n{target_key.decode()}PEM\n"
        f"python3 -c '{TLS_SERVER}' 8443 &\n"
        "cd www\n"
    )
    ids = launch(ec2, user_data + "exec python3 -m http.server 8080\n")
    wait(ec2, "instance_running", ids)
    name = unique("clbtls")
    try:
        with pytest.raises(ClientError) as err:
            elb.create_load_balancer(
                LoadBalancerName=name,
                Listeners=[{"Protocol": "HTTPS", "LoadBalancerPort": 8444, "InstancePort": 8080}],
                AvailabilityZones=["us-east-1a"],
            )
        assert "SSLCertificateId" in err.value.response["Error"]["Message"]
        dns = elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[
                {
                    "Protocol": "HTTPS",
                    "LoadBalancerPort": 8444,
                    "InstancePort": 8080,
                    "SSLCertificateId": arn,
                },
                {
                    "Protocol": "SSL",
                    "LoadBalancerPort": 8445,
                    "InstancePort": 8080,
                    "SSLCertificateId": arn,
                },
                {  # end-to-end encryption: TLS again to the instance
                    "Protocol": "HTTPS",
                    "LoadBalancerPort": 8446,
                    "InstancePort": 8443,
                    "InstanceProtocol": "HTTPS",
                    "SSLCertificateId": arn,
                },
                {
                    "Protocol": "SSL",
                    "LoadBalancerPort": 8447,
                    "InstancePort": 8443,
                    "InstanceProtocol": "SSL",
                    "SSLCertificateId": arn,
                },
            ],
            AvailabilityZones=["us-east-1a"],
        )["DNSName"]
        listeners = elb.describe_load_balancers(LoadBalancerNames=[name])[
            "LoadBalancerDescriptions"
        ][0]["ListenerDescriptions"]
        assert {d["Listener"]["InstanceProtocol"] for d in listeners} == {
            "HTTP",
            "TCP",
            "HTTPS",
            "SSL",
        }
        assert {d["Listener"]["SSLCertificateId"] for d in listeners} == {arn}
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"] == [
            f"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/{name}"
        ]
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTPS:8443/index.html",  # the health check speaks TLS too
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": ids[0]}]
        )
        status, body = eventually(
            lambda: (
                (r := https_get(dns, 8444, "classic.example.com", cert, "/index.html"))[0] == 200
                and r
            ),
            timeout=20,
        )
        assert body["raw"].strip() == b"secure"
        assert https_get(dns, 8445, "classic.example.com", cert, "/index.html")[0] == 200
        status, body = https_get(dns, 8446, "classic.example.com", cert, "/")
        assert status == 200 and body["tls"] is True  # the instance's TLS server answered
        assert https_get(dns, 8447, "classic.example.com", cert, "/")[1]["tls"] is True
        elb.set_load_balancer_listener_ssl_certificate(
            LoadBalancerName=name, LoadBalancerPort=8444, SSLCertificateId=other_arn
        )
        assert https_get(dns, 8444, "classic2.example.com", other_cert, "/index.html")[0] == 200
    finally:
        elb.delete_load_balancer(LoadBalancerName=name)
        ec2.terminate_instances(InstanceIds=ids)


@pytest.fixture
def tls_backend(tmp_path):
    b = Backend("tls-target", tls=tls_context(tmp_path, "target.internal"))
    yield b
    b.stop()


def _healthy(elbv2, tg_arn: str, state: str = "healthy") -> None:
    eventually(
        lambda: (
            elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"][0][
                "TargetHealth"
            ]["State"]
            == state
        ),
        timeout=20,
    )


def test_alb_reaches_https_target_groups_over_tls(aws_client, tls_backend, backend):
    elbv2 = aws_client("elbv2")
    groups = {}
    for label, target in (("secure", tls_backend), ("plain", backend)):
        tg = _ip_group(elbv2, "HTTPS", target.port, label, **HEALTH)
        assert tg["Protocol"] == "HTTPS" and tg["HealthCheckProtocol"] == "HTTPS"
        groups[label] = tg["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=[])["LoadBalancers"][0]
    for port, label in ((8096, "secure"), (8097, "plain")):
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[label]}],
        )
    try:
        _healthy(elbv2, groups["secure"])
        for path in ("/one", "/two"):  # the second rides the kept-alive TLS connection
            status, _, body = request(lb["DNSName"], 8096, path)
            echo = json.loads(body)
            assert status == 200 and echo["tls"] is True and echo["path"] == path
            assert echo["headers"]["X-Forwarded-Proto"] == "http"
        # a target that does not speak TLS fails an HTTPS group's checks
        _healthy(elbv2, groups["plain"], "unhealthy")
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_nlb_tls_listener_re_encrypts_to_a_tls_target_group(aws_client, acm, tls_backend):
    elbv2 = aws_client("elbv2")
    arn, cert = _import(acm, "tls.example.com")
    tg = _ip_group(elbv2, "TLS", tls_backend.port, **HEALTH)
    assert tg["HealthCheckProtocol"] == "TCP"
    lb = elbv2.create_load_balancer(Name=unique("nlb"), Subnets=[], Type="network")
    lb = lb["LoadBalancers"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    try:
        with pytest.raises(ClientError) as err:
            elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="TCP",
                Port=8098,
                DefaultActions=forward,
            )
        assert err.value.response["Error"]["Code"] == "IncompatibleProtocols"
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=8498,
            Certificates=[{"CertificateArn": arn}],
            DefaultActions=forward,
        )
        status, echo = https_get(lb["DNSName"], 8498, "tls.example.com", cert, "/re")
        assert status == 200 and echo["tls"] is True and echo["path"] == "/re"
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
