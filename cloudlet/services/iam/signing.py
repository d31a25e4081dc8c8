"""IAM users' X.509 signing certificates (what older services verified SOAP and
EC2 bundle signatures against).

An upload is one PEM certificate, parsed with ``cryptography``: text that is not a
PEM certificate is ``MalformedCertificate`` (AWS's "Unable to parse certificate"
wording), as is one outside its validity period (IAM's "malformed or expired", and a
not-yet-valid certificate fails X.509 validation too); more than one certificate, or
a self-issued one whose signature its own key does not verify, is
``InvalidCertificate``. The same certificate (same DER bytes) may belong to one user
of the account only (``DuplicateCertificate``), and a user holds two
(``LimitExceeded``). Ids are 32 characters of ``A-Z`` and ``0-9``, as AWS's. Their
status and upload date fill the credential report's ``cert_1``/``cert_2`` columns.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from cloudlet.core.clock import clock
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_constraints, dt, page
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_CERTIFICATES_PER_USER = 2
_ID_CHARS = string.ascii_uppercase + string.digits
_UNPARSABLE = "Unable to parse certificate. Please ensure the certificate is in PEM format."


def check_certificate(body: str) -> str:
    """The SHA-256 of the certificate's DER bytes, if IAM would take ``body``."""
    try:
        certs = x509.load_pem_x509_certificates(body.strip().encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise errors.malformed_certificate(_UNPARSABLE) from None
    if len(certs) != 1:
        raise errors.invalid_certificate("Upload exactly one signing certificate.")
    cert = certs[0]
    now = clock.time()
    if cert.not_valid_after_utc.timestamp() < now:
        raise errors.malformed_certificate("The certificate has expired.")
    if cert.not_valid_before_utc.timestamp() > now:
        raise errors.malformed_certificate("The certificate is not yet valid.")
    if cert.issuer == cert.subject:
        try:
            cert.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise errors.invalid_certificate(
                "The certificate's signature does not verify with its own public key."
            ) from None
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _shown(doc: Doc) -> Result:
    return {
        "UserName": doc["UserName"],
        "CertificateId": doc["CertificateId"],
        "CertificateBody": doc["CertificateBody"],
        "Status": doc["Status"],
        "UploadDate": dt(doc["UploadDate"]),
    }


def user_certificates(store: Any, account: str, user: str) -> list[Doc]:
    """A user's signing certificates, oldest first (the credential report's order)."""
    docs = [d for d in store.all("signing_certificate", account) if d["UserName"] == user]
    return sorted(docs, key=lambda d: d["UploadDate"])


class SigningCertificateHandlers:
    store: Any
    _key_owner: Callable[[Any, dict[str, Any]], str]
    _now: Callable[[], float]

    def _signing_certificate(self, ctx: Any, params: dict[str, Any]) -> Doc:
        user = self._key_owner(ctx, params)
        cert_id = params["CertificateId"]
        doc = self.store.get("signing_certificate", key(ctx.account_id, cert_id))
        if doc is None or doc["UserName"] != user:
            raise errors.no_such_entity(f"The Certificate with id {cert_id} cannot be found.")
        return doc

    def upload_signing_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("UploadSigningCertificate", params)
        account = ctx.account_id
        user = self._key_owner(ctx, params)
        digest = check_certificate(params["CertificateBody"])
        if any(d["Digest"] == digest for d in self.store.all("signing_certificate", account)):
            raise errors.duplicate_certificate(
                "The same certificate is already associated with an IAM user in the account."
            )
        if len(user_certificates(self.store, account, user)) >= MAX_CERTIFICATES_PER_USER:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for SigningCertificatesPerUser: {MAX_CERTIFICATES_PER_USER}"
            )
        cert_id = "".join(secrets.choice(_ID_CHARS) for _ in range(32))
        doc: Doc = {
            "UserName": user,
            "CertificateId": cert_id,
            "CertificateBody": params["CertificateBody"].strip(),
            "Digest": digest,
            "Status": "Active",
            "UploadDate": self._now(),
        }
        self.store.put("signing_certificate", key(account, cert_id), doc)
        return {"Certificate": _shown(doc)}

    def list_signing_certificates(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("ListSigningCertificates", params)
        docs = user_certificates(self.store, ctx.account_id, self._key_owner(ctx, params))
        return page([_shown(d) for d in docs], params, "Certificates")

    def update_signing_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("UpdateSigningCertificate", params)
        doc = self._signing_certificate(ctx, params)
        if params["Status"] not in ("Active", "Inactive"):
            raise errors.invalid_input("The status of a signing certificate is Active or Inactive.")
        doc["Status"] = params["Status"]
        self.store.save("signing_certificate", doc)
        return {}

    def delete_signing_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("DeleteSigningCertificate", params)
        doc = self._signing_certificate(ctx, params)
        self.store.delete("signing_certificate", doc["_key"])
        return {}
