"""OCSP for private CAs: the responder a certificate's AIA extension names.

Why: a CA whose ``RevocationConfiguration`` enables OCSP puts an Authority Information
Access extension with an OCSP URL in every certificate it issues, and relying parties
(TLS stacks, ``openssl ocsp``) ask that URL whether a certificate is still good. AWS
answers at ``ocsp.acm-pca.<region>.amazonaws.com``; here the URL is a path on this
server's own port, ``/_cloudlet/acm-pca/ocsp/<CA id>``, or ``http://<OcspCustomCname>``
when the CA names one: OCSP requests whose ``Host`` is that name are answered at any
path (a POST of ``application/ocsp-request``, or a GET whose path is a request), so a
CNAME or hosts entry pointing at this server works, as the CNAME must on AWS.

Requests are RFC 6960's, POSTed (``application/ocsp-request``) or base64 in a GET path
(RFC 5019). Each is answered with a BasicOCSPResponse signed by the CA's own key (the
CA is its own responder, RFC 6960 section 4.2.2.2): ``good``, ``revoked`` with its time
and reason, or ``unknown`` for a serial the CA never issued; the request's nonce is
echoed. A CA this server does not know, or one without OCSP, answers ``unauthorized``;
an unreadable request ``malformedRequest``. Status changes show at once (AWS allows
itself up to an hour, which is what ``nextUpdate`` says).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from cloudlet.protocols.base import HttpResponse
from cloudlet.services.acmpca import errors, x509ca

Doc = dict[str, Any]
OCSP_PREFIX = "/_cloudlet/acm-pca/ocsp/"
VALID_SECONDS = 3600
"""``nextUpdate``: AWS says revocations may take up to 60 minutes to show in OCSP."""
CONTENT_TYPE = "application/ocsp-response"
_CNAME_CHARS = frozenset(string.ascii_letters + string.digits + "-;/?:@&=+$,%_.!~*()'")
"""What the model's pattern for ``OcspCustomCname`` allows."""


def checked_ocsp(given: Doc | None) -> Doc:
    """``OcspConfiguration`` as stored, refused as AWS refuses it (InvalidArgs)."""
    if not given or not given.get("Enabled"):
        return {"Enabled": False}
    out: Doc = {"Enabled": True}
    cname = given.get("OcspCustomCname")
    if cname:
        if cname.lower().startswith(("http://", "https://")):
            raise errors.args("OcspCustomCname must not include a protocol prefix.")
        if len(cname) > 253 or not set(cname) <= _CNAME_CHARS:
            raise errors.args(f"OcspCustomCname {cname} is not a valid CNAME.")
        out["OcspCustomCname"] = cname
    return out


def ocsp_url(ca: Doc, endpoint: str) -> str | None:
    """The OCSP URL certificates of ``ca`` carry, if its OCSP is enabled."""
    config = ca["revocation"].get("OcspConfiguration") or {}
    if not config.get("Enabled"):
        return None
    if config.get("OcspCustomCname"):
        return f"http://{config['OcspCustomCname']}"
    return f"{endpoint or 'http://localhost:4566'}{OCSP_PREFIX}{ca['id']}"


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(type(algorithm)())
    h.update(data)
    return h.finalize()


def issuer_hashes(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """A CertID's issuerNameHash and issuerKeyHash for the CA certificate ``cert``: the
    hashes of its subject name and of its subjectPublicKey's bits."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        bits = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return _digest(algorithm, cert.subject.public_bytes()), _digest(algorithm, bits)


def _der_path(encoded: str) -> bytes | None:
    """A GET request's DER (RFC 5019: URL-encoded base64 in the path), if it is one."""
    try:
        der = base64.b64decode(unquote(encoded.lstrip("/")), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None


def _answer(resp: ocsp.OCSPResponse, cacheable: bool) -> HttpResponse:
    headers = [("Content-Type", CONTENT_TYPE)]
    if cacheable and resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
        headers.append(("Cache-Control", f"max-age={VALID_SECONDS}, public, no-transform"))
    return HttpResponse(200, headers, resp.public_bytes(serialization.Encoding.DER))


def _failed(status: ocsp.OCSPResponseStatus) -> HttpResponse:
    return _answer(ocsp.OCSPResponseBuilder.build_unsuccessful(status), False)


class OcspMixin:
    """The responder (``claims``/``serve``) and the hosts of custom OCSP CNAMEs."""

    store: Any
    _ca_key: Callable[[Doc], Any]
    _ocsp_hosts: frozenset[str]

    def _refresh_ocsp_hosts(self) -> None:
        """The custom CNAMEs of every CA with OCSP: the ``Host`` values claimed."""
        hosts = set()
        for ca in self.store.cas.values():
            config = ca["revocation"].get("OcspConfiguration") or {}
            if config.get("Enabled") and config.get("OcspCustomCname"):
                hosts.add(config["OcspCustomCname"].split("/", 1)[0].lower())
        self._ocsp_hosts = frozenset(hosts)

    def claims(self, req: Any) -> bool:
        if req.path.startswith(OCSP_PREFIX):
            return True
        if not self._ocsp_hosts or req.headers.get("host", "").lower() not in self._ocsp_hosts:
            return False
        # a CNAME may name this server's own host: take only what is surely OCSP
        if req.method == "POST":
            return req.headers.get("content-type", "").startswith("application/ocsp-request")
        return req.method == "GET" and _der_path(req.path) is not None

    async def serve(self, req: Any, body: bytes) -> HttpResponse:
        if req.method not in ("GET", "POST"):
            return HttpResponse(405, [("Allow", "GET, POST")], b"")
        if req.path.startswith(OCSP_PREFIX):
            ca_id, _, encoded = req.path[len(OCSP_PREFIX) :].partition("/")
            cname = None
        else:
            ca_id, encoded = "", req.path.lstrip("/")
            cname = req.headers.get("host", "").lower()
        if req.method == "GET":
            body = _der_path(encoded) or b""
        try:
            request = ocsp.load_der_ocsp_request(body)
            algorithm = request.hash_algorithm
        except (ValueError, NotImplementedError, UnsupportedAlgorithm):
            return _failed(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        ca = self._responder_for(request, algorithm, ca_id, cname)
        if ca is None:
            return _failed(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return _answer(self._status(ca, request, algorithm), req.method == "GET")

    def _responder_for(
        self,
        request: ocsp.OCSPRequest,
        algorithm: hashes.HashAlgorithm,
        ca_id: str,
        cname: str | None,
    ) -> Doc | None:
        """The CA the request's CertID names, among those the URL may reach."""
        wanted = (request.issuer_name_hash, request.issuer_key_hash)
        for ca in self.store.cas.values():
            config = ca["revocation"].get("OcspConfiguration") or {}
            if not config.get("Enabled") or not ca.get("cert") or ca["status"] == "DELETED":
                continue
            if ca_id and ca["id"] != ca_id:
                continue
            if cname is not None and (config.get("OcspCustomCname") or "").lower() != cname:
                continue
            if issuer_hashes(x509ca.load_cert(ca["cert"]), algorithm) == wanted:
                return ca
        return None

    def _status(
        self, ca: Doc, request: ocsp.OCSPRequest, algorithm: hashes.HashAlgorithm
    ) -> ocsp.OCSPResponse:
        ca_cert = x509ca.load_cert(ca["cert"])
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        later = now + dt.timedelta(seconds=VALID_SECONDS)
        arn = f"{ca['arn']}/certificate/{x509ca.serial_hex(request.serial_number)}"
        issued = self.store.certs.get(arn)
        builder = ocsp.OCSPResponseBuilder()
        if issued is None or not issued.get("pem"):
            builder = builder.add_response_by_hash(
                request.issuer_name_hash,
                request.issuer_key_hash,
                request.serial_number,
                algorithm,
                ocsp.OCSPCertStatus.UNKNOWN,
                now,
                later,
                None,
                None,
            )
        else:
            revoked = issued.get("revoked")
            reason = revoked and revoked["reason"]
            builder = builder.add_response(
                x509ca.load_cert(issued["pem"]),
                ca_cert,
                algorithm,
                ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
                now,
                later,
                dt.datetime.fromtimestamp(revoked["when"], dt.UTC).replace(microsecond=0)
                if revoked
                else None,
                x509ca.REASONS[reason] if reason and reason != "UNSPECIFIED" else None,
            )
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
        except x509.ExtensionNotFound:
            pass
        else:
            builder = builder.add_extension(nonce.value, critical=False)
        key = self._ca_key(ca)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert).certificates(
            [ca_cert]
        )
        return builder.sign(key, x509ca.digest_for(key, ca["config"]["SigningAlgorithm"]))
