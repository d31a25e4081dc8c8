"""Audit reports: every certificate a private CA's key signed, written to S3.

Why: CreateCertificateAuthorityAuditReport is how a Private CA's owner accounts for
the use of its key. The report lists each certificate the CA issued (its own root
certificate included) and each it revoked, with AWS's fields::

    awsAccountId, requestedByServicePrincipal, certificateArn, serial, subject,
    notBefore, notAfter, issuedAt, revokedAt, revocationReason, templateArn

(``requestedByServicePrincipal`` is ``acm.amazonaws.com`` for ACM's private
certificates; times read ``2020-03-02T21:43:57+0000``) as a JSON array or a CSV file
with that header, written through S3's own PutObject to
``audit-report/<CA id>/<report id>.json|csv`` of the named bucket. The report is made
after the answer (CREATING, then SUCCESS, or FAILED when the bucket refuses it; a
restart carries on), and a CA makes one every 30 minutes at most, as on AWS.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.acmpca import errors, x509ca

log = logging.getLogger(__name__)
Doc = dict[str, Any]
REPORT_SECONDS = 1800
"""AWS: "You can generate a maximum of one report every 30 minutes" (per CA here)."""
REPORT_ID = re.compile(r"^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$")
FIELDS = (
    "awsAccountId",
    "requestedByServicePrincipal",
    "certificateArn",
    "serial",
    "subject",
    "notBefore",
    "notAfter",
    "issuedAt",
    "revokedAt",
    "revocationReason",
    "templateArn",
)
FORMATS = {"JSON": ("json", "application/json"), "CSV": ("csv", "text/csv")}


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def report_rows(ca: Doc, certs: Iterable[Doc]) -> list[dict[str, str]]:
    """One row per certificate ``ca`` signed, oldest first, keys in AWS's order."""
    rows = []
    issued = [c for c in certs if c["ca"] == ca["arn"] and c.get("pem")]
    for cert in sorted(issued, key=lambda c: (c.get("issued") or c["requested"], c["arn"])):
        parsed = x509ca.load_cert(cert["pem"])
        row = {"awsAccountId": ca["account"]}
        if cert.get("requested_by"):
            row["requestedByServicePrincipal"] = cert["requested_by"]
        row.update(
            certificateArn=cert["arn"],
            serial=cert["serial"],
            subject=parsed.subject.rfc4514_string(),
            notBefore=_time(parsed.not_valid_before_utc.timestamp()),
            notAfter=_time(parsed.not_valid_after_utc.timestamp()),
            issuedAt=_time(cert.get("issued") or cert["requested"]),
        )
        if revoked := cert.get("revoked"):
            row.update(revokedAt=_time(revoked["when"]), revocationReason=revoked["reason"])
        row["templateArn"] = x509ca.TEMPLATE_PREFIX + cert["template"]
        rows.append(row)
    return rows


def render(rows: list[dict[str, str]], fmt: str) -> bytes:
    """The report file: a JSON array, or CSV with every field as a column."""
    if fmt == "JSON":
        return json.dumps(rows).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


class AuditMixin:
    store: Any
    env: Any
    _ca: Callable[[Any, str], Doc]
    _spawn: Callable[[Any], None]

    async def _check_bucket(self, ctx: Any, bucket: str) -> None:
        """The CA writes CRLs and audit reports to ``bucket``: it must exist (InvalidArgs)."""
        try:
            await self.env.call(
                "s3", "HeadBucket", {"Bucket": bucket}, account=ctx.account_id, region=ctx.region
            )
        except (ServiceError, NotImplementedOperation):
            raise errors.args(
                f"The S3 bucket {bucket} does not exist or cannot be written."
            ) from None

    async def create_certificate_authority_audit_report(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        if ca["status"] in ("CREATING", "DELETED", "FAILED"):
            raise errors.bad_state(ca["arn"], ca["status"], "create an audit report")
        fmt = params["AuditReportResponseFormat"]
        if fmt not in FORMATS:
            raise errors.args("AuditReportResponseFormat must be JSON or CSV.")
        bucket = params["S3BucketName"]
        mine = [r for r in self.store.reports.values() if r["ca"] == ca["arn"]]
        last = max(mine, key=lambda r: r["created"], default=None)
        now = clock.time()
        if last is not None and last["status"] == "CREATING":
            raise errors.error(
                "RequestInProgressException", "An audit report of this CA is being created."
            )
        if last is not None and now - last["created"] < REPORT_SECONDS:
            raise errors.error(
                "RequestFailedException",
                "You can generate a maximum of one audit report every 30 minutes.",
            )
        await self._check_bucket(ctx, bucket)
        report_id = str(uuid.uuid4())
        report = {
            "id": report_id,
            "ca": ca["arn"],
            "bucket": bucket,
            "key": f"audit-report/{ca['id']}/{report_id}.{FORMATS[fmt][0]}",
            "format": fmt,
            "status": "CREATING",
            "created": now,
        }
        self.store.save_report(report)
        self._spawn(self._write_report(report))
        return {"AuditReportId": report_id, "S3Key": report["key"]}

    def _resume_reports(self) -> None:
        for report in list(self.store.reports.values()):
            if report["status"] == "CREATING":
                self._spawn(self._write_report(report))

    async def _write_report(self, report: Doc) -> None:
        await asyncio.sleep(0.05)  # after the answer, as on AWS
        ca = self.store.cas.get(report["ca"])
        if ca is None:
            return
        body = render(report_rows(ca, list(self.store.certs.values())), report["format"])
        put = {
            "Bucket": report["bucket"],
            "Key": report["key"],
            "Body": body,
            "ContentLength": len(body),
            "ContentType": FORMATS[report["format"]][1],
        }
        try:
            await self.env.call("s3", "PutObject", put, account=ca["account"], region=ca["region"])
        except (ServiceError, NotImplementedOperation) as err:
            log.warning("audit report %s failed: %s", report["id"], getattr(err, "message", err))
            report["status"] = "FAILED"
        else:
            report["status"] = "SUCCESS"
        if self.store.reports.get(report["id"]) is report:
            self.store.save_report(report)

    def describe_certificate_authority_audit_report(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        report_id = params["AuditReportId"]
        if not REPORT_ID.match(report_id):
            raise errors.args(f"The audit report ID {report_id} is not valid.")
        report = self.store.reports.get(report_id)
        if report is None or report["ca"] != ca["arn"]:
            raise errors.error(
                "ResourceNotFoundException", f"Could not find audit report {report_id}."
            )
        return {
            "AuditReportStatus": report["status"],
            "S3BucketName": report["bucket"],
            "S3Key": report["key"],
            "CreatedAt": utc_datetime(report["created"]),
        }
