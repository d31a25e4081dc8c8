"""ACM's private certificates: issued, and revoked, by an AWS Private CA.

Why apart: a private certificate is ACM making a key and a CSR and asking the
CA (the ``acm-pca`` service, through the internal client, so its states,
templates and errors apply) to sign it with ``EndEntityCertificate/V1``; ACM
then keeps certificate, chain and key like any other. Renewing does the same
again with a fresh key (``renewal.py``); revoking asks the CA to revoke the
serial, so the CA's CRL, OCSP answers and audit report show it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.acm import certs

Doc = dict[str, Any]
ISSUE_SECONDS = 10.0
PCA_REASONS = {
    "UNSPECIFIED": "UNSPECIFIED",
    "KEY_COMPROMISE": "KEY_COMPROMISE",
    "CA_COMPROMISE": "CERTIFICATE_AUTHORITY_COMPROMISE",
    "AFFILIATION_CHANGED": "AFFILIATION_CHANGED",
    "SUPERCEDED": "SUPERSEDED",
    "SUPERSEDED": "SUPERSEDED",
    "CESSATION_OF_OPERATION": "CESSATION_OF_OPERATION",
    "PRIVILEGE_WITHDRAWN": "PRIVILEGE_WITHDRAWN",
    "A_A_COMPROMISE": "A_A_COMPROMISE",
}
"""ACM's RevocationReason values the Private CA knows, in its words (it has no
CERTIFICATE_HOLD or REMOVE_FROM_CRL)."""


class PcaRefusal(ServiceError):
    """The private CA refused: ACM's error, remembering the CA's code (``pca_code``) for
    a renewal's ``RenewalStatusReason``."""

    def __init__(self, code: str, message: str, pca_code: str) -> None:
        super().__init__(code, message, 400)
        self.pca_code = pca_code


class PrivateMixin:
    env: Any
    validity_days: float

    async def _pca(self, ctx: Any, ca_arn: str, operation: str, params: Doc) -> Doc:
        """Call the Private CA as ACM; its refusals become ACM's (``PcaRefusal``)."""
        try:
            return await self.env.call(
                "acm-pca", operation, params, account=ctx.account_id, region=ctx.region
            )
        except NotImplementedOperation:
            raise PcaRefusal(
                "ResourceNotFoundException",
                f"Could not find {ca_arn}.",
                "ResourceNotFoundException",
            ) from None
        except ServiceError as err:
            if err.code in ("RequestInProgressException", "RequestAlreadyProcessedException"):
                raise
            found = err.code == "ResourceNotFoundException"
            raise PcaRefusal(
                err.code if found else "ValidationException",
                f"The private CA refused: {err.message}",
                err.code,
            ) from None

    def _private_validity(self) -> Doc:
        days = self.validity_days
        if days == int(days):
            return {"Value": int(days), "Type": "DAYS"}
        return {"Value": int(clock.time() + days * 86400), "Type": "ABSOLUTE"}

    async def _issue_private(
        self, ctx: Any, ca_arn: str, domain: str, sans: list[str], algorithm: str
    ) -> Doc:
        """Certificate, chain and key PEMs for ``domain`` signed by the CA ``ca_arn``."""
        key = certs.new_key(algorithm)
        names = [x509.DNSName(n) for n in dict.fromkeys([domain, *sans])]
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain[:64])]))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256())
        )
        described = await self._pca(
            ctx, ca_arn, "DescribeCertificateAuthority", {"CertificateAuthorityArn": ca_arn}
        )
        config = described["CertificateAuthority"]["CertificateAuthorityConfiguration"]
        issued = await self._pca(
            ctx,
            ca_arn,
            "IssueCertificate",
            {
                "CertificateAuthorityArn": ca_arn,
                "Csr": csr.public_bytes(serialization.Encoding.PEM),
                "SigningAlgorithm": config["SigningAlgorithm"],
                "TemplateArn": "arn:aws:acm-pca:::template/EndEntityCertificate/V1",
                "Validity": self._private_validity(),
            },
        )
        deadline = time.monotonic() + ISSUE_SECONDS
        while True:
            try:
                got = await self._pca(
                    ctx,
                    ca_arn,
                    "GetCertificate",
                    {"CertificateAuthorityArn": ca_arn, "CertificateArn": issued["CertificateArn"]},
                )
                break
            except ServiceError:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        "RequestInProgressException", "The private CA is still issuing.", 400
                    ) from None
                await asyncio.sleep(0.02)
        return {
            "cert": got["Certificate"],
            "chain": got.get("CertificateChain", ""),
            "key": certs.key_pem(key),
        }

    async def _revoke_private(self, ctx: Any, doc: Doc, reason: str) -> None:
        """Revoke ``doc``'s certificate in the CA that issued it."""
        if reason not in PCA_REASONS:
            raise ServiceError(
                "ValidationException",
                f"RevocationReason {reason} is not supported for private certificates.",
                400,
            )
        serial = certs.load_cert(doc["cert"]).serial_number
        try:
            await self._pca(
                ctx,
                doc["ca"],
                "RevokeCertificate",
                {
                    "CertificateAuthorityArn": doc["ca"],
                    "CertificateSerial": f"{serial:x}",
                    "RevocationReason": PCA_REASONS[reason],
                },
            )
        except ServiceError as err:
            if err.code != "RequestAlreadyProcessedException":  # revoked in the CA already
                raise
