"""IAM's state: documents by kind, per account, in memory and written through.

IAM holds few entities that are read on every strict-mode request and written
rarely, so each kind lives in a dict of plain JSON documents and every change
is written through to a ``DocumentStore`` (SQLite; in memory when ephemeral).
Entities are keyed ``<account>|<name>`` (policies by ARN, keys by id, OIDC providers
by their URL without the scheme, MFA devices by serial number); an account's own
settings (password policy, alias, STS token version) are one ``account`` document
keyed by the account id, as is its credential report; service-linked role deletion
tasks are keyed by task id. A user's login profile lives in the user's document.
SSH public keys, signing certificates and service-specific credentials are keyed by
their ids; access advisor's records by the entity's ARN (``tracking``) and its report
jobs by job id (``advisor``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cloudlet.state.documents import DocumentStore

KINDS = (
    "user",
    "group",
    "role",
    "policy",
    "instance_profile",
    "access_key",
    "oidc_provider",
    "mfa_device",
    "server_certificate",
    "account",
    "credential_report",
    "deletion_task",
    "ssh_public_key",
    "signing_certificate",
    "service_credential",
    "access_record",
    "access_job",
)

Doc = dict[str, Any]


def key(account: str, name: str) -> str:
    return f"{account}|{name}"


class IamStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.docs = DocumentStore(conn, "iam")
        self.data: dict[str, dict[str, Doc]] = {}
        for kind in KINDS:
            table: dict[str, Doc] = {}
            for doc in self.docs.load(kind):
                table[doc["_key"]] = doc
            self.data[kind] = table

    def get(self, kind: str, k: str) -> Doc | None:
        return self.data[kind].get(k)

    def put(self, kind: str, k: str, doc: Doc) -> None:
        doc["_key"] = k
        self.data[kind][k] = doc
        self.docs.put(kind, k, doc)

    def save(self, kind: str, doc: Doc) -> None:
        """Write back a document changed in place."""
        self.docs.put(kind, doc["_key"], doc)

    def delete(self, kind: str, k: str) -> None:
        self.data[kind].pop(k, None)
        self.docs.delete(kind, k)

    def all(self, kind: str, account: str) -> list[Doc]:
        prefix = f"{account}|"
        return [d for k, d in self.data[kind].items() if k.startswith(prefix)]

    def close(self) -> None:
        self.docs.close()
