"""POST policy uploads: an HTML form (``multipart/form-data``) POSTed to a bucket URL.

A browser uploads straight to S3 with a form the application signed in
advance (``generate_presigned_post``): the ``policy`` field is base64 JSON with
an ``expiration`` and ``conditions`` every other field must satisfy, and the
signature covers the policy (SigV4: ``x-amz-algorithm``, ``x-amz-credential``,
``x-amz-date``, ``x-amz-signature``; SigV2: ``AWSAccessKeyId``, ``signature``).
The request itself carries no ``Authorization``, so the gateway hands such a
POST here before its own authentication (``Gateway._post_form``).

Order, as S3 does it:

1. the form is read field by field up to the ``file`` field, which must come
   last (fields after it are ignored); fields are small and buffered, the file
   is not: its bytes stream from the socket into the blob store;
2. in strict mode the signature over the policy is verified (the same
   signing-key code as header signatures, ``cloudlet.auth.sigv4``) and the upload
   is authorized as the signer's PutObject (the gateway's policy check); a form
   with no signature is an anonymous PutObject, which only a bucket letting
   everyone write takes. In every mode the policy's expiry (ISO 8601 in UTC) and
   conditions are checked (``eq``, ``starts-with``, ``content-length-range``, and
   that every field is named by a condition; ``key`` with ``${filename}`` already
   replaced), with S3's ``AccessDenied`` "Invalid according to Policy: ..." wording;
3. the file streams into a blob (``content-length-range``'s maximum stops it
   as soon as it is passed: ``EntityTooLarge``; below the minimum after the
   end: ``EntityTooSmall``) through the same hashers PutObject uses
   (``checksums.py``): MD5 for the ETag and ``Content-MD5`` field, and the
   checksum an ``x-amz-checksum-<alg>`` field claims (``CRC32``, ``CRC32C``,
   ``CRC64NVME``, ``SHA1``, ``SHA256``), checked as PutObject checks the header
   of that name (``BadDigest`` "The SHA256 you specified did not match the
   calculated checksum." on a mismatch); ``x-amz-checksum-algorithm`` alone
   names the algorithm to compute, CRC64NVME by default. These fields are
   ordinary form fields: a policy must name them like any other. Then the
   object row is committed as PutObject does, with its checksum, and the
   ``s3:ObjectCreated:Post`` event goes to the bucket's notification targets
   (``notifications.py``);
4. the answer follows ``success_action_redirect`` (303 to it, with bucket, key
   and etag; one that is no absolute URL is ignored, as S3 ignores a redirect it
   cannot interpret: ``_redirect_target``), else ``success_action_status`` (200,
   201 with a ``PostResponse`` document, default 204); a claimed checksum is
   echoed in ``x-amz-checksum-<alg>``, as PutObject echoes it.

The ``tagging`` field is a ``Tagging`` XML document, as PutObjectTagging's body
(``form_tags``); the object is stored with those tags. Like every other field, a
policy must name it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from cloudlet.auth import sigv2, sigv4
from cloudlet.auth.credentials import ANONYMOUS
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.protocols.xml import BadValue, MissingValue, local_name, parse_document, shape_reader
from cloudlet.services.s3 import checksums, encryption, errors
from cloudlet.services.s3.common import S3Handlers, check_key, now, object_url
from cloudlet.services.s3.config import check_object_tags
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.objects import storage_class, user_metadata
from cloudlet.services.s3.request_checks import (
    KMS_KEY_HEADER,
    REDIRECT_HEADER,
    SSE_HEADER,
    check_encryption,
    check_redirect_location,
)
from cloudlet.services.s3.store import ObjectVersion

MAX_FIELD_BYTES = 20 * 1024
"""A non-file field's value: S3 allows 20 KB of form fields before the file."""
MAX_FIELDS_BYTES = 1024 * 1024
_MAX_PART_HEADERS = 16 * 1024

# Fields a policy need not mention (S3's list).
_EXEMPT = frozenset(
    (
        "policy",
        "x-amz-signature",
        "signature",
        "awsaccesskeyid",
        "file",
        "x-amz-security-token",
        "x-amz-s3session-token",  # a directory bucket's session (CreateSession)
        "bucket",  # always known: the bucket the form is posted to
    )
)
_EXEMPT_PREFIX = "x-ignore-"

# Form field -> stored content header (ObjectVersion field).
_CONTENT_FIELDS = (
    ("content-type", "content_type"),
    ("content-encoding", "content_encoding"),
    ("content-disposition", "content_disposition"),
    ("content-language", "content_language"),
    ("cache-control", "cache_control"),
    ("expires", "expires"),
)
# A form's encryption fields, by the request member they stand for (``encryption.py``).
_SSE_FIELDS = (
    (SSE_HEADER, "ServerSideEncryption"),
    (KMS_KEY_HEADER, "SSEKMSKeyId"),
    ("x-amz-server-side-encryption-context", "SSEKMSEncryptionContext"),
    ("x-amz-server-side-encryption-bucket-key-enabled", "BucketKeyEnabled"),
    ("x-amz-server-side-encryption-customer-algorithm", "SSECustomerAlgorithm"),
    ("x-amz-server-side-encryption-customer-key", "SSECustomerKey"),
    ("x-amz-server-side-encryption-customer-key-md5", "SSECustomerKeyMD5"),
)
# The headers an answer names an object's encryption with, by output member.
_SSE_HEADERS = {
    "ServerSideEncryption": SSE_HEADER,
    "SSEKMSKeyId": KMS_KEY_HEADER,
    "BucketKeyEnabled": "x-amz-server-side-encryption-bucket-key-enabled",
    "SSECustomerAlgorithm": "x-amz-server-side-encryption-customer-algorithm",
    "SSECustomerKeyMD5": "x-amz-server-side-encryption-customer-key-MD5",
}

_MAX_LENGTH = 2**63 - 1
"""The largest ``content-length-range`` bound: S3 reads them as (signed 64-bit) longs."""

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def is_post_form(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/form-data")


# -- errors ---------------------------------------------------------------------------


def _denied(message: str) -> ServiceError:
    return errors.s3_error("AccessDenied", message, 403)


def _policy_failed(reason: str) -> ServiceError:
    return _denied(f"Invalid according to Policy: {reason}")


def _invalid_policy(reason: str) -> ServiceError:
    return errors.s3_error("InvalidPolicyDocument", f"Invalid Policy: {reason}", 400)


def _malformed() -> ServiceError:
    return errors.s3_error(
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
        400,
    )


def _missing_field(name: str) -> ServiceError:
    return errors.invalid_argument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check "
        "the order of the fields.",
        name,
        "",
    )


def _no_file() -> ServiceError:
    """A form without a ``file`` field (before the others' checks).

    Real S3's answer, as users got it from AWS (GitHub react-native-fs#992,
    ng-file-upload#809): ``InvalidArgument`` "POST requires exactly one file upload
    per request.", ``ArgumentName`` ``file``, ``ArgumentValue`` the number of files (0).
    The "Bucket POST must contain a field named ..." wording is S3's for the other
    fields (``key``) only.
    """
    return errors.invalid_argument("POST requires exactly one file upload per request.", "file", 0)


def _entity_too_small(size: int, minimum: int) -> ServiceError:
    return errors.s3_error(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        400,
        ProposedSize=size,
        MinSizeAllowed=minimum,
    )


# -- the form ---------------------------------------------------------------------------


def form_boundary(content_type: str) -> bytes:
    params = _header_params(content_type)
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 200:
        raise _malformed()
    return boundary.encode("latin-1")


def _header_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _PARAM.finditer(value):
        name = m.group(1).lower()
        out[name] = m.group(2) if m.group(2) is not None else m.group(3).strip()
    return out


class FormReader:
    """``multipart/form-data`` read from a byte stream, one part at a time.

    Memory is bounded: a part's body is handed on in the pieces that arrive
    (less a delimiter's length kept back, in case one straddles two pieces).
    """

    def __init__(self, stream: AsyncIterable[bytes], boundary: bytes) -> None:
        self._pieces = stream.__aiter__()
        # A leading CRLF makes the first delimiter look like every other one.
        self._buf = bytearray(b"\r\n")
        self._delim = b"\r\n--" + boundary
        self._eof = False
        self._started = False

    async def _more(self) -> bool:
        if self._eof:
            return False
        try:
            piece = await self._pieces.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        self._buf += piece
        return True

    async def next_part(self) -> dict[str, str] | None:
        """The next part's headers (lower-case names), or None after the last part."""
        if not self._started:
            self._started = True
            async for _ in self.body():  # the preamble
                pass
        buf = self._buf
        while len(buf) < 2:
            if not await self._more():
                raise _malformed()
        if buf[:2] == b"--":
            return None
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_PART_HEADERS or not await self._more():
                raise _malformed()
        head = bytes(buf[:end]).decode("utf-8", "replace")
        del buf[: end + 4]
        headers: dict[str, str] = {}
        for line in head.split("\r\n")[1:]:  # the first line ends the delimiter
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return headers

    async def body(self) -> AsyncIterator[bytes]:
        """The current part's bytes, up to (and consuming) the next delimiter."""
        buf, delim = self._buf, self._delim
        keep = len(delim) - 1
        while True:
            at = buf.find(delim)
            if at >= 0:
                if at:
                    yield bytes(buf[:at])
                del buf[: at + len(delim)]
                return
            if len(buf) > keep:
                out = bytes(buf[:-keep])
                del buf[:-keep]
                yield out
            if not await self._more():
                raise _malformed()

    async def read(self, limit: int) -> bytes:
        out = bytearray()
        async for piece in self.body():
            out += piece
            if len(out) > limit:
                raise errors.s3_error(
                    "MaxPostPreDataLengthExceeded",
                    "Your POST request fields preceeding the upload file was too large.",
                    400,
                    MaxPostPreDataLength=limit,
                )
        return bytes(out)

    async def drain(self) -> None:
        """Read (and ignore) what follows the file field, so the connection stays usable."""
        while await self._more():
            self._buf.clear()


def form_checksum(fields: dict[str, str]) -> tuple[checksums.RequestChecksum | None, str]:
    """The checksum a form claims, and the algorithm to compute while the file streams.

    ``x-amz-checksum-<alg>`` fields are read exactly as PutObject reads the
    headers of those names (``checksums.request_checksum``: one at most, a
    well-formed value); ``x-amz-checksum-algorithm``, if present, must name
    the same algorithm, and alone it chooses the algorithm S3 computes and
    stores (a form cannot carry a trailer).
    """
    claimed = {name: value for name, value in fields.items() if name.startswith("x-amz-checksum-")}
    claim = checksums.request_checksum(claimed)
    algorithm = checksums.parse_algorithm(fields.get("x-amz-checksum-algorithm"))
    if claim is not None:
        if algorithm is not None and algorithm != claim.algorithm:
            raise errors.invalid_request("Value for x-amz-checksum-algorithm header is invalid.")
        return claim, claim.algorithm
    return None, algorithm or checksums.DEFAULT_ALGORITHM


def part_name(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """A part's field name and file name, from its Content-Disposition."""
    disposition = headers.get("content-disposition", "")
    params = _header_params(disposition)
    return params.get("name"), params.get("filename")


def form_tags(text: str, service_model: Any) -> list[dict[str, str]]:
    """The ``tagging`` field: a ``Tagging`` document, as PutObjectTagging's body.

    The AWS POST Object reference documents the field as
    ``<Tagging><TagSet><Tag><Key>..</Key><Value>..</Value></Tag>..</TagSet></Tagging>``.
    It is read with PutObjectTagging's own ``Tagging`` shape (botocore's model, as the
    rest-xml codec reads that body), so what is not well-formed, another root element
    or a missing ``TagSet``/``Key``/``Value`` is S3's ``MalformedXML``; the tags then
    follow PutObjectTagging's rules (``check_object_tags``: ``InvalidTag``).
    """
    shape = service_model.operation_model("PutObjectTagging").input_shape.members["Tagging"]
    try:
        root = parse_document(text.encode("utf-8"))
        if local_name(root.tag) != "Tagging":
            raise BadValue("The XML document's root element must be Tagging")
        tagging = shape_reader(shape).read(root)
    except (BadValue, MissingValue):
        raise errors.malformed_xml() from None
    return check_object_tags(tagging.get("TagSet") or [])


# -- the policy -----------------------------------------------------------------------


def decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        doc = json.loads(base64.b64decode(policy_b64.encode("ascii"), validate=False))
    except (binascii.Error, ValueError, UnicodeError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise _invalid_policy("Invalid JSON.")
    if "expiration" not in doc:
        raise _invalid_policy("Policy missing expiration.")
    if "conditions" not in doc:  # the member names are case-sensitive: "CONDITIONS" is none
        raise _invalid_policy("Policy missing conditions.")
    if not isinstance(doc["conditions"], list):
        raise _invalid_policy("Invalid JSON.")
    return doc


def _parse_expiration(value: Any) -> float:
    """ISO 8601 in UTC, as the POST policy reference writes it (``2007-12-01T12:00:00.000Z``):
    another form of the date (a space for the ``T``, an offset, no ``Z``) is refused."""
    if not isinstance(value, str):
        raise _invalid_policy("Invalid 'expiration' value: must be a string.")
    if _EXPIRATION.fullmatch(value) is None:
        raise _invalid_policy(f"Invalid 'expiration' value: '{value}'")
    try:
        when = datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise _invalid_policy(f"Invalid 'expiration' value: '{value}'") from None
    return when.timestamp()


def _length_range(cond: list[Any]) -> tuple[int, int]:
    """``["content-length-range", min, max]``: two whole numbers of bytes from 0 to 2^63-1
    (JSON numbers or digit strings); anything else (a fraction, ``Infinity``, ``NaN``, a
    number past a long, a boolean) is an invalid policy."""
    if len(cond) != 3:
        raise _invalid_policy("Invalid content-length-range: expected two numbers.")
    low, high = (_length_bound(v) for v in cond[1:])
    if low is None or high is None:
        raise _invalid_policy("Invalid content-length-range.")
    return low, high


def _length_bound(value: Any) -> int | None:
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() else None
    elif type(value) is float and value.is_integer():  # 10.0; never inf or nan
        value = int(value)
    if type(value) is not int or not 0 <= value <= _MAX_LENGTH:
        return None
    return value


def check_policy(
    doc: dict[str, Any], fields: dict[str, str], *, at: float
) -> tuple[int | None, int | None]:
    """Expiry and conditions against the form; returns ``content-length-range``'s bounds."""
    if _parse_expiration(doc["expiration"]) < at:
        raise _policy_failed("Policy expired.")
    named: set[str] = set()
    low: int | None = None
    high: int | None = None
    for cond in doc.get("conditions") or []:
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise _invalid_policy("Invalid Condition: each object must have one member.")
            ((name, expected),) = cond.items()
            name = name.lower().lstrip("$")
            named.add(name)
            if fields.get(name) != str(expected):
                raise _policy_failed(f'Policy Condition failed: ["eq", "${name}", "{expected}"]')
            continue
        if not isinstance(cond, list) or not cond:
            raise _invalid_policy("Invalid Condition.")
        op = str(cond[0]).lower()
        if op == "content-length-range":
            low, high = _length_range(cond)
            continue
        if len(cond) != 3 or not isinstance(cond[1], str) or not cond[1].startswith("$"):
            raise _invalid_policy(f"Invalid Condition: {json.dumps(cond)}")
        name = cond[1][1:].lower()
        expected = str(cond[2])
        named.add(name)
        actual = fields.get(name, "")
        if op == "eq":
            ok = actual == expected
        elif op == "starts-with":
            if name == "content-type":
                ok = all(v.strip().startswith(expected) for v in actual.split(","))
            else:
                ok = actual.startswith(expected)
        else:
            raise _invalid_policy(f"Invalid Condition: unknown operation {cond[0]!r}")
        if not ok:
            raise _policy_failed(f'Policy Condition failed: ["{op}", "${name}", "{expected}"]')
    extra = [
        name
        for name in fields
        if name not in named and name not in _EXEMPT and not name.startswith(_EXEMPT_PREFIX)
    ]
    if extra:
        raise _policy_failed(f"Extra input fields: {', '.join(extra)}")
    return low, high


# -- the signature ----------------------------------------------------------------------


def access_key_of(fields: dict[str, str]) -> str | None:
    credential = fields.get("x-amz-credential")
    if credential:
        return credential.split("/", 1)[0]
    return fields.get("awsaccesskeyid")


_EXPIRATION = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
_V2_FIELDS = ("awsaccesskeyid", "signature")


def _authorize(
    ctx: Any,
    authorize: Callable[[Any], None] | None,
    principal: Any,
    bucket: str,
    fields: dict[str, str],
) -> None:
    """Strict mode: the upload is a PutObject by ``principal``, refused as one (an
    anonymous caller may write only where the bucket's policy or ACL lets everyone)."""
    ctx.principal = principal
    ctx.account_id = principal.account_id
    params: dict[str, Any] = {"Bucket": bucket, "Key": fields["key"]}
    for name, member in (("acl", "ACL"), ("tagging", "Tagging")):
        if name in fields:
            params[member] = fields[name]
    ctx.params = params
    if authorize is None:
        raise _denied("Access Denied")
    authorize(ctx)


def _check_signature_fields(fields: dict[str, str]) -> None:
    """Before the key is looked up, a form with some SigV4 fields is named the first
    SigV4 field it lacks (LocalStack's AWS-recorded ``test_post_request_missing_fields``:
    ``exception-missing-fields[s3v4]``). One with none is anonymous (``post_object``)."""
    if any(name in fields for name in _V4_FIELDS):
        for name in ("X-Amz-Algorithm", "X-Amz-Credential"):  # as S3 names them
            if name.lower() not in fields:
                raise _missing_field(name)


def verify_signature(fields: dict[str, str], secret: str) -> None:
    """The form's signature over its base64 policy (SigV4 or SigV2)."""
    policy = fields.get("policy", "")
    if "x-amz-signature" in fields or "x-amz-algorithm" in fields:
        if "x-amz-algorithm" not in fields:
            raise _missing_field("X-Amz-Algorithm")
        algorithm = fields["x-amz-algorithm"]
        if algorithm != "AWS4-HMAC-SHA256":
            raise errors.invalid_argument(
                "Only AWS4-HMAC-SHA256 is supported", "X-Amz-Algorithm", algorithm
            )
        parts = fields.get("x-amz-credential", "").split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise errors.invalid_argument(
                "Error parsing the X-Amz-Credential parameter",
                "X-Amz-Credential",
                fields.get("x-amz-credential", ""),
            )
        for name in ("X-Amz-Date", "X-Amz-Signature"):  # as S3 names them
            if name.lower() not in fields:
                raise _missing_field(name)
        _, date, region, service, _ = parts
        expected = sigv4.hmac_hex(sigv4.signing_key(secret, date, region, service), policy)
    else:
        if "signature" not in fields:
            raise _missing_field("Signature")
        expected = sigv2._b64_hmac(secret, policy, "sha1")
    provided = fields.get("x-amz-signature") or sigv2._base64_param(fields.get("signature", ""))
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise errors.s3_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
            AWSAccessKeyId=access_key_of(fields),
            StringToSign=policy,
            SignatureProvided=provided,
        )


# -- the handler ----------------------------------------------------------------------


async def _limited(source: AsyncIterable[bytes], high: int | None) -> AsyncIterator[bytes]:
    """The file's bytes; past ``content-length-range``'s maximum: ``EntityTooLarge`` at once."""
    size = 0
    async for piece in source:
        size += len(piece)
        if high is not None and size > high:
            raise errors.entity_too_large(size, high)
        yield piece


async def post_object(
    service: S3Handlers,
    ctx: Any,
    stream: AsyncIterable[bytes],
    *,
    bucket_name: str,
    strict: bool,
    credentials: Any,
    authorize: Callable[[Any], None] | None = None,
) -> HttpResponse:
    """Handle one form POST to ``bucket_name``; the gateway has routed it here.
    ``authorize(ctx)``, strict mode's policy check, decides whether the form's signer
    (or, unsigned, an anonymous caller) may do the PutObject ``ctx`` then describes."""
    headers = ctx.request.headers
    reader = FormReader(stream, form_boundary(headers.get("content-type", "")))
    fields: dict[str, str] = {}
    total = 0
    file_headers: dict[str, str] | None = None
    filename = ""
    while (part := await reader.next_part()) is not None:
        name, part_filename = part_name(part)
        if name is None:
            raise _malformed()
        if name.lower() == "file":
            file_headers, filename = part, part_filename or ""
            break
        value = await reader.read(MAX_FIELD_BYTES)
        total += len(value)
        if total > MAX_FIELDS_BYTES:
            raise _malformed()
        fields[name.lower()] = value.decode("utf-8", "replace")
    if file_headers is None:
        raise _no_file()

    bucket = service._bucket(bucket_name)
    fields["bucket"] = bucket.name
    if "key" not in fields:
        raise _missing_field("key")
    raw_key = fields["key"]
    key = raw_key.replace("${filename}", filename.replace("\\", "/").rsplit("/", 1)[-1])
    check_key(key)
    fields["key"] = key  # the policy's conditions see the key the object gets

    principal = credentials.principal_for(access_key_of(fields))
    signed = "policy" in fields and any(name in fields for name in _V4_FIELDS + _V2_FIELDS)
    if strict and not signed:
        # No signature over a policy: an anonymous upload, which only a bucket that
        # lets everyone write takes (its policy or ACL), before anything else is checked.
        principal = ANONYMOUS
        _authorize(ctx, authorize, principal, bucket.name, fields)
    if "policy" in fields:
        if strict and signed:
            _check_signature_fields(fields)
            access_key = access_key_of(fields)
            entry = credentials.key(access_key) if access_key else None
            if access_key is None:
                raise _missing_field("AWSAccessKeyId")
            if entry is None:
                raise errors.s3_error(
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                    403,
                    AWSAccessKeyId=access_key,
                )
            token = fields.get("x-amz-security-token") or fields.get("x-amz-s3session-token")
            if entry.session_token is not None and token != entry.session_token:
                raise errors.s3_error(
                    "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
                )
            verify_signature(fields, entry.secret_key)
            session = service._live.get(access_key)  # type: ignore[attr-defined]
            if session is not None:  # a directory bucket's session key
                service._check_session(ctx, session, bucket.name)  # type: ignore[attr-defined]
            principal = entry.principal
        doc = decode_policy(fields["policy"])
        low, high = check_policy(doc, fields, at=clock.time())
    else:
        low = high = None
    if strict and signed:
        _authorize(ctx, authorize, principal, bucket.name, fields)

    meta = user_metadata(
        {
            "Metadata": {
                k[len("x-amz-meta-") :]: v for k, v in fields.items() if k.startswith("x-amz-meta-")
            }
        },
        headers=False,
    )
    klass = storage_class(fields.get("x-amz-storage-class"), directory=is_directory(bucket))
    tags = form_tags(fields["tagging"], ctx.service_model) if "tagging" in fields else []
    check_encryption(fields.get(SSE_HEADER), fields.get(KMS_KEY_HEADER))
    sse_params = {member: fields[name] for name, member in _SSE_FIELDS if name in fields}
    if "BucketKeyEnabled" in sse_params:
        sse_params["BucketKeyEnabled"] = sse_params["BucketKeyEnabled"].lower() == "true"
    sse_extra: dict[str, Any] = {}
    sse = service._new_encryption(  # type: ignore[attr-defined]
        principal, bucket, key, sse_params, "s3:PutObject", sse_extra
    )
    content: dict[str, Any] = {attr: fields.get(name) for name, attr in _CONTENT_FIELDS}
    # Expires is kept as sent, as PutObject's header is (store.py).
    content["website_redirect"] = fields.get(REDIRECT_HEADER)
    if content["website_redirect"] is not None:
        check_redirect_location(content["website_redirect"])
    status = fields.get("success_action_status")
    redirect = fields.get("success_action_redirect") or fields.get("redirect")

    expected_md5 = checksums.content_md5(fields)  # the Content-MD5 field, as the header
    claim, algorithm = form_checksum(fields)
    hasher = checksums.new_hasher(algorithm)
    limit = errors.MAX_SINGLE_PUT if high is None else min(high, errors.MAX_SINGLE_PUT)
    blob = await service.blobs.write(
        _limited(reader.body(), limit), hashers=(hasher,), max_size=None
    )
    try:
        if low is not None and blob.size < low:
            raise _entity_too_small(blob.size, low)
        await reader.drain()
        checksums.verify_content_md5(expected_md5, blob.md5)
        value = claim.verify(hasher, {}) if claim is not None else hasher.b64()
        bucket = service._bucket(bucket.name)
        extra = {**service._default_extra(bucket), **sse_extra}  # type: ignore[attr-defined]
        if tags:
            extra["tags"] = tags
        version = ObjectVersion(
            bucket=bucket.name,
            key=key,
            version_id=service._version_for_write(bucket),
            last_modified=now(),
            owner=principal.account_id,
            size=blob.size,
            etag=encryption.object_etag(sse, blob.etag),
            blob_id=blob.id,
            storage_class=klass,
            metadata=meta,
            checksums={algorithm: value},
            checksum_type=checksums.FULL_OBJECT,
            # What every new object gets from its bucket (default retention) and
            # the form's tags; its own object-lock fields are not applied yet.
            extra=extra,
            **content,
        )
        stored, dropped = service.store.put_version(version)
    except BaseException:
        service.blobs.delete(blob.id)
        raise
    service._drop_blobs(dropped)
    notify = getattr(service, "_notify_created", None)  # the notification mixin's hook
    if notify is not None:
        version_id = service._version_header(bucket, stored.version_id)  # None: unversioned
        notify(ctx, bucket.name, key, {"VersionId": version_id}, "Post")
    replicate = getattr(service, "_replicate_created", None)  # the replication mixin's hook
    if replicate is not None:
        replicate(bucket.name, key, stored.version_id)
    echoed = "x-amz-checksum-algorithm" in fields or claim is not None
    return _answer(ctx, bucket.name, key, stored, status, redirect, service, echoed)


def _redirect_target(redirect: str, bucket: str, key: str, etag: str) -> str | None:
    """``success_action_redirect`` with the bucket, key and ETag added to its query, or
    None when S3 cannot interpret it.

    The AWS POST Object reference: "If Amazon S3 cannot interpret the URL, it acts as
    if the field is not present", so ``success_action_status`` (or 204) answers
    instead. What S3 can interpret is an absolute URL, with a scheme and a host:
    the redirect sends the browser away from S3 to the form author's page, and
    anything else (``invalid-url``, ``/done``, ``//host/x``, ``mailto:x``) is a
    relative reference that would resolve against the bucket's own endpoint, or
    names no host to go to. A value no URL parser accepts (``http://[::1``) is
    not interpreted either.
    """
    try:
        parts = urlsplit(redirect)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    extra = urlencode({"bucket": bucket, "key": key, "etag": etag})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _answer(
    ctx: Any,
    bucket: str,
    key: str,
    stored: ObjectVersion,
    status: str | None,
    redirect: str | None,
    service: S3Handlers,
    checksum: bool = False,
) -> HttpResponse:
    location = object_url(ctx, bucket, key)
    headers = [
        ("ETag", stored.etag or ""),
        ("Location", location),
        ("x-amz-request-id", ctx.request_id),
    ]
    if checksum:
        for algorithm, value in stored.checksums.items():
            headers.append((checksums.header_name(algorithm), value))
        headers.append(("x-amz-checksum-type", stored.checksum_type or checksums.FULL_OBJECT))
    for member, value in encryption.result(stored.extra.get("sse")).items():
        headers.append((_SSE_HEADERS[member], "true" if value is True else value))
    version = service._version_header(service._bucket(bucket), stored.version_id)
    if version is not None:
        headers.append(("x-amz-version-id", version))
    target = _redirect_target(redirect, bucket, key, stored.etag or "") if redirect else None
    if target is not None:
        headers = [h for h in headers if h[0] != "Location"]
        headers.append(("Location", target))
        return HttpResponse(303, headers, b"")
    if status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape(location)}</Location><Bucket>{escape(bucket)}</Bucket>"
            f"<Key>{escape(key)}</Key><ETag>{escape(stored.etag or '')}</ETag></PostResponse>"
        ).encode()
        headers.append(("Content-Type", "application/xml"))
        return HttpResponse(201, headers, body)
    if status == "200":
        return HttpResponse(200, headers, b"")
    return HttpResponse(204, headers, b"")
