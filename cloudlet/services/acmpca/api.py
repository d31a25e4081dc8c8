"""AWS Private CA: certificate authorities whose keys really sign.

Why: private certificates (mutual TLS, internal services, ACM's private
certificates) need a CA that holds a key, signs CSRs by AWS's templates, and
publishes what it revoked. A CA is created with a real key pair (made in the
background, status CREATING then PENDING_CERTIFICATE), offers its CSR, becomes
ACTIVE when its own certificate is imported (checked against its key and chain:
``x509ca.py``), issues certificates (``issuing.py``), writes its CRL to S3 through
S3's own PutObject, answers OCSP at the URL its certificates carry (``ocsp.py``)
and writes audit reports to S3 (``audit.py``). Tags, permissions and policies are
in ``access.py``; state is durable (``store.py``).

Partitioned CRLs are not built: a CrlConfiguration asking for one is refused
(``InvalidArgsException``) rather than accepted and written whole.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization

from cloudlet.core.certificates import new_key
from cloudlet.core.clock import clock, utc_datetime
from cloudlet.services.acmpca import errors, x509ca
from cloudlet.services.acmpca.access import AccessMixin
from cloudlet.services.acmpca.audit import AuditMixin
from cloudlet.services.acmpca.issuing import IssuingMixin
from cloudlet.services.acmpca.ocsp import OcspMixin, checked_ocsp
from cloudlet.services.acmpca.store import PcaStore
from cloudlet.services.base import Service, ServiceEnv

log = logging.getLogger(__name__)
Doc = dict[str, Any]
CA_ARN = re.compile(r"^arn:aws[\w-]*:acm-pca:[\w-]+:\d{12}:certificate-authority/[\w-]+$")
MAX_CAS = 200
"""AWS's default quota of private CAs per account and region."""
TOKEN_SECONDS = 300
CA_KEYS = ("RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")


class AcmPcaService(IssuingMixin, AccessMixin, AuditMixin, OcspMixin, Service):
    name = "acm-pca"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = PcaStore(env.database("acmpca"))
        self.tasks: set[asyncio.Task] = set()
        self._refresh_ocsp_hosts()

    async def start(self) -> None:
        for ca in list(self.store.cas.values()):
            if ca["status"] == "CREATING":
                self._spawn(self._make_key(ca))
        self._resume_issuing()
        self._resume_reports()
        self.env.every(60, self._purge, "acm-pca purge deleted CAs")

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.store.close()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- finding a CA ------------------------------------------------------------------

    def _ca(self, ctx: Any, arn: str) -> Doc:
        if not CA_ARN.match(arn or ""):
            raise errors.bad_arn(arn)
        ca = self.store.cas.get(arn)
        if ca is None or ca["account"] != ctx.account_id or ca["region"] != ctx.region:
            raise errors.not_found(arn)
        if ca["status"] == "DELETED" and ca["restorable_until"] <= clock.time():
            self.store.drop_ca(ca)
            raise errors.not_found(arn)
        return ca

    def _purge(self) -> None:
        now = clock.time()
        for ca in list(self.store.cas.values()):
            if ca["status"] == "DELETED" and ca["restorable_until"] <= now:
                self.store.drop_ca(ca)

    def _set_status(self, ca: Doc, status: str) -> None:
        ca["status"] = status
        ca["changed"] = clock.time()
        self.store.save_ca(ca)

    # -- creating ----------------------------------------------------------------------

    async def create_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        config = params["CertificateAuthorityConfiguration"]
        ca_type = params["CertificateAuthorityType"]
        if config["KeyAlgorithm"] not in CA_KEYS:
            raise errors.args(f"Key algorithm {config['KeyAlgorithm']} is not supported.")
        kind = x509ca.SIGNING.get(config["SigningAlgorithm"], ("",))[0]
        if kind != ("rsa" if config["KeyAlgorithm"].startswith("RSA") else "ec"):
            raise errors.args(
                f"Signing algorithm {config['SigningAlgorithm']} does not suit"
                f" key algorithm {config['KeyAlgorithm']}."
            )
        if not any(config["Subject"].values()):
            raise errors.args("The CA's Subject must name at least one attribute.")
        now = clock.time()
        mine = [
            c
            for c in self.store.cas.values()
            if c["account"] == ctx.account_id and c["region"] == ctx.region
        ]
        token = params.get("IdempotencyToken")
        for ca in mine:
            if token and ca.get("token") == token and now - ca["created"] < TOKEN_SECONDS:
                return {"CertificateAuthorityArn": ca["arn"]}
        if len(mine) >= MAX_CAS:
            raise errors.error(
                "LimitExceededException", f"An account may have at most {MAX_CAS} private CAs."
            )
        revocation = await self._checked_revocation(ctx, params.get("RevocationConfiguration"))
        tags = self._checked_tags(params.get("Tags"))
        ca_id = str(uuid.uuid4())
        ca: Doc = {
            "arn": f"arn:aws:acm-pca:{ctx.region}:{ctx.account_id}:certificate-authority/{ca_id}",
            "id": ca_id,
            "account": ctx.account_id,
            "region": ctx.region,
            "type": ca_type,
            "status": "CREATING",
            "created": now,
            "changed": now,
            "config": config,
            "revocation": revocation,
            "usage": params.get("UsageMode") or "GENERAL_PURPOSE",
            "storage": params.get("KeyStorageSecurityStandard") or "FIPS_140_2_LEVEL_3_OR_HIGHER",
            "token": token,
            "tags": tags,
            "permissions": [],
            "policy": None,
            "crl_number": 0,
        }
        self.store.save_ca(ca)
        self._refresh_ocsp_hosts()
        self._spawn(self._make_key(ca))
        return {"CertificateAuthorityArn": ca["arn"]}

    async def _make_key(self, ca: Doc) -> None:
        """The CA's key pair and CSR, made off the event loop (RSA 4096 takes a while)."""
        config = ca["config"]
        key = await asyncio.to_thread(new_key, config["KeyAlgorithm"])
        ca["key"] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        ca["csr"] = x509ca.ca_csr(key, config["Subject"], config["SigningAlgorithm"])
        if self.store.cas.get(ca["arn"]) is ca and ca["status"] == "CREATING":
            self._set_status(ca, "PENDING_CERTIFICATE")

    def get_certificate_authority_csr(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] == "CREATING":
            raise errors.error("RequestInProgressException", "The CSR is still being created.")
        if ca["status"] in ("DELETED", "FAILED"):
            raise errors.bad_state(ca["arn"], ca["status"], "give its CSR")
        return {"Csr": ca["csr"]}

    async def import_certificate_authority_certificate(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] == "CREATING":
            raise errors.error("RequestInProgressException", "The CA is still being created.")
        if ca["status"] in ("DELETED", "FAILED"):
            raise errors.bad_state(ca["arn"], ca["status"], "import a certificate")
        try:
            cert = x509ca.load_cert(params["Certificate"])
            chain = (
                x509ca.load_chain(params["CertificateChain"])
                if params.get("CertificateChain")
                else []
            )
            x509ca.check_ca_certificate(self._ca_key(ca), ca["type"], cert, chain)
        except x509ca.PcaError as err:
            raise errors.error(err.code, err.message) from None
        ca["cert"] = x509ca.pem(cert)
        ca["chain"] = "".join(x509ca.pem(c) for c in chain)
        ca["serial"] = ":".join(
            f"{b:02x}" for b in cert.serial_number.to_bytes(20, "big").lstrip(b"\0")
        )
        ca["not_before"] = cert.not_valid_before_utc.timestamp()
        ca["not_after"] = cert.not_valid_after_utc.timestamp()
        if ca["status"] in ("PENDING_CERTIFICATE", "EXPIRED"):
            ca["status"] = "ACTIVE"
        ca["changed"] = clock.time()
        self.store.save_ca(ca)
        await self._publish_crl(ca)
        return {}

    def get_certificate_authority_certificate(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if not ca.get("cert") or ca["status"] == "DELETED":
            raise errors.bad_state(ca["arn"], ca["status"], "give its certificate")
        out = {"Certificate": ca["cert"]}
        if ca.get("chain"):
            out["CertificateChain"] = ca["chain"]
        return out

    # -- reading -----------------------------------------------------------------------

    def _described(self, ca: Doc) -> Doc:
        out: Doc = {
            "Arn": ca["arn"],
            "OwnerAccount": ca["account"],
            "CreatedAt": utc_datetime(ca["created"]),
            "LastStateChangeAt": utc_datetime(ca["changed"]),
            "Type": ca["type"],
            "Status": ca["status"],
            "CertificateAuthorityConfiguration": ca["config"],
            "RevocationConfiguration": ca["revocation"],
            "KeyStorageSecurityStandard": ca["storage"],
            "UsageMode": ca["usage"],
        }
        if ca.get("cert"):
            out["Serial"] = ca["serial"]
            out["NotBefore"] = utc_datetime(ca["not_before"])
            out["NotAfter"] = utc_datetime(ca["not_after"])
        if ca["status"] == "DELETED":
            out["RestorableUntil"] = utc_datetime(ca["restorable_until"])
        return out

    def describe_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        return {
            "CertificateAuthority": self._described(
                self._ca(ctx, params["CertificateAuthorityArn"])
            )
        }

    def list_certificate_authorities(self, ctx: Any, params: Doc) -> Doc:
        self._purge()
        if params.get("ResourceOwner") == "OTHER_ACCOUNTS":
            mine: list[Doc] = []  # sharing through AWS RAM is not built: none are shared
        else:
            mine = sorted(
                (
                    c
                    for c in self.store.cas.values()
                    if c["account"] == ctx.account_id and c["region"] == ctx.region
                ),
                key=lambda c: (c["created"], c["arn"]),
            )
        start = 0
        if token := params.get("NextToken"):
            if not token.isdigit() or int(token) > len(mine):
                raise errors.error("InvalidNextTokenException", "The token is not valid.")
            start = int(token)
        size = int(params.get("MaxResults") or 100)
        if not 1 <= size <= 1000:
            raise errors.error("ValidationException", "MaxResults must be from 1 to 1000.")
        out: Doc = {
            "CertificateAuthorities": [self._described(c) for c in mine[start : start + size]]
        }
        if start + size < len(mine):
            out["NextToken"] = str(start + size)
        return out

    # -- changing ----------------------------------------------------------------------

    async def update_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] in ("DELETED", "CREATING", "FAILED"):
            raise errors.bad_state(ca["arn"], ca["status"], "be updated")
        status = params.get("Status")
        if status:
            if status not in ("ACTIVE", "DISABLED"):
                raise errors.args("Status can only be ACTIVE or DISABLED.")
            if ca["status"] not in ("ACTIVE", "DISABLED"):
                raise errors.bad_state(ca["arn"], ca["status"], f"become {status}")
        if "RevocationConfiguration" in params:
            ca["revocation"] = await self._checked_revocation(
                ctx, params["RevocationConfiguration"]
            )
        if status:
            ca["status"] = status
        ca["changed"] = clock.time()
        self.store.save_ca(ca)
        self._refresh_ocsp_hosts()
        if "RevocationConfiguration" in params and ca.get("cert"):
            await self._publish_crl(ca)
        return {}

    def delete_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] == "ACTIVE":
            raise errors.bad_state(ca["arn"], ca["status"], "be deleted before it is disabled")
        if ca["status"] == "DELETED":
            raise errors.bad_state(ca["arn"], ca["status"], "be deleted again")
        days = params.get("PermanentDeletionTimeInDays") or 30
        if not 7 <= days <= 30:
            raise errors.error(
                "ValidationException", "PermanentDeletionTimeInDays must be from 7 to 30."
            )
        ca["before_delete"] = ca["status"]
        ca["restorable_until"] = clock.time() + days * 86400
        self._set_status(ca, "DELETED")
        return {}

    def restore_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] != "DELETED":
            raise errors.bad_state(ca["arn"], ca["status"], "be restored: it is not deleted")
        restored = ca.pop("before_delete", "DISABLED")
        ca.pop("restorable_until", None)
        self._set_status(ca, "DISABLED" if restored == "ACTIVE" else restored)
        return {}

    # -- revocation configuration --------------------------------------------------------

    async def _checked_revocation(self, ctx: Any, given: Doc | None) -> Doc:
        """The RevocationConfiguration as stored, refused as AWS refuses it."""
        given = dict(given or {})
        ocsp = checked_ocsp(given.get("OcspConfiguration"))
        crl = given.get("CrlConfiguration")
        if not crl or not crl.get("Enabled"):
            return {"CrlConfiguration": {"Enabled": False}, "OcspConfiguration": ocsp}
        bucket = crl.get("S3BucketName")
        if not bucket:
            raise errors.args("S3BucketName is required when the CRL is enabled.")
        if crl.get("CrlType") == "PARTITIONED":
            raise errors.args("Partitioned CRLs are not supported by cloudlet; use COMPLETE.")
        await self._check_bucket(ctx, bucket)
        stored = {"ExpirationInDays": 7, "CrlType": "COMPLETE", **crl}
        return {"CrlConfiguration": stored, "OcspConfiguration": ocsp}
