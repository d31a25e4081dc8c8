"""X.509 work for ACM: reading imported certificates, and issuing new ones.

Why: an HTTPS listener needs a real certificate and key, either one the user
brings (ImportCertificate) or one ACM issues (RequestCertificate). Nothing
here can prove domain ownership, so requested certificates are issued at once
by a certificate authority of this server's own ("cloudlet local CA",
generated once per data dir); a client that should trust them loads that CA's
PEM (``/_cloudlet/acm/ca.pem``), as one trusts a corporate CA. What that CA
revoked (RevokeCertificate of an exported public certificate) is in its CRL
(``crl``), which the certificates it issues name as their distribution point.

Plain Python over ``cryptography``; no service or gateway imports.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloudlet.core.certificates import KEY_ALGORITHMS as KEY_ALGORITHMS
from cloudlet.core.certificates import complete_crl, new_key, self_signed

PEM_CERT = b"-----BEGIN CERTIFICATE-----"
ISSUED_DAYS = 395.0
"""ACM's public certificates are valid for 395 days (13 months)."""
CRL_DAYS = 7
REASONS = {
    "UNSPECIFIED": None,
    "KEY_COMPROMISE": x509.ReasonFlags.key_compromise,
    "CA_COMPROMISE": x509.ReasonFlags.ca_compromise,
    "AFFILIATION_CHANGED": x509.ReasonFlags.affiliation_changed,
    "SUPERCEDED": x509.ReasonFlags.superseded,
    "SUPERSEDED": x509.ReasonFlags.superseded,
    "CESSATION_OF_OPERATION": x509.ReasonFlags.cessation_of_operation,
    "CERTIFICATE_HOLD": x509.ReasonFlags.certificate_hold,
    "REMOVE_FROM_CRL": x509.ReasonFlags.remove_from_crl,
    "PRIVILEGE_WITHDRAWN": x509.ReasonFlags.privilege_withdrawn,
    "A_A_COMPROMISE": x509.ReasonFlags.aa_compromise,
}
"""ACM's RevocationReason values as CRL reason codes (None: no reason extension)."""


class CertificateError(ValueError):
    """An imported certificate, chain or key ACM would refuse; the text is ACM's."""


@dataclass(frozen=True)
class Parsed:
    """What DescribeCertificate reports about one certificate."""

    domain: str
    sans: list[str]
    serial: str
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_algorithm: str
    """ACM's spelling in DescribeCertificate (``RSA-2048``, ``EC-prime256v1``)."""
    key_type: str
    """ACM's spelling in ListCertificates filters (``RSA_2048``, ``EC_prime256v1``)."""
    signature_algorithm: str
    key_usages: list[str]
    extended_key_usages: list[str]


def _name(name: x509.Name) -> str:
    return ",".join(attr.rfc4514_string() for attr in name)


def _key_type(key: Any) -> tuple[str, str]:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}", f"RSA_{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "prime256v1"}.get(key.curve.name, key.curve.name)
        return f"EC-{curve}", f"EC_{curve}"
    raise CertificateError("The certificate's key algorithm is not supported.")


_KEY_USAGES = {
    "digital_signature": "DIGITAL_SIGNATURE",
    "content_commitment": "NON_REPUDIATION",
    "key_encipherment": "KEY_ENCIPHERMENT",
    "data_encipherment": "DATA_ENCIPHERMENT",
    "key_agreement": "KEY_AGREEMENT",
    "key_cert_sign": "CERTIFICATE_SIGNING",
    "crl_sign": "CRL_SIGNING",
}
_AGREEMENT_ONLY = {"encipher_only": "ENCIPHER_ONLY", "decipher_only": "DECIPHER_ONLY"}
_EXTENDED = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS_WEB_SERVER_AUTHENTICATION",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS_WEB_CLIENT_AUTHENTICATION",
    ExtendedKeyUsageOID.CODE_SIGNING: "CODE_SIGNING",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "EMAIL_PROTECTION",
    ExtendedKeyUsageOID.TIME_STAMPING: "TIME_STAMPING",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP_SIGNING",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"): "IPSEC_END_SYSTEM",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"): "IPSEC_TUNNEL",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"): "IPSEC_USER",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "ANY",
}


def describe(cert: x509.Certificate) -> Parsed:
    try:
        sans = [
            str(v)
            for v in cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
        ]
    except x509.ExtensionNotFound:
        sans = []
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    domain = str(cns[0].value) if cns else (sans[0] if sans else "")
    usages: list[str] = []
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        for attr, name in _KEY_USAGES.items():
            if getattr(ku, attr):
                usages.append(name)
        if ku.key_agreement:  # the only-flags mean something (and can be read) only then
            usages += [name for attr, name in _AGREEMENT_ONLY.items() if getattr(ku, attr)]
    except x509.ExtensionNotFound:
        pass
    extended: list[str] = []
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        extended = [_EXTENDED.get(oid, "CUSTOM") for oid in eku]
    except x509.ExtensionNotFound:
        pass
    algorithm, key_type = _key_type(cert.public_key())
    digest = cert.signature_hash_algorithm
    signer = "RSA" if isinstance(cert.public_key(), rsa.RSAPublicKey) else "ECDSA"
    return Parsed(
        domain=domain,
        sans=sans or ([domain] if domain else []),
        serial=":".join(f"{b:02x}" for b in cert.serial_number.to_bytes(20, "big").lstrip(b"\0")),
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_type=key_type,
        signature_algorithm=f"{digest.name.upper() if digest else 'NONE'}WITH{signer}",
        key_usages=usages,
        extended_key_usages=extended,
    )


def load_import(
    certificate: bytes, private_key: bytes, chain: bytes | None
) -> tuple[x509.Certificate, Any, list[x509.Certificate]]:
    """Check what ImportCertificate was given, as ACM does, and read it."""
    if certificate.count(PEM_CERT) > 1:
        raise CertificateError(
            "The certificate field contains more than one certificate."
            " You can specify only one certificate in this field."
        )
    try:
        cert = x509.load_pem_x509_certificate(certificate)
    except ValueError:
        raise CertificateError(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except TypeError:
        raise CertificateError("The private key is encrypted; it must not be.") from None
    except ValueError:
        raise CertificateError("The private key is not supported.") from None
    if cert.version != x509.Version.v3:
        raise CertificateError("Only X.509 version 3 certificates are supported.")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise CertificateError("The private key does not match the public key of the certificate.")
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateError("The certificate is not valid at this time.")
    links: list[x509.Certificate] = []
    if chain:
        try:
            links = x509.load_pem_x509_certificates(chain)
        except ValueError:
            raise CertificateError(
                "Unable to parse the certificate chain. Please ensure it is in PEM format."
            ) from None
        child = cert
        for link in links:
            if link.subject != child.issuer:
                raise CertificateError(
                    "Could not validate the certificate with the certificate chain."
                )
            child = link
    _key_type(cert.public_key())
    return cert, key, links


def new_ca() -> tuple[x509.Certificate, Any]:
    """This server's own certificate authority (ten years)."""
    key = new_key("EC_prime256v1")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cloudlet"),
            x509.NameAttribute(NameOID.COMMON_NAME, "cloudlet local CA"),
        ]
    )
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    cert = self_signed(
        key,
        name,
        3650,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (usage, True)],
    )
    return cert, key


def issue(
    ca_cert: x509.Certificate,
    ca_key: Any,
    domain: str,
    sans: list[str],
    algorithm: str,
    days: float = ISSUED_DAYS,
    crl_url: str | None = None,
) -> tuple[x509.Certificate, Any]:
    """A server certificate for ``domain`` and ``sans``, signed by the CA, valid for
    ``days``, naming ``crl_url`` as its CRL distribution point."""
    key = new_key(algorithm)
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = []
    for san in dict.fromkeys([domain, *sans]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain[:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def crl(
    ca_cert: x509.Certificate, ca_key: Any, revoked: list[tuple[int, float, str]], number: int
) -> bytes:
    """The CA's complete CRL (DER) of ``revoked`` (serial, when, ACM reason)."""
    entries = [(serial, when, REASONS.get(reason)) for serial, when, reason in revoked]
    return complete_crl(ca_key, ca_cert, entries, number, CRL_DAYS)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Any, passphrase: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def load_key(pem: str, passphrase: bytes | None = None) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=passphrase)
