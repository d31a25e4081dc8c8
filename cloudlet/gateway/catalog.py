"""Which botocore services exist, and the facts needed to recognise their requests.

Service detection must work for *any* botocore service (an unbuilt one answers
501 NotImplemented in its own protocol), but loading all ~420 service models
takes most of a second. So the detection facts (signing name, target prefix,
protocols, API version, query operation names) are extracted once per botocore
version and cached as JSON under the user cache dir; a server start reads the
cache (a few ms) or builds it in a worker thread after it is already serving.
Implemented services are registered eagerly from their own models, so their
requests never wait for the catalog.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import botocore
from botocore.loaders import Loader

from cloudlet.core.models import load_raw_model

log = logging.getLogger(__name__)

QUERY_PROTOCOLS = ("query", "ec2")


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    protocols: tuple[str, ...]
    signing_name: str
    endpoint_prefix: str
    target_prefix: str | None
    api_version: str
    query_compatible: bool
    query_operations: frozenset[str]

    @property
    def accepts_query(self) -> bool:
        return self.query_compatible or any(p in QUERY_PROTOCOLS for p in self.protocols)


def _info_from_model(name: str, model: dict) -> ServiceInfo:
    meta = model["metadata"]
    protocols = tuple(meta.get("protocols") or [meta["protocol"]])
    query_compatible = "awsQueryCompatible" in meta
    ops = frozenset(model.get("operations", ()))
    wants_ops = query_compatible or any(p in QUERY_PROTOCOLS for p in protocols)
    return ServiceInfo(
        name=name,
        protocols=protocols,
        signing_name=meta.get("signingName") or meta.get("endpointPrefix") or name,
        endpoint_prefix=meta.get("endpointPrefix") or name,
        target_prefix=meta.get("targetPrefix"),
        api_version=meta.get("apiVersion", ""),
        query_compatible=query_compatible,
        query_operations=ops if wants_ops else frozenset(),
    )


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloudlet" / f"catalog-botocore-{botocore.__version__}.json"


def _model_path(loader: Loader, name: str) -> Path | None:
    for root in loader.search_paths:
        svc = Path(root) / name
        if not svc.is_dir():
            continue
        for version in sorted(os.listdir(svc), reverse=True):
            for fname in ("service-2.json.gz", "service-2.json"):
                p = svc / version / fname
                if p.exists():
                    return p
    return None


def _build() -> list[ServiceInfo]:
    loader = Loader()
    infos = []
    for name in loader.list_available_services("service-2"):
        path = _model_path(loader, name)
        if path is None:
            continue
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        infos.append(_info_from_model(name, json.loads(raw)))
    return infos


def _load_cached() -> list[ServiceInfo] | None:
    try:
        rows = json.loads(_cache_path().read_text())
        return [
            ServiceInfo(
                **{
                    **r,
                    "protocols": tuple(r["protocols"]),
                    "query_operations": frozenset(r["query_operations"]),
                }
            )
            for r in rows
        ]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _load_or_build() -> list[ServiceInfo]:
    cached = _load_cached()
    if cached is not None:
        return cached
    path = _cache_path()
    infos = _build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps(
                [
                    {
                        **{f: getattr(i, f) for f in ServiceInfo.__dataclass_fields__},
                        "protocols": list(i.protocols),
                        "query_operations": sorted(i.query_operations),
                    }
                    for i in infos
                ]
            )
        )
        tmp.replace(path)
    except OSError:
        log.debug("could not write catalog cache %s", path, exc_info=True)
    return infos


class Catalog:
    """Lookup tables for service detection."""

    def __init__(self) -> None:
        self.services: dict[str, ServiceInfo] = {}
        self.by_signing: dict[str, list[str]] = {}
        self.by_target: dict[str, str] = {}
        self.by_endpoint: dict[str, list[str]] = {}
        self.by_query_version: dict[str, list[str]] = {}
        self._complete = threading.Event()
        self._lock = threading.Lock()

    def add(self, info: ServiceInfo) -> None:
        with self._lock:
            if info.name in self.services:
                return
            self.services[info.name] = info
            self.by_signing.setdefault(info.signing_name, []).append(info.name)
            self.by_endpoint.setdefault(info.endpoint_prefix, []).append(info.name)
            if info.target_prefix:
                self.by_target.setdefault(info.target_prefix, info.name)
            if info.accepts_query:
                self.by_query_version.setdefault(info.api_version, []).append(info.name)

    def add_implemented(self, names: list[str]) -> None:
        """Register the implemented services before the server accepts requests.

        Their detection facts come from the disk cache when there is one; else
        from their models, which are not kept: a service's full model is loaded
        when its first request arrives (EC2's alone is 15 MiB in memory).
        """
        cached = {info.name: info for info in _load_cached() or ()}
        for name in names:
            info = cached.get(name)
            self.add(info if info is not None else _info_from_model(name, load_raw_model(name)))

    def load_all(self) -> None:
        """Add every botocore service (from the disk cache when possible)."""
        for info in _load_or_build():
            self.add(info)
        self._complete.set()

    def load_in_background(self) -> threading.Thread:
        t = threading.Thread(target=self.load_all, name="cloudlet-catalog", daemon=True)
        t.start()
        return t

    def wait_complete(self, timeout: float | None = None) -> bool:
        return self._complete.wait(timeout)

    @property
    def complete(self) -> bool:
        return self._complete.is_set()
