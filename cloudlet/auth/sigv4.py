"""Signature Version 4, computed from the server's side of the wire.

A client signs the request it is about to send; we only see the bytes that
arrived, so every canonicalisation step here starts from wire strings (the
gateway decodes path, query and headers as latin-1, i.e. one character per
byte). The rules, per AWS's SigV4 reference and its test suite:

- path: non-S3 services normalise (``.``/``..`` segments, repeated slashes)
  and URI-encode the already-encoded path once more; S3 does neither.
- query: every name and value URI-encoded (RFC 3986 unreserved kept), sorted
  by name then value; for presigned URLs ``X-Amz-Signature`` is left out.
- headers: names lower-cased, values trimmed with inner whitespace runs
  collapsed, repeated headers joined with ``,`` in arrival order.
- payload: the ``x-amz-content-sha256`` header when sent (a hex digest,
  ``UNSIGNED-PAYLOAD`` or a ``STREAMING-*`` marker), else the body's SHA-256;
  presigned S3 URLs use ``UNSIGNED-PAYLOAD``.

Where real clients disagree with the letter of the rules (S3 keys signed as
sent vs re-encoded, query strings signed as sent), a few candidate canonical
forms are tried; each is a full HMAC over what was actually received, so this
widens compatibility without accepting anything unsigned.

Outside S3, a signature missing any of its parts is refused before its key is looked
up, every missing part named at once, in the words of AWS's front end
(``check_complete``); S3 words such failures its own way.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from cloudlet.auth import errors
from cloudlet.auth.scope import V4_ALGORITHM, Scope, SignatureKind, parse_v4_authorization
from cloudlet.protocols.base import HttpRequest

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_UNRESERVED_PATH = _UNRESERVED | {"/"}


@lru_cache(maxsize=512)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """``kSigning``: the four-step HMAC chain, cached (it only changes daily)."""
    k = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def wire_bytes(text: str) -> bytes:
    """The bytes a wire string stands for (latin-1 as the gateway decodes; else UTF-8)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


# -- canonical request parts ----------------------------------------------------


def normalize_path(path: str) -> str:
    """Remove ``.``/``..`` segments and empty segments (RFC 3986 5.2.4, AWS flavour)."""
    if "//" not in path and "/." not in path:
        return path or "/"
    segments: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    out = "/" + "/".join(segments)
    if segments and path.endswith("/"):
        out += "/"
    return out


def canonical_uris(path: str, *, s3: bool) -> list[str]:
    """Canonical URI candidates, the one AWS documents first."""
    if not path:
        path = "/"
    if not s3:
        normalized = normalize_path(path)
        if _UNRESERVED_PATH.issuperset(normalized):
            return [normalized]
        return [quote(wire_bytes(normalized), safe="/~")]
    if _UNRESERVED_PATH.issuperset(path):
        return [path]
    # S3 re-encodes the decoded key; clients such as botocore sign the path as sent.
    reencoded = quote(unquote_to_bytes(wire_bytes(path)), safe="/~")
    if reencoded == path or not path.isascii():
        return [reencoded]
    return [reencoded, path]


def _reencode(text: str) -> str:
    if _UNRESERVED.issuperset(text):
        return text
    return quote(unquote_to_bytes(wire_bytes(text)), safe="-_.~")


def canonical_queries(query: str, *, drop: str | None = None) -> list[str]:
    """Canonical query string candidates: re-encoded per the rules; then as sent; then,
    when the query holds a ``+``, re-encoded with ``+`` read as a space (form encoding,
    as the Rust object_store crate behind polars sends a space and signs it)."""
    if not query:
        return [""]
    encoded: list[tuple[str, str]] = []
    raw: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if name == drop:
            continue
        raw.append((name, value))
        encoded.append((_reencode(name), _reencode(value)))
    first = "&".join(f"{k}={v}" for k, v in sorted(encoded))
    second = "&".join(f"{k}={v}" for k, v in sorted(raw))
    out = [first] if first == second or not second.isascii() else [first, second]
    if "+" in query:
        spaced = sorted(
            (_reencode(k.replace("+", " ")), _reencode(v.replace("+", " "))) for k, v in raw
        )
        out.append("&".join(f"{k}={v}" for k, v in spaced))
    return out


def _trimall(value: str) -> str:
    return " ".join(value.split())


def canonical_headers(req: HttpRequest, signed_headers: list[str]) -> str:
    """``name:value`` lines for the signed headers, without the trailing newline."""
    wanted = set(signed_headers)
    values: dict[str, list[str]] = {}
    if req.raw_headers:
        for name, value in req.raw_headers:
            lname = name.lower()
            if lname in wanted:
                values.setdefault(lname, []).append(value)
    else:
        for name in signed_headers:
            value = req.headers.get(name)
            if value is not None:
                values[name] = [value]
    return "\n".join(
        f"{name}:{','.join(_trimall(v) for v in values.get(name, ()))}" for name in signed_headers
    )


def string_to_sign(timestamp: str, credential_scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{V4_ALGORITHM}\n{timestamp}\n{credential_scope}\n{digest}"


# -- dates ------------------------------------------------------------------------


def parse_amz_date(value: str) -> float | None:
    """``20150830T123600Z`` to epoch seconds, or None if it is not that format."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    try:
        when = datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return when.timestamp()


def parse_http_date(value: str) -> float | None:
    """An RFC 7231 ``Date`` header to epoch seconds, or None."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


# -- verification -------------------------------------------------------------------


@dataclass(slots=True)
class V4Check:
    """A SigV4 request canonicalised up to the payload hash, ready to verify.

    ``bases`` are canonical-request candidates missing only their last line
    (the payload hash). ``payload_hashes`` are fixed payload-hash candidates;
    when ``hash_body`` is set the body's SHA-256 goes first and must be
    supplied to ``matches``.
    """

    timestamp: str
    credential_scope: str
    signature: str
    bases: list[str]
    payload_hashes: list[str]
    hash_body: bool

    def _payloads(self, body_sha256: str | None) -> list[str]:
        if self.hash_body:
            if body_sha256 is None:
                raise ValueError("this request's signature covers its body: pass its SHA-256")
            return [body_sha256, *self.payload_hashes]
        return self.payload_hashes

    def matches(self, key: bytes, body_sha256: str | None = None) -> bool:
        provided = self.signature.lower().encode()
        for payload in self._payloads(body_sha256):
            for base in self.bases:
                sts = string_to_sign(self.timestamp, self.credential_scope, base + payload)
                if hmac.compare_digest(hmac_hex(key, sts).encode(), provided):
                    return True
        return False

    def canonical_request(self, body_sha256: str | None = None) -> str:
        """The documented canonical request (first candidate), for error messages."""
        return self.bases[0] + self._payloads(body_sha256)[0]

    def string_to_sign(self, body_sha256: str | None = None) -> str:
        return string_to_sign(
            self.timestamp, self.credential_scope, self.canonical_request(body_sha256)
        )

    def mismatch(self, access_key: str, *, s3: bool, body_sha256: str | None = None) -> Exception:
        return errors.signature_mismatch(
            s3=s3,
            access_key=access_key,
            signature=self.signature,
            canonical_request=self.canonical_request(body_sha256),
            string_to_sign=self.string_to_sign(body_sha256),
        )

    @property
    def payload_hash(self) -> str | None:
        """The payload hash the signature claims, when it is not the body's hash."""
        return None if self.hash_body else self.payload_hashes[0]


def prepare(req: HttpRequest, scope: Scope, *, s3: bool, now: float) -> V4Check:
    """Check the request's SigV4 syntax and dates, and canonicalise it.

    Raises the AWS error for a malformed signature, a stale or future date,
    or an expired presigned URL. Signature checking is ``V4Check.matches``.
    """
    presigned = scope.kind is SignatureKind.V4_QUERY
    if presigned:
        timestamp, payload_hashes, hash_body = _presigned_parts(req, scope, s3=s3, now=now)
        drop: str | None = "X-Amz-Signature"
    else:
        timestamp = _header_timestamp(req, scope, s3=s3, now=now)
        claimed = req.headers.get("x-amz-content-sha256")
        payload_hashes, hash_body = ([claimed], False) if claimed else ([], True)
        drop = None
    if timestamp[:8] != scope.date:
        if s3:
            raise errors.malformed(
                "Invalid credential date. Date is not the same as X-Amz-Date.",
                s3=True,
                presigned=presigned,
            )
        raise errors.signature_mismatch(
            s3=False,
            detail=(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope.date}' != '{timestamp[:8]}', from '{timestamp}'."
            ),
        )
    if not scope.signature:
        raise errors.malformed("The request signature is missing.", s3=s3, presigned=presigned)
    if not scope.signed_headers:
        raise errors.malformed("SignedHeaders is missing.", s3=s3, presigned=presigned)
    names = scope.signed_headers.lower().split(";")
    if s3:
        _all_signed(req, names, presigned=presigned)
    headers_block = canonical_headers(req, names)
    tail = f"{headers_block}\n\n{scope.signed_headers.lower()}\n"
    method = req.method.upper()
    bases = [
        f"{method}\n{uri}\n{query}\n{tail}"
        for uri in canonical_uris(req.signed_path or req.path, s3=s3)
        for query in canonical_queries(req.query, drop=drop)
    ]
    return V4Check(
        timestamp, scope.credential_scope, scope.signature, bases, payload_hashes, hash_body
    )


def _all_signed(req: HttpRequest, names: list[str], *, presigned: bool) -> None:
    """S3 refuses a request carrying ``x-amz-*`` headers its signature does not cover
    (a presigned URL's holder could add metadata, an ACL, ...), and for a presigned
    URL a ``Content-MD5`` too; an unsigned ``x-amz-content-sha256`` is ignored."""
    signed = set(names)
    unsigned = sorted(
        name
        for name in req.headers
        if name not in signed
        and (
            (name.startswith("x-amz-") and name != "x-amz-content-sha256")
            or (presigned and name == "content-md5")
        )
    )
    if unsigned:
        raise errors.headers_not_signed(unsigned)


# -- incomplete signatures ---------------------------------------------------------------

_HEADER_PARTS = ("Credential", "Signature", "SignedHeaders")
_QUERY_PARTS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


def check_complete(req: HttpRequest, *, presigned: bool) -> None:
    """Outside S3: refuse a SigV4 signature that lacks any of its parts, naming every one
    and echoing the header, as AWS's front end does before it looks at the key
    (dynalite's test/connection.js, checked against DynamoDB; SES in
    brendanhay/amazonka#316; SSM in aws/aws-sdk-js#4285)."""
    if presigned:
        _check_query_parts(req)
    else:
        _check_header_parts(req, req.headers.get("authorization", ""))


def _header_parameters(value: str) -> dict[str, str]:
    """An Authorization header's ``name=value`` parameters as AWS's front end reads them:
    split at commas and spaces, each part a pair (else the first that is not is refused:
    aws/aws-cli#4385, iann0036/cloud9-sync#10, dynalite's index.js). A scheme other than
    ``AWS4-...`` carries none: SSM lists every part missing from ``AWS key:signature``."""
    scheme, *parts = value.replace(",", " ").split() or [""]
    if not scheme.startswith("AWS4-"):
        return {}
    params: dict[str, str] = {}
    for part in parts:
        name, eq, val = part.partition("=")
        if not eq:
            raise errors.malformed(
                f"'{part}' not a valid key=value pair (missing equal-sign) in Authorization "
                f"header: '{value}'.",
                s3=False,
            )
        params[name] = val
    return params


def _check_header_parts(req: HttpRequest, value: str) -> dict[str, str]:
    """The header's parameters, once every part and a date are there (else all that
    is missing, in AWS's order). An empty ``SignedHeaders`` passes here (dynalite)."""
    params = _header_parameters(value)
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in _HEADER_PARTS
        if not params.get(name) and not (name == "SignedHeaders" and name in params)
    ]
    if not (req.headers.get("x-amz-date") or req.headers.get("date")):
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise errors.malformed(" ".join([*problems, f"Authorization={value}"]), s3=False)
    return params


def _check_query_parts(req: HttpRequest) -> None:
    params = req.query_params
    problems = [
        f"AWS query-string parameters must include '{name}'."
        for name in _QUERY_PARTS
        if not _one(params, name)
    ]
    if problems:
        raise errors.malformed(
            " ".join([*problems, "Re-examine the query-string parameters."]),
            s3=False,
            presigned=True,
        )


def _check_credential_elements(credential: str, *, presigned: bool) -> None:
    """AWS's words for a credential that is not five ``/``-separated elements
    (trailing slashes ignored; dynalite's index.js, recorded against DynamoDB)."""
    if len(credential.rstrip("/").split("/")) != 5:
        raise errors.malformed(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'",
            s3=False,
            presigned=presigned,
        )


def check_presigned_query(req: HttpRequest) -> None:
    """Outside S3: raise AWS's error for presigned SigV4 parameters we could not parse,
    when AWS words it (every missing part; a credential of the wrong shape)."""
    _check_query_parts(req)
    _check_credential_elements(_one(req.query_params, "X-Amz-Credential"), presigned=True)


def check_authorization_header(req: HttpRequest, value: str, *, s3: bool) -> None:
    """Raise the precise error for an Authorization header we could not parse: for S3
    one that starts ``AWS4-``; elsewhere any, read as SigV4 (``check_complete``)."""
    if s3:
        credential = _s3_header_credential(value)
    else:
        credential = _check_header_parts(req, value)["Credential"]
        scheme = value.split()[0]
        if scheme != V4_ALGORITHM:
            # dynalite's index.js records the trailing space, as DynamoDB sends it
            raise errors.malformed(
                f"Unsupported AWS 'algorithm': '{scheme}' (only {V4_ALGORITHM} for now). ",
                s3=False,
            )
        _check_credential_elements(credential, presigned=False)
    raise errors.malformed(
        "Credential should be scoped to a valid date, region and service, ending in "
        f"aws4_request: '{credential}'",
        s3=s3,
    )


def _s3_header_credential(value: str) -> str:
    """The Credential of an ``AWS4-`` header S3 could not use, once its syntax is whole."""
    fields = parse_v4_authorization(value)
    if fields is None:
        algorithm = value.strip().partition(" ")[0]
        raise errors.malformed(f"Unsupported Authorization Type: {algorithm}", s3=True)
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in fields:
            raise errors.malformed(
                f"Authorization header requires '{name}' parameter. Authorization={value}",
                s3=True,
            )
    return fields["Credential"]


def _header_timestamp(req: HttpRequest, scope: Scope, *, s3: bool, now: float) -> str:
    amz_date = req.headers.get("x-amz-date")
    if amz_date is not None:
        when = parse_amz_date(amz_date.strip())
        timestamp = amz_date.strip()
    else:
        http_date = req.headers.get("date")
        when = parse_http_date(http_date) if http_date else None
        timestamp = errors.iso_basic(when) if when is not None else ""
    if when is None:
        if s3:
            raise errors.AuthError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            )
        raise errors.malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            s3=False,
        )
    if abs(now - when) > errors.MAX_SKEW_SECONDS:
        raise errors.clock_skew(when, now, s3=s3, shown=timestamp)
    return timestamp


def _presigned_parts(
    req: HttpRequest, scope: Scope, *, s3: bool, now: float
) -> tuple[str, list[str], bool]:
    params = req.query_params
    algorithm = _one(params, "X-Amz-Algorithm")
    if algorithm != V4_ALGORITHM:
        raise errors.malformed(
            f'X-Amz-Algorithm only supports "{V4_ALGORITHM}"', s3=s3, presigned=True
        )
    timestamp = _one(params, "X-Amz-Date")
    expires = _one(params, "X-Amz-Expires")
    if not timestamp or not scope.signature or not scope.signed_headers or (s3 and not expires):
        raise errors.malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters.",
            s3=s3,
            presigned=True,
        )
    when = parse_amz_date(timestamp)
    if when is None:
        raise errors.malformed(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            s3=s3,
            presigned=True,
        )
    if expires:
        try:
            lifetime = int(expires)
        except ValueError:
            raise errors.malformed(
                "X-Amz-Expires should be a number", s3=s3, presigned=True
            ) from None
        if lifetime < 0:
            raise errors.malformed("X-Amz-Expires must be non-negative", s3=s3, presigned=True)
        if lifetime > errors.MAX_PRESIGN_SECONDS:
            raise errors.malformed(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given "
                "X-Amz-Expires must be less than 604800 seconds",
                s3=s3,
                presigned=True,
            )
        if when - now > errors.MAX_SKEW_SECONDS:
            raise errors.not_yet_valid()
        if now > when + lifetime:
            raise errors.request_expired(when + lifetime, now, s3=s3, expires=expires)
    elif abs(now - when) > errors.MAX_SKEW_SECONDS:
        raise errors.clock_skew(when, now, s3=s3, shown=timestamp)

    claimed = req.headers.get("x-amz-content-sha256") or _one(params, "X-Amz-Content-Sha256")
    if claimed:
        return timestamp, [claimed], False
    if s3:
        return timestamp, [UNSIGNED_PAYLOAD], False
    # botocore's non-S3 presigner hashes the (usually empty) body; others say UNSIGNED.
    return timestamp, [UNSIGNED_PAYLOAD], True


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    return values[0] if values else ""
