"""XML encoding and decoding of botocore shapes, shared by query, ec2 and rest-xml.

All three XML-family protocols describe their documents with the same traits:
``locationName`` (element names), ``flattened`` lists and maps, ``xmlNamespace``,
``xmlAttribute``, ``timestampFormat``, base64 blobs. This module turns a shape
into a *plan* once (a small tree of writer/reader objects with every element
name, namespace and formatter precomputed) and caches it, so the per-request
work is a walk over the value with no model lookups.

Writers build output as a list of string fragments (``out``); a field's
opening tag is passed as its *head* (``'<name xmlns="..."'``, without the
closing ``>``) so a structure can add its ``xmlAttribute`` members to it.
Readers walk an ``xml.etree.ElementTree`` element. Both raise ``BadValue`` or
``MissingValue`` for input the shape rejects; each codec maps those to its own
AWS error code.

Plans never hold a reference to the botocore shape they came from, which is
what lets the caches be weak-keyed on the shape objects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.values import (
    b64decode,
    b64encode,
    format_timestamp,
    iso8601_millis,
    parse_timestamp,
)

__all__ = [
    "BadValue",
    "MissingValue",
    "escape_attr",
    "escape_text",
    "local_name",
    "ns_attrs",
    "parse_document",
    "scalar_formatter",
    "scalar_parser",
    "shape_reader",
    "shape_writer",
]


class BadValue(ValueError):
    """A value on the wire does not fit its shape (not an integer, bad base64 ...)."""


class MissingValue(ValueError):
    """A required member is absent."""


# -- text ----------------------------------------------------------------------


class Prerendered(str):
    """A list member's XML, already rendered by the service (every item, tags and all).

    For the few answers whose size is the service's business (a page of 1,000
    S3 listing entries): rendering them with one f-string per entry costs a
    fraction of walking each entry's shape. The writer copies it as it is.
    """

    __slots__ = ()


def escape_text(text: str) -> str:
    """Escape character data; ``\\r`` is kept as a reference so it survives parsing.

    Characters XML 1.0 has no place for (C0 controls but tab and newline; U+FFFE,
    U+FFFF) become character references too, as S3 writes them in a key (``&#x1;``):
    a raw one would end the document where a parser meets it. (A strict parser
    refuses the reference as well; S3's clients list with ``encoding-type=url``.)"""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    if not text.isprintable():  # cheap test first: rare, and newlines are fine
        text = _NOT_XML.sub(_char_ref, text)
    return text


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _char_ref(m: re.Match[str]) -> str:
    return f"&#x{ord(m.group()):x};"


def escape_attr(text: str) -> str:
    text = escape_text(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text:
        text = text.replace("\n", "&#xA;")
    if "\t" in text:
        text = text.replace("\t", "&#x9;")
    return text


def local_name(tag: str) -> str:
    """An element or attribute name without its ``{namespace}``."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def ns_attrs(serialization: dict) -> str:
    """The ``xmlns`` declaration(s) an element with these traits carries."""
    ns = serialization.get("xmlNamespace")
    if not ns:
        return ""
    if isinstance(ns, str):
        return f' xmlns="{escape_attr(ns)}"'
    prefix = ns.get("prefix")
    name = f"xmlns:{prefix}" if prefix else "xmlns"
    return f' {name}="{escape_attr(ns.get("uri", ""))}"'


def parse_document(body: bytes) -> ElementTree.Element:
    """Parse an XML request body; raises ``BadValue`` when it is not XML."""
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise BadValue(f"The XML you provided was not well-formed: {exc}") from exc


# -- scalars -------------------------------------------------------------------


def _fmt_string(value: Any) -> str:
    return escape_text(value if type(value) is str else str(value))


def _fmt_bool(value: Any) -> str:
    return "true" if value else "false"


def _fmt_int(value: Any) -> str:
    return str(value) if type(value) is int else str(int(value))


def _fmt_float(value: Any) -> str:
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _fmt_blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return b64encode(bytes(value))


def scalar_formatter(
    shape: Any, default_ts: str = "iso8601", *, millis: bool = False
) -> Callable[[Any], str]:
    """value -> escaped wire text for a scalar shape; ``millis``: ISO 8601 timestamps
    always carry milliseconds (S3's documents)."""
    t = shape.type_name
    if t in ("string", "character"):
        return _fmt_string
    if t == "boolean":
        return _fmt_bool
    if t in ("integer", "long", "short", "byte"):
        return _fmt_int
    if t in ("float", "double"):
        return _fmt_float
    if t == "blob":
        return _fmt_blob
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat") or default_ts
        if millis and fmt == "iso8601":
            return iso8601_millis

        def fmt_ts(value: Any, _fmt: str = fmt) -> str:
            return str(format_timestamp(value, _fmt))

        return fmt_ts
    return _fmt_string


def _parse_string(text: str) -> str:
    return text


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise BadValue(f"'{text}' is not a valid boolean")


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a valid integer") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a valid number") from None


def _parse_blob(text: str) -> bytes:
    try:
        return b64decode(text.strip())
    except ServiceError:
        raise BadValue("Invalid base64 value") from None


def _parse_ts(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError, TypeError, IndexError):
        raise BadValue(f"'{text}' is not a valid timestamp") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "string": _parse_string,
    "character": _parse_string,
    "boolean": _parse_bool,
    "integer": _parse_int,
    "long": _parse_int,
    "short": _parse_int,
    "byte": _parse_int,
    "float": _parse_float,
    "double": _parse_float,
    "blob": _parse_blob,
    "timestamp": _parse_ts,
}


def scalar_parser(shape: Any) -> Callable[[str], Any]:
    """wire text -> Python value for a scalar shape (timestamps in any AWS format)."""
    return _PARSERS.get(shape.type_name, _parse_string)


def _memo_key(shape: Any) -> tuple[str, str]:
    """Shapes are rebuilt on every resolution; name plus member traits identifies one."""
    return shape.name, repr(sorted(shape.serialization.items()))


# -- writers -------------------------------------------------------------------


class _ScalarW:
    __slots__ = ("fmt",)

    def __init__(self, fmt: Callable[[Any], str]) -> None:
        self.fmt = fmt

    def write(self, out: list[str], head: str, close: str, value: Any) -> None:
        out.append(f"{head}>{self.fmt(value)}{close}")


class _Field:
    """One structure member: its dict key, element head/close and value writer."""

    __slots__ = ("key", "head", "close", "writer")

    def __init__(self, key: str, tag: str, ns: str, writer: Any) -> None:
        self.key = key
        self.head = f"<{tag}{ns}"
        self.close = f"</{tag}>"
        self.writer = writer


class _StructW:
    __slots__ = ("fields", "attrs")

    def __init__(self) -> None:
        self.fields: list[_Field] = []
        self.attrs: list[tuple[str, str, Callable[[Any], str]]] = []

    def write(self, out: list[str], head: str, close: str, value: Any) -> None:
        if self.attrs:
            head = head + self.attr_text(value)
        out.append(head + ">")
        self.write_members(out, value)
        out.append(close)

    def attr_text(self, value: dict) -> str:
        parts = []
        for key, name, fmt in self.attrs:
            v = value.get(key)
            if v is not None:
                parts.append(f' {name}="{escape_attr(fmt(v))}"')
        return "".join(parts)

    def has_body(self, value: dict) -> bool:
        """Whether ``value`` sets any member this writer puts in the body."""
        return any(value.get(f.key) is not None for f in self.fields) or any(
            value.get(a[0]) is not None for a in self.attrs
        )

    def write_members(self, out: list[str], value: dict) -> None:
        for f in self.fields:
            v = value.get(f.key)
            if v is not None:
                f.writer.write(out, f.head, f.close, v)


class _ListW:
    __slots__ = ("flattened", "item_head", "item_close", "item")

    def write(self, out: list[str], head: str, close: str, value: Any) -> None:
        if type(value) is Prerendered:
            out.append(value)
            return
        item = self.item
        if self.flattened:
            for v in value:
                if v is not None:
                    item.write(out, head, close, v)
            return
        out.append(head + ">")
        ih, ic = self.item_head, self.item_close
        for v in value:
            if v is not None:
                item.write(out, ih, ic, v)
        out.append(close)


class _MapW:
    __slots__ = ("flattened", "key_head", "key_close", "key", "val_head", "val_close", "val")

    def write(self, out: list[str], head: str, close: str, value: Any) -> None:
        kw, vw = self.key, self.val
        kh, kc, vh, vc = self.key_head, self.key_close, self.val_head, self.val_close
        if self.flattened:
            for k, v in value.items():
                out.append(head + ">")
                kw.write(out, kh, kc, k)
                if v is not None:
                    vw.write(out, vh, vc, v)
                out.append(close)
            return
        out.append(head + ">")
        for k, v in value.items():
            out.append("<entry>")
            kw.write(out, kh, kc, k)
            if v is not None:
                vw.write(out, vh, vc, v)
            out.append("</entry>")
        out.append(close)


# Response members bound here are not in the body; ``uri``/``querystring``
# members of a shape reused as output are (botocore parses them from it).
_RESPONSE_LOCATIONS = frozenset(("header", "headers", "statusCode"))


def _tag_for(shape: Any, default: str) -> tuple[str, str]:
    ser = shape.serialization
    return ser.get("name") or default, ns_attrs(ser)


def _build_writer(shape: Any, memo: dict, skip_locations: bool, millis: bool = False) -> Any:
    t = shape.type_name
    if t == "structure":
        key = _memo_key(shape)
        plan = memo.get(key)
        if plan is not None:
            return plan
        plan = memo[key] = _StructW()
        for name, member in shape.members.items():
            ser = member.serialization
            if skip_locations and ser.get("location") in _RESPONSE_LOCATIONS:
                continue
            if ser.get("xmlAttribute"):
                plan.attrs.append(
                    (name, ser.get("name") or name, scalar_formatter(member, millis=millis))
                )
                continue
            tag, ns = _tag_for(member, name)
            if member.type_name == "list" and ser.get("flattened"):
                item_ser = member.member.serialization
                if item_ser.get("name"):
                    tag = item_ser["name"]
                ns = ns_attrs(item_ser) or ns
            writer = _build_writer(member, memo, False, millis)
            plan.fields.append(_Field(name, tag, ns, writer))
        return plan
    if t == "list":
        plan = _ListW()
        plan.flattened = bool(shape.serialization.get("flattened"))
        item_tag, item_ns = _tag_for(shape.member, "member")
        plan.item_head, plan.item_close = f"<{item_tag}{item_ns}", f"</{item_tag}>"
        plan.item = _build_writer(shape.member, memo, False, millis)
        return plan
    if t == "map":
        plan = _MapW()
        plan.flattened = bool(shape.serialization.get("flattened"))
        ktag, kns = _tag_for(shape.key, "key")
        vtag, vns = _tag_for(shape.value, "value")
        plan.key_head, plan.key_close = f"<{ktag}{kns}", f"</{ktag}>"
        plan.val_head, plan.val_close = f"<{vtag}{vns}", f"</{vtag}>"
        plan.key = _build_writer(shape.key, memo, False, millis)
        plan.val = _build_writer(shape.value, memo, False, millis)
        return plan
    return _ScalarW(scalar_formatter(shape, millis=millis))


def _new_writer(shape: Any) -> Any:
    return _build_writer(shape, {}, True)


def _new_millis_writer(shape: Any) -> Any:
    return _build_writer(shape, {}, True, millis=True)


_WRITERS = PlanCache(_new_writer)
_MILLIS_WRITERS = PlanCache(_new_millis_writer)


def shape_writer(shape: Any, *, millis: bool = False) -> Any:
    """The cached writer for ``shape`` (``millis``: ISO 8601 timestamps always with
    milliseconds, as S3 writes them).

    For a structure it has ``write(out, head, close, value)``,
    ``write_members(out, value)`` and ``has_body(value)``; members bound to
    response headers or the status code are left out.
    """
    return (_MILLIS_WRITERS if millis else _WRITERS).get(shape)


# -- readers -------------------------------------------------------------------


class _ScalarR:
    __slots__ = ("parse",)

    def __init__(self, parse: Callable[[str], Any]) -> None:
        self.parse = parse

    def read(self, elem: ElementTree.Element) -> Any:
        return self.parse(elem.text or "")


class _FieldR:
    __slots__ = ("key", "reader", "kind")

    # kind: 0 plain, 1 flattened list item, 2 flattened map entry
    def __init__(self, key: str, reader: Any, kind: int) -> None:
        self.key = key
        self.reader = reader
        self.kind = kind


class _StructR:
    __slots__ = ("by_tag", "attrs", "required")

    def __init__(self) -> None:
        self.by_tag: dict[str, _FieldR] = {}
        self.attrs: list[tuple[str, str, Callable[[str], Any]]] = []
        self.required: tuple[str, ...] = ()

    def read(self, elem: ElementTree.Element) -> dict:
        out: dict[str, Any] = {}
        by_tag = self.by_tag
        for child in elem:
            tag = child.tag
            if tag[:1] == "{":
                tag = tag.rpartition("}")[2]
            f = by_tag.get(tag)
            if f is None:
                continue
            if f.kind == 0:
                out[f.key] = f.reader.read(child)
            elif f.kind == 1:
                out.setdefault(f.key, []).append(f.reader.item.read(child))
            else:
                k, v = f.reader.read_entry(child)
                out.setdefault(f.key, {})[k] = v
        if self.attrs and elem.attrib:
            self._read_attrs(elem, out)
        for name in self.required:
            if name not in out:
                raise MissingValue(name)
        return out

    def _read_attrs(self, elem: ElementTree.Element, out: dict) -> None:
        local = {local_name(k): v for k, v in elem.attrib.items()}
        for key, name, parse in self.attrs:
            v = elem.attrib.get(name)
            if v is None:
                v = local.get(name.rpartition(":")[2])
            if v is not None:
                out[key] = parse(v)


class _ListR:
    __slots__ = ("item_tag", "item")

    def read(self, elem: ElementTree.Element) -> list:
        item, want = self.item, self.item_tag
        out = []
        for child in elem:
            tag = child.tag
            if tag[:1] == "{":
                tag = tag.rpartition("}")[2]
            if tag == want:
                out.append(item.read(child))
        return out


class _MapR:
    __slots__ = ("key_tag", "val_tag", "key", "val")

    def read(self, elem: ElementTree.Element) -> dict:
        out = {}
        for entry in elem:
            k, v = self.read_entry(entry)
            out[k] = v
        return out

    def read_entry(self, entry: ElementTree.Element) -> tuple[Any, Any]:
        k = v = None
        for child in entry:
            tag = local_name(child.tag)
            if tag == self.key_tag:
                k = self.key.read(child)
            elif tag == self.val_tag:
                v = self.val.read(child)
        if k is None:
            raise BadValue("map entry without a key")
        return k, v


def _build_reader(shape: Any, memo: dict, skip_locations: bool) -> Any:
    t = shape.type_name
    if t == "structure":
        key = _memo_key(shape)
        plan = memo.get(key)
        if plan is not None:
            return plan
        plan = memo[key] = _StructR()
        required = []
        for name, member in shape.members.items():
            ser = member.serialization
            if skip_locations and ser.get("location"):
                continue
            if name in shape.required_members:
                required.append(name)
            if ser.get("xmlAttribute"):
                plan.attrs.append((name, ser.get("name") or name, scalar_parser(member)))
                continue
            tag = ser.get("name") or name
            kind = 0
            if member.type_name == "list" and ser.get("flattened"):
                kind = 1
                tag = member.member.serialization.get("name") or tag
            elif member.type_name == "map" and ser.get("flattened"):
                kind = 2
            field = _FieldR(name, _build_reader(member, memo, False), kind)
            plan.by_tag[tag] = field
            if kind == 1 and tag != (ser.get("name") or name):
                # botocore's serializer names flattened items after the member.
                plan.by_tag.setdefault(ser.get("name") or name, field)
        plan.required = tuple(required)
        return plan
    if t == "list":
        plan = _ListR()
        plan.item_tag = shape.member.serialization.get("name") or "member"
        plan.item = _build_reader(shape.member, memo, False)
        return plan
    if t == "map":
        plan = _MapR()
        plan.key_tag = shape.key.serialization.get("name") or "key"
        plan.val_tag = shape.value.serialization.get("name") or "value"
        plan.key = _build_reader(shape.key, memo, False)
        plan.val = _build_reader(shape.value, memo, False)
        return plan
    return _ScalarR(scalar_parser(shape))


def _new_reader(shape: Any) -> Any:
    return _build_reader(shape, {}, True)


_READERS = PlanCache(_new_reader)


def shape_reader(shape: Any) -> Any:
    """The cached reader for ``shape``: ``read(element) -> value``.

    For a structure, members bound to HTTP locations are not read from the
    body, and required body members are checked.
    """
    return _READERS.get(shape)
