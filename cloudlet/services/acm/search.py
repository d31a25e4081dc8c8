"""SearchCertificates: ACM's filter statements over a certificate's attributes.

Why apart: SearchCertificates is a small query language, not a listing. A
``FilterStatement`` is a union of ``And`` / ``Or`` (1 to 15 statements), ``Not`` (one)
and ``Filter``, a union of ``CertificateArn``, an ``X509AttributeFilter`` (subject
common name and SAN DNS names, EQUALS or CONTAINS; extended key usage, with NONE for
none; key usage; key algorithm; serial number; ``NotBefore``/``NotAfter`` ranges, both
ends inclusive) and an ``AcmCertificateMetadataFilter`` (status, renewal status, type,
in use, exported, export option, managed by, validation method). Each union must set
exactly one member (``ValidationException`` otherwise, as the model's ``union`` trait
says). Results carry the certificate's X.509 attributes (issuer and subject as
``DistinguishedName``s, SANs as ``GeneralName``s) and ACM's metadata, sorted by
``SortBy`` (CREATED_AT unless asked; certificates without the value last) in pages
of ``MaxResults`` (100 unless asked, 500 at most).

Names compare without regard to case, as DNS names do; a key usage of ANY matches
any certificate with a key usage extension, CUSTOM none (the extension has no
custom bits).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from cloudlet.core.errors import ServiceError
from cloudlet.services.acm import certs
from cloudlet.services.acm.views import when

Doc = dict[str, Any]
SERIAL = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){1,19}$")
SORT_KEYS = {
    "CREATED_AT": "CreatedAt",
    "NOT_AFTER": "NotAfter",
    "STATUS": "Status",
    "RENEWAL_STATUS": "RenewalStatus",
    "EXPORTED": "Exported",
    "IN_USE": "InUse",
    "NOT_BEFORE": "NotBefore",
    "KEY_ALGORITHM": "KeyAlgorithm",
    "TYPE": "Type",
    "CERTIFICATE_ARN": "CertificateArn",
    "COMMON_NAME": "CommonName",
    "REVOKED_AT": "RevokedAt",
    "RENEWAL_ELIGIBILITY": "RenewalEligibility",
    "ISSUED_AT": "IssuedAt",
    "MANAGED_BY": "ManagedBy",
    "EXPORT_OPTION": "ExportOption",
    "VALIDATION_METHOD": "ValidationMethod",
    "IMPORTED_AT": "ImportedAt",
}
_DN_FIELDS = {
    NameOID.COMMON_NAME: "CommonName",
    NameOID.COUNTRY_NAME: "Country",
    NameOID.DN_QUALIFIER: "DistinguishedNameQualifier",
    NameOID.GENERATION_QUALIFIER: "GenerationQualifier",
    NameOID.GIVEN_NAME: "GivenName",
    NameOID.INITIALS: "Initials",
    NameOID.LOCALITY_NAME: "Locality",
    NameOID.ORGANIZATION_NAME: "Organization",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OrganizationalUnit",
    NameOID.PSEUDONYM: "Pseudonym",
    NameOID.SERIAL_NUMBER: "SerialNumber",
    NameOID.STATE_OR_PROVINCE_NAME: "State",
    NameOID.SURNAME: "Surname",
    NameOID.TITLE: "Title",
}
METADATA_FILTERS = (
    "Status",
    "RenewalStatus",
    "Type",
    "InUse",
    "Exported",
    "ExportOption",
    "ManagedBy",
    "ValidationMethod",
)
X509_FILTERS = (
    "Subject",
    "SubjectAlternativeName",
    "ExtendedKeyUsage",
    "KeyUsage",
    "KeyAlgorithm",
    "SerialNumber",
    "NotAfter",
    "NotBefore",
)


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def _one(union: Any, members: tuple[str, ...], shape: str) -> str:
    """The one member a union sets (ValidationException unless exactly one)."""
    if not isinstance(union, dict):
        raise _invalid(f"{shape} must be a structure.")
    given = [m for m in members if union.get(m) is not None]
    unknown = set(union) - set(members)
    if len(given) != 1 or unknown:
        raise _invalid(f"{shape} must set exactly one of {', '.join(members)}.")
    return given[0]


def _check_text(given: Any, shape: str) -> None:
    if not isinstance(given, dict) or not given.get("Value") or len(given["Value"]) > 256:
        raise _invalid(f"{shape} needs a Value of 1 to 256 characters.")
    if given.get("ComparisonOperator") not in ("EQUALS", "CONTAINS"):
        raise _invalid(f"{shape}'s ComparisonOperator must be EQUALS or CONTAINS.")


def check_statement(statement: Any) -> None:
    """Refuse a FilterStatement the model does not allow."""
    kind = _one(statement, ("And", "Or", "Not", "Filter"), "CertificateFilterStatement")
    value = statement[kind]
    if kind in ("And", "Or"):
        if not isinstance(value, list) or not 1 <= len(value) <= 15:
            raise _invalid(f"{kind} must list from 1 to 15 filter statements.")
        for inner in value:
            check_statement(inner)
        return
    if kind == "Not":
        check_statement(value)
        return
    what = _one(
        value, ("CertificateArn", "X509AttributeFilter", "AcmCertificateMetadataFilter"), "Filter"
    )
    if what == "X509AttributeFilter":
        attr = _one(value[what], X509_FILTERS, "X509AttributeFilter")
        given = value[what][attr]
        if attr == "Subject":
            _check_text(given.get("CommonName") if isinstance(given, dict) else None, "CommonName")
        elif attr == "SubjectAlternativeName":
            _check_text(given.get("DnsName") if isinstance(given, dict) else None, "DnsName")
        elif attr == "SerialNumber" and not SERIAL.match(given):
            raise _invalid(f"SerialNumber {given} is not colon-separated lower-case hex bytes.")
    elif what == "AcmCertificateMetadataFilter":
        _one(value[what], METADATA_FILTERS, "AcmCertificateMetadataFilter")


def _text_matches(given: Doc, values: list[str]) -> bool:
    wanted = given["Value"].lower()
    if given["ComparisonOperator"] == "EQUALS":
        return any(v.lower() == wanted for v in values)
    return any(wanted in v.lower() for v in values)


def _in_range(moment: datetime, span: Doc) -> bool:
    at = moment.timestamp()
    start, end = span.get("Start"), span.get("End")
    return (start is None or at >= start.timestamp()) and (end is None or at <= end.timestamp())


def matches(statement: Doc, facts: Doc) -> bool:
    """Whether the certificate described by ``facts`` satisfies ``statement``."""
    if "And" in statement:
        return all(matches(s, facts) for s in statement["And"])
    if "Or" in statement:
        return any(matches(s, facts) for s in statement["Or"])
    if "Not" in statement:
        return not matches(statement["Not"], facts)
    fil = statement["Filter"]
    if "CertificateArn" in fil:
        return fil["CertificateArn"] == facts["CertificateArn"]
    if "AcmCertificateMetadataFilter" in fil:
        ((name, value),) = fil["AcmCertificateMetadataFilter"].items()
        return facts.get(name) == value
    ((name, value),) = fil["X509AttributeFilter"].items()
    x509_facts = facts["x509"]
    if name == "Subject":
        cn = x509_facts["Subject"].get("CommonName")
        return _text_matches(value["CommonName"], [cn] if cn else [])
    if name == "SubjectAlternativeName":
        dns = [
            n["DnsName"] for n in x509_facts.get("SubjectAlternativeNames", []) if "DnsName" in n
        ]
        return _text_matches(value["DnsName"], dns)
    if name == "ExtendedKeyUsage":
        usages = x509_facts["ExtendedKeyUsages"]
        return value in usages or (value == "NONE" and not usages)
    if name == "KeyUsage":
        usages = x509_facts["KeyUsages"]
        return value in usages or (value == "ANY" and bool(usages))
    if name == "SerialNumber":
        return x509_facts["SerialNumber"] == value
    if name in ("NotAfter", "NotBefore"):
        return _in_range(x509_facts[name], value)
    return x509_facts.get(name) == value  # KeyAlgorithm


def distinguished_name(name: x509.Name) -> Doc:
    out: Doc = {}
    for attr in name:
        value = attr.value if isinstance(attr.value, str) else attr.value.hex()
        if attr.oid == NameOID.DOMAIN_COMPONENT:
            out.setdefault("DomainComponents", []).append(value)
        elif (field := _DN_FIELDS.get(attr.oid)) is not None:
            out.setdefault(field, value)
        else:
            out.setdefault("CustomAttributes", []).append(
                {"ObjectIdentifier": attr.oid.dotted_string, "Value": value}
            )
    return out


def _general_name(name: x509.GeneralName) -> Doc:
    if isinstance(name, x509.DNSName):
        return {"DnsName": name.value}
    if isinstance(name, x509.IPAddress):
        return {"IpAddress": str(name.value)}
    if isinstance(name, x509.RFC822Name):
        return {"Rfc822Name": name.value}
    if isinstance(name, x509.UniformResourceIdentifier):
        return {"UniformResourceIdentifier": name.value}
    if isinstance(name, x509.RegisteredID):
        return {"RegisteredId": name.value.dotted_string}
    if isinstance(name, x509.DirectoryName):
        return {"DirectoryName": distinguished_name(name.value)}
    if isinstance(name, x509.OtherName):
        return {
            "OtherName": {"ObjectIdentifier": name.type_id.dotted_string, "Value": name.value.hex()}
        }
    return {}


def x509_attributes(pem: str, parsed: certs.Parsed) -> Doc:
    """SearchCertificates' ``X509Attributes`` of a certificate."""
    cert = certs.load_cert(pem)
    out: Doc = {
        "Issuer": distinguished_name(cert.issuer),
        "Subject": distinguished_name(cert.subject),
        "ExtendedKeyUsages": parsed.extended_key_usages,
        "KeyAlgorithm": parsed.key_type,
        "KeyUsages": parsed.key_usages,
        "SerialNumber": parsed.serial,
        "NotAfter": parsed.not_after,
        "NotBefore": parsed.not_before,
    }
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    if sans is not None:
        out["SubjectAlternativeNames"] = [g for g in map(_general_name, sans) if g]
    return out


def _sort_key(field: str) -> Callable[[Doc], Any]:
    def key(facts: Doc) -> Any:
        if field in ("NotAfter", "NotBefore", "KeyAlgorithm"):
            return facts["x509"].get(field)
        if field == "CommonName":
            cn = facts["x509"]["Subject"].get("CommonName")
            return cn.lower() if cn else None
        return facts.get(field)

    return key


class SearchMixin:
    certs: dict[str, Doc]
    _info: Callable[[Doc], certs.Parsed]
    _status: Callable[[Doc], str]
    _eligibility: Callable[[Doc, bool], str]
    _export_option: Callable[[Doc], str]
    _users: Callable[[Any], Awaitable[dict[str, list[str]]]]
    _x509_cache: dict[str, tuple[str, Doc]]

    def _facts(self, doc: Doc, in_use: bool) -> Doc:
        """What SearchCertificates filters, sorts and answers, for one certificate."""
        cached = self._x509_cache.get(doc["Arn"])
        if cached is None or cached[0] != doc["cert"]:
            attributes = x509_attributes(doc["cert"], self._info(doc))
            cached = self._x509_cache[doc["Arn"]] = (doc["cert"], attributes)
        facts: Doc = {
            "CertificateArn": doc["Arn"],
            "x509": cached[1],
            "CreatedAt": when(doc["created"]),
            "Exported": bool(doc.get("exported_at")),
            "InUse": in_use,
            "RenewalEligibility": self._eligibility(doc, in_use),
            "Status": self._status(doc),
            "Type": doc["Type"],
            "ExportOption": self._export_option(doc),
        }
        if doc["Type"] == "IMPORTED":
            facts["ImportedAt"] = when(doc["imported"])
        else:
            facts["IssuedAt"] = when(doc["issued"])
        if doc["Type"] == "AMAZON_ISSUED":
            facts["ValidationMethod"] = doc.get("method", "DNS")
        if revoked := doc.get("revoked"):
            facts["RevokedAt"] = when(revoked["at"])
        if renewal := doc.get("renewal"):
            facts["RenewalStatus"] = renewal["RenewalStatus"]
        return facts

    async def search_certificates(self, ctx: Any, params: Doc) -> Doc:
        statement = params.get("FilterStatement")
        if statement is not None:
            check_statement(statement)
        size = params.get("MaxResults") or 100
        if not 1 <= size <= 500:
            raise _invalid("MaxResults must be from 1 to 500.")
        sort_by = params.get("SortBy") or "CREATED_AT"
        order = params.get("SortOrder") or "ASCENDING"
        if sort_by not in SORT_KEYS or order not in ("ASCENDING", "DESCENDING"):
            raise _invalid("SortBy or SortOrder is not valid.")
        users = await self._users(ctx)
        found = []
        for doc in self.certs.values():
            if doc["account"] != ctx.account_id or doc["region"] != ctx.region:
                continue
            facts = self._facts(doc, doc["Arn"] in users)
            if statement is None or matches(statement, facts):
                found.append(facts)
        key = _sort_key(SORT_KEYS[sort_by])
        found.sort(key=lambda f: f["CertificateArn"])
        present = sorted(
            (f for f in found if key(f) is not None), key=key, reverse=order == "DESCENDING"
        )
        ordered = present + [f for f in found if key(f) is None]
        token = params.get("NextToken") or "0"
        if not token.isdigit() or int(token) > len(ordered):
            raise _invalid("The NextToken is not valid.")
        start = int(token)
        out: Doc = {"Results": [_result(f) for f in ordered[start : start + size]]}
        if start + size < len(ordered):
            out["NextToken"] = str(start + size)
        return out


def _result(facts: Doc) -> Doc:
    metadata = {k: v for k, v in facts.items() if k not in ("CertificateArn", "x509")}
    return {
        "CertificateArn": facts["CertificateArn"],
        "X509Attributes": facts["x509"],
        "CertificateMetadata": {"AcmCertificateMetadata": metadata},
    }
