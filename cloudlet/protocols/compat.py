"""Query-protocol models for services that moved from awsQuery to JSON.

SQS (and other ``awsQueryCompatible`` services) still accept the old query
protocol, but botocore now ships only their JSON model: output shapes lack the
``resultWrapper`` and list/map members lack the XML names the query wire used
(``Attribute.1.Name``, ``<Message>``). ``query_compat_model`` rebuilds a query
model from the JSON one plus a small table of those legacy names, which the
owning service provides as data. The codecs stay generic.

Override table format, keyed by shape name::

    {"QueueAttributeMap": {"name": "Attribute", "key": "Name", "value": "Value"},
     "MessageList": {"member": "Message"}}

``name`` is the wire name of every structure member that targets the shape;
``member``/``key``/``value`` name the list member and map entries.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import ServiceModel


def query_compat_model(
    raw: dict[str, Any], service_name: str, names: dict[str, dict[str, str]]
) -> ServiceModel:
    return ServiceModel(query_compat_document(raw, names), service_name=service_name)


def query_compat_document(raw: dict[str, Any], names: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The query-protocol service document (a new dict; ``raw`` is not changed)."""
    model = copy.deepcopy(raw)
    meta = model["metadata"]
    meta["protocol"] = "query"
    meta["protocols"] = ["query"]
    meta.setdefault("xmlNamespace", f"http://queue.amazonaws.com/doc/{meta.get('apiVersion', '')}/")
    shapes = model["shapes"]
    for op in model["operations"].values():
        out = op.get("output")
        if out is not None:
            out.setdefault("resultWrapper", f"{op['name']}Result")
    for shape_name, spec in names.items():
        shape = shapes.get(shape_name)
        if shape is None:
            continue
        for part in ("member", "key", "value"):
            if part in spec and part in shape:
                shape[part] = {**shape[part], "locationName": spec[part]}
    for shape in shapes.values():
        for member in shape.get("members", {}).values():
            spec = names.get(member["shape"])
            if spec and "name" in spec:
                member["locationName"] = spec["name"]
    return model
