"""Wire-protocol codecs, one per botocore protocol, all driven by service models.

``get_codec(name)`` returns the codec for a protocol name as botocore spells it
(``query``, ``ec2``, ``json``, ``rest-json``, ``rest-xml``,
``smithy-rpc-v2-cbor``). Codecs are imported on first use so a server that
only ever sees JSON never pays for the XML machinery.
"""

from __future__ import annotations

import importlib

from cloudlet.protocols.base import Codec, HttpRequest, HttpResponse

__all__ = ["Codec", "HttpRequest", "HttpResponse", "get_codec", "PROTOCOLS"]

PROTOCOLS: dict[str, tuple[str, str]] = {
    "query": ("cloudlet.protocols.query", "QueryCodec"),
    "ec2": ("cloudlet.protocols.ec2", "Ec2Codec"),
    "json": ("cloudlet.protocols.json", "JsonCodec"),
    "rest-json": ("cloudlet.protocols.restjson", "RestJsonCodec"),
    "rest-xml": ("cloudlet.protocols.restxml", "RestXmlCodec"),
    "smithy-rpc-v2-cbor": ("cloudlet.protocols.cbor", "CborCodec"),
}

_codecs: dict[str, Codec] = {}


def get_codec(protocol: str) -> Codec:
    codec = _codecs.get(protocol)
    if codec is None:
        module, name = PROTOCOLS[protocol]
        codec = getattr(importlib.import_module(module), name)()
        _codecs[protocol] = codec
    return codec
