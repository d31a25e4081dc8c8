"""The instance metadata service (IMDS v1 and v2), as programs inside an instance see it.

Why here and how: code written for EC2 asks ``169.254.169.254`` who it is and
where its credentials are. SDKs let that address be overridden with
``AWS_EC2_METADATA_SERVICE_ENDPOINT`` and keep any path in it (botocore's
``IMDSFetcher`` joins ``<endpoint>/latest/...``), so each instance gets its own
endpoint on cloudlet's one port: ``<server>/_cloudlet/imds/<instance-id>``. The
gateway hands those requests to ``Ec2Service.serve_metadata`` (no signature, as
on EC2), which answers from the instance's live record:

- v2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  (1-21600, else 400) returns a token bound to that instance; requests carrying
  ``X-aws-ec2-metadata-token`` must carry a live one (else 401). v1 (no token)
  is allowed while ``HttpTokens`` is ``optional`` (the default) and answered
  401 when it is ``required``. ``HttpEndpoint=disabled`` answers 403.
- the ``meta-data`` tree, ``user-data`` (404 when none), the identity document,
  ``tags/instance/`` when ``InstanceMetadataTags`` is enabled, and
  ``iam/security-credentials/<role>`` when the instance has an instance profile.
  The role credentials are registered in the server's ``CredentialStore`` as a
  temporary key (with its session token) of the instance's account, so they
  work in strict auth mode too; they are refreshed an hour before expiry.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.auth.credentials import Principal
from cloudlet.core.clock import clock
from cloudlet.services.ec2 import catalog
from cloudlet.services.ec2.instance_network import dns, mac_address
from cloudlet.services.ec2.instances import Instance, InstanceEngine
from cloudlet.services.ec2.tags import Tags

IMDS_PATH = "/_cloudlet/imds/"
TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
MAX_TTL = 21600
CREDENTIAL_LIFETIME = 6 * 3600.0
REFRESH_BEFORE = 3600.0
SWEEP_SECONDS = 60.0
DEFAULT_OPTIONS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "HttpProtocolIpv6": "disabled",
    "InstanceMetadataTags": "disabled",
}
_ALNUM = string.ascii_uppercase + string.digits

Response = tuple[int, list[tuple[str, str]], bytes]


def endpoint_for(server: str, instance_id: str) -> str:
    """The metadata endpoint an instance's SDKs use (``AWS_EC2_METADATA_SERVICE_ENDPOINT``)."""
    return f"{server.rstrip('/')}{IMDS_PATH}{instance_id}"


def options(inst: Instance) -> dict[str, Any]:
    """The instance's MetadataOptions with the defaults filled in."""
    return {**DEFAULT_OPTIONS, **(getattr(inst, "metadata_options", None) or {})}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(status: int, body: str | bytes, kind: str = "text/plain") -> Response:
    data = body.encode() if isinstance(body, str) else body
    return status, [("content-type", kind), ("server", "EC2ws")], data


_NOT_FOUND = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>404 - Not Found</title>'
    "</head><body><h1>404 - Not Found</h1></body></html>\n"
)


def _not_found() -> Response:
    return _text(404, _NOT_FOUND, "text/html")


@dataclass
class RoleCredentials:
    role: str
    access_key: str
    secret_key: str
    token: str
    issued: float
    expires: float


class MetadataService:
    """Tokens, role credentials and the metadata tree of every instance."""

    def __init__(self, engine: InstanceEngine, tags: Tags) -> None:
        self.engine = engine
        self.tags = tags
        self.tokens: dict[str, tuple[str, float]] = {}
        self.roles: dict[str, RoleCredentials] = {}
        self._swept = 0.0

    # -- the HTTP surface ----------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], credentials: Any) -> Response:
        """Answer one request to ``/_cloudlet/imds/<instance-id><path>``."""
        if clock.time() - self._swept > SWEEP_SECONDS:
            self.sweep(credentials)
        instance_id, _, rest = path[len(IMDS_PATH) :].partition("/")
        inst = self.engine.instances.get(instance_id)
        if inst is None or inst.state in ("terminated", "shutting-down"):
            return _not_found()
        opts = options(inst)
        if opts["HttpEndpoint"] != "enabled":
            return _text(403, "Forbidden")
        rest = "/" + rest
        if rest == TOKEN_PATH:
            if method != "PUT":
                return _text(405, "Method Not Allowed")
            return self._issue_token(inst, headers)
        if method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed")
        token = headers.get(TOKEN_HEADER)
        if token is not None:
            held = self.tokens.get(token)
            if held is None or held[0] != inst.id or held[1] <= clock.time():
                return _text(401, "Unauthorized")
        elif opts["HttpTokens"] == "required":
            return _text(401, "Unauthorized")
        return self._get(inst, rest, credentials)

    def _issue_token(self, inst: Instance, headers: dict[str, str]) -> Response:
        if "x-forwarded-for" in headers:
            return _text(403, "Forbidden")
        raw = headers.get(TTL_HEADER, "")
        try:
            ttl = int(raw)
        except ValueError:
            return _text(400, "Bad Request")
        if not 1 <= ttl <= MAX_TTL:
            return _text(400, "Bad Request")
        now = clock.time()
        token = secrets.token_urlsafe(42)
        self.tokens[token] = (inst.id, now + ttl)
        status, hdrs, body = _text(200, token)
        return status, [*hdrs, ("x-aws-ec2-metadata-token-ttl-seconds", str(ttl))], body

    def _get(self, inst: Instance, path: str, credentials: Any) -> Response:
        if path in ("/", ""):
            return _text(200, "latest")
        if path.rstrip("/") == "/latest":
            return _text(200, "dynamic\nmeta-data\nuser-data")
        if path.rstrip("/") == "/latest/user-data":
            data = inst.user_data_bytes
            return _text(200, data, "application/octet-stream") if data else _not_found()
        if path.startswith("/latest/meta-data"):
            node: Any = self._meta_data(inst, credentials)
            parts = path[len("/latest/meta-data") :]
        elif path.startswith("/latest/dynamic"):
            node = {"instance-identity": {"document": self.identity_document(inst)}}
            parts = path[len("/latest/dynamic") :]
        else:
            return _not_found()
        for part in [p for p in parts.split("/") if p]:
            if not isinstance(node, dict) or part not in node:
                return _not_found()
            node = node[part]
        if isinstance(node, dict):
            listing = [f"{k}/" if isinstance(v, dict) else k for k, v in node.items()]
            return _text(200, "\n".join(listing))
        if parts.endswith("/") and parts.strip("/"):
            return _not_found()
        kind = "application/json" if str(node).startswith("{") else "text/plain"
        return _text(200, str(node), kind)

    # -- the data --------------------------------------------------------------------

    def _meta_data(self, inst: Instance, credentials: Any) -> dict[str, Any]:
        local, public = dns(inst)
        mac = mac_address(inst)
        group_names = "\n".join(g["GroupName"] for g in inst.groups)
        group_ids = "\n".join(g["GroupId"] for g in inst.groups)
        # Only an instance with a public address has these (its loopback one, here).
        public_names = (
            {"public-hostname": public, "public-ipv4s": inst.private_ip} if inst.public else {}
        )
        zones = catalog.zone_names(inst.region)
        zone_index = zones.index(inst.zone) if inst.zone in zones else 0
        tree: dict[str, Any] = {
            "ami-id": inst.image_id,
            "ami-launch-index": str(inst.ami_launch_index),
            "ami-manifest-path": "(unknown)",
            "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
            "hostname": local,
            "instance-action": "none",
            "instance-id": inst.id,
            "instance-life-cycle": "on-demand",
            "instance-type": inst.instance_type,
            "local-hostname": local,
            "local-ipv4": inst.address,
            "mac": mac,
            "network": {
                "interfaces": {
                    "macs": {
                        mac: {
                            "device-number": "0",
                            "interface-id": "eni-" + inst.id[2:],
                            "local-hostname": local,
                            "local-ipv4s": inst.address,
                            "mac": mac,
                            "owner-id": inst.account,
                            "security-group-ids": group_ids,
                            "security-groups": group_names,
                            "subnet-id": inst.subnet_id,
                            "vpc-id": inst.vpc_id,
                            **public_names,
                        }
                    }
                }
            },
            "placement": {
                "availability-zone": inst.zone,
                "availability-zone-id": catalog.zone_id(inst.region, zone_index),
                "region": inst.region,
            },
            "profile": "default-hvm",
            "reservation-id": inst.reservation_id,
            "security-groups": group_names,
            "services": {"domain": "amazonaws.com", "partition": "aws"},
        }
        if inst.public:
            tree["public-hostname"] = public
            tree["public-ipv4"] = inst.private_ip
        if inst.iam_profile:
            creds = self.role_credentials(inst, credentials)
            tree["iam"] = {
                "info": json.dumps(
                    {
                        "Code": "Success",
                        "LastUpdated": _iso(creds.issued),
                        "InstanceProfileArn": inst.iam_profile.get("Arn", ""),
                        "InstanceProfileId": inst.iam_profile.get("Id", ""),
                    },
                    indent=2,
                ),
                "security-credentials": {
                    creds.role: json.dumps(
                        {
                            "Code": "Success",
                            "LastUpdated": _iso(creds.issued),
                            "Type": "AWS-HMAC",
                            "AccessKeyId": creds.access_key,
                            "SecretAccessKey": creds.secret_key,
                            "Token": creds.token,
                            "Expiration": _iso(creds.expires),
                        },
                        indent=2,
                    )
                },
            }
        if options(inst)["InstanceMetadataTags"] == "enabled":
            tree["tags"] = {"instance": dict(self.tags.of(inst.id))}
        return dict(sorted(tree.items()))

    def identity_document(self, inst: Instance) -> str:
        """``/latest/dynamic/instance-identity/document`` (unsigned)."""
        doc = {
            "accountId": inst.account,
            "architecture": catalog.ARCH,
            "availabilityZone": inst.zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": inst.image_id,
            "instanceId": inst.id,
            "instanceType": inst.instance_type,
            "kernelId": None,
            "pendingTime": _iso(inst.launch_time),
            "privateIp": inst.address,
            "ramdiskId": None,
            "region": inst.region,
            "version": "2017-09-30",
        }
        return json.dumps(doc, indent=2)

    def role_credentials(self, inst: Instance, credentials: Any) -> RoleCredentials:
        """The instance's role credentials, issued (and registered) on first use and
        refreshed an hour before they expire."""
        now = clock.time()
        current = self.roles.get(inst.id)
        if current is not None and current.expires - now > REFRESH_BEFORE:
            return current
        arn = (inst.iam_profile or {}).get("Arn", "")
        role = arn.rsplit("/", 1)[-1] or "instance-role"
        fresh = RoleCredentials(
            role=role,
            access_key="ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
            secret_key=secrets.token_urlsafe(30)[:40],
            token=secrets.token_urlsafe(120),
            issued=now,
            expires=now + CREDENTIAL_LIFETIME,
        )
        if credentials is not None:
            principal = Principal(
                fresh.access_key,
                inst.account,
                f"arn:aws:sts::{inst.account}:assumed-role/{role}/{inst.id}",
                "user",
            )
            credentials.add_key(
                fresh.access_key, fresh.secret_key, principal, session_token=fresh.token
            )
            if current is not None:
                credentials.remove_key(current.access_key)
        self.roles[inst.id] = fresh
        return fresh

    def sweep(self, credentials: Any) -> None:
        """Drop expired tokens, and the role keys of instances that are gone."""
        now = self._swept = clock.time()
        for key, (_, expires) in list(self.tokens.items()):
            if expires <= now:
                del self.tokens[key]
        for instance_id, creds in list(self.roles.items()):
            inst = self.engine.instances.get(instance_id)
            if inst is None or inst.state in ("terminated", "shutting-down"):
                del self.roles[instance_id]
                if credentials is not None:
                    credentials.remove_key(creds.access_key)
