"""Read the credential out of a request without checking it.

Every request, in every auth mode, needs to know which access key signed it,
for which region and for which service: the gateway detects the service from
the signing name and picks region and account from the scope. So this parse
runs on every request and has to be cheap: string splits only, no regex, no
crypto. Verification (``Authenticator``) reuses what is parsed here.

Recognised, in this order:

- ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...``
- presigned SigV4 query (``X-Amz-Algorithm``, ``X-Amz-Credential``, ...)
- ``Authorization: AWS AKID:signature`` (S3 SigV2, boto 2's default for S3)
- presigned S3 SigV2 query (``AWSAccessKeyId``, ``Expires``, ``Signature``)
- query-protocol SigV2 (``SignatureVersion=2``) in the query string or form body
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from cloudlet.protocols.base import HttpRequest

V4_ALGORITHM = "AWS4-HMAC-SHA256"
S3_SIGNING_NAMES = frozenset({"s3", "s3-object-lambda", "s3express", "s3-outposts"})


class SignatureKind(StrEnum):
    V4_HEADER = "v4-header"
    """SigV4 in the Authorization header."""
    V4_QUERY = "v4-query"
    """SigV4 presigned URL."""
    S3_V2_HEADER = "s3v2-header"
    """``Authorization: AWS key:signature`` (S3 HmacV1)."""
    S3_V2_QUERY = "s3v2-query"
    """S3 HmacV1 presigned URL (``AWSAccessKeyId``/``Expires``/``Signature``)."""
    V2_QUERY = "v2-query"
    """Query-protocol SigV2 in the query string."""
    V2_FORM = "v2-form"
    """Query-protocol SigV2 in a form-encoded POST body."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request's credential claims. Nothing here has been verified.

    ``date`` (``YYYYMMDD``), ``region`` and ``service`` come from a SigV4
    credential scope and are None for SigV2. ``signed_headers`` and
    ``signature`` are kept for the verifier so it does not parse twice.
    """

    kind: SignatureKind
    access_key: str
    date: str | None = None
    region: str | None = None
    service: str | None = None
    signed_headers: str = ""
    signature: str = ""

    @property
    def version(self) -> int:
        return 4 if self.kind in (SignatureKind.V4_HEADER, SignatureKind.V4_QUERY) else 2

    @property
    def presigned(self) -> bool:
        return self.kind in (SignatureKind.V4_QUERY, SignatureKind.S3_V2_QUERY)

    @property
    def is_s3(self) -> bool:
        """Signed the S3 way (S3 error codes, no path normalization)."""
        if self.kind in (SignatureKind.S3_V2_HEADER, SignatureKind.S3_V2_QUERY):
            return True
        return self.service in S3_SIGNING_NAMES

    @property
    def credential_scope(self) -> str:
        """``date/region/service/aws4_request`` (SigV4 only)."""
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _v4_credential(
    value: str, kind: SignatureKind, signed_headers: str, signature: str
) -> Scope | None:
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        return None
    return Scope(kind, parts[0], parts[1], parts[2], parts[3], signed_headers, signature)


def parse_v4_authorization(value: str) -> dict[str, str] | None:
    """``Credential=..., SignedHeaders=..., Signature=...`` as a dict, or None if not SigV4."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V4_ALGORITHM:
        return None
    out: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, val = part.strip().partition("=")
        if eq:
            out[name] = val.strip()
    return out


def credential_scope(req: HttpRequest) -> Scope | None:
    """The credential the request claims, or None when it is unsigned or malformed."""
    auth = req.headers.get("authorization")
    if auth:
        if auth.startswith("AWS4-"):
            fields = parse_v4_authorization(auth)
            if fields is None or "Credential" not in fields:
                return None
            return _v4_credential(
                fields["Credential"],
                SignatureKind.V4_HEADER,
                fields.get("SignedHeaders", ""),
                fields.get("Signature", ""),
            )
        if auth.startswith("AWS "):
            key, sep, signature = auth[4:].strip().rpartition(":")
            if not sep or not key:
                return None
            return Scope(SignatureKind.S3_V2_HEADER, key, signature=signature)
    query = req.query
    if query:
        if "X-Amz-Credential=" in query:
            params = req.query_params
            cred = params.get("X-Amz-Credential")
            if cred:
                return _v4_credential(
                    cred[0],
                    SignatureKind.V4_QUERY,
                    _first(params, "X-Amz-SignedHeaders"),
                    _first(params, "X-Amz-Signature"),
                )
        if "AWSAccessKeyId=" in query:
            params = req.query_params
            key = _first(params, "AWSAccessKeyId")
            if key:
                kind = (
                    SignatureKind.V2_QUERY
                    if "SignatureVersion" in params
                    else SignatureKind.S3_V2_QUERY
                )
                return Scope(kind, key, signature=_first(params, "Signature"))
    if req.method == "POST" and b"AWSAccessKeyId=" in req.body:
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = form_params(req.body)
            key = form.get("AWSAccessKeyId", "")
            if key and "SignatureVersion" in form:
                return Scope(SignatureKind.V2_FORM, key, signature=form.get("Signature", ""))
    return None


def form_params(body: bytes) -> dict[str, str]:
    """A form-encoded body as a dict (last value wins; SigV2 params are unique)."""
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _first(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    return values[0] if values else ""
