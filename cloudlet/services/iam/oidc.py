"""IAM OpenID Connect identity providers: what a role's trust policy names as
``"Federated": "arn:aws:iam::<account>:oidc-provider/<host/path>"`` and what STS's
AssumeRoleWithWebIdentity looks a token's ``iss`` up in.

A provider is its URL, its client ids (the audiences tokens may carry) and its
thumbprints. AWS's rule is ``https://``; cloudlet also takes ``http://`` on a loopback
host (with a port), so a local issuer can serve tests and demos. Thumbprints are kept
and answered but not checked: STS reaches ``https`` issuers with the machine's trusted
CAs, as AWS now does for most providers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from cloudlet.core.http_client import is_loopback
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import dt, merge_tags, tag_list, tag_page
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_PROVIDERS = 100
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_ARN = re.compile(r"arn:aws:iam::(\d{12}):oidc-provider/(.+)")


def provider_id(url: str) -> str:
    """A provider URL or token issuer as IAM names the provider: no scheme, no final ``/``."""
    return url.split("://", 1)[-1].rstrip("/")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    host = parts.hostname or ""
    ok = (
        bool(host)
        and not parts.query
        and not parts.fragment
        and parts.username is None
        and (
            (parts.scheme == "https" and (port is None or is_loopback(host)))
            or (parts.scheme == "http" and is_loopback(host))
        )
    )
    if not ok:
        raise errors.invalid_input("Invalid Open ID Connect Provider URL")
    return url.rstrip("/")


def _check_thumbprints(values: list[str] | None) -> list[str]:
    values = list(values or [])
    if len(values) > MAX_THUMBPRINTS:
        raise errors.limit_exceeded(
            f"Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}"
        )
    for value in values:
        if not _THUMBPRINT.fullmatch(value):
            raise errors.invalid_input(f"Thumbprint {value} is not a valid SHA-1 hex value.")
    return [v.lower() for v in values]


def _dedupe(values: list[str] | None) -> list[str]:
    return list(dict.fromkeys(values or []))


class OidcHandlers:
    store: Any
    _now: Any

    def _provider(self, account: str, arn: str) -> Doc:
        m = _ARN.fullmatch(arn or "")
        if m is None:
            raise errors.invalid_input(f"Invalid ARN: {arn}")
        doc = self.store.get("oidc_provider", key(m.group(1), m.group(2)))
        if doc is None or m.group(1) != account:
            raise errors.no_such_entity(f"OpenIDConnect Provider not found for arn {arn}")
        return doc

    def create_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        url = _check_url(params["Url"])
        pid = provider_id(url)
        if self.store.get("oidc_provider", key(account, pid)) is not None:
            raise errors.entity_already_exists(f"Provider with url {url} already exists.")
        if len(self.store.all("oidc_provider", account)) >= MAX_PROVIDERS:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"
            )
        client_ids = _dedupe(params.get("ClientIDList"))
        if len(client_ids) > MAX_CLIENT_IDS:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
            )
        doc: Doc = {
            "Url": url,
            "Arn": f"arn:aws:iam::{account}:oidc-provider/{pid}",
            "ClientIDList": client_ids,
            "ThumbprintList": _check_thumbprints(params.get("ThumbprintList")),
            "CreateDate": self._now(),
            "Tags": {},
        }
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("oidc_provider", key(account, pid), doc)
        out: Result = {"OpenIDConnectProviderArn": doc["Arn"]}
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return out

    def get_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        out: Result = {
            "Url": provider_id(doc["Url"]),
            "ClientIDList": doc["ClientIDList"],
            "ThumbprintList": doc["ThumbprintList"],
            "CreateDate": dt(doc["CreateDate"]),
        }
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return out

    def list_open_id_connect_providers(self, ctx: Any, params: dict[str, Any]) -> Result:
        docs = sorted(self.store.all("oidc_provider", ctx.account_id), key=lambda d: d["Arn"])
        return {"OpenIDConnectProviderList": [{"Arn": d["Arn"]} for d in docs]}

    def delete_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        # Idempotent, as the API reference says: a provider that is gone is no error.
        arn = params["OpenIDConnectProviderArn"]
        m = _ARN.fullmatch(arn)
        if m is None:
            raise errors.invalid_input(f"Invalid ARN: {arn}")
        if m.group(1) == ctx.account_id:
            self.store.delete("oidc_provider", key(m.group(1), m.group(2)))
        return {}

    def add_client_id_to_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        client_id = params["ClientID"]
        if client_id not in doc["ClientIDList"]:
            if len(doc["ClientIDList"]) >= MAX_CLIENT_IDS:
                raise errors.limit_exceeded(
                    f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
                )
            doc["ClientIDList"].append(client_id)
            self.store.save("oidc_provider", doc)
        return {}

    def remove_client_id_from_open_id_connect_provider(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        if params["ClientID"] in doc["ClientIDList"]:
            doc["ClientIDList"].remove(params["ClientID"])
            self.store.save("oidc_provider", doc)
        return {}

    def update_open_id_connect_provider_thumbprint(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        doc["ThumbprintList"] = _check_thumbprints(params["ThumbprintList"])
        self.store.save("oidc_provider", doc)
        return {}

    def tag_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("oidc_provider", doc)
        return {}

    def untag_open_id_connect_provider(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        for k in params["TagKeys"]:
            doc["Tags"].pop(k, None)
        self.store.save("oidc_provider", doc)
        return {}

    def list_open_id_connect_provider_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._provider(ctx.account_id, params["OpenIDConnectProviderArn"])
        return tag_page(doc["Tags"], params)
