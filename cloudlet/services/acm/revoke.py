"""RevokeCertificate: a certificate ACM issued, revoked where relying parties look.

Why apart: revocation is the one change that reaches outside ACM. A private
certificate is revoked in the AWS Private CA that issued it (its RevokeCertificate
through the internal client, so the CA's CRL in S3, its OCSP answers and its audit
report all show it); an exportable public certificate that was exported is revoked
in this server's own CA, whose CRL (``/_cloudlet/acm/crl``, DER, the distribution
point its certificates name) lists it. ACM refuses, as AWS does, what cannot be
revoked: imported certificates, public certificates never exported or not
exportable, certificates a load balancer serves (``ResourceInUseException``), and
one already revoked. Public certificates take the reasons AWS lists for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.acm import certs

Doc = dict[str, Any]
CRL_PATH = "/_cloudlet/acm/crl"
PUBLIC_REASONS = frozenset(
    ("UNSPECIFIED", "AFFILIATION_CHANGED", "SUPERCEDED", "SUPERSEDED", "CESSATION_OF_OPERATION")
)
"""What AWS lets a public certificate be revoked for (SUPERCEDED is the model's old spelling)."""
CRL_CACHE_SECONDS = 3600


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


class RevokeMixin:
    store: Any
    certs: dict[str, Doc]
    crl_entries: dict[str, Doc]
    ca_pem: str
    ca_key_pem: str
    _busy: set[str]
    _cert: Callable[[Any, str], Doc]
    _save: Callable[[Doc], None]
    _users: Callable[[Any], Awaitable[dict[str, list[str]]]]
    _revoke_private: Callable[[Any, Doc, str], Awaitable[None]]
    _crl_cache: tuple[float, bytes] | None = None

    async def revoke_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        reason = params["RevocationReason"]
        if reason not in certs.REASONS:
            raise _invalid(f"RevocationReason {reason} is not valid.")
        arn = doc["Arn"]
        if doc.get("revoked"):
            raise _invalid(f"Certificate {arn} is already revoked.")
        if doc["Type"] == "IMPORTED":
            raise _invalid(
                f"Certificate {arn} is imported; imported certificates cannot be revoked."
            )
        if doc["Type"] == "AMAZON_ISSUED":
            if (doc.get("Options") or {}).get("Export") != "ENABLED":
                raise _invalid(
                    f"Certificate {arn} is not exportable; non-exportable public certificates"
                    " cannot be revoked. Delete it instead."
                )
            if not doc.get("exported_at"):
                raise _invalid(
                    f"Certificate {arn} was never exported; only exported"
                    " certificates can be revoked."
                )
            if reason not in PUBLIC_REASONS:
                raise _invalid(
                    f"RevocationReason {reason} is not supported for public certificates."
                )
        if arn in await self._users(ctx):
            raise ServiceError(
                "ResourceInUseException",
                f"Certificate {arn} is in use by another AWS service. Remove the association"
                " and try again.",
                400,
            )
        if arn in self._busy:
            raise ServiceError(
                "ConflictException", f"Certificate {arn} is being renewed; try again.", 400
            )
        self._busy.add(arn)
        try:
            if doc["Type"] == "PRIVATE":
                await self._revoke_private(ctx, doc, reason)
            else:
                self._revoke_public(doc, reason)
        finally:
            self._busy.discard(arn)
        doc["revoked"] = {"at": clock.time(), "reason": reason}
        if self.certs.get(arn) is doc:
            self._save(doc)
        return {"CertificateArn": arn}

    def _revoke_public(self, doc: Doc, reason: str) -> None:
        serial = certs.load_cert(doc["cert"]).serial_number
        entry = {"serial": f"{serial:x}", "when": clock.time(), "reason": reason}
        self.crl_entries[entry["serial"]] = entry
        self.store.put("crl", entry["serial"], entry)
        self._crl_cache = None

    def _crl(self) -> bytes:
        """This server's CA's complete CRL: what RevokeCertificate revoked there."""
        now = clock.time()
        if self._crl_cache is not None and now - self._crl_cache[0] < CRL_CACHE_SECONDS:
            return self._crl_cache[1]
        revoked = [
            (int(e["serial"], 16), e["when"], e["reason"]) for e in self.crl_entries.values()
        ]
        body = certs.crl(
            certs.load_cert(self.ca_pem), certs.load_key(self.ca_key_pem), revoked, int(now)
        )
        self._crl_cache = (now, body)
        return body
