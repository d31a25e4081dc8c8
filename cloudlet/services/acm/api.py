"""AWS Certificate Manager: the certificates HTTPS listeners serve.

Why: a load balancer's HTTPS listener names its certificate by ACM ARN, so
ACM holds real certificates and keys. ImportCertificate checks what it is
given the way ACM does (one PEM certificate, an unencrypted matching key, a
chain that certifies it, valid now); RequestCertificate issues at once from
this server's own CA (``certs.py``: nothing here can check DNS, so the
validation records are reported as already passed). The CA's PEM is served at
``/_cloudlet/acm/ca.pem`` for clients that should trust issued certificates.

RequestCertificate with a ``CertificateAuthorityArn`` issues a private
certificate from that AWS Private CA, renewable with RenewCertificate
(``private.py``). Load balancers read a certificate and key through
``ExportCertificate`` on the internal client: for clients it exports only
private certificates, as ACM does, for an internal call any certificate.
Which resources use a certificate (``InUseBy``, ``InUse``, and
DeleteCertificate's ``ResourceInUseException``) is asked of the load
balancer services through the same internal client, when it is wanted: their
listeners are the only record of it, so nothing here can go stale.

Not built (501): managed renewal of certificates ACM issued itself,
RevokeCertificate (of exported public certificates), the ACME operations,
SearchCertificates.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.services.acm import certs
from cloudlet.services.acm.private import PrivateMixin
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.state.documents import DocumentStore

Doc = dict[str, Any]
CA_PATH = "/_cloudlet/acm/ca.pem"
TOKEN_SECONDS = 3600
"""RequestCertificate with the same IdempotencyToken within an hour: the same ARN."""
DEFAULT_KEY_TYPES = ("RSA_1024", "RSA_2048")
"""ListCertificates without an ``Includes.keyTypes`` filter lists only these, as ACM does."""


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class AcmService(PrivateMixin, Service):
    name = "acm"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = DocumentStore(env.database("acm"), "docs")
        self.certs: dict[str, Doc] = {d["Arn"]: d for d in self.store.load("cert")}
        self._parsed: dict[str, certs.Parsed] = {}
        ca = self.store.load("ca")
        if ca:
            self.ca_pem, self.ca_key_pem = ca[0]["cert"], ca[0]["key"]
        else:
            cert, key = certs.new_ca()
            self.ca_pem, self.ca_key_pem = certs.cert_pem(cert), certs.key_pem(key)
            self.store.put("ca", "ca", {"cert": self.ca_pem, "key": self.ca_key_pem})

    async def stop(self) -> None:
        self.store.close()

    def claims(self, req: Any) -> bool:
        return req.path == CA_PATH

    async def serve(self, req: Any, body: bytes) -> HttpResponse:
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
        self._parsed.pop(doc["Arn"], None)
        self.store.put("cert", doc["Arn"], doc)

    def _info(self, doc: Doc) -> certs.Parsed:
        """What the certificate says, read once (List would parse every one per call)."""
        parsed = self._parsed.get(doc["Arn"])
        if parsed is None:
            parsed = self._parsed[doc["Arn"]] = certs.describe(certs.load_cert(doc["cert"]))
        return parsed

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

    # -- import and request -----------------------------------------------------

    def import_certificate(self, ctx: Any, params: Doc) -> Doc:
        chain = params.get("CertificateChain")
        try:
            cert, key, links = certs.load_import(params["Certificate"], params["PrivateKey"], chain)
        except certs.CertificateError as exc:
            raise _error("ValidationException", str(exc)) from None
        now = time.time()
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
        now = time.time()
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
            ca_cert, ca_key = certs.load_cert(self.ca_pem), certs.load_key(self.ca_key_pem)
            cert, key = certs.issue(ca_cert, ca_key, domain, sans, algorithm)
            issued = {"cert": certs.cert_pem(cert), "chain": self.ca_pem, "key": certs.key_pem(key)}
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
            "Options": params.get("Options")
            or {"CertificateTransparencyLoggingPreference": "ENABLED"},
            **issued,
        }
        self._save(doc)
        return {"CertificateArn": doc["Arn"]}

    # -- reading ------------------------------------------------------------------

    def _validation(self, doc: Doc, parsed: certs.Parsed) -> list[Doc]:
        if doc["Type"] != "AMAZON_ISSUED":
            return []
        out = []
        for name in parsed.sans:
            bare = name.removeprefix("*.")
            entry: Doc = {
                "DomainName": name,
                "ValidationDomain": bare,
                "ValidationStatus": "SUCCESS",
                "ValidationMethod": doc.get("method", "DNS"),
            }
            if entry["ValidationMethod"] == "DNS":
                token = uuid.uuid5(uuid.NAMESPACE_DNS, doc["Arn"] + bare).hex
                entry["ResourceRecord"] = {
                    "Name": f"_{token[:32]}.{bare}.",
                    "Type": "CNAME",
                    "Value": f"_{token[::-1][:32]}.acm-validations.aws.",
                }
            else:
                entry["ValidationEmails"] = [f"admin@{bare}"]
            out.append(entry)
        return out

    async def describe_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        users = (await self._users(ctx)).get(doc["Arn"], [])
        parsed = self._info(doc)
        out: Doc = {
            "CertificateArn": doc["Arn"],
            "DomainName": parsed.domain,
            "SubjectAlternativeNames": parsed.sans,
            "Serial": parsed.serial,
            "Subject": parsed.subject,
            "Issuer": "cloudlet" if doc["Type"] == "AMAZON_ISSUED" else parsed.issuer,
            "RenewalEligibility": "ELIGIBLE" if doc["Type"] == "PRIVATE" else "INELIGIBLE",
            "CreatedAt": _when(doc["created"]),
            "Status": "ISSUED",
            "NotBefore": parsed.not_before,
            "NotAfter": parsed.not_after,
            "KeyAlgorithm": parsed.key_algorithm,
            "SignatureAlgorithm": parsed.signature_algorithm,
            "InUseBy": users,
            "Type": doc["Type"],
            "KeyUsages": [{"Name": u} for u in parsed.key_usages],
            "ExtendedKeyUsages": [{"Name": u} for u in parsed.extended_key_usages],
            "Options": doc.get("Options")
            or {"CertificateTransparencyLoggingPreference": "ENABLED"},
        }
        if doc["Type"] == "IMPORTED":
            out["ImportedAt"] = _when(doc["imported"])
        else:
            out["IssuedAt"] = _when(doc["issued"])
            out["DomainValidationOptions"] = self._validation(doc, parsed)
        if doc["Type"] == "PRIVATE":
            out["CertificateAuthorityArn"] = doc["ca"]
        if renewal := doc.get("renewal"):
            out["RenewalSummary"] = {**renewal, "UpdatedAt": _when(renewal["UpdatedAt"])}
        return {"Certificate": out}

    def get_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        out = {"Certificate": doc["cert"]}
        if doc.get("chain"):
            out["CertificateChain"] = doc["chain"]
        return out

    async def list_certificates(self, ctx: Any, params: Doc) -> Doc:
        users = await self._users(ctx)
        statuses = params.get("CertificateStatuses") or []
        includes = params.get("Includes") or {}
        key_types = includes.get("keyTypes") or DEFAULT_KEY_TYPES
        mine = [
            d
            for d in self.certs.values()
            if d["account"] == ctx.account_id and d["region"] == ctx.region
        ]
        summaries = []
        for doc in mine:
            if statuses and "ISSUED" not in statuses:
                continue
            parsed = self._info(doc)
            if parsed.key_type not in key_types:
                continue
            if eku := includes.get("extendedKeyUsage"):
                if not set(eku) & set(parsed.extended_key_usages):
                    continue
            summary: Doc = {
                "CertificateArn": doc["Arn"],
                "DomainName": parsed.domain,
                "SubjectAlternativeNameSummaries": parsed.sans[:100],
                "HasAdditionalSubjectAlternativeNames": len(parsed.sans) > 100,
                "Status": "ISSUED",
                "Type": doc["Type"],
                "KeyAlgorithm": parsed.key_algorithm,
                "KeyUsages": parsed.key_usages,
                "ExtendedKeyUsages": parsed.extended_key_usages,
                "InUse": doc["Arn"] in users,
                "RenewalEligibility": "ELIGIBLE" if doc["Type"] == "PRIVATE" else "INELIGIBLE",
                "NotBefore": parsed.not_before,
                "NotAfter": parsed.not_after,
                "CreatedAt": _when(doc["created"]),
            }
            if doc["Type"] == "IMPORTED":
                summary["ImportedAt"] = _when(doc["imported"])
            else:
                summary["IssuedAt"] = _when(doc["issued"])
            summaries.append(summary)
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxItems") or 1000)
        page = summaries[start : start + size]
        out: Doc = {"CertificateSummaryList": page}
        if start + size < len(summaries):
            out["NextToken"] = str(start + size)
        return out

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
        self.store.delete("cert", doc["Arn"])
        return {}

    def export_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        if ctx.request is not None and doc["Type"] != "PRIVATE":
            raise _error(
                "ValidationException", f"Certificate ARN: {doc['Arn']} is not a private certificate"
            )
        passphrase = params["Passphrase"]
        key = certs.load_key(doc["key"])
        return {
            "Certificate": doc["cert"],
            "CertificateChain": doc.get("chain") or "",
            "PrivateKey": certs.key_pem(key, passphrase),
        }

    def update_certificate_options(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        doc["Options"] = params["Options"]
        self._save(doc)
        return {}

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
