"""The X.509 work of a private CA: its CSR, certificates signed from CSRs by AWS's
templates (with the CRL distribution point and OCSP URL its revocation settings
name), checking the CA certificate it is given, and its CRL.

Why apart: AWS Private CA's operations are bookkeeping around a handful of
signatures; those signatures, and the extensions AWS's templates put in each kind
of certificate, are plain ``cryptography`` code testable without a server.
Errors raise ``PcaError`` carrying AWS's code, for the service to pass on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloudlet.core.certificates import complete_crl

SIGNING: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "SHA256WITHRSA": ("rsa", hashes.SHA256),
    "SHA384WITHRSA": ("rsa", hashes.SHA384),
    "SHA512WITHRSA": ("rsa", hashes.SHA512),
    "SHA256WITHECDSA": ("ec", hashes.SHA256),
    "SHA384WITHECDSA": ("ec", hashes.SHA384),
    "SHA512WITHECDSA": ("ec", hashes.SHA512),
}
TEMPLATE_PREFIX = "arn:aws:acm-pca:::template/"
CA_TEMPLATES = {
    "RootCACertificate/V1": None,
    "SubordinateCACertificate_PathLen0/V1": 0,
    "SubordinateCACertificate_PathLen1/V1": 1,
    "SubordinateCACertificate_PathLen2/V1": 2,
    "SubordinateCACertificate_PathLen3/V1": 3,
}
END_ENTITY = ("EndEntityCertificate/V1", "EndEntityServerAuthCertificate/V1")
SUBJECT_OIDS = {
    "Country": NameOID.COUNTRY_NAME,
    "Organization": NameOID.ORGANIZATION_NAME,
    "OrganizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "DistinguishedNameQualifier": NameOID.DN_QUALIFIER,
    "State": NameOID.STATE_OR_PROVINCE_NAME,
    "CommonName": NameOID.COMMON_NAME,
    "SerialNumber": NameOID.SERIAL_NUMBER,
    "Locality": NameOID.LOCALITY_NAME,
    "Title": NameOID.TITLE,
    "Surname": NameOID.SURNAME,
    "GivenName": NameOID.GIVEN_NAME,
    "Initials": NameOID.INITIALS,
    "Pseudonym": NameOID.PSEUDONYM,
    "GenerationQualifier": NameOID.GENERATION_QUALIFIER,
}
REASONS = {
    "UNSPECIFIED": x509.ReasonFlags.unspecified,
    "KEY_COMPROMISE": x509.ReasonFlags.key_compromise,
    "CERTIFICATE_AUTHORITY_COMPROMISE": x509.ReasonFlags.ca_compromise,
    "AFFILIATION_CHANGED": x509.ReasonFlags.affiliation_changed,
    "SUPERSEDED": x509.ReasonFlags.superseded,
    "CESSATION_OF_OPERATION": x509.ReasonFlags.cessation_of_operation,
    "PRIVILEGE_WITHDRAWN": x509.ReasonFlags.privilege_withdrawn,
    "A_A_COMPROMISE": x509.ReasonFlags.aa_compromise,
}


class PcaError(Exception):
    """Refused work, with AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def key_kind(key: Any) -> str:
    return "rsa" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "ec"


def digest_for(key: Any, algorithm: str) -> hashes.HashAlgorithm:
    """The hash of ``algorithm`` if the CA's ``key`` can sign with it (InvalidArgs if not)."""
    kind, digest = SIGNING.get(algorithm, ("", hashes.SHA256))
    if kind != key_kind(key):
        raise PcaError(
            "InvalidArgsException",
            f"The signing algorithm {algorithm} is not supported for the CA's key algorithm.",
        )
    return digest()


def name_of(subject: dict[str, Any]) -> x509.Name:
    """An ``ASN1Subject`` as an X.509 name, in AWS's attribute order."""
    attrs = [
        x509.NameAttribute(oid, str(subject[field]))
        for field, oid in SUBJECT_OIDS.items()
        if subject.get(field)
    ]
    for custom in subject.get("CustomAttributes") or []:
        attrs.append(
            x509.NameAttribute(x509.ObjectIdentifier(custom["ObjectIdentifier"]), custom["Value"])
        )
    return x509.Name(attrs)


def ca_csr(key: Any, subject: dict[str, Any], signing: str) -> str:
    """The CA's certificate signing request, signed by its own key."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name_of(subject))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, digest_for(key, signing))
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        try:
            csr = x509.load_der_x509_csr(data)
        except ValueError:
            raise PcaError("MalformedCSRException", "The CSR could not be parsed.") from None
    if not csr.is_signature_valid:
        raise PcaError("MalformedCSRException", "The CSR's signature is not valid.")
    return csr


def serial_hex(serial: int) -> str:
    """A serial as AWS shows it in a certificate ARN: lower-case hex, no colons."""
    return f"{serial:x}".rjust(2, "0")


def issue(
    ca_key: Any,
    issuer: x509.Name,
    csr: x509.CertificateSigningRequest,
    template: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
    signing: str,
    serial: int,
    passthrough: dict[str, Any] | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A certificate for ``csr``'s key, shaped by the AWS ``template`` (its name after
    ``template/``), signed by the CA."""
    public = csr.public_key()
    passthrough = passthrough or {}
    subject = name_of(passthrough["Subject"]) if passthrough.get("Subject") else csr.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if template == "RootCACertificate/V1" else issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if template != "RootCACertificate/V1":
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    if template in CA_TEMPLATES:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=CA_TEMPLATES[template]), critical=True
        ).add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
        if template == "EndEntityCertificate/V1":
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        sans = _sans(passthrough, csr)
        if sans is not None:
            builder = builder.add_extension(sans, critical=False)
    if crl_url and template != "RootCACertificate/V1":
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ocsp_url and template != "RootCACertificate/V1":
        access = x509.AccessDescription(
            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder.sign(ca_key, digest_for(ca_key, signing))


def _sans(passthrough: dict[str, Any], csr: x509.CertificateSigningRequest) -> Any:
    given = (passthrough.get("Extensions") or {}).get("SubjectAlternativeNames")
    if given:
        names: list[x509.GeneralName] = []
        for entry in given:
            if entry.get("DnsName"):
                names.append(x509.DNSName(entry["DnsName"]))
            elif entry.get("Rfc822Name"):
                names.append(x509.RFC822Name(entry["Rfc822Name"]))
            elif entry.get("UniformResourceIdentifier"):
                names.append(x509.UniformResourceIdentifier(entry["UniformResourceIdentifier"]))
            else:
                raise PcaError(
                    "InvalidArgsException",
                    "Only DnsName, Rfc822Name and UniformResourceIdentifier subject"
                    " alternative names are supported.",
                )
        return x509.SubjectAlternativeName(names)
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def load_cert(data: bytes | str) -> x509.Certificate:
    raw = data.encode() if isinstance(data, str) else data
    try:
        return x509.load_pem_x509_certificate(raw)
    except ValueError:
        raise PcaError("MalformedCertificateException", "The certificate is malformed.") from None


def load_chain(data: bytes) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PcaError(
            "MalformedCertificateException", "The certificate chain is malformed."
        ) from None
    return chain


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key made ``cert``'s signature and names match."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,  # type: ignore[arg-type]
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                ec.ECDSA(cert.signature_hash_algorithm),  # type: ignore[arg-type]
            )
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, TypeError):
        return False
    return True


def check_ca_certificate(
    key: Any, ca_type: str, cert: x509.Certificate, chain: list[x509.Certificate]
) -> None:
    """Refuse a CA certificate as ImportCertificateAuthorityCertificate does."""
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise PcaError(
            "CertificateMismatchException",
            "The certificate does not match the certificate authority's private key.",
        )
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is None or not basic.ca:
        raise PcaError("InvalidRequestException", "The certificate is not a CA certificate.")
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise PcaError("InvalidRequestException", "The certificate is not valid at this time.")
    if ca_type == "ROOT":
        if chain:
            raise PcaError(
                "InvalidRequestException", "A root CA certificate is imported without a chain."
            )
        if not signed_by(cert, cert):
            raise PcaError(
                "InvalidRequestException", "The root CA certificate must be self-signed."
            )
        return
    if not chain:
        raise PcaError(
            "InvalidRequestException", "A subordinate CA certificate needs its certificate chain."
        )
    child = cert
    for link in chain:
        if not signed_by(child, link):
            raise PcaError(
                "InvalidRequestException", "The certificate chain does not verify the certificate."
            )
        child = link
    if not signed_by(child, child):
        raise PcaError(
            "InvalidRequestException", "The certificate chain must end with a self-signed root."
        )


def crl(
    ca_key: Any,
    ca_cert: x509.Certificate,
    revoked: list[tuple[int, float, str]],
    number: int,
    days: int,
    signing: str,
) -> bytes:
    """The CA's complete CRL (DER) listing ``revoked`` (serial, when, reason)."""
    entries = [
        (serial, when, None if reason == "UNSPECIFIED" else REASONS[reason])
        for serial, when, reason in revoked
    ]
    return complete_crl(ca_key, ca_cert, entries, number, days, digest_for(ca_key, signing))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
