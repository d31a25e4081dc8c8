"""What ACM says about a certificate: DescribeCertificate, GetCertificate,
ListCertificates, and the derived facts SearchCertificates filters on.

Why apart: a certificate's status, renewal eligibility and export option are not
stored but follow from its record, its X.509 contents and who serves it (ISSUED
until revoked or past ``NotAfter``; a public certificate is ELIGIBLE for managed
renewal once in use or exported since it was last issued, a private one always,
an imported one never), and three operations show them the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.acm import certs

Doc = dict[str, Any]
DEFAULT_KEY_TYPES = ("RSA_1024", "RSA_2048")
"""ListCertificates without an ``Includes.keyTypes`` filter lists only these, as ACM does."""


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ViewsMixin:
    _cert: Callable[[Any, str], Doc]
    _info: Callable[[Doc], certs.Parsed]
    _users: Callable[[Any], Awaitable[dict[str, list[str]]]]
    certs: dict[str, Doc]

    # -- derived facts ------------------------------------------------------------

    def _status(self, doc: Doc) -> str:
        if doc.get("revoked"):
            return "REVOKED"
        if self._info(doc).not_after.timestamp() <= clock.time():
            return "EXPIRED"
        return "ISSUED"

    def _eligibility(self, doc: Doc, in_use: bool) -> str:
        """RenewalEligibility, as ACM's managed-renewal rules say."""
        if doc["Type"] == "IMPORTED" or self._status(doc) != "ISSUED":
            return "INELIGIBLE"
        if doc["Type"] == "PRIVATE":
            return "ELIGIBLE"
        exported = (doc.get("exported_at") or 0) >= doc["issued"]
        return "ELIGIBLE" if in_use or exported else "INELIGIBLE"

    @staticmethod
    def _export_option(doc: Doc) -> str:
        if doc["Type"] == "PRIVATE":
            return "ENABLED"
        return (doc.get("Options") or {}).get("Export") or "DISABLED"

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

    def _renewal_summary(self, doc: Doc, parsed: certs.Parsed) -> Doc | None:
        renewal = doc.get("renewal")
        if not renewal:
            return None
        out = {**renewal, "UpdatedAt": when(renewal["UpdatedAt"])}
        if doc["Type"] == "AMAZON_ISSUED":
            out["DomainValidationOptions"] = self._validation(doc, parsed)
        return out

    # -- operations ---------------------------------------------------------------

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
            "RenewalEligibility": self._eligibility(doc, bool(users)),
            "CreatedAt": when(doc["created"]),
            "Status": self._status(doc),
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
            out["ImportedAt"] = when(doc["imported"])
        else:
            out["IssuedAt"] = when(doc["issued"])
            out["DomainValidationOptions"] = self._validation(doc, parsed)
        if doc["Type"] == "PRIVATE":
            out["CertificateAuthorityArn"] = doc["ca"]
        if revoked := doc.get("revoked"):
            out["RevokedAt"] = when(revoked["at"])
            out["RevocationReason"] = revoked["reason"]
        if summary := self._renewal_summary(doc, parsed):
            out["RenewalSummary"] = summary
        return {"Certificate": out}

    def get_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._cert(ctx, params["CertificateArn"])
        out = {"Certificate": doc["cert"]}
        if doc.get("chain"):
            out["CertificateChain"] = doc["chain"]
        return out

    def _summary(self, doc: Doc, in_use: bool) -> Doc:
        parsed = self._info(doc)
        summary: Doc = {
            "CertificateArn": doc["Arn"],
            "DomainName": parsed.domain,
            "SubjectAlternativeNameSummaries": parsed.sans[:100],
            "HasAdditionalSubjectAlternativeNames": len(parsed.sans) > 100,
            "Status": self._status(doc),
            "Type": doc["Type"],
            "KeyAlgorithm": parsed.key_algorithm,
            "KeyUsages": parsed.key_usages,
            "ExtendedKeyUsages": parsed.extended_key_usages,
            "ExportOption": self._export_option(doc),
            "InUse": in_use,
            "Exported": bool(doc.get("exported_at")),
            "RenewalEligibility": self._eligibility(doc, in_use),
            "NotBefore": parsed.not_before,
            "NotAfter": parsed.not_after,
            "CreatedAt": when(doc["created"]),
        }
        if doc["Type"] == "IMPORTED":
            summary["ImportedAt"] = when(doc["imported"])
        else:
            summary["IssuedAt"] = when(doc["issued"])
        if revoked := doc.get("revoked"):
            summary["RevokedAt"] = when(revoked["at"])
        return summary

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
        if params.get("SortBy"):
            if not params.get("SortOrder"):
                raise ServiceError(
                    "ValidationException", "If you specify SortBy, specify SortOrder too.", 400
                )
            mine.sort(key=lambda d: d["created"], reverse=params["SortOrder"] == "DESCENDING")
        summaries = []
        for doc in mine:
            parsed = self._info(doc)
            if statuses and self._status(doc) not in statuses:
                continue
            if parsed.key_type not in key_types:
                continue
            if (eku := includes.get("extendedKeyUsage")) and not set(eku) & set(
                parsed.extended_key_usages
            ):
                continue
            if (ku := includes.get("keyUsage")) and not set(ku) & set(parsed.key_usages):
                continue
            if includes.get("managedBy"):
                continue  # nothing here is managed by CloudFront
            if (option := includes.get("exportOption")) and self._export_option(doc) != option:
                continue
            summaries.append(self._summary(doc, doc["Arn"] in users))
        token = params.get("NextToken") or "0"
        if not token.isdigit() or int(token) > len(summaries):
            raise ServiceError("InvalidArgsException", "The NextToken is not valid.", 400)
        start = int(token)
        size = int(params.get("MaxItems") or 1000)
        page = summaries[start : start + size]
        out: Doc = {"CertificateSummaryList": page}
        if start + size < len(summaries):
            out["NextToken"] = str(start + size)
        return out
