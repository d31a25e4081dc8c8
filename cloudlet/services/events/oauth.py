"""OAuth client-credentials connections: authorizing them and the access tokens their
API destinations are invoked with.

The EventBridge user guide ("Authorization methods for connections", "Connection
states", "De-authorizing connections"): for OAuth, EventBridge exchanges the client ID
and secret for an access token at the connection's authorization endpoint and manages
it. A new or re-authorized connection is ``AUTHORIZING`` while the first token is
fetched (after the response, as a background task), then ``AUTHORIZED``, or
``DEAUTHORIZED`` (with a ``StateReason``) when the endpoint does not give one. A token
is reused until it is within 60 seconds of expiring (``expires_in``; none: until the API
answers 401 or 407), when the next invocation fetches another; an invocation answered
401 or 407 drops the token, so the retry fetches a new one. When a token cannot be had
at an invocation, the connection is ``DEAUTHORIZED``, as AWS does.

The token request (cloudlet's reading of RFC 6749's client credentials grant, which
the guide leaves unsaid): the connection's ``HttpMethod`` to its
``AuthorizationEndpoint`` with ``Authorization: Basic base64(client ID:secret)``, the
``OAuthHttpParameters`` headers and query string, and its body parameters form-encoded
(as JSON when a header parameter sets a JSON ``Content-Type``; in the query string for
GET), with ``grant_type=client_credentials`` unless they name a ``grant_type``. The
answer must be a 2xx JSON object with an ``access_token``. Tokens live in memory only;
after a restart the first invocation fetches one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.http_client import HttpError, request
from cloudlet.services.events.common import endpoint_url
from cloudlet.services.events.store import Doc, EventsStore

log = logging.getLogger(__name__)
EARLY = 60.0
"""Seconds before its expiry that a token is replaced (the user guide)."""


class TokenError(Exception):
    """No access token could be had: why."""


@dataclass
class _Token:
    value: str
    expires: float | None
    """``clock.monotonic()`` time it expires at (None: not said)."""
    generation: int


def params_of(http: dict[str, Any] | None, kind: str) -> list[tuple[str, str]]:
    """(key, value) of the ``kind`` parameters (``HeaderParameters`` ...) of a
    ConnectionHttpParameters."""
    return [(p["Key"], p.get("Value") or "") for p in (http or {}).get(kind) or []]


def with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    """``url`` with ``pairs`` added to its query string."""
    if not pairs:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(pairs)) if q)
    return urlunsplit(parts._replace(query=query))


async def fetch_token(auth: dict[str, Any]) -> tuple[str, float | None]:
    """(access token, seconds it lives for or None) from the authorization endpoint of
    a connection's ``AuthParameters``; raises ``TokenError``."""
    oauth = auth.get("OAuthParameters") or {}
    client = oauth.get("ClientParameters") or {}
    if not client.get("ClientID") or not client.get("ClientSecret"):
        raise TokenError("the connection has no client credentials")
    extra = oauth.get("OAuthHttpParameters")
    method = oauth.get("HttpMethod") or "POST"
    headers = params_of(extra, "HeaderParameters")
    form = params_of(extra, "BodyParameters")
    if not any(k == "grant_type" for k, _ in form):
        form.insert(0, ("grant_type", "client_credentials"))
    url = with_query(
        endpoint_url(oauth["AuthorizationEndpoint"]), params_of(extra, "QueryStringParameters")
    )
    secret = f"{client['ClientID']}:{client['ClientSecret']}".encode()
    body = b""
    kind = next((v for k, v in headers if k.lower() == "content-type"), None)
    if method == "GET":
        url = with_query(url, form)
    elif kind is not None and "json" in kind.lower():
        body = json.dumps(dict(form)).encode()
    else:
        body = urlencode(form).encode()
        if kind is None:
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    headers = [h for h in headers if h[0].lower() != "authorization"]
    headers += [("Accept", "application/json")]
    headers += [("Authorization", "Basic " + base64.b64encode(secret).decode())]
    try:
        answer = await request(method, url, headers, body)
    except HttpError as err:
        raise TokenError(err.message) from None
    if not 200 <= answer.status < 300:
        raise TokenError(f"the authorization endpoint answered {answer.status} {answer.reason}")
    try:
        doc = json.loads(answer.body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
        raise TokenError("the authorization endpoint's answer has no access_token")
    try:
        lives = float(doc["expires_in"]) if doc.get("expires_in") is not None else None
    except (TypeError, ValueError):
        lives = None
    return doc["access_token"], lives


def _reason(connection: Doc, why: object) -> str:
    endpoint = (connection["AuthParameters"].get("OAuthParameters") or {}).get(
        "AuthorizationEndpoint"
    )
    return f"Unable to obtain an OAuth token from {endpoint}: {why}"


class OAuthTokens:
    """The access token of each OAuth connection (by ARN), and the authorizations under
    way."""

    def __init__(self, store: EventsStore) -> None:
        self.store = store
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks = Background()

    def authorize(self, connection: Doc) -> None:
        """Fetch ``connection``'s first token after the response: it is AUTHORIZING until
        then."""
        self.forget(connection["ConnectionArn"])
        self._tasks.spawn(self._authorize(connection["ConnectionArn"], connection["Generation"]))

    def resume(self) -> None:
        """At start: authorize again what a restart cut short."""
        for connection in self.store.connections.values():
            if connection["ConnectionState"] == "AUTHORIZING":
                self.authorize(connection)

    def forget(self, arn: str) -> None:
        self._tokens.pop(arn, None)

    async def stop(self) -> None:
        await self._tasks.stop()

    async def bearer(self, connection: Doc) -> str:
        """A token to invoke with: the kept one unless it is near its expiry, else a new
        one (a connection that cannot get one is DEAUTHORIZED; raises ``TokenError``)."""
        return await self._obtain(connection["ConnectionArn"], connection["Generation"])

    async def _authorize(self, arn: str, generation: int) -> None:
        try:
            await self._obtain(arn, generation)
        except TokenError as err:
            log.info("EventBridge connection %s not authorized: %s", arn, err)

    async def _obtain(self, arn: str, generation: int) -> str:
        lock = self._locks.setdefault(arn, asyncio.Lock())
        async with lock:  # an authorization and events arriving together share one request
            connection = self.store.connections.get(arn)
            if connection is None or connection["Generation"] != generation:
                raise TokenError("the connection was changed or deleted")
            value = self._fresh(arn, generation)
            if value is None:
                try:
                    value, lives = await fetch_token(connection["AuthParameters"])
                except TokenError as err:
                    if self._current(arn, generation):
                        reason = _reason(connection, err)
                        self.store.set_connection_state(connection, "DEAUTHORIZED", reason)
                    raise
                expires = clock.monotonic() + lives if lives is not None else None
                self._tokens[arn] = _Token(value, expires, generation)
            if self._current(arn, generation) and connection["ConnectionState"] == "AUTHORIZING":
                self.store.set_connection_state(connection, "AUTHORIZED", authorized=True)
            return value

    def _fresh(self, arn: str, generation: int) -> str | None:
        token = self._tokens.get(arn)
        if token is None or token.generation != generation:
            return None
        if token.expires is not None and token.expires - clock.monotonic() <= EARLY:
            return None
        return token.value

    def _current(self, arn: str, generation: int) -> bool:
        """Whether the connection is still the one a token was asked for (not deleted,
        updated or de-authorized since)."""
        connection = self.store.connections.get(arn)
        return connection is not None and connection["Generation"] == generation
