"""IAM server certificates: the certificate, chain and private key HTTPS listeners
(Classic Load Balancers, CloudFront) used before ACM.

An upload is checked as IAM checks it: the certificate and chain must parse as PEM,
the key must be the certificate's (``KeyPairMismatch``), the certificate must be
valid now (``MalformedCertificate``: "malformed or expired"). The checks are ACM's
import checks (``cloudlet.services.acm.certs.load_import``, plain X.509 code), with
IAM's error codes. ``Expiration`` comes from the certificate itself. The private
key is kept (a listener needs it) and never returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.acm.certs import CertificateError, load_import
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import (
    check_path,
    dt,
    merge_tags,
    page,
    tag_list,
    tag_page,
    unique_id,
    with_prefix,
)
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_CERTIFICATES = 20
_KEY_MISMATCH = "does not match"  # load_import's words for a key that is not the certificate's


def check_upload(body: str, private_key: str, chain: str | None) -> float:
    """The certificate's expiry (epoch seconds), if IAM would take this upload."""
    try:
        cert, _, _ = load_import(body.encode(), private_key.encode(), (chain or "").encode())
    except CertificateError as exc:
        if _KEY_MISMATCH in str(exc):
            raise errors.key_pair_mismatch(str(exc)) from None
        raise errors.malformed_certificate(str(exc)) from None
    except (ValueError, TypeError) as exc:  # what cryptography says of odd input
        raise errors.malformed_certificate(f"Unable to parse certificate: {exc}") from None
    return cert.not_valid_after_utc.timestamp()


def _metadata(doc: Doc) -> Result:
    return {
        "Path": doc["Path"],
        "ServerCertificateName": doc["ServerCertificateName"],
        "ServerCertificateId": doc["ServerCertificateId"],
        "Arn": doc["Arn"],
        "UploadDate": dt(doc["UploadDate"]),
        "Expiration": dt(doc["Expiration"]),
    }


def stored_certificate(store: Any, account: str, arn: str) -> Doc | None:
    """The stored certificate an ARN names (body, chain and key), for an HTTPS listener."""
    doc = store.get("server_certificate", key(account, arn.rsplit("/", 1)[-1]))
    return doc if doc is not None and doc["Arn"] == arn else None


class CertificateHandlers:
    store: Any
    _now: Callable[[], float]

    def _certificate(self, account: str, name: str) -> Doc:
        doc = self.store.get("server_certificate", key(account, name))
        if doc is None:
            raise errors.no_such_entity(f"The Server Certificate with name {name} cannot be found.")
        return doc

    def upload_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["ServerCertificateName"]
        path = check_path(params.get("Path"))
        if self.store.get("server_certificate", key(account, name)) is not None:
            raise errors.entity_already_exists(
                f"The Server Certificate with name {name} already exists."
            )
        if len(self.store.all("server_certificate", account)) >= MAX_CERTIFICATES:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for ServerCertificatesPerAccount: {MAX_CERTIFICATES}"
            )
        body, chain = params["CertificateBody"].strip(), params.get("CertificateChain")
        expiration = check_upload(body, params["PrivateKey"], chain)
        doc: Doc = {
            "ServerCertificateName": name,
            "ServerCertificateId": unique_id("ASCA"),
            "Arn": f"arn:aws:iam::{account}:server-certificate{path}{name}",
            "Path": path,
            "UploadDate": self._now(),
            "Expiration": expiration,
            "CertificateBody": body,
            "CertificateChain": chain.strip() if chain else None,
            "PrivateKey": params["PrivateKey"],
            "Tags": {},
        }
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("server_certificate", key(account, name), doc)
        out: Result = {"ServerCertificateMetadata": _metadata(doc)}
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return out

    def get_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._certificate(ctx.account_id, params["ServerCertificateName"])
        out: Result = {
            "ServerCertificateMetadata": _metadata(doc),
            "CertificateBody": doc["CertificateBody"],
        }
        if doc["CertificateChain"]:
            out["CertificateChain"] = doc["CertificateChain"]
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return {"ServerCertificate": out}

    def list_server_certificates(self, ctx: Any, params: dict[str, Any]) -> Result:
        docs = with_prefix(
            self.store.all("server_certificate", ctx.account_id),
            params.get("PathPrefix"),
            "ServerCertificateName",
        )
        return page([_metadata(d) for d in docs], params, "ServerCertificateMetadataList")

    def update_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._certificate(account, params["ServerCertificateName"])
        new_name = params.get("NewServerCertificateName")
        if new_name and new_name != doc["ServerCertificateName"]:
            if self.store.get("server_certificate", key(account, new_name)) is not None:
                raise errors.entity_already_exists(
                    f"The Server Certificate with name {new_name} already exists."
                )
            self.store.delete("server_certificate", doc["_key"])
            doc["ServerCertificateName"] = new_name
        if params.get("NewPath"):
            doc["Path"] = check_path(params["NewPath"])
        name = doc["ServerCertificateName"]
        doc["Arn"] = f"arn:aws:iam::{account}:server-certificate{doc['Path']}{name}"
        self.store.put("server_certificate", key(account, name), doc)
        return {}

    def delete_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._certificate(ctx.account_id, params["ServerCertificateName"])
        self.store.delete("server_certificate", doc["_key"])
        return {}

    def tag_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._certificate(ctx.account_id, params["ServerCertificateName"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("server_certificate", doc)
        return {}

    def untag_server_certificate(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._certificate(ctx.account_id, params["ServerCertificateName"])
        for tag_key in params["TagKeys"]:
            doc["Tags"].pop(tag_key, None)
        self.store.save("server_certificate", doc)
        return {}

    def list_server_certificate_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._certificate(ctx.account_id, params["ServerCertificateName"])
        return tag_page(doc["Tags"], params)
