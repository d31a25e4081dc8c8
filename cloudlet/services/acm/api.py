"""AWS Certificate Manager: the certificates HTTPS listeners serve.

Why: a load balancer's HTTPS listener names its certificate by ACM ARN, so
ACM holds real certificates and keys. ImportCertificate checks what it is
given the way ACM does (one PEM certificate, an unencrypted matching key, a
chain that certifies it, valid now); RequestCertificate issues at once from
this server's own CA (``certs.py``: nothing here can check DNS, so the
validation records are reported as already passed), valid for 395 days
(``CLOUDLET_ACM_VALIDITY_DAYS`` changes it, so short-lived certificates can be
tried). The CA's PEM is served at ``/_cloudlet/acm/ca.pem`` for clients that
should trust issued certificates, its CRL at ``/_cloudlet/acm/crl``.

RequestCertificate with a ``CertificateAuthorityArn`` issues a private
certificate from that AWS Private CA (``private.py``); with ``Options.Export``
ENABLED a public certificate may be exported, as ACM's exportable public
certificates. Load balancers read a certificate and key through
``ExportCertificate`` on the internal client: for clients it exports only
what ACM lets them export, for an internal call any certificate. Which
resources use a certificate (``InUseBy``, ``InUse``, DeleteCertificate's and
RevokeCertificate's ``ResourceInUseException``) is asked of the load balancer
services through the same internal client, when it is wanted: their listeners
are the only record of it, so nothing here can go stale.

Reading is ``views.py``, SearchCertificates ``search.py``, RevokeCertificate
``revoke.py``, renewal (RenewCertificate, managed renewal, expiry events, the
account configuration) ``renewal.py``. ResendValidationEmail checks its domains
and then answers as AWS does for a certificate not awaiting validation: none
ever is here.
"""

from __future__ import annotations

import uuid
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.services.acm import certs
from cloudlet.services.acm.private import PrivateMixin
from cloudlet.services.acm.renewal import RenewalMixin
from cloudlet.services.acm.revoke import CRL_PATH, RevokeMixin
from cloudlet.services.acm.search import SearchMixin
from cloudlet.services.acm.views import ViewsMixin
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.state.documents import DocumentStore

Doc = dict[str, Any]
CA_PATH = "/_cloudlet/acm/ca.pem"
TOKEN_SECONDS = 3600
"""RequestCertificate with the same IdempotencyToken within an hour: the same ARN."""
OPTION_VALUES = {
    "CertificateTransparencyLoggingPreference": ("ENABLED", "DISABLED"),
    "Export": ("ENABLED", "DISABLED"),
}


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status)


def validity_days() -> float:
    """Days ACM's certificates are valid: ``CLOUDLET_ACM_VALIDITY_DAYS`` (default 395)."""
    return seconds_setting("CLOUDLET_ACM_VALIDITY_DAYS", certs.ISSUED_DAYS, low=0.0001, high=3650)


class AcmService(PrivateMixin, RenewalMixin, RevokeMixin, SearchMixin, ViewsMixin, Service):
    name = "acm"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = DocumentStore(env.database("acm"), "docs")
        self.certs: dict[str, Doc] = {d["Arn"]: d for d in self.store.load("cert")}
        self.configs: dict[str, Doc] = {d["place"]: d for d in self.store.load("config")}
        self.crl_entries: dict[str, Doc] = {d["serial"]: d for d in self.store.load("crl")}
        self._parsed: dict[str, tuple[str, certs.Parsed]] = {}
        self._x509_cache: dict[str, tuple[str, Doc]] = {}
        self._busy: set[str] = set()
        self.validity_days = validity_days()
        ca = self.store.load("ca")
        if ca:
            self.ca_pem, self.ca_key_pem = ca[0]["cert"], ca[0]["key"]
        else:
            cert, key = certs.new_ca()
            self.ca_pem, self.ca_key_pem = certs.cert_pem(cert), certs.key_pem(key)
            self.store.put("ca", "ca", {"cert": self.ca_pem, "key": self.ca_key_pem})

    async def start(self) -> None:
        self._start_renewals()

    async def stop(self) -> None:
        self.store.close()

    def claims(self, req: Any) -> bool:
        return req.path in (CA_PATH, CRL_PATH)

    async def serve(self, req: Any, body: bytes) -> HttpResponse:
        if req.path == CRL_PATH:
            return HttpResponse(200, [("Content-Type", "application/pkix-crl")], self._crl())
        return HttpResponse(200, [("Content-Type", "application/x-pem-file")], self.ca_pem.encode())

    # -- helpers ----------------------------------------------------------------

    def _cert(self, ctx: Any, arn: str) -> Doc:
        if not arn.startswith("arn:") or arn.count(":") < 5:
            raise _error("InvalidArnException", f"String '{arn}' is not a valid ARN.")
        doc = self.certs.get(arn)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise _error("ResourceNotFoundException", f"Could not find certificate {arn}.")
        return doc

    def _save(self, doc: Doc) -> None:
        self.certs[doc["Arn"]] = doc
        self.store.put("cert", doc["Arn"], doc)

    def _info(self, doc: Doc) -> certs.Parsed:
        """What the certificate says, read once per certificate (renewal replaces it)."""
        cached = self._parsed.get(doc["Arn"])
        if cached is None or cached[0] != doc["cert"]:
            cached = self._parsed[doc["Arn"]] = (
                doc["cert"],
                certs.describe(certs.load_cert(doc["cert"])),
            )
        return cached[1]

    async def _users(self, ctx: Any) -> dict[str, list[str]]:
        """Certificate ARN -> ARNs of the load balancers whose listeners serve it."""
        users: dict[str, set[str]] = {}

        async def call(service: str, operation: str, params: Doc) -> Doc:
            try:
                return await self.env.call(
                    service, operation, params, account=ctx.account_id, region=ctx.region
                )
            except NotImplementedOperation:  # that service is not running
                return {}

        for lb in (await call("elbv2", "DescribeLoadBalancers", {})).get("LoadBalancers", []):
            lb_arn = lb["LoadBalancerArn"]
            found = await call("elbv2", "DescribeListeners", {"LoadBalancerArn": lb_arn})
            for listener in found.get("Listeners", []):
                if not listener.get("Certificates"):
                    continue
                arn = listener["ListenerArn"]
                every = await call("elbv2", "DescribeListenerCertificates", {"ListenerArn": arn})
                for cert in every.get("Certificates", []):
                    users.setdefault(cert["CertificateArn"], set()).add(lb_arn)
        classic = await call("elb", "DescribeLoadBalancers", {})
        for lb in classic.get("LoadBalancerDescriptions", []):
            lb_arn = (
                f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account_id}"
                f":loadbalancer/{lb['LoadBalancerName']}"
            )
            for described in lb.get("ListenerDescriptions", []):
                if cert_arn := described["Listener"].get("SSLCertificateId"):
                    users.setdefault(cert_arn, set()).add(lb_arn)
        return {cert: sorted(lbs) for cert, lbs in users.items()}

    def _new_arn(self, ctx: Any) -> str:
        return f"arn:aws:acm:{ctx.region}:{ctx.account_id}:certificate/{uuid.uuid4()}"

    @staticmethod
    def _tags(tags: list[Doc] | None) -> dict[str, str]:
        out: dict[str, str] = {}
        for tag in tags or []:
            if tag["Key"].lower().startswith("aws:"):
                raise _error(
                    "InvalidTagException", f"Tag key '{tag['Key']}' uses the reserved prefix aws:"
                )
            out[tag["Key"]] = tag.get("Value", "")
        if len(out) > 50:
            raise _error("TooManyTagsException", "A certificate can have at most 50 tags.")
        return out

    @staticmethod
    def _options(options: Doc | None) -> Doc:
        for key, value in (options or {}).items():
            if value not in OPTION_VALUES.get(key, (value,)):
                raise _error("ValidationException", f"Value '{value}' for {key} is not valid.")
        return dict(options or {})

    def _issue_public(self, domain: str, sans: list[str], algorithm: str) -> Doc:
        """Certificate, chain and key PEMs for ``domain`` from this server's own CA."""
        ca_cert, ca_key = certs.load_cert(self.ca_pem), certs.load_key(self.ca_key_pem)
        crl_url = f"{self.env.endpoint or 'http://localhost:4566'}{CRL_PATH}"
        cert, key = certs.issue(
            ca_cert, ca_key, domain, sans, algorithm, self.validity_days, crl_url
        )
        return {"cert": certs.cert_pem(cert), "chain": self.ca_pem, "key": certs.key_pem(key)}

    # -- import and request -----------------------------------------------------

    def import_certificate(self, ctx: Any, params: Doc) -> Doc:
        chain = params.get("CertificateChain")
        try:
            cert, key, links = certs.load_import(params["Certificate"], params["PrivateKey"], chain)
        except certs.CertificateError as exc:
            raise _error("ValidationException", str(exc)) from None
        now = clock.time()
        if arn := params.get("CertificateArn"):
            doc = self._cert(ctx, arn)
            if doc["Type"] != "IMPORTED":
                raise _error(
                    "ValidationException",
                    f"Certificate {arn} was not imported; it cannot be re-imported.",
                )
            if params.get("Tags"):
                raise _error("ValidationException", "Tags cannot be specified when re-importing.")
        else:
            doc = {
                "Arn": self._new_arn(ctx),
                "account": ctx.account_id,
                "region": ctx.region,
                "Type": "IMPORTED",
                "created": now,
                "Tags": self._tags(params.get("Tags")),
            }
        doc.update(
            cert=certs.cert_pem(cert),
            chain="".join(certs.cert_pem(c) for c in links),
            key=certs.key_pem(key),
            imported=now,
        )
        doc.pop("expiry_event_at", None)
        self._save(doc)
        return {"CertificateArn": doc["Arn"]}

    async def request_certificate(self, ctx: Any, params: Doc) -> Doc:
        domain = params["DomainName"]
        sans = list(params.get("SubjectAlternativeNames") or [])
        if len(sans) > 100:
            raise _error(
                "LimitExceededException", "A certificate can have at most 100 domain names."
            )
        for name in (domain, *sans):
            if not name or len(name) > 253 or " " in name:
                raise _error("InvalidDomainValidationOptionsException", f"Invalid domain: {name}")
        algorithm = params.get("KeyAlgorithm", "RSA_2048")
        if algorithm not in certs.KEY_ALGORITHMS:
            raise _error("ValidationException", f"KeyAlgorithm {algorithm} is not supported.")
        options = {
            "CertificateTransparencyLoggingPreference": "ENABLED",
            **self._options(params.get("Options")),
        }
        now = clock.time()
        token = params.get("IdempotencyToken")
        if token:
            for doc in self.certs.values():
                if (
                    doc.get("token") == token
                    and doc["account"] == ctx.account_id
                    and doc["region"] == ctx.region
                    and now - doc["created"] < TOKEN_SECONDS
                ):
                    return {"CertificateArn": doc["Arn"]}
        if ca_arn := params.get("CertificateAuthorityArn"):
            issued = await self._issue_private(ctx, ca_arn, domain, sans, algorithm)
        else:
            issued = self._issue_public(domain, sans, algorithm)
        doc = {
            "Arn": self._new_arn(ctx),
            "account": ctx.account_id,
            "region": ctx.region,
            "Type": "PRIVATE" if ca_arn else "AMAZON_ISSUED",
            "ca": ca_arn,
            "algorithm": algorithm,
            "created": now,
            "issued": now,
            "token": token,
            "method": params.get("ValidationMethod", "DNS"),
            "Tags": self._tags(params.get("Tags")),
            "Options": options,
            **issued,
        }
        self._save(doc)
        return {"CertificateArn": doc["Arn"]}

    # -- changing -----------------------------------------------------------------

    async def delete_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        if doc["Arn"] in await self._users(ctx):
            raise _error(
                "ResourceInUseException",
                f"Certificate {doc['Arn']} in account {ctx.account_id} is in use.",
            )
        del self.certs[doc["Arn"]]
        self._parsed.pop(doc["Arn"], None)
        self._x509_cache.pop(doc["Arn"], None)
        self.store.delete("cert", doc["Arn"])
        return {}

    def export_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        if ctx.request is not None:  # a client's export; load balancers read any
            exportable = doc["Type"] == "PRIVATE" or (
                doc["Type"] == "AMAZON_ISSUED"
                and (doc.get("Options") or {}).get("Export") == "ENABLED"
            )
            if not exportable:
                raise _error(
                    "ValidationException",
                    f"Certificate ARN: {doc['Arn']} is not a private certificate",
                )
            if doc.get("revoked"):
                raise _error("ValidationException", f"Certificate {doc['Arn']} has been revoked.")
            doc["exported_at"] = clock.time()
            self._save(doc)
        passphrase = params["Passphrase"]
        key = certs.load_key(doc["key"])
        return {
            "Certificate": doc["cert"],
            "CertificateChain": doc.get("chain") or "",
            "PrivateKey": certs.key_pem(key, passphrase),
        }

    def update_certificate_options(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        doc["Options"] = {**(doc.get("Options") or {}), **self._options(params["Options"])}
        self._save(doc)
        return {}

    def resend_validation_email(self, ctx: Any, params: Doc) -> Doc:
        """Validation here passes at once, so no certificate ever awaits its email: AWS's
        answer for a certificate not in PENDING_VALIDATION, after its domain checks."""
        doc = self._cert(ctx, params["CertificateArn"])
        domain, base = params["Domain"].lower(), params["ValidationDomain"].lower()
        names = [n.lower() for n in self._info(doc).sans]
        if doc["Type"] != "AMAZON_ISSUED" or domain not in names:
            raise _error(
                "InvalidDomainValidationOptionsException",
                f"Domain {params['Domain']} is not a domain of certificate {doc['Arn']}.",
            )
        bare = domain.removeprefix("*.")
        if base != bare and not bare.endswith("." + base):
            raise _error(
                "InvalidDomainValidationOptionsException",
                f"ValidationDomain {params['ValidationDomain']} must be {bare} or a superdomain.",
            )
        raise _error(
            "InvalidStateException",
            f"Certificate {doc['Arn']} is in {self._status(doc)} status, not"
            " PENDING_VALIDATION; validation email is sent only for certificates awaiting it.",
        )

    def add_tags_to_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        doc["Tags"] = {**doc["Tags"], **self._tags(params["Tags"])}
        if len(doc["Tags"]) > 50:
            raise _error("TooManyTagsException", "A certificate can have at most 50 tags.")
        self._save(doc)
        return {}

    def remove_tags_from_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        for tag in params["Tags"]:
            if doc["Tags"].get(tag["Key"]) is not None and (
                "Value" not in tag or doc["Tags"][tag["Key"]] == tag["Value"]
            ):
                del doc["Tags"][tag["Key"]]
        self._save(doc)
        return {}

    def list_tags_for_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in doc["Tags"].items()]}
