"""Where private CAs live: one SQLite database of JSON documents for the service.

CAs, the certificates they issued and their audit reports are few and read on every
call, so they are held in memory and written through on every change. A CA's private key is in its
document (PEM) and never leaves the service in any answer.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cloudlet.state.documents import DocumentStore

Doc = dict[str, Any]


class PcaStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.docs = DocumentStore(conn, "acmpca")
        self.cas: dict[str, Doc] = {d["arn"]: d for d in self.docs.load("ca")}
        self.certs: dict[str, Doc] = {d["arn"]: d for d in self.docs.load("cert")}
        self.reports: dict[str, Doc] = {d["id"]: d for d in self.docs.load("report")}

    def save_ca(self, ca: Doc) -> None:
        self.cas[ca["arn"]] = ca
        self.docs.put("ca", ca["arn"], ca)

    def drop_ca(self, ca: Doc) -> None:
        self.cas.pop(ca["arn"], None)
        self.docs.delete("ca", ca["arn"])
        for arn in [a for a, c in self.certs.items() if c["ca"] == ca["arn"]]:
            self.certs.pop(arn)
            self.docs.delete("cert", arn)
        for report_id in [r for r, d in self.reports.items() if d["ca"] == ca["arn"]]:
            self.reports.pop(report_id)
            self.docs.delete("report", report_id)

    def save_cert(self, cert: Doc) -> None:
        self.certs[cert["arn"]] = cert
        self.docs.put("cert", cert["arn"], cert)

    def save_report(self, report: Doc) -> None:
        self.reports[report["id"]] = report
        self.docs.put("report", report["id"], report)

    def close(self) -> None:
        self.docs.close()
