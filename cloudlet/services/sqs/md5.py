"""The MD5 digests SQS returns and SDKs verify, in AWS's exact byte encoding.

SDKs (the Java and Go ones, older boto3) recompute these digests and refuse a
response whose digests differ, so the encoding must match AWS's bit for bit:
attribute names sorted; for each, the name, the data type and the value, each
as a 4-byte big-endian length followed by the UTF-8 bytes; between type and
value one transport byte (1 string, 2 binary, 3 string list, 4 binary list).
Digests are computed once at send time and stored with the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

_STRING, _BINARY, _STRING_LIST, _BINARY_LIST = b"\x01", b"\x02", b"\x03", b"\x04"


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """Digest of message (or message system) attributes as SQS computes it."""
    h = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        h.update(_field(name.encode("utf-8")))
        h.update(_field(value["DataType"].encode("utf-8")))
        if value.get("StringValue") is not None:
            h.update(_STRING + _field(value["StringValue"].encode("utf-8")))
        elif value.get("BinaryValue") is not None:
            h.update(_BINARY + _field(bytes(value["BinaryValue"])))
        elif value.get("StringListValues"):
            h.update(_STRING_LIST)
            for item in value["StringListValues"]:
                h.update(_field(item.encode("utf-8")))
        elif value.get("BinaryListValues"):
            h.update(_BINARY_LIST)
            for item in value["BinaryListValues"]:
                h.update(_field(bytes(item)))
    return h.hexdigest()
