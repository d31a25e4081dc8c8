"""ACM's private certificates: issued, and renewed, by an AWS Private CA.

Why apart: a private certificate is ACM making a key and a CSR and asking the
CA (the ``acm-pca`` service, through the internal client, so its states,
templates and errors apply) to sign it with ``EndEntityCertificate/V1``; ACM
then keeps certificate, chain and key like any other. RenewCertificate does the
same again with a fresh key and records a ``RenewalSummary``; the ARN stays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.acm import certs

Doc = dict[str, Any]
PRIVATE_DAYS = 395
"""ACM's private certificates are valid for 13 months, as its public ones."""
ISSUE_SECONDS = 10.0


def _error(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, 400)


class PrivateMixin:
    env: Any
    _cert: Callable[[Any, str], Doc]
    _save: Callable[[Doc], None]

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

        async def pca(operation: str, params: Doc) -> Doc:
            try:
                return await self.env.call(
                    "acm-pca", operation, params, account=ctx.account_id, region=ctx.region
                )
            except NotImplementedOperation:
                raise _error("ResourceNotFoundException", f"Could not find {ca_arn}.") from None
            except ServiceError as err:
                if err.code == "RequestInProgressException":
                    raise
                raise _error(
                    "ValidationException" if err.code != "ResourceNotFoundException" else err.code,
                    f"The private CA refused to issue: {err.message}",
                ) from None

        described = await pca("DescribeCertificateAuthority", {"CertificateAuthorityArn": ca_arn})
        config = described["CertificateAuthority"]["CertificateAuthorityConfiguration"]
        issued = await pca(
            "IssueCertificate",
            {
                "CertificateAuthorityArn": ca_arn,
                "Csr": csr.public_bytes(serialization.Encoding.PEM),
                "SigningAlgorithm": config["SigningAlgorithm"],
                "TemplateArn": "arn:aws:acm-pca:::template/EndEntityCertificate/V1",
                "Validity": {"Value": PRIVATE_DAYS, "Type": "DAYS"},
            },
        )
        deadline = time.monotonic() + ISSUE_SECONDS
        while True:
            try:
                got = await pca(
                    "GetCertificate",
                    {"CertificateAuthorityArn": ca_arn, "CertificateArn": issued["CertificateArn"]},
                )
                break
            except ServiceError:
                if time.monotonic() > deadline:
                    raise _error(
                        "RequestInProgressException", "The private CA is still issuing."
                    ) from None
                await asyncio.sleep(0.02)
        return {
            "cert": got["Certificate"],
            "chain": got.get("CertificateChain", ""),
            "key": certs.key_pem(key),
        }

    async def renew_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        if doc["Type"] != "PRIVATE":
            raise _error(
                "ValidationException",
                f"Certificate {doc['Arn']} is not a private certificate;"
                " only private certificates can be renewed with RenewCertificate.",
            )
        old = certs.describe(certs.load_cert(doc["cert"]))
        fresh = await self._issue_private(
            ctx, doc["ca"], old.domain, old.sans, doc.get("algorithm", "RSA_2048")
        )
        doc.update(fresh)
        doc["issued"] = time.time()
        doc["renewal"] = {"RenewalStatus": "SUCCESS", "UpdatedAt": time.time()}
        self._save(doc)
        return {}
