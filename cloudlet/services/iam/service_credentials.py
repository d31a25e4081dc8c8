"""Service-specific credentials: a user name and password an IAM user gives one
service (CodeCommit's git over HTTPS, Amazon Keyspaces' Cassandra drivers), or a
long-term API key (Amazon Bedrock, CloudWatch Logs).

The services are the ones IAM's API reference names (``codecommit.amazonaws.com``,
``cassandra.amazonaws.com``, ``bedrock.amazonaws.com``, ``logs.amazonaws.com``);
any other is ``NotSupportedService``. The generated user name is the IAM user's name
and the account (``jane-at-123456789012``), as AWS makes it; a password is 44
characters of base64 from 33 random bytes. An API key has a public
``ServiceCredentialAlias`` (the user name with a version and creation suffix) and a
secret returned once (a Bedrock key starts ``ABSK``, then base64 of the alias and a
random part, as Bedrock's long-term keys do); only API keys take
``CredentialAgeDays`` (1..36600), after which the key is ``Expired``. A user holds
two per service (``LimitExceeded``). Secrets are kept only as SHA-256 digests and
never shown again; ResetServiceSpecificCredential issues new ones.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_constraints, dt, page, unique_id
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
PASSWORD_SERVICES = ("codecommit.amazonaws.com", "cassandra.amazonaws.com")
API_KEY_SERVICES = {"bedrock.amazonaws.com": "ABSK", "logs.amazonaws.com": ""}
MAX_PER_SERVICE = 2
DAY = 86400


def _check_service(name: str) -> None:
    if name not in PASSWORD_SERVICES and name not in API_KEY_SERVICES:
        raise errors.not_supported_service(
            f"No such service {name} is supported for Service-Specific Credentials"
        )


def _status(doc: Doc, now: float) -> str:
    expires = doc.get("ExpirationDate")
    return "Expired" if expires is not None and now >= expires else doc["Status"]


def _metadata(doc: Doc, now: float) -> Result:
    out: Result = {
        "UserName": doc["UserName"],
        "Status": _status(doc, now),
        "ServiceUserName": doc["ServiceUserName"],
        "CreateDate": dt(doc["CreateDate"]),
        "ServiceSpecificCredentialId": doc["ServiceSpecificCredentialId"],
        "ServiceName": doc["ServiceName"],
    }
    if doc.get("ServiceCredentialAlias"):
        out["ServiceCredentialAlias"] = doc["ServiceCredentialAlias"]
    if doc.get("ExpirationDate") is not None:
        out["ExpirationDate"] = dt(doc["ExpirationDate"])
    return out


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ServiceCredentialHandlers:
    store: Any
    _entity: Callable[[str, str, str], Doc]
    _key_owner: Callable[[Any, dict[str, Any]], str]
    _now: Callable[[], float]

    def _service_credential(self, ctx: Any, params: dict[str, Any]) -> Doc:
        user = self._key_owner(ctx, params)
        cred_id = params["ServiceSpecificCredentialId"]
        doc = self.store.get("service_credential", key(ctx.account_id, cred_id))
        if doc is None or doc["UserName"] != user:
            raise errors.no_such_entity(
                f"No such entity: the service specific credential {cred_id} does not exist "
                f"for user {user}."
            )
        return doc

    def _issue(self, doc: Doc) -> Result:
        """New secrets for ``doc``: its full view, with them, this once."""
        out = _metadata(doc, self._now())
        if doc["ServiceName"] in PASSWORD_SERVICES:
            password = base64.b64encode(secrets.token_bytes(33)).decode()
            doc["SecretDigest"] = _digest(password)
            out["ServicePassword"] = password
        else:
            raw = f"{doc['ServiceCredentialAlias']}:{secrets.token_urlsafe(40)}"
            secret = API_KEY_SERVICES[doc["ServiceName"]] + base64.b64encode(raw.encode()).decode()
            doc["SecretDigest"] = _digest(secret)
            out["ServiceCredentialSecret"] = secret
        return out

    def create_service_specific_credential(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("CreateServiceSpecificCredential", params)
        account = ctx.account_id
        user = self._entity("user", account, params["UserName"])["UserName"]
        service = params["ServiceName"]
        _check_service(service)
        days = params.get("CredentialAgeDays")
        if days is not None and service not in API_KEY_SERVICES:
            raise errors.invalid_input(
                "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys."
            )
        held = [
            d
            for d in self.store.all("service_credential", account)
            if d["UserName"] == user and d["ServiceName"] == service
        ]
        if len(held) >= MAX_PER_SERVICE:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
                f"{MAX_PER_SERVICE}"
            )
        now = self._now()
        cred_id = unique_id("ACCA")
        doc: Doc = {
            "UserName": user,
            "ServiceName": service,
            "ServiceSpecificCredentialId": cred_id,
            "ServiceUserName": f"{user}-at-{account}",
            "Status": "Active",
            "CreateDate": now,
            "ExpirationDate": now + days * DAY if days is not None else None,
        }
        if service in API_KEY_SERVICES:
            doc["ServiceCredentialAlias"] = f"{user}+1-{int(now)}-at-{account}"
        out = self._issue(doc)
        self.store.put("service_credential", key(account, cred_id), doc)
        return {"ServiceSpecificCredential": out}

    def list_service_specific_credentials(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("ListServiceSpecificCredentials", params)
        service = params.get("ServiceName")
        if service is not None:
            _check_service(service)
        docs = self.store.all("service_credential", ctx.account_id)
        if params.get("AllUsers"):
            if params.get("UserName"):
                raise errors.invalid_input("AllUsers cannot be specified together with UserName.")
        else:
            user = self._key_owner(ctx, params)
            docs = [d for d in docs if d["UserName"] == user]
        if service is not None:
            docs = [d for d in docs if d["ServiceName"] == service]
        docs.sort(key=lambda d: (d["UserName"], d["CreateDate"]))
        now = self._now()
        return page([_metadata(d, now) for d in docs], params, "ServiceSpecificCredentials")

    def reset_service_specific_credential(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("ResetServiceSpecificCredential", params)
        doc = self._service_credential(ctx, params)
        out = self._issue(doc)
        self.store.save("service_credential", doc)
        return {"ServiceSpecificCredential": out}

    def update_service_specific_credential(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("UpdateServiceSpecificCredential", params)
        doc = self._service_credential(ctx, params)
        if params["Status"] not in ("Active", "Inactive"):
            raise errors.invalid_input(
                "The status of a service-specific credential is Active or Inactive."
            )
        doc["Status"] = params["Status"]
        self.store.save("service_credential", doc)
        return {}

    def delete_service_specific_credential(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("DeleteServiceSpecificCredential", params)
        doc = self._service_credential(ctx, params)
        self.store.delete("service_credential", doc["_key"])
        return {}
