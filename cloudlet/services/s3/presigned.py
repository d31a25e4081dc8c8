"""``x-amz-*`` query parameters of a presigned request, read as the headers they stand for.

Why: SDKs presign a PutObject's metadata, tagging, ACL, storage class and
encryption settings by moving ("hoisting") those headers into the URL's query,
where the signature covers them and the browser or ``curl`` that later uses the
URL need not know them (the JavaScript SDK v3 presigner, the v2 SDK's SigV2
``s3`` signer, Go's v1 SDK, a middleware the Go v2 maintainers suggest). S3
applies them as if sent as headers: an AWS SDK maintainer found the object
"uploaded with the metadata" from such a URL (aws/aws-sdk-js-v3#4694). Before,
cloudlet verified their signature and then ignored them, so the object lost its
metadata and tags.

Not hoisted:

- the signature's own parameters (``X-Amz-Algorithm``, ``X-Amz-Credential``, ...);
- checksums (``x-amz-checksum-*``, ``x-amz-sdk-checksum-algorithm``): S3 ignores
  them in a presigned URL (aws/aws-sdk-go-v2#2610: a PUT whose body did not
  match the URL's SHA-256 was stored, with "Additional checksums: Off"; LocalStack's
  maintainers found the same, localstack#12169). The JavaScript SDK v3 puts the
  CRC32 of an empty body into every presigned PutObject, so checking it would
  refuse every upload through such a URL;
- a parameter whose header the request also sends: the header wins.

Only requests signed in the query (SigV4 ``X-Amz-Signature``, SigV2 ``Signature``)
are read this way.
"""

from __future__ import annotations

from cloudlet.protocols.base import HttpRequest

_SIGNATURE_PARAMS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-content-sha256",
    }
)


def hoist_query_headers(request: HttpRequest) -> None:
    """Add the presigned request's ``x-amz-*`` query parameters to its headers
    (``headers`` and ``raw_headers``), where no header of that name was sent."""
    query = request.query
    if "x-amz-" not in query.lower():
        return
    params = request.query_params
    if "X-Amz-Signature" not in params and "Signature" not in params:
        return
    headers = request.headers
    for name, values in params.items():
        lower = name.lower()
        if (
            not lower.startswith("x-amz-")
            or lower in _SIGNATURE_PARAMS
            or lower.startswith(("x-amz-checksum-", "x-amz-sdk-checksum-"))
            or lower in headers
        ):
            continue
        value = ",".join(values)
        headers[lower] = value
        request.raw_headers.append((name, value))
