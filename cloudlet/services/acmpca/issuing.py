"""Issuing and revoking: what a private CA signs, and the CRL it publishes.

Why apart from the CA lifecycle: IssueCertificate is asynchronous on AWS (its
answer is an ARN; GetCertificate says ``RequestInProgressException`` until the
certificate is signed), so issuance is a recorded request signed by a
background step, resumed after a restart. RevokeCertificate records the serial
and rewrites the CA's complete CRL (DER) at ``<CustomPath or crl>/<CA id>.crl``
of the configured bucket through S3's own PutObject; the CA's OCSP responder
(``ocsp.py``) answers from the same records. Every issued certificate keeps what
the audit report lists (``audit.py``): when it was signed, and for whom when ACM
asked (``requestedByServicePrincipal``).
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.acmpca import errors, x509ca
from cloudlet.services.acmpca.ocsp import ocsp_url

log = logging.getLogger(__name__)
Doc = dict[str, Any]
TOKEN_SECONDS = 60
"""IssueCertificate's idempotency tokens last a minute on AWS."""
SHORT_LIVED_DAYS = 7
ACM_PRINCIPAL = "acm.amazonaws.com"
"""Who asks when the request is an internal call: ACM's private certificates."""
HEX = re.compile(r"^[0-9a-fA-F]{1,40}$")


def _months(start: dt.datetime, months: int) -> dt.datetime:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def validity_end(validity: Doc, now: dt.datetime) -> dt.datetime:
    """When a certificate of ``Validity`` expires (InvalidArgs for nonsense)."""
    kind, value = validity["Type"], int(validity["Value"])
    try:
        if kind == "DAYS":
            return now + dt.timedelta(days=value)
        if kind == "MONTHS":
            return _months(now, value)
        if kind == "YEARS":
            return _months(now, value * 12)
        if kind == "ABSOLUTE":
            return dt.datetime.fromtimestamp(value, dt.UTC)
        return dt.datetime.strptime(str(value), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise errors.args(f"The validity {kind} {value} is not a valid time.") from None


class IssuingMixin:
    store: Any
    env: Any
    _ca: Callable[[Any, str], Doc]
    _spawn: Callable[[Any], None]

    def _ca_key(self, ca: Doc) -> Any:
        return serialization.load_pem_private_key(ca["key"].encode(), password=None)

    # -- issuing -------------------------------------------------------------------------

    def issue_certificate(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        template_arn = (
            params.get("TemplateArn") or x509ca.TEMPLATE_PREFIX + "EndEntityCertificate/V1"
        )
        template = template_arn.removeprefix(x509ca.TEMPLATE_PREFIX)
        if not template_arn.startswith(x509ca.TEMPLATE_PREFIX) or not (
            template in x509ca.CA_TEMPLATES or template in x509ca.END_ENTITY
        ):
            raise errors.args(f"The template {template_arn} is not supported.")
        own_root = template == "RootCACertificate/V1"
        if own_root and ca["type"] != "ROOT":
            raise errors.args("RootCACertificate/V1 can only be used by a root CA.")
        allowed = ("ACTIVE", "PENDING_CERTIFICATE") if own_root else ("ACTIVE",)
        if ca["status"] not in allowed:
            raise errors.bad_state(ca["arn"], ca["status"], "issue certificates")
        try:
            csr = x509ca.load_csr(params["Csr"])
            key = self._ca_key(ca)
            x509ca.digest_for(key, params["SigningAlgorithm"])
        except x509ca.PcaError as err:
            raise errors.error(err.code, err.message) from None
        if own_root and csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise errors.args("RootCACertificate/V1 signs only the CA's own CSR.")
        now = dt.datetime.now(dt.UTC)
        not_after = validity_end(params["Validity"], now)
        not_before = now - dt.timedelta(minutes=60)
        if start := params.get("ValidityNotBefore"):
            if start["Type"] != "ABSOLUTE":
                raise errors.args("ValidityNotBefore supports only the ABSOLUTE type.")
            not_before = validity_end(start, now)
        if not_after <= now or not_before >= not_after:
            raise errors.args("The certificate's validity period is not valid.")
        if ca.get("not_after") and not_after.timestamp() > ca["not_after"] and not own_root:
            raise errors.args("The certificate's validity exceeds that of the CA certificate.")
        if ca["usage"] == "SHORT_LIVED_CERTIFICATE" and not_after - now > dt.timedelta(
            days=SHORT_LIVED_DAYS
        ):
            raise errors.args("A short-lived certificate CA issues certificates of 7 days at most.")
        token = params.get("IdempotencyToken")
        if token:
            for cert in self.store.certs.values():
                if (
                    cert["ca"] == ca["arn"]
                    and cert.get("token") == token
                    and clock.time() - cert["requested"] < TOKEN_SECONDS
                ):
                    return {"CertificateArn": cert["arn"]}
        serial = x509.random_serial_number()
        cert_doc: Doc = {
            "arn": f"{ca['arn']}/certificate/{x509ca.serial_hex(serial)}",
            "ca": ca["arn"],
            "serial": serial_text(serial),
            "token": token,
            "requested": clock.time(),
            "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
            "template": template,
            "not_before": not_before.timestamp(),
            "not_after": not_after.timestamp(),
            "signing": params["SigningAlgorithm"],
            "passthrough": params.get("ApiPassthrough"),
            "pem": None,
        }
        if ctx.request is None:
            cert_doc["requested_by"] = ACM_PRINCIPAL
        self.store.save_cert(cert_doc)
        self._spawn(self._sign(cert_doc))
        return {"CertificateArn": cert_doc["arn"]}

    def _resume_issuing(self) -> None:
        for cert in list(self.store.certs.values()):
            if cert["pem"] is None:
                self._spawn(self._sign(cert))

    async def _sign(self, cert: Doc) -> None:
        await asyncio.sleep(0.05)
        ca = self.store.cas.get(cert["ca"])
        if ca is None:
            return
        csr = x509.load_pem_x509_csr(cert["csr"].encode())
        issuer = x509ca.load_cert(ca["cert"]).subject if ca.get("cert") else csr.subject
        try:
            signed = x509ca.issue(
                self._ca_key(ca),
                issuer,
                csr,
                cert["template"],
                dt.datetime.fromtimestamp(cert["not_before"], dt.UTC),
                dt.datetime.fromtimestamp(cert["not_after"], dt.UTC),
                cert["signing"],
                int(cert["serial"].replace(":", ""), 16),
                cert.get("passthrough"),
                crl_url(ca),
                ocsp_url(ca, self.env.endpoint),
            )
        except (x509ca.PcaError, ValueError) as err:
            log.warning("issuing %s failed: %s", cert["arn"], err)
            cert["failed"] = str(err)
            self.store.save_cert(cert)
            return
        cert["pem"] = x509ca.pem(signed)
        cert["issued"] = clock.time()
        self.store.save_cert(cert)

    def get_certificate(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        arn = params["CertificateArn"]
        if not arn.startswith(ca["arn"] + "/certificate/"):
            raise errors.bad_arn(arn)
        cert = self.store.certs.get(arn)
        if cert is None:
            raise errors.not_found(arn)
        if cert.get("failed"):
            raise errors.error("RequestFailedException", f"Issuing failed: {cert['failed']}")
        if cert["pem"] is None:
            raise errors.error(
                "RequestInProgressException", "The certificate is still being issued."
            )
        out = {"Certificate": cert["pem"]}
        if ca.get("cert") and cert["template"] != "RootCACertificate/V1":
            out["CertificateChain"] = (ca["cert"] + ca.get("chain", "")).strip() + "\n"
        return out

    # -- revoking ------------------------------------------------------------------------

    async def revoke_certificate(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] not in ("ACTIVE", "DISABLED"):
            raise errors.bad_state(ca["arn"], ca["status"], "revoke certificates")
        given = params["CertificateSerial"].replace(":", "")
        if not HEX.match(given):
            raise errors.error(
                "InvalidRequestException", "The certificate serial must be hexadecimal."
            )
        serial = int(given, 16)
        cert = next(
            (
                c
                for c in self.store.certs.values()
                if c["ca"] == ca["arn"] and int(c["serial"].replace(":", ""), 16) == serial
            ),
            None,
        )
        if cert is None or cert["pem"] is None:
            raise errors.not_found(f"{ca['arn']}/certificate/{x509ca.serial_hex(serial)}")
        if cert.get("revoked"):
            raise errors.error(
                "RequestAlreadyProcessedException", "The certificate is already revoked."
            )
        if cert["template"] == "RootCACertificate/V1":
            raise errors.error(
                "InvalidRequestException", "You cannot revoke a root CA self-signed certificate."
            )
        cert["revoked"] = {"when": clock.time(), "reason": params["RevocationReason"]}
        self.store.save_cert(cert)
        await self._publish_crl(ca)
        return {}

    async def _publish_crl(self, ca: Doc) -> None:
        """Write the CA's complete CRL to its bucket, if its CRL is enabled."""
        crl = ca["revocation"].get("CrlConfiguration") or {}
        if not crl.get("Enabled") or not ca.get("cert"):
            return
        revoked = [
            (int(c["serial"].replace(":", ""), 16), c["revoked"]["when"], c["revoked"]["reason"])
            for c in self.store.certs.values()
            if c["ca"] == ca["arn"] and c.get("revoked")
        ]
        ca["crl_number"] = ca.get("crl_number", 0) + 1
        self.store.save_ca(ca)
        body = x509ca.crl(
            self._ca_key(ca),
            x509ca.load_cert(ca["cert"]),
            revoked,
            ca["crl_number"],
            int(crl.get("ExpirationInDays") or 7),
            ca["config"]["SigningAlgorithm"],
        )
        put = {
            "Bucket": crl["S3BucketName"],
            "Key": crl_key(ca),
            "Body": body,
            "ContentLength": len(body),
            "ContentType": "application/pkix-crl",
        }
        if crl.get("S3ObjectAcl") == "PUBLIC_READ":
            put["ACL"] = "public-read"
        try:
            await self.env.call("s3", "PutObject", put, account=ca["account"], region=ca["region"])
        except (ServiceError, NotImplementedOperation) as err:
            log.warning("writing the CRL of %s failed: %s", ca["arn"], getattr(err, "message", err))


def serial_text(serial: int) -> str:
    """A serial as DescribeCertificateAuthority shows one: colon-separated hex bytes."""
    raw = serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")
    return ":".join(f"{b:02x}" for b in raw)


def crl_key(ca: Doc) -> str:
    crl = ca["revocation"]["CrlConfiguration"]
    return f"{(crl.get('CustomPath') or 'crl').strip('/')}/{ca['id']}.crl"


def crl_url(ca: Doc) -> str | None:
    """The CRL distribution point certificates of ``ca`` name, if any."""
    crl = ca["revocation"].get("CrlConfiguration") or {}
    if not crl.get("Enabled"):
        return None
    if (crl.get("CrlDistributionPointExtensionConfiguration") or {}).get("OmitExtension"):
        return None
    host = crl.get("CustomCname") or f"{crl['S3BucketName']}.s3.{ca['region']}.amazonaws.com"
    return f"http://{host}/{crl_key(ca)}"
