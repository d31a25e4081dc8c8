"""TLS for HTTPS (and classic SSL) listeners: ACM and IAM certificates, security policies.

Why: an HTTPS listener terminates TLS with the certificate its Certificates
(or classic ``SSLCertificateId``) name, so the load balancer reads that
certificate and key from ACM through the internal client (``ExportCertificate``
with a one-off passphrase; the key never leaves memory unencrypted), or from IAM's
server certificates (which GetServerCertificate never returns the key of: IAM's
``identities.server_certificate`` does, as it answers STS and the authorizer), and
builds an ``ssl.SSLContext``. A listener with several certificates picks one by the
client's SNI name, falling back to its default certificate, as ALB does. The
security policy sets the lowest TLS version offered.

A renewed certificate (ACM's RenewCertificate) is served without touching the listener,
as on AWS: every context remembers the certificate it was loaded with, and
``refresh_renewed`` (the ELB service's background loop, every few seconds) asks ACM for
each served certificate (GetCertificate, a store lookup) and loads the new one into the
same contexts, which new handshakes then use.

Towards targets (HTTPS and TLS target groups, classic HTTPS and SSL instance
protocols) the load balancer is a TLS client that, as AWS documents, accepts
any certificate the target presents: ``target_context``.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
import weakref
from typing import Any

from cryptography import x509

from cloudlet.core.errors import NotImplementedOperation, ServiceError

DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"
MODERN = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
]
TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
POLICIES: dict[str, tuple[list[str], list[str]]] = {
    "ELBSecurityPolicy-2016-08": (["TLSv1", "TLSv1.1", "TLSv1.2"], MODERN),
    "ELBSecurityPolicy-TLS-1-1-2017-01": (["TLSv1.1", "TLSv1.2"], MODERN),
    "ELBSecurityPolicy-TLS-1-2-2017-01": (["TLSv1.2"], MODERN),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": (["TLSv1.2"], MODERN),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": (["TLSv1.2"], MODERN),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": (["TLSv1.2", "TLSv1.3"], TLS13 + MODERN),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": (["TLSv1.2", "TLSv1.3"], TLS13 + MODERN),
    "ELBSecurityPolicy-TLS13-1-3-2021-06": (["TLSv1.3"], TLS13),
}
_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


_TARGETS: ssl.SSLContext | None = None
_SERVED: dict[str, tuple[str, weakref.WeakSet[ssl.SSLContext]]] = {}
"""ACM certificate ARN -> (the certificate PEM loaded, the live contexts serving it)."""


def target_context() -> ssl.SSLContext:
    """The client context for connections to targets: TLS 1.2 or later, no certificate
    or host name check (load balancers do not validate target certificates)."""
    global _TARGETS
    if _TARGETS is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _TARGETS = context
    return _TARGETS


def _not_found(message: str) -> ServiceError:
    return ServiceError("CertificateNotFound", message, 400)


def describe_policies(names: list[str] | None) -> list[dict[str, Any]]:
    """DescribeSSLPolicies' entries (``SSLPolicyNotFound`` for an unknown name)."""
    for name in names or []:
        if name not in POLICIES:
            raise ServiceError("SSLPolicyNotFound", f"SSL policy '{name}' not found", 400)
    out = []
    for name in names or list(POLICIES):
        protocols, ciphers = POLICIES[name]
        out.append(
            {
                "SslPolicyName": name,
                "SslProtocols": protocols,
                "Ciphers": [{"Name": c, "Priority": i} for i, c in enumerate(ciphers, 1)],
                "SupportedLoadBalancerTypes": ["application", "network"],
            }
        )
    return out


def check_policy(name: str) -> None:
    if name not in POLICIES:
        raise ServiceError("SSLPolicyNotFound", f"SSL policy '{name}' not found", 400)


async def _material(env: Any, arn: str) -> tuple[str, str, bytes]:
    """(certificate + chain PEM, key PEM, passphrase) of an ACM certificate or an IAM
    server certificate (whose key IAM keeps unencrypted, as it is uploaded)."""
    parts = arn.split(":")
    if len(parts) >= 6 and parts[2] == "iam" and parts[5].startswith("server-certificate/"):
        iam = getattr(env.services.get("iam"), "identities", None)
        doc = iam.server_certificate(parts[4], arn) if iam is not None else None
        if doc is None:
            raise _not_found(f"Certificate '{arn}' not found")
        chain = doc["CertificateBody"] + "\n" + (doc.get("CertificateChain") or "")
        return chain, doc["PrivateKey"], b""
    if len(parts) < 6 or parts[2] != "acm":
        raise _not_found(
            f"Certificate '{arn}' not found: cloudlet serves ACM certificates"
            " (arn:aws:acm:...) and IAM server certificates (arn:aws:iam::...:server-certificate/...)"
        )
    passphrase = secrets.token_hex(16).encode()
    try:
        out = await env.call(
            "acm",
            "ExportCertificate",
            {"CertificateArn": arn, "Passphrase": passphrase},
            account=parts[4],
            region=parts[3],
        )
    except (ServiceError, NotImplementedOperation):
        raise _not_found(f"Certificate '{arn}' not found") from None
    chain = out["Certificate"] + (out.get("CertificateChain") or "")
    return chain, out["PrivateKey"], passphrase


def _context(chain: str, key: str, passphrase: bytes, policy: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[POLICIES.get(policy, POLICIES[DEFAULT_POLICY])[0][0]]
    _load(ctx, chain, key, passphrase)
    return ctx


def _load(ctx: ssl.SSLContext, chain: str, key: str, passphrase: bytes) -> None:
    """Load (or replace) the context's certificate and key."""
    # load_cert_chain reads files only: a private directory, removed at once
    with tempfile.TemporaryDirectory(prefix="cloudlet-tls-") as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, text in ((cert_path, chain), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        ctx.load_cert_chain(cert_path, key_path, password=passphrase)


def _served(arn: str, chain: str, ctx: ssl.SSLContext) -> None:
    """Remember that ``ctx`` serves ACM's ``arn`` (loaded as ``chain``)."""
    if arn.split(":")[2:3] != ["acm"]:
        return  # IAM server certificates are not renewed
    _loaded, contexts = _SERVED.setdefault(arn, (chain, weakref.WeakSet()))
    contexts.add(ctx)


async def refresh_renewed(env: Any) -> None:
    """Load renewed ACM certificates into the contexts serving them (see the module's
    docstring); contexts of closed listeners have dropped out of the weak sets."""
    for arn, (loaded, contexts) in list(_SERVED.items()):
        if not contexts:
            del _SERVED[arn]
            continue
        parts = arn.split(":")
        try:
            out = await env.call(
                "acm", "GetCertificate", {"CertificateArn": arn}, account=parts[4], region=parts[3]
            )
        except (ServiceError, NotImplementedOperation):
            continue  # deleted: the listeners keep what they serve
        if out["Certificate"] + (out.get("CertificateChain") or "") == loaded:
            continue
        chain, key, passphrase = await _material(env, arn)
        for ctx in list(contexts):
            _load(ctx, chain, key, passphrase)
        _SERVED[arn] = (chain, contexts)


def _names(chain: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(chain.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n).lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if names:
        return names
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return [str(cns[0].value).lower()] if cns else []


async def server_context(env: Any, cert_arns: list[str], policy: str) -> ssl.SSLContext:
    """The listener's context: the first certificate is the default, the others are
    chosen by SNI name (``*.example.com`` matches one label)."""
    if not cert_arns:
        raise ServiceError(
            "ValidationError", "A certificate must be specified for HTTPS listeners", 400
        )
    contexts = []
    for arn in dict.fromkeys(cert_arns):
        chain, key, passphrase = await _material(env, arn)
        ctx = _context(chain, key, passphrase, policy)
        _served(arn, chain, ctx)
        contexts.append((_names(chain), ctx))
    default = contexts[0][1]
    if len(contexts) > 1:

        def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if not name:
                return
            name = name.lower()
            parent = name.partition(".")[2]
            for names, ctx in contexts:
                if any(n == name or (n.startswith("*.") and n[2:] == parent) for n in names):
                    sock.context = ctx
                    return

        default.sni_callback = pick  # type: ignore[assignment]
    return default
