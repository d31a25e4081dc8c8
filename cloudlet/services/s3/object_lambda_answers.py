"""S3 Object Lambda: what a function's answer becomes (``object_lambda_requests.py``).

GetObject's answer is the function's WriteGetObjectResponse: its members are GetObject's
output members of the same names (``x-amz-fwd-header-*`` on the wire), its body relayed
as it arrives. HeadObject's, ListObjects' and ListObjectsV2's answer is the function's
return value, in the shape the user guide's "Writing Lambda functions for S3 Object
Lambda Access Points" gives: ``statusCode``, ``errorCode``/``errorMessage``, ``headers``
(HeadObject), ``listBucketResult`` or ``listResultXml`` (the lists). Anything else is
``LambdaInvalidResponse``; the error codes are S3's for Object Lambda.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors

Result = dict[str, Any]


def _lambda_error(code: str, message: str, status: int) -> ServiceError:
    return errors.s3_error(code, message, status)


def not_found() -> ServiceError:
    return _lambda_error("LambdaNotFound", "The requested lambda resource does not exist.", 404)


def invocation_failed() -> ServiceError:
    return _lambda_error("LambdaInvocationFailed", "The object lambda invocation failed.", 400)


def no_response() -> ServiceError:
    return _lambda_error(
        "LambdaResponseNotReceived", "No response was received from the object lambda.", 500
    )


def invalid_response() -> ServiceError:
    return _lambda_error(
        "LambdaInvalidResponse", "The object lambda returned an invalid response.", 400
    )


async def _relay(body: Any, relayed: asyncio.Event) -> AsyncIterator[bytes]:
    """WriteGetObjectResponse's body, piece by piece, to the GetObject caller."""
    try:
        if body is None:
            return
        if isinstance(body, bytes | bytearray):
            yield bytes(body)
            return
        async for piece in body:
            yield piece
    finally:
        relayed.set()


def get_object_output(answer: Result, relayed: asyncio.Event) -> Result:
    """GetObject's output from WriteGetObjectResponse's members (an error when the
    function answered one)."""
    status = answer.get("StatusCode") or 200
    if answer.get("ErrorCode") or status >= 400:
        relayed.set()
        raise errors.s3_error(
            answer.get("ErrorCode") or "InvalidRequest",
            answer.get("ErrorMessage") or "",
            status if status >= 400 else 400,
        )
    out = {
        name: value
        for name, value in answer.items()
        if name not in ("RequestRoute", "RequestToken", "StatusCode", "Body", "ErrorCode")
        and name != "ErrorMessage"
        and value is not None
    }
    if status != 200:
        out[HTTP_STATUS] = status
    out["Body"] = _relay(answer.get("Body"), relayed)
    return out


def returned(action: str, result: Any) -> Result:
    """HeadObject's, ListObjects' or ListObjectsV2's output from the function's result."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise invalid_response()
    status = result["statusCode"]
    if result.get("errorCode") or status >= 400:
        raise errors.s3_error(
            str(result.get("errorCode") or "InvalidRequest"),
            str(result.get("errorMessage") or ""),
            status if status >= 400 else 400,
        )
    if action == "HeadObject":
        return _head_output(result.get("headers") or {})
    listed = result.get("listBucketResult")
    xml = result.get("listResultXml")
    if (listed is None) == (xml is None):
        raise invalid_response()
    if xml is not None:
        listed = _xml_listing(str(xml))
    if not isinstance(listed, dict) or not listed.get("name"):
        raise invalid_response()
    return _list_output(listed)


# HeadObject's output members by their header (lowercased).
_HEAD_MEMBERS = {
    "accept-ranges": "AcceptRanges",
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "content-length": "ContentLength",
    "content-type": "ContentType",
    "etag": "ETag",
    "expires": "Expires",
    "last-modified": "LastModified",
    "x-amz-version-id": "VersionId",
    "x-amz-storage-class": "StorageClass",
    "x-amz-delete-marker": "DeleteMarker",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-mp-parts-count": "PartsCount",
    "x-amz-tagging-count": "TagCount",
}
_INTEGERS = frozenset(("ContentLength", "PartsCount", "TagCount"))


def _head_output(headers: dict[str, Any]) -> Result:
    out: Result = {}
    metadata: dict[str, str] = {}
    for name, value in headers.items():
        lowered = str(name).lower()
        if lowered.startswith("x-amz-meta-"):
            metadata[lowered[len("x-amz-meta-") :]] = str(value)
            continue
        member = _HEAD_MEMBERS.get(lowered)
        if member is None:
            continue
        try:
            out[member] = _typed(member, value)
        except ValueError:
            raise invalid_response() from None
    if metadata:
        out["Metadata"] = metadata
    return out


def _typed(member: str, value: Any) -> Any:
    if member in _INTEGERS:
        return int(value)
    if member == "DeleteMarker":
        return str(value).lower() == "true"
    if member in ("LastModified", "Expires"):
        return _when(value)
    return str(value)


def _when(value: Any) -> datetime:
    from email.utils import parsedate_to_datetime

    text = str(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parsedate_to_datetime(text)


_LIST_SCALARS = {
    "name": "Name",
    "prefix": "Prefix",
    "maxKeys": "MaxKeys",
    "delimiter": "Delimiter",
    "encodingType": "EncodingType",
    "isTruncated": "IsTruncated",
    "nextMarker": "NextMarker",
    "marker": "Marker",
    "nextContinuationToken": "NextContinuationToken",
    "continuationToken": "ContinuationToken",
    "startAfter": "StartAfter",
    "keyCount": "KeyCount",
}


def _list_output(listed: dict[str, Any]) -> Result:
    """ListObjects(V2)'s output from ``listBucketResult``'s JSON shape."""
    out: Result = {member: listed[name] for name, member in _LIST_SCALARS.items() if name in listed}
    contents = []
    for entry in listed.get("contents") or []:
        item: Result = {"Key": entry.get("key", "")}
        if entry.get("lastModified") is not None:
            item["LastModified"] = _when(entry["lastModified"])
        for name, member in (("eTag", "ETag"), ("size", "Size"), ("storageClass", "StorageClass")):
            if entry.get(name) is not None:
                item[member] = entry[name]
        if entry.get("checksumAlgorithm"):
            algorithm = entry["checksumAlgorithm"]
            item["ChecksumAlgorithm"] = algorithm if isinstance(algorithm, list) else [algorithm]
        owner = entry.get("owner")
        if isinstance(owner, dict):
            item["Owner"] = {"ID": owner.get("id", ""), "DisplayName": owner.get("displayName", "")}
        contents.append(item)
    if contents:
        out["Contents"] = contents
    prefixes = [{"Prefix": p.get("prefix", "")} for p in listed.get("commonPrefixes") or []]
    if prefixes:
        out["CommonPrefixes"] = prefixes
    return out


def _xml_listing(text: str) -> Result:
    """``listResultXml`` (S3's ListBucketResult document) in ``listBucketResult``'s shape."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise invalid_response() from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def camel(tag: str) -> str:
        name = local(tag)
        return {"ETag": "eTag", "ID": "id"}.get(name, name[:1].lower() + name[1:])

    listed: Result = {"contents": [], "commonPrefixes": []}
    for child in root:
        tag = local(child.tag)
        if tag == "Contents":
            entry: Result = {}
            for part in child:
                if local(part.tag) == "Owner":
                    entry["owner"] = {camel(o.tag): o.text or "" for o in part}
                else:
                    entry[camel(part.tag)] = part.text or ""
            if "size" in entry:
                entry["size"] = int(entry["size"])
            listed["contents"].append(entry)
        elif tag == "CommonPrefixes":
            listed["commonPrefixes"].append({camel(p.tag): p.text or "" for p in child})
        else:
            listed[camel(child.tag)] = child.text or ""
    for name in ("maxKeys", "keyCount"):
        if name in listed:
            listed[name] = int(listed[name])
    if "isTruncated" in listed:
        listed["isTruncated"] = str(listed["isTruncated"]).lower() == "true"
    return listed
