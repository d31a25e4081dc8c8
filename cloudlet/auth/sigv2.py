"""Signature Version 2: S3's HmacV1 (boto 2) and the query services' SigV2.

Old programs still sign this way: boto 2 talks to S3 with
``Authorization: AWS key:base64(hmac-sha1(StringToSign))`` and to EC2, SQS,
SimpleDB and friends with ``SignatureVersion=2`` query parameters. Both are
verified here from the bytes that arrived.

S3's string to sign names the bucket even for virtual-hosted requests
(``bucket.host/key`` signs ``/bucket/key``). The authenticator runs before the
gateway decides which host names are buckets, so the bucket is tried both
ways: from the path, and from each leading part of the Host header. Likewise
the sub-resource list grew over the years and clients differ on which
parameters they sign, so the newer names are tried in and out. Each candidate
is a full HMAC over what was received.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from cloudlet.auth import errors
from cloudlet.auth.scope import Scope, SignatureKind, form_params
from cloudlet.auth.sigv4 import parse_amz_date, parse_http_date
from cloudlet.protocols.base import HttpRequest

# Sub-resources every SigV2 client signs (AWS's RESTAuthentication list).
_CORE_SUBRESOURCES = frozenset(
    """acl cors delete lifecycle location logging notification partNumber policy
    requestPayment restore tagging torrent uploadId uploads versionId versioning versions
    website response-cache-control response-content-disposition response-content-encoding
    response-content-language response-content-type response-expires""".split()
)
# Later additions that some clients sign and others do not.
_NEWER_SUBRESOURCES = frozenset(
    """accelerate analytics inventory metrics replication select select-type object-lock
    storageClass defaultObjectAcl encryption legal-hold retention intelligent-tiering
    ownershipControls publicAccessBlock policyStatus""".split()
)
_ALL_SUBRESOURCES = _CORE_SUBRESOURCES | _NEWER_SUBRESOURCES


def _b64_hmac(secret: str, message: str, digest: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def _base64_param(value: str) -> str:
    """A base64 signature from a form-decoded parameter: an unescaped ``+`` became a space."""
    return value.replace(" ", "+")


def _same(expected: str, provided: str) -> bool:
    return hmac.compare_digest(expected.encode(), provided.encode())


# -- S3 (HmacV1) ------------------------------------------------------------------------


def _subresources(query: str, allowed: frozenset[str], *, bare_empty: bool = False) -> str:
    """The canonical resource's sub-resources; ``bare_empty`` writes ``uploads=`` as
    ``uploads``, as signers do that build URLs with ``=`` (Go's url.Values) but sign
    the name alone (minio-go's SigV2 signer, which S3 accepts)."""
    picked: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if name in allowed:
            picked.append((name, unquote(value) if eq and (value or not bare_empty) else None))
    if not picked:
        return ""
    picked.sort(key=lambda kv: kv[0])
    return "?" + "&".join(name if value is None else f"{name}={value}" for name, value in picked)


def _host_buckets(host: str) -> list[str]:
    """Leading label runs of the Host header that could be a virtual-hosted bucket."""
    if host.startswith("["):
        return []
    name = host.rpartition(":")[0] if ":" in host else host
    labels = name.split(".")
    if len(labels) < 2 or all(label.isdigit() for label in labels):
        return []
    return [".".join(labels[:i]) for i in range(1, len(labels))]


def s3_strings_to_sign(req: HttpRequest, *, expires: str | None = None) -> Iterator[str]:
    """Candidate S3 v2 strings to sign, the AWS-documented form first.

    ``expires`` is the presigned URL's ``Expires`` (it takes the Date line).
    """
    presigned = expires is not None
    query_params = req.query_params if presigned else {}

    def header(name: str) -> str:
        value = req.headers.get(name)
        if value is None and presigned:
            values = query_params.get(name) or query_params.get(name.title())
            value = values[0] if values else None
        return "" if value is None else value.strip()

    amz: dict[str, list[str]] = {}
    pairs = req.raw_headers or list(req.headers.items())
    for name, value in pairs:
        lname = name.lower()
        if lname.startswith("x-amz-"):
            amz.setdefault(lname, []).append(value.strip())
    if presigned:
        for name, values in query_params.items():
            lname = name.lower()
            if lname.startswith("x-amz-") and lname not in amz:
                amz[lname] = [v.strip() for v in values]
    amz_lines = "".join(f"{name}:{','.join(amz[name])}\n" for name in sorted(amz))

    if presigned:
        dates = [expires or ""]
    elif "x-amz-date" in amz:
        dates = ["", header("date")]  # AWS blanks Date; botocore signs it anyway
    else:
        dates = [header("date")]
    head = f"{req.method.upper()}\n{header('content-md5')}\n{header('content-type')}\n"

    path = req.signed_path or req.path or "/"
    resources = [path] + [
        f"/{bucket}{path}" for bucket in _host_buckets(req.headers.get("host", ""))
    ]
    if path.count("/") == 1 and len(path) > 1:  # "/bucket": botocore signs "/bucket/"
        resources.append(path + "/")
    subresource_sets = [_subresources(req.query, _ALL_SUBRESOURCES)]
    core = _subresources(req.query, _CORE_SUBRESOURCES)
    if core != subresource_sets[0]:
        subresource_sets.append(core)
    if "=&" in req.query or req.query.endswith("="):
        for sub in list(subresource_sets):
            bare = _subresources(
                req.query,
                _ALL_SUBRESOURCES if sub == subresource_sets[0] else _CORE_SUBRESOURCES,
                bare_empty=True,
            )
            if bare not in subresource_sets:
                subresource_sets.append(bare)

    for date in dict.fromkeys(dates):
        for sub in subresource_sets:
            for resource in resources:
                yield f"{head}{date}\n{amz_lines}{resource}{sub}"


def verify_s3(req: HttpRequest, scope: Scope, secret: str, *, now: float) -> None:
    """Verify ``Authorization: AWS key:sig`` or an S3 v2 presigned URL; raise on failure."""
    expires: str | None = None
    if scope.kind is SignatureKind.S3_V2_QUERY:
        values = req.query_params.get("Expires")
        expires = values[0] if values else ""
        try:
            expires_at: int | None = int(expires)
        except ValueError:
            expires_at = None
        # A missing Signature too (AWS-recorded test_s3_put_presigned_url_missing_sig_param).
        if expires_at is None or not scope.signature:
            raise errors.AuthError(
                "AccessDenied",
                "Query-string authentication requires the Signature, "
                "Expires and AWSAccessKeyId parameters",
            )
        if now > expires_at:
            raise errors.request_expired(expires_at, now, s3=True)
    else:
        _check_s3_date(req, now)

    provided = _base64_param(scope.signature)
    first: str | None = None
    for sts in s3_strings_to_sign(req, expires=expires):
        if first is None:
            first = sts
        if _same(_b64_hmac(secret, sts, "sha1"), provided):
            return
    raise errors.signature_mismatch(
        s3=True, access_key=scope.access_key, signature=provided, string_to_sign=first
    )


def _check_s3_date(req: HttpRequest, now: float) -> None:
    """``x-amz-date``, or ``Date`` without it: a valid date near the server's clock. An
    empty ``x-amz-date`` is no reason to read ``Date``, and a date before 1970 is no
    valid date (ceph/s3-tests' ``*_bad_date_*_aws2``: 403 AccessDenied)."""
    headers = req.headers
    value = headers["x-amz-date"] if "x-amz-date" in headers else headers.get("date")
    when = None
    if value:
        when = parse_http_date(value)
        if when is None:
            when = parse_amz_date(value.strip())
    if when is None or when < 0:
        raise errors.AuthError(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        )
    if abs(now - when) > errors.MAX_SKEW_SECONDS:
        raise errors.clock_skew(when, now, s3=True, shown=value)


# -- query services (SignatureVersion=2) ----------------------------------------------------


def query_v2_params(req: HttpRequest, scope: Scope) -> dict[str, str]:
    """The signed parameters: the query string (GET) or the form body (POST)."""
    if scope.kind is SignatureKind.V2_FORM:
        return form_params(req.body)
    return {name: values[-1] for name, values in req.query_params.items()}


def query_string_to_sign(req: HttpRequest, params: dict[str, str], host: str) -> str:
    canonical = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(params.items())
        if name != "Signature"
    )
    return f"{req.method.upper()}\n{host}\n{req.path or '/'}\n{canonical}"


def verify_query(
    req: HttpRequest, scope: Scope, secret: str, *, now: float, params: dict[str, str]
) -> None:
    """Verify query-protocol SigV2; raise on failure."""
    version = params.get("SignatureVersion")
    if version != "2":
        raise errors.malformed(f"Signature version {version} is not supported.", s3=False)
    method = params.get("SignatureMethod", "HmacSHA256")
    digest = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}.get(method)
    if digest is None:
        raise errors.malformed(f"Invalid SignatureMethod: {method}", s3=False)

    if "Expires" in params:
        expires_at = _parse_iso(params["Expires"])
        if expires_at is None:
            raise errors.malformed("Invalid Expires parameter.", s3=False)
        if now > expires_at:
            raise errors.query_v2_expired(expires_at, now)
    else:
        stamp = _parse_iso(params.get("Timestamp", ""))
        if stamp is None:
            raise errors.malformed(
                "Request must contain either a valid (ISO 8601) Timestamp or Expires parameter.",
                s3=False,
            )
        if abs(now - stamp) > errors.MAX_SKEW_SECONDS:
            raise errors.query_v2_expired(stamp + errors.MAX_SKEW_SECONDS, now)

    host = req.headers.get("host", "").lower()
    hosts = [host]
    if ":" in host and not host.endswith("]"):
        hosts.append(host.rpartition(":")[0])
    provided = _base64_param(params.get("Signature", ""))
    first: str | None = None
    for candidate in hosts:
        sts = query_string_to_sign(req, params, candidate)
        first = first or sts
        if _same(_b64_hmac(secret, sts, digest), provided):
            return
    raise errors.signature_mismatch(
        s3=False, access_key=scope.access_key, signature=provided, string_to_sign=first
    )


def _parse_iso(value: str) -> float | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
