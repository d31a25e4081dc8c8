"""How DynamoDB's front end reads a JSON request, and words what it cannot read.

DynamoDB (and DynamoDB Streams) run on Amazon's Coral framework, whose JSON
reader is Jackson bound to Java classes. A value of the wrong type is a
``SerializationException`` in Jackson's words, not in the model's: a number
where a string belongs is ``NUMBER_VALUE cannot be converted to String``, a
list where a structure belongs names the Java class it could not fill, and a
string where a list belongs is ``Unexpected field type``. The binding is
lenient where Java's conversions are: a boolean member takes the strings
``"true"``/``"yes"``/``"1"`` (and their opposites) in any case, and an integer
member takes a decimal, rounded down.

Evidence: dynalite's suite (``architect/dynalite``, checked against DynamoDB
with ``REMOTE=1``) spells these texts per type and position, and AWS answers
still quote them (``NUMBER_VALUE cannot be converted to String``: LocalStack
issue 9412, 2023; connect-dynamodb PR 100, 2024). That suite also shows the
framework's answers to a body that is no JSON (``SerializationException``) and
to an unknown ``X-Amz-Target`` (``UnknownOperationException``) carry no
message at all, and that a ``SerializationException``'s message is keyed
``Message``.

``converters.ShapeConverters`` takes ``scalar_readers`` for a service whose
model this module claims (``speaks_coral``); ``json.JsonCodec`` words a
``converters.BadValue`` with ``message``.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from botocore.model import ServiceModel, Shape

from cloudlet.protocols.converters import BadValue, Reader

__all__ = ["MESSAGE_KEYS", "message", "scalar_readers", "speaks_coral"]

_PREFIXES = frozenset({"dynamodb", "streams.dynamodb"})
_PACKAGE = "com.amazonaws.dynamodb.v20120810"
"""Where DynamoDB's Java classes live: their names are the model's shape names."""

_START = "Start of structure or map found where not expected"
_FIELD = "Unexpected field type"
_ELEMENT = "Unexpected value type in payload"
_CAST = (
    "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to "
    "class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and "
    "java.lang.Class are in module java.base of loader 'bootstrap')"
)
"""What a scalar in place of a list or map that is itself a list element or map value
gets: Jackson fails on the generic type before it reads the value."""
_BAD_LENGTH = "Base64 encoded length is expected a multiple of 4 bytes but found: {}"
_BAD_LAST = "Invalid last non-pad Base64 character dectected"  # sic, AWS's spelling
_NOT_BASE64 = "only base-64-encoded strings are convertible to bytes"

_JAVA = {
    "string": "java.lang.String",
    "boolean": "java.lang.Boolean",
    "integer": "java.lang.Integer",
    "long": "java.lang.Long",
    "blob": "java.nio.ByteBuffer",
}
_TOKENS = {bool: "", int: "NUMBER_VALUE", float: "DECIMAL_VALUE", str: "STRING_VALUE"}

MESSAGE_KEYS = {"SerializationException": "Message", "AccessDeniedException": "Message"}
"""The framework errors whose message member is ``Message`` (dynalite's
``assertSerialization`` and ``assertAccessDenied``); the rest say ``message``."""


def speaks_coral(service: ServiceModel) -> bool:
    return service.metadata.get("endpointPrefix") in _PREFIXES


# --------------------------------------------------------------------------- readers


def _boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    if type(value) is str:
        word = value.upper()
        if word in ("TRUE", "YES", "1"):
            return True
        if word in ("FALSE", "NO", "0"):
            return False
    raise BadValue(f"Expected a boolean, got {value!r}", type_name="boolean", value=value)


def _whole(type_name: str) -> Reader:
    def read(value: Any) -> int:
        t = type(value)
        if t is int:
            return value
        if t is float and math.isfinite(value):
            return math.floor(value)
        raise BadValue(f"Expected an integer, got {value!r}", type_name=type_name, value=value)

    return read


def _blob(value: Any) -> bytes:
    if type(value) is not str:
        raise BadValue(f"Expected base64 text, got {value!r}", type_name="blob", value=value)
    if len(value) % 4:
        raise BadValue(_BAD_LENGTH.format(len(value)), detail=True)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    # A last character whose unused bits are set decodes in Python, not in Java.
    if raw is None or base64.b64encode(raw) != value.encode("ascii", "replace"):
        raise BadValue(_BAD_LAST, detail=True)
    return raw


_SCALARS: dict[str, Reader] = {
    "boolean": _boolean,
    "integer": _whole("integer"),
    "long": _whole("long"),
    "blob": _blob,
}


def scalar_readers(service: ServiceModel) -> dict[str, Reader]:
    """Readers replacing the JSON ones for these scalar types, for ``service``."""
    return _SCALARS if speaks_coral(service) else {}


# --------------------------------------------------------------------------- messages


def _java(shape: Shape) -> str:
    t = shape.type_name
    if t == "structure":
        return f"{_PACKAGE}.{shape.name}"
    if t == "list":
        return f"java.util.List<{_java(shape.member)}>"
    if t == "map":
        return f"java.util.Map<java.lang.String, {_java(shape.value)}>"
    return _JAVA.get(t, "java.lang.Object")


def message(exc: BadValue) -> str:
    """``exc`` in DynamoDB's words (its own text where Jackson's is unknown)."""
    if exc.detail:
        return str(exc)
    shape, value, field = exc.shape, exc.value, exc.place == "field"
    t = shape.type_name if shape is not None else exc.type_name
    vt = type(value)
    if t == "structure":
        if vt is list:
            return f"Unrecognized collection type class {_java(shape)}"  # type: ignore[arg-type]
        return _FIELD if field else _ELEMENT
    if t == "list":
        return _START if vt is dict else (_FIELD if field else _CAST)
    if t == "map":
        if vt is list:
            return f"Unrecognized collection type {_java(shape)}"  # type: ignore[arg-type]
        return _FIELD if field else _CAST
    if t not in _JAVA or value is None:
        return str(exc)
    if vt is list:
        return f"Unrecognized collection type class {_JAVA[t]}"
    if vt is dict:
        return _START
    if t == "blob":
        return _NOT_BASE64
    if t == "boolean" and vt is str:
        return "Unexpected token received from parser"
    token = ("TRUE_VALUE" if value else "FALSE_VALUE") if vt is bool else _TOKENS.get(vt, "")
    return f"{token} cannot be converted to {_JAVA[t].rpartition('.')[2]}"
