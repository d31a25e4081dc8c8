"""Shape-driven converters between wire values and Python values.

A generic codec's expensive part is walking botocore's shape model per
request. ``ShapeConverters`` walks it once per shape and caches, per
``ServiceModel``, one closure per shape: a *reader* (wire value -> Python,
with the type checks AWS answers ``SerializationException`` for) and a
*writer* (Python -> wire value). A writer for a shape whose Python values
already are wire values (strings, ints, bools and containers of them, no
renamed members) is ``None``, so a plain result goes to the encoder as is.

The scalar rules here are JSON's (base64 blobs, epoch-second timestamps);
``cbor.CborConverters`` overrides them for CBOR. Readers raise ``BadValue``
for a wrong type and ``MissingMember`` for an absent required member; the
codecs turn those into the protocol's errors.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.model import ServiceModel, Shape

from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.values import epoch_seconds, format_timestamp, parse_timestamp, to_datetime

__all__ = [
    "JSON_CONVERTERS",
    "BadValue",
    "MissingMember",
    "Reader",
    "ShapeConverters",
    "Writer",
]

Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]

_INTS = ("integer", "long", "short", "byte")
_SCALARS = "scalars"  # the per-service cache's entry of special scalar readers
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class BadValue(Exception):
    """A wire value of the wrong type for its member (-> SerializationException).

    Its text is cloudlet's own wording; a codec that words it as a service
    does (``coral.message``) reads the rest: the ``shape`` expected (or only its
    ``type_name``), the ``value`` found, and ``place``, which the reader one level
    out sets: ``"field"`` for a structure member, ``"element"`` for a list member
    or map value. ``detail`` marks a text already in the service's words.
    """

    def __init__(
        self,
        message: str,
        *,
        shape: Shape | None = None,
        type_name: str = "",
        value: Any = None,
        detail: bool = False,
    ) -> None:
        super().__init__(message)
        self.shape = shape
        self.type_name = shape.type_name if shape is not None else type_name
        self.value = value
        self.detail = detail
        self.place: str | None = None

    def at(self, place: str) -> BadValue:
        """Record where the value sat, unless a reader further in already did."""
        if self.place is None:
            self.place = place
        return self


class MissingMember(Exception):
    """A required member is absent (-> ValidationException).

    ``path`` leads to it from the input as AWS's validation messages name it
    (``tags.1.member.key``): members in lower camel case, list positions from 1
    and map keys each followed by ``member``. The readers of the structures,
    lists and maps it sits in add their steps as the exception passes them.
    """

    def __init__(self, member: str) -> None:
        super().__init__(member)
        self.member = member
        self.path = [_camel(member)]

    def within(self, step: str) -> None:
        """Prefix the path with ``step`` (the reader one level out)."""
        self.path.insert(0, step)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _type_word(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _failing(conv: Reader, values: list[Any]) -> int:
    """The position (from 1) of the first of ``values`` that ``conv`` refuses as
    missing a member (the error path, so reading them again costs nothing)."""
    for i, x in enumerate(values, 1):
        if x is not None:
            try:
                conv(x)
            except MissingMember:
                return i
    return 0


def _bad(name: str, shape_type: str, value: Any, shape: Shape | None = None) -> BadValue:
    return BadValue(
        f"Member '{name}' must be of type {shape_type}, got {_type_word(value)}",
        shape=shape,
        value=value,
    )


def _identity(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------- converters


class ShapeConverters:
    """Readers and writers for every shape of a service, built on first use.

    Containers are cached by shape name per ``ServiceModel`` (names are
    unique within a model), which also ties the knot for recursive shapes.
    Scalars are rebuilt per member because member-level traits
    (``timestampFormat``) change them; they are cheap.
    """

    timestamp_format = "unixTimestamp"
    # NaN and the infinities as the strings "NaN"/"Infinity"/"-Infinity"
    # (Smithy's rule, and what botocore's rest-json parser converts back).
    float_words = True

    def __init__(
        self,
        *,
        float_words: bool = True,
        scalars: Callable[[ServiceModel], dict[str, Reader]] | None = None,
    ) -> None:
        self.float_words = float_words
        # ``scalars(service)``: readers that replace this class's for those scalar
        # types in that service (``coral.scalar_readers``).
        self._caches = PlanCache(lambda service: {_SCALARS: scalars(service) if scalars else {}})

    def cache(self, service: ServiceModel) -> dict[Any, Any]:
        return self._caches.get(service)

    # ---- readers

    def reader(
        self, service: ServiceModel, shape: Shape, *, only: tuple[str, ...] | None = None
    ) -> Reader:
        """Wire value -> Python value for ``shape``.

        With ``only`` (top-level rest bodies), read just those members and do
        not check required members: they may live in the path or headers.
        """
        cache = self.cache(service)
        if only is not None:
            key = ("r-only", shape.name, only)
            conv = cache.get(key)
            if conv is None:
                conv = cache[key] = self._struct_reader(shape, cache, only)
            return conv
        _types, conv = self._member_reader(shape, cache)
        if conv is None:
            return self._checked(shape, _types)
        return conv

    @staticmethod
    def _checked(shape: Shape, types: tuple[type, ...]) -> Reader:
        def check(value: Any) -> Any:
            if type(value) not in types:
                raise _bad(shape.name, shape.type_name, value, shape)
            return value

        return check

    def _member_reader(
        self, shape: Shape, cache: dict[Any, Any]
    ) -> tuple[tuple[type, ...] | None, Reader | None]:
        """``(types, None)`` when a type check suffices, else ``(None, reader)``."""
        t = shape.type_name
        if t == "structure":
            if shape.metadata.get("document"):
                return None, _identity
            conv = cache.get(("r", shape.name))
            if conv is None:
                conv = self._struct_reader(shape, cache, None)
            return None, conv
        if t == "list":
            conv = cache.get(("r", shape.name))
            if conv is None:
                conv = self._list_reader(shape, cache)
            return None, conv
        if t == "map":
            conv = cache.get(("r", shape.name))
            if conv is None:
                conv = self._map_reader(shape, cache)
            return None, conv
        special = cache[_SCALARS].get(t)
        if special is not None:
            return None, special
        return self.scalar_reader(shape)

    def scalar_reader(self, shape: Shape) -> tuple[tuple[type, ...] | None, Reader | None]:
        t = shape.type_name
        if t == "string":
            if shape.serialization.get("jsonvalue"):
                # botocore embeds a jsonvalue member's value as is.
                return None, _identity
            return (str,), None
        if t in _INTS:
            return (int,), None
        if t == "boolean":
            return (bool,), None
        if t in ("float", "double"):
            return None, _json_float_in
        if t == "timestamp":
            return None, _json_timestamp_in
        if t == "blob":
            return None, _json_blob_in
        return None, _identity

    def _struct_reader(
        self, shape: Shape, cache: dict[Any, Any], only: tuple[str, ...] | None
    ) -> Reader:
        members: dict[str, tuple[str, tuple[type, ...] | None, Reader | None, Shape]] = {}
        required = () if only is not None else tuple(shape.required_members)
        sname = shape.name

        def read(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _bad(sname, "structure", value, shape)
            out: dict[str, Any] = {}
            name = ""
            try:
                for k, x in value.items():
                    m = members.get(k)
                    if m is None or x is None:
                        continue
                    name, types, conv, mshape = m
                    if conv is None:
                        if type(x) not in types:  # type: ignore[operator]
                            raise _bad(name, mshape.type_name, x, mshape)
                        out[name] = x
                    else:
                        out[name] = conv(x)
            except MissingMember as exc:
                exc.within(_camel(name))  # the member whose reader raised
                raise
            except BadValue as exc:
                exc.at("field")
                raise
            for r in required:
                if r not in out:
                    raise MissingMember(r)
            return out

        if only is None:
            cache[("r", sname)] = read
        for name, member in shape.members.items():
            if only is not None and name not in only:
                continue
            types, conv = self._member_reader(member, cache)
            members[self.read_name(name, member)] = (name, types, conv, member)
        return read

    def _list_reader(self, shape: Shape, cache: dict[Any, Any]) -> Reader:
        holder: list[Any] = []
        sname = shape.name
        # Only a list marked sparse may hold nulls; in any other a null member is
        # not a value of the member's shape (AWS: SerializationException).
        sparse = bool(shape.metadata.get("sparse") or shape.serialization.get("sparse"))

        def read(value: Any) -> list[Any]:
            if type(value) is not list:
                raise _bad(sname, "list", value, shape)
            types, conv = holder
            if not sparse and None in value:
                raise _bad(sname, "list member", None, shape.member).at("element")
            if conv is None:
                for x in value:
                    if type(x) not in types and x is not None:
                        raise _bad(sname, "list member", x, shape.member).at("element")
                return value
            try:
                return [None if x is None else conv(x) for x in value]
            except MissingMember as exc:
                exc.within(f"{_failing(conv, value)}.member")
                raise
            except BadValue as exc:
                exc.at("element")
                raise

        cache[("r", sname)] = read
        holder.extend(self._member_reader(shape.member, cache))
        return read

    def _map_reader(self, shape: Shape, cache: dict[Any, Any]) -> Reader:
        holder: list[Any] = []
        sname = shape.name

        def read(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _bad(sname, "map", value, shape)
            types, conv = holder
            out: dict[str, Any] = {}
            k = ""
            try:
                for k, x in value.items():
                    if x is None:
                        continue
                    if conv is None:
                        if type(x) not in types:
                            raise _bad(sname, "map value", x, shape.value)
                        out[k] = x
                    else:
                        out[k] = conv(x)
            except MissingMember as exc:
                exc.within(f"{k}.member")
                raise
            except BadValue as exc:
                exc.at("element")
                raise
            return out

        cache[("r", sname)] = read
        holder.extend(self._member_reader(shape.value, cache))
        return read

    # ---- writers

    def writer(
        self, service: ServiceModel, shape: Shape, *, only: tuple[str, ...] | None = None
    ) -> Writer | None:
        """Python value -> wire value for ``shape``; ``None`` when no change is needed.

        With ``only``, write just those members (rest bodies), never ``None``.
        """
        cache = self.cache(service)
        if only is not None:
            key = ("w-only", shape.name, only)
            conv = cache.get(key)
            if conv is None:
                conv = cache[key] = self._struct_writer(shape, cache, only)
            return conv
        return self._member_writer(shape, cache)

    def _plain(self, shape: Shape, cache: dict[Any, Any], seen: set[str]) -> bool:
        """True when Python values of ``shape`` already are its wire values."""
        t = shape.type_name
        if t in ("structure", "list", "map"):
            key = ("plain", shape.name)
            if key in cache:
                return cache[key]
            if shape.name in seen:
                return False
            seen.add(shape.name)
            if t == "structure":
                if shape.metadata.get("document"):
                    ok = True
                else:
                    ok = all(
                        self._plain(m, cache, seen) and self.wire_name(n, m) == n
                        for n, m in shape.members.items()
                    )
            elif t == "list":
                ok = self._plain(shape.member, cache, seen)
            else:
                ok = self._plain(shape.value, cache, seen)
            cache[key] = ok
            return ok
        return self.scalar_writer(shape) is None

    def wire_name(self, name: str, member: Shape) -> str:
        """The key a member is written under."""
        return member.serialization.get("name", name)

    def read_name(self, name: str, member: Shape) -> str:
        """The key a member is read from."""
        return member.serialization.get("name", name)

    def _member_writer(self, shape: Shape, cache: dict[Any, Any]) -> Writer | None:
        t = shape.type_name
        if t in ("structure", "list", "map"):
            key = ("w", shape.name)
            if key in cache:
                return cache[key]
            if self._plain(shape, cache, set()):
                cache[key] = None
                return None
            if t == "structure":
                return self._struct_writer(shape, cache, None)
            if t == "list":
                return self._list_writer(shape, cache)
            return self._map_writer(shape, cache)
        return self.scalar_writer(shape)

    def scalar_writer(self, shape: Shape) -> Writer | None:
        t = shape.type_name
        if t in ("float", "double"):
            return _json_float_out if self.float_words else _json_float_bare
        if t == "timestamp":
            fmt = shape.serialization.get("timestampFormat", self.timestamp_format)
            if fmt == "unixTimestamp":
                return _epoch_out
            return lambda v: format_timestamp(v, fmt)
        if t == "blob":
            return _b64_out
        return None

    def _struct_writer(
        self, shape: Shape, cache: dict[Any, Any], only: tuple[str, ...] | None
    ) -> Writer:
        members: dict[str, tuple[str, Writer | None]] = {}

        def write(value: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for k, x in value.items():
                if x is None:
                    continue
                m = members.get(k)
                if m is None:
                    continue
                wire, conv = m
                out[wire] = x if conv is None else conv(x)
            return out

        if only is None:
            cache[("w", shape.name)] = write
        for name, member in shape.members.items():
            if only is None or name in only:
                members[name] = (self.wire_name(name, member), self._member_writer(member, cache))
        return write

    def _list_writer(self, shape: Shape, cache: dict[Any, Any]) -> Writer:
        holder: list[Writer] = []

        def write(value: list[Any]) -> list[Any]:
            conv = holder[0]
            return [None if x is None else conv(x) for x in value]

        cache[("w", shape.name)] = write
        holder.append(self._member_writer(shape.member, cache) or _identity)
        return write

    def _map_writer(self, shape: Shape, cache: dict[Any, Any]) -> Writer:
        holder: list[Writer] = []

        def write(value: dict[str, Any]) -> dict[str, Any]:
            conv = holder[0]
            return {k: conv(x) for k, x in value.items() if x is not None}

        cache[("w", shape.name)] = write
        holder.append(self._member_writer(shape.value, cache) or _identity)
        return write


def _json_float_in(value: Any) -> float:
    t = type(value)
    if t is float:
        return value
    if t is int:
        return float(value)
    if t is str and value in _FLOAT_WORDS:
        return _FLOAT_WORDS[value]
    raise BadValue(f"Expected a number, got {_type_word(value)}")


def _json_timestamp_in(value: Any) -> datetime:
    t = type(value)
    try:
        if t is int or t is float:
            return datetime.fromtimestamp(value, UTC)
        if t is str:
            return parse_timestamp(value)
    except (ValueError, OverflowError, OSError, IndexError, TypeError) as exc:
        raise BadValue(f"Invalid timestamp {value!r}") from exc
    raise BadValue(f"Expected a timestamp, got {_type_word(value)}")


def _json_blob_in(value: Any) -> bytes:
    if type(value) is not str:
        raise BadValue(f"Expected base64 text, got {_type_word(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadValue("Invalid base64 value") from exc


def _json_float_out(value: Any) -> Any:
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


class NonFinite(float):
    """A NaN or infinity bound for awsJson: orjson refuses the type, so the body falls
    back to the stdlib, which writes the bare ``NaN``/``Infinity`` tokens botocore reads."""

    __slots__ = ()


def _json_float_bare(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        return NonFinite(value)
    return value


def _epoch_out(value: Any) -> int | float:
    if type(value) is datetime and value.tzinfo is not None:
        return epoch_seconds(value)
    return epoch_seconds(to_datetime(value))


def _b64_out(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


# rest-json writes non-finite floats as strings (awsJson's converters, which do
# not, are json.py's).
JSON_CONVERTERS = ShapeConverters()
