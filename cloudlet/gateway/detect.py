"""Which service a request is for, and which of its protocols it speaks.

Order, as the design says: the SigV4 credential scope's signing name, then
``X-Amz-Target`` (and the Smithy RPCv2 path), then path/host rules, then the
``Action`` form field (the only step that needs the body). Anything still
unclaimed is S3, which owns the bare path space on this port as it does on AWS.

S3 requests may name their bucket in the Host (virtual-hosted style);
``rewrite_virtual_host`` turns those into path style before routing, so the
codec's URI templates (``/{Bucket}/{Key+}``) serve both. A name in front of an IPv4
address (``myap-123456789012.127.0.0.1:4566``) is read the same way: botocore never
makes virtual-hosted requests to an IP endpoint, so only an access point's ARN (whose
host is ``<name>-<account>.<endpoint host>``) or a host prefix produces one, and the
S3 service decides whether the name is a bucket's or an access point's (the gateway
knows neither).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from cloudlet.gateway.catalog import Catalog, ServiceInfo
from cloudlet.protocols.base import HttpRequest

_RPCV2_PATH = re.compile(r"^/service/([^/]+)/operation/([^/?]+)")
_QUEUE_PATH = re.compile(r"^/(\d{12})/[\w-]{1,80}(?:\.fifo)?/?$")
FORM = "application/x-www-form-urlencoded"
DEFAULT_SERVICE = "s3"
_S3_CONTROL_SIGNING = frozenset(("s3", "s3express"))


def is_form(req: HttpRequest) -> bool:
    return req.headers.get("content-type", "").startswith(FORM)


class Detector:
    def __init__(self, catalog: Catalog, implemented: set[str]) -> None:
        self.catalog = catalog
        self.implemented = implemented

    def _prefer(self, names: list[str], req: HttpRequest) -> str:
        """Pick among services sharing a signing name or endpoint prefix."""
        if len(names) == 1:
            return names[0]
        target = req.headers.get("x-amz-target")
        if target:
            owner = self.catalog.by_target.get(target.partition(".")[0])
            if owner in names:
                return owner
        if "s3control" in names and req.path.startswith("/v20180820/"):
            return "s3control"
        for name in names:
            if name in self.implemented:
                return name
        return names[0]

    def without_body(self, req: HttpRequest, signing_name: str | None) -> str | None:
        """Detection from the head of the request; None means "look at the form"."""
        cat = self.catalog
        if signing_name in _S3_CONTROL_SIGNING and req.path.startswith("/v20180820/"):
            return "s3control"  # signed as S3 (or S3 Express, for a directory bucket's ARN)
        if signing_name:
            names = cat.by_signing.get(signing_name) or cat.by_endpoint.get(signing_name)
            if names:
                if (
                    len(names) > 1
                    and "x-amz-target" not in req.headers
                    and (is_form(req) or "Action=" in req.query)
                ):
                    return None  # elb and elbv2 share a signing name: the form's Version decides
                return self._prefer(names, req)
        target = req.headers.get("x-amz-target")
        if target:
            name = cat.by_target.get(target.partition(".")[0])
            if name:
                return name
        if "smithy-protocol" in req.headers:
            m = _RPCV2_PATH.match(req.path)
            if m and m.group(1) in cat.by_target:
                return cat.by_target[m.group(1)]
        if _QUEUE_PATH.match(req.path) and (is_form(req) or "Action=" in req.query):
            return "sqs"
        host = req.headers.get("host", "").split(":", 1)[0]
        labels = host.split(".")
        if len(labels) >= 3 and labels[-2:] == ["amazonaws", "com"]:
            if any(_is_s3_label(label) for label in labels[:-2]):
                return DEFAULT_SERVICE  # <bucket>.s3.<region>.amazonaws.com
            names = cat.by_endpoint.get(labels[0])
            if names:
                return self._prefer(names, req)
        if is_form(req) or "Action=" in req.query:
            return None
        return DEFAULT_SERVICE

    def from_form(self, req: HttpRequest, form: dict[str, list[str]]) -> str:
        """Detection by the query protocol's ``Action`` (and ``Version``)."""
        action = (form.get("Action") or [""])[0]
        version = (form.get("Version") or [""])[0]
        if action:
            # An API version no model names (boto 2 sends EC2 2014-10-01): any service.
            candidates = self.catalog.by_query_version.get(version, []) if version else []
            if not candidates:
                candidates = [n for v in self.catalog.by_query_version.values() for n in v]
            owners = [n for n in candidates if action in self.catalog.services[n].query_operations]
            if owners:
                return self._prefer(owners, req)
            if candidates:
                return self._prefer(candidates, req)
        return DEFAULT_SERVICE


def choose_protocol(req: HttpRequest, info: ServiceInfo) -> str:
    """The protocol this request speaks, among those the service accepts."""
    protocols = info.protocols
    if "smithy-rpc-v2-cbor" in protocols and req.headers.get("smithy-protocol") == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if "json" in protocols and "x-amz-target" in req.headers:
        return "json"
    if info.accepts_query and (is_form(req) or "Action=" in req.query):
        return "ec2" if "ec2" in protocols else "query"
    for p in protocols:
        if p in ("rest-json", "rest-xml"):
            return p
    return protocols[0]


# -- S3 virtual-hosted style ----------------------------------------------------------


def _is_s3_label(label: str) -> bool:
    # ``s3``, and the legacy dash-region endpoints ``s3-us-west-2``, ``s3-external-1``.
    return label == "s3" or (label.startswith("s3-") and not label.startswith("s3-website"))


@lru_cache(maxsize=1024)
def bucket_from_host(host: str) -> str | None:
    """The bucket a Host header names, if any.

    ``<bucket>.s3[.<region>].localhost``, ``<bucket>.s3[.<region>].amazonaws.com``
    (and any other name with an ``s3`` label: the labels before the last one
    are the bucket), ``<bucket>.localhost`` and ``<name>.<IPv4 address>`` (an access
    point's ``<name>-<account>``, see the module docstring). Plain endpoints
    (``s3.localhost``, ``localhost``, IP addresses) name none.
    """
    if not host:
        return None
    if host.startswith("["):
        return None
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    labels = name.split(".")
    for i in range(len(labels) - 1, -1, -1):
        label = labels[i]
        if label == "s3" or (_is_s3_label(label) and labels[-2:] == ["amazonaws", "com"]):
            return ".".join(labels[:i]) or None
    if len(labels) >= 2 and labels[-1] == "localhost":
        return ".".join(labels[:-1])
    if len(labels) >= 5 and _is_ipv4(".".join(labels[-4:])):
        return ".".join(labels[:-4])
    return None


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def website_bucket(host: str) -> str | None:
    """The bucket of an S3 website endpoint host, if ``host`` is one.

    ``<bucket>.s3-website.localhost``, ``<bucket>.s3-website-<region>.<anything>``,
    ``<bucket>.s3-website.<region>.<anything>`` (AWS's two spellings).
    """
    if "s3-website" not in host:
        return None
    labels = host.rsplit(":", 1)[0].rstrip(".").lower().split(".")
    for i, label in enumerate(labels):
        if label == "s3-website" or label.startswith("s3-website-"):
            return ".".join(labels[:i]) or None
    return None


def rewrite_virtual_host(req: HttpRequest) -> None:
    """Virtual-hosted S3 request -> path style, keeping the signed path for auth.

    WriteGetObjectResponse's host is ``<RequestRoute>.<endpoint host>`` (botocore's host
    prefix): that label is a route, not a bucket, and the path stays as it came."""
    bucket = bucket_from_host(req.headers.get("host", ""))
    if bucket is None:
        return
    if req.path == "/WriteGetObjectResponse" and "x-amz-request-route" in req.headers:
        return
    req.signed_path = req.path
    req.path = f"/{bucket}" if req.path in ("", "/") else f"/{bucket}{req.path}"
