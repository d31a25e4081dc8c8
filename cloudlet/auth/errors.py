"""The AWS errors an authentication failure turns into, in one place.

AWS answers the same failure with different codes depending on the service:
S3 (and anything signed like S3) says ``InvalidAccessKeyId``,
``RequestTimeTooSkewed`` and ``AccessDenied`` where the query/JSON services say
``InvalidClientTokenId``, ``RequestExpired`` and ``MissingAuthenticationToken``.
Every factory here takes ``s3`` and picks the code, the status and (for S3)
the extra fields S3 puts in its error document, so the verifiers never spell
an error code themselves. A service whose front end words these failures its own way
(DynamoDB's: ``UnrecognizedClientException``, all 400) restates them by their
``reason`` (``Service.auth_error``), so nothing here knows that dialect.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.clock import utc_datetime
from cloudlet.core.errors import ServiceError

MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_S3_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
"""S3 words it its own way, and adds nothing to it: what it computed goes in the error's
own elements (LocalStack's AWS-recorded ``test_presigned_url_signature_authentication``)."""


class AuthError(ServiceError):
    """Any authentication failure (the gateway may log these apart from other errors).

    ``reason`` names the failure in words no service's dialect owns: the code, unless
    the failure is one some front end words apart (``no-signature``, a request no
    SigV4-only front end would take as signed; ``both-signatures``; an
    ``invalid-session-token``). A service restates the error in its own codes by it
    (``Service.auth_error``: DynamoDB's ``UnrecognizedClientException`` ...).
    """

    code = "AccessDenied"
    status = 403

    def __init__(self, *args: Any, reason: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason = reason or self.code


def iso_basic(ts: float) -> str:
    return utc_datetime(ts).strftime("%Y%m%dT%H%M%SZ")


def _iso_ext(ts: float) -> str:
    return utc_datetime(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def unknown_access_key(access_key: str, *, s3: bool) -> AuthError:
    if s3:
        return AuthError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            fields={"AWSAccessKeyId": access_key},
        )
    return AuthError(
        "InvalidClientTokenId", "The security token included in the request is invalid.", 403
    )


def signature_mismatch(
    *,
    s3: bool,
    access_key: str = "",
    signature: str = "",
    string_to_sign: str | None = None,
    canonical_request: str | None = None,
    detail: str | None = None,
) -> AuthError:
    """``SignatureDoesNotMatch``, with what we computed so a client author can compare
    (S3: in the error's elements; ``detail`` goes only to the other services' message)."""
    if s3:
        fields: dict[str, str] = {"AWSAccessKeyId": access_key, "SignatureProvided": signature}
        if string_to_sign is not None:
            fields["StringToSign"] = string_to_sign
            fields["StringToSignBytes"] = " ".join(f"{b:02x}" for b in string_to_sign.encode())
        if canonical_request is not None:
            fields["CanonicalRequest"] = canonical_request
            fields["CanonicalRequestBytes"] = " ".join(
                f"{b:02x}" for b in canonical_request.encode()
            )
        return AuthError("SignatureDoesNotMatch", _S3_MISMATCH, 403, fields=fields)
    parts = [_MISMATCH]
    if detail is not None:
        parts.append(detail)
    if canonical_request is not None:
        parts.append(
            f"The Canonical String for this request should have been\n'{canonical_request}'"
        )
    if string_to_sign is not None:
        parts.append(f"The String-to-Sign should have been\n'{string_to_sign}'")
    return AuthError("SignatureDoesNotMatch", "\n\n".join(parts), 403)


def clock_skew(request_time: float, now: float, *, s3: bool, shown: str | None = None) -> AuthError:
    """The signed date is more than 15 minutes away from our clock."""
    if s3:
        return AuthError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            fields={
                "RequestTime": shown or iso_basic(request_time),
                "ServerTime": _iso_ext(now),
                "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
            },
        )
    shown = shown or iso_basic(request_time)
    if request_time < now:
        return AuthError(
            "RequestExpired",
            f"Signature expired: {shown} is now earlier than "
            f"{iso_basic(now - MAX_SKEW_SECONDS)} ({iso_basic(now)} - 15 min.)",
            400,
        )
    return AuthError(
        "SignatureDoesNotMatch",
        f"Signature not yet current: {shown} is still later than "
        f"{iso_basic(now + MAX_SKEW_SECONDS)} ({iso_basic(now)} + 15 min.)",
        403,
    )


def request_expired(expires_at: float, now: float, *, s3: bool, expires: str = "") -> AuthError:
    """A presigned URL (or a v2 ``Expires``/``Timestamp``) whose lifetime is over."""
    if s3:
        fields = {"Expires": _iso_ext(expires_at), "ServerTime": _iso_ext(now)}
        if expires:
            fields["X-Amz-Expires"] = expires
        return AuthError("AccessDenied", "Request has expired", 403, fields=fields)
    return AuthError("AccessDenied", "Request has expired", 403)


def query_v2_expired(expires_at: float, now: float) -> AuthError:
    """Query-protocol SigV2 ``Expires``/``Timestamp`` out of range."""
    return AuthError(
        "RequestExpired",
        f"Request has expired. Expires/Timestamp date is {_iso_ext(expires_at)}, "
        f"current date is {_iso_ext(now)}",
        400,
    )


def not_yet_valid() -> AuthError:
    return AuthError("AccessDenied", "Request is not valid yet", 403)


def missing_authentication(*, s3: bool) -> AuthError:
    if s3:
        return AuthError("AccessDenied", "Access Denied", 403)
    return AuthError("MissingAuthenticationToken", "Missing Authentication Token", 403)


def malformed(message: str, *, s3: bool, presigned: bool = False) -> AuthError:
    """The signature's own syntax is wrong (missing parts, bad algorithm, bad date)."""
    if s3:
        code = "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed"
        return AuthError(code, message, 400)
    return AuthError("IncompleteSignature", message, 400)


def headers_not_signed(names: list[str]) -> AuthError:
    """S3: headers a signature must cover and does not (``HeadersNotSigned`` names them)."""
    return AuthError(
        "AccessDenied",
        "There were headers present in the request which were not signed",
        403,
        fields={"HeadersNotSigned": ", ".join(names)},
    )


def invalid_session_token(*, s3: bool) -> AuthError:
    if s3:
        return AuthError(
            "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
        )
    return AuthError(
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
        reason="invalid-session-token",
    )


def expired_token(*, s3: bool) -> AuthError:
    """A temporary (STS) key used after its expiration."""
    if s3:
        return AuthError("ExpiredToken", "The provided token has expired.", 400)
    return AuthError("ExpiredToken", "The security token included in the request is expired", 403)


def content_sha256_mismatch(claimed: str, computed: str, *, s3: bool) -> ServiceError:
    if s3:
        return ServiceError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
            fields={
                "ClientComputedContentSHA256": claimed,
                "S3ComputedContentSHA256": computed,
            },
        )
    return signature_mismatch(s3=False, detail="The payload does not match x-amz-content-sha256.")


def incomplete_body(message: str = "") -> ServiceError:
    return ServiceError(
        "IncompleteBody",
        message
        or "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
    )


def bad_chunk(message: str) -> ServiceError:
    """aws-chunked framing that cannot be parsed."""
    return ServiceError("InvalidRequest", message, 400)
