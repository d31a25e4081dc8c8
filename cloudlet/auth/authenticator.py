"""One call per request: who signed it, and (in strict mode) is the signature good.

``Authenticator.authenticate(req, scope)`` is everything the gateway does about
authentication. It also owns what the signature says about the body, because
only it knows the signing key a streaming body is checked against:

- ``aws-chunked`` bodies are unwrapped in place: ``req.body`` (buffered) or
  ``req.stream`` (streaming) then holds the payload, ``content-length`` the
  decoded length, ``content-encoding`` loses ``aws-chunked``, and trailing
  headers (``x-amz-checksum-crc32`` ...) are merged into ``req.headers`` --
  for a stream, once it has been read to its end. In strict mode each signed
  chunk is verified as it passes.
- in strict mode a body whose ``x-amz-content-sha256`` is a hex digest is
  checked against it (``XAmzContentSHA256Mismatch`` for S3), and a streaming
  body whose signature covers its hash is verified when the stream ends.

Open mode (the loopback default) checks nothing and still unwraps framing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Literal
from urllib.parse import parse_qs

from cloudlet.auth import errors, sigv2, sigv4
from cloudlet.auth.authorizer import Authorizer
from cloudlet.auth.chunked import ChunkVerifier, decode_aws_chunked, decode_aws_chunked_body
from cloudlet.auth.credentials import ANONYMOUS, AccessKey, CredentialStore, Principal
from cloudlet.auth.scope import Scope, SignatureKind, credential_scope
from cloudlet.core.clock import clock
from cloudlet.protocols.base import HttpRequest

AuthMode = Literal["open", "strict"]

_HEX = frozenset("0123456789abcdef")
EXPRESS_SESSION_TOKEN = "x-amz-s3session-token"
"""The header of S3 directory buckets' session credentials (CreateSession)."""
UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithWebIdentity"})
"""Actions AWS answers unsigned (botocore's ``authtype: none``): the web identity token
in the request is the credential."""
_FORM = "application/x-www-form-urlencoded"


class Authenticator:
    def __init__(self, mode: AuthMode | str = "open", credentials: CredentialStore | None = None):
        if mode not in ("open", "strict"):
            raise ValueError(f"auth mode must be 'open' or 'strict', not {mode!r}")
        self.mode = mode
        self.credentials = credentials if credentials is not None else CredentialStore()
        # STS checks trust policies of client calls only when signatures are checked.
        self.credentials.strict = self.strict
        self.authorizer = Authorizer(self.credentials)

    @property
    def strict(self) -> bool:
        return self.mode == "strict"

    def authorize(self, ctx: Any, service: Any) -> None:
        """Strict mode: evaluate IAM policies for ``ctx`` (see ``auth/authorizer.py``)."""
        self.authorizer.authorize(ctx, service)

    def authenticate(
        self, req: HttpRequest, scope: Scope | None, *, s3: bool | None = None
    ) -> Principal:
        """The principal the request acts as; raises ``ServiceError`` when refused.

        ``scope`` is ``credential_scope(req)`` (taken again here when it is None
        and the body has been read, for SigV2 form posts). ``s3`` says whether to answer
        with S3's error codes; by default it follows the signature (signing
        name ``s3``, or S3-style SigV2). Pass it for unsigned requests, which
        carry no hint.
        """
        if scope is None and req.body:
            # A SigV2 form body is only visible once the body has been read.
            scope = credential_scope(req)
        is_s3 = s3 if s3 is not None else (scope is not None and scope.is_s3)
        if scope is None:
            if self.strict and not (is_s3 and _anonymous(req)) and not _unsigned_action(req):
                _refuse_unsigned(req, s3=is_s3)
            # Strict mode lets an anonymous S3 request through to the authorizer,
            # which allows only what the bucket makes public (``Service.public_access``).
            _prepare_payload(req, None, None, s3=is_s3)
            return ANONYMOUS
        if not self.strict:
            _prepare_payload(req, None, None, s3=is_s3)
            return self.credentials.principal_for(scope.access_key)

        if scope.version == 4 and not is_s3:
            # AWS's front end refuses an incomplete signature before it looks at the key
            sigv4.check_complete(req, presigned=scope.presigned)
        key = self.credentials.key(scope.access_key)
        if key is None:
            raise errors.unknown_access_key(scope.access_key, s3=is_s3)
        if key.session_token is not None and _session_token(req, scope) != key.session_token:
            raise errors.invalid_session_token(s3=is_s3)
        now = clock.time()
        if key.expires is not None and now >= key.expires:
            raise errors.expired_token(s3=is_s3)
        if scope.version == 4:
            self._verify_v4(req, scope, key, now, s3=is_s3)
        elif scope.kind in (SignatureKind.S3_V2_HEADER, SignatureKind.S3_V2_QUERY):
            sigv2.verify_s3(req, scope, key.secret_key, now=now)
            _prepare_payload(req, None, None, s3=is_s3)
        else:
            params = sigv2.query_v2_params(req, scope)
            sigv2.verify_query(req, scope, key.secret_key, now=now, params=params)
        if key.principal.kind != "root":
            self.credentials.last_used[key.access_key] = (
                now,
                scope.service or "",
                scope.region or "",
            )
        return key.principal

    def _verify_v4(
        self, req: HttpRequest, scope: Scope, key: AccessKey, now: float, *, s3: bool
    ) -> None:
        check = sigv4.prepare(req, scope, s3=s3, now=now)
        signing_key = sigv4.signing_key(
            key.secret_key, scope.date or "", scope.region or "", scope.service or ""
        )
        if check.hash_body and req.stream is not None:
            req.stream = _verify_when_read(req.stream, check, signing_key, scope.access_key, s3)
            _prepare_payload(req, None, None, s3=s3)
            return
        body_sha256 = hashlib.sha256(req.body).hexdigest() if check.hash_body else None
        if not check.matches(signing_key, body_sha256):
            raise check.mismatch(scope.access_key, s3=s3, body_sha256=body_sha256)
        payload = check.payload_hash
        verifier = None
        if payload in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
            verifier = ChunkVerifier(
                signing_key,
                check.timestamp,
                check.credential_scope,
                scope.signature,
                signed_trailer=payload == sigv4.STREAMING_SIGNED_TRAILER,
                s3=s3,
                access_key=scope.access_key,
            )
        claimed = payload if payload and len(payload) == 64 and _HEX.issuperset(payload) else None
        _prepare_payload(req, verifier, claimed, s3=s3)


# -- helpers ---------------------------------------------------------------------------


def _anonymous(req: HttpRequest) -> bool:
    """No credential at all, not even a broken one (those get their precise errors)."""
    return (
        "authorization" not in req.headers
        and "X-Amz-Algorithm=" not in req.query
        and "X-Amz-Credential=" not in req.query
    )


def _unsigned_action(req: HttpRequest) -> bool:
    """A query-protocol call AWS takes without a signature (``UNSIGNED_ACTIONS``) and
    without any credential: it reaches the authorizer as anonymous, and the service
    (``Service.public_access``) decides, as STS verifies the web identity token itself."""
    if not _anonymous(req):
        return False
    actions = req.query_params.get("Action")
    if actions is None and req.headers.get("content-type", "").startswith(_FORM):
        actions = parse_qs(req.body.decode("utf-8", "replace")).get("Action")
    return bool(actions) and actions[0] in UNSIGNED_ACTIONS


def _refuse_unsigned(req: HttpRequest, *, s3: bool) -> None:
    """Strict mode, no usable credential: say precisely what is wrong, and tag the error
    with what a SigV4-only front end makes of the request (``_unsigned_reason``)."""
    try:
        _explain_unsigned(req, s3=s3)
    except errors.AuthError as err:
        err.reason = _unsigned_reason(req) or err.reason
        raise


def _unsigned_reason(req: HttpRequest) -> str | None:
    """``both-signatures`` for an Authorization header beside an ``X-Amz-Algorithm``
    query parameter; ``no-signature`` when there is neither an ``AWS4-`` header nor that
    parameter (a SigV4-only front end such as DynamoDB's takes an ``AWS4`` or ``X``
    header, or presigned parameters without the algorithm, as no signature at all:
    dynalite's test/connection.js, checked against DynamoDB); None otherwise."""
    auth = req.headers.get("authorization", "").strip()
    presigned = "X-Amz-Algorithm" in req.query_params
    if auth and presigned:
        return "both-signatures"
    if not presigned and not auth.startswith("AWS4-"):
        return "no-signature"
    return None


def _explain_unsigned(req: HttpRequest, *, s3: bool) -> None:
    """Raise the error for a request without a usable credential."""
    if not s3:
        _explain_unsigned_v4(req)
    auth = req.headers.get("authorization")
    if auth:
        if auth.startswith("AWS4-"):
            sigv4.check_authorization_header(req, auth, s3=s3)
        if auth.startswith("AWS ") and s3:
            # S3's words for a SigV2 header that is no key:signature (ceph/s3-tests'
            # *_bad_authorization_invalid_aws2)
            raise errors.AuthError(
                "InvalidArgument",
                "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                400,
                fields={"ArgumentName": "Authorization", "ArgumentValue": auth},
            )
        if auth.startswith("AWS "):
            raise errors.malformed(
                "Authorization header is invalid: expected AWS key:signature", s3=s3
            )
        scheme = auth.strip().partition(" ")[0]
        raise errors.malformed(f"Unsupported Authorization Type: {scheme}", s3=s3)
    if "X-Amz-Algorithm=" in req.query or "X-Amz-Credential=" in req.query:
        raise errors.malformed(
            "X-Amz-Credential must name an access key, a date, a region, a service and "
            "aws4_request",
            s3=s3,
            presigned=True,
        )
    raise errors.missing_authentication(s3=s3)


def _explain_unsigned_v4(req: HttpRequest) -> None:
    """Outside S3, AWS's front end reads any Authorization header, and a query string with
    ``X-Amz-Algorithm`` or ``X-Amz-Credential``, as a SigV4 signature, and words what is
    wrong with it its own way (``sigv4.check_complete``); returns when it has no words."""
    auth = req.headers.get("authorization")
    if auth:
        sigv4.check_authorization_header(req, auth, s3=False)
    params = req.query_params
    if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params:
        sigv4.check_presigned_query(req)


def _session_token(req: HttpRequest, scope: Scope) -> str | None:
    """The token a temporary key's request carries: STS's ``x-amz-security-token``, or
    an S3 directory bucket session's ``x-amz-s3session-token`` (header or presigned)."""
    headers = req.headers
    token = headers.get("x-amz-security-token") or headers.get(EXPRESS_SESSION_TOKEN)
    if token is not None:
        return token
    params = req.query_params
    for name in (
        "X-Amz-Security-Token",
        "SecurityToken",
        "x-amz-security-token",
        "X-Amz-S3session-Token",
    ):
        if name in params:
            return params[name][0]
    if scope.kind is SignatureKind.V2_FORM:
        return sigv2.query_v2_params(req, scope).get("SecurityToken")
    return None


def _is_aws_chunked(req: HttpRequest) -> bool:
    """Whether the body is in aws-chunked framing: a ``STREAMING-...`` payload hash says
    so; ``Content-Encoding: aws-chunked`` only with ``x-amz-decoded-content-length``. A
    body whose hash is its own (or ``UNSIGNED-PAYLOAD``) is plain whatever its encoding
    names, and S3 stores it without ``aws-chunked`` (ceph/s3-tests'
    ``object_content_encoding_aws_chunked``; aws/aws-sdk-java-v2#5769)."""
    if req.headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
        return True
    return (
        "aws-chunked" in req.headers.get("content-encoding", "").lower()
        and "x-amz-decoded-content-length" in req.headers
    )


def _prepare_payload(
    req: HttpRequest, verifier: ChunkVerifier | None, claimed_sha256: str | None, *, s3: bool
) -> None:
    """Check the claimed body hash and unwrap aws-chunked framing, in place."""
    chunked = _is_aws_chunked(req)
    if not chunked and "aws-chunked" in req.headers.get("content-encoding", "").lower():
        _drop_aws_chunked(req)
    if claimed_sha256 is None and not chunked:
        return
    if req.stream is not None:
        stream = req.stream
        if claimed_sha256 is not None:
            stream = _check_sha256_when_read(stream, claimed_sha256, s3)
        if chunked:
            length = _decoded_length(req)
            stream = decode_aws_chunked(
                stream, verifier, trailers=req.headers, decoded_length=length
            )
            _fix_headers_for_decoded(req, length)
        req.stream = stream
        return
    if claimed_sha256 is not None:
        computed = hashlib.sha256(req.body).hexdigest()
        if computed != claimed_sha256:
            raise errors.content_sha256_mismatch(claimed_sha256, computed, s3=s3)
    if chunked:
        body, trailers = decode_aws_chunked_body(
            req.body, verifier, decoded_length=_decoded_length(req)
        )
        req.body = body
        _fix_headers_for_decoded(req, len(body))
        req.headers.update(trailers)


def _decoded_length(req: HttpRequest) -> int | None:
    value = req.headers.get("x-amz-decoded-content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise errors.bad_chunk("x-amz-decoded-content-length must be a number.") from None
    if length < 0:
        raise errors.bad_chunk("x-amz-decoded-content-length must not be negative.")
    return length


def _fix_headers_for_decoded(req: HttpRequest, length: int | None) -> None:
    """Make the headers describe the payload rather than its aws-chunked framing."""
    if length is None:
        req.headers.pop("content-length", None)
    else:
        req.headers["content-length"] = str(length)
    _drop_aws_chunked(req)


def _drop_aws_chunked(req: HttpRequest) -> None:
    """``Content-Encoding`` without ``aws-chunked``, which names the framing, not the object."""
    encoding = req.headers.get("content-encoding")
    if encoding is not None:
        kept = [e.strip() for e in encoding.split(",") if e.strip().lower() != "aws-chunked"]
        if kept:
            req.headers["content-encoding"] = ",".join(kept)
        else:
            del req.headers["content-encoding"]


async def _verify_when_read(
    stream: AsyncIterable[bytes],
    check: sigv4.V4Check,
    signing_key: bytes,
    access_key: str,
    s3: bool,
) -> AsyncIterator[bytes]:
    """A streamed body whose signature covers its hash: verify once it is all read."""
    hasher = hashlib.sha256()
    async for piece in stream:
        hasher.update(piece)
        yield piece
    digest = hasher.hexdigest()
    if not check.matches(signing_key, digest):
        raise check.mismatch(access_key, s3=s3, body_sha256=digest)


async def _check_sha256_when_read(
    stream: AsyncIterable[bytes], claimed: str, s3: bool
) -> AsyncIterator[bytes]:
    hasher = hashlib.sha256()
    async for piece in stream:
        hasher.update(piece)
        yield piece
    computed = hasher.hexdigest()
    if computed != claimed:
        raise errors.content_sha256_mismatch(claimed, computed, s3=s3)
