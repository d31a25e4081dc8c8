"""Which services a policy lets its holder use: the namespaces behind access advisor
and ListPoliciesGrantingServiceAccess.

AWS's reports list "every service the entity could access using permissions
policies": the namespaces some ``Allow`` statement's ``Action`` (or ``NotAction``)
covers, wildcards included, less those an unconditional ``Deny`` on every resource
takes away whole. Only permissions policies count (AWS leaves out boundaries,
resource policies and SCPs). Wildcards are expanded against the namespaces cloudlet
knows: every botocore service, under its IAM prefix (cloudlet's own table in
``cloudlet.auth.actions`` where it has one: CloudWatch is ``cloudwatch``, both load
balancer APIs ``elasticloadbalancing``; else the model's signing name, which is the
prefix for most: ``access-analyzer``, ``airflow``, ``geo``), named by its model's
``serviceFullName`` (what AWS's reports call it: "Amazon Simple Storage Service" for
``s3``). A namespace a policy names literally that botocore does not know still
counts, named by itself. Where strict mode's action prefix differs from the
namespace (``accessanalyzer``), ``namespace_of`` maps it back.

The names come from the first few KiB of each model file (40 ms for 400 services,
where loading every model takes seconds), falling back to the whole model.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from botocore.loaders import Loader

from cloudlet.auth.actions import PREFIXES, action_for
from cloudlet.auth.policy import wildcard
from cloudlet.core.models import load_raw_model

_FULL_NAME = re.compile(rb'"serviceFullName"\s*:\s*"([^"]+)"')
_SIGNING_NAME = re.compile(rb'"signingName"\s*:\s*"([^"]+)"')
_HEAD_BYTES = 8192


@dataclass(frozen=True, slots=True)
class _Catalog:
    names: dict[str, str]
    """namespace -> service name, sorted by namespace."""
    aliases: dict[str, str]
    """What strict mode calls a service's actions (``cloudlet.auth.actions``) -> its
    namespace, where the two differ (``accessanalyzer`` -> ``access-analyzer``)."""


@cache
def _catalog() -> _Catalog:
    loader = Loader()
    names: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for service in loader.list_available_services("service-2"):
        full, signing = _metadata(loader, service)
        namespace = (PREFIXES.get(service) or signing or service).lower()
        evaluated = action_for(service, "-").split(":", 1)[0]
        if evaluated != namespace:
            aliases[evaluated] = namespace
        if namespace not in names or service == namespace:
            names[namespace] = full  # s3 names the namespace, not s3control
    return _Catalog(dict(sorted(names.items())), aliases)


def known() -> dict[str, str]:
    """Every namespace cloudlet knows, with its service's name (sorted by namespace)."""
    return _catalog().names


def service_name(namespace: str) -> str:
    return known().get(namespace, namespace)


def namespace_of(prefix: str) -> str:
    """The namespace of an action strict mode evaluated, by the action's prefix."""
    prefix = prefix.lower()
    return _catalog().aliases.get(prefix, prefix)


def _metadata(loader: Loader, service: str) -> tuple[str, str | None]:
    """(serviceFullName, signingName) of a botocore service."""
    try:
        version = loader.determine_latest_version(service, "service-2")
        for base in loader.search_paths:
            for suffix, opener in ((".json.gz", gzip.open), (".json", open)):
                path = os.path.join(base, service, version, "service-2" + suffix)
                if os.path.exists(path):
                    with opener(path, "rb") as fh:
                        head = fh.read(_HEAD_BYTES)
                    full, signing = _FULL_NAME.search(head), _SIGNING_NAME.search(head)
                    if full:
                        return full.group(1).decode(), signing and signing.group(1).decode()
    except (OSError, ValueError):
        pass
    meta = load_raw_model(service)["metadata"]
    return str(meta.get("serviceFullName") or service), meta.get("signingName")


# -- what a document grants ----------------------------------------------------------


def _statements(text: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    raw = doc.get("Statement") if isinstance(doc, dict) else None
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    return [st for st in items if isinstance(st, dict)]


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    return [v for v in items if isinstance(v, str)]


def _split(action: str) -> tuple[str, str]:
    if action == "*":
        return "*", "*"
    prefix, _, name = action.partition(":")
    return prefix, name


def _names(pattern: str, namespace: str) -> bool:
    return wildcard(pattern, True).fullmatch(namespace) is not None


def _covers_whole(actions: list[str], namespace: str) -> bool:
    """Whether ``actions`` cover every action of ``namespace`` (``*`` or ``ns:*``)."""
    return any(_names(prefix, namespace) and name == "*" for prefix, name in map(_split, actions))


def _literal_namespaces(actions: list[str]) -> set[str]:
    out = set()
    for prefix, _ in map(_split, actions):
        if prefix and not any(c in prefix for c in "*?"):
            out.add(prefix.lower())
    return out


@lru_cache(maxsize=1024)
def granted(text: str) -> frozenset[str]:
    """The namespaces a permissions policy document lets its holder use."""
    statements = _statements(text)
    universe = set(known())
    for st in statements:
        universe |= _literal_namespaces(_strings(st.get("Action")))
    allowed: set[str] = set()
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions, not_actions = _strings(st.get("Action")), _strings(st.get("NotAction"))
        for namespace in universe:
            if "Action" in st:
                hit = any(_names(prefix, namespace) for prefix, _ in map(_split, actions))
            else:
                hit = not _covers_whole(not_actions, namespace)
            if hit:
                allowed.add(namespace)
    for st in statements:
        unconditional = "Condition" not in st and _strings(st.get("Resource")) == ["*"]
        if st.get("Effect") == "Deny" and unconditional and "Action" in st:
            denied = _strings(st.get("Action"))
            allowed = {ns for ns in allowed if not _covers_whole(denied, ns)}
    return frozenset(allowed)


def grants(text: str, namespace: str) -> bool:
    return namespace.lower() in granted(text)
