"""Connection operations: Create/Describe/List/Update/Delete/DeauthorizeConnection.

A connection holds how API destinations authorize with their endpoints (the EventBridge
user guide's "Connections for HTTP endpoint targets"): ``BASIC`` (a username and
password), ``API_KEY`` (a header name and value) or ``OAUTH_CLIENT_CREDENTIALS`` (a
client ID and secret exchanged for tokens at an authorization endpoint, ``oauth.py``),
and the header, query string and body parameters sent with every invocation
(``InvocationHttpParameters``), each value marked secret or not.

States ("Connection states"): a Basic or API key connection answers ``CREATING`` and is
``AUTHORIZED`` at once; an OAuth one is ``AUTHORIZING`` until its first token is had,
then ``AUTHORIZED``, or ``DEAUTHORIZED`` with a ``StateReason``. UpdateConnection
answers ``UPDATING`` and re-authorizes when it carries credentials of the connection's
(new) authorization type (an OAuth one is ``AUTHORIZING`` again); credentials of another
type without a new ``AuthorizationType`` change nothing, as the guide's "Updating
connections" says. DeauthorizeConnection answers ``DEAUTHORIZING`` and removes the
secrets ("De-authorizing connections"): the connection is ``DEAUTHORIZED`` and its API
destinations' deliveries fail until an update gives it credentials again. A delivery
answered 401 or 407 de-authorizes a Basic or API key connection too (``http_target``).
DeleteConnection answers ``DELETING`` and the connection is gone; AWS documents no
refusal while API destinations use it, so they stay, ``INACTIVE``.

Secrets: AWS keeps them in a Secrets Manager secret it shows as ``SecretArn``
(``arn:aws:secretsmanager:<region>:<account>:secret:events!connection/<name>/<uuid>-
<6 characters>``); cloudlet keeps them in the events database and shows the ARN. No
answer shows a password, API key value, client secret or secret parameter value.
Connections to private APIs (``InvocationConnectivityParameters``,
``ConnectivityParameters``) are not built (501).
"""

from __future__ import annotations

import re
import string
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation
from cloudlet.core.ids import fast_uuid, random_bits
from cloudlet.services.events import errors
from cloudlet.services.events.common import (
    check_length,
    check_rule_name,
    connection_arn,
    endpoint_ok,
    page,
)
from cloudlet.services.events.oauth import OAuthTokens
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
MAX_CONNECTIONS = 3000
OAUTH = "OAUTH_CLIENT_CREDENTIALS"
BLOCKS = {
    "BASIC": "BasicAuthParameters",
    "API_KEY": "ApiKeyAuthParameters",
    OAUTH: "OAuthParameters",
}
STATES = (
    "CREATING",
    "UPDATING",
    "DELETING",
    "AUTHORIZED",
    "DEAUTHORIZED",
    "AUTHORIZING",
    "DEAUTHORIZING",
    "ACTIVE",
    "FAILED_CONNECTIVITY",
)
OAUTH_METHODS = ("GET", "POST", "PUT")
HTTP_KINDS = ("HeaderParameters", "QueryStringParameters", "BodyParameters")
_CREDENTIAL = r"^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$"
_PATTERNS = {
    "HeaderParameters": (
        r"^[!#$%&'*+-.^_`|~0-9a-zA-Z]+$",
        r"^[ \t]*[\x20-\x7E]+([ \t]+[\x20-\x7E]+)*[ \t]*$",
    ),
    "QueryStringParameters": (r"[^\x00-\x1F\x7F]+", r"[^\x00-\x09\x0B\x0C\x0E-\x1F\x7F]+"),
    "BodyParameters": (None, None),
}
_SECRET_CHARS = string.ascii_letters + string.digits


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def _check_text(value: Any, member: str, pattern: str | None, empty: bool = False) -> None:
    """A credential or parameter: at most 512 characters matching the model's pattern."""
    if not isinstance(value, str):
        raise errors.constraint(value, member, "Member must not be null")
    check_length(value, member, 512)
    if not value and not empty:
        raise errors.constraint(value, member, "Member must have length greater than or equal to 1")
    if value and pattern is not None and not re.fullmatch(pattern.strip("^$"), value):
        raise errors.constraint(
            value, member, f"Member must satisfy regular expression pattern: {pattern}"
        )


def _check_http(http: dict[str, Any], member: str) -> None:
    for kind in HTTP_KINDS:
        items = http.get(kind) or []
        where = f"{member}.{_camel(kind)}"
        if len(items) > 100:
            raise errors.constraint(
                "[...]", where, "Member must have length less than or equal to 100"
            )
        key_pattern, value_pattern = _PATTERNS[kind]
        for n, item in enumerate(items, 1):
            _check_text(item.get("Key"), f"{where}.{n}.member.key", key_pattern)
            _check_text(item.get("Value", ""), f"{where}.{n}.member.value", value_pattern, True)


def _check_block(kind: str, block: dict[str, Any], action: str) -> None:
    """The members given of the ``kind`` credentials block."""
    member = f"authParameters.{_camel(BLOCKS[kind])}"
    fields = {"BASIC": ("Username", "Password"), "API_KEY": ("ApiKeyName", "ApiKeyValue")}
    for name in fields.get(kind, ()):
        if name in block:
            _check_text(block[name], f"{member}.{_camel(name)}", _CREDENTIAL)
    if kind != OAUTH:
        return
    client = block.get("ClientParameters") or {}
    for name in ("ClientID", "ClientSecret"):
        if name in client:
            where = f"{member}.clientParameters.{_camel(name)}"
            _check_text(client[name], where, _CREDENTIAL)
    endpoint = block.get("AuthorizationEndpoint")
    if endpoint is not None and not endpoint_ok(endpoint):
        raise errors.validation(
            f"Failed to {action} the connection(s). Parameter AuthorizationEndpoint is not "
            f"valid. Reason: Endpoint '{endpoint}' is invalid, please provide a valid HTTPS "
            "endpoint URL."
        )
    method = block.get("HttpMethod")
    if method is not None and method not in OAUTH_METHODS:
        raise errors.constraint(
            method,
            f"{member}.httpMethod",
            f"Member must satisfy enum value set: [{', '.join(OAUTH_METHODS)}]",
        )
    if block.get("OAuthHttpParameters"):
        _check_http(block["OAuthHttpParameters"], f"{member}.oAuthHttpParameters")
    if block.get("ConnectivityParameters"):
        raise NotImplementedOperation("events", "Connections with private OAuth endpoints")


def _complete(kind: str, block: dict[str, Any]) -> bool:
    """Whether ``block`` has every credential ``kind`` needs."""
    if kind == "BASIC":
        return bool(block.get("Username") and block.get("Password"))
    if kind == "API_KEY":
        return bool(block.get("ApiKeyName") and block.get("ApiKeyValue"))
    client = block.get("ClientParameters") or {}
    return bool(
        client.get("ClientID")
        and client.get("ClientSecret")
        and block.get("AuthorizationEndpoint")
        and block.get("HttpMethod")
    )


def _check_kind(kind: str) -> None:
    if kind not in BLOCKS:
        raise errors.constraint(
            kind,
            "authorizationType",
            "Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]",
        )


def hidden_http(http: dict[str, Any]) -> dict[str, Any]:
    """Http parameters as answers show them: a secret value is left out."""
    out: dict[str, Any] = {}
    for kind in HTTP_KINDS:
        if kind in http:
            out[kind] = [
                {"Key": p.get("Key", "")}
                | ({} if p.get("IsValueSecret") else {"Value": p.get("Value", "")})
                | {"IsValueSecret": bool(p.get("IsValueSecret"))}
                for p in http[kind] or []
            ]
    return out


def auth_view(auth: dict[str, Any]) -> dict[str, Any]:
    """A connection's AuthParameters without a secret: what DescribeConnection shows
    (and what a de-authorized connection keeps)."""
    out: dict[str, Any] = {}
    if "BasicAuthParameters" in auth:
        out["BasicAuthParameters"] = {"Username": auth["BasicAuthParameters"].get("Username")}
    if "ApiKeyAuthParameters" in auth:
        out["ApiKeyAuthParameters"] = {"ApiKeyName": auth["ApiKeyAuthParameters"].get("ApiKeyName")}
    if "OAuthParameters" in auth:
        oauth = auth["OAuthParameters"]
        shown: dict[str, Any] = {
            "ClientParameters": {"ClientID": (oauth.get("ClientParameters") or {}).get("ClientID")},
            "AuthorizationEndpoint": oauth.get("AuthorizationEndpoint"),
            "HttpMethod": oauth.get("HttpMethod"),
        }
        if oauth.get("OAuthHttpParameters"):
            shown["OAuthHttpParameters"] = hidden_http(oauth["OAuthHttpParameters"])
        out["OAuthParameters"] = shown
    if auth.get("InvocationHttpParameters"):
        out["InvocationHttpParameters"] = hidden_http(auth["InvocationHttpParameters"])
    return out


def connection_view(connection: Doc, full: bool = False) -> Result:
    """A connection as ListConnections (``full``: DescribeConnection) shows it."""
    keys = ["ConnectionArn", "Name"]
    keys += ["Description"] if full else []
    keys += ["ConnectionState", "StateReason", "AuthorizationType"]
    keys += ["SecretArn", "KmsKeyIdentifier"] if full else []
    out = {k: connection[k] for k in keys if connection.get(k) is not None}
    if full:
        out["AuthParameters"] = auth_view(connection["AuthParameters"])
    for key in ("CreationTime", "LastModifiedTime", "LastAuthorizedTime"):
        if connection.get(key) is not None:
            out[key] = connection[key]
    return out


def _summary(connection: Doc, state: str, authorized: bool = True) -> Result:
    """What Create/Update/Delete/DeauthorizeConnection answer."""
    out: Result = {
        "ConnectionArn": connection["ConnectionArn"],
        "ConnectionState": state,
        "CreationTime": connection["CreationTime"],
        "LastModifiedTime": connection["LastModifiedTime"],
    }
    if authorized and connection.get("LastAuthorizedTime") is not None:
        out["LastAuthorizedTime"] = connection["LastAuthorizedTime"]
    return out


def _secret_arn(region: str, account: str, name: str) -> str:
    suffix = "".join(_SECRET_CHARS[random_bits(6) % len(_SECRET_CHARS)] for _ in range(6))
    return (
        f"arn:aws:secretsmanager:{region}:{account}:secret:"
        f"events!connection/{name}/{fast_uuid()}-{suffix}"
    )


class ConnectionHandlers:
    store: EventsStore
    tokens: OAuthTokens

    def _connection(self, ctx: Any, name: str, action: str) -> Doc:
        check_rule_name(name, "name", 64)
        found = self.store.connection_named(ctx.account_id, ctx.region, name)
        if found is None:
            raise errors.not_found(
                f"Failed to {action} the connection(s). Connection '{name}' does not exist."
            )
        return found

    def _authorize(self, connection: Doc) -> str:
        """Authorize ``connection`` with its credentials: the state it is in now."""
        self.tokens.forget(connection["ConnectionArn"])
        connection["Generation"] = connection.get("Generation", 0) + 1
        if connection["AuthorizationType"] == OAUTH:
            self.store.set_connection_state(connection, "AUTHORIZING")
            self.tokens.authorize(connection)
        else:
            self.store.set_connection_state(connection, "AUTHORIZED", authorized=True)
        return connection["ConnectionState"]

    def create_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, kind = params["Name"], params["AuthorizationType"]
        check_rule_name(name, "name", 64)
        check_length(params.get("Description"), "description", 512)
        _check_kind(kind)
        if params.get("InvocationConnectivityParameters"):
            raise NotImplementedOperation("events", "Connections to private APIs")
        given = params["AuthParameters"]
        block = given.get(BLOCKS[kind])
        if not block or not _complete(kind, block):
            raise errors.validation(
                f"Failed to create the connection(s). Parameter AuthParameters is not valid. "
                f"Reason: {BLOCKS[kind]} with all its members must be specified for "
                f"authorization type {kind}."
            )
        _check_block(kind, block, "create")
        _check_http(
            given.get("InvocationHttpParameters") or {}, "authParameters.invocationHttpParameters"
        )
        if given.get("ConnectivityParameters"):
            raise NotImplementedOperation("events", "Connections to private APIs")
        if self.store.connection_named(ctx.account_id, ctx.region, name) is not None:
            raise errors.already_exists(
                f"Failed to create the connection(s). Connection '{name}' already exists."
            )
        mine = [
            a for a in self.store.connections if a.split(":")[3:5] == [ctx.region, ctx.account_id]
        ]
        if len(mine) >= MAX_CONNECTIONS:
            raise errors.limit_exceeded()
        now = clock.time()
        auth: dict[str, Any] = {BLOCKS[kind]: block}
        if given.get("InvocationHttpParameters"):
            auth["InvocationHttpParameters"] = given["InvocationHttpParameters"]
        connection: Doc = {
            "Name": name,
            "ConnectionArn": connection_arn(ctx.region, ctx.account_id, name, fast_uuid()),
            "AuthorizationType": kind,
            "AuthParameters": auth,
            "SecretArn": _secret_arn(ctx.region, ctx.account_id, name),
            "ConnectionState": "CREATING",
            "CreationTime": now,
            "LastModifiedTime": now,
            "Generation": 0,
        }
        for key in ("Description", "KmsKeyIdentifier"):
            if params.get(key):
                connection[key] = params[key]
        self.store.save_connection(connection)
        state = self._authorize(connection)
        return _summary(connection, "CREATING" if state == "AUTHORIZED" else state, False)

    def describe_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        return connection_view(self._connection(ctx, params["Name"], "describe"), True)

    def list_connections(self, ctx: Any, params: dict[str, Any]) -> Result:
        prefix, state = params.get("NamePrefix") or "", params.get("ConnectionState")
        if state is not None and state not in STATES:
            raise errors.constraint(
                state,
                "connectionState",
                f"Member must satisfy enum value set: [{', '.join(STATES)}]",
            )
        start = connection_arn(ctx.region, ctx.account_id, "", "")[:-1]
        mine = sorted(
            (
                c
                for arn, c in self.store.connections.items()
                if arn.startswith(start)
                and c["Name"].startswith(prefix)
                and state in (None, c["ConnectionState"])
            ),
            key=lambda c: c["Name"],
        )
        shown, token = page(mine, params)
        out: Result = {"Connections": [connection_view(c) for c in shown]}
        if token:
            out["NextToken"] = token
        return out

    def update_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        connection = self._connection(ctx, params["Name"], "update")
        check_length(params.get("Description"), "description", 512)
        if params.get("InvocationConnectivityParameters"):
            raise NotImplementedOperation("events", "Connections to private APIs")
        kind = params.get("AuthorizationType") or connection["AuthorizationType"]
        _check_kind(kind)
        given = params.get("AuthParameters") or {}
        changed = kind != connection["AuthorizationType"]
        block = given.get(BLOCKS[kind])
        if block:
            _check_block(kind, block, "update")
        if given.get("InvocationHttpParameters"):
            _check_http(
                given["InvocationHttpParameters"], "authParameters.invocationHttpParameters"
            )
        auth = connection["AuthParameters"]
        if changed:
            merged = dict(block or {})
        else:
            merged = _merged(auth.get(BLOCKS[kind]) or {}, block or {})
        if (changed or block) and not _complete(kind, merged):
            raise errors.validation(
                f"Failed to update the connection(s). Parameter AuthParameters is not valid. "
                f"Reason: {BLOCKS[kind]} with all its members must be specified for "
                f"authorization type {kind}."
            )
        for key in ("Description", "KmsKeyIdentifier"):
            if key in params:
                connection[key] = params[key]
        if changed or block:
            invocation = auth.get("InvocationHttpParameters")
            connection["AuthorizationType"] = kind
            connection["AuthParameters"] = auth = {BLOCKS[kind]: merged}
            if invocation:
                auth["InvocationHttpParameters"] = invocation
            connection["SecretArn"] = connection.get("SecretArn") or _secret_arn(
                ctx.region, ctx.account_id, connection["Name"]
            )
        if "InvocationHttpParameters" in given:
            auth["InvocationHttpParameters"] = given["InvocationHttpParameters"]
        connection["LastModifiedTime"] = clock.time()
        self.store.save_connection(connection)
        state = self._authorize(connection) if changed or block else "UPDATING"
        return _summary(connection, "UPDATING" if state == "AUTHORIZED" else state)

    def delete_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        connection = self._connection(ctx, params["Name"], "delete")
        self.tokens.forget(connection["ConnectionArn"])
        self.store.delete_connection(connection)
        return _summary(connection, "DELETING")

    def deauthorize_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        connection = self._connection(ctx, params["Name"], "deauthorize")
        self.tokens.forget(connection["ConnectionArn"])
        connection["Generation"] = connection.get("Generation", 0) + 1
        connection["AuthParameters"] = auth_view(connection["AuthParameters"])
        connection.pop("SecretArn", None)
        connection["LastModifiedTime"] = clock.time()
        self.store.set_connection_state(connection, "DEAUTHORIZED")
        return _summary(connection, "DEAUTHORIZING")


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A credentials block with the members an update gives replacing the old ones
    (an OAuth block's ClientParameters member by member)."""
    out = {**old, **new}
    if "ClientParameters" in old or "ClientParameters" in new:
        out["ClientParameters"] = {
            **(old.get("ClientParameters") or {}),
            **(new.get("ClientParameters") or {}),
        }
    return out
